"""The embedded default (no broker): `run_local`, a small pool of worker processes on this
machine claiming from the job table directly, supervised from the calling process: it sweeps
lost workers, kills a worker past its item's hard limit, and reports progress."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import multiprocessing
import os
import signal
import time
from collections.abc import Callable
from multiprocessing.connection import wait as wait_for
from multiprocessing.process import BaseProcess

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from kiemchung.api import service
from kiemchung.api.jobs.limits import limit_memory
from kiemchung.api.jobs.queue import (
    MAX_ATTEMPTS,
    BatchError,
    pid_of,
    release,
    run_claimed,
    settle,
    worker_id,
)
from kiemchung.api.runtime import fewer_collections
from kiemchung.api.store import BatchProgress, Store, open_store
from kiemchung.api.store.tables import ItemState, utcnow
from kiemchung.extractors.signatures import TrustStore
from kiemchung.verifier.ruleset import RuleSet, load_ruleset
from kiemchung.verifier.settings import Settings

SUPERVISOR_POLL = 0.5          # seconds between sweeps and progress reports of `run_local`


def run_local(settings: Settings, batch_id: str, *, workers: int = 2,
              trust: TrustStore | None = None, ruleset: RuleSet | None = None,
              progress: Callable[[BatchProgress], None] | None = None) -> BatchProgress:
    """Run the batch to its end on this machine with `workers` processes; `progress` is called
    with the counts after every sweep, and as soon as a worker claims an item, with that item
    as `current`. Returns the final progress."""
    if workers < 1:
        raise BatchError("--workers must be at least 1")
    with open_store(settings) as store:
        batch = store.get_batch(batch_id)
        ruleset = ruleset or load_ruleset(batch.ruleset_id)
        trust = service.load_trust_roots(settings) if trust is None else trust
        pool = _LocalPool(settings, batch_id, ruleset, trust, workers)
        finished = False

        def claimed(item_id: int) -> None:
            if progress is not None:
                state = store.batch_progress(batch_id)
                progress(dataclasses.replace(state, current=store.get_item(item_id)))

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
                pool.wait(SUPERVISOR_POLL, claimed)
        finally:
            pool.stop(store, clean=finished)
            pool.close()
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
        self.processes: dict[int, BaseProcess] = {}
        # Each worker sends the id of every item it claims (see `_local_worker`), so that the
        # supervisor reports it the moment it starts, not up to a poll later, when a quick
        # item may be over already: whoever watches the progress sees every item running.
        self.claims, self.claim_sender = self.context.Pipe(duplex=False)

    def fill(self, queued: int) -> None:
        alive = sum(p.is_alive() for p in self.processes.values())
        # Fewer documents than workers: each worker OCRs its document on the idle cores too.
        ocr_threads = max(1, self.size // max(1, min(self.size, queued)))
        for _ in range(min(self.size, queued) - alive):
            process = self.context.Process(
                target=_local_worker, name="kiemchung-worker", daemon=True,
                args=(self.settings, self.batch_id, self.ruleset, self.trust_der,
                      self.claim_sender, ocr_threads))
            process.start()
            assert process.pid is not None          # set by start()
            self.processes[process.pid] = process

    def wait(self, seconds: float, claimed: Callable[[int], None]) -> None:
        """Sleep until the next sweep, or until a worker ends; hand each item a worker claims
        meanwhile to `claimed` at once (sweeps keep their pace: a claim is no reason for one)."""
        sentinels = [p.sentinel for p in self.processes.values()]
        end = time.monotonic() + seconds
        while (left := end - time.monotonic()) > 0:
            ready = wait_for([self.claims, *sentinels], timeout=left)
            while self.claims.poll():
                claimed(self.claims.recv())
            if not ready or self.claims not in ready:      # timed out, or a worker ended
                return

    def close(self) -> None:
        self.claims.close()
        self.claim_sender.close()

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
        for item in store.running_items(batch_id=self.batch_id):
            holder = pid_of(item.worker_id)
            stuck = item.deadline is not None and item.deadline < now
            if holder is not None and holder in self.processes and stuck:
                # Past the hard limit: stuck where the soft limit's signal cannot reach.
                process = self.processes.pop(holder)
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
                  trust_der: tuple[list[bytes], list[bytes]],
                  claims: multiprocessing.connection.Connection, ocr_threads: int = 1) -> None:
    """Entry point of a local worker process. It tells the supervisor each item it claims over
    `claims` (a few bytes: one write, whole, even from several workers at once). Its scans are
    OCR'd `ocr_threads` regions at a time."""
    from kiemchung.extractors.ocr import parallel_ocr

    os.environ.setdefault("OMP_THREAD_LIMIT", "1")     # Tesseract: one thread per process
    limit_memory(settings.worker_max_memory_mb)
    fewer_collections()
    trust = _trust_from_der(trust_der)
    me = worker_id()
    with open_store(settings) as store, parallel_ocr(ocr_threads):
        while True:
            deadline = utcnow() + dt.timedelta(seconds=settings.item_time_limit)
            item = store.claim_next_item(me, deadline, batch_id=batch_id)
            if item is None:
                return
            claims.send(item.id)
            run_claimed(store, item, ruleset, trust, settings)



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
