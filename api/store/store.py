"""Where kiemchung keeps what it has seen and concluded: one small API over the database and the
content-addressed files under the data directory.

- A document's bytes are stored once, at `data_dir/blobs/ab/cd/<sha256>`, written to a temporary
  file and linked into place, read-only, never rewritten.
- An inspection is kept per (document, extractor version): the same bytes are read once.
- Batch items form the job table workers claim from; `requeue_stuck` is the sweeper that puts
  items back when a worker died or overran its deadline, so no broker can lose work.
- Verdicts are never changed: an override is a new row, written with its audit entry.

SQLite (the default, `data_dir/kiemchung.sqlite3`) or PostgreSQL (`KIEMCHUNG_DATABASE_URL`);
the schema is migrated to the newest revision when the store opens.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import hashlib
import os
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    Engine,
    create_engine,
    delete,
    event,
    exists,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import CursorResult, Result
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, sessionmaker

from kiemchung.api.store.migrations import upgrade_to_head
from kiemchung.api.store.tables import (
    ApiKey,
    AuditEntry,
    BatchItemRow,
    BatchRow,
    BatchStatus,
    DocumentName,
    DocumentRow,
    IdempotentRequest,
    InspectionRow,
    ItemState,
    OverrideRow,
    VerdictRow,
    utcnow,
)
from kiemchung.checks.registry import REGISTRY, get_check
from kiemchung.extractors.reader import detect_kind
from kiemchung.models.errors import ExitCode, KiemchungError
from kiemchung.models.verdicts import CheckStatus, Verdict, VerdictStatus
from kiemchung.verifier.settings import Settings, load_settings

__all__ = [
    "BatchProgress",
    "InvalidOverride",
    "NewBatchItem",
    "NotFound",
    "RUNTIME_PRIVILEGES",
    "Store",
    "StoreError",
    "database_url",
    "open_store",
]

# PostgreSQL's SQLSTATEs for "permission denied" and "no schema to create in" (no USAGE on it).
MAY_NOT_MIGRATE = ("42501", "3F000")
# Any constant: serialises migrations when several workers start at once on PostgreSQL.
MIGRATION_LOCK = 0x6B69656D


class StoreError(KiemchungError):
    exit_code = ExitCode.BAD_INPUT


class NotFound(StoreError):
    """No document, verdict, batch or item with that id."""


class InvalidOverride(StoreError):
    """An override without a reason, with an unknown status or with points out of range."""


@dataclass(frozen=True)
class NewBatchItem:
    """One criterion of one unit to verify from the given documents (sha256s)."""

    unit: str
    level: str
    criterion: str
    documents: tuple[str, ...] = ()


@dataclass(frozen=True)
class BatchProgress:
    batch_id: str
    status: str
    total: int
    counts: dict[str, int] = field(default_factory=dict)    # items per ItemState value
    current: BatchItemRow | None = None                    # the item started most recently

    @property
    def finished(self) -> bool:
        settled = self.counts[ItemState.DONE] + self.counts[ItemState.FAILED]
        return self.total > 0 and settled == self.total


def database_url(settings: Settings) -> str:
    """The SQLAlchemy URL: KIEMCHUNG_DATABASE_URL, else the SQLite file in the data dir."""
    if not settings.database_url:
        return f"sqlite:///{(settings.data_dir / 'kiemchung.sqlite3').resolve()}"
    url = settings.database_url
    # Plain postgresql:// would mean psycopg2, which is not installed: use psycopg 3.
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def open_store(settings: Settings | None = None) -> Store:
    """Connect, migrate the schema to the newest revision, and return the store."""
    settings = settings or load_settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    url = database_url(settings)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
    else:
        engine = create_engine(url, pool_pre_ping=True)
    try:
        with engine.begin() as connection:
            if connection.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                   {"key": MIGRATION_LOCK})
            upgrade_to_head(connection)
    except DBAPIError as error:
        engine.dispose()
        if getattr(error.orig, "sqlstate", None) in MAY_NOT_MIGRATE:
            # The run-time role of production: it may not migrate, the owner role does.
            raise StoreError("the database schema needs migrating and this database role may "
                             "not do it: run `kiemchung db upgrade` as the role owning the "
                             "tables, then `kiemchung db grant-runtime ROLE`") from None
        raise
    return Store(engine, settings.data_dir)


def _sqlite_pragmas(connection, _record) -> None:
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")        # off by default in SQLite
    cursor.execute("PRAGMA journal_mode = WAL")       # readers do not block the writer
    cursor.execute("PRAGMA synchronous = NORMAL")     # durable enough with WAL, much faster
    cursor.close()


# What the run-time role of a production database may do (`kiemchung db grant-runtime`); the
# owner role, which runs the migrations, owns the tables. Nothing lets the run-time role change
# history: verdicts, overrides and the audit log take INSERT only, and, not owning them, it can
# neither ALTER (DISABLE TRIGGER) nor TRUNCATE nor DROP them.
RUNTIME_PRIVILEGES = {
    "alembic_version": "SELECT",                     # to see the schema is at head
    "api_keys": "SELECT, INSERT, UPDATE",            # `kiemchung keys` create and revoke
    "documents": "SELECT, INSERT",
    "document_names": "SELECT, INSERT",
    "inspections": "SELECT, INSERT",
    "verdicts": "SELECT, INSERT",                    # never changed: an override is a new row
    "overrides": "SELECT, INSERT",
    "audit_log": "SELECT, INSERT",
    "batches": "SELECT, INSERT, UPDATE",             # the job table moves on
    "batch_items": "SELECT, INSERT, UPDATE",
    "idempotency_keys": "SELECT, INSERT, UPDATE, DELETE",
    "document_fingerprints": "SELECT, INSERT, DELETE",   # replaced when the extractors change
    "campaigns": "SELECT, INSERT",
    "campaign_units": "SELECT, INSERT",
    "campaign_phases": "SELECT, INSERT, UPDATE",         # the host moves a window
    "campaign_appraisers": "SELECT, INSERT, UPDATE",
    "self_assessments": "SELECT, INSERT, UPDATE",        # draft → submitted, its pre-screen
    "appraisals": "SELECT, INSERT",                      # decisions are never rewritten
    "explanations": "SELECT, INSERT, UPDATE",            # linked to its pre-screen once
    "users": "SELECT, INSERT, UPDATE",                   # failed logins, lock-out, passwords
    "web_sessions": "SELECT, INSERT, UPDATE",            # ended at log-out
    "saved_views": "SELECT, INSERT, UPDATE, DELETE",     # a person's own, replaced by name
    "samples": "SELECT, INSERT",
    "sample_items": "SELECT, INSERT, UPDATE",            # the auditor's outcome, once decided
}


class Store:
    def __init__(self, engine: Engine, data_dir: Path):
        self.engine = engine
        self.data_dir = Path(data_dir)
        # Rows outlive their session: callers read them after the transaction has ended.
        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc) -> None:
        self.close()

    def grant_runtime(self, role: str) -> list[str]:
        """Give `role` the rights the service needs at run time and no more (PostgreSQL; run as
        the owner of the tables, after migrating). Returns the statements run."""
        if self.engine.dialect.name != "postgresql":
            raise StoreError("database roles are PostgreSQL's: a SQLite file has one user")
        quote = self.engine.dialect.identifier_preparer.quote
        with self.engine.begin() as connection:
            schema = quote(connection.scalar(text("SELECT current_schema()")))
            statements = [f"GRANT USAGE ON SCHEMA {schema} TO {quote(role)}",
                          f"REVOKE ALL ON ALL TABLES IN SCHEMA {schema} FROM {quote(role)}"]
            statements += [f"GRANT {rights} ON {schema}.{quote(table)} TO {quote(role)}"
                           for table, rights in RUNTIME_PRIVILEGES.items()]
            statements.append(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA {schema} "
                              f"TO {quote(role)}")               # new ids
            for statement in statements:
                connection.execute(text(statement))
        return statements

    def ping(self) -> str:
        """A round trip to the database; the backend's name. Raises what the driver raises."""
        with self.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return self.engine.dialect.name

    @contextlib.contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed when the block ends, rolled back on an exception."""
        with self._sessions.begin() as session:
            yield session

    # -- documents --------------------------------------------------------------------------

    def put_document(self, data: bytes, name: str, *, unit: str | None = None,
                     uploaded_by: int | None = None) -> DocumentRow:
        """Store the bytes once (idempotent by SHA-256) and remember this upload's name."""
        sha = hashlib.sha256(data).hexdigest()
        relative = Path("blobs", sha[:2], sha[2:4], sha)
        _write_once(self.data_dir / relative, data)
        with self.session() as session:
            _insert_new(session, DocumentRow, ["sha256"], sha256=sha, size=len(data),
                        media_kind=detect_kind(data) or "other",
                        stored_path=relative.as_posix(), created_at=utcnow())
            # Not read-then-insert: twenty uploads at once would all read "not there yet".
            # The unique index (a NULL unit included) lets exactly one insert win.
            _insert_new(session, DocumentName, None, document_sha256=sha, name=name, unit=unit,
                        uploaded_by=uploaded_by, created_at=utcnow())
            return session.scalars(select(DocumentRow).where(DocumentRow.sha256 == sha)
                                   .execution_options(populate_existing=True)).one()

    def get_document(self, sha256: str) -> DocumentRow:
        with self.session() as session:
            return required_row(session, DocumentRow, sha256, f"no document {sha256}")

    def document_path(self, sha256: str) -> Path:
        return self.data_dir / self.get_document(sha256).stored_path

    def document_bytes(self, sha256: str) -> bytes:
        data = self.document_path(sha256).read_bytes()
        # The name is the hash: a mismatch means the file was changed on disk behind our back.
        if hashlib.sha256(data).hexdigest() != sha256:
            raise StoreError(f"stored file of document {sha256} no longer matches its SHA-256")
        return data

    def document_units(self, sha256: str) -> set[str]:
        """The units that uploaded this document (a unit key may read only these)."""
        with self.session() as session:
            return set(session.scalars(select(DocumentName.unit).where(
                DocumentName.document_sha256 == sha256, DocumentName.unit.is_not(None))))

    # -- inspections ------------------------------------------------------------------------

    def get_inspection(self, sha256: str, extractor_version: str) -> dict[str, Any] | None:
        with self.session() as session:
            return session.scalar(select(InspectionRow.inspection).where(
                InspectionRow.document_sha256 == sha256,
                InspectionRow.extractor_version == extractor_version))

    def save_inspection(self, sha256: str, extractor_version: str,
                        inspection: dict[str, Any]) -> dict[str, Any]:
        """Keep `Inspection.to_json()`; when two workers race, the first one stored wins and
        both get it back."""
        with self.session() as session:
            _insert_new(session, InspectionRow, ["document_sha256", "extractor_version"],
                        document_sha256=sha256, extractor_version=extractor_version,
                        inspection=inspection, created_at=utcnow())
        stored = self.get_inspection(sha256, extractor_version)
        assert stored is not None   # ours or the one of the worker that won the race
        return stored

    # -- verdicts ---------------------------------------------------------------------------

    def save_verdict(self, verdict: Verdict, evidence: Sequence[str]) -> VerdictRow:
        with self.session() as session:
            return _add_verdict(session, verdict, evidence)

    def get_verdict(self, verdict_id: int) -> VerdictRow:
        with self.session() as session:
            return required_row(session, VerdictRow, verdict_id, f"no verdict {verdict_id}")

    def override_verdict(self, verdict_id: int, status: str, points: float, reason: str,
                         actor: int | None) -> OverrideRow:
        """A person's decision over the verifier's: a new row and an audit entry, written
        together; the verdict row stays as it was."""
        reason = (reason or "").strip()
        if not reason:
            raise InvalidOverride("an override needs a reason")
        try:
            status = VerdictStatus(status).value
        except ValueError:
            raise InvalidOverride(f"unknown status {status!r} (known: "
                                  f"{', '.join(s.value for s in VerdictStatus)})") from None
        with self.session() as session:
            verdict = required_row(session, VerdictRow, verdict_id, f"no verdict {verdict_id}")
            if not 0 <= points <= verdict.max_points:
                raise InvalidOverride(f"points must be between 0 and {verdict.max_points:g}")
            row = OverrideRow(verdict_id=verdict_id, status=status, points=points, reason=reason,
                              by_key_id=actor)
            session.add(row)
            session.add(AuditEntry(actor_key_id=actor, action="verdict.override",
                                   subject=f"verdict:{verdict_id}", details={
                                       "from": {"status": verdict.status,
                                                "points": verdict.points},
                                       "to": {"status": status, "points": points},
                                       "reason": reason}))
            session.flush()
            return row

    def overrides_by_verdict(self, verdict_ids: Sequence[int]) -> dict[int, list[OverrideRow]]:
        """The overrides of each of these verdicts, oldest first."""
        found: dict[int, list[OverrideRow]] = {}
        with self.session() as session:
            for start in range(0, len(verdict_ids), 500):        # bounded IN lists
                chunk = verdict_ids[start:start + 500]
                for row in session.scalars(select(OverrideRow)
                                           .where(OverrideRow.verdict_id.in_(chunk))
                                           .order_by(OverrideRow.id)):
                    found.setdefault(row.verdict_id, []).append(row)
        return found

    def verdicts_by_id(self, verdict_ids: Sequence[int]) -> dict[int, VerdictRow]:
        if not verdict_ids:
            return {}
        with self.session() as session:
            return {row.id: row for row in session.scalars(
                select(VerdictRow).where(VerdictRow.id.in_(list(verdict_ids))))}

    def find_verdicts(self, *, unit: str | None = None, criterion: str | None = None,
                      status: str | None = None, only_flagged: bool = False, after_id: int = 0,
                      keep: Callable[[VerdictRow], bool] | None = None,
                      limit: int | None = None, batch: str | None = None
                      ) -> list[tuple[VerdictRow, str | None]]:
        """Verdicts in id order matching the filters, each with the batch it came from (None
        for one asked for directly); `keep` filters further, before `limit` counts."""
        query = (select(VerdictRow, BatchItemRow.batch_id)
                 .outerjoin(BatchItemRow, BatchItemRow.verdict_id == VerdictRow.id)
                 .where(VerdictRow.id > after_id).order_by(VerdictRow.id))
        for column, value in ((VerdictRow.unit, unit), (VerdictRow.criterion, criterion),
                              (VerdictRow.status, status), (BatchItemRow.batch_id, batch)):
            if value is not None:
                query = query.where(column == value)
        if only_flagged:
            query = query.where(VerdictRow.flagged)
        found: list[tuple[VerdictRow, str | None]] = []
        with self.session() as session:
            for row, batch_id in session.execute(query):
                if keep is None or keep(row):
                    found.append((row, batch_id))
                    if limit is not None and len(found) >= limit:
                        break
        return found

    def verdict_overrides(self, verdict_id: int) -> list[OverrideRow]:
        """Overrides of a verdict, oldest first: the last one is in force."""
        return self.overrides_by_verdict([verdict_id]).get(verdict_id, [])

    # -- batches and the job table ----------------------------------------------------------

    def create_batch(self, created_by: int | None, ruleset_id: str, year: int, *,
                     webhook_url: str | None = None,
                     items: Iterable[NewBatchItem] = ()) -> BatchRow:
        with self.session() as session:
            batch = BatchRow(id=str(uuid.uuid4()), created_by=created_by, ruleset_id=ruleset_id,
                             year=year, webhook_url=webhook_url, total_items=0)
            session.add(batch)
            session.flush()
            _add_items(session, batch, items)
            return batch

    def add_batch_items(self, batch_id: str, items: Iterable[NewBatchItem]) -> list[BatchItemRow]:
        """More items for a batch not yet finished. Add them all before workers can finish the
        ones already queued: a batch with nothing queued or running may be closed."""
        with self.session() as session:
            batch = required_row(session, BatchRow, batch_id, f"no batch {batch_id}",
                              with_for_update=True)
            if batch.status == BatchStatus.DONE:
                raise StoreError(f"batch {batch_id} is finished; start a new one")
            return _add_items(session, batch, items)

    def get_batch(self, batch_id: str) -> BatchRow:
        with self.session() as session:
            return required_row(session, BatchRow, batch_id, f"no batch {batch_id}")

    def batch_items(self, batch_id: str) -> list[BatchItemRow]:
        with self.session() as session:
            return list(session.scalars(select(BatchItemRow).where(
                BatchItemRow.batch_id == batch_id).order_by(BatchItemRow.id)))

    def claim_next_item(self, worker_id: str, deadline: dt.datetime, *,
                        batch_id: str | None = None,
                        now: dt.datetime | None = None) -> BatchItemRow | None:
        """Take the oldest queued item, or None. One UPDATE picks and marks it, so two workers
        never get the same item: PostgreSQL skips rows another claim has locked
        (`FOR UPDATE SKIP LOCKED`), SQLite runs one writer at a time (the clause is dropped)."""
        candidate = (select(BatchItemRow.id).where(BatchItemRow.state == ItemState.QUEUED)
                     .order_by(BatchItemRow.id).limit(1).with_for_update(skip_locked=True))
        if batch_id is not None:
            candidate = candidate.where(BatchItemRow.batch_id == batch_id)
        return self._claim(BatchItemRow.id == candidate.scalar_subquery(), worker_id, deadline,
                           now)

    def claim_item(self, item_id: int, worker_id: str, deadline: dt.datetime, *,
                   taking_over: str | None = None,
                   now: dt.datetime | None = None) -> BatchItemRow | None:
        """Take this item if it is queued — or, with `taking_over`, if that (lost) worker still
        holds it running. None when it is not (done, failed, held by someone else)."""
        if taking_over is None:
            claimable = BatchItemRow.state == ItemState.QUEUED
        else:
            claimable = ((BatchItemRow.state == ItemState.RUNNING)
                         & (BatchItemRow.worker_id == taking_over))
        return self._claim((BatchItemRow.id == item_id) & claimable, worker_id, deadline, now)

    def _claim(self, which, worker_id: str, deadline: dt.datetime,
               now: dt.datetime | None) -> BatchItemRow | None:
        with self.session() as session:
            item = session.scalars(
                update(BatchItemRow).where(which)
                .values(state=ItemState.RUNNING, worker_id=worker_id, deadline=deadline,
                        started_at=now or utcnow(), attempts=BatchItemRow.attempts + 1)
                .returning(BatchItemRow)
                .execution_options(synchronize_session=False)).one_or_none()
            if item is not None:
                session.execute(update(BatchRow).where(BatchRow.id == item.batch_id,
                                                       BatchRow.status == BatchStatus.QUEUED)
                                .values(status=BatchStatus.RUNNING))
            return item

    def fail_unstarted(self, errors: dict[int, str], now: dt.datetime | None = None) -> None:
        """Fail items no worker has seen (refused input), each with its reason, at once."""
        now = now or utcnow()
        with self.session() as session:
            session.execute(update(BatchItemRow), [
                {"id": item_id, "state": ItemState.FAILED, "error": error, "finished_at": now}
                for item_id, error in errors.items()])

    def unfinished_batches(self) -> list[str]:
        """Batches with items that are not all settled yet."""
        with self.session() as session:
            return list(session.scalars(select(BatchRow.id).where(
                BatchRow.status != BatchStatus.DONE, BatchRow.total_items > 0)))

    def items_by_id(self, item_ids: Iterable[int]) -> list[BatchItemRow]:
        with self.session() as session:
            return list(session.scalars(select(BatchItemRow).where(
                BatchItemRow.id.in_(list(item_ids)))))

    def item_counts(self) -> dict[str, int]:
        """Batch items by state, across every batch and worker."""
        with self.session() as session:
            return dict(session.execute(select(BatchItemRow.state, func.count())
                                        .group_by(BatchItemRow.state)).tuples().all())

    def get_key(self, key_id: int) -> ApiKey | None:
        with self.session() as session:
            return session.get(ApiKey, key_id)

    def get_item(self, item_id: int) -> BatchItemRow:
        with self.session() as session:
            return required_row(session, BatchItemRow, item_id, f"no batch item {item_id}")

    def running_items(self, *, batch_id: str | None = None,
                      worker_id: str | None = None) -> list[BatchItemRow]:
        query = select(BatchItemRow).where(BatchItemRow.state == ItemState.RUNNING)
        if batch_id is not None:
            query = query.where(BatchItemRow.batch_id == batch_id)
        if worker_id is not None:
            query = query.where(BatchItemRow.worker_id == worker_id)
        with self.session() as session:
            return list(session.scalars(query))

    def stuck_items(self, now: dt.datetime | None = None) -> list[int]:
        """Items running past their deadline: what `requeue_stuck` is about to put back."""
        with self.session() as session:
            return list(session.scalars(select(BatchItemRow.id).where(
                BatchItemRow.state == ItemState.RUNNING,
                BatchItemRow.deadline < (now or utcnow()))))

    def batch_documents(self, batch_id: str) -> frozenset[tuple[str, str, str]]:
        """(sha256, unit, criterion) of every document in the batch, for `not_reused`."""
        with self.session() as session:
            rows = session.execute(select(BatchItemRow.unit, BatchItemRow.criterion,
                                          BatchItemRow.documents)
                                   .where(BatchItemRow.batch_id == batch_id)).all()
        return frozenset((sha, unit, criterion) for unit, criterion, documents in rows
                         for sha in documents)

    def finish_item(self, item_id: int, verdict: Verdict, *,
                    now: dt.datetime | None = None) -> VerdictRow:
        """Save the item's verdict and mark it done, in one transaction. Exactly once: if the
        item is already done (a re-queued copy finished first), nothing is written and the
        verdict stored then is returned."""
        try:
            with self.session() as session:
                item = required_row(session, BatchItemRow, item_id, f"no batch item {item_id}")
                if item.state != ItemState.DONE:
                    row = _add_verdict(session, verdict, item.documents)
                    marked = rowcount(session.execute(
                        update(BatchItemRow)
                        .where(BatchItemRow.id == item_id, BatchItemRow.state != ItemState.DONE)
                        .values(state=ItemState.DONE, verdict_id=row.id, error=None,
                                deadline=None, finished_at=now or utcnow())
                        .execution_options(synchronize_session=False)))
                    if marked == 1:
                        return row
                    raise _FinishedElsewhere   # roll our verdict back: theirs stands
        except _FinishedElsewhere:
            pass
        with self.session() as session:
            done = session.get_one(BatchItemRow, item_id, populate_existing=True)
            return session.get_one(VerdictRow, done.verdict_id)

    def fail_item(self, item_id: int, error: str, *, retry: bool = False,
                  held_by: str | None = None, now: dt.datetime | None = None) -> BatchItemRow:
        """Record an error: back to the queue when `retry`, else failed for good. A done item
        stays done; with `held_by`, only an item that worker is running changes."""
        values: dict[str, Any] = {"error": error, "worker_id": None, "deadline": None}
        if retry:
            values["state"] = ItemState.QUEUED
        else:
            values.update(state=ItemState.FAILED, finished_at=now or utcnow())
        which = [BatchItemRow.id == item_id, BatchItemRow.state != ItemState.DONE]
        if held_by is not None:
            which += [BatchItemRow.state == ItemState.RUNNING, BatchItemRow.worker_id == held_by]
        with self.session() as session:
            session.execute(update(BatchItemRow).where(*which)
                            .values(**values).execution_options(synchronize_session=False))
            return required_row(session, BatchItemRow, item_id, f"no batch item {item_id}",
                             populate_existing=True)

    def requeue_stuck(self, now: dt.datetime | None = None, *, max_attempts: int = 3) -> int:
        """The sweeper: items running past their deadline go back to the queue; after
        `max_attempts` claims they fail instead, so a file that kills every worker cannot
        loop for ever. Returns how many were re-queued."""
        now = now or utcnow()
        stuck = (BatchItemRow.state == ItemState.RUNNING) & (BatchItemRow.deadline < now)
        with self.session() as session:
            requeued = rowcount(session.execute(
                update(BatchItemRow).where(stuck, BatchItemRow.attempts < max_attempts)
                .values(state=ItemState.QUEUED, worker_id=None, deadline=None,
                        error="re-queued: no result before the deadline (worker lost or "
                              "too slow)")
                .execution_options(synchronize_session=False)))
            session.execute(
                update(BatchItemRow).where(stuck, BatchItemRow.attempts >= max_attempts)
                .values(state=ItemState.FAILED, worker_id=None, deadline=None, finished_at=now,
                        error=f"gave up after {max_attempts} attempts: no result before the "
                              "deadline (worker lost or too slow)")
                .execution_options(synchronize_session=False))
            return requeued

    def mark_sent(self, item_ids: Sequence[int], now: dt.datetime | None = None) -> None:
        """Record that the tasks of these items went to the broker."""
        with self.session() as session:
            for start in range(0, len(item_ids), 500):
                session.execute(update(BatchItemRow)
                                .where(BatchItemRow.id.in_(item_ids[start:start + 500]))
                                .values(sent_at=now or utcnow())
                                .execution_options(synchronize_session=False))

    def queued_items(self, *, sent_before: dt.datetime) -> list[int]:
        """Items still queued whose task was never sent, or last sent before `sent_before`."""
        with self.session() as session:
            return list(session.scalars(select(BatchItemRow.id).where(
                BatchItemRow.state == ItemState.QUEUED,
                BatchItemRow.sent_at.is_(None) | (BatchItemRow.sent_at < sent_before))
                .order_by(BatchItemRow.id)))

    def close_finished_batches(self, now: dt.datetime | None = None) -> list[BatchRow]:
        """Mark done every batch with items and none queued or running. Each batch is returned
        by exactly one call, so whoever gets it sends the webhook, once."""
        pending = exists().where(BatchItemRow.batch_id == BatchRow.id,
                                 BatchItemRow.state.in_([ItemState.QUEUED, ItemState.RUNNING]))
        closed = []
        with self.session() as session:
            ready = session.scalars(select(BatchRow.id).where(
                BatchRow.status != BatchStatus.DONE, BatchRow.total_items > 0, ~pending)).all()
            for batch_id in ready:
                marked = rowcount(session.execute(
                    update(BatchRow).where(BatchRow.id == batch_id,
                                           BatchRow.status != BatchStatus.DONE, ~pending)
                    .values(status=BatchStatus.DONE, finished_at=now or utcnow())
                    .execution_options(synchronize_session=False)))
                if marked == 1:
                    closed.append(session.get_one(BatchRow, batch_id, populate_existing=True))
        return closed

    def batch_progress(self, batch_id: str) -> BatchProgress:
        with self.session() as session:
            batch = required_row(session, BatchRow, batch_id, f"no batch {batch_id}")
            counts = {state.value: 0 for state in ItemState}
            counts.update(session.execute(
                select(BatchItemRow.state, func.count()).where(BatchItemRow.batch_id == batch_id)
                .group_by(BatchItemRow.state)).tuples().all())
            current = session.scalars(
                select(BatchItemRow).where(BatchItemRow.batch_id == batch_id,
                                           BatchItemRow.state == ItemState.RUNNING)
                .order_by(BatchItemRow.started_at.desc(), BatchItemRow.id.desc())
                .limit(1)).first()
            return BatchProgress(batch_id, batch.status, batch.total_items, counts, current)

    # -- Idempotency-Key --------------------------------------------------------------------

    def reserve_request(self, owner: int, scope: str, key: str, request_hash: str, *,
                        stale_after: dt.timedelta = dt.timedelta(hours=1)
                        ) -> IdempotentRequest | None:
        """Take (owner, scope, key) for the request being answered now: None when it is ours
        to answer; else the earlier request's row (answered, or `status_code` None while still
        being answered). A reservation never answered for `stale_after` (its server died) is
        taken over."""
        now = utcnow()
        with self.session() as session:
            if _insert_new(session, IdempotentRequest, None, owner_key_id=owner, scope=scope,
                           key=key, request_hash=request_hash, created_at=now):
                return None
        with self.session() as session:
            earlier = session.scalars(select(IdempotentRequest).where(
                IdempotentRequest.owner_key_id == owner, IdempotentRequest.scope == scope,
                IdempotentRequest.key == key)).one()
            if earlier.status_code is None and earlier.created_at < now - stale_after:
                taken = rowcount(session.execute(
                    update(IdempotentRequest).where(
                        IdempotentRequest.id == earlier.id,
                        IdempotentRequest.status_code.is_(None),
                        IdempotentRequest.created_at == earlier.created_at)
                    .values(request_hash=request_hash, created_at=now)
                    .execution_options(synchronize_session=False)))
                if taken == 1:
                    return None
            return earlier

    def answer_request(self, owner: int, scope: str, key: str, status_code: int,
                       response: dict[str, Any]) -> None:
        """Keep the answer of a reserved request, for its retries."""
        with self.session() as session:
            session.execute(update(IdempotentRequest).where(
                IdempotentRequest.owner_key_id == owner, IdempotentRequest.scope == scope,
                IdempotentRequest.key == key)
                .values(status_code=status_code, response=response)
                .execution_options(synchronize_session=False))

    def release_request(self, owner: int, scope: str, key: str) -> None:
        """Forget a reservation whose request failed: a retry is answered afresh."""
        with self.session() as session:
            session.execute(delete(IdempotentRequest).where(
                IdempotentRequest.owner_key_id == owner, IdempotentRequest.scope == scope,
                IdempotentRequest.key == key, IdempotentRequest.status_code.is_(None)))

    # -- audit log --------------------------------------------------------------------------

    def audit(self, actor: int | None, action: str, subject: str,
              details: dict[str, Any] | None = None) -> AuditEntry:
        """Append an entry. There is no way to change or remove one: the tables' triggers
        refuse UPDATE and DELETE."""
        with self.session() as session:
            entry = AuditEntry(actor_key_id=actor, action=action, subject=subject,
                               details=details or {})
            session.add(entry)
            session.flush()
            return entry

    def audit_entries(self, *, subject: str | None = None, action: str | None = None,
                      actor: int | None = None, after_id: int = 0,
                      limit: int = 1000, actors: Sequence[int] | None = None,
                      since: dt.datetime | None = None, until: dt.datetime | None = None,
                      before_id: int | None = None,
                      newest_first: bool = False) -> list[AuditEntry]:
        """Entries oldest first; page with `after_id` (the last id seen). `actors` keeps the
        entries of any of these keys, `since`/`until` a time range (until excluded); with
        `newest_first`, page back with `before_id` (the last id seen)."""
        query = select(AuditEntry).where(AuditEntry.id > after_id)
        if subject is not None:
            query = query.where(AuditEntry.subject == subject)
        if action is not None:
            query = query.where(AuditEntry.action == action)
        if actor is not None:
            query = query.where(AuditEntry.actor_key_id == actor)
        if actors is not None:
            query = query.where(AuditEntry.actor_key_id.in_(list(actors)))
        if since is not None:
            query = query.where(AuditEntry.at >= since)
        if until is not None:
            query = query.where(AuditEntry.at < until)
        if before_id is not None:
            query = query.where(AuditEntry.id < before_id)
        order = AuditEntry.id.desc() if newest_first else AuditEntry.id
        with self.session() as session:
            return list(session.scalars(query.order_by(order).limit(limit)))

    def audit_actions(self) -> list[str]:
        """The actions the log holds, for a filter's choices."""
        with self.session() as session:
            return list(session.scalars(select(AuditEntry.action).distinct()
                                        .order_by(AuditEntry.action)))


