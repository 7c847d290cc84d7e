"""One criterion, one unit, one year: from the inspected evidence files to a verdict.

    evaluate_criterion(ruleset, "2.1", "huyen", "UBND huyện Phú Vang", 2024, inspections)

1. Applicability: no points for the level (or a documented exemption) → not_applicable;
   criteria backed by platform data → needs_review with 0 points, since no file proves them.
2. Every file runs `file_readable` and the criterion's `document` checks. A file failing any
   is left out — the rest still count (two meeting notices, one altered → one meeting). A file
   whose only doubts are needs_review is held aside as uncertain.
3. Score over the qualifying files: the first tier whose checks pass, a ratio, or a count.
4. The same score is computed again counting the uncertain files and the needs_review results
   as passes. If that changes the score, a person must judge: needs_review, with the points
   the certain files earn. Otherwise the doubts did not matter and the verdict stands.

The verifier never reads files: it receives Inspections, and names unreadable files in
`EvaluationContext.unreadable`. A scan may come read only in part (OCR of the header and the
signer area); when a check that searches the whole text does not pass on such a file, the
evaluation asks `EvaluationContext.read_whole` for the whole text and runs again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from kiemchung.checks.registry import REGISTRY, EvidenceContext, QualifyingSet, Scope, get_check
from kiemchung.models.inspection import Inspection
from kiemchung.models.verdicts import CheckResult, CheckStatus, Verdict
from kiemchung.verifier.ruleset import CheckSpec, Criterion, Level, RuleSet, RuleSetError, Score

ALWAYS_RUN = CheckSpec(check="file_readable")


@dataclass(frozen=True)
class UnreadableFile:
    file: str
    reason: str


@dataclass(frozen=True)
class EvaluationContext:
    """What the evaluation of one criterion may know beyond its own files."""

    # (sha256, unit, criterion) of every file in the batch, for `not_reused`
    seen: frozenset[tuple[str, str, str]] = frozenset()
    # files given as evidence that could not be read at all
    unreadable: tuple[UnreadableFile, ...] = ()
    # criteria the unit was allowed in writing not to perform (Huế 931: "trường hợp đặc biệt")
    exempt: frozenset[str] = frozenset()
    # the same file read whole, for files read only in part (None: judge what was read)
    read_whole: Callable[[Inspection], Inspection] | None = None


def ruleset_version(ruleset: RuleSet) -> str:
    """A fingerprint of the rules as applied: the same rules always give the same value."""
    return hashlib.sha256(ruleset.model_dump_json().encode()).hexdigest()[:12]


def data_window(ruleset: RuleSet, year: int) -> tuple[dt.date, dt.date]:
    if ruleset.data_window is None:
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    return ruleset.data_window.for_year(year)


def with_signature_rules(spec: CheckSpec, ruleset: RuleSet) -> CheckSpec:
    """`digitally_signed` with the rule set's signature settings, the criterion's own
    parameters first."""
    if spec.check != "digitally_signed":
        return spec
    return CheckSpec(check=spec.check, **{**ruleset.signatures.params(), **spec.params})


def check_problems(ruleset: RuleSet) -> list[str]:
    """Check names or parameters in the rule set that no registered check accepts."""
    problems = []
    for criterion in ruleset.criteria():
        if criterion.evidence is None:
            continue
        score = criterion.evidence.score
        specs = list(criterion.evidence.document)
        specs += [s for tier in score.tiers or [] for s in tier.checks]
        specs += score.ratio.numerator if score.ratio else []
        for spec in specs:
            try:
                get_check(spec.check).validate(spec.params)
            except Exception as error:  # noqa: BLE001 - collected for the report
                problems.append(f"{ruleset.id} criterion {criterion.id}: "
                                f"{getattr(error, 'message', error)}")
    return problems


@dataclass
class _Outcome:
    share: float
    results: list[CheckResult] = field(default_factory=list)
    summary: str = ""


def _counts(result: CheckResult, accept_review: bool) -> bool:
    """Whether a result lets a file through: pass or nothing to look at; needs_review too when
    computing what the uncertain evidence could reach."""
    if result.status in (CheckStatus.PASS, CheckStatus.NOT_APPLICABLE):
        return True
    return accept_review and result.status == CheckStatus.NEEDS_REVIEW


def _run(spec: CheckSpec, context: EvidenceContext | QualifyingSet) -> CheckResult:
    return get_check(spec.check)(context, spec.params)


def _split_checks(specs: list[CheckSpec]) -> tuple[list[CheckSpec], list[CheckSpec]]:
    per_file = [s for s in specs if get_check(s.check).kind == "document"]
    over_set = [s for s in specs if get_check(s.check).kind == "set"]
    return per_file, over_set


def _issue_order(files: list[Inspection]) -> list[Inspection]:
    return sorted(files, key=lambda f: f.fields.value("issue_date") or dt.date.max)


def _score(score: Score, files: list[Inspection], scope: Scope, accept_review: bool
           ) -> _Outcome:
    files = _issue_order(files)
    if not files:
        return _Outcome(0.0, summary="no qualifying file")
    if score.per_document is not None:
        full_at = score.per_document.full_at
        share = min(1.0, len(files) / full_at)
        return _Outcome(share, summary=f"{len(files)} qualifying file(s); full points at "
                                       f"{full_at}")
    if score.ratio is not None:
        results: list[CheckResult] = []
        good = 0
        for inspection in files:
            context = EvidenceContext(inspection, scope)
            mine = [_run(spec, context) for spec in score.ratio.numerator]
            results += mine
            good += all(_counts(r, accept_review) for r in mine)
        return _Outcome(good / len(files), results,
                        f"{good} of {len(files)} qualifying file(s) meet the condition")
    results = []
    for index, tier in enumerate(score.tiers or []):
        per_file, over_set = _split_checks(tier.checks)
        subset = []
        for inspection in files:
            context = EvidenceContext(inspection, scope)
            mine = [_run(spec, context) for spec in per_file]
            results += mine
            if all(_counts(r, accept_review) for r in mine):
                subset.append(inspection)
        set_results = [_run(spec, QualifyingSet(tuple(subset), scope)) for spec in over_set]
        results += set_results
        if subset and all(_counts(r, accept_review) for r in set_results):
            label = tier.note or ", ".join(s.check for s in tier.checks) or "qualifying file"
            return _Outcome(tier.share, results,
                            f"tier {index + 1} ({tier.share:.0%}: {label}) reached by "
                            f"{len(subset)} file(s)")
    return _Outcome(0.0, results, "no tier reached")


def _why_left_out(checks: list[CheckResult]) -> str:
    """The first failed check of each file, so the summary says why nothing qualified."""
    reasons: dict[str, str] = {}
    for result in checks:
        if result.status == CheckStatus.FAIL and result.file and result.file not in reasons:
            reasons[result.file] = f"{Path(result.file).name}: {result.message}"
    return (": " + "; ".join(reasons.values())) if reasons else ""


def _verdict(criterion: Criterion, level: Level, unit: str | None, year: int,
             ruleset: RuleSet, *, points: float, max_points: float,
             checks: list[CheckResult], summary: str, needs_review: bool = False) -> Verdict:
    return Verdict(criterion=criterion.id, level=level.value, unit=unit, year=year,
                   points=round(points, 2), max_points=max_points, checks=tuple(checks),
                   ruleset_id=ruleset.id, ruleset_version=ruleset_version(ruleset),
                   needs_review=needs_review, summary=summary)


def evaluate_criterion(ruleset: RuleSet, criterion_id: str, level: Level | str,
                       unit: str | None, year: int, inspections: list[Inspection], *,
                       context: EvaluationContext | None = None) -> Verdict:
    context = context or EvaluationContext()
    verdict = _evaluate(ruleset, criterion_id, level, unit, year, inspections, context)
    in_part = _read_in_part_and_doubted(verdict, inspections)
    if not in_part or context.read_whole is None:
        return verdict
    whole = {id(i): context.read_whole(i) for i in in_part}
    return _evaluate(ruleset, criterion_id, level, unit, year,
                     [whole.get(id(i), i) for i in inspections], context)


def _read_in_part_and_doubted(verdict: Verdict, inspections: list[Inspection]
                              ) -> list[Inspection]:
    """Files read only in part on which a check searching the whole text did not pass."""
    doubted = {c.file for c in verdict.checks if c.status != CheckStatus.PASS
               and c.name in REGISTRY and REGISTRY[c.name].reads_text}
    return [i for i in inspections if i.text.partial and i.file in doubted]


def _evaluate(ruleset: RuleSet, criterion_id: str, level: Level | str, unit: str | None,
              year: int, inspections: list[Inspection], context: EvaluationContext) -> Verdict:
    criterion = ruleset.criterion(criterion_id)
    try:
        level = Level(level)
    except ValueError:
        raise RuleSetError(f"unknown level {level!r} (known: "
                           f"{', '.join(lv.value for lv in Level)})") from None
    verdict = lambda **kw: _verdict(criterion, level, unit, year, ruleset, **kw)  # noqa: E731

    max_points = criterion.points.get(level, 0.0)
    if max_points == 0:
        return verdict(points=0, max_points=0, summary="not applicable to this level",
                       checks=[CheckResult("applies_to_level", CheckStatus.NOT_APPLICABLE,
                                           f"criterion {criterion.id} has no points for level "
                                           f"{level.value}")])
    if criterion.id in context.exempt:
        return verdict(points=0, max_points=0, summary="exempt for this unit",
                       checks=[CheckResult("exempt", CheckStatus.NOT_APPLICABLE,
                                           f"{unit or 'the unit'} is exempt from criterion "
                                           f"{criterion.id}")])
    if criterion.backed_by != "documents":
        source = criterion.platform or ("the unit's self-report"
                                        if criterion.backed_by == "self_report" else "platform")
        return verdict(points=0, max_points=max_points, needs_review=True,
                       summary="not verifiable from a file",
                       checks=[CheckResult("backed_by_platform", CheckStatus.NEEDS_REVIEW,
                                           f"backed by {criterion.backed_by} data ({source}): "
                                           "not verifiable from a file")])

    evidence = criterion.evidence
    assert evidence is not None   # the model requires evidence rules for documents
    scope = Scope(criterion=criterion.id, level=level.value, unit=unit, year=year,
                  window=data_window(ruleset, year), allow_scans=evidence.allow_scans,
                  seen=context.seen)
    if not inspections and not context.unreadable:
        return verdict(points=0, max_points=max_points, summary="no evidence file",
                       checks=[CheckResult("evidence_present", CheckStatus.FAIL,
                                           "no evidence file")])

    document_specs = [ALWAYS_RUN, *(with_signature_rules(s, ruleset) for s in evidence.document)]
    if evidence.allow_scans and not any(s.check == "scan_with_seal" for s in document_specs):
        document_specs.append(CheckSpec(check="scan_with_seal"))

    checks: list[CheckResult] = [
        CheckResult("file_readable", CheckStatus.NEEDS_REVIEW,
                    f"the file could not be read: {u.reason}", file=u.file)
        for u in context.unreadable]
    qualifying: list[Inspection] = []
    uncertain: list[Inspection] = []
    first_seen: dict[str, str] = {}
    for inspection in inspections:
        sha = inspection.text.sha256
        if sha in first_seen:
            # The same bytes twice are one document, never two meetings.
            checks.append(CheckResult("distinct_file", CheckStatus.FAIL,
                                      f"the same file as {first_seen[sha]}; counted once",
                                      file=inspection.file, page=1))
            continue
        first_seen[sha] = inspection.file
        evidence_context = EvidenceContext(inspection, scope)
        results = [_run(spec, evidence_context) for spec in document_specs]
        checks += results
        if any(r.status == CheckStatus.FAIL for r in results):
            continue
        if any(r.status == CheckStatus.NEEDS_REVIEW for r in results):
            uncertain.append(inspection)
        else:
            qualifying.append(inspection)

    certain = _score(evidence.score, qualifying, scope, accept_review=False)
    hopeful = _score(evidence.score, qualifying + uncertain, scope, accept_review=True)
    checks += certain.results
    if evidence.needs_review and qualifying + uncertain:
        # What the files cannot show (e.g. teams founded ÷ hamlets): the score is a ceiling.
        ceiling = hopeful.share * max_points
        checks.append(CheckResult("judged_by_person", CheckStatus.NEEDS_REVIEW,
                                  f"{evidence.needs_review} (up to {ceiling:g} points)",
                                  file=(qualifying + uncertain)[0].file, page=1))
        return verdict(points=0, max_points=max_points, checks=checks, needs_review=True,
                       summary=f"{hopeful.summary}; up to {ceiling:g} of {max_points:g} "
                               "points, a person must judge")
    # A file a person must look at (unreadable, or e.g. a plan issued the December before)
    # leaves the verdict open whenever the certain files fall short of full points.
    open_question = hopeful.share != certain.share or (
        bool(context.unreadable or uncertain) and certain.share < 1.0)
    points = certain.share * max_points
    summary = certain.summary
    if not qualifying and not uncertain:
        summary += _why_left_out(checks)
    if open_question:
        could = max(hopeful.share, 1.0 if context.unreadable or uncertain else 0.0)
        summary += (f"; {points:g} of {max_points:g} points are certain, the files needing "
                    f"review could make it {could * max_points:g}")
    return verdict(points=points, max_points=max_points, checks=checks, summary=summary,
                   needs_review=open_question)
