"""The HTTP API over a real store (SQLite in a temporary data dir; the role and scoping checks
again on this machine's PostgreSQL), with evidence made and signed by the project's generator.

What a client relies on: the same objects as `inspect --json` and `verify --json`, a problem
object for every error (never a 500 on bad input), keys confined to their role and unit, and
overrides that leave the verifier's verdict as it was, with both in the audit log.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import json
import logging
import os
import subprocess
import sys
import warnings
import zipfile
from pathlib import Path

import pymupdf
import pytest

from kiemchung.api.http.app import JsonLines, create_app
from kiemchung.api.http.errors import request_id
from kiemchung.api.store import NewBatchItem, NotFound
from kiemchung.api.store.keys import authenticate, create_key, revoke_key
from kiemchung.api.store.tables import Role
from kiemchung.extractors.pipeline import inspect_bytes
from kiemchung.extractors.signatures import load_trust
from kiemchung.verifier.evaluate import evaluate_criterion
from kiemchung.verifier.ruleset import load_ruleset
from samples.attacks import change_text
from samples.pki import DemoPKI
from samples.render import render_pdf
from tests.helpers import (
    CONTRACT_KEYS,
    LIMIT,
    OTHER_UNIT,
    UNIT,
    Service,
    assert_problem,
    finished_batch,
    plan_spec,
    postgres_schema,
    service_settings,
    signed,
)

with warnings.catch_warnings():     # Starlette's note about httpx versions, not ours to fix
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


# -- evidence and services ---------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki():
    return DemoPKI.create("api-tests")


@pytest.fixture(scope="module")
def evidence(pki) -> dict[str, bytes]:
    spec = plan_spec(dt.date(2024, 1, 15))
    plan = signed(spec, pki)
    document = pymupdf.open(stream=plan, filetype="pdf")
    encrypted = document.tobytes(encryption=pymupdf.mupdf.PDF_ENCRYPT_AES_256, owner_pw="o",
                                 user_pw="u")
    return {"plan": plan,
            "unsigned": render_pdf(plan_spec(dt.date(2024, 1, 22), seed=2)),
            "altered": change_text(plan, spec.number, "99/KH-UBND"),
            "encrypted": encrypted,
            "truncated": plan[: len(plan) // 3]}


@pytest.fixture(scope="module")
def service(tmp_path_factory, pki):
    running = Service(service_settings(tmp_path_factory.mktemp("api"), pki))
    with running.client:
        yield running
    running.store.close()


@pytest.fixture(scope="module")
def plan_sha(service, evidence) -> str:
    """The signed plan, uploaded by our unit."""
    response = service.upload("unit", evidence["plan"])
    assert response.status_code == 200, response.text
    return response.json()["sha256"]


# -- documents -----------------------------------------------------------------------------------

def test_upload_returns_the_inspect_json_contract(service, evidence, pki, tmp_path):
    response = service.upload("unit", evidence["plan"], name="kế hoạch.pdf")
    assert response.status_code == 200, response.text
    body = response.json()
    path = tmp_path / "kế hoạch.pdf"
    path.write_bytes(evidence["plan"])
    trust_dir = pki.write_trust_dir(tmp_path / "trust")
    exe = Path(sys.executable).parent / "kiemchung"
    cli = subprocess.run([str(exe), "inspect", str(path), "--trust-root", str(trust_dir),
                          "--json"], check=False, capture_output=True, text=True, timeout=300,
                         env={**os.environ, "KIEMCHUNG_DATA_DIR": str(tmp_path / "cli")})
    assert cli.returncode == 0, cli.stderr
    printed = json.loads(cli.stdout)
    assert CONTRACT_KEYS <= body.keys()
    assert {k: v for k, v in body.items() if k != "file"} == \
        {k: v for k, v in printed.items() if k != "file"}
    assert body["file"] == "kế hoạch.pdf" and body["doc_type"] == "ke_hoach"
    assert body["signatures"] and body["signatures"][0]["status"] == "valid"


def test_the_same_bytes_are_stored_once_and_read_back(service, evidence, plan_sha):
    again = service.upload("portal", evidence["plan"], name="other-name.pdf", unit=OTHER_UNIT)
    assert again.status_code == 200 and again.json()["sha256"] == plan_sha
    document = service.store.get_document(plan_sha)
    assert {"ke-hoach.pdf", "other-name.pdf"} <= set(document.names)
    assert service.store.document_units(plan_sha) >= {UNIT, OTHER_UNIT}
    read = service.client.get(f"/v1/documents/{plan_sha}", headers=service.auth("auditor"))
    assert read.status_code == 200 and read.json()["number"] == again.json()["number"]


@pytest.mark.parametrize("case, mentions", [
    ("empty", "empty"), ("text", "not a pdf"), ("encrypted", "password"),
    ("truncated", "damaged")])
def test_a_bad_file_is_a_422_problem_with_the_reason(service, evidence, case, mentions):
    data = {"empty": b"", "text": "kế hoạch".encode() * 50, **evidence}[case]
    problem = assert_problem(service.upload("unit", data, name=f"{case}.pdf"), 422,
                             mentions=mentions)
    assert problem["type"].endswith("unreadable-file")
    assert "\n" not in problem["detail"] and f"{case}.pdf" in problem["detail"]


@pytest.mark.parametrize("make, status, mentions", [
    ("many_pages", 422, "more than the 1000"), ("page_tree_loop", 200, ""),
    ("content_stream_bomb", 422, "decompression bomb"), ("huge_png", 422, "pixels"),
    ("deeply_nested", 422, "page tree cannot be read"), ("docx_header", 422, "export it to PDF")])
def test_a_hostile_upload_is_answered_never_a_500(service, make, status, mentions):
    from samples import hostile

    response = service.upload("unit", getattr(hostile, make)(), name=f"{make}.pdf")
    if status == 200:
        assert response.status_code == 200 and response.json()["errors"], response.text
    else:
        assert_problem(response, status, mentions=mentions)


def test_an_upload_over_the_limit_is_413(service):
    just_over = b"%PDF-1.7\n" + b"0" * (LIMIT - 8)
    assert_problem(service.upload("unit", just_over), 413, mentions="limit")
    far_over = b"%PDF-1.7\n" + b"0" * (LIMIT + 512 * 1024)   # refused by Content-Length
    assert_problem(service.upload("unit", far_over), 413, mentions="limit")


def test_a_streamed_upload_is_stopped_at_the_limit(service):
    """No Content-Length: the body is counted as it arrives and refused once over."""
    boundary = "kiemchung-boundary"
    head = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"big.pdf\"\r\nContent-Type: application/pdf\r\n\r\n").encode()
    sent = []

    def body():
        yield head + b"%PDF-1.7\n"
        for _ in range(LIMIT // 65536 + 10):
            sent.append(65536)
            yield b"0" * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    response = service.client.post(
        "/v1/documents", content=body(),
        headers={**service.auth("unit"),
                 "Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert_problem(response, 413)


def test_a_missing_file_field_is_a_422_problem(service):
    response = service.client.post("/v1/documents", headers=service.auth("unit"),
                                   data={"unit": UNIT})
    problem = assert_problem(response, 422, mentions="file")
    assert problem["errors"][0]["loc"] == ["body", "file"]


def test_a_unit_key_cannot_upload_for_another_unit(service, evidence):
    assert_problem(service.upload("unit", evidence["plan"], unit=OTHER_UNIT), 403,
                   mentions=UNIT)


# -- verdicts ------------------------------------------------------------------------------------

def test_verify_returns_the_verify_json_contract_with_an_id(service, evidence, plan_sha, pki):
    response = service.verify("unit", [plan_sha])
    assert response.status_code == 201, response.text
    body = response.json()
    trust = load_trust([pki.write_trust_dir(service.store.data_dir / "roots")])
    name = body["checks"][0]["file"]              # the unit's own name for these bytes
    assert name in service.store.get_document(plan_sha).names
    expected = evaluate_criterion(load_ruleset("hue-2024"), "2.1", "huyen", UNIT, 2024,
                                  [inspect_bytes(evidence["plan"], name, trust=trust)]).to_json()
    assert {k: body[k] for k in expected} == expected
    assert body["status"] == "pass" and body["points"] == 10 and isinstance(body["id"], int)
    assert body["evidence"] == [plan_sha] and body["overrides"] == []
    read = service.client.get(f"/v1/verdicts/{body['id']}", headers=service.auth("unit"))
    assert read.status_code == 200 and read.json() == body


def test_a_unit_key_verifies_for_its_own_unit_only(service, plan_sha):
    mine = service.verify("unit", [plan_sha], unit=None)
    assert mine.status_code == 201 and mine.json()["unit"] == UNIT
    assert_problem(service.verify("unit", [plan_sha], unit=OTHER_UNIT), 403)


@pytest.mark.parametrize("change, status, mentions", [
    ({"criterion": "9.9"}, 422, "no criterion"),
    ({"ruleset": "nowhere-2024"}, 422, "no rule set"),
    ({"level": "tinh"}, 422, "level"),
    ({"documents": ["f" * 64]}, 404, "no document"),
    ({"documents": ["not-a-hash"]}, 422, "documents"),
    ({"year": "twenty"}, 422, "year"),
    ({"extra": 1}, 422, "extra")])
def test_a_bad_verify_request_is_a_problem(service, change, status, mentions):
    body = {"criterion": "2.1", "level": "huyen", "year": 2024, "unit": UNIT, **change}
    response = service.client.post("/v1/verdicts", headers=service.auth("appraiser"),
                                   json=body)
    assert_problem(response, status, mentions=mentions)


def test_an_unreadable_document_is_named_in_the_verdict(service, evidence):
    assert service.upload("unit", evidence["encrypted"], name="encrypted.pdf").status_code == 422
    sha = hashlib.sha256(evidence["encrypted"]).hexdigest()     # kept, though unreadable
    body = service.verify("unit", [sha]).json()
    assert body["status"] != "pass" and body["points"] == 0
    assert any(c["file"] == "encrypted.pdf" and "password" in c["message"]
               for c in body["checks"])


# -- errors in general -----------------------------------------------------------------------------

def test_unknown_routes_and_methods_are_problems(service):
    assert_problem(service.client.get("/v1/nothing-here", headers=service.auth("admin")), 404,
                   mentions="/v1/nothing-here")
    assert_problem(service.client.delete("/v1/documents", headers=service.auth("admin")), 405)
    broken = service.client.post("/v1/verdicts", headers={**service.auth("admin"),
                                                          "Content-Type": "application/json"},
                                 content=b"{not json")
    assert_problem(broken, 422)


def test_request_id_is_echoed_or_made(service):
    given = service.client.get("/healthz", headers={"X-Request-ID": "portal-7f3a"})
    assert given.headers["x-request-id"] == "portal-7f3a"
    made = service.client.get("/v1/flagged")
    assert len(made.headers["x-request-id"]) == 32
    assert made.json()["request_id"] == made.headers["x-request-id"]
    unsafe = service.client.get("/healthz", headers={"X-Request-ID": "a b\nc"})
    assert unsafe.headers["x-request-id"] != "a b\nc"


def test_an_unexpected_error_is_a_500_problem_without_internals(tmp_path, pki, caplog):
    app = create_app(service_settings(tmp_path, pki))

    def broken():
        raise RuntimeError("secret internals")

    app.add_api_route("/broken", broken)
    with TestClient(app) as client, caplog.at_level(logging.ERROR, "kiemchung.api"):
        response = client.get("/broken")
    problem = assert_problem(response, 500, mentions="request id")
    assert "secret" not in response.text and problem["type"].endswith("internal-error")
    assert any(record.exc_info and record.exc_info[0] is RuntimeError
               for record in caplog.records)                   # the traceback is in the log
    app.state.store.close()


# -- keys and roles ------------------------------------------------------------------------------

def test_requests_without_a_valid_key_are_401(service):
    problem = assert_problem(service.client.get("/v1/flagged"), 401, mentions="API key")
    assert problem["type"].endswith("unauthorized")
    assert_problem(service.client.get("/v1/flagged",
                                      headers={"Authorization": "Bearer kc_wrong"}), 401)
    token, key = create_key(service.store, "soon revoked", Role.PORTAL)
    assert service.client.get("/v1/flagged", headers={"X-API-Key": token}).status_code == 200
    revoke_key(service.store, key.id)
    assert_problem(service.client.get("/v1/flagged", headers={"X-API-Key": token}), 401,
                   mentions="revoked")


def scoped_resources(service, evidence) -> dict[str, str]:
    """A document, a verdict and a batch of our unit, made as our unit."""
    sha = service.upload("unit", evidence["unsigned"], name="unsigned.pdf").json()["sha256"]
    verdict_id = service.verify("unit", [sha]).json()["id"]
    unit_key = authenticate(service.store, service.tokens["unit"])
    assert unit_key is not None
    batch = service.store.create_batch(unit_key.id, "hue-2024", 2024,
                                       items=[NewBatchItem(UNIT, "huyen", "2.1", (sha,))])
    return {"document": f"/v1/documents/{sha}", "verdict": f"/v1/verdicts/{verdict_id}",
            "batch": f"/v1/batches/{batch.id}", "results": f"/v1/batches/{batch.id}/results",
            "verdict_id": str(verdict_id), "sha": sha}


def check_scoping(service, evidence) -> None:
    paths = scoped_resources(service, evidence)
    for what in ("document", "verdict", "batch", "results"):
        assert service.client.get(paths[what], headers=service.auth("unit")).status_code == 200
        for role in ("appraiser", "auditor", "portal", "admin"):
            assert service.client.get(paths[what], headers=service.auth(role)).status_code \
                == 200, (role, what)
        # Another unit: not found, exactly as for something that does not exist.
        hidden = assert_problem(service.client.get(paths[what],
                                                   headers=service.auth("other_unit")), 404)
        assert hidden["type"].endswith("not-found")
    # Nor can another unit verify with our document.
    assert_problem(service.verify("other_unit", [paths["sha"]], unit=OTHER_UNIT), 404,
                   mentions="no document")
    flagged = service.client.get("/v1/flagged", headers=service.auth("other_unit")).json()
    assert all(item["unit"] == OTHER_UNIT for item in flagged)
    assert service.client.get("/v1/flagged", params={"unit": UNIT},
                              headers=service.auth("other_unit")).json() == []
    override = {"status": "pass", "points": 10, "reason": "paper copy seen"}
    url = f"{paths['verdict']}/overrides"
    for role, status in [("unit", 403), ("portal", 403), ("auditor", 201),
                         ("appraiser", 201), ("admin", 201)]:
        response = service.client.post(url, headers=service.auth(role), json=override)
        assert response.status_code == status, (role, response.text)
    for role, status in [("unit", 403), ("portal", 403), ("appraiser", 403), ("auditor", 200),
                         ("admin", 200)]:
        response = service.client.get("/v1/audit", headers=service.auth(role))
        assert response.status_code == status, (role, response.text)
    sample = {"size": 1, "seed": 1, "unit": UNIT}
    for role, status in [("unit", 403), ("portal", 403), ("appraiser", 403), ("auditor", 201),
                         ("admin", 201)]:
        response = service.client.post("/v1/samples", headers=service.auth(role), json=sample)
        assert response.status_code == status, (role, response.text)
    # The auditor reads everything but submits nothing.
    assert_problem(service.upload("auditor", evidence["plan"]), 403, mentions="auditor")
    assert_problem(service.verify("auditor", [paths["sha"]]), 403)


def test_role_boundaries_and_unit_scoping(service, evidence):
    check_scoping(service, evidence)


def test_role_boundaries_and_unit_scoping_on_postgresql(postgres_url, tmp_path, pki,
                                                        evidence):
    with postgres_schema(postgres_url) as url:
        running = Service(service_settings(tmp_path, pki, database_url=url))
        try:
            with running.client:
                assert running.store.engine.dialect.name == "postgresql"
                check_scoping(running, evidence)
        finally:
            running.store.close()


# -- overrides and the audit trail -----------------------------------------------------------------

def test_an_override_keeps_the_original_and_both_are_audited(service, evidence):
    sha = service.upload("unit", evidence["unsigned"], name="unsigned.pdf").json()["sha256"]
    original = service.verify("unit", [sha]).json()
    assert original["status"] == "fail"
    url = f"/v1/verdicts/{original['id']}/overrides"
    assert_problem(service.client.post(url, headers=service.auth("auditor"),
                                       json={"status": "pass", "points": 10}), 422,
                   mentions="reason")
    assert_problem(service.client.post(url, headers=service.auth("auditor"),
                                       json={"status": "pass", "points": 10, "reason": "  "}),
                   422, mentions="reason")
    assert_problem(service.client.post(url, headers=service.auth("auditor"),
                                       json={"status": "pass", "points": 99, "reason": "x"}),
                   422, mentions="between 0 and 10")
    made = service.client.post(url, headers=service.auth("auditor"), json={
        "status": "partial", "points": 5, "reason": "signed paper copy seen at the unit"})
    assert made.status_code == 201, made.text
    assert made.json()["points"] == 5 and made.json()["verdict_id"] == original["id"]

    after = service.client.get(f"/v1/verdicts/{original['id']}",
                               headers=service.auth("unit")).json()
    assert {k: after[k] for k in ("status", "points", "checks")} == \
        {k: original[k] for k in ("status", "points", "checks")}        # the verifier's stays
    assert after["in_force"] == {"status": "partial", "points": 5,
                                 "override_id": made.json()["id"]}
    assert [o["reason"] for o in after["overrides"]] == ["signed paper copy seen at the unit"]

    trail = service.client.get("/v1/audit", headers=service.auth("auditor"),
                               params={"subject": f"verdict:{original['id']}"}).json()
    assert [entry["action"] for entry in trail] == ["verdict.override"]
    assert trail[0]["details"]["from"] == {"status": "fail", "points": 0}
    assert trail[0]["details"]["to"] == {"status": "partial", "points": 5}
    assert trail[0]["details"]["reason"] == "signed paper copy seen at the unit"


def test_override_of_a_missing_verdict_is_404(service):
    assert_problem(service.client.post("/v1/verdicts/999999/overrides",
                                       headers=service.auth("admin"),
                                       json={"status": "pass", "points": 1, "reason": "x"}),
                   404, mentions="no verdict")


# -- flagged items and samples ---------------------------------------------------------------------

def test_flagged_lists_failures_and_signature_problems_with_filters(service, evidence):
    shas = {name: service.upload("portal", evidence[name], name=f"{name}.pdf",
                                 unit=UNIT).json()["sha256"]
            for name in ("plan", "altered")}
    passed = service.verify("portal", [shas["plan"]]).json()
    altered = service.verify("portal", [shas["altered"]]).json()
    both = service.verify("portal", [shas["plan"], shas["altered"]]).json()
    assert passed["status"] == "pass" and altered["status"] == "fail"
    ours = {passed["id"], altered["id"], both["id"]}

    def flagged(**params):
        response = service.client.get("/v1/flagged", headers=service.auth("appraiser"),
                                      params={"unit": UNIT, **params})
        assert response.status_code == 200, response.text
        return {item["verdict_id"]: item for item in response.json()
                if item["verdict_id"] in ours}

    every = flagged()
    assert passed["id"] not in every
    assert "fail" in every[altered["id"]]["flags"]
    # Passed on the good file, but a file was altered after signing: still flagged.
    assert both["status"] == "pass"
    assert "signature:digitally_signed" in every[both["id"]]["flags"]
    assert not {"fail", "needs_review"} & set(every[both["id"]]["flags"])
    assert set(flagged(check="digitally_signed")) == {altered["id"], both["id"]}
    assert set(flagged(status="fail")) == {altered["id"]}
    assert flagged(criterion="1.2") == {} and flagged(unit=OTHER_UNIT) == {}
    assert_problem(service.client.get("/v1/flagged", headers=service.auth("admin"),
                                      params={"status": "great"}), 422)


def test_samples_are_reproducible_by_seed_and_audited(service):
    unit = "UBND xã Mẫu"
    made = [service.verify("portal", [], unit=unit).json()["id"] for _ in range(8)]

    def draw(**body):
        response = service.client.post("/v1/samples", headers=service.auth("auditor"),
                                       json={"unit": unit, **body})
        assert response.status_code == 201, response.text
        return response.json()

    first, again = draw(size=3, seed=20240), draw(size=3, seed=20240)
    picked = [item["verdict_id"] for item in first["items"]]
    assert picked == [item["verdict_id"] for item in again["items"]]
    assert len(picked) == 3 and set(picked) <= set(made) and first["population"] == 8
    others = {tuple(i["verdict_id"] for i in draw(size=3, seed=seed)["items"])
              for seed in range(1, 6)}
    assert len(others) > 1                                  # the seed decides
    assert draw(rate=0.5, seed=1)["size"] == 4
    assert draw(size=50, seed=1)["size"] == 8
    unseeded = draw(size=2)
    assert [i["verdict_id"] for i in draw(size=2, seed=unseeded["seed"])["items"]] == \
        [i["verdict_id"] for i in unseeded["items"]]
    log = service.client.get("/v1/audit", headers=service.auth("admin"),
                             params={"subject": "sample:20240"}).json()
    assert len(log) == 2 and log[0]["action"] == "sample.draw"
    assert log[0]["details"]["verdicts"] == picked and log[0]["details"]["seed"] == 20240
    for wrong in ({"size": 2, "rate": 0.5}, {}, {"size": 0}, {"rate": 1.5}):
        assert_problem(service.client.post("/v1/samples", headers=service.auth("auditor"),
                                           json=wrong), 422)


# -- operations ------------------------------------------------------------------------------------

def test_health_and_readiness(service):
    assert service.client.get("/healthz").json() == {"status": "alive"}
    ready = service.client.get("/readyz")
    checks = ready.json()["checks"]
    assert checks["database"] == {"ok": True, "backend": "sqlite"}
    if all(check["ok"] for check in checks.values()):
        assert ready.status_code == 200 and ready.json()["status"] == "ready"
    else:                                   # e.g. no Tesseract here: say what is missing
        assert_problem(ready, 503, mentions="not ready")


def test_readiness_names_an_unreachable_database(tmp_path, pki):
    app = create_app(service_settings(tmp_path, pki))
    app.state.store.close()
    (tmp_path / "kiemchung.sqlite3").unlink()
    (tmp_path / "kiemchung.sqlite3").mkdir()            # the database file is gone
    with TestClient(app) as client:
        response = client.get("/readyz")
    problem = assert_problem(response, 503, mentions="database")
    assert problem["checks"]["database"]["ok"] is False


def test_readiness_names_an_unreachable_broker(tmp_path, pki):
    app = create_app(service_settings(tmp_path, pki, broker_url="redis://127.0.0.1:9/0"))
    with TestClient(app) as client:
        response = client.get("/readyz")
    problem = assert_problem(response, 503, mentions="broker")
    assert problem["checks"]["broker"]["ok"] is False
    assert problem["checks"]["database"]["ok"] is True


def test_metrics_count_documents_and_requests(service, evidence):
    service.upload("unit", evidence["unsigned"], name="counted.pdf")
    for role in ("unit", "appraiser", "auditor", "portal"):
        assert_problem(service.client.get("/metrics", headers=service.auth(role)), 403)
    assert_problem(service.client.get("/metrics"), 401)
    text = service.client.get("/metrics", headers=service.auth("admin")).text
    values = dict(line.rsplit(" ", 1) for line in text.splitlines()
                  if line and not line.startswith("#"))
    assert int(values["kiemchung_documents_processed_total"]) >= 1
    assert int(values['kiemchung_requests_total{status="200"}']) >= 1
    assert "kiemchung_ocr_pages_total" in values
    assert 'kiemchung_batch_items{state="queued"}' in values


def test_log_lines_are_json_with_request_and_batch_ids():
    record = logging.makeLogRecord({"name": "kiemchung.api", "levelname": "INFO",
                                    "msg": "batch submitted", "batch_id": "b-1"})
    token = request_id.set("req-9")
    try:
        line = json.loads(JsonLines().format(record))
    finally:
        request_id.reset(token)
    assert line["message"] == "batch submitted"
    assert line["request_id"] == "req-9" and line["batch_id"] == "b-1"


def test_openapi_lists_the_versioned_endpoints(service):
    assert service.client.get("/docs").status_code == 200
    paths = service.client.get("/openapi.json").json()["paths"]
    for path in ("/v1/documents", "/v1/documents/{sha256}", "/v1/verdicts",
                 "/v1/verdicts/{verdict_id}", "/v1/verdicts/{verdict_id}/overrides",
                 "/v1/batches", "/v1/batches/{batch_id}", "/v1/batches/{batch_id}/results",
                 "/v1/batches/{batch_id}/report.csv", "/v1/batches/{batch_id}/report.xlsx",
                 "/v1/flagged", "/v1/samples", "/v1/audit", "/healthz", "/readyz",
                 "/metrics"):
        assert path in paths, path
    body = paths["/v1/batches"]["post"]["requestBody"]["content"]
    assert {"application/json", "multipart/form-data"} <= body.keys()


def test_serve_is_a_command():
    from typer.testing import CliRunner

    from kiemchung.api.cli.main import app

    result = CliRunner().invoke(app, ["serve", "--help"])
    assert result.exit_code == 0 and "--port" in result.output and "--host" in result.output


# -- batches ---------------------------------------------------------------------------------------

def test_a_manifest_batch_runs_and_reports(service, evidence, plan_sha):
    unsigned = service.upload("unit", evidence["unsigned"], name="unsigned.pdf").json()["sha256"]
    manifest = {"ruleset": "hue-2024", "year": 2024, "items": [
        {"unit": UNIT, "level": "huyen", "criterion": "2.1", "documents": [plan_sha]},
        {"unit": UNIT, "level": "huyen", "criterion": "1.2", "documents": [unsigned]}]}
    accepted = service.client.post("/v1/batches", headers=service.auth("unit"), json=manifest)
    assert accepted.status_code == 202, accepted.text
    batch_id = accepted.json()["batch_id"]
    done = finished_batch(service, batch_id, role="unit")
    assert done["counts"]["done"] == 2 and done["finished"] and done["total"] == 2

    results = service.client.get(f"/v1/batches/{batch_id}/results",
                                 headers=service.auth("unit")).json()
    by_criterion = {item["criterion"]: item["verdict"] for item in results["items"]}
    direct = service.verify("appraiser", [plan_sha]).json()
    assert {k: by_criterion["2.1"][k] for k in ("status", "points", "max_points")} == \
        {k: direct[k] for k in ("status", "points", "max_points")}
    assert by_criterion["1.2"]["status"] == "fail"

    csv_report = service.client.get(f"/v1/batches/{batch_id}/report.csv",
                                    headers=service.auth("appraiser"))
    assert csv_report.status_code == 200
    assert csv_report.headers["content-type"].startswith("text/csv")
    assert UNIT in csv_report.content.decode("utf-8-sig")
    xlsx_report = service.client.get(f"/v1/batches/{batch_id}/report.xlsx",
                                     headers=service.auth("auditor"))
    assert xlsx_report.status_code == 200 and xlsx_report.content[:2] == b"PK"
    from openpyxl import load_workbook
    book = load_workbook(io.BytesIO(xlsx_report.content))
    assert any(UNIT in str(cell.value) for sheet in book for row in sheet.iter_rows()
               for cell in row)

    for path in ("", "/results", "/report.csv", "/report.xlsx"):
        assert_problem(service.client.get(f"/v1/batches/{batch_id}{path}",
                                          headers=service.auth("other_unit")), 404)
    log = service.client.get("/v1/audit", headers=service.auth("admin"),
                             params={"subject": f"batch:{batch_id}"}).json()
    assert [entry["action"] for entry in log] == ["batch.submit"]


def test_a_zip_batch_is_unpacked_by_unit_and_criterion(service, evidence):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(f"{UNIT}/2.1/ke-hoach.pdf", evidence["plan"])
        zipped.writestr(f"{UNIT}/1.2/notes.txt", b"not evidence")
    accepted = service.client.post(
        "/v1/batches", headers=service.auth("appraiser"),
        files={"file": ("dti-2024.zip", archive.getvalue(), "application/zip")},
        data={"ruleset": "hue-2024", "year": "2024"})
    assert accepted.status_code == 202, accepted.text
    batch_id = accepted.json()["batch_id"]
    done = finished_batch(service, batch_id, role="appraiser")
    results = service.client.get(f"/v1/batches/{batch_id}/results",
                                 headers=service.auth("appraiser")).json()["items"]
    plan = [item for item in results if item["criterion"] == "2.1" and item["verdict"]]
    assert plan and plan[0]["verdict"]["status"] == "pass"
    refused = [item for item in results if item["state"] == "failed"]
    assert any("notes.txt" in item["error"] for item in refused)
    assert done["counts"]["failed"] == len(refused)


def test_a_unit_key_s_zip_naming_another_unit_is_refused_and_nothing_stored(service, pki):
    own = signed(plan_spec(dt.date(2024, 1, 9), seed=71), pki)
    theirs = render_pdf(plan_spec(dt.date(2024, 1, 10), seed=72))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr(f"{UNIT}/2.1/ke-hoach.pdf", own)
        zipped.writestr(f"{OTHER_UNIT}/2.1/ke-hoach.pdf", theirs)
    response = service.client.post(
        "/v1/batches", headers=service.auth("unit"),
        files={"file": ("dti-2024.zip", archive.getvalue(), "application/zip")},
        data={"ruleset": "hue-2024", "year": "2024"})
    assert_problem(response, 403, mentions=OTHER_UNIT)
    for data in (own, theirs):
        with pytest.raises(NotFound):
            service.store.get_document(hashlib.sha256(data).hexdigest())


@pytest.mark.parametrize("role, body, status", [
    ("unit", {"ruleset": "hue-2024", "year": 2024, "items": [
        {"unit": OTHER_UNIT, "level": "huyen", "criterion": "2.1", "documents": []}]}, 403),
    ("auditor", {"ruleset": "hue-2024", "year": 2024, "items": [
        {"unit": UNIT, "level": "huyen", "criterion": "2.1", "documents": []}]}, 403),
    ("portal", {"ruleset": "hue-2024", "year": 2024, "items": []}, 422),
    ("portal", {"ruleset": "hue-2024", "year": 2024, "items": [
        {"unit": UNIT, "level": "huyen", "criterion": "7.7", "documents": []}]}, 422),
    ("portal", {"ruleset": "hue-2024", "year": 2024, "webhook_url": "ftp://x", "items": [
        {"unit": UNIT, "level": "huyen", "criterion": "2.1", "documents": []}]}, 422),
    ("portal", {"ruleset": "hue-2024", "year": 2024, "items": [
        {"unit": UNIT, "level": "huyen", "criterion": "2.1", "documents": ["e" * 64]}]}, 404)])
def test_a_refused_batch_is_a_problem_before_anything_runs(service, role, body, status):
    response = service.client.post("/v1/batches", headers=service.auth(role), json=body)
    assert_problem(response, status)


def test_bad_batch_uploads_are_problems(service):
    headers = service.auth("portal")
    assert_problem(service.client.post("/v1/batches", headers={
        **headers, "Content-Type": "application/json"}, content=b"[not json"), 422)
    assert_problem(service.client.post("/v1/batches", headers=headers,
                                       data={"ruleset": "hue-2024", "year": "2024"},
                                       files={"other": ("x", b"x")}), 422, mentions="file")
    assert_problem(service.client.post("/v1/batches", headers=headers,
                                       data={"ruleset": "hue-2024", "year": "2024"},
                                       files={"file": ("x.zip", b"not a zip")}), 422)
    assert_problem(service.client.get("/v1/batches/no-such-batch", headers=headers), 404)
