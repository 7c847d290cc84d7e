"""Batches through Celery over the real Redis at 127.0.0.1:6379, with a worker started in the
test; skipped only when nothing listens there. Each test has its own queue, so stale messages
of other runs never reach it. Also: a redelivered task takes over the item of a dead worker."""

from __future__ import annotations

import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import time
import uuid

import pytest

from api.jobs import claim_item, submit_batch, worker_id
from api.store import NewBatchItem, open_store
from api.worker import make_celery, sweep
from models.db import BatchStatus, ItemState, utcnow
from tests.test_batch import PHONG_DIEN, PHU_VANG, XA, YEAR, plan, scanned_notice
from verifier.settings import Settings

REDIS = ("127.0.0.1", 6379)
WAIT = 120          # seconds at most for a batch: a bound against hanging, not a timing claim


def redis_listening() -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(REDIS) == 0


needs_redis = pytest.mark.skipif(not redis_listening(), reason="no Redis on 127.0.0.1:6379")


@pytest.fixture(scope="module")
def pki():
    from samples.pki import DemoPKI

    return DemoPKI.create("worker-tests")


@pytest.fixture(scope="module")
def plans(pki):
    return {PHU_VANG.unit_name: plan(PHU_VANG, dt.date(2024, 1, 15), pki),
            PHONG_DIEN.unit_name: plan(PHONG_DIEN, dt.date(2024, 3, 20), pki)}


@pytest.fixture(scope="module")
def scan() -> bytes:
    return scanned_notice()


@pytest.fixture
def settings(tmp_path, pki):
    pki.write_trust_dir(tmp_path / "trust")
    return Settings(data_dir=tmp_path / "data", trust_roots=[tmp_path / "trust"],
                    broker_url="redis://127.0.0.1:6379/15",
                    broker_queue=f"kiemchung-test-{uuid.uuid4().hex[:12]}")


@pytest.fixture
def store(settings):
    with open_store(settings) as opened:
        yield opened


@pytest.fixture
def celery_worker(settings):
    from celery.contrib.testing.worker import start_worker

    app = make_celery(settings)
    with start_worker(app, pool="threads", concurrency=2, perform_ping_check=False,
                      loglevel="WARNING", shutdown_timeout=30):
        yield app
    import redis

    with redis.Redis(*REDIS, db=15) as client:        # the queue's keys, not to pile up
        client.delete(settings.broker_queue, f"_kombu.binding.{settings.broker_queue}")


def wait_until_finished(store, batch_id):
    deadline = time.monotonic() + WAIT
    while not (progress := store.batch_progress(batch_id)).finished:
        assert time.monotonic() < deadline, f"batch not finished: {progress.counts}"
        time.sleep(0.2)
    return progress


def submit(store, plans) -> str:
    items = []
    for unit, data in plans.items():
        sha = store.put_document(data, "kế hoạch.pdf", unit=unit).sha256
        items += [NewBatchItem(unit, "huyen", "2.1", (sha,)),
                  NewBatchItem(unit, "huyen", "1.1", ())]
    return submit_batch(store, created_by=None, ruleset_id="hue-2024", year=YEAR, items=items)


@needs_redis
def test_a_batch_runs_through_celery_and_redis(settings, store, plans, celery_worker):
    from api.jobs import dispatch

    batch_id = submit(store, plans)
    dispatch(settings, batch_id)
    final = wait_until_finished(store, batch_id)
    assert final.counts[ItemState.DONE] == 4 and final.counts[ItemState.FAILED] == 0
    verdicts = {(i.unit, i.criterion): store.get_verdict(i.verdict_id)
                for i in store.batch_items(batch_id)}
    assert (verdicts[(PHU_VANG.unit_name, "2.1")].status,
            verdicts[(PHU_VANG.unit_name, "2.1")].points) == ("pass", 10)
    assert (verdicts[(PHONG_DIEN.unit_name, "2.1")].status,
            verdicts[(PHONG_DIEN.unit_name, "2.1")].points) == ("partial", 5)
    deadline = time.monotonic() + WAIT
    while store.get_batch(batch_id).status != BatchStatus.DONE:   # closed by the last task
        assert time.monotonic() < deadline
        time.sleep(0.2)


