"""A campaign's published result, frozen so that it can be reproduced: from the final outcome
of every criterion of every unit to totals, ranks within each level, rating bands and the
differences between what each unit claimed and what it got.

    pub = publish(ruleset, 2024, outcomes, campaign="DTI 2024", published_at=now)
    publication_csv(pub), publication_xlsx(pub)

The input is plain data (the store's final verdicts, overrides applied): one `FinalOutcome` a
unit and criterion. Totals come from `scoring.score_units` over `Verdict`s built from the
outcomes, so the formula, the rule set's not-applicable rule (`excluded`, `best_of_others`,
`maximum`), ranks and bands are exactly the scoring module's. The outcomes are refused
(`PublicationError`) rather than published when they cannot be right: a status that its points
contradict, a maximum other than the rule set's, a criterion or level the rule set does not
have, the same criterion twice, or a criterion of the unit's level missing (under
`percent_of_applicable` a missing criterion would raise the unit's percentage).

Claimed against final, per criterion: `final` is the points the criterion counts in the unit's
total (imputed ones included, 0 when it is left out), `difference = final − claimed`, a missing
claim counting as 0; a unit's difference is the sum of its criteria's.

`digest` is the SHA-256 of a canonical JSON (sorted keys, no spaces, UTF-8, numbers as
`points`-like values) of: the format, campaign, year, rule set id, `ruleset_version` and the
SHA-256 of the whole rule set, every outcome row in a fixed order (unit, level, criterion,
claimed, status, final points, maximum, sorted evidence hashes) and every computed unit
(rank, total, band, achieved, maximum, claimed total, each criterion's counted score). Not in
it: `published_at` and the store's `verdict_id`s, which do not decide the result. The same
inputs in any row order give the same digest; any change of a point, status, rule or evidence
hash changes it.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import math
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kiemchung.models.errors import ExitCode, KiemchungError
from kiemchung.models.verdicts import Verdict, VerdictStatus, points_value
from kiemchung.verifier.evaluate import ruleset_version
from kiemchung.verifier.reports import safe_row, xlsx_row
from kiemchung.verifier.ruleset import Level, RuleSet
from kiemchung.verifier.scoring import CriterionScore, UnitTotal, score_units

FORMAT = "kiemchung-publication/1"
EXCLUDED = "excluded"          # `counted_as` of a criterion left out of the unit's total
SHA256 = re.compile(r"[0-9a-f]{64}")
CSV_HEADER = ("unit", "level", "rank", "total", "band", "criterion", "status", "counted_as",
              "claimed", "final", "max_points", "difference", "evidence", "verdict_id")
UNITS_HEADER = ("rank", "unit", "level", "total", "band", "claimed_total", "final_total",
                "difference")


class PublicationError(KiemchungError):
    exit_code = ExitCode.BAD_INPUT


def _number(value: object, what: str, *, optional: bool = False) -> float | None:
    if value is None and optional:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or \
            not math.isfinite(value) or value < 0:
        raise PublicationError(f"{what} must be a finite number ≥ 0, not {value!r}")
    return float(value)


@dataclass(frozen=True)
class FinalOutcome:
    """The final outcome of one criterion for one unit, as the store holds it."""

    unit: str
    level: str
    criterion: str
    claimed_points: float | None     # the unit's self-assessment; None when it claimed nothing
    final_status: VerdictStatus      # a VerdictStatus value ("pass", …) is accepted too
    final_points: float
    max_points: float
    evidence: Sequence[str] = ()     # SHA-256 of the evidence files; kept sorted, once each
    verdict_id: int | None = None

    def __post_init__(self) -> None:
        where = f"{self.unit!r} / {self.criterion!r}"
        if not isinstance(self.unit, str) or not self.unit.strip():
            raise PublicationError(f"an outcome has no unit name ({self.unit!r})")
        if not isinstance(self.criterion, str) or not self.criterion:
            raise PublicationError(f"{where}: no criterion")
        try:
            level = Level(self.level)
            status = VerdictStatus(self.final_status)
        except ValueError as error:
            raise PublicationError(f"{where}: {error}") from None
        if self.verdict_id is not None and (isinstance(self.verdict_id, bool)
                                            or not isinstance(self.verdict_id, int)):
            raise PublicationError(f"{where}: verdict_id must be an integer or None")
        if isinstance(self.evidence, str):
            raise PublicationError(f"{where}: evidence must be a list of SHA-256, not a string")
        hashes = set()
        for value in self.evidence:
            digest = value.lower() if isinstance(value, str) else value
            if not isinstance(digest, str) or not SHA256.fullmatch(digest):
                raise PublicationError(f"{where}: not a SHA-256: {value!r}")
            hashes.add(digest)
        claimed = _number(self.claimed_points, f"{where}: claimed_points", optional=True)
        final = _number(self.final_points, f"{where}: final_points")
        maximum = _number(self.max_points, f"{where}: max_points")
        assert final is not None and maximum is not None
        if final > maximum:
            raise PublicationError(f"{where}: final_points {final:g} above max_points {maximum:g}")
        # Canonical forms: the same unit written in NFC or NFD is one unit.
        object.__setattr__(self, "unit", unicodedata.normalize("NFC", self.unit))
        object.__setattr__(self, "level", level.value)
        object.__setattr__(self, "final_status", status)
        object.__setattr__(self, "claimed_points", claimed)
        object.__setattr__(self, "final_points", final)
        object.__setattr__(self, "max_points", maximum)
        object.__setattr__(self, "evidence", tuple(sorted(hashes)))


@dataclass(frozen=True)
class PublishedCriterion:
    criterion: str
    status: VerdictStatus            # the final status
    counted_as: str                  # the score's status: a verdict status, "best_of_others",
                                     # "maximum" (imputed) or "excluded" (left out)
    claimed: float | None
    final: float                     # the points it counts in the unit's total
    max_points: float                # the maximum it counts (0 when excluded)
    difference: float                # final − claimed, a missing claim counting as 0
    evidence: tuple[str, ...]
    verdict_id: int | None

    def to_json(self) -> dict:
        return {"criterion": self.criterion, "status": self.status.value,
                "counted_as": self.counted_as,
                "claimed": None if self.claimed is None else points_value(self.claimed),
                "final": points_value(self.final), "max_points": points_value(self.max_points),
                "difference": points_value(self.difference), "evidence": list(self.evidence),
                "verdict_id": self.verdict_id}

    @classmethod
    def from_json(cls, data: dict) -> PublishedCriterion:
        return cls(data["criterion"], VerdictStatus(data["status"]), data["counted_as"],
                   data["claimed"], data["final"], data["max_points"], data["difference"],
                   tuple(data["evidence"]), data["verdict_id"])


@dataclass(frozen=True)
class PublishedUnit:
    unit: str
    level: str
    rank: int                        # competition rank within the level (1, 2, 2, 4)
    total: float                     # by the rule set's formula
    band: str | None
    maximum: float                   # the maximum of the criteria counted
    claimed_total: float
    final_total: float               # points achieved (the sum of the criteria's `final`)
    difference: float                # final_total − claimed_total
    pending_review: int
    criteria: tuple[PublishedCriterion, ...]

    @property
    def differences(self) -> tuple[PublishedCriterion, ...]:
        """The criteria whose final points are not what the unit claimed."""
        return tuple(c for c in self.criteria if c.difference != 0)

    def to_json(self) -> dict:
        return {"unit": self.unit, "level": self.level, "rank": self.rank,
                "total": points_value(self.total), "band": self.band,
                "maximum": points_value(self.maximum),
                "claimed_total": points_value(self.claimed_total),
                "final_total": points_value(self.final_total),
                "difference": points_value(self.difference),
                "pending_review": self.pending_review,
                "criteria": [c.to_json() for c in self.criteria],
                "differences": [c.criterion for c in self.differences]}

    @classmethod
    def from_json(cls, data: dict) -> PublishedUnit:
        return cls(data["unit"], data["level"], data["rank"], data["total"], data["band"],
                   data["maximum"], data["claimed_total"], data["final_total"],
                   data["difference"], data["pending_review"],
                   tuple(PublishedCriterion.from_json(c) for c in data["criteria"]))


@dataclass(frozen=True)
class Publication:
    campaign: str
    year: int
    published_at: dt.datetime | dt.date
    ruleset_id: str
    ruleset_version: str
    units: tuple[PublishedUnit, ...]   # by level (the rule set's order), then rank, then name
    digest: str

    def ranking(self, level: str) -> tuple[PublishedUnit, ...]:
        """One level group's units, best first."""
        return tuple(u for u in self.units if u.level == Level(level).value)

    def unit(self, unit: str, level: str) -> PublishedUnit:
        name = unicodedata.normalize("NFC", unit)
        for u in self.units:
            if u.unit == name and u.level == Level(level).value:
                return u
        raise KeyError((unit, level))

    def to_json(self) -> dict:
        return {"format": FORMAT, "campaign": self.campaign, "year": self.year,
                "published_at": self.published_at.isoformat(),
                "ruleset": {"id": self.ruleset_id, "version": self.ruleset_version},
                "digest": self.digest, "units": [u.to_json() for u in self.units]}

    @classmethod
    def from_json(cls, data: dict) -> Publication:
        """A publication as `to_json` gave it (a stored one: the exports are made from it)."""
        if data.get("format") != FORMAT:
            raise PublicationError(f"not a publication of format {FORMAT}")
        when = data["published_at"]
        published_at = dt.datetime.fromisoformat(when) if "T" in when else \
            dt.date.fromisoformat(when)
        return cls(data["campaign"], data["year"], published_at, data["ruleset"]["id"],
                   data["ruleset"]["version"],
                   tuple(PublishedUnit.from_json(u) for u in data["units"]), data["digest"])


