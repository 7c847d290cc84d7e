"""The tables kiemchung keeps: documents, inspections, verdicts, batches, overrides, the audit log
and API keys. The schema itself is created by the Alembic migrations in `api/store/migrations/`.

Rows are written once and read many times: a verdict is never changed (an override is a new
row), the audit log is append-only, and a document's bytes live once on disk, named by SHA-256.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    false,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


class Role(StrEnum):
    UNIT = "unit"              # a unit checks and submits its own documents only
    APPRAISER = "appraiser"    # the appraising agency: batches, verdicts, overrides
    AUDITOR = "auditor"        # samples flagged items, overrides
    ADMIN = "admin"
    PORTAL = "portal"          # the DTI portal calling over HTTP


class BatchStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"


class ItemState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UtcDateTime(TypeDecorator):
    """Aware datetimes in, aware UTC datetimes out. SQLite keeps no zone, so every value is
    stored as UTC; then text comparison (the sweeper's `deadline < now`) orders correctly."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass an aware one (UTC)")
        return value.astimezone(dt.UTC)

    def process_result_value(self, value, dialect):
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return value


# JSONB on PostgreSQL: indexable and queryable when listing flagged items.
Json = JSON().with_variant(JSONB(), "postgresql")
Sha256 = String(64)

# Stable constraint names, so later migrations can alter them on every backend.
NAMING = {"ix": "ix_%(column_0_label)s", "uq": "uq_%(table_name)s_%(column_0_name)s",
          "ck": "ck_%(table_name)s_%(constraint_name)s",
          "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
          "pk": "pk_%(table_name)s"}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)


def _values(enum) -> str:
    return ", ".join(f"'{member.value}'" for member in enum)


class DocumentRow(Base):
    """One file's bytes, once, however often and under whatever names it was uploaded."""

    __tablename__ = "documents"

    sha256: Mapped[str] = mapped_column(Sha256, primary_key=True)
    size: Mapped[int] = mapped_column(BigInteger)
    media_kind: Mapped[str] = mapped_column(String(16))        # pdf, image or other
    stored_path: Mapped[str] = mapped_column(String(200))      # relative to the data dir
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    uploads: Mapped[list[DocumentName]] = relationship(
        lazy="selectin", order_by="DocumentName.id", back_populates="document")

    @property
    def names(self) -> list[str]:
        return list(dict.fromkeys(u.name for u in self.uploads))