class _FinishedElsewhere(Exception):
    """Another worker marked the item done between our read and our update."""


def _write_once(path: Path, data: bytes) -> None:
    """Write `path` atomically unless it exists. The bytes go to a temporary file in the same
    folder, then are hard-linked into place: linking fails when the name exists, so a file
    another process finished first is kept, never replaced, and nobody sees a partial file."""
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".incoming-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(temporary, 0o444)
        try:
            os.link(temporary, path)
        except FileExistsError:
            pass
        except OSError:             # a file system without hard links: rename instead
            if not path.exists():
                os.replace(temporary, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)


def _insert_new(session: Session, model, keys: list[str] | None, **values) -> int:
    """INSERT … ON CONFLICT DO NOTHING: concurrent writers of the same row do not fail. `keys`
    names the unique columns, None any unique index. Returns the rows inserted (0 or 1)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    # RETURNING tells whether a row went in (rowcount is -1 here with psycopg).
    statement = (insert(model).values(**values).on_conflict_do_nothing(index_elements=keys)
                 .returning(*model.__table__.primary_key.columns))
    return len(session.connection().execute(statement).all())


FLAGGED_STATUSES = frozenset({VerdictStatus.FAIL.value, VerdictStatus.NEEDS_REVIEW.value})
DOUBTFUL = frozenset({CheckStatus.FAIL.value, CheckStatus.NEEDS_REVIEW.value})


@functools.cache
def signature_checks() -> frozenset[str]:
    """The checks about signatures and seals: those registered in `checks.signatures`."""
    get_check("file_readable")            # importing the checks fills the registry
    return frozenset(name for name, registered in REGISTRY.items()
                     if registered.function.__module__ == "kiemchung.checks.signatures")


def verdict_flags(status: str, checks: Iterable[dict]) -> tuple[list[str], list[dict]]:
    """Why a person should look at a verdict (its status, `signature:<check>` for each
    signature check in doubt — a plan can pass on one file while another was altered after
    signing), and the checks that failed or need review."""
    doubtful = [c for c in checks if c.get("status") in DOUBTFUL]
    flags = [status] if status in FLAGGED_STATUSES else []
    flags += sorted({f"signature:{c['name']}" for c in doubtful
                     if c.get("name") in signature_checks()})
    return flags, doubtful


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE changed. Session.execute is typed to give a Result; for an UPDATE it
    is a CursorResult, which has the count."""
    return cast(CursorResult[Any], result).rowcount


