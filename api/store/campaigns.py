"""Assessment rounds (đợt đánh giá) in the database: the campaign, its units, its phase windows
and its appraisers' criterion groups; the units' self-assessments, the appraisers' decisions and
the units' explanations. Functions over a `Store`, as `keys.py`; every change is written with
its audit entry in the same transaction. The flow itself (phase checks, the two keys, the
pre-screening batches) is `kiemchung.api.campaigns`."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import select, update

from kiemchung.api.store.store import NotFound, Store, StoreError, required_row, rowcount
from kiemchung.api.store.tables import (
    ApiKey,
    AppraisalRow,
    AssessmentState,
    AuditEntry,
    CampaignAppraiserRow,
    CampaignPhaseRow,
    CampaignRow,
    CampaignUnitRow,
    ExplanationRow,
    Phase,
    PublicationRow,
    Role,
    SelfAssessmentRow,
    utcnow,
)
from kiemchung.models.errors import ExitCode, KiemchungError


class CampaignError(StoreError):
    """A request the round cannot take: an unknown phase or level, points out of range…"""


class CampaignConflict(KiemchungError):
    """The request is well formed but the round's state refuses it now (HTTP 409): `kind`
    says which refusal it is."""

    exit_code = ExitCode.FAILED
    kind = "conflict"


class OutsidePhase(CampaignConflict):
    """An action outside its phase's window, or in a phase whose window is not set."""

    kind = "outside-phase"


def _audit(session, actor: int | None, action: str, subject: str,
           details: dict[str, Any]) -> None:
    session.add(AuditEntry(actor_key_id=actor, action=action, subject=subject, details=details))


def phase_of(value: Phase | str) -> Phase:
    try:
        return Phase(value)
    except ValueError:
        raise CampaignError(f"unknown phase {value!r} (known: "
                            f"{', '.join(p.value for p in Phase)})") from None


# -- campaigns, units, phases, appraisers ------------------------------------------------------

def create_campaign(store: Store, name: str, ruleset_id: str, year: int, *,
                    actor: int | None = None) -> CampaignRow:
    if not name.strip():
        raise CampaignError("a campaign needs a name")
    with store.session() as session:
        row = CampaignRow(name=name.strip(), ruleset_id=ruleset_id, year=year, created_by=actor)
        session.add(row)
        session.flush()
        _audit(session, actor, "campaign.create", f"campaign:{row.id}",
               {"name": row.name, "ruleset": ruleset_id, "year": year})
        return row


def get_campaign(store: Store, campaign_id: int) -> CampaignRow:
    with store.session() as session:
        return required_row(session, CampaignRow, campaign_id, f"no campaign {campaign_id}")


def list_campaigns(store: Store) -> list[CampaignRow]:
    with store.session() as session:
        return list(session.scalars(select(CampaignRow).order_by(CampaignRow.id)))


def add_unit(store: Store, campaign_id: int, unit: str, level: str, parent: str | None = None,
             *, actor: int | None = None) -> CampaignUnitRow:
    unit, parent = unit.strip(), (parent or "").strip() or None
    if not unit:
        raise CampaignError("a unit needs a name")
    with store.session() as session:
        if session.get(CampaignRow, campaign_id) is None:
            raise NotFound(f"no campaign {campaign_id}")
        if session.scalar(select(CampaignUnitRow.id).where(
                CampaignUnitRow.campaign_id == campaign_id, CampaignUnitRow.unit == unit)):
            raise CampaignError(f"{unit} is already assessed in campaign {campaign_id}")
        row = CampaignUnitRow(campaign_id=campaign_id, unit=unit, level=level, parent=parent)
        session.add(row)
        session.flush()
        _audit(session, actor, "campaign.unit.add", f"campaign:{campaign_id}",
               {"unit": unit, "level": level, "parent": parent})
        return row


def campaign_units(store: Store, campaign_id: int) -> list[CampaignUnitRow]:
    with store.session() as session:
        return list(session.scalars(select(CampaignUnitRow).where(
            CampaignUnitRow.campaign_id == campaign_id).order_by(CampaignUnitRow.id)))


def campaign_unit(store: Store, campaign_id: int, unit: str) -> CampaignUnitRow:
    with store.session() as session:
        row = session.scalar(select(CampaignUnitRow).where(
            CampaignUnitRow.campaign_id == campaign_id, CampaignUnitRow.unit == unit))
    if row is None:
        raise NotFound(f"{unit} is not assessed in campaign {campaign_id}")
    return row