@needs_redis
def test_the_sweep_sends_a_lost_item_again(settings, store, plans, celery_worker):
    batch_id = submit(store, plans)
    # A worker on another machine claimed the first item and vanished: no message is left.
    first = store.batch_items(batch_id)[0]
    lost = store.claim_next_item("elsewhere:4242", utcnow() - dt.timedelta(seconds=1),
                                 batch_id=batch_id)
    assert lost.id == first.id
    from api.worker import enqueue_items

    enqueue_items(settings, [i.id for i in store.batch_items(batch_id)[1:]])
    assert sweep(settings) == [first.id]
    wait_until_finished(store, batch_id)
    again = store.batch_items(batch_id)[0]
    assert again.state == ItemState.DONE and again.attempts == 2


def test_a_redelivered_task_takes_over_the_item_of_a_dead_worker(tmp_path, plans):
    with open_store(Settings(data_dir=tmp_path / "data")) as store:
        batch_id = submit(store, plans)
        gone = subprocess.Popen(["true"])
        gone.wait()                                          # a process id nobody has now
        later = utcnow() + dt.timedelta(minutes=5)
        first = store.claim_next_item(worker_id(gone.pid), later, batch_id=batch_id)
        # Held by a live worker (this process): not taken.
        second = store.claim_next_item(worker_id(), later, batch_id=batch_id)
        assert claim_item(store, second.id, "me:1", later) is None
        taken = claim_item(store, first.id, "me:1", later)
        assert taken is not None and taken.worker_id == "me:1" and taken.attempts == 2
        assert claim_item(store, first.id, "me:2", later) is None   # now held by me:1


@needs_redis
def test_a_worker_child_killed_mid_item_is_replaced_and_the_item_finished_once(
        settings, store, plans, scan):
    """A real `kiemchung worker` (prefork): its child is SIGKILLed while it OCRs a scan; the
    message comes back (acks_late, reject_on_worker_lost), a new child takes the item over."""
    from api.jobs import dispatch

    env = {**os.environ, "KIEMCHUNG_BROKER_URL": settings.broker_url,
           "KIEMCHUNG_BROKER_QUEUE": settings.broker_queue,
           "KIEMCHUNG_DATA_DIR": str(settings.data_dir),
           "KIEMCHUNG_TRUST_ROOTS": str(settings.trust_roots[0])}
    kiemchung = os.path.join(os.path.dirname(sys.executable), "kiemchung")
    worker = subprocess.Popen([kiemchung, "worker", "--concurrency", "2", "--no-beat",
                               "--loglevel", "WARNING"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        scan_sha = store.put_document(scan, "tb-scan.pdf", unit=XA).sha256
        batch_id = submit_batch(store, created_by=None, ruleset_id="hue-2024", year=YEAR,
                                items=[NewBatchItem(XA, "xa", "1.2", (scan_sha,))])
        dispatch(settings, batch_id)
        deadline = time.monotonic() + WAIT
        while (item := store.batch_items(batch_id)[0]).state != ItemState.RUNNING:
            assert time.monotonic() < deadline and item.state == ItemState.QUEUED
            time.sleep(0.1)
        child = int(item.worker_id.rpartition(":")[2])
        os.kill(child, signal.SIGKILL)
        wait_until_finished(store, batch_id)
        item = store.batch_items(batch_id)[0]
        assert item.state == ItemState.DONE and item.attempts == 2
        assert not item.worker_id.endswith(f":{child}")
        assert store.get_verdict(item.verdict_id).unit == XA
    finally:
        worker.send_signal(signal.SIGTERM)
        try:
            worker.wait(timeout=30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()
        import redis

        with redis.Redis(*REDIS, db=15) as client:
            client.delete(settings.broker_queue, f"_kombu.binding.{settings.broker_queue}")
