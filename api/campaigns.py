"""Assessment rounds as the provinces run them (đợt đánh giá), around the verdicts:

    self_assessment → appraisal (round 1) → explanation (giải trình) → second_appraisal
    → publication

- the host (admin) creates a campaign for a rule set and year, adds the units assessed (level,
  and the unit that assesses them) and sets each phase's window; no phase is open until set;
  every action below is refused outside its phase's window (`OutsidePhase`, HTTP 409), saying
  which phase, its window and today's date (Vietnam's calendar day, UTC+7);
- `draft`: a unit key writes the claim for one criterion (points, optional figures, evidence
  documents the unit uploaded, an explanation when there is no file); `approve`: a second,
  different key of the same unit approves the drafts, which submits them: one pre-screening
  batch (one item per criterion) goes to the workers at once;
- `appraise`: appraisers (appraiser or admin; an appraiser key may be limited to criterion id
  prefixes per campaign) confirm the verdict or change it with a mandatory reason — an
  override of the verdict, kept as such — and leave a remark to the unit, round 1 then round 2;
- `explain`: the unit answers a round-1 remark with text and/or new evidence; new evidence is
  pre-screened again (a new batch item, over the first evidence and the new);
- `final_outcomes`: the outcome of every unit and criterion, as plain rows;
- `publish`: in the publication window, an admin freezes the final scores, ranks and bands
  (`verifier/publication.py`) with the rule-set version, the evidence hashes and a digest;
  `reopen`: an admin, with a reason, re-opens the round; the earlier publication is kept.

Every step writes the audit log (who, when, what), in the transaction that makes the change.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from kiemchung.api.jobs.batches import BrokerUnavailable, dispatch, submit_batch
from kiemchung.api.store import NewBatchItem, NotFound, Store
from kiemchung.api.store import campaigns as db
from kiemchung.api.store.campaigns import CampaignConflict, CampaignError, OutsidePhase
from kiemchung.api.store.tables import (
    ApiKey,
    AppraisalRow,
    AssessmentState,
    BatchItemRow,
    CampaignRow,
    CampaignUnitRow,
    ExplanationRow,
    ItemState,
    OverrideRow,
    Phase,
    PublicationRow,
    Role,
    SelfAssessmentRow,
    VerdictRow,
    utcnow,
)
from kiemchung.extractors.signatures import TrustStore
from kiemchung.models.verdicts import Verdict, VerdictStatus, points_value
from kiemchung.verifier import publication
from kiemchung.verifier.evaluate import ruleset_version
from kiemchung.verifier.ruleset import Criterion, Level, RuleSet, load_ruleset
from kiemchung.verifier.settings import Settings

__all__ = ["CampaignConflict", "CampaignError", "CampaignOutcome", "OutsidePhase", "VIETNAM",
           "appraise", "approve", "assessment_view", "campaign_status", "create_campaign",
           "draft", "explain", "final_outcomes", "may_appraise", "publish", "reopen",
           "require_phase", "stored_publication", "today"]

log = logging.getLogger("kiemchung.campaigns")
VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")      # no daylight saving time
NOT_SUBMITTED = "not_submitted"


def today() -> dt.date:
    """Today in Vietnam: the calendar the phase windows are set in."""
    return dt.datetime.now(VIETNAM).date()


# -- campaigns and phases --------------------------------------------------------------------

def create_campaign(store: Store, name: str, ruleset_id: str, year: int, *,
                    actor: int | None = None) -> CampaignRow:
    """A new round over an installed rule set (RuleSetError when it is not), with the phase
    windows its seed fixes; the host sets the others (and may move these)."""
    ruleset = load_ruleset(ruleset_id)
    row = db.create_campaign(store, name, ruleset_id, year, actor=actor)
    for phase, window in ruleset.phases.items():
        db.set_phase(store, row.id, Phase(phase), *window.for_year(year), actor=actor)
    return row


def add_unit(store: Store, campaign_id: int, unit: str, level: Level | str,
             parent: str | None = None, *, actor: int | None = None) -> CampaignUnitRow:
    """Add a unit to the round at a level of its rule set; `parent` is the unit that
    assesses it (a commune's district)."""
    campaign = db.get_campaign(store, campaign_id)
    ruleset = load_ruleset(campaign.ruleset_id)
    try:
        level = Level(level)
    except ValueError:
        raise CampaignError(f"unknown level {level!r} (known: "
                            f"{', '.join(lv.value for lv in Level)})") from None
    if level not in ruleset.levels:
        raise CampaignError(f"rule set {ruleset.id} has no level {level.value} (it has: "
                            f"{', '.join(lv.value for lv in ruleset.levels)})")
    return db.add_unit(store, campaign_id, unit, level.value, parent, actor=actor)


def require_phase(store: Store, campaign_id: int, phase: Phase, on: dt.date | None = None
                  ) -> None:
    """Refuse (`OutsidePhase`) unless `on` (today in Vietnam) is inside the phase's window;
    once a publication stands, refuse every action of the round (`CampaignConflict`)."""
    on = on or today()
    standing = db.in_force_publication(store, campaign_id)
    if standing is not None:
        raise CampaignConflict(f"campaign {campaign_id} is published (publication "
                               f"{standing.number}); an admin must re-open it first")
    window = db.campaign_phases(store, campaign_id).get(phase)
    if window is None:
        raise OutsidePhase(f"the {phase.value} phase of campaign {campaign_id} is not open: "
                           f"its window has not been set yet (today is {on.isoformat()})")
    if not window.opens_on <= on <= window.closes_on:
        state = "has not opened yet" if on < window.opens_on else "is closed"
        raise OutsidePhase(f"the {phase.value} phase of campaign {campaign_id} runs from "
                           f"{window.opens_on.isoformat()} to {window.closes_on.isoformat()}; "
                           f"today is {on.isoformat()}: it {state}")


def _ruleset(campaign: CampaignRow) -> RuleSet:
    return load_ruleset(campaign.ruleset_id)


def _criterion(ruleset: RuleSet, criterion_id: str, level: str) -> tuple[Criterion, float]:
    criterion = ruleset.criterion(criterion_id)             # RuleSetError: unknown
    points = criterion.points.get(Level(level))
    if points is None:
        raise CampaignError(f"criterion {criterion_id} of {ruleset.id} does not apply at "
                            f"level {level}")
    return criterion, points


def _own_unit(key: ApiKey) -> str:
    if key.role != Role.UNIT or key.unit is None:
        raise CampaignError(f"a key with the role {key.role} may not do this: a unit's own "
                            "keys draft, approve and explain its self-assessment")
    return key.unit


def _evidence_of(store: Store, unit: str, documents: Sequence[str]) -> list[str]:
    """The documents, each uploaded by the unit (POST /v1/documents) — else NotFound."""
    for sha256 in documents:
        store.get_document(sha256)
        if unit not in store.document_units(sha256):
            raise NotFound(f"no document {sha256}")
    return list(dict.fromkeys(documents))


# -- self-assessment ---------------------------------------------------------------------------

def draft(store: Store, campaign_id: int, key: ApiKey, criterion: str, *,
          claimed_points: float, figures: dict[str, Any] | None = None,
          evidence: Sequence[str] = (), explanation: str | None = None,
          on: dt.date | None = None) -> SelfAssessmentRow:
    """The key's unit drafts (or drafts again) its claim for a criterion."""
    unit = _own_unit(key)
    campaign = db.get_campaign(store, campaign_id)
    member = db.campaign_unit(store, campaign_id, unit)
    require_phase(store, campaign_id, Phase.SELF_ASSESSMENT, on)
    found, maximum = _criterion(_ruleset(campaign), criterion, member.level)
    if not 0 <= claimed_points <= maximum:
        raise CampaignError(f"criterion {found.id} is worth 0 to {maximum:g} points at level "
                            f"{member.level}, not {claimed_points:g}")
    documents = _evidence_of(store, unit, evidence)
    text = (explanation or "").strip() or None
    return db.save_draft(store, campaign_id, unit, member.level, found.id,
                         claimed_points=claimed_points, figures=figures, evidence=documents,
                         explanation=text, actor=key.id)


@dataclasses.dataclass(frozen=True)
class Approval:
    batch_id: str
    assessments: list[SelfAssessmentRow]


def approve(store: Store, settings: Settings, campaign_id: int, key: ApiKey,
            criteria: Sequence[str] | None = None, *, trust: TrustStore | None = None,
            on: dt.date | None = None) -> Approval:
    """A second key of the unit approves its drafts (these criteria, or all of them): they are
    submitted, and pre-screened at once in the background, one batch item per criterion."""
    unit = _own_unit(key)
    campaign = db.get_campaign(store, campaign_id)
    db.campaign_unit(store, campaign_id, unit)
    require_phase(store, campaign_id, Phase.SELF_ASSESSMENT, on)
    mine = {row.criterion: row for row in db.find_assessments(store, campaign_id, unit=unit)}
    if criteria:
        missing = [c for c in criteria if c not in mine]
        if missing:
            raise NotFound(f"{unit} has no draft for criterion {', '.join(missing)}")
        done = [c for c in criteria if mine[c].state != AssessmentState.DRAFT]
        if done:
            raise CampaignConflict(f"criterion {', '.join(done)} of {unit} is submitted "
                                   "already; draft it again to change it")
        drafts = [mine[c] for c in dict.fromkeys(criteria)]
    else:
        drafts = [row for row in mine.values() if row.state == AssessmentState.DRAFT]
        if not drafts:
            raise CampaignConflict(f"{unit} has no draft to approve in campaign {campaign_id}")
    own = [row.criterion for row in drafts if row.drafted_by == key.id]
    if own:
        raise CampaignConflict(f"criterion {', '.join(own)} was drafted with this key "
                               f"({key.name}); a second, different key of {unit} must "
                               "approve it")
    db.mark_submitted(store, [row.id for row in drafts], key.id)
    items = [NewBatchItem(row.unit, row.level, row.criterion, tuple(row.evidence))
             for row in drafts]
    batch_id = submit_batch(store, created_by=key.id, ruleset_id=campaign.ruleset_id,
                            year=campaign.year, items=items)
    rows = store.batch_items(batch_id)
    db.link_prescreens(store, {a.id: i.id for a, i in zip(drafts, rows, strict=True)},
                       batch_id, key.id)
    _dispatch(settings, batch_id, trust)
    return Approval(batch_id, [db.get_assessment(store, row.id) for row in drafts])


def _dispatch(settings: Settings, batch_id: str, trust: TrustStore | None) -> None:
    try:
        dispatch(settings, batch_id, trust=trust)
    except BrokerUnavailable as error:
        # Queued in the job table all the same: a worker's sweep sends it once it is back.
        log.warning("pre-screening queued while the broker is away: %s", error.message,
                    extra={"batch_id": batch_id})


# -- appraisal ----------------------------------------------------------------------------------

def may_appraise(store: Store, campaign_id: int, key: ApiKey, criterion: str) -> bool:
    """Appraiser and admin keys appraise; an appraiser key limited to criterion id prefixes in
    this campaign ("2." or "2": index 2) only those criteria."""
    if key.role == Role.ADMIN:
        return True
    if key.role != Role.APPRAISER:
        return False
    prefixes = db.appraiser_prefixes(store, campaign_id, key.id)
    if prefixes is None:
        return True
    return any(criterion == p.rstrip(".") or criterion.startswith(p.rstrip(".") + ".")
               for p in prefixes)


@dataclasses.dataclass(frozen=True)
class Prescreen:
    """One pre-screening of an assessment (its submission, or an explanation's evidence)."""

    source: str                     # "submission" or "explanation:<id>"
    item: BatchItemRow
    verdict: VerdictRow | None
    overrides: list[OverrideRow]

    @property
    def settled(self) -> bool:
        return self.item.state in (ItemState.DONE, ItemState.FAILED)

    @property
    def in_force(self) -> tuple[str, float] | None:
        if self.verdict is None:
            return None
        if self.overrides:
            return self.overrides[-1].status, self.overrides[-1].points
        return self.verdict.status, self.verdict.points


def _prescreens(store: Store, assessment: SelfAssessmentRow,
                explanations: Sequence[ExplanationRow]) -> list[Prescreen]:
    """The assessment's pre-screenings, oldest first: its submission, then each explanation
    with new evidence."""
    sources = [("submission", assessment.batch_item_id)]
    sources += [(f"explanation:{e.id}", e.batch_item_id) for e in explanations]
    wanted = [(source, item_id) for source, item_id in sources if item_id is not None]
    items = {item.id: item for item in store.items_by_id([i for _, i in wanted])}
    verdict_ids = [items[i].verdict_id for _, i in wanted if items[i].verdict_id is not None]
    verdicts = store.verdicts_by_id([v for v in verdict_ids if v is not None])
    overrides = store.overrides_by_verdict([v for v in verdict_ids if v is not None])
    found = []
    for source, item_id in wanted:
        item = items[item_id]
        verdict = verdicts.get(item.verdict_id) if item.verdict_id is not None else None
        found.append(Prescreen(source, item, verdict,
                               overrides.get(verdict.id, []) if verdict else []))
    return found


def appraise(store: Store, campaign_id: int, assessment_id: int, key: ApiKey, *, round: int,
             action: str, status: str | None = None, points: float | None = None,
             reason: str | None = None, remark: str | None = None,
             on: dt.date | None = None) -> AppraisalRow:
    """Round 1 (appraisal phase) or 2 (second_appraisal): `confirm` the verdict in force, or
    `change` it to `status` and `points` with a mandatory `reason` (an override of the
    verdict, kept; the verdict stays); `remark` is for the unit. Round 2 judges the newest
    pre-screening, the explanation's when the unit sent new evidence."""
    if round not in (1, 2):
        raise CampaignError(f"round is 1 or 2, not {round}")
    if action not in ("confirm", "change"):
        raise CampaignError(f"action is confirm or change, not {action!r}")
    assessment = _assessment_in(store, campaign_id, assessment_id)
    if not may_appraise(store, campaign_id, key, assessment.criterion):
        raise CampaignConflict(f"key {key.name} does not appraise criterion "
                               f"{assessment.criterion} in campaign {campaign_id}")
    if assessment.state != AssessmentState.SUBMITTED:
        raise CampaignConflict(f"criterion {assessment.criterion} of {assessment.unit} is not "
                               "submitted (a draft waits for its second key)")
    require_phase(store, campaign_id,
                  Phase.APPRAISAL if round == 1 else Phase.SECOND_APPRAISAL, on)
    decided = db.appraisals_of(store, [assessment.id]).get(assessment.id, [])
    if round == 2 and not any(a.round == 1 for a in decided):
        raise CampaignConflict(f"criterion {assessment.criterion} of {assessment.unit} has no "
                               "round-1 appraisal yet")
    explanations = db.explanations_of(store, [assessment.id]).get(assessment.id, [])
    screens = _prescreens(store, assessment, explanations if round == 2 else [])
    if not screens:
        raise CampaignConflict(f"criterion {assessment.criterion} of {assessment.unit} was "
                               "never pre-screened")
    screen = screens[-1]
    if not screen.settled:
        raise CampaignConflict(f"the pre-screening of criterion {assessment.criterion} of "
                               f"{assessment.unit} is still {screen.item.state}; appraise it "
                               "once it is done")
    reason = (reason or "").strip() or None
    remark = (remark or "").strip() or None
    maximum = _criterion(_ruleset(db.get_campaign(store, campaign_id)), assessment.criterion,
                         assessment.level)[1]
    override_id = None
    if action == "confirm":
        if screen.in_force is None:
            raise CampaignConflict(f"there is no verdict to confirm: the pre-screening failed "
                                   f"({screen.item.error}); change it, with a reason")
        status, points = screen.in_force
    else:
        if status is None or points is None:
            raise CampaignError("a change names the new status and points")
        if reason is None:
            raise CampaignError("a change needs a reason")
        _fits(status, points, maximum)
        if screen.verdict is not None:
            override = store.override_verdict(screen.verdict.id, status, points, reason,
                                              actor=key.id)
            status, points, override_id = override.status, override.points, override.id
        else:
            status = VerdictStatus(status).value
    return db.add_appraisal(store, assessment.id, round=round, action=action, status=status,
                            points=points, reason=reason, remark=remark,
                            verdict_id=screen.verdict.id if screen.verdict else None,
                            override_id=override_id, actor=key.id)


def _fits(status: str, points: float, maximum: float) -> None:
    """A change's status must be the one its points give, as the publication scores it: a pass
    has every point, a partial some, a fail none; not_applicable none; needs_review any."""
    try:
        wanted = VerdictStatus(status)
    except ValueError:
        raise CampaignError(f"unknown status {status!r}") from None
    if not 0 <= points <= maximum:
        raise CampaignError(f"points must be between 0 and {maximum:g}")
    if wanted == VerdictStatus.NEEDS_REVIEW:
        return
    given = (VerdictStatus.NOT_APPLICABLE if wanted == VerdictStatus.NOT_APPLICABLE
             and points == 0 else
             Verdict("", "", "", 0, points, maximum).status)
    if given != wanted:
        raise CampaignError(f"status {wanted.value} does not fit {points:g} of {maximum:g} "
                            f"points (that is {given.value})")


def _assessment_in(store: Store, campaign_id: int, assessment_id: int) -> SelfAssessmentRow:
    row = db.get_assessment(store, assessment_id)
    if row.campaign_id != campaign_id:
        raise NotFound(f"no self-assessment {assessment_id}")
    return row


# -- explanation --------------------------------------------------------------------------------

def explain(store: Store, settings: Settings, campaign_id: int, assessment_id: int,
            key: ApiKey, *, text: str | None = None, evidence: Sequence[str] = (),
            trust: TrustStore | None = None, on: dt.date | None = None) -> ExplanationRow:
    """The unit answers the round-1 remark on a criterion with text and/or new evidence; new
    evidence is pre-screened again, with the evidence handed in before."""
    unit = _own_unit(key)
    assessment = _assessment_in(store, campaign_id, assessment_id)
    if assessment.unit != unit:
        raise NotFound(f"no self-assessment {assessment_id}")
    require_phase(store, campaign_id, Phase.EXPLANATION, on)
    first = [a for a in db.appraisals_of(store, [assessment.id]).get(assessment.id, [])
             if a.round == 1]
    if not first:
        raise CampaignConflict(f"criterion {assessment.criterion} has no round-1 appraisal to "
                               "answer yet")
    text = (text or "").strip() or None
    documents = _evidence_of(store, unit, evidence)
    if text is None and not documents:
        raise CampaignError("an explanation needs a text, new evidence, or both")
    row = db.add_explanation(store, assessment.id, appraisal_id=first[-1].id, text=text,
                             evidence=documents, actor=key.id)
    if documents:
        campaign = db.get_campaign(store, campaign_id)
        earlier = db.explanations_of(store, [assessment.id]).get(assessment.id, [])
        every = list(dict.fromkeys([*assessment.evidence,
                                    *(sha for e in earlier for sha in e.evidence)]))
        batch_id = submit_batch(store, created_by=key.id, ruleset_id=campaign.ruleset_id,
                                year=campaign.year, items=[NewBatchItem(
                                    assessment.unit, assessment.level, assessment.criterion,
                                    tuple(every))])
        [item] = store.batch_items(batch_id)
        row = db.link_explanation_prescreen(store, row.id, item.id, batch_id, key.id)
        _dispatch(settings, batch_id, trust)
    return row


# -- reading ------------------------------------------------------------------------------------

@dataclasses.dataclass(frozen=True)
class CampaignOutcome:
    """One row of `final_outcomes`; `as_dict()` gives it as plain JSON-ready data."""

    unit: str
    level: str
    parent: str | None
    criterion: str
    claimed_points: float | None
    final_status: str
    final_points: float
    max_points: float
    evidence: tuple[str, ...]
    verdict_id: int | None
    decided_by: str
    assessment_id: int | None

    def for_publication(self) -> publication.FinalOutcome:
        """The row as the publication reads it: a criterion not submitted failed, 0 points."""
        status = (VerdictStatus.FAIL if self.final_status == NOT_SUBMITTED
                  else VerdictStatus(self.final_status))
        return publication.FinalOutcome(self.unit, self.level, self.criterion,
                                        self.claimed_points, status, self.final_points,
                                        self.max_points, self.evidence, self.verdict_id)

    def as_dict(self) -> dict[str, Any]:
        row = dataclasses.asdict(self)
        row["evidence"] = list(self.evidence)
        for name in ("claimed_points", "final_points", "max_points"):
            if row[name] is not None:
                row[name] = points_value(row[name])
        return row


def _outcome(member: CampaignUnitRow, criterion: str, maximum: float,
             assessment: SelfAssessmentRow | None, decided: Sequence[AppraisalRow],
             explanations: Sequence[ExplanationRow],
             screens: Sequence[Prescreen]) -> CampaignOutcome:
    def row(status: str, points: float, verdict_id: int | None, by: str) -> CampaignOutcome:
        evidence: list[str] = []
        if assessment is not None:
            evidence = list(dict.fromkeys([*assessment.evidence,
                                           *(sha for e in explanations for sha in e.evidence)]))
        return CampaignOutcome(member.unit, member.level, member.parent, criterion,
                            assessment.claimed_points if assessment else None, status, points,
                            maximum, tuple(evidence), verdict_id, by,
                            assessment.id if assessment else None)

    if assessment is None or assessment.state != AssessmentState.SUBMITTED:
        return row(NOT_SUBMITTED, 0.0, None, NOT_SUBMITTED)
    for round_, by in ((2, "second_appraisal"), (1, "appraisal")):
        mine = [a for a in decided if a.round == round_]
        if mine:
            last = mine[-1]
            return row(last.status, last.points, last.verdict_id, by)
    for screen in reversed(screens):
        if screen.verdict is not None and screen.in_force is not None:
            status, points = screen.in_force
            return row(status, points, screen.verdict.id, "verdict")
    return row(VerdictStatus.NEEDS_REVIEW.value, 0.0, None, "claimed")


def final_outcomes(store: Store, campaign_id: int) -> list[CampaignOutcome]:
    """The outcome of every criterion of every unit of the campaign (units in the order
    added, criteria in the rule set's order for the unit's level), as `CampaignOutcome` rows —
    `row.as_dict()` for plain data:

    - `unit` (str), `level` (str: `so`, `huyen`, `xa`), `parent` (str or None): the unit
      assessed, its level, and the unit assessing it;
    - `criterion` (str): the criterion id, e.g. `2.1`;
    - `claimed_points` (float or None): the unit's self-assessed points, None when it drafted
      nothing;
    - `final_status` (str): a verdict status (`pass`, `partial`, `fail`, `needs_review`,
      `not_applicable`), or `not_submitted`;
    - `final_points` (float): the points that count (0 when not submitted or not verified);
    - `max_points` (float): the criterion's points at the unit's level;
    - `evidence` (tuple of str; a list in `as_dict()`): sha256 of the documents handed in,
      the self-assessment's first, then the explanations';
    - `verdict_id` (int or None): the verdict the outcome rests on (the one the deciding
      appraisal judged, or the verdict in force);
    - `decided_by` (str): `second_appraisal`, `appraisal`, `verdict` (the verdict in force:
      its last override, else the verifier's), `claimed` (submitted but no verdict:
      `needs_review`, 0 points) or `not_submitted` (no approved self-assessment);
    - `assessment_id` (int or None): the self-assessment, when there is one.

    The first that exists decides: the last round-2 decision, else the last round-1
    decision, else the verdict in force of the newest pre-screening with a verdict, else
    `needs_review` with 0 points for a claim not verified (yet)."""
    campaign = db.get_campaign(store, campaign_id)
    ruleset = _ruleset(campaign)
    assessments = {(a.unit, a.criterion): a for a in db.find_assessments(store, campaign_id)}
    ids = [a.id for a in assessments.values()]
    decided = db.appraisals_of(store, ids)
    explained = db.explanations_of(store, ids)
    outcomes = []
    for member in db.campaign_units(store, campaign_id):
        for criterion in ruleset.criteria(Level(member.level)):
            assessment = assessments.get((member.unit, criterion.id))
            explanations = explained.get(assessment.id, []) if assessment else []
            screens = (_prescreens(store, assessment, explanations)
                       if assessment is not None and assessment.state ==
                       AssessmentState.SUBMITTED else [])
            outcomes.append(_outcome(
                member, criterion.id, criterion.points[Level(member.level)], assessment,
                decided.get(assessment.id, []) if assessment else [], explanations, screens))
    return outcomes


def _screen_json(screen: Prescreen) -> dict[str, Any]:
    in_force = screen.in_force
    verdict = screen.verdict
    return {"source": screen.source, "batch_id": screen.item.batch_id,
            "batch_item_id": screen.item.id, "state": screen.item.state,
            "error": screen.item.error, "verdict_id": verdict.id if verdict else None,
            "status": verdict.status if verdict else None,
            "points": points_value(verdict.points) if verdict else None,
            "max_points": points_value(verdict.max_points) if verdict else None,
            "summary": verdict.verdict.get("summary") if verdict else None,
            "in_force": {"status": in_force[0], "points": points_value(in_force[1]),
                         "override_id": screen.overrides[-1].id if screen.overrides else None}
            if in_force else None}


def appraisal_json(row: AppraisalRow) -> dict[str, Any]:
    return {"id": row.id, "round": row.round, "action": row.action, "status": row.status,
            "points": points_value(row.points), "reason": row.reason, "remark": row.remark,
            "verdict_id": row.verdict_id, "override_id": row.override_id,
            "by_key_id": row.by_key_id, "created_at": row.created_at}


def explanation_json(row: ExplanationRow) -> dict[str, Any]:
    return {"id": row.id, "appraisal_id": row.appraisal_id, "text": row.text,
            "evidence": row.evidence, "batch_item_id": row.batch_item_id,
            "by_key_id": row.by_key_id, "created_at": row.created_at}


def assessment_view(store: Store, assessment: SelfAssessmentRow) -> dict[str, Any]:
    """A self-assessment as read back: the claim, its pre-screenings, the claimed and the
    verified points side by side (`doi_chieu`, đối chiếu: `differs` when they are not the
    same), the appraisals, the explanations and the outcome so far."""
    campaign = db.get_campaign(store, assessment.campaign_id)
    member = db.campaign_unit(store, assessment.campaign_id, assessment.unit)
    maximum = _criterion(_ruleset(campaign), assessment.criterion, assessment.level)[1]
    decided = db.appraisals_of(store, [assessment.id]).get(assessment.id, [])
    explanations = db.explanations_of(store, [assessment.id]).get(assessment.id, [])
    submitted = assessment.state == AssessmentState.SUBMITTED
    screens = _prescreens(store, assessment, explanations) if submitted else []
    verified = next((s for s in reversed(screens) if s.verdict is not None), None)
    verified_points = verified.verdict.points if verified and verified.verdict else None
    outcome = _outcome(member, assessment.criterion, maximum, assessment, decided,
                       explanations, screens)
    return {"id": assessment.id, "campaign_id": assessment.campaign_id,
            "unit": assessment.unit, "level": assessment.level,
            "criterion": assessment.criterion, "state": assessment.state,
            "claimed_points": points_value(assessment.claimed_points),
            "max_points": points_value(maximum), "figures": assessment.figures,
            "evidence": assessment.evidence, "explanation": assessment.explanation,
            "drafted_by": assessment.drafted_by, "drafted_at": assessment.drafted_at,
            "approved_by": assessment.approved_by, "approved_at": assessment.approved_at,
            "prescreens": [_screen_json(s) for s in screens],
            "doi_chieu": {"claimed_points": points_value(assessment.claimed_points),
                          "verified_points": (points_value(verified_points)
                                              if verified_points is not None else None),
                          "verdict_id": verified.verdict.id if verified and verified.verdict
                          else None,
                          "differs": (None if verified_points is None
                                      else abs(verified_points - assessment.claimed_points)
                                      > 1e-9)},
            "appraisals": [appraisal_json(a) for a in decided],
            "explanations": [explanation_json(e) for e in explanations],
            "outcome": outcome.as_dict()}


def campaign_status(store: Store, campaign_id: int) -> list[dict[str, Any]]:
    """Per unit: criteria of its level, drafts, submitted, pre-screened (settled), appraised in
    round 1 and 2, explained, the claimed and the final points."""
    outcomes = final_outcomes(store, campaign_id)
    assessments = db.find_assessments(store, campaign_id)
    ids = [a.id for a in assessments]
    decided = db.appraisals_of(store, ids)
    explained = db.explanations_of(store, ids)
    items = {i.id: i for i in store.items_by_id(
        [a.batch_item_id for a in assessments if a.batch_item_id is not None])}
    rows = []
    for member in db.campaign_units(store, campaign_id):
        mine = [a for a in assessments if a.unit == member.unit]
        ours = [o for o in outcomes if o.unit == member.unit]
        rounds = [{d.round for d in decided.get(a.id, [])} for a in mine]
        rows.append({
            "unit": member.unit, "level": member.level, "parent": member.parent,
            "criteria": len(ours),
            "drafts": sum(a.state == AssessmentState.DRAFT for a in mine),
            "submitted": sum(a.state == AssessmentState.SUBMITTED for a in mine),
            "prescreened": sum(a.batch_item_id in items and items[a.batch_item_id].state
                               in (ItemState.DONE, ItemState.FAILED) for a in mine),
            "appraised": sum(1 in r for r in rounds),
            "explained": sum(bool(explained.get(a.id)) for a in mine),
            "second_appraised": sum(2 in r for r in rounds),
            "claimed_points": points_value(sum(a.claimed_points for a in mine
                                               if a.state == AssessmentState.SUBMITTED)),
            "final_points": points_value(sum(o.final_points for o in ours)),
            "max_points": points_value(sum(o.max_points for o in ours))})
    return rows


# -- publication ------------------------------------------------------------------------------

def publish(store: Store, campaign_id: int, *, actor: int | None) -> PublicationRow:
    """Freeze the campaign's result as its next publication: final outcomes → scores, ranks
    per level, bands, claimed-vs-final differences, with the rule-set version and evidence
    hashes; the inputs are stored with it, so that it can be computed again. Only the host
    publishes: an admin key over HTTP, or `kiemchung campaign publish` on the server."""
    require_phase(store, campaign_id, Phase.PUBLICATION)
    campaign = db.get_campaign(store, campaign_id)
    ruleset = _ruleset(campaign)
    outcomes = [row.for_publication() for row in final_outcomes(store, campaign_id)]
    result = publication.publish(ruleset, campaign.year, outcomes, campaign=campaign.name,
                                 published_at=utcnow())
    return db.save_publication(
        store, campaign_id, digest=result.digest, ruleset_id=ruleset.id,
        ruleset_version=ruleset_version(ruleset), actor=actor,
        payload={"publication": result.to_json(),
                 "outcomes": [dataclasses.asdict(o) | {"final_status": o.final_status.value,
                                                       "evidence": list(o.evidence)}
                              for o in outcomes]})


def reopen(store: Store, campaign_id: int, reason: str, *, actor: int | None
           ) -> PublicationRow:
    """Re-open a published campaign (the host, with a reason); the publication is kept."""
    return db.reopen(store, campaign_id, reason, actor=actor)


def stored_publication(store: Store, campaign_id: int, number: int | None = None
                       ) -> tuple[PublicationRow, publication.Publication]:
    """A publication of the campaign (the newest when `number` is None), row and content."""
    rows = db.publications(store, campaign_id)
    chosen = [r for r in rows if number is None or r.number == number]
    if not chosen:
        raise NotFound(f"campaign {campaign_id} has no publication"
                       + (f" {number}" if number is not None else ""))
    row = chosen[-1]
    return row, publication.Publication.from_json(row.payload["publication"])


def reproduce(store: Store, campaign_id: int, number: int) -> bool:
    """Whether the stored inputs of a publication, computed again with the rule set installed
    now, give the same digest (False: the rule set changed since, or the row was altered)."""
    row, stored = stored_publication(store, campaign_id, number)
    outcomes = [publication.FinalOutcome(**o) for o in row.payload["outcomes"]]
    again = publication.publish(load_ruleset(row.ruleset_id), stored.year, outcomes,
                                campaign=stored.campaign, published_at=stored.published_at)
    return again.digest == row.digest == stored.digest

