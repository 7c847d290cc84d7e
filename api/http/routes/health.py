"""For the operator: `/healthz` (the process answers), `/readyz` (it can do its work: database,
broker when one is configured, Tesseract with its Vietnamese model), both open to probes, and
`/metrics` for an admin key (Prometheus: `authorization: {credentials: <key>}`)."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse

from kiemchung.api.http.deps import Admin, MetricsDep, SettingsDep, StoreDep
from kiemchung.api.http.errors import problem
from kiemchung.api.http.schemas import ReadinessPublic
from kiemchung.api.store import Store
from kiemchung.api.store.tables import ItemState
from kiemchung.extractors.ocr import check_tesseract
from kiemchung.models.errors import KiemchungError
from kiemchung.verifier.settings import Settings

router = APIRouter(tags=["operations"])
PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8"
# Brokers reached over the network; the others (sqla+…, filesystem://, memory://) are local.
NETWORK_BROKERS = {"redis": 6379, "rediss": 6379, "amqp": 5672, "amqps": 5671,
                   "pyamqp": 5672}


@router.get("/healthz", summary="The process is alive")
def healthz() -> dict:
    return {"status": "alive"}


def database_check(store: Store) -> dict:
    try:
        backend = store.ping()
    except Exception as error:  # noqa: BLE001 - any failure means not ready; say which
        return {"ok": False, "detail": f"{type(error).__name__}: {error}".splitlines()[0]}
    return {"ok": True, "backend": backend}


def broker_check(settings: Settings) -> dict | None:
    """A TCP connection to a network broker; None when no broker is configured."""
    url = settings.broker_url
    if not url:
        return None
    parts = urlsplit(url)
    scheme = parts.scheme.split("+")[0]
    if scheme not in NETWORK_BROKERS:
        return {"ok": True, "detail": f"local transport {parts.scheme}"}
    address = (parts.hostname or "localhost", parts.port or NETWORK_BROKERS[scheme])
    try:
        socket.create_connection(address, timeout=3).close()
    except OSError as error:
        return {"ok": False, "detail": f"{scheme} broker at {address[0]}:{address[1]} is not "
                                       f"reachable ({error})"}
    return {"ok": True, "detail": f"{scheme} broker at {address[0]}:{address[1]}"}


def ocr_check() -> dict:
    try:
        check_tesseract()
    except KiemchungError as error:
        return {"ok": False, "detail": error.message}
    return {"ok": True}


@router.get("/readyz", response_model=ReadinessPublic, summary="Ready to work",
            responses={503: {"description": "a problem object naming what is missing"}})
def readyz(store: StoreDep, settings: SettingsDep):
    checks = {"database": database_check(store), "ocr": ocr_check()}
    if (broker := broker_check(settings)) is not None:
        checks["broker"] = broker
    missing = [name for name, result in checks.items() if not result["ok"]]
    if missing:
        reasons = "; ".join(f"{name}: {checks[name].get('detail', 'unavailable')}"
                            for name in missing)
        return problem(503, f"not ready: {reasons}", "not-ready", checks=checks)
    return {"status": "ready", "checks": checks}


@router.get("/metrics", response_class=PlainTextResponse,
            summary="Counters in the Prometheus text format")
def metrics(_key: Admin, metrics: MetricsDep, store: StoreDep) -> PlainTextResponse:
    lines = ["# HELP kiemchung_requests_total HTTP requests answered, by status.",
             "# TYPE kiemchung_requests_total counter"]
    lines += [f'kiemchung_requests_total{{status="{status}"}} {count}'
              for status, count in sorted(metrics.requests.items())]
    lines += ["# HELP kiemchung_documents_processed_total Documents uploaded and inspected.",
              "# TYPE kiemchung_documents_processed_total counter",
              f"kiemchung_documents_processed_total {metrics.documents_processed}",
              "# HELP kiemchung_ocr_pages_total Pages of uploaded documents read by OCR.",
              "# TYPE kiemchung_ocr_pages_total counter",
              f"kiemchung_ocr_pages_total {metrics.ocr_pages}",
              "# HELP kiemchung_failures_total Requests refused or failed, by kind.",
              "# TYPE kiemchung_failures_total counter"]
    lines += [f'kiemchung_failures_total{{kind="{kind}"}} {count}'
              for kind, count in sorted(metrics.failures.items())]
    # Batch work happens in workers: the job table, shared by all of them, has the counts.
    states = store.item_counts()
    lines += ["# HELP kiemchung_batch_items Batch items by state, across every worker.",
              "# TYPE kiemchung_batch_items gauge"]
    lines += [f'kiemchung_batch_items{{state="{state.value}"}} {states.get(state.value, 0)}'
              for state in ItemState]
    return PlainTextResponse("\n".join(lines) + "\n", media_type=PROMETHEUS_TEXT)
