"""What the verifier concludes: one result per check, one verdict per criterion.

Facts are fields; summaries are properties. A verdict's status follows from its points, its
maximum and whether a person must judge, so it can never disagree with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kiemchung.models.document import BBox


class CheckStatus(StrEnum):
    PASS = "pass"
    FAIL = "fail"
    NEEDS_REVIEW = "needs_review"       # the file may be right, but a person must judge
    NOT_APPLICABLE = "not_applicable"   # the check has nothing to look at in this file


class VerdictStatus(StrEnum):
    """Contract values of a verdict's `status`."""

    PASS = "pass"
    PARTIAL = "partial"
    FAIL = "fail"
    NEEDS_REVIEW = "needs_review"
    NOT_APPLICABLE = "not_applicable"


@dataclass(frozen=True)
class CheckResult:
    name: str                       # the registered check name, as the rule set writes it
    status: CheckStatus
    message: str                    # one human line, English
    file: str | None = None         # the evidence file looked at
    page: int | None = None         # 1-based page of the fact the check used
    span: str | None = None         # the text the fact was read from
    bbox: BBox | None = None        # where that text is on the page

    @property
    def passed(self) -> bool:
        return self.status == CheckStatus.PASS

    @property
    def failed(self) -> bool:
        return self.status == CheckStatus.FAIL

    def to_json(self) -> dict:
        return {"name": self.name, "status": self.status.value, "message": self.message,
                "file": self.file, "page": self.page, "span": self.span,
                "bbox": self.bbox.as_list() if self.bbox else None}


@dataclass(frozen=True)
class Verdict:
    criterion: str
    level: str
    unit: str | None
    year: int
    points: float
    max_points: float                   # 0 when the criterion does not apply to the level
    checks: tuple[CheckResult, ...] = ()
    ruleset_id: str = ""
    ruleset_version: str = ""           # fingerprint of the rules applied, for the audit trail
    needs_review: bool = False          # the files leave the score open: a person must judge
    summary: str = ""                   # one human line: how the points were reached

    @property
    def status(self) -> VerdictStatus:
        if self.max_points == 0:
            return VerdictStatus.NOT_APPLICABLE
        if self.needs_review:
            return VerdictStatus.NEEDS_REVIEW
        if self.points >= self.max_points:
            return VerdictStatus.PASS
        return VerdictStatus.PARTIAL if self.points > 0 else VerdictStatus.FAIL

    @property
    def share(self) -> float:
        return self.points / self.max_points if self.max_points else 0.0

    def to_json(self) -> dict:
        return {
            "criterion": self.criterion,
            "status": self.status.value,
            "points": points_value(self.points),
            "max_points": points_value(self.max_points),
            "checks": [c.to_json() for c in self.checks],
            "level": self.level,
            "unit": self.unit,
            "year": self.year,
            "summary": self.summary,
            "ruleset": self.ruleset_id,
            "ruleset_version": self.ruleset_version,
        }


def points_value(value: float) -> float | int:
    """Whole points print as integers (10, not 10.0); halves stay as they are."""
    value = round(value, 2)
    return int(value) if value == int(value) else value
