"""Batches: from a submitted list of (unit, criterion, documents) to verdicts in the store.

Every batch item is a row of the job table (`batch_items`): a worker claims it, processes it and
finishes it; a sweeper re-queues what a lost worker held. Verdicts live in our tables, so the way
items reach workers only coordinates:

- `KIEMCHUNG_BROKER_URL` set (production): one Celery task per item over Redis, run by
  `kiemchung worker` on as many machines as needed (`api/worker.py`).
- Unset (the embedded default): `run_local`, a small pool of worker processes on this machine
  claiming from the job table directly. There is no broker server to start, and the claim /
  finish / sweeper path is the one production uses, so what the tests show about a lost worker
  holds for both. Celery over an embedded transport (SQLAlchemy, filesystem) was the other
  choice: it loses an in-flight message when the worker is SIGKILLed, so it would need this
  sweeper anyway, on top of a transport nobody runs in production.

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

import contextlib
import dataclasses
import datetime as dt
import hashlib
import logging
import multiprocessing
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from multiprocessing.connection import wait as wait_for
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from sqlalchemy import select, update

from api.store import BatchProgress, NewBatchItem, NotFound, Store, open_store
from extractors.signatures import TrustStore, fingerprint_sha256, load_trust
from models.db import BatchItemRow, BatchRow, BatchStatus, ItemState, utcnow
from models.errors import InputFileError, KiemchungError
from models.inspection import Inspection
from models.records import (
    EXTRACTOR_VERSION,
    RECORD_FORMAT,
    RecordError,
    inspection_from_record,
    inspection_to_record,
)
from models.verdicts import Verdict
from verifier.evaluate import EvaluationContext, UnreadableFile, evaluate_criterion
from verifier.ruleset import RuleSet, load_ruleset
from verifier.settings import Settings

__all__ = [
    "MAX_ATTEMPTS",
    "BatchError",
    "BrokerUnavailable",
    "ItemTimeLimit",
    "Refusal",
    "claim_item",
    "dispatch",
    "extraction_key",
    "inspect_document",
    "process_item",
    "resume_unfinished",
    "run_claimed",
    "run_local",
    "settings_trust",
    "settle",
    "submit_batch",
    "upload_name",
    "worker_id",
]

MAX_ATTEMPTS = 3
SUPERVISOR_POLL = 0.5          # seconds between sweeps and progress reports of `run_local`
log = logging.getLogger("kiemchung.batch")


class BatchError(KiemchungError):
    exit_code = 2


class BrokerUnavailable(BatchError):
    """The broker could not be reached to send a batch's tasks. The items stay queued in the
    job table, and a worker's sweep sends them once the broker is back."""


class ItemTimeLimit(BaseException):
    """The item ran past its soft time limit. A BaseException, like KeyboardInterrupt: the
    extractors keep going past a failed page (`except Exception`), and must not take the end
    of the item's time for one page's failure, nor cache what they read until then."""

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


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


# -- inspecting documents, once per bytes ---------------------------------------------------

def settings_trust(settings: Settings, extra: Iterable[Path] = ()) -> TrustStore:
    """Trust roots from the settings, the imported ones (`kiemchung trust add`) and `extra`."""
    imported = [settings.trust_dir] if settings.trust_dir.is_dir() else []
    return load_trust(list(settings.trust_roots) + imported + list(extra))


def extraction_key(trust: TrustStore, ocr_dpi: int, *, whole_text: bool = False) -> str:
    """What an inspection depends on besides the bytes. Trust decides `signatures[].trusted`,
    the dpi what OCR reads, and `whole_text` whether a scan was read beyond its header and
    signer area: all are part of the cache key."""
    anchors = sorted(fingerprint_sha256(c) for c in trust.roots + trust.intermediates)
    digest = hashlib.sha256("\n".join(anchors).encode()).hexdigest()[:16]
    return f"{EXTRACTOR_VERSION}/dpi{ocr_dpi}/trust-{digest}" + ("/whole" if whole_text else "")