def _canonical_number(value: float) -> float | int:
    value = round(value, 6)
    return int(value) if value == int(value) else value


def _verdict(ruleset: RuleSet, year: int, version: str, o: FinalOutcome) -> Verdict:
    """The outcome as the scoring module reads it, after checking it against the rule set."""
    where = f"{o.unit!r} ({o.level}) / {o.criterion}"
    declared = ruleset.criterion(o.criterion).points.get(Level(o.level), 0.0)
    if o.final_status == VerdictStatus.NOT_APPLICABLE:
        if o.final_points != 0 or o.max_points not in (0, declared):
            raise PublicationError(f"{where}: not_applicable with {o.final_points:g} of "
                                   f"{o.max_points:g} points (the level's maximum is "
                                   f"{declared:g})")
        points, maximum = 0.0, 0.0
    else:
        if o.max_points != declared:
            raise PublicationError(f"{where}: max_points {o.max_points:g}, but the rule set "
                                   f"gives the level {declared:g}")
        points, maximum = o.final_points, o.max_points
    verdict = Verdict(o.criterion, o.level, o.unit, year, points, maximum,
                      ruleset_id=ruleset.id, ruleset_version=version,
                      needs_review=o.final_status == VerdictStatus.NEEDS_REVIEW)
    if verdict.status != o.final_status:
        raise PublicationError(f"{where}: status {o.final_status.value} contradicts "
                               f"{o.final_points:g} of {o.max_points:g} points "
                               f"(that is {verdict.status.value})")
    return verdict


