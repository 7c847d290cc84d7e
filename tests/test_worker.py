"""Batches through Celery over the real Redis at 127.0.0.1:6379, with a worker started in the
test; skipped only when nothing listens there. Each test has its own queue, so stale messages
of other runs never reach it. Also: a redelivered task takes over the item of a dead worker;
and fifty-odd documents on PostgreSQL through a real `kiemchung worker` that is SIGKILLed
mid-batch and restarted, with the same verdicts as the embedded default."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import random
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from kiemchung.api.jobs.batches import submit_batch
from kiemchung.api.jobs.pool import run_local
from kiemchung.api.jobs.queue import claim_item, worker_id
from kiemchung.api.jobs.worker import make_celery, sweep
from kiemchung.api.store import NewBatchItem, open_store
from kiemchung.api.store.tables import BatchStatus, ItemState, VerdictRow, utcnow
from kiemchung.models.fields import DocType
from kiemchung.verifier.settings import Settings
from samples.content import _ubnd, make_spec
from samples.render import render_pdf
from samples.sign import sign_as_printed
from tests.helpers import (
    ON_CI,
    PHONG_DIEN,
    PHU_VANG,
    XA,
    YEAR,
    hand_over,
    hold_document,
    plan,
    postgres_schema,
    scanned_notice,
)

REDIS = ("127.0.0.1", 6379)
KILL_TEST_DB = 14       # a database of its own: the test empties it of a killed worker's messages
KILL_TEST_BROKER = f"redis://127.0.0.1:6379/{KILL_TEST_DB}"
WAIT = 120          # seconds at most for a batch: a bound against hanging, not a timing claim


def redis_listening() -> bool:
    with socket.socket() as probe:
        probe.settimeout(1)
        return probe.connect_ex(REDIS) == 0


needs_redis = pytest.mark.skipif(not (ON_CI or redis_listening()),
                                 reason="no Redis on 127.0.0.1:6379")


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


def item_once(store, batch_id, condition):
    """The batch's first item once `condition` holds for it (read from the job table, the
    state the workers write), within WAIT."""
    deadline = time.monotonic() + WAIT
    while not condition(item := store.batch_items(batch_id)[0]):
        assert time.monotonic() < deadline, f"item still {item.state} ({item.worker_id})"
        time.sleep(0.05)
    return item


def submit(store, plans) -> str:
    items = []
    for unit, data in plans.items():
        sha = store.put_document(data, "kế hoạch.pdf", unit=unit).sha256
        items += [NewBatchItem(unit, "huyen", "2.1", (sha,)),
                  NewBatchItem(unit, "huyen", "1.1", ())]
    return submit_batch(store, created_by=None, ruleset_id="hue-2024", year=YEAR, items=items)


@needs_redis
def test_a_batch_runs_through_celery_and_redis(settings, store, plans, celery_worker):
    from kiemchung.api.jobs.batches import dispatch

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
    from kiemchung.api.jobs.worker import enqueue_items

    enqueue_items(settings, [i.id for i in store.batch_items(batch_id)[1:]])
    assert sweep(settings) == [first.id]
    wait_until_finished(store, batch_id)
    again = store.batch_items(batch_id)[0]
    assert again.state == ItemState.DONE and again.attempts == 2


@needs_redis
def test_items_the_broker_never_got_are_sent_by_the_sweep(settings, store, plans, celery_worker):
    from kiemchung.api.jobs.batches import dispatch
    from kiemchung.api.jobs.queue import BatchError

    batch_id = submit(store, plans)
    away = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    with pytest.raises(BatchError, match="cannot reach the broker at redis://127.0.0.1:1/0"):
        dispatch(away, batch_id)
    assert all(i.state == ItemState.QUEUED and i.sent_at is None
               for i in store.batch_items(batch_id))
    # The broker is back: the sweep finds the queue empty and these items never sent.
    assert sweep(settings) == sorted(i.id for i in store.batch_items(batch_id))
    final = wait_until_finished(store, batch_id)
    assert final.counts[ItemState.DONE] == 4
    assert all(i.attempts == 1 for i in store.batch_items(batch_id))


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
    """A real `kiemchung worker` (prefork): its child is SIGKILLed while it reads a scan; the
    message comes back (acks_late, reject_on_worker_lost), a new child takes the item over.
    The scan's stored file is a FIFO the child waits on until the test hands it the bytes, so
    the child is certainly mid-item when killed, however quickly it would read the scan."""
    from kiemchung.api.jobs.batches import dispatch

    env = {**os.environ, "KIEMCHUNG_BROKER_URL": settings.broker_url or "",
           "KIEMCHUNG_BROKER_QUEUE": settings.broker_queue,
           "KIEMCHUNG_DATA_DIR": str(settings.data_dir),
           "KIEMCHUNG_TRUST_ROOTS": str(settings.trust_roots[0])}
    kiemchung = os.path.join(os.path.dirname(sys.executable), "kiemchung")
    worker = subprocess.Popen([kiemchung, "worker", "--concurrency", "2", "--no-beat",
                               "--loglevel", "WARNING"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        scan_sha = store.put_document(scan, "tb-scan.pdf", unit=XA).sha256
        held = hold_document(store, scan_sha)
        batch_id = submit_batch(store, created_by=None, ruleset_id="hue-2024", year=YEAR,
                                items=[NewBatchItem(XA, "xa", "1.2", (scan_sha,))])
        dispatch(settings, batch_id)

        def claimed(item) -> bool:
            assert item.state in (ItemState.QUEUED, ItemState.RUNNING), item.error
            return item.state == ItemState.RUNNING

        item = item_once(store, batch_id, claimed)      # held by a child waiting on the scan
        child = int(item.worker_id.rpartition(":")[2])
        os.kill(child, signal.SIGKILL)
        # The message comes back: another child claims the item and waits on the scan in
        # turn; now it gets the bytes.
        item_once(store, batch_id, lambda item: claimed(item) and item.attempts == 2)
        hand_over(held, scan)
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


# -- fifty-odd documents, a worker killed mid-batch, the embedded default ----------------------

COMMUNES = ("Phú An", "Phú Hải", "Phú Diên", "Phú Xuân", "Phú Lương", "Phú Hồ", "Phú Đa",
            "Vinh Thanh", "Vinh An", "Vinh Hà", "Vinh Xuân", "Vinh Hiền", "Vinh Hưng",
            "Vinh Mỹ", "Vinh Giang", "Lộc An", "Lộc Sơn", "Lộc Bổn", "Lộc Điền", "Lộc Hòa",
            "Lộc Thủy", "Lộc Tiến", "Lộc Trì", "Lộc Bình", "Lộc Vĩnh", "Hương Phong",
            "Hương Vinh", "Hương Toàn", "Hương Xuân", "Hương Thọ", "Hương Bình", "Hương Lộc",
            "Hương Phú", "Thủy Thanh", "Thủy Vân", "Thủy Bằng", "Thủy Phù", "Thủy Tân",
            "Quảng Phú", "Quảng An", "Quảng Thọ", "Quảng Thái", "Quảng Lợi", "Quảng Vinh",
            "Quảng Ngạn", "Quảng Công", "Phong An", "Phong Thu", "Phong Sơn", "Phong Xuân",
            "Phong Mỹ", "Phong Chương")


def commune_plan(index: int, pki) -> tuple[str, bytes, tuple[str, int]]:
    """The plan of one commune and the verdict it must get: issued in January (10 points),
    in March (5), or in January but never signed (nothing)."""
    agency = _ubnd("XÃ", COMMUNES[index], None, "xa", "xã")
    issued = dt.date(YEAR, 3 if index % 3 == 1 else 1, 5 + index % 20)
    spec = make_spec(random.Random(index), DocType.KE_HOACH, agency=agency, issue_date=issued,
                     subject=f"Chuyển đổi số xã {COMMUNES[index]} năm {YEAR}")
    pdf = render_pdf(spec)
    if index % 17 == 5:
        return agency.unit_name, pdf, ("fail", 0)
    expected = ("pass", 10) if issued.month == 1 else ("partial", 5)
    return agency.unit_name, sign_as_printed(pdf, spec, pki), expected


@pytest.fixture(scope="module")
def commune_plans(pki):
    return [commune_plan(index, pki) for index in range(len(COMMUNES))]


def submit_plans(store, commune_plans) -> str:
    items = [NewBatchItem(unit, "xa", "2.1",
                          (store.put_document(data, "kế hoạch CĐS.pdf", unit=unit).sha256,))
             for unit, data, _expected in commune_plans]
    return submit_batch(store, created_by=None, ruleset_id="hue-2024", year=YEAR, items=items)


def start_kiemchung_worker(settings: Settings) -> subprocess.Popen:
    env = {**os.environ, "KIEMCHUNG_BROKER_URL": settings.broker_url or "",
           "KIEMCHUNG_BROKER_QUEUE": settings.broker_queue,
           "KIEMCHUNG_DATA_DIR": str(settings.data_dir),
           "KIEMCHUNG_DATABASE_URL": settings.database_url or "",
           "KIEMCHUNG_SWEEP_INTERVAL": str(settings.sweep_interval),
           "KIEMCHUNG_TRUST_ROOTS": str(settings.trust_roots[0])}
    kiemchung = os.path.join(os.path.dirname(sys.executable), "kiemchung")
    return subprocess.Popen([kiemchung, "worker", "--concurrency", "2", "--loglevel", "WARNING"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)         # its own group: killed as a whole


def processes() -> Iterator[tuple[int, list[str]]]:
    """(pid, the fields of /proc/<pid>/stat after the command: state, ppid, pgrp…)."""
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError), open(f"/proc/{entry}/stat") as handle:
                yield int(entry), handle.read().rpartition(")")[2].split()


def group_members(pgid: int) -> dict[int, str]:
    """Process id → state (R, S, T, Z…) of the processes of a process group."""
    return {pid: fields[0] for pid, fields in processes() if int(fields[2]) == pgid}


def freeze_group(worker: subprocess.Popen) -> None:
    """SIGSTOP the worker and its children; return once every one of them has stopped, so
    that what the job table says they hold cannot change until they are killed or go on."""
    os.killpg(worker.pid, signal.SIGSTOP)
    deadline = time.monotonic() + WAIT
    while running := {pid for pid, state in group_members(worker.pid).items()
                      if state not in "TtZX"}:
        assert time.monotonic() < deadline, f"not stopped: {running}"
        time.sleep(0.01)


def stop_group(worker: subprocess.Popen, how: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(worker.pid, how)
    try:
        worker.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()


@needs_redis
def test_fifty_documents_survive_a_killed_worker_and_match_the_embedded_default(
        tmp_path, pki, commune_plans, postgres_url):
    import redis

    expected = {unit: verdict for unit, _data, verdict in commune_plans}
    pki.write_trust_dir(tmp_path / "trust")
    with postgres_schema(postgres_url) as database_url:
        settings = Settings(_env_file=None, data_dir=tmp_path / "data", database_url=database_url,
                            trust_roots=[tmp_path / "trust"], broker_url=KILL_TEST_BROKER,
                            broker_queue=f"kiemchung-test-{uuid.uuid4().hex[:12]}",
                            sweep_interval=2)
        worker = start_kiemchung_worker(settings)
        try:
            with open_store(settings) as store:
                assert store.engine.dialect.name == "postgresql"
                batch_id = submit_plans(store, commune_plans)
                from kiemchung.api.jobs.batches import dispatch

                dispatch(settings, batch_id)
                deadline = time.monotonic() + WAIT
                while True:
                    progress = store.batch_progress(batch_id)
                    assert time.monotonic() < deadline, f"no progress: {progress.counts}"
                    if (progress.counts[ItemState.DONE] >= 10
                            and progress.counts[ItemState.RUNNING] >= 1):
                        # Frozen, the children cannot finish what they hold: if the table
                        # shows an item running now, it is running when they are killed.
                        freeze_group(worker)
                        if any(i.state == ItemState.RUNNING
                               for i in store.batch_items(batch_id)):
                            break
                        os.killpg(worker.pid, signal.SIGCONT)   # between items: go on
                    time.sleep(0.05)
                stop_group(worker, signal.SIGKILL)             # the worker and its children
                held = [i for i in store.batch_items(batch_id) if i.state == ItemState.RUNNING]
                assert held and not store.batch_progress(batch_id).finished

                worker = start_kiemchung_worker(settings)
                final = wait_until_finished(store, batch_id)
                items = store.batch_items(batch_id)
                assert final.counts[ItemState.DONE] == len(commune_plans)
                # Exactly once: one verdict per item, although some ran twice.
                with store.session() as session:
                    assert session.scalar(select(func.count()).select_from(VerdictRow)) == \
                        len(items)
                assert len({i.verdict_id for i in items}) == len(items)
                assert all(i.attempts == 2 for i in items if i.id in {h.id for h in held})
                celery_verdicts = {i.unit: store.get_verdict(i.verdict_id).verdict
                                   for i in items}
        finally:
            stop_group(worker, signal.SIGTERM)
            with redis.Redis(*REDIS, db=KILL_TEST_DB) as client:
                client.flushdb()                # the killed worker's unacknowledged messages

    assert {unit: (v["status"], v["points"]) for unit, v in celery_verdicts.items()} == expected
    unsigned = [v for unit, v in celery_verdicts.items() if expected[unit][0] == "fail"]
    assert unsigned and all(any(c["name"] == "digitally_signed" and c["status"] == "fail"
                                for c in v["checks"]) for v in unsigned)

    # The same batch on the embedded default: SQLite, the local process pool, no broker.
    embedded = Settings(_env_file=None, data_dir=tmp_path / "embedded",
                        trust_roots=[tmp_path / "trust"], broker_url=None)
    with open_store(embedded) as store:
        batch_id = submit_plans(store, commune_plans)
        run_local(embedded, batch_id, workers=2)
        local_verdicts = {i.unit: store.get_verdict(i.verdict_id).verdict
                          for i in store.batch_items(batch_id)}
    assert local_verdicts == celery_verdicts


# -- the beat dies with its worker --------------------------------------------------------------

def children_of(pid: int) -> set[int]:
    """Live (not zombie) processes whose parent is `pid`."""
    return {child for child, fields in processes() if fields[0] != "Z" and int(fields[1]) == pid}


def alive(pid: int) -> bool:
    with contextlib.suppress(OSError):
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().rpartition(")")[2].split()[0] != "Z"
    return False


@needs_redis
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_a_sigkilled_worker_leaves_no_beat_and_each_worker_has_its_own_name(settings):
    worker = start_kiemchung_worker(settings)
    try:
        app = make_celery(settings)
        deadline = time.monotonic() + WAIT
        # Ready when it answers by its own name, with its pool (2) and its beat started.
        # Another test's worker may answer the same broker: names are compared, not counted.
        own = f"kiemchung-{worker.pid}@{socket.gethostname()}"

        def names() -> list[str]:
            return [name for reply in app.control.ping(timeout=0.5) for name in reply]

        while own not in (answered := names()) or len(children_of(worker.pid)) < 3:
            assert time.monotonic() < deadline and worker.poll() is None, "worker not ready"
        assert len(answered) == len(set(answered)), f"two workers share a name: {answered}"
        children = children_of(worker.pid)
        os.kill(worker.pid, signal.SIGKILL)             # the worker alone, not its group
        worker.wait()
        deadline = time.monotonic() + 10
        while survivors := {pid for pid in children if alive(pid)}:
            assert time.monotonic() < deadline, f"children outlived their worker: {survivors}"
            time.sleep(0.1)
        # No schedule file: nothing two workers of one data dir could share.
        assert not list(settings.data_dir.glob("celerybeat-schedule*"))
    finally:
        stop_group(worker, signal.SIGKILL)
        import redis

        with redis.Redis(*REDIS, db=15) as client:
            client.delete(settings.broker_queue, f"_kombu.binding.{settings.broker_queue}")