def required_row(session: Session, model, key, missing: str, **options):
    """The row with this primary key, or NotFound saying `missing`."""
    row = session.get(model, key, **options)
    if row is None:
        raise NotFound(missing)
    return row


def _add_verdict(session: Session, verdict: Verdict, evidence: Sequence[str]) -> VerdictRow:
    as_json = verdict.to_json()
    flags, _ = verdict_flags(verdict.status.value, as_json.get("checks", []))
    row = VerdictRow(unit=verdict.unit, level=str(verdict.level), year=verdict.year,
                     criterion=verdict.criterion, ruleset_id=verdict.ruleset_id,
                     ruleset_version=verdict.ruleset_version, status=verdict.status.value,
                     points=verdict.points, max_points=verdict.max_points,
                     verdict=as_json, evidence=sorted(set(evidence)), flagged=bool(flags))
    session.add(row)
    session.flush()
    return row


def _add_items(session: Session, batch: BatchRow,
               items: Iterable[NewBatchItem]) -> list[BatchItemRow]:
    rows = [BatchItemRow(batch_id=batch.id, unit=item.unit, level=str(item.level),
                         criterion=item.criterion, documents=list(item.documents),
                         state=ItemState.QUEUED, attempts=0) for item in items]
    session.add_all(rows)
    batch.total_items += len(rows)
    session.flush()
    return rows
