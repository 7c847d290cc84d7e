"""Celery workers for batches, in production (`KIEMCHUNG_BROKER_URL=redis://host:6379/0`):

    kiemchung worker --concurrency 4      # on each machine; more machines scale it out

One task per batch item, `process_batch_item(item_id)`, idempotent: it claims its item in the
job table (or returns when the item is done, failed or held by a live worker), processes it and
writes the verdict exactly once (`Store.finish_item`). Configuration for long OCR tasks:
- `task_acks_late` + `task_reject_on_worker_lost`: the message is acknowledged after the task
  and given back when the child running it dies, so a killed child's item runs again (the
  redelivered task takes over an item whose holder on this machine no longer exists);
- `worker_prefetch_multiplier=1`: a worker holds no more messages than it runs;
- soft/hard time limits per task; `worker_max_memory_per_child` replaces a child that grew,
  and each child's address space is capped as in the local pool;
- Redis `visibility_timeout` above the hard limit, else Redis hands a task still running to a
  second worker, again and again.
`acks_late` redelivers only when a child dies: when the whole worker is SIGKILLed, Redis gives
its unacknowledged messages back only after the visibility timeout, and a message that never
reached the broker is gone. So the `sweep` (at worker start, then every `sweep_interval` by
beat; `kiemchung worker` runs beat unless --no-beat) puts back items held by a worker of this
machine that no longer exists or running past their deadline, and sends the task again for
items queued for a while when the broker's queue is empty — their message was lost. A second
message for an item is harmless: the claim lets only one run. Verdicts live in our tables, so
there is no result backend. The beat is a child process that dies with its worker, keeping its
schedule in memory (no file to share); each worker is named kiemchung-<pid>@<host>.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import os
import signal
import socket
import sys
import threading

from celery import Celery
from celery.exceptions import SoftTimeLimitExceeded
from celery.signals import beat_embedded_init, worker_process_init, worker_ready

from kiemchung.api import service
from kiemchung.api.jobs.batches import BrokerUnavailable
from kiemchung.api.jobs.limits import ItemTimeLimit, limit_memory
from kiemchung.api.jobs.queue import (
    MAX_ATTEMPTS,
    BatchError,
    abandoned_workers,
    claim_item,
    release,
    run_claimed,
    settle,
    worker_id,
)
from kiemchung.api.store import Store, open_store
from kiemchung.api.store.tables import BatchItemRow, ItemState, utcnow
from kiemchung.models.errors import KiemchungError
from kiemchung.verifier.ruleset import load_ruleset
from kiemchung.verifier.settings import Settings

__all__ = ["enqueue_items", "make_celery", "node_name", "run_item", "start_worker", "sweep"]

PROCESS_ITEM = "kiemchung.process_batch_item"
SWEEP = "kiemchung.sweep"
SOFT_LIMIT_BACKUP = 10              # seconds past our own soft limit
VISIBILITY_MARGIN = 300             # seconds past the hard limit before Redis redelivers
log = logging.getLogger("kiemchung.worker")


def make_celery(settings: Settings) -> Celery:
    if not settings.broker_url:
        raise BatchError("no broker: set KIEMCHUNG_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")
    app = Celery("kiemchung", broker=settings.broker_url, set_as_current=False)
    app.conf.update(
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        # Ours (SIGALRM, `api.jobs.limits.soft_time_limit`) comes first; Celery's is the backup,
        # as its exception is one the extractors' per-page handlers would take for a bad page.
        task_soft_time_limit=settings.item_soft_time_limit + SOFT_LIMIT_BACKUP,
        task_time_limit=settings.item_time_limit,
        worker_max_memory_per_child=settings.worker_max_memory_mb * 1024,    # KiB
        broker_transport_options={"visibility_timeout":
                                  settings.item_time_limit + VISIBILITY_MARGIN},
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        task_default_queue=settings.broker_queue,
        task_serializer="json",
        accept_content=["json"],
        beat_schedule={"sweep": {"task": SWEEP, "schedule": settings.sweep_interval}},
    )
    app.kiemchung_settings = settings

    # A bad file never raises out of a task (its item fails with the reason); what does raise
    # is the database or broker being away: try again later, the item is still queued.
    @app.task(name=PROCESS_ITEM, bind=True, shared=False, autoretry_for=(Exception,),
              dont_autoretry_for=(KiemchungError,), retry_backoff=True, max_retries=5)
    def process_batch_item(task, item_id: int) -> None:
        run_item(task.app.kiemchung_settings, item_id)

    @app.task(name=SWEEP, bind=True, shared=False)
    def sweep_task(task) -> None:
        sweep(task.app.kiemchung_settings)

    return app


def run_item(settings: Settings, item_id: int) -> None:
    store = _store(settings)
    deadline = utcnow() + dt.timedelta(seconds=settings.item_time_limit)
    item = claim_item(store, item_id, worker_id(), deadline)
    if item is None:
        log.info("batch item %s: already done or held by a live worker", item_id)
        return
    try:
        ruleset = _ruleset(store.get_batch(item.batch_id).ruleset_id)
        trust = service.load_trust_roots(settings)
    except KiemchungError as error:
        store.fail_item(item.id, error.message)
    else:
        run_claimed(store, item, ruleset, trust, settings,
                    time_limits=(ItemTimeLimit, SoftTimeLimitExceeded))
    settle(settings, store)


def sweep(settings: Settings) -> list[int]:
    """Put back what lost workers held, send again the tasks of items whose message was lost,
    close finished batches. Returns the items whose tasks were sent again."""
    store = _store(settings)
    now = utcnow()
    again = set()
    for worker in abandoned_workers(store):
        again.update(release(store, worker, f"worker {worker} no longer exists"))
    stuck = set(store.stuck_items(now))
    store.requeue_stuck(now, max_attempts=MAX_ATTEMPTS)
    again.update(i.id for i in _items(store, stuck) if i.state == ItemState.QUEUED)
    if waiting_messages(settings) == 0:
        # Nothing waits in the queue, yet these were sent a while ago and nobody took them.
        sent_before = now - dt.timedelta(seconds=2 * settings.sweep_interval)
        again |= set(store.queued_items(sent_before=sent_before))
    resent = sorted(again)
    if resent:
        log.warning("sending the tasks of batch items %s again", resent)
        enqueue_items(settings, resent)
    settle(settings, store)
    return resent


def enqueue_items(settings: Settings, item_ids: list[int]) -> None:
    if not item_ids:
        return
    app = _producer(settings)
    sent = []
    try:
        for item_id in item_ids:
            app.send_task(PROCESS_ITEM, args=[item_id], queue=settings.broker_queue)
            sent.append(item_id)
    except Exception as error:  # noqa: BLE001 - kombu raises many kinds; one clear line
        raise BrokerUnavailable(f"cannot reach the broker at {settings.broker_url} ({error}); the "
                         "items stay queued and are sent when a worker's sweep finds the "
                         "broker again") from error
    finally:
        _store(settings).mark_sent(sent)


def waiting_messages(settings: Settings) -> int:
    """Messages waiting in the batch queue (not those a worker holds)."""
    from kombu.exceptions import ChannelError

    with _producer(settings).connection_for_write() as connection:
        try:
            return connection.default_channel.queue_declare(
                queue=settings.broker_queue, passive=True).message_count
        except ChannelError:                 # Redis keeps no empty list: no queue, no message
            return 0


def start_worker(settings: Settings, *, concurrency: int = 2, beat: bool = True,
                 loglevel: str = "INFO") -> None:
    """Run a Celery worker in this process until stopped (`kiemchung worker`)."""
    global _child_memory_mb, _worker_pid
    _child_memory_mb = settings.worker_max_memory_mb
    _worker_pid = os.getpid()
    app = make_celery(settings)
    # Its own node name (Celery's default, celery@host, is the same for every worker of a
    # machine, which mixes up their control replies and warns of duplicates).
    argv = ["worker", f"--concurrency={concurrency}", f"--loglevel={loglevel}",
            f"--queues={settings.broker_queue}", f"--hostname={node_name()}"]
    if beat:
        # The schedule in memory, no file: the only entry is the sweep, which runs at start
        # anyway, and workers sharing a data dir would otherwise share one schedule file.
        argv += ["--beat", "--scheduler=celery.beat:Scheduler"]
    app.worker_main(argv)


def node_name(pid: int | None = None) -> str:
    return f"kiemchung-{pid or os.getpid()}@{socket.gethostname()}"


# -- per process -----------------------------------------------------------------------------

_child_memory_mb = 0
_worker_pid: int | None = None        # the `kiemchung worker` process, parent of its beat
_stores: dict[tuple[str | None, str], Store] = {}
_producers: dict[tuple[str | None, str], Celery] = {}
_opening = threading.Lock()


@worker_process_init.connect
def _start_child(**_kwargs) -> None:
    global _opening
    limit_memory(_child_memory_mb)
    # A child forked after the parent swept holds copies of its connections: never use them.
    for store in _stores.values():
        store.engine.dispose(close=False)
    _stores.clear()
    _producers.clear()
    _opening = threading.Lock()         # the parent's sweep may have held it at the fork


@beat_embedded_init.connect
def _beat_dies_with_its_worker(**_kwargs) -> None:
    """The beat is a child process of `kiemchung worker`: when the worker is SIGKILLed, the
    kernel kills the beat too (Linux PR_SET_PDEATHSIG), else it would go on sweeping alone."""
    die_with_parent(_worker_pid)


def die_with_parent(parent: int | None) -> None:
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(pr_set_pdeathsig, signal.SIGKILL, 0, 0, 0) != 0:
        log.warning("cannot tie the beat to its worker (prctl: errno %s)", ctypes.get_errno())
    if parent is not None and os.getppid() != parent:
        os._exit(0)                     # the worker died before the call: follow it now


@worker_ready.connect
def _sweep_at_start(sender, **_kwargs) -> None:
    # A worker restarted after a crash takes back what the crashed one held, at once.
    settings = getattr(sender.app, "kiemchung_settings", None)
    if settings is None:
        return
    try:
        sweep(settings)
    except Exception:  # noqa: BLE001 - the beat sweeps again; starting must not fail on it
        log.exception("the sweep at start failed")


def _store(settings: Settings) -> Store:
    # One engine per worker process, made in the child after the fork, then reused. Opening
    # migrates, and Alembic's context is global: one thread at a time (threads pool).
    key = (settings.database_url, str(settings.data_dir))
    with _opening:
        if key not in _stores:
            _stores[key] = open_store(settings)
        return _stores[key]


@functools.cache
def _ruleset(ruleset_id: str):
    return load_ruleset(ruleset_id)


def _producer(settings: Settings) -> Celery:
    key = (settings.broker_url, settings.broker_queue)
    if key not in _producers:
        _producers[key] = make_celery(settings)
    return _producers[key]


def _items(store: Store, ids: set[int]) -> list[BatchItemRow]:
    if not ids:
        return []
    return store.items_by_id(ids)