class DocumentName(Base):
    """A name a document was uploaded under, and by whom: a unit sees the documents it uploaded."""

    __tablename__ = "document_names"
    # Once per (document, name, unit), the unit's NULL included (a unique constraint lets NULLs
    # repeat): concurrent uploads insert ON CONFLICT DO NOTHING against this index.
    __table_args__ = (Index("uq_document_names_upload", "document_sha256", "name",
                            text("coalesce(unit, '')"), unique=True),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_sha256: Mapped[str] = mapped_column(ForeignKey("documents.sha256"), index=True)
    name: Mapped[str] = mapped_column(String(500))
    unit: Mapped[str | None] = mapped_column(String(300), index=True)
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    document: Mapped[DocumentRow] = relationship(back_populates="uploads")


class InspectionRow(Base):
    """`Inspection.to_json()` of a document, once per extractor version."""

    __tablename__ = "inspections"
    __table_args__ = (UniqueConstraint("document_sha256", "extractor_version",
                                       name="uq_inspections_document_version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    document_sha256: Mapped[str] = mapped_column(ForeignKey("documents.sha256"))
    extractor_version: Mapped[str] = mapped_column(String(64))
    inspection: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class VerdictRow(Base):
    """`Verdict.to_json()` of one criterion for one unit, with what produced it. Never updated."""

    __tablename__ = "verdicts"
    __table_args__ = (Index("ix_verdicts_unit_criterion", "unit", "criterion"),
                      Index("ix_verdicts_status", "status"),
                      Index("ix_verdicts_flagged_id", "flagged", "id"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    unit: Mapped[str | None] = mapped_column(String(300))
    level: Mapped[str] = mapped_column(String(16))
    year: Mapped[int] = mapped_column(Integer)
    criterion: Mapped[str] = mapped_column(String(32))
    ruleset_id: Mapped[str] = mapped_column(String(100))
    ruleset_version: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16))
    points: Mapped[float] = mapped_column(Float)
    max_points: Mapped[float] = mapped_column(Float)
    verdict: Mapped[dict[str, Any]] = mapped_column(Json)
    evidence: Mapped[list[str]] = mapped_column(Json)           # the documents' sha256s
    # Failed, in need of review, or a signature check in doubt: what `/v1/flagged` lists.
    flagged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class BatchRow(Base):
    __tablename__ = "batches"
    __table_args__ = (CheckConstraint(f"status IN ({_values(BatchStatus)})", name="status"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)          # a UUID
    created_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    ruleset_id: Mapped[str] = mapped_column(String(100))
    year: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.QUEUED.value)
    total_items: Mapped[int] = mapped_column(Integer, default=0)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class BatchItemRow(Base):
    """One criterion of one unit in a batch: the job table workers claim from. An item stuck
    in `running` past its deadline is re-queued by the sweeper, so no broker can lose work."""

    __tablename__ = "batch_items"
    __table_args__ = (CheckConstraint(f"state IN ({_values(ItemState)})", name="state"),
                      Index("ix_batch_items_batch_state", "batch_id", "state"),
                      Index("ix_batch_items_state_deadline", "state", "deadline"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    batch_id: Mapped[str] = mapped_column(ForeignKey("batches.id"))
    unit: Mapped[str] = mapped_column(String(300))
    level: Mapped[str] = mapped_column(String(16))
    criterion: Mapped[str] = mapped_column(String(32))
    documents: Mapped[list[str]] = mapped_column(Json)          # the evidence sha256s
    state: Mapped[str] = mapped_column(String(16), default=ItemState.QUEUED.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    worker_id: Mapped[str | None] = mapped_column(String(200))
    deadline: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)   # its task, last sent
    started_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    error: Mapped[str | None] = mapped_column(Text)
    verdict_id: Mapped[int | None] = mapped_column(ForeignKey("verdicts.id"))


class OverrideRow(Base):
    """A person's change to a verdict; the verdict row itself stays as the verifier wrote it."""

    __tablename__ = "overrides"
    __table_args__ = (CheckConstraint("length(reason) > 0", name="reason"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    verdict_id: Mapped[int] = mapped_column(ForeignKey("verdicts.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    points: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(Text)
    by_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class AuditEntry(Base):
    """Append-only: triggers in the migration refuse UPDATE and DELETE on both backends."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"), index=True)
    action: Mapped[str] = mapped_column(String(100), index=True)
    subject: Mapped[str] = mapped_column(String(300), index=True)
    details: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)


class ApiKey(Base):
    """Only the SHA-256 of the token is kept; the token is shown once, when the key is made."""

    __tablename__ = "api_keys"
    __table_args__ = (CheckConstraint(f"role IN ({_values(Role)})", name="role"),
                      CheckConstraint("(role = 'unit') = (unit IS NOT NULL)", name="unit"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    unit: Mapped[str | None] = mapped_column(String(300))
    key_hash: Mapped[str] = mapped_column(Sha256, unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    expires_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)     # None: never

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def expired(self, now: dt.datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or utcnow())


class IdempotentRequest(Base):
    """A request sent with an `Idempotency-Key`, per API key: the fingerprint of its body and,
    once answered, the answer, given again to a retry instead of doing the work twice."""

    __tablename__ = "idempotency_keys"
    __table_args__ = (UniqueConstraint("owner_key_id", "scope", "key",
                                       name="uq_idempotency_keys_owner_scope_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    scope: Mapped[str] = mapped_column(String(32))              # batches, verdicts
    key: Mapped[str] = mapped_column(String(200))
    request_hash: Mapped[str] = mapped_column(Sha256)
    status_code: Mapped[int | None] = mapped_column(Integer)    # None: still being answered
    response: Mapped[dict[str, Any] | None] = mapped_column(Json)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


# -- assessment rounds (đợt đánh giá): api/store/campaigns.py, api/campaigns.py ---------------

class Phase(StrEnum):
    """The steps of a round, in order; each open in the window the host sets for it."""

    SELF_ASSESSMENT = "self_assessment"      # units draft and approve their claims
    APPRAISAL = "appraisal"                  # round 1: appraisers confirm or change
    EXPLANATION = "explanation"              # giải trình: units answer the remarks
    SECOND_APPRAISAL = "second_appraisal"    # round 2
    PUBLICATION = "publication"


class AssessmentState(StrEnum):
    DRAFT = "draft"              # drafted by one key of the unit
    SUBMITTED = "submitted"      # approved by a second key: counts, and is pre-screened


class CampaignRow(Base):
    """An assessment round: one rule set and year, the units assessed, the phase windows."""

    __tablename__ = "campaigns"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(300))
    ruleset_id: Mapped[str] = mapped_column(String(100))
    year: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class CampaignUnitRow(Base):
    """A unit assessed in a round, its level and the unit that assesses it (a commune's
    district), if any."""

    __tablename__ = "campaign_units"
    __table_args__ = (UniqueConstraint("campaign_id", "unit",
                                       name="uq_campaign_units_campaign_unit"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    unit: Mapped[str] = mapped_column(String(300))
    level: Mapped[str] = mapped_column(String(16))
    parent: Mapped[str | None] = mapped_column(String(300))


class CampaignPhaseRow(Base):
    """The window of one phase of a round, both days included (Vietnam's calendar day)."""

    __tablename__ = "campaign_phases"
    __table_args__ = (UniqueConstraint("campaign_id", "phase",
                                       name="uq_campaign_phases_campaign_phase"),
                      CheckConstraint(f"phase IN ({_values(Phase)})", name="phase"),
                      CheckConstraint("opens_on <= closes_on", name="window"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    phase: Mapped[str] = mapped_column(String(32))
    opens_on: Mapped[dt.date] = mapped_column()
    closes_on: Mapped[dt.date] = mapped_column()
    set_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    set_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class CampaignAppraiserRow(Base):
    """An appraiser key limited, in one round, to the criteria under these id prefixes
    ("2." or "2": index 2). An appraiser key without a row appraises every criterion."""

    __tablename__ = "campaign_appraisers"
    __table_args__ = (UniqueConstraint("campaign_id", "key_id",
                                       name="uq_campaign_appraisers_campaign_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"))
    criterion_prefixes: Mapped[list[str]] = mapped_column(Json)


class SelfAssessmentRow(Base):
    """A unit's claim for one criterion: points, figures, evidence (sha256s) or an explanation
    when there is no file; `batch_item_id` is its pre-screening."""

    __tablename__ = "self_assessments"
    __table_args__ = (UniqueConstraint("campaign_id", "unit", "criterion",
                                       name="uq_self_assessments_campaign_unit_criterion"),
                      CheckConstraint(f"state IN ({_values(AssessmentState)})", name="state"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    unit: Mapped[str] = mapped_column(String(300))
    level: Mapped[str] = mapped_column(String(16))
    criterion: Mapped[str] = mapped_column(String(32))
    state: Mapped[str] = mapped_column(String(16), default=AssessmentState.DRAFT.value)
    claimed_points: Mapped[float] = mapped_column(Float)
    figures: Mapped[dict[str, Any] | None] = mapped_column(Json)
    evidence: Mapped[list[str]] = mapped_column(Json)
    explanation: Mapped[str | None] = mapped_column(Text)
    drafted_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    drafted_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    batch_item_id: Mapped[int | None] = mapped_column(ForeignKey("batch_items.id"))


class AppraisalRow(Base):
    """An appraiser's decision on a submitted criterion, round 1 or 2: confirm the verdict, or
    change it (an override of the verdict, with its reason); a remark to the unit. The last
    decision of a round is the one that counts."""

    __tablename__ = "appraisals"
    __table_args__ = (CheckConstraint("round IN (1, 2)", name="round"),
                      CheckConstraint("action IN ('confirm', 'change')", name="action"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("self_assessments.id"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(16))
    points: Mapped[float] = mapped_column(Float)
    reason: Mapped[str | None] = mapped_column(Text)
    remark: Mapped[str | None] = mapped_column(Text)
    verdict_id: Mapped[int | None] = mapped_column(ForeignKey("verdicts.id"))
    override_id: Mapped[int | None] = mapped_column(ForeignKey("overrides.id"))
    by_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class ExplanationRow(Base):
    """A unit's answer (giải trình) to a round-1 remark: text and/or new evidence, the new
    evidence pre-screened again (`batch_item_id`)."""

    __tablename__ = "explanations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    assessment_id: Mapped[int] = mapped_column(ForeignKey("self_assessments.id"), index=True)
    appraisal_id: Mapped[int | None] = mapped_column(ForeignKey("appraisals.id"))
    text: Mapped[str | None] = mapped_column(Text)
    evidence: Mapped[list[str]] = mapped_column(Json)
    batch_item_id: Mapped[int | None] = mapped_column(ForeignKey("batch_items.id"))
    by_key_id: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class DocumentFingerprintRow(Base):
    """A document's fingerprints for finding it again under other bytes (re-saved, re-scanned,
    lightly edited: `extractors/fingerprint.py`), and the facts it was read with, once per
    document; a row of another `extractor_version` is made again."""

    __tablename__ = "document_fingerprints"

    sha256: Mapped[str] = mapped_column(ForeignKey("documents.sha256"), primary_key=True)
    extractor_version: Mapped[str] = mapped_column(String(64))
    minhash: Mapped[list[int] | None] = mapped_column(Json)     # None: too little text
    phash: Mapped[str | None] = mapped_column(String(64))       # hex; None: no image
    scanned: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    words: Mapped[int] = mapped_column(Integer, default=0)
    facts: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)  # number, issue_date, issuer
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class PublicationRow(Base):
    """A campaign's published result, frozen: the whole publication as JSON, its digest, the
    rule set and version it was computed with. Re-opening (an admin, with a reason) marks it
    re-opened and keeps it; the next publication has the next number."""

    __tablename__ = "publications"
    __table_args__ = (UniqueConstraint("campaign_id", "number",
                                       name="uq_publications_campaign_number"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id"))
    number: Mapped[int] = mapped_column(Integer)
    digest: Mapped[str] = mapped_column(Sha256)
    ruleset_id: Mapped[str] = mapped_column(String(100))
    ruleset_version: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(Json)
    published_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    published_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    reopened_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    reopened_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    reopen_reason: Mapped[str | None] = mapped_column(Text)


# -- the web pages: api/store/users.py, api/web/ -------------------------------------------------

class UserRow(Base):
    """A person who logs in to the pages. Each acts through a key of its own (`key_id`), made
    with the user and never shown: the pages then share the API's roles, unit scoping, audit
    log and campaign steps (a draft approved by a second person is a second key)."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)    # NFC, lower-cased
    display_name: Mapped[str] = mapped_column(String(200))
    password_hash: Mapped[str] = mapped_column(String(200))            # Argon2id
    key_id: Mapped[int] = mapped_column(ForeignKey("api_keys.id"), unique=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    disabled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)

    key: Mapped[ApiKey] = relationship(lazy="joined", innerjoin=True)


class WebSessionRow(Base):
    """A logged-in browser: only the SHA-256 of its cookie is kept, with the CSRF token its
    forms must send back. Logging out or disabling the user ends it."""

    __tablename__ = "web_sessions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(Sha256, unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    csrf_token: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UtcDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)


class SavedViewRow(Base):
    """A filtered list an appraiser keeps under a name: the page and its query string."""

    __tablename__ = "saved_views"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_saved_views_user_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    page: Mapped[str] = mapped_column(String(100))                     # e.g. "verdicts"
    query: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class SampleRow(Base):
    """An auditor's drawn sample, kept so it can be worked through: the seed and the filters
    it was drawn with (the draw is also in the audit log)."""

    __tablename__ = "samples"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    seed: Mapped[int] = mapped_column(BigInteger)
    params: Mapped[dict[str, Any]] = mapped_column(Json, default=dict)
    population: Mapped[int] = mapped_column(Integer)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class SampleItemRow(Base):
    """One verdict of a sample and the auditor's outcome for it, once decided."""

    __tablename__ = "sample_items"
    __table_args__ = (UniqueConstraint("sample_id", "verdict_id",
                                       name="uq_sample_items_sample_verdict"),
                      CheckConstraint("outcome IS NULL OR outcome IN "
                                      "('agree', 'disagree', 'unsure')", name="outcome"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sample_id: Mapped[int] = mapped_column(ForeignKey("samples.id"), index=True)
    verdict_id: Mapped[int] = mapped_column(ForeignKey("verdicts.id"))
    outcome: Mapped[str | None] = mapped_column(String(16))
    note: Mapped[str | None] = mapped_column(Text)
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("api_keys.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime)
