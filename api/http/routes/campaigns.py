"""Assessment rounds (đợt đánh giá): the host sets up a campaign, its units and its phase
windows; units draft and (with a second key) approve their self-assessments, pre-screened at
once; appraisers confirm or change the verdicts (round 1), units explain, appraisers decide
again (round 2); the final outcomes are read as plain rows; an admin publishes the result
(frozen, with its digest; CSV and XLSX) and may re-open the round with a reason. The flow is
`kiemchung.api.campaigns`; this module only checks who may call what.

A unit key sees its own unit only: another unit's self-assessment answers 404.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from kiemchung.api import campaigns as flow
from kiemchung.api.access import Hidden, acting_unit, sees_unit, unit_scope, visible_document
from kiemchung.api.http.campaign_schemas import (
    AppraisalCreate,
    AppraiserAssign,
    ApprovalCreate,
    AssessmentDraft,
    CampaignCreate,
    CampaignUnitCreate,
    ExplanationCreate,
    PhaseWindow,
    ReopenCreate,
)
from kiemchung.api.http.deps import Admin, CurrentKey, SettingsDep, StoreDep, TrustDep, role_in
from kiemchung.api.http.errors import Forbidden
from kiemchung.api.http.schemas import RowId
from kiemchung.api.store import Store
from kiemchung.api.store import campaigns as db
from kiemchung.api.store.tables import (
    ApiKey,
    CampaignRow,
    Phase,
    PublicationRow,
    Role,
    SelfAssessmentRow,
)
from kiemchung.verifier.publication import publication_csv, publication_xlsx

router = APIRouter(prefix="/campaigns", tags=["campaigns"])

UnitKey = Annotated[ApiKey, Depends(role_in(Role.UNIT))]
Appraiser = Annotated[ApiKey, Depends(role_in(Role.APPRAISER, Role.ADMIN))]
PhasePath = Annotated[Phase, Path(description="self_assessment, appraisal, explanation, "
                                              "second_appraisal or publication")]


def campaign_json(store: Store, row: CampaignRow, key: ApiKey) -> dict[str, Any]:
    on = flow.today()
    phases = db.campaign_phases(store, row.id)
    units = [u for u in db.campaign_units(store, row.id) if sees_unit(key, u.unit)]
    return {"id": row.id, "name": row.name, "ruleset": row.ruleset_id, "year": row.year,
            "created_at": row.created_at, "today": on,
            "units": [{"unit": u.unit, "level": u.level, "parent": u.parent} for u in units],
            "phases": {phase.value: ({"opens_on": w.opens_on, "closes_on": w.closes_on,
                                      "open": w.opens_on <= on <= w.closes_on}
                                     if (w := phases.get(phase)) else None)
                       for phase in Phase}}


def visible_assessment(store: Store, key: ApiKey, campaign_id: int,
                       assessment_id: int) -> SelfAssessmentRow:
    row = db.get_assessment(store, assessment_id)            # NotFound → 404
    if row.campaign_id != campaign_id or not sees_unit(key, row.unit):
        raise Hidden(f"no self-assessment {assessment_id}")
    return row


def _own(key: ApiKey, unit: str | None) -> None:
    acting_unit(key, unit)                                   # 403 for another unit


# -- the host ----------------------------------------------------------------------------------

@router.post("", status_code=201, summary="Create an assessment round (admin)")
def create_campaign(body: CampaignCreate, key: Admin, store: StoreDep):
    row = flow.create_campaign(store, body.name, body.ruleset, body.year, actor=key.id)
    return campaign_json(store, row, key)


@router.get("", summary="The assessment rounds")
def list_campaigns(key: CurrentKey, store: StoreDep):
    return [campaign_json(store, row, key) for row in db.list_campaigns(store)]


@router.get("/{campaign_id}", summary="A round: its units and phase windows")
def get_campaign(campaign_id: RowId, key: CurrentKey, store: StoreDep):
    return campaign_json(store, db.get_campaign(store, campaign_id), key)


@router.post("/{campaign_id}/units", status_code=201, summary="Add a unit assessed (admin)")
def add_unit(campaign_id: RowId, body: CampaignUnitCreate, key: Admin, store: StoreDep):
    row = flow.add_unit(store, campaign_id, body.unit, body.level, body.parent, actor=key.id)
    return {"campaign_id": campaign_id, "unit": row.unit, "level": row.level,
            "parent": row.parent}


@router.put("/{campaign_id}/phases/{phase}", summary="Set a phase's window (admin)")
def set_phase(campaign_id: RowId, phase: PhasePath, body: PhaseWindow, key: Admin,
              store: StoreDep):
    row = db.set_phase(store, campaign_id, phase, body.opens_on, body.closes_on, actor=key.id)
    return {"campaign_id": campaign_id, "phase": row.phase, "opens_on": row.opens_on,
            "closes_on": row.closes_on}


@router.put("/{campaign_id}/appraisers/{key_id}",
            summary="Limit an appraiser key to criterion id prefixes in this round (admin)")
def set_appraiser(campaign_id: RowId, key_id: RowId, body: AppraiserAssign, key: Admin,
                  store: StoreDep):
    row = db.set_appraiser(store, campaign_id, key_id, body.criterion_prefixes, actor=key.id)
    return {"campaign_id": campaign_id, "key_id": row.key_id,
            "criterion_prefixes": row.criterion_prefixes}


# -- the unit ----------------------------------------------------------------------------------

@router.post("/{campaign_id}/assessments", summary="Draft a criterion's self-assessment "
                                                   "(a unit key)")
def draft(campaign_id: RowId, body: AssessmentDraft, key: UnitKey, store: StoreDep):
    _own(key, body.unit)
    for sha256 in body.evidence:
        visible_document(store, key, sha256)                # 404 unless the unit uploaded it
    row = flow.draft(store, campaign_id, key, body.criterion,
                     claimed_points=body.claimed_points, figures=body.figures,
                     evidence=body.evidence, explanation=body.explanation)
    return flow.assessment_view(store, row)


@router.post("/{campaign_id}/approvals", status_code=202,
             summary="Approve the unit's drafts with a second key: submitted and pre-screened")
def approve(campaign_id: RowId, body: ApprovalCreate, key: UnitKey, store: StoreDep,
            settings: SettingsDep, trust: TrustDep):
    _own(key, body.unit)
    approval = flow.approve(store, settings, campaign_id, key, body.criteria or None,
                            trust=trust)
    return {"batch_id": approval.batch_id,
            "assessments": [flow.assessment_view(store, a) for a in approval.assessments]}


@router.post("/{campaign_id}/assessments/{assessment_id}/explanations", status_code=201,
             summary="Answer the round-1 remark (giải trình) with text and/or new evidence")
def explain(campaign_id: RowId, assessment_id: RowId, body: ExplanationCreate, key: UnitKey,
            store: StoreDep, settings: SettingsDep, trust: TrustDep):
    row = visible_assessment(store, key, campaign_id, assessment_id)
    for sha256 in body.evidence:
        visible_document(store, key, sha256)
    flow.explain(store, settings, campaign_id, row.id, key, text=body.text,
                 evidence=body.evidence, trust=trust)
    return flow.assessment_view(store, db.get_assessment(store, row.id))


# -- the appraisers ----------------------------------------------------------------------------

@router.post("/{campaign_id}/assessments/{assessment_id}/appraisals", status_code=201,
             summary="Confirm or change the verdict, with a remark (round 1 or 2)")
def appraise(campaign_id: RowId, assessment_id: RowId, body: AppraisalCreate, key: Appraiser,
             store: StoreDep):
    row = visible_assessment(store, key, campaign_id, assessment_id)
    if not flow.may_appraise(store, campaign_id, key, row.criterion):
        prefixes = ", ".join(db.appraiser_prefixes(store, campaign_id, key.id) or [])
        raise Forbidden(f"key {key.name} appraises the criteria under {prefixes} in campaign "
                        f"{campaign_id}, not {row.criterion}")
    flow.appraise(store, campaign_id, row.id, key, round=body.round, action=body.action,
                  status=body.status.value if body.status else None, points=body.points,
                  reason=body.reason, remark=body.remark)
    return flow.assessment_view(store, db.get_assessment(store, row.id))


# -- reading -----------------------------------------------------------------------------------

@router.get("/{campaign_id}/assessments", summary="Self-assessments (a unit key: its own)")
def list_assessments(campaign_id: RowId, key: CurrentKey, store: StoreDep,
                     unit: Annotated[str | None, Query(max_length=300)] = None,
                     criterion: Annotated[str | None, Query(max_length=32)] = None):
    db.get_campaign(store, campaign_id)
    scope = unit_scope(key)
    if scope is not None:
        if unit not in (None, scope):
            return []
        unit = scope
    return [flow.assessment_view(store, row)
            for row in db.find_assessments(store, campaign_id, unit=unit, criterion=criterion)]


@router.get("/{campaign_id}/assessments/{assessment_id}",
            summary="A self-assessment: claimed and verified points side by side (đối chiếu)")
def get_assessment(campaign_id: RowId, assessment_id: RowId, key: CurrentKey,
                   store: StoreDep):
    return flow.assessment_view(store, visible_assessment(store, key, campaign_id,
                                                          assessment_id))


@router.get("/{campaign_id}/status", summary="Progress per unit")
def status(campaign_id: RowId, key: CurrentKey, store: StoreDep):
    return [row for row in flow.campaign_status(store, campaign_id)
            if sees_unit(key, row["unit"])]


@router.get("/{campaign_id}/outcomes", summary="The final outcome of every unit and criterion")
def outcomes(campaign_id: RowId, key: CurrentKey, store: StoreDep):
    return [row.as_dict() for row in flow.final_outcomes(store, campaign_id)
            if sees_unit(key, row.unit)]


# -- publication --------------------------------------------------------------------------------

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Number = Annotated[int, Path(ge=1, le=10_000, description="the publication's number: 1, 2…")]


def publication_json(row: PublicationRow) -> dict[str, Any]:
    return {"number": row.number, "digest": row.digest, "ruleset": row.ruleset_id,
            "ruleset_version": row.ruleset_version, "published_at": row.published_at,
            "published_by": row.published_by, "reopened_at": row.reopened_at,
            "reopen_reason": row.reopen_reason, "in_force": row.reopened_at is None}


@router.post("/{campaign_id}/publications", status_code=201,
             summary="Publish the final scores, ranks and bands (admin, in the window)")
def publish(campaign_id: RowId, key: Admin, store: StoreDep):
    row = flow.publish(store, campaign_id, actor=key.id)
    return {**publication_json(row), "publication": row.payload["publication"]}


@router.get("/{campaign_id}/publications", summary="Every publication, re-opened ones too")
def list_publications(campaign_id: RowId, key: CurrentKey, store: StoreDep):
    db.get_campaign(store, campaign_id)                      # NotFound → 404
    return [publication_json(row) for row in db.publications(store, campaign_id)]


@router.get("/{campaign_id}/publications/{number}",
            summary="A publication, and whether its stored inputs give its digest again")
def get_publication(campaign_id: RowId, number: Number, key: CurrentKey, store: StoreDep):
    row, _ = flow.stored_publication(store, campaign_id, number)
    return {**publication_json(row), "reproduced": flow.reproduce(store, campaign_id, number),
            "publication": row.payload["publication"]}


@router.get("/{campaign_id}/publications/{number}/report.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}}, summary="A publication as CSV")
def publication_report_csv(campaign_id: RowId, number: Number, key: CurrentKey,
                           store: StoreDep):
    _, result = flow.stored_publication(store, campaign_id, number)
    return Response(publication_csv(result), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="campaign-'
                                                    f'{campaign_id}-{number}.csv"'})


@router.get("/{campaign_id}/publications/{number}/report.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}}}, summary="A publication as XLSX")
def publication_report_xlsx(campaign_id: RowId, number: Number, key: CurrentKey,
                            store: StoreDep):
    _, result = flow.stored_publication(store, campaign_id, number)
    return Response(publication_xlsx(result), media_type=XLSX,
                    headers={"Content-Disposition": f'attachment; filename="campaign-'
                                                    f'{campaign_id}-{number}.xlsx"'})


@router.post("/{campaign_id}/reopen", summary="Re-open a published round (admin, with a "
                                              "reason); the publication is kept")
def reopen(campaign_id: RowId, body: ReopenCreate, key: Admin, store: StoreDep):
    return publication_json(flow.reopen(store, campaign_id, body.reason, actor=key.id))