def inspect_document(store: Store, sha256: str, trust: TrustStore, *, name: str | None = None,
                     ocr_dpi: int = 300, whole_text: bool = False) -> Inspection:
    """The stored document's inspection: from the cache when these bytes were read before
    with the same extractors, trust and dpi (a whole reading serves for a partial one); else
    read now and cached. A file that cannot be read raises InputFileError, also from the
    cache."""
    whole_key = extraction_key(trust, ocr_dpi, whole_text=True)
    keys = [whole_key] if whole_text else [whole_key, extraction_key(trust, ocr_dpi)]
    for key in keys:
        record = store.get_inspection(sha256, key)
        if record is None:
            continue
        if "unreadable" in record:
            raise InputFileError(record["unreadable"])
        with contextlib.suppress(RecordError):
            inspection = inspection_from_record(record)
            return dataclasses.replace(inspection, file=name) if name else inspection
    # MuPDF, pyHanko and Tesseract are loaded only where a file is really read.
    from extractors.pipeline import inspect_bytes

    data = store.document_bytes(sha256)
    try:
        inspection = inspect_bytes(data, name or sha256, trust=trust, ocr_dpi=ocr_dpi,
                                   whole_text=whole_text)
    except InputFileError as error:
        store.save_inspection(sha256, whole_key, {"format": RECORD_FORMAT,
                                                  "unreadable": error.message})
        raise
    # Read whole, or nothing left unread (a text layer): it serves both kinds of request.
    key = whole_key if whole_text or not inspection.text.partial else keys[-1]
    store.save_inspection(sha256, key, inspection_to_record(inspection))
    return inspection


def read_whole_from_store(store: Store, trust: TrustStore, ocr_dpi: int
                          ) -> Callable[[Inspection], Inspection]:
    """For `EvaluationContext.read_whole`: the same stored document, read whole."""
    return lambda partial: inspect_document(store, partial.text.sha256, trust,
                                            name=partial.file, ocr_dpi=ocr_dpi, whole_text=True)


def upload_name(store: Store, sha256: str, unit: str) -> str:
    """The name the unit uploaded the document under (checks cite it in their messages)."""
    document = store.get_document(sha256)
    mine = [u.name for u in document.uploads if u.unit == unit]
    return (mine or document.names or [sha256])[0]


def _batch_seen(store: Store, batch_id: str) -> frozenset[tuple[str, str, str]]:
    """(sha256, unit, criterion) of every document in the batch, for `not_reused`."""
    with store.session() as session:
        rows = session.execute(select(BatchItemRow.unit, BatchItemRow.criterion,
                                      BatchItemRow.documents)
                               .where(BatchItemRow.batch_id == batch_id)).all()
    return frozenset((sha, unit, criterion) for unit, criterion, documents in rows
                     for sha in documents)


def process_item(store: Store, item: BatchItemRow, ruleset: RuleSet, trust: TrustStore, *,
                 ocr_dpi: int = 300) -> Verdict:
    """The verdict of one batch item: inspect its documents (unreadable ones are named as
    such) and evaluate its criterion, knowing every other document of the batch."""
    batch = store.get_batch(item.batch_id)
    inspections, unreadable = [], []
    for sha in item.documents:
        try:
            name = upload_name(store, sha, item.unit)
        except NotFound:
            unreadable.append(UnreadableFile(sha, "not in the document store"))
            continue
        try:
            inspections.append(inspect_document(store, sha, trust, name=name, ocr_dpi=ocr_dpi))
        except InputFileError as error:
            unreadable.append(UnreadableFile(name, error.message))
    context = EvaluationContext(seen=_batch_seen(store, item.batch_id),
                                unreadable=tuple(unreadable),
                                read_whole=read_whole_from_store(store, trust, ocr_dpi))
    return evaluate_criterion(ruleset, item.criterion, item.level, item.unit, batch.year,
                              inspections, context=context)