def _grouped(ruleset: RuleSet, outcomes: Iterable[FinalOutcome]
             ) -> dict[tuple[str, str], list[FinalOutcome]]:
    """Outcomes by (unit, level) in a fixed order — levels as the rule set lists them, units by
    name, criteria as the rule set lists them — whatever order the rows came in."""
    order = {c.id: i for i, c in enumerate(ruleset.criteria())}
    level_order = {level.value: i for i, level in enumerate(ruleset.levels)}
    grouped: dict[tuple[str, str], dict[str, FinalOutcome]] = {}
    for o in outcomes:
        if not isinstance(o, FinalOutcome):
            raise PublicationError(f"not a FinalOutcome: {o!r}")
        if o.criterion not in order:
            raise PublicationError(f"{o.unit!r} ({o.level}) / {o.criterion}: rule set "
                                   f"{ruleset.id} has no criterion {o.criterion!r}")
        rows = grouped.setdefault((o.unit, o.level), {})
        if o.criterion in rows:
            raise PublicationError(f"{o.unit!r} ({o.level}) / {o.criterion}: two outcomes")
        rows[o.criterion] = o
    if not grouped:
        raise PublicationError("no outcomes to publish")
    result = {}
    for key in sorted(grouped, key=lambda k: (level_order.get(k[1], len(level_order)), k[0])):
        rows = grouped[key]
        if Level(key[1]) not in ruleset.levels:
            raise PublicationError(f"{key[0]!r}: rule set {ruleset.id} has no level {key[1]}")
        missing = [c.id for c in ruleset.criteria(Level(key[1])) if c.id not in rows]
        if missing:
            raise PublicationError(f"{key[0]!r} ({key[1]}): no outcome for criteria "
                                   f"{', '.join(missing)}")
        result[key] = sorted(rows.values(), key=lambda o: order[o.criterion])
    return result


def _published_unit(total: UnitTotal, rows: list[FinalOutcome]) -> PublishedUnit:
    scores: dict[str, CriterionScore] = {s.criterion: s for s in total.scores}
    criteria = []
    for o in rows:
        score = scores.get(o.criterion)
        final = score.points if score else 0.0
        criteria.append(PublishedCriterion(
            o.criterion, o.final_status, score.status if score else EXCLUDED, o.claimed_points,
            final, score.max_points if score else 0.0,
            round(final - (o.claimed_points or 0.0), 2), tuple(o.evidence), o.verdict_id))
    claimed = sum(o.claimed_points or 0.0 for o in rows)
    return PublishedUnit(total.unit, total.level, total.rank, total.total, total.band,
                         total.maximum, round(claimed, 2), round(total.achieved, 2),
                         round(total.achieved - claimed, 2), total.pending_review,
                         tuple(criteria))


