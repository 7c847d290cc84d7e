"""Request and response bodies. `XCreate` is what a client sends, `XPublic` what it gets back.

The inspection and verdict objects are the CLI's (`inspect --json`, `verify --json`); their
models name the contract's fields for the OpenAPI page and let the rest of the object through.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from fastapi import Path, Query
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    model_validator,
)

from kiemchung.models.document import nfc
from kiemchung.models.verdicts import VerdictStatus
from kiemchung.verifier.ruleset import Level

# The id columns are INTEGER (PostgreSQL's is 32-bit): a larger id is refused as invalid
# rather than sent to the database, which fails on it (SQLite past 64 bits, PostgreSQL past 31).
MAX_ROW_ID = 2**31 - 1
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
AfterId = Annotated[int, Query(ge=0, le=MAX_ROW_ID, description="the last id seen")]
MAX_SEED = 2**63 - 1


def one_line(value: str) -> str:
    """No control characters: PostgreSQL refuses NUL in text, and a line break in a name would
    forge lines in logs and reports. Unicode in NFC, as ZIP paths are read, so a name typed on
    macOS (NFD) is the same unit as on Windows."""
    if any(0 <= ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters (NUL, line breaks, tabs…)")
    return nfc(value)


def no_nul(value: str) -> str:
    """Free text (a reason): line breaks and tabs allowed, NUL and other controls not."""
    if any((ord(ch) < 32 and ch not in "\t\n\r") or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain NUL or other control characters")
    return nfc(value)


Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$"),
                   Field(description="SHA-256 of an uploaded document, lower-case hex")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=300),
                 AfterValidator(one_line)]
Unit = Text          # a unit's name, e.g. UBND huyện Phú Vang
WebhookUrl = Annotated[str, StringConstraints(pattern=r"^https?://\S+$", max_length=2000),
                       AfterValidator(one_line)]
# Whole points stay integers (10, not 10.0), as the CLI prints them.
Points = int | float
Year = Annotated[int, Field(ge=2000, le=2100, description="the evaluated year")]


class _Open(BaseModel):
    """A contract object: the named fields and whatever else the CLI prints."""

    model_config = ConfigDict(extra="allow")


class SignaturePublic(_Open):
    signer_name: str
    signer_org: str | None = None
    signing_time: str | None = None
    intact: bool
    trusted: bool
    valid: bool
    modified_after_signing: bool
    status: str


class SignerPublic(_Open):
    name: str | None = None
    title: str | None = None
    authority: str | None = None


class DocumentPublic(_Open):
    """`kiemchung inspect --json` of the document."""

    sha256: str
    file: str | None = None
    pages: int
    text_source: str
    doc_type: str | None = None
    number: str | None = None
    issue_date: str | None = None
    place: str | None = None
    issuer: str | None = None
    subject: str | None = None
    signer: SignerPublic | None = None
    signatures: list[SignaturePublic] = []
    has_seal: bool


class CheckPublic(_Open):
    name: str
    status: str
    message: str
    file: str | None = None
    page: int | None = None


class VerdictCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ruleset: Text = "hue-2024"
    criterion: Text = Field(description="criterion id, e.g. 2.1")
    level: Level
    year: Year
    unit: Unit | None = Field(None, description="the unit evaluated; a unit key's own if "
                                                "left out")
    documents: list[Sha256] = Field([], max_length=200)


class OverrideCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: VerdictStatus
    points: float = Field(ge=0)
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=5000), AfterValidator(no_nul)] = Field(
        description="why the verdict is changed (mandatory)")


class OverridePublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    verdict_id: int
    status: str
    points: Points
    reason: str
    by_key_id: int | None
    created_at: dt.datetime


class InForce(BaseModel):
    """What counts now: the last override, else the verifier's verdict."""

    status: str
    points: Points
    override_id: int | None = None


class VerdictPublic(_Open):
    """`kiemchung verify --json` plus the stored verdict's id, its evidence and overrides."""

    id: int
    criterion: str
    status: str
    points: Points
    max_points: Points
    checks: list[CheckPublic]
    level: str
    unit: str | None = None
    year: int
    evidence: list[str] = []
    created_at: dt.datetime
    overrides: list[OverridePublic] = []
    in_force: InForce


class BatchItemCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    unit: Unit
    level: Level
    criterion: Text
    documents: list[Sha256] = Field([], max_length=200)


class BatchCreate(BaseModel):
    """A manifest of documents already uploaded."""

    model_config = ConfigDict(extra="forbid")

    ruleset: Text = "hue-2024"
    year: Year
    webhook_url: WebhookUrl | None = None
    items: list[BatchItemCreate] = Field(min_length=1, max_length=100_000)


class BatchZipForm(BaseModel):
    """The form fields sent with a ZIP laid out unit/criterion/files."""

    ruleset: Text = "hue-2024"
    year: Year
    level: Level | None = Field(None, description="level of every unit (else read from the "
                                                  "unit's name)")
    webhook_url: WebhookUrl | None = None


class BatchAccepted(BaseModel):
    batch_id: str


class BatchItemPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    unit: str
    level: str
    criterion: str
    documents: list[str]
    state: str
    attempts: int
    error: str | None = None
    verdict_id: int | None = None
    started_at: dt.datetime | None = None
    finished_at: dt.datetime | None = None


class BatchPublic(BaseModel):
    batch_id: str
    status: str
    ruleset: str
    year: int
    total: int
    counts: dict[str, int] = Field(description="items per state: queued, running, done, "
                                               "failed")
    finished: bool
    current: BatchItemPublic | None = Field(None, description="the item started most recently")
    created_at: dt.datetime
    finished_at: dt.datetime | None = None


class BatchResultPublic(BatchItemPublic):
    verdict: VerdictPublic | None = None


class BatchResults(BaseModel):
    batch_id: str
    status: str
    items: list[BatchResultPublic]


class FlaggedItem(BaseModel):
    """A verdict a person should look at, and why."""

    verdict_id: int
    unit: str | None
    level: str
    year: int
    criterion: str
    ruleset: str
    status: str
    points: Points
    max_points: Points
    flags: list[str] = Field(description="fail, needs_review, signature:<check>")
    problem_checks: list[CheckPublic] = Field(description="checks that failed or need review")
    batch_id: str | None = None
    in_force: InForce


class SampleCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    size: int | None = Field(None, ge=1, le=100_000, description="how many items")
    rate: float | None = Field(None, gt=0, le=1, description="or which share of the items")
    seed: int | None = Field(None, ge=0, le=MAX_SEED,
                             description="the same seed over the same items draws the same "
                                         "sample; one is chosen if left out")
    only_flagged: bool = True
    unit: Unit | None = None
    criterion: Text | None = None

    @model_validator(mode="after")
    def _size_or_rate(self) -> SampleCreate:
        if (self.size is None) == (self.rate is None):
            raise ValueError("give either size or rate")
        return self


class SamplePublic(BaseModel):
    sample_id: int = Field(description="the kept sample, to work through on /samples/{id}")
    seed: int
    population: int = Field(description="how many items the sample was drawn from")
    size: int
    only_flagged: bool
    items: list[FlaggedItem]


class AuditEntryPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: dt.datetime
    actor_key_id: int | None
    action: str
    subject: str
    details: dict[str, Any]


class ReadinessPublic(BaseModel):
    status: Literal["ready"]
    checks: dict[str, dict[str, Any]]
