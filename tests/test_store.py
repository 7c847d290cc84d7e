"""The store on real databases: every test runs on SQLite (a temporary data dir) and on this
machine's PostgreSQL (a fresh schema per test, dropped afterwards): the `settings` and `store`
fixtures of conftest.py."""

from __future__ import annotations

import datetime as dt
import os
import threading

import pytest
from alembic import command
from sqlalchemy import MetaData, Table, text
from sqlalchemy.exc import DBAPIError

from kiemchung.api.service import flagged_items
from kiemchung.api.store import InvalidOverride, NewBatchItem, NotFound, StoreError, open_store
from kiemchung.api.store.migrations import alembic_config
from kiemchung.api.store.tables import ItemState
from kiemchung.models.verdicts import Verdict
from tests.helpers import UNIT

T0 = dt.datetime(2024, 10, 1, 8, 0, tzinfo=dt.UTC)


def verdict(points: float = 10, max_points: float = 10, criterion: str = "2.1") -> Verdict:
    return Verdict(criterion=criterion, level="huyen", unit=UNIT, year=2024, points=points,
                   max_points=max_points, ruleset_id="hue-2024", ruleset_version="r1",
                   summary="the plan is signed and dated in January")


def items(count: int) -> list[NewBatchItem]:
    return [NewBatchItem(UNIT, "huyen", f"2.{n}", (f"{n:064x}",)) for n in range(1, count + 1)]


# -- schema -----------------------------------------------------------------------------------

def test_migrations_match_the_models_and_rerun_harmlessly(store, settings):
    with store.engine.connect() as connection:
        command.check(alembic_config(connection=connection))    # raises on any difference
    open_store(settings).close()                                 # already at head: no-op


def test_the_flag_column_is_filled_for_verdicts_written_before_it(store):
    """Revision 0002 adds `verdicts.flagged`; verdicts stored before it get it computed."""
    def row(status: str, checks: list[dict]) -> dict:
        return {"unit": UNIT, "level": "huyen", "year": 2024, "criterion": "2.1",
                "ruleset_id": "hue-2024", "ruleset_version": "v", "status": status,
                "points": 5, "max_points": 10, "evidence": [],
                "verdict": {"checks": checks}, "created_at": dt.datetime.now(dt.UTC)}

    with store.engine.begin() as connection:
        command.downgrade(alembic_config(connection=connection), "0001")
        verdicts = Table("verdicts", MetaData(), autoload_with=connection)
        connection.execute(verdicts.insert(), [
            row("partial", [{"name": "issued_in_month", "status": "fail"}]),
            row("needs_review", []),
            row("pass", [{"name": "digitally_signed", "status": "needs_review"}])])
        command.upgrade(alembic_config(connection=connection), "head")
        flagged = connection.execute(text("SELECT flagged FROM verdicts ORDER BY id")).scalars()
        assert [bool(f) for f in flagged] == [False, True, True]
    assert [item["verdict_id"] for item in flagged_items(store)] == [2, 3]


# -- documents ---------------------------------------------------------------------------------

def test_same_bytes_are_stored_once_with_every_name(store):
    data = b"%PDF-1.7\n" + b"ke hoach chuyen doi so" * 100
    first = store.put_document(data, "KH 15.pdf", unit=UNIT)
    second = store.put_document(data, "ke-hoach-2024.pdf")
    again = store.put_document(data, "KH 15.pdf", unit=UNIT)
    assert first.sha256 == second.sha256 == again.sha256
    assert again.names == ["KH 15.pdf", "ke-hoach-2024.pdf"]
    assert again.size == len(data) and again.media_kind == "pdf"
    assert store.document_bytes(first.sha256) == data
    assert store.document_units(first.sha256) == {UNIT}
    with store.engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM documents")) == 1
        assert connection.scalar(text("SELECT count(*) FROM document_names")) == 2


