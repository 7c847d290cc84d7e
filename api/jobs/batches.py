"""Batches: from a submitted list of (unit, criterion, documents) to verdicts in the store.

Every batch item is a row of the job table (`batch_items`): a worker claims it, processes it and
finishes it; a sweeper re-queues what a lost worker held. Verdicts live in our tables, so the way
items reach workers only coordinates:

- `KIEMCHUNG_BROKER_URL` set (production): one Celery task per item over Redis, run by
  `kiemchung worker` on as many machines as needed (`api/jobs/worker.py`).
- Unset (the embedded default): `run_local` (`api/jobs/pool.py`), a small pool of worker
  processes on this machine claiming from the job table directly. There is no broker server to
  start, and the claim / finish / sweeper path is the one production uses, so what the tests show
  about a lost worker holds for both. Celery over an embedded transport (SQLAlchemy, filesystem)
  was the other choice: it loses an in-flight message when the worker is SIGKILLed, so it would
  need this sweeper anyway, on top of a transport nobody runs in production.

Limits per item, as Celery's prefork pool has them:
- soft (`item_soft_time_limit`): SIGALRM in the worker process raises `ItemTimeLimit`; the item
  fails with that reason and the worker goes on with the next one;
- hard (`item_time_limit`, the deadline written on the claimed item): code stuck where no signal
  handler runs (inside MuPDF, waiting on Tesseract) is ended by the supervisor killing the
  process; the item fails and a fresh worker takes the rest;
- memory (`worker_max_memory_mb`): RLIMIT_AS in each worker process, so a runaway file raises
  MemoryError there instead of taking the machine down.
A worker that dies (killed, or out of memory inside C code) leaves its item running: the sweep
re-queues it — after `MAX_ATTEMPTS` claims it fails instead, so a file that kills every worker
cannot loop — and another worker finishes it.
"""


from __future__ import annotations

import dataclasses
import logging
import threading
from collections.abc import Iterable, Sequence

from kiemchung.api.jobs.pool import run_local
from kiemchung.api.jobs.queue import BatchError, settle
from kiemchung.api.store import NewBatchItem, Store, open_store
from kiemchung.api.store.tables import ItemState
from kiemchung.extractors.signatures import TrustStore
from kiemchung.verifier.settings import Settings

log = logging.getLogger("kiemchung.batch")


class BrokerUnavailable(BatchError):
    """The broker could not be reached to send a batch's tasks. The items stay queued in the
    job table, and a worker's sweep sends them once the broker is back."""


@dataclasses.dataclass(frozen=True)
class Refusal:
    """An input entry that was not taken as evidence, and why (zip slip, bomb, not a PDF…).
    `unit`, `level` and `criterion` are empty when the entry's path does not say them."""

    unit: str
    level: str
    criterion: str
    name: str
    reason: str

    @property
    def message(self) -> str:
        return f"{self.name}: refused — {self.reason}"


def submit_batch(store: Store, *, created_by: int | None, ruleset_id: str, year: int,
                 items: Iterable[NewBatchItem], webhook_url: str | None = None,
                 webhook_hosts: Sequence[str] = (), refused: Iterable[Refusal] = ()) -> str:
    """Record the batch and its items, queued; refused input entries become failed items
    carrying their reason, so they show in progress, results and the report. Returns the id;
    `dispatch` starts the work."""
    items, refused = list(items), list(refused)
    if not items and not refused:
        raise BatchError("a batch needs at least one item")
    if webhook_url:
        from kiemchung.api.jobs.webhooks import check_webhook_url

        check_webhook_url(webhook_url, webhook_hosts)
    placeholders = [NewBatchItem(r.unit, r.level, r.criterion, ()) for r in refused]
    batch = store.create_batch(created_by, ruleset_id, year, webhook_url=webhook_url,
                               items=items + placeholders)
    rows = store.batch_items(batch.id)
    # Failed before anything is dispatched: no worker can claim them first. One transaction
    # for them all: one per refusal took 28 s for a ZIP of 3,000 refused entries.
    if refused:
        store.fail_unstarted({row.id: refusal.message
                              for row, refusal in zip(rows[len(items):], refused, strict=True)})
    store.audit(created_by, "batch.submit", f"batch:{batch.id}",
                {"ruleset": ruleset_id, "year": year, "items": len(items),
                 "refused": [r.message for r in refused]})
    return batch.id


def dispatch(settings: Settings, batch_id: str, *, trust: TrustStore | None = None,
             workers: int = 2) -> None:
    """Start the batch's work and return at once: Celery tasks when a broker is configured,
    else a local pool supervised from a background thread of this process."""
    if settings.broker_url:
        from kiemchung.api.jobs.worker import enqueue_items

        with open_store(settings) as store:
            queued = [i.id for i in store.batch_items(batch_id) if i.state == ItemState.QUEUED]
            if not queued:              # only refused entries: finished already
                settle(settings, store)
        enqueue_items(settings, queued)
        return
    threading.Thread(target=_run_logged, args=(settings, batch_id),
                     kwargs={"trust": trust, "workers": workers},
                     name=f"batch-{batch_id[:8]}", daemon=True).start()


def _run_logged(settings: Settings, batch_id: str, **options) -> None:
    try:
        run_local(settings, batch_id, **options)
    except Exception:  # noqa: BLE001 - a background batch must say why it stopped
        log.exception("batch %s stopped", batch_id)


def resume_unfinished(settings: Settings, *, workers: int = 2) -> list[str]:
    """Dispatch again every batch not finished (after the process that ran it stopped)."""
    with open_store(settings) as store:
        pending = store.unfinished_batches()
    for batch_id in pending:
        dispatch(settings, batch_id, workers=workers)
    return pending