def set_phase(store: Store, campaign_id: int, phase: Phase | str, opens_on: dt.date,
              closes_on: dt.date, *, actor: int | None = None) -> CampaignPhaseRow:
    """Set (or move) a phase's window, both days included."""
    phase = phase_of(phase)
    if closes_on < opens_on:
        raise CampaignError(f"the window of {phase.value} closes ({closes_on.isoformat()}) "
                            f"before it opens ({opens_on.isoformat()})")
    with store.session() as session:
        if session.get(CampaignRow, campaign_id) is None:
            raise NotFound(f"no campaign {campaign_id}")
        row = session.scalar(select(CampaignPhaseRow).where(
            CampaignPhaseRow.campaign_id == campaign_id, CampaignPhaseRow.phase == phase.value))
        before = None
        if row is None:
            row = CampaignPhaseRow(campaign_id=campaign_id, phase=phase.value)
            session.add(row)
        else:
            before = [row.opens_on.isoformat(), row.closes_on.isoformat()]
        row.opens_on, row.closes_on, row.set_by, row.set_at = opens_on, closes_on, actor, utcnow()
        session.flush()
        _audit(session, actor, "campaign.phase.set", f"campaign:{campaign_id}",
               {"phase": phase.value, "opens_on": opens_on.isoformat(),
                "closes_on": closes_on.isoformat(), "was": before})
        return row


def campaign_phases(store: Store, campaign_id: int) -> dict[Phase, CampaignPhaseRow]:
    with store.session() as session:
        return {Phase(row.phase): row for row in session.scalars(
            select(CampaignPhaseRow).where(CampaignPhaseRow.campaign_id == campaign_id))}


def set_appraiser(store: Store, campaign_id: int, key_id: int, prefixes: Sequence[str], *,
                  actor: int | None = None) -> CampaignAppraiserRow:
    """Limit an appraiser key, in this round, to the criteria under `prefixes`; no prefixes:
    every criterion again."""
    prefixes = sorted({p.strip() for p in prefixes if p.strip()})
    with store.session() as session:
        if session.get(CampaignRow, campaign_id) is None:
            raise NotFound(f"no campaign {campaign_id}")
        key = session.get(ApiKey, key_id)
        if key is None:
            raise NotFound(f"no API key {key_id}")
        if key.role != Role.APPRAISER:
            raise CampaignError(f"key {key_id} has the role {key.role}, not appraiser")
        row = session.scalar(select(CampaignAppraiserRow).where(
            CampaignAppraiserRow.campaign_id == campaign_id,
            CampaignAppraiserRow.key_id == key_id))
        if row is None:
            row = CampaignAppraiserRow(campaign_id=campaign_id, key_id=key_id)
            session.add(row)
        row.criterion_prefixes = prefixes
        session.flush()
        _audit(session, actor, "campaign.appraiser.set", f"campaign:{campaign_id}",
               {"key_id": key_id, "criterion_prefixes": prefixes})
        return row


def appraiser_prefixes(store: Store, campaign_id: int, key_id: int) -> list[str] | None:
    """The criterion id prefixes the key is limited to in the round, None when unlimited."""
    with store.session() as session:
        prefixes = session.scalar(select(CampaignAppraiserRow.criterion_prefixes).where(
            CampaignAppraiserRow.campaign_id == campaign_id,
            CampaignAppraiserRow.key_id == key_id))
    return list(prefixes) if prefixes else None


def campaign_appraisers(store: Store, campaign_id: int) -> list[CampaignAppraiserRow]:
    with store.session() as session:
        return list(session.scalars(select(CampaignAppraiserRow).where(
            CampaignAppraiserRow.campaign_id == campaign_id).order_by(CampaignAppraiserRow.id)))


# -- self-assessments --------------------------------------------------------------------------

def save_draft(store: Store, campaign_id: int, unit: str, level: str, criterion: str, *,
               claimed_points: float, figures: dict[str, Any] | None, evidence: Sequence[str],
               explanation: str | None, actor: int | None) -> SelfAssessmentRow:
    """Write the unit's draft for a criterion; drafting again replaces it, and a criterion
    already submitted goes back to draft (it must be approved, and is pre-screened, again)."""
    evidence = list(dict.fromkeys(evidence))
    with store.session() as session:
        row = session.scalar(select(SelfAssessmentRow).where(
            SelfAssessmentRow.campaign_id == campaign_id, SelfAssessmentRow.unit == unit,
            SelfAssessmentRow.criterion == criterion).with_for_update())
        was = row.state if row is not None else None
        if row is None:
            row = SelfAssessmentRow(campaign_id=campaign_id, unit=unit, criterion=criterion)
            session.add(row)
        row.level, row.state = level, AssessmentState.DRAFT.value
        row.claimed_points, row.figures, row.evidence = claimed_points, figures, evidence
        row.explanation, row.drafted_by, row.drafted_at = explanation, actor, utcnow()
        row.approved_by = row.approved_at = row.batch_item_id = None
        session.flush()
        _audit(session, actor, "assessment.draft", f"assessment:{row.id}",
               {"campaign": campaign_id, "unit": unit, "criterion": criterion,
                "claimed_points": claimed_points, "figures": figures, "evidence": evidence,
                "explanation": explanation, "was": was})
        return row


