"""The job table (`batch_items`): claiming an item, running it to its verdict or its one-line
failure, putting back what a lost worker held, and closing finished batches. Local pool and
Celery workers alike go through here."""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket

from kiemchung.api import service
from kiemchung.api.jobs.limits import ItemTimeLimit, soft_time_limit
from kiemchung.api.store import NotFound, Store
from kiemchung.api.store.tables import BatchItemRow, BatchRow, ItemState
from kiemchung.extractors.signatures import TrustStore
from kiemchung.models.errors import ExitCode, KiemchungError
from kiemchung.models.verdicts import Verdict
from kiemchung.verifier.ruleset import RuleSet
from kiemchung.verifier.settings import Settings

MAX_ATTEMPTS = 3
log = logging.getLogger("kiemchung.batch")


class BatchError(KiemchungError):
    exit_code = ExitCode.BAD_INPUT


def process_item(store: Store, item: BatchItemRow, ruleset: RuleSet, trust: TrustStore, *,
                 ocr_dpi: int = 300) -> Verdict:
    """The verdict of one batch item: inspect its documents (unreadable ones are named as
    such) and evaluate its criterion, knowing every other document of the batch."""
    batch = store.get_batch(item.batch_id)
    names = []
    for sha in item.documents:
        try:
            names.append((sha, service.upload_name(store, sha, item.unit)))
        except NotFound:
            names.append((sha, sha))        # read as "not in the document store"
    evidence = service.inspect_stored(store, names, trust, ocr_dpi=ocr_dpi)
    return service.verify(ruleset, item.criterion, item.level, item.unit, batch.year, evidence,
                          read_whole=service.read_whole_from_store(store, trust, ocr_dpi),
                          seen=store.batch_documents(item.batch_id))


def run_claimed(store: Store, item: BatchItemRow, ruleset: RuleSet, trust: TrustStore,
                settings: Settings, *,
                time_limits: tuple[type[BaseException], ...] = (ItemTimeLimit,)) -> None:
    """Process a claimed item and record the outcome: its verdict, or the one-line reason it
    failed. Never raises for a bad file; the worker goes on with the next item."""
    try:
        with soft_time_limit(settings.item_soft_time_limit):
            verdict = process_item(store, item, ruleset, trust, ocr_dpi=settings.ocr_dpi)
    except time_limits:
        store.fail_item(item.id, f"took longer than the time limit of "
                                 f"{settings.item_soft_time_limit} s")
    except KiemchungError as error:
        store.fail_item(item.id, error.message)
    except MemoryError:
        store.fail_item(item.id, f"out of memory (limit {settings.worker_max_memory_mb} MiB "
                                 "per worker)")
    except Exception as error:  # noqa: BLE001 - one item's bug must not stop the batch
        log.exception("batch item %s failed", item.id)
        store.fail_item(item.id, f"unexpected error ({type(error).__name__}): {error}")
    else:
        store.finish_item(item.id, verdict)


def worker_id(pid: int | None = None) -> str:
    """host:pid — the sweep can tell a lost local worker from one alive elsewhere."""
    return f"{socket.gethostname()}:{pid or os.getpid()}"


def pid_of(worker: str | None) -> int | None:
    host, _, pid = (worker or "").rpartition(":")
    return int(pid) if host == socket.gethostname() and pid.isdigit() else None


def _holder_gone(worker: str | None) -> bool:
    """Whether the worker holding an item ran on this machine and no longer exists."""
    pid = pid_of(worker)
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def release(store: Store, worker: str, reason: str) -> list[int]:
    """Put back the items a lost worker held; after MAX_ATTEMPTS claims, fail them. Returns
    the items put back."""
    requeued = []
    for item in store.running_items(worker_id=worker):
        if item.attempts >= MAX_ATTEMPTS:
            store.fail_item(item.id, f"gave up after {item.attempts} attempts: {reason}",
                            held_by=worker)
            continue
        after = store.fail_item(item.id, f"re-queued: {reason}", retry=True, held_by=worker)
        if after.state == ItemState.QUEUED:
            log.warning("batch item %s re-queued: %s", item.id, reason)
            requeued.append(item.id)
    return requeued


def abandoned_workers(store: Store) -> set[str]:
    """Workers of this machine that hold running items and no longer exist."""
    return {worker for item in store.running_items()
            if (worker := item.worker_id) is not None and _holder_gone(worker)}


def claim_item(store: Store, item_id: int, worker: str,
               deadline: dt.datetime) -> BatchItemRow | None:
    """Claim this one item (a Celery task names its item). Queued: claimed. Running, held by
    a worker of this machine that no longer exists (a redelivered task after its worker was
    killed): taken over. Anything else — done, failed, running elsewhere — None."""
    item = store.get_item(item_id)
    lost = item.state == ItemState.RUNNING and _holder_gone(item.worker_id)
    if lost and item.attempts >= MAX_ATTEMPTS:
        store.fail_item(item_id, f"gave up after {item.attempts} attempts: worker "
                                 f"{item.worker_id} lost")
        return None
    return store.claim_item(item_id, worker, deadline,
                            taking_over=item.worker_id if lost else None)


def settle(settings: Settings, store: Store) -> list[BatchRow]:
    """Close the batches whose items are all settled and send their webhooks, each once."""
    from kiemchung.api.jobs.webhooks import notify_batch_finished

    closed = store.close_finished_batches()
    for batch in closed:
        log.info("batch %s finished", batch.id)
        if batch.webhook_url:
            notify_batch_finished(store, batch, settings.webhook_secret, settings.webhook_hosts,
                                  pause=settings.webhook_retry_pause)
    return closed