# -- submitting and running ------------------------------------------------------------------

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
        from api.webhook import check_webhook_url

        check_webhook_url(webhook_url, webhook_hosts)
    placeholders = [NewBatchItem(r.unit, r.level, r.criterion, ()) for r in refused]
    batch = store.create_batch(created_by, ruleset_id, year, webhook_url=webhook_url,
                               items=items + placeholders)
    rows = store.batch_items(batch.id)
    # Failed before anything is dispatched: no worker can claim them first. One transaction
    # for them all: one per refusal took 28 s for a ZIP of 3,000 refused entries.
    if refused:
        now = utcnow()
        with store.session() as session:
            session.execute(update(BatchItemRow), [
                {"id": row.id, "state": ItemState.FAILED, "error": refusal.message,
                 "finished_at": now}
                for row, refusal in zip(rows[len(items):], refused, strict=True)])
    store.audit(created_by, "batch.submit", f"batch:{batch.id}",
                {"ruleset": ruleset_id, "year": year, "items": len(items),
                 "refused": [r.message for r in refused]})
    return batch.id


def dispatch(settings: Settings, batch_id: str, *, trust: TrustStore | None = None,
             workers: int = 2) -> None:
    """Start the batch's work and return at once: Celery tasks when a broker is configured,
    else a local pool supervised from a background thread of this process."""
    if settings.broker_url:
        from api.worker import enqueue_items

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
    with open_store(settings) as store, store.session() as session:
        pending = list(session.scalars(select(BatchRow.id).where(
            BatchRow.status != BatchStatus.DONE, BatchRow.total_items > 0)))
    for batch_id in pending:
        dispatch(settings, batch_id, workers=workers)
    return pending


def run_local(settings: Settings, batch_id: str, *, workers: int = 2,
              trust: TrustStore | None = None, ruleset: RuleSet | None = None,
              progress: Callable[[BatchProgress], None] | None = None) -> BatchProgress:
    """Run the batch to its end on this machine with `workers` processes; `progress` is called
    with the counts after every sweep. Returns the final progress."""
    if workers < 1:
        raise BatchError("--workers must be at least 1")
    with open_store(settings) as store:
        batch = store.get_batch(batch_id)
        ruleset = ruleset or load_ruleset(batch.ruleset_id)
        trust = settings_trust(settings) if trust is None else trust
        pool = _LocalPool(settings, batch_id, ruleset, trust, workers)
        finished = False
        try:
            while True:
                pool.sweep(store)
                state = store.batch_progress(batch_id)
                if progress is not None:
                    progress(state)
                if state.finished:
                    finished = True
                    break
                pool.fill(state.counts[ItemState.QUEUED])
                pool.wait(SUPERVISOR_POLL)
        finally:
            pool.stop(store, clean=finished)
        settle(settings, store)
        return store.batch_progress(batch_id)