def test_blob_is_written_once_read_only_and_never_rewritten(store):
    data = b"\x89PNG\r\n\x1a\n" + os.urandom(4096)
    row = store.put_document(data, "scan.png")
    path = store.data_dir / row.stored_path
    assert path == store.data_dir / "blobs" / row.sha256[:2] / row.sha256[2:4] / row.sha256
    before = path.stat()
    assert before.st_mode & 0o222 == 0
    store.put_document(data, "scan again.png")
    after = path.stat()
    assert (after.st_ino, after.st_mtime_ns, after.st_size) == \
        (before.st_ino, before.st_mtime_ns, before.st_size)
    assert sorted(p.name for p in path.parent.iterdir()) == [row.sha256]   # no temporary left


def test_a_blob_changed_on_disk_is_refused(store):
    row = store.put_document(b"%PDF-1.4 original", "a.pdf")
    path = store.data_dir / row.stored_path
    path.chmod(0o644)
    path.write_bytes(b"%PDF-1.4 tampered")
    with pytest.raises(StoreError, match="no longer matches"):
        store.document_bytes(row.sha256)
    with pytest.raises(NotFound):
        store.document_bytes("0" * 64)


def test_inspection_is_kept_per_extractor_version_and_first_one_wins(store):
    sha = store.put_document(b"%PDF-1.4 plan", "plan.pdf").sha256
    assert store.get_inspection(sha, "1") is None
    stored = store.save_inspection(sha, "1", {"sha256": sha, "doc_type": "ke_hoach"})
    assert stored == {"sha256": sha, "doc_type": "ke_hoach"}
    assert store.get_inspection(sha, "1") == stored                      # the cache hit
    assert store.save_inspection(sha, "1", {"sha256": sha, "doc_type": None}) == stored
    assert store.get_inspection(sha, "2") is None                        # new extractor: re-read


# -- batches -----------------------------------------------------------------------------------