def _canonical(ruleset: RuleSet, version: str, year: int, campaign: str,
               grouped: dict[tuple[str, str], list[FinalOutcome]],
               units: tuple[PublishedUnit, ...]) -> bytes:
    n = _canonical_number
    content = {
        "format": FORMAT,
        "campaign": campaign,
        "year": year,
        "ruleset": {"id": ruleset.id, "version": version,
                    "sha256": hashlib.sha256(ruleset.model_dump_json().encode()).hexdigest()},
        "outcomes": [[o.unit, o.level, o.criterion,
                      None if o.claimed_points is None else n(o.claimed_points),
                      o.final_status.value, n(o.final_points), n(o.max_points), list(o.evidence)]
                     for rows in grouped.values() for o in rows],
        "units": [{"unit": u.unit, "level": u.level, "rank": u.rank, "total": n(u.total),
                   "band": u.band, "achieved": n(u.final_total), "maximum": n(u.maximum),
                   "claimed_total": n(u.claimed_total),
                   "scores": [[c.criterion, c.counted_as, n(c.final), n(c.max_points)]
                              for c in u.criteria]}
                  for u in units],
    }
    return json.dumps(content, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                      allow_nan=False).encode("utf-8")


def publish(ruleset: RuleSet, year: int, outcomes: Iterable[FinalOutcome], *, campaign: str,
            published_at: dt.datetime | dt.date) -> Publication:
    """The campaign's result from its final outcomes; PublicationError when they cannot be
    published as they are (see the module's docstring)."""
    if isinstance(year, bool) or not isinstance(year, int):
        raise PublicationError(f"year must be an integer, not {year!r}")
    if not isinstance(campaign, str) or not campaign.strip():
        raise PublicationError("a publication needs a campaign name")
    if not isinstance(published_at, dt.date):
        raise PublicationError(f"published_at must be a date or datetime, not {published_at!r}")
    version = ruleset_version(ruleset)
    grouped = _grouped(ruleset, outcomes)
    verdicts = {key: [_verdict(ruleset, year, version, o) for o in rows]
                for key, rows in grouped.items()}
    totals = score_units(ruleset, verdicts)
    by_key = {(t.unit, t.level): t for t in totals}
    level_order = {level.value: i for i, level in enumerate(ruleset.levels)}
    units = tuple(sorted((_published_unit(by_key[key], rows) for key, rows in grouped.items()),
                         key=lambda u: (level_order[u.level], u.rank, u.unit)))
    digest = hashlib.sha256(_canonical(ruleset, version, year, campaign, grouped,
                                       units)).hexdigest()
    return Publication(campaign, year, published_at, ruleset.id, version, units, digest)


def _criterion_cells(u: PublishedUnit, c: PublishedCriterion) -> tuple:
    return (u.unit, u.level, u.rank, points_value(u.total), u.band or "", c.criterion,
            c.status.value, c.counted_as, "" if c.claimed is None else points_value(c.claimed),
            points_value(c.final), points_value(c.max_points), points_value(c.difference),
            "; ".join(c.evidence), "" if c.verdict_id is None else c.verdict_id)


def publication_csv(pub: Publication) -> bytes:
    """One row per unit and criterion, with the unit's rank, total and band; UTF-8 with a BOM
    (Excel reads Vietnamese then), every text cell made safe as in reports.csv_bytes."""
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for u in pub.units:
        for c in u.criteria:
            writer.writerow(safe_row(_criterion_cells(u, c)))
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def publication_xlsx(pub: Publication) -> bytes:
    """Sheets `units` (ranks by level), `criteria` (the CSV's rows) and `about`."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "units"
    sheet.append(UNITS_HEADER)
    for u in pub.units:
        sheet.append(xlsx_row((u.rank, u.unit, u.level, points_value(u.total), u.band or "",
                               points_value(u.claimed_total), points_value(u.final_total),
                               points_value(u.difference))))
    sheet = book.create_sheet("criteria")
    sheet.append(CSV_HEADER)
    for u in pub.units:
        for c in u.criteria:
            sheet.append(xlsx_row(_criterion_cells(u, c)))
    sheet = book.create_sheet("about")
    for key, value in (("rule set", pub.ruleset_id), ("version", pub.ruleset_version),
                       ("digest", pub.digest), ("year", pub.year), ("campaign", pub.campaign),
                       ("published at", pub.published_at.isoformat())):
        sheet.append(xlsx_row((key, value)))
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()