class _LocalPool:
    """Worker processes of one batch, started fresh (spawn: no inherited connections or
    threads), each looping claim → process → finish until nothing is queued."""

    def __init__(self, settings: Settings, batch_id: str, ruleset: RuleSet, trust: TrustStore,
                 size: int):
        self.settings, self.batch_id, self.ruleset, self.size = settings, batch_id, ruleset, size
        self.trust_der = _trust_der(trust)
        self.context = multiprocessing.get_context("spawn")
        self.processes: dict[int, multiprocessing.Process] = {}

    def fill(self, queued: int) -> None:
        alive = sum(p.is_alive() for p in self.processes.values())
        for _ in range(min(self.size, queued) - alive):
            process = self.context.Process(
                target=_local_worker, name="kiemchung-worker", daemon=True,
                args=(self.settings, self.batch_id, self.ruleset, self.trust_der))
            process.start()
            self.processes[process.pid] = process

    def wait(self, seconds: float) -> None:
        """Sleep until the next sweep, or until a worker ends."""
        sentinels = [p.sentinel for p in self.processes.values()]
        if sentinels:
            wait_for(sentinels, timeout=seconds)
        else:
            threading.Event().wait(seconds)

    def sweep(self, store: Store) -> None:
        now = utcnow()
        for pid, process in list(self.processes.items()):
            if process.is_alive():
                continue
            process.join()
            del self.processes[pid]
            if process.exitcode != 0:      # killed or crashed: its item is still `running`
                release(store, worker_id(pid), f"worker process {pid} ended "
                                               f"({_exit_reason(process.exitcode)})")
        for item in _running(store, self.batch_id):
            pid = _pid_of(item.worker_id)
            if pid in self.processes and item.deadline is not None and item.deadline < now:
                # Past the hard limit: stuck where the soft limit's signal cannot reach.
                process = self.processes.pop(pid)
                process.kill()
                process.join()
                store.fail_item(item.id, f"exceeded the hard time limit of "
                                         f"{self.settings.item_time_limit} s; the worker was "
                                         "stopped")
        store.requeue_stuck(now, max_attempts=MAX_ATTEMPTS)

    def stop(self, store: Store, *, clean: bool) -> None:
        """After the batch: workers leave on their own. On an error or Ctrl-C: end them and
        put their items back."""
        for pid, process in self.processes.items():
            if not clean:
                process.terminate()
            process.join(timeout=10)
            if process.is_alive():
                process.kill()
                process.join()
            if process.exitcode != 0:
                release(store, worker_id(pid), "the batch run was interrupted")


def _local_worker(settings: Settings, batch_id: str, ruleset: RuleSet,
                  trust_der: tuple[list[bytes], list[bytes]]) -> None:
    """Entry point of a local worker process."""
    os.environ.setdefault("OMP_THREAD_LIMIT", "1")     # Tesseract: one thread per worker
    limit_memory(settings.worker_max_memory_mb)
    trust = _trust_from_der(trust_der)
    me = worker_id()
    with open_store(settings) as store:
        while True:
            deadline = utcnow() + dt.timedelta(seconds=settings.item_time_limit)
            item = store.claim_next_item(me, deadline, batch_id=batch_id)
            if item is None:
                return
            run_claimed(store, item, ruleset, trust, settings)


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