def test_two_workers_never_claim_the_same_item(store):
    batch = store.create_batch(None, "hue-2024", 2024, items=items(40))
    start = threading.Barrier(4)
    claimed: dict[str, list[int]] = {}

    def work(worker: str) -> None:
        mine = claimed.setdefault(worker, [])
        start.wait()
        while (item := store.claim_next_item(worker, T0 + dt.timedelta(hours=1))) is not None:
            mine.append(item.id)

    threads = [threading.Thread(target=work, args=(f"w{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [item_id for ids in claimed.values() for item_id in ids]
    assert len(every) == len(set(every)) == 40
    assert sorted(every) == [item.id for item in store.batch_items(batch.id)]
    progress = store.batch_progress(batch.id)
    assert progress.status == "running" and progress.counts["running"] == 40


def test_sweeper_requeues_an_expired_item_and_leaves_a_fresh_one(store):
    store.create_batch(None, "hue-2024", 2024, items=items(2))
    expired = store.claim_next_item("lost worker", T0 + dt.timedelta(minutes=5), now=T0)
    fresh = store.claim_next_item("busy worker", T0 + dt.timedelta(hours=2), now=T0)
    assert store.requeue_stuck(T0 + dt.timedelta(minutes=30)) == 1
    states = {item.id: item for item in store.batch_items(expired.batch_id)}
    assert states[expired.id].state == ItemState.QUEUED and states[expired.id].worker_id is None
    assert states[fresh.id].state == ItemState.RUNNING
    assert states[fresh.id].worker_id == "busy worker"
    again = store.claim_next_item("next worker", T0 + dt.timedelta(hours=3))
    assert again.id == expired.id and again.attempts == 2


def test_sweeper_gives_up_after_the_last_attempt(store):
    store.create_batch(None, "hue-2024", 2024, items=items(1))
    for attempt in range(3):
        item = store.claim_next_item(f"w{attempt}", T0, now=T0)
        requeued = store.requeue_stuck(T0 + dt.timedelta(minutes=1), max_attempts=3)
    assert requeued == 0 and item.attempts == 3
    [failed] = store.batch_items(item.batch_id)
    assert failed.state == ItemState.FAILED and "gave up after 3 attempts" in failed.error


def test_an_item_finished_twice_has_one_verdict(store):
    store.create_batch(None, "hue-2024", 2024, items=items(1))
    slow = store.claim_next_item("slow", T0, now=T0)
    store.requeue_stuck(T0 + dt.timedelta(minutes=1))
    quick = store.claim_next_item("quick", T0 + dt.timedelta(hours=1))
    assert slow.id == quick.id
    first = store.finish_item(quick.id, verdict(points=10))
    second = store.finish_item(slow.id, verdict(points=5))
    assert second.id == first.id and second.points == 10
    assert first.evidence == list(quick.documents)
    with store.engine.connect() as connection:
        assert connection.scalar(text("SELECT count(*) FROM verdicts")) == 1
    assert store.fail_item(quick.id, "too late").state == ItemState.DONE


def test_progress_counts_and_a_finished_batch_closes_once(store):
    batch = store.create_batch(None, "hue-2024", 2024, items=items(2),
                               webhook_url="https://dti.example/hook")
    store.add_batch_items(batch.id, items(3)[2:])
    first = store.claim_next_item("w", T0 + dt.timedelta(hours=1), now=T0)
    second = store.claim_next_item("w", T0 + dt.timedelta(hours=1),
                                   now=T0 + dt.timedelta(seconds=1))
    progress = store.batch_progress(batch.id)
    assert progress.total == 3 and progress.current.id == second.id
    assert progress.counts == {"queued": 1, "running": 2, "done": 0, "failed": 0}
    store.finish_item(first.id, verdict())
    store.fail_item(second.id, "OCR crashed")
    assert store.close_finished_batches() == []                 # one item is still queued
    third = store.claim_next_item("w", T0 + dt.timedelta(hours=1))
    store.finish_item(third.id, verdict(points=0))
    [closed] = store.close_finished_batches()
    assert closed.id == batch.id and closed.status == "done" and closed.finished_at
    assert store.close_finished_batches() == []                 # the webhook is sent once
    progress = store.batch_progress(batch.id)
    assert progress.finished and progress.counts == {"queued": 0, "running": 0, "done": 2,
                                                     "failed": 1}
    with pytest.raises(StoreError, match="finished"):
        store.add_batch_items(batch.id, items(1))


# -- overrides and the audit log ---------------------------------------------------------------

def test_override_needs_a_reason_keeps_the_verdict_and_is_audited(store):
    original = store.save_verdict(verdict(points=0), ["a" * 64])
    for reason in ("", "   "):
        with pytest.raises(InvalidOverride, match="reason"):
            store.override_verdict(original.id, "pass", 10, reason, actor=None)
    with pytest.raises(InvalidOverride, match="between 0 and 10"):
        store.override_verdict(original.id, "pass", 11, "signed paper copy seen", actor=None)
    with pytest.raises(InvalidOverride, match="unknown status"):
        store.override_verdict(original.id, "ok", 10, "signed paper copy seen", actor=None)
    override = store.override_verdict(original.id, "pass", 10, "signed paper copy seen",
                                      actor=None)
    kept = store.get_verdict(original.id)
    assert (kept.status, kept.points, kept.verdict) == ("fail", 0, original.verdict)
    assert [o.id for o in store.verdict_overrides(original.id)] == [override.id]
    [entry] = store.audit_entries(subject=f"verdict:{original.id}")
    assert entry.action == "verdict.override"
    assert entry.details == {"from": {"status": "fail", "points": 0},
                             "to": {"status": "pass", "points": 10},
                             "reason": "signed paper copy seen"}


def test_audit_log_refuses_update_and_delete(store):
    entry = store.audit(None, "sample.draw", "batch:x", {"seed": 7, "size": 20})
    for statement in ("UPDATE audit_log SET action = 'nothing happened'",
                      "DELETE FROM audit_log"):
        with pytest.raises(DBAPIError, match="append-only"), store.engine.begin() as connection:
            connection.execute(text(statement))
    [kept] = store.audit_entries()
    assert (kept.id, kept.action, kept.details) == (entry.id, "sample.draw",
                                                   {"seed": 7, "size": 20})
    assert store.audit_entries(after_id=entry.id) == []


def test_stores_opened_at_once_in_one_process_all_open(settings):
    """The service's store and batch threads' stores open (and migrate) at the same time:
    Alembic's module-level proxies must not be torn down under another thread's migration."""
    open_store(settings).close()
    errors: list[str] = []

    def open_and_close() -> None:
        try:
            open_store(settings).close()
        except Exception as error:  # noqa: BLE001 - any failure is what this test looks for
            errors.append(repr(error))

    threads = [threading.Thread(target=open_and_close) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
