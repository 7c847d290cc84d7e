"""From criterion verdicts to unit totals, ranks within a level, and rating bands.

Formulas (`RuleSet.scoring`):
- `percent_of_applicable` (Huế 931): achieved × 100 ÷ the maximum of the criteria that apply;
- `sum` (Vĩnh Long, Bắc Giang): the plain sum of points.
A criterion a unit is exempt from (verdict not_applicable although the level has points for it):
- `excluded`: left out of both achieved and maximum;
- `best_of_others` (Vĩnh Long 2554): scored at the best score other units of the level got;
- `maximum`: scored at its maximum (Vĩnh Long's special units).
Ranks are competition ranks (1, 2, 2, 4) by total within a level; bands take the first band
whose `min_share` the unit's share of its maximum reaches.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from kiemchung.models.verdicts import Verdict, VerdictStatus
from kiemchung.verifier.ruleset import Level, RuleSet


@dataclass(frozen=True)
class CriterionScore:
    criterion: str
    points: float
    max_points: float
    status: str           # the verdict's status, or "best_of_others" / "maximum" when imputed


@dataclass(frozen=True)
class UnitTotal:
    unit: str
    level: str
    scores: tuple[CriterionScore, ...]
    total: float          # by the rule set's formula
    rank: int
    band: str | None

    @property
    def achieved(self) -> float:
        return sum(s.points for s in self.scores)

    @property
    def maximum(self) -> float:
        return sum(s.max_points for s in self.scores)

    @property
    def share(self) -> float:
        return self.achieved / self.maximum if self.maximum else 0.0

    @property
    def pending_review(self) -> int:
        return sum(s.status == VerdictStatus.NEEDS_REVIEW for s in self.scores)


def _declared_points(ruleset: RuleSet, criterion: str, level: str) -> float:
    return ruleset.criterion(criterion).points.get(Level(level), 0.0)


def _exempt(verdict: Verdict, ruleset: RuleSet) -> bool:
    """Not applicable to this unit although its level has points for the criterion."""
    return verdict.status == VerdictStatus.NOT_APPLICABLE and \
        _declared_points(ruleset, verdict.criterion, verdict.level) > 0


def criterion_scores(ruleset: RuleSet, verdicts: list[Verdict],
                     best_by_criterion: dict[str, float]) -> tuple[CriterionScore, ...]:
    rule = ruleset.scoring.not_applicable
    scores = []
    for v in verdicts:
        if _exempt(v, ruleset) and rule != "excluded":
            declared = _declared_points(ruleset, v.criterion, v.level)
            points = declared if rule == "maximum" else best_by_criterion.get(v.criterion, 0.0)
            scores.append(CriterionScore(v.criterion, points, declared, rule))
        elif v.status != VerdictStatus.NOT_APPLICABLE:
            scores.append(CriterionScore(v.criterion, v.points, v.max_points, v.status.value))
    return tuple(scores)


def band_for(ruleset: RuleSet, share: float) -> str | None:
    for band in sorted(ruleset.scoring.bands, key=lambda b: b.min_share, reverse=True):
        if share >= band.min_share - 1e-9:
            return band.name
    return None


def score_units(ruleset: RuleSet, verdicts_by_unit: dict[tuple[str, str], list[Verdict]]
                ) -> list[UnitTotal]:
    """Totals for every (unit, level), ranked within each level, best first."""
    best: dict[tuple[str, str], dict[str, float]] = defaultdict(dict)
    for (unit, level), verdicts in verdicts_by_unit.items():
        for v in verdicts:
            if v.status != VerdictStatus.NOT_APPLICABLE:
                key = (level, v.criterion)
                best[key][unit] = v.points

    totals: list[UnitTotal] = []
    for (unit, level), verdicts in verdicts_by_unit.items():
        others = {criterion: max((p for u, p in best[(lv, criterion)].items() if u != unit),
                                 default=0.0)
                  for (lv, criterion) in best if lv == level}
        scores = criterion_scores(ruleset, verdicts, others)
        achieved = sum(s.points for s in scores)
        maximum = sum(s.max_points for s in scores)
        if ruleset.scoring.formula == "percent_of_applicable":
            total = achieved * 100 / maximum if maximum else 0.0
        else:
            total = achieved
        share = achieved / maximum if maximum else 0.0
        totals.append(UnitTotal(unit, level, scores, round(total, 2), 0, band_for(ruleset, share)))

    ranked: list[UnitTotal] = []
    for level in sorted({t.level for t in totals}):
        group = sorted((t for t in totals if t.level == level), key=lambda t: (-t.total, t.unit))
        for t in group:
            rank = 1 + sum(other.total > t.total for other in group)
            ranked.append(UnitTotal(t.unit, t.level, t.scores, t.total, rank, t.band))
    return ranked


def evaluate_units(ruleset: RuleSet, year: int,
                   evidence: dict[tuple[str, str], dict[str, tuple[list, list]]], *,
                   read_whole=None
                   ) -> tuple[list[UnitTotal], dict[tuple[str, str], list[Verdict]]]:
    """Every criterion of every unit's level, from {(unit, level): {criterion: (inspections,
    unreadable files)}}; then totals, ranks and bands. `read_whole` as in EvaluationContext."""
    from kiemchung.verifier.evaluate import EvaluationContext, evaluate_criterion

    # Every (file, unit, criterion) of the batch, so that a file reused elsewhere is caught.
    seen = frozenset((i.text.sha256, unit, criterion)
                     for (unit, _), per_criterion in evidence.items()
                     for criterion, (inspections, _) in per_criterion.items()
                     for i in inspections)
    verdicts_by_unit = {}
    for (unit, level), per_criterion in evidence.items():
        verdicts = []
        for criterion in ruleset.criteria(Level(level)):
            inspections, unreadable = per_criterion.get(criterion.id, ([], []))
            context = EvaluationContext(seen=seen, unreadable=tuple(unreadable),
                                        read_whole=read_whole)
            verdicts.append(evaluate_criterion(ruleset, criterion.id, level, unit, year,
                                               inspections, context=context))
        verdicts_by_unit[(unit, level)] = verdicts
    return score_units(ruleset, verdicts_by_unit), verdicts_by_unit