@contextlib.contextmanager
def soft_time_limit(seconds: int):
    """Raise ItemTimeLimit in this process after `seconds`. Only the main thread receives
    signals; elsewhere (a threaded test worker) the hard limit alone applies."""
    if seconds <= 0 or threading.current_thread() is not threading.main_thread():
        yield
        return

    def expired(_signum, _frame):
        raise ItemTimeLimit(f"took longer than the time limit of {seconds} s")

    previous = signal.signal(signal.SIGALRM, expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def limit_memory(megabytes: int) -> None:
    """Cap this process's address space (never raising a lower cap already set)."""
    import resource

    if megabytes <= 0:
        return
    wanted = megabytes * 1024 * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY or soft > wanted:
        limit = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


# -- the job table beyond the store's own calls ----------------------------------------------

def worker_id(pid: int | None = None) -> str:
    """host:pid — the sweep can tell a lost local worker from one alive elsewhere."""
    return f"{socket.gethostname()}:{pid or os.getpid()}"


def _pid_of(worker: str | None) -> int | None:
    host, _, pid = (worker or "").rpartition(":")
    return int(pid) if host == socket.gethostname() and pid.isdigit() else None


def _holder_gone(worker: str | None) -> bool:
    """Whether the worker holding an item ran on this machine and no longer exists."""
    pid = _pid_of(worker)
    if pid is None:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _running(store: Store, batch_id: str | None = None) -> list[BatchItemRow]:
    query = select(BatchItemRow).where(BatchItemRow.state == ItemState.RUNNING)
    if batch_id is not None:
        query = query.where(BatchItemRow.batch_id == batch_id)
    with store.session() as session:
        return list(session.scalars(query))


def release(store: Store, worker: str, reason: str) -> list[int]:
    """Put back the items a lost worker held; after MAX_ATTEMPTS claims, fail them. Returns
    the items put back."""
    with store.session() as session:
        held = list(session.scalars(select(BatchItemRow).where(
            BatchItemRow.state == ItemState.RUNNING, BatchItemRow.worker_id == worker)))
    requeued = []
    for item in held:
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
    return {item.worker_id for item in _running(store) if _holder_gone(item.worker_id)}


def claim_item(store: Store, item_id: int, worker: str,
               deadline: dt.datetime) -> BatchItemRow | None:
    """Claim this one item (a Celery task names its item). Queued: claimed. Running, held by
    a worker of this machine that no longer exists (a redelivered task after its worker was
    killed): taken over. Anything else — done, failed, running elsewhere — None."""
    with store.session() as session:
        item = session.get(BatchItemRow, item_id)
        if item is None:
            raise NotFound(f"no batch item {item_id}")
        state, holder, attempts = item.state, item.worker_id, item.attempts
    if state == ItemState.RUNNING and _holder_gone(holder) and attempts >= MAX_ATTEMPTS:
        store.fail_item(item_id, f"gave up after {attempts} attempts: worker {holder} lost")
        return None
    claimable = BatchItemRow.state == ItemState.QUEUED
    if state == ItemState.RUNNING and _holder_gone(holder):
        claimable = (BatchItemRow.state == ItemState.RUNNING) & (BatchItemRow.worker_id == holder)
    with store.session() as session:
        claimed = session.scalars(
            update(BatchItemRow).where(BatchItemRow.id == item_id, claimable)
            .values(state=ItemState.RUNNING, worker_id=worker, deadline=deadline,
                    started_at=utcnow(), attempts=BatchItemRow.attempts + 1)
            .returning(BatchItemRow).execution_options(synchronize_session=False)).one_or_none()
        if claimed is not None:
            session.execute(update(BatchRow).where(BatchRow.id == claimed.batch_id,
                                                   BatchRow.status == BatchStatus.QUEUED)
                            .values(status=BatchStatus.RUNNING))
        return claimed


def stuck_items(store: Store, now: dt.datetime | None = None) -> list[int]:
    """Items running past their deadline: what `requeue_stuck` is about to put back."""
    now = now or utcnow()
    with store.session() as session:
        return list(session.scalars(select(BatchItemRow.id).where(
            BatchItemRow.state == ItemState.RUNNING, BatchItemRow.deadline < now)))


def settle(settings: Settings, store: Store) -> list[BatchRow]:
    """Close the batches whose items are all settled and send their webhooks, each once."""
    from api.webhook import notify_batch_finished

    closed = store.close_finished_batches()
    for batch in closed:
        log.info("batch %s finished", batch.id)
        if batch.webhook_url:
            notify_batch_finished(store, batch, settings.webhook_secret, settings.webhook_hosts)
    return closed


def _exit_reason(code: int | None) -> str:
    if code is not None and code < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-code).name}"
    return f"exit code {code}"


def _trust_der(trust: TrustStore) -> tuple[list[bytes], list[bytes]]:
    """Certificates as DER: what a spawned worker process can be handed."""
    der = serialization.Encoding.DER
    return ([c.public_bytes(der) for c in trust.roots],
            [c.public_bytes(der) for c in trust.intermediates])


def _trust_from_der(trust_der: tuple[list[bytes], list[bytes]]) -> TrustStore:
    roots, intermediates = trust_der
    return TrustStore(roots=tuple(map(x509.load_der_x509_certificate, roots)),
                      intermediates=tuple(map(x509.load_der_x509_certificate, intermediates)))
