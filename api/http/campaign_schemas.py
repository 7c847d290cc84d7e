"""Request bodies of the assessment rounds (`/v1/campaigns`). The answers are the service's
plain objects (`kiemchung.api.campaigns`: `assessment_view`, `CampaignOutcome.as_dict`, …)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

from kiemchung.api.http.schemas import Sha256, Text, Unit, Year, no_nul
from kiemchung.models.verdicts import VerdictStatus
from kiemchung.verifier.ruleset import Level

FreeText = Annotated[str, StringConstraints(strip_whitespace=True, max_length=5000),
                     AfterValidator(no_nul)]
CriterionId = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                               max_length=32, pattern=r"^[0-9A-Za-z.]+$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class CampaignCreate(_Body):
    name: Text = Field(description="e.g. Đánh giá chỉ số DTI năm 2024")
    ruleset: Text = "hue-2024"
    year: Year


class CampaignUnitCreate(_Body):
    unit: Unit
    level: Level
    parent: Unit | None = Field(None, description="the unit that assesses it (a commune's "
                                                  "district), if any")


class PhaseWindow(_Body):
    opens_on: dt.date = Field(description="first day of the window (Vietnam's calendar)")
    closes_on: dt.date = Field(description="last day of the window, included")


class AppraiserAssign(_Body):
    criterion_prefixes: list[CriterionId] = Field(
        [], max_length=100, description="criterion id prefixes the key appraises in this "
                                        "campaign (\"2.\": index 2); empty: every criterion")


class AssessmentDraft(_Body):
    unit: Unit | None = Field(None, description="the key's own unit if left out")
    criterion: CriterionId
    claimed_points: float = Field(ge=0)
    figures: dict[str, Any] | None = Field(None, description="figures the claim rests on, "
                                                             "as a JSON object")
    evidence: list[Sha256] = Field([], max_length=200, description="documents the unit "
                                                                   "uploaded (POST /v1/documents)")
    explanation: FreeText | None = Field(None, description="why there is no file, if so")


class ApprovalCreate(_Body):
    unit: Unit | None = Field(None, description="the key's own unit if left out")
    criteria: list[CriterionId] = Field([], max_length=500,
                                        description="the drafts to approve; empty: all")


class AppraisalCreate(_Body):
    round: Literal[1, 2] = 1
    action: Literal["confirm", "change"]
    status: VerdictStatus | None = Field(None, description="for a change: the new status")
    points: float | None = Field(None, ge=0, description="for a change: the new points")
    reason: FreeText | None = Field(None, description="for a change: why (mandatory)")
    remark: FreeText | None = Field(None, description="a remark to the unit")


class ExplanationCreate(_Body):
    text: FreeText | None = None
    evidence: list[Sha256] = Field([], max_length=200, description="new documents the unit "
                                                                   "uploaded")


class ReopenCreate(_Body):
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1,
                                             max_length=5000),
                      AfterValidator(no_nul)] = Field(description="why the published round is "
                                                                  "re-opened (kept with it)")
