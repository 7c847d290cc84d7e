"""Rule sets: a province's DTI criteria as data (YAML), validated with pydantic.

A rule set names its source decision, the levels it covers, the data window, its main indices
and their criteria with points per level. A criterion is backed either by documents — then its
`evidence` says which checks every file must pass and how the qualifying files turn into a
share of the points — or by platform data (Hue-S, IOC, …), which no file can prove: such a
criterion is reported as not verifiable here.

Evidence in YAML:

    evidence:
      document:                       # every file must pass these to count
        - {check: doc_type_is, types: [ke_hoach]}
        - {check: digitally_signed}
      score:                          # exactly one of tiers / ratio / per_document
        tiers:                        # the first tier whose checks all pass gives its share
          - {share: 1.0, checks: [{check: issued_in_month, month: 1}]}
          - {share: 0.5, checks: [{check: issued_in_year}]}

Check names refer to functions registered in `checks/`; their parameters are the other keys.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from kiemchung.models.errors import ExitCode, KiemchungError

RULESET_DIR = Path(__file__).resolve().parent / "rulesets"


class Level(StrEnum):
    SO = "so"          # provincial department (Sở, ban, ngành)
    HUYEN = "huyen"    # district (UBND huyện, thị xã, thành phố)
    XA = "xa"          # commune (UBND xã, phường, thị trấn)


class RuleSetError(KiemchungError):
    exit_code = ExitCode.BAD_INPUT


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CheckSpec(BaseModel):
    """One check invocation: its registered name and its parameters."""

    model_config = ConfigDict(extra="allow", frozen=True)
    check: str

    @property
    def params(self) -> dict:
        return dict(self.model_extra or {})


class Tier(_Strict):
    share: Annotated[float, Field(ge=0, le=1)]
    checks: list[CheckSpec] = []
    note: str | None = None


class Ratio(_Strict):
    """Share = qualifying files that also pass `numerator` ÷ all qualifying files."""

    numerator: list[CheckSpec]
    note: str | None = None


class PerDocument(_Strict):
    """Share = min(1, qualifying files ÷ full_at) — e.g. directive documents counted."""

    full_at: Annotated[int, Field(ge=1)]
    note: str | None = None


class Score(_Strict):
    tiers: list[Tier] | None = None
    ratio: Ratio | None = None
    per_document: PerDocument | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Score:
        given = [name for name in ("tiers", "ratio", "per_document") if getattr(self, name)]
        if len(given) != 1:
            raise ValueError(f"score needs exactly one of tiers, ratio, per_document; got {given}")
        return self


class Evidence(_Strict):
    document: list[CheckSpec] = []
    score: Score = Score(tiers=[Tier(share=1.0)])
    allow_scans: bool = False          # a scan with a red seal may stand for the signed file
    # What the files cannot show and a person must judge (e.g. "teams founded ÷ hamlets"): when
    # set, qualifying files make the criterion `needs_review` and the score gives the ceiling.
    needs_review: str | None = None
    note: str | None = None


class SignatureRules(_Strict):
    """How the rule set reads digital signatures; passed to `digitally_signed` on every
    criterion (a criterion's own parameters on the check win).

    `person_only`: an issued e-document carries the person's and then the agency's signature
    (Decree 30/2020, art. 8 and appendix I); whether one with the person's alone counts is
    the province's choice: `review` (a person decides; the default), `accept`, `refuse`.
    `strong_digest`: refuse SHA-1 signatures for this rule set, although the default policy
    accepts them with a warning (the provincial e-office tools still sign with SHA-1)."""

    person_only: Literal["review", "accept", "refuse"] = "review"
    strong_digest: bool = False

    def params(self) -> dict:
        return {"person_only": self.person_only, "strong_digest": self.strong_digest}


class Criterion(_Strict):
    id: str
    name: str
    requirement: str | None = None     # "Điều kiện" as printed
    evidence_text: str | None = None   # "Tài liệu kiểm chứng" as printed
    points: dict[Level, Annotated[float, Field(ge=0)]]   # levels it applies to, with points
    backed_by: Literal["documents", "platform", "self_report"] = "documents"
    platform: str | None = None        # e.g. "Hue-S", "IOC", "cổng dịch vụ công"
    evidence: Evidence | None = None
    note: str | None = None

    @model_validator(mode="after")
    def _evidence_for_documents(self) -> Criterion:
        if self.backed_by == "documents" and self.evidence is None:
            raise ValueError(f"criterion {self.id}: backed by documents but has no evidence rules")
        return self


class MainIndex(_Strict):
    id: str
    name: str
    criteria: list[Criterion]
    # Declared maximum per level, for seeds that give a main index's points but not its criteria
    # (Bắc Giang); when criteria are given, their points are what counts.
    points: dict[Level, Annotated[float, Field(ge=0)]] = {}


class Totals(_Strict):
    points: float
    criteria: int


class DataWindow(_Strict):
    """Dates as MM-DD; the window runs from `start` of (year + start_year_offset) to `end`."""

    start: str
    end: str
    start_year_offset: int = 0

    def for_year(self, year: int) -> tuple[dt.date, dt.date]:
        month, day = map(int, self.start.split("-"))
        start = dt.date(year + self.start_year_offset, month, day)
        month, day = map(int, self.end.split("-"))
        return start, dt.date(year, month, day)


# The phases of an assessment round (api/campaigns.py), in order.
CAMPAIGN_PHASES = ("self_assessment", "appraisal", "explanation", "second_appraisal",
                   "publication")


class PhaseWindowRule(_Strict):
    """A phase's window as the seed gives it: MM-DD to MM-DD of the evaluated year."""

    start: str
    end: str

    def for_year(self, year: int) -> tuple[dt.date, dt.date]:
        (m1, d1), (m2, d2) = (map(int, value.split("-")) for value in (self.start, self.end))
        return dt.date(year, m1, d1), dt.date(year, m2, d2)


class Band(_Strict):
    name: str
    min_share: Annotated[float, Field(ge=0, le=1)]


class Scoring(_Strict):
    # percent_of_applicable: achieved × 100 / maximum of the applicable criteria (Huế);
    # sum: plain sum of points (Vĩnh Long, Bắc Giang).
    formula: Literal["percent_of_applicable", "sum"] = "sum"
    # Vĩnh Long: a criterion not applicable to a unit scores the best score other units got.
    not_applicable: Literal["excluded", "best_of_others", "maximum"] = "excluded"
    bands: list[Band] = []


class Source(_Strict):
    number: str
    date: dt.date
    issuer: str
    title: str | None = None


class RuleSet(_Strict):
    id: str
    name: str
    province: str
    source: Source
    levels: list[Level]
    data_window: DataWindow | None = None
    # The phase windows the seed fixes (a campaign starts with them; the host sets the rest).
    phases: dict[str, PhaseWindowRule] = {}
    scoring: Scoring = Scoring()
    declared_totals: dict[Level, Totals] = {}
    # The province's evidence policy: may a scan of the signed paper document stand for a
    # digitally signed file (Cần Thơ: yes; Huế: no)? Every criterion's evidence.allow_scans
    # follows it; it is stated here too so that a rule set without criteria still says so.
    allow_scans: bool = False
    signatures: SignatureRules = SignatureRules()
    indices: list[MainIndex] = []
    notes: list[str] = []

    @model_validator(mode="after")
    def _known_phases(self) -> RuleSet:
        unknown = sorted(set(self.phases) - set(CAMPAIGN_PHASES))
        if unknown:
            raise ValueError(f"unknown phases {', '.join(unknown)} (known: "
                             f"{', '.join(CAMPAIGN_PHASES)})")
        return self

    def criteria(self, level: Level | None = None) -> list[Criterion]:
        found = [c for index in self.indices for c in index.criteria]
        return [c for c in found if level is None or level in c.points]

    def criterion(self, criterion_id: str) -> Criterion:
        for criterion in self.criteria():
            if criterion.id == criterion_id:
                return criterion
        known = ", ".join(c.id for c in self.criteria())
        raise RuleSetError(f"rule set {self.id} has no criterion {criterion_id!r} (known: {known})")

    def computed_totals(self, level: Level) -> Totals:
        criteria = self.criteria(level)
        return Totals(points=sum(c.points[level] for c in criteria), criteria=len(criteria))

    def discrepancies(self) -> list[str]:
        """Declared totals that differ from the sums of the table: reported, never hidden."""
        found = []
        for level, declared in self.declared_totals.items():
            computed = self.computed_totals(level)
            if (computed.points, computed.criteria) != (declared.points, declared.criteria):
                found.append(f"{self.id} level {level.value}: declared {declared.points:g} points "
                             f"/ {declared.criteria} criteria, the table sums to "
                             f"{computed.points:g} points / {computed.criteria} criteria")
        return found


def _line_of(document: yaml.Node | None, location: tuple) -> int | None:
    """The YAML line (1-based) of a pydantic error location, walking the node tree.

    A mapping entry is reported at its key's line (a block value starts on the next line); where
    the path ends early — a missing required key — at the line of the deepest node found, the
    mapping that lacks the key.
    """
    if document is None:
        return None
    node, line = document, document.start_mark.line
    for key in location:
        if isinstance(node, yaml.MappingNode):
            entry = next(((k, v) for k, v in node.value if k.value == str(key)), None)
            if entry is None:
                break
            line, node = entry[0].start_mark.line, entry[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line
        else:
            break
    return line + 1


def load_ruleset_file(path: Path) -> RuleSet:
    """Parse and validate; an invalid file is refused naming the file, the line and the fault."""
    try:
        text = path.read_text(encoding="utf-8")
        tree = yaml.compose(text)
        data = yaml.safe_load(text)
    except OSError as error:
        raise RuleSetError(f"{path}: cannot be read ({error})") from error
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f":{mark.line + 1}" if mark else ""
        raise RuleSetError(
            f"{path}{where}: not valid YAML ({getattr(error, 'problem', error)})") from error
    try:
        return RuleSet.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        line = _line_of(tree, first["loc"])
        where = ".".join(str(part) for part in first["loc"])
        raise RuleSetError(f"{path}{f':{line}' if line else ''}: {f'{where}: ' if where else ''}"
                           f"{first['msg']}") from None


def available_rulesets(directory: Path = RULESET_DIR) -> dict[str, Path]:
    return {path.stem: path for path in sorted(directory.glob("*.yaml"))}


def load_ruleset(ruleset_id: str, directory: Path = RULESET_DIR) -> RuleSet:
    known = available_rulesets(directory)
    if ruleset_id not in known:
        raise RuleSetError(f"no rule set {ruleset_id!r} (known: {', '.join(known) or 'none'})")
    ruleset = load_ruleset_file(known[ruleset_id])
    if ruleset.id != ruleset_id:
        raise RuleSetError(f"{known[ruleset_id]}: its id is {ruleset.id!r}, not {ruleset_id!r}")
    return ruleset