def get_assessment(store: Store, assessment_id: int) -> SelfAssessmentRow:
    with store.session() as session:
        return required_row(session, SelfAssessmentRow, assessment_id,
                            f"no self-assessment {assessment_id}")


def find_assessments(store: Store, campaign_id: int, *, unit: str | None = None,
                     criterion: str | None = None,
                     state: str | None = None) -> list[SelfAssessmentRow]:
    query = select(SelfAssessmentRow).where(SelfAssessmentRow.campaign_id == campaign_id)
    for column, value in ((SelfAssessmentRow.unit, unit),
                          (SelfAssessmentRow.criterion, criterion),
                          (SelfAssessmentRow.state, state)):
        if value is not None:
            query = query.where(column == value)
    with store.session() as session:
        return list(session.scalars(query.order_by(SelfAssessmentRow.id)))


def mark_submitted(store: Store, assessment_ids: Sequence[int], approver: int) -> None:
    """Approve these drafts at once, by a key that drafted none of them; all or nothing."""
    with store.session() as session:
        for assessment_id in assessment_ids:
            changed = rowcount(session.execute(
                update(SelfAssessmentRow)
                .where(SelfAssessmentRow.id == assessment_id,
                       SelfAssessmentRow.state == AssessmentState.DRAFT,
                       (SelfAssessmentRow.drafted_by.is_(None))
                       | (SelfAssessmentRow.drafted_by != approver))
                .values(state=AssessmentState.SUBMITTED, approved_by=approver,
                        approved_at=utcnow())
                .execution_options(synchronize_session=False)))
            if changed != 1:
                raise CampaignConflict(f"self-assessment {assessment_id} changed while being "
                                       "approved (approved already, or drafted again); read it "
                                       "again")


def link_prescreens(store: Store, items: dict[int, int], batch_id: str,
                    actor: int | None) -> None:
    """Record each submitted assessment's pre-screening batch item, with the audit entries."""
    with store.session() as session:
        for assessment_id, item_id in items.items():
            row = session.get_one(SelfAssessmentRow, assessment_id)
            row.batch_item_id = item_id
            _audit(session, actor, "assessment.approve", f"assessment:{assessment_id}",
                   {"campaign": row.campaign_id, "unit": row.unit, "criterion": row.criterion,
                    "drafted_by": row.drafted_by, "batch": batch_id, "batch_item": item_id})


# -- appraisals and explanations ---------------------------------------------------------------

def add_appraisal(store: Store, assessment_id: int, *, round: int, action: str, status: str,
                  points: float, reason: str | None, remark: str | None,
                  verdict_id: int | None, override_id: int | None,
                  actor: int | None) -> AppraisalRow:
    with store.session() as session:
        row = AppraisalRow(assessment_id=assessment_id, round=round, action=action,
                           status=status, points=points, reason=reason, remark=remark,
                           verdict_id=verdict_id, override_id=override_id, by_key_id=actor)
        session.add(row)
        session.flush()
        _audit(session, actor, f"assessment.appraisal.round{round}",
               f"assessment:{assessment_id}",
               {"appraisal": row.id, "action": action, "status": status, "points": points,
                "reason": reason, "remark": remark, "verdict": verdict_id,
                "override": override_id})
        return row


def appraisals_of(store: Store, assessment_ids: Iterable[int]) -> dict[int, list[AppraisalRow]]:
    """Each assessment's decisions, oldest first."""
    found: dict[int, list[AppraisalRow]] = {}
    ids = list(assessment_ids)
    with store.session() as session:
        for start in range(0, len(ids), 500):
            for row in session.scalars(select(AppraisalRow).where(
                    AppraisalRow.assessment_id.in_(ids[start:start + 500]))
                    .order_by(AppraisalRow.id)):
                found.setdefault(row.assessment_id, []).append(row)
    return found


def add_explanation(store: Store, assessment_id: int, *, appraisal_id: int | None,
                    text: str | None, evidence: Sequence[str],
                    actor: int | None) -> ExplanationRow:
    with store.session() as session:
        row = ExplanationRow(assessment_id=assessment_id, appraisal_id=appraisal_id, text=text,
                             evidence=list(dict.fromkeys(evidence)), by_key_id=actor)
        session.add(row)
        session.flush()
        _audit(session, actor, "assessment.explanation", f"assessment:{assessment_id}",
               {"explanation": row.id, "appraisal": appraisal_id, "text": text,
                "evidence": row.evidence})
        return row


def link_explanation_prescreen(store: Store, explanation_id: int, item_id: int,
                               batch_id: str, actor: int | None) -> ExplanationRow:
    with store.session() as session:
        row = session.get_one(ExplanationRow, explanation_id)
        row.batch_item_id = item_id
        _audit(session, actor, "assessment.explanation.prescreen",
               f"assessment:{row.assessment_id}",
               {"explanation": explanation_id, "batch": batch_id, "batch_item": item_id})
        return row


def explanations_of(store: Store,
                    assessment_ids: Iterable[int]) -> dict[int, list[ExplanationRow]]:
    """Each assessment's explanations, oldest first."""
    found: dict[int, list[ExplanationRow]] = {}
    ids = list(assessment_ids)
    with store.session() as session:
        for start in range(0, len(ids), 500):
            for row in session.scalars(select(ExplanationRow).where(
                    ExplanationRow.assessment_id.in_(ids[start:start + 500]))
                    .order_by(ExplanationRow.id)):
                found.setdefault(row.assessment_id, []).append(row)
    return found


# -- publication ------------------------------------------------------------------------------

def publications(store: Store, campaign_id: int) -> list[PublicationRow]:
    """Every publication of the campaign, the first first (re-opened ones included)."""
    with store.session() as session:
        return list(session.scalars(select(PublicationRow).where(
            PublicationRow.campaign_id == campaign_id).order_by(PublicationRow.number)))


def in_force_publication(store: Store, campaign_id: int) -> PublicationRow | None:
    """The publication that stands: the last one, unless it was re-opened."""
    found = publications(store, campaign_id)
    return found[-1] if found and found[-1].reopened_at is None else None


def save_publication(store: Store, campaign_id: int, *, digest: str, ruleset_id: str,
                     ruleset_version: str, payload: dict[str, Any],
                     actor: int | None) -> PublicationRow:
    """Freeze a result as the campaign's next publication; refused while one stands."""
    with store.session() as session:
        campaign = session.get(CampaignRow, campaign_id, with_for_update=True)
        if campaign is None:
            raise NotFound(f"no campaign {campaign_id}")
        last = session.scalar(select(PublicationRow).where(
            PublicationRow.campaign_id == campaign_id).order_by(PublicationRow.number.desc())
            .limit(1))
        if last is not None and last.reopened_at is None:
            raise CampaignConflict(f"campaign {campaign_id} is published already (publication "
                                   f"{last.number}); an admin must re-open it first")
        row = PublicationRow(campaign_id=campaign_id, number=(last.number + 1) if last else 1,
                             digest=digest, ruleset_id=ruleset_id,
                             ruleset_version=ruleset_version, payload=payload,
                             published_by=actor)
        session.add(row)
        session.flush()
        _audit(session, actor, "campaign.publish", f"campaign:{campaign_id}",
               {"publication": row.number, "digest": digest, "ruleset": ruleset_id,
                "ruleset_version": ruleset_version})
        return row


def reopen(store: Store, campaign_id: int, reason: str, *, actor: int | None) -> PublicationRow:
    """Re-open a published campaign: the publication is kept, marked re-opened with the
    reason; the round's actions are taken again (in their windows)."""
    if not reason.strip():
        raise CampaignError("re-opening a published campaign needs a reason")
    with store.session() as session:
        last = session.scalar(select(PublicationRow).where(
            PublicationRow.campaign_id == campaign_id).order_by(PublicationRow.number.desc())
            .limit(1).with_for_update())
        if last is None or last.reopened_at is not None:
            raise CampaignConflict(f"campaign {campaign_id} is not published: nothing to "
                                   "re-open")
        last.reopened_by, last.reopened_at, last.reopen_reason = actor, utcnow(), reason.strip()
        _audit(session, actor, "campaign.reopen", f"campaign:{campaign_id}",
               {"publication": last.number, "reason": last.reopen_reason})
        session.flush()
        return last
