"""Assessment rounds (đợt đánh giá) as pages: the list of rounds (and, for an admin, the forms
that create one and add its units), a unit's self-assessment (draft per criterion, approval by
a second person, explanation), the appraisers' matrix with the decision form of each cell, its
exports, and the phase windows.

Everything goes through the flow (`kiemchung.api.campaigns`) with the person's key, and the
same who-may-see-what as the API (`api/http/routes/campaigns.py`): a unit sees its own unit
only, another unit's entries are "not found".
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Path, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from kiemchung.api import campaigns as flow
from kiemchung.api.access import sees_unit, unit_scope, visible_document
from kiemchung.api.http.deps import StoreDep
from kiemchung.api.http.errors import ApiError
from kiemchung.api.http.routes.campaigns import XLSX, visible_assessment
from kiemchung.api.http.routes.documents import read_upload, refuse_unknown_kind, upload_name
from kiemchung.api.http.schemas import RowId
from kiemchung.api.service import document_name
from kiemchung.api.store import NotFound, Store
from kiemchung.api.store import campaigns as db
from kiemchung.api.store.campaigns import CampaignConflict, CampaignError, OutsidePhase
from kiemchung.api.store.tables import (
    ApiKey,
    AssessmentState,
    CampaignRow,
    CampaignUnitRow,
    Phase,
    Role,
)
from kiemchung.api.store.users import WebSession, people_names
from kiemchung.api.web import words
from kiemchung.api.web.auth import FormPerson, PageRefused, Person, require_role
from kiemchung.api.web.render import page, points, typed_number, vn_date
from kiemchung.models.errors import InputFileError
from kiemchung.verifier.reports import safe_row, xlsx_row
from kiemchung.verifier.ruleset import (
    Criterion,
    Level,
    RuleSetError,
    available_rulesets,
    load_ruleset,
)

router = APIRouter()

PEOPLE = (Role.UNIT, Role.APPRAISER, Role.ADMIN)
APPRAISERS = (Role.APPRAISER, Role.ADMIN)
STATE = {"draft": "Bản nháp", "submitted": "Đã nộp"}
ACTION = {"confirm": "Xác nhận", "change": "Thay đổi"}
NOT_SUBMITTED = "Chưa nộp"
CriterionId = Annotated[str, Path(max_length=32)]
PHASE_ROUND = {Phase.APPRAISAL: 1, Phase.SECOND_APPRAISAL: 2}


# -- reading the round -------------------------------------------------------------------------

def _campaign(store: Store, campaign_id: int) -> CampaignRow:
    try:
        return db.get_campaign(store, campaign_id)
    except NotFound:
        raise PageRefused(404, "Không tìm thấy đợt đánh giá này.") from None


def _member(store: Store, key: ApiKey, campaign_id: int) -> CampaignUnitRow:
    """The unit's own place in the round; a round without it is "not found" to the unit."""
    try:
        return db.campaign_unit(store, campaign_id, key.unit or "")
    except NotFound:
        raise PageRefused(404, "Không tìm thấy đợt đánh giá này.") from None


def _phases(store: Store, campaign_id: int) -> list[dict[str, Any]]:
    on = flow.today()
    windows = db.campaign_phases(store, campaign_id)
    return [{"phase": phase.value, "window": windows.get(phase),
             "open": (w := windows.get(phase)) is not None and w.opens_on <= on <= w.closes_on}
            for phase in Phase]


def _open_phases(store: Store, campaign_id: int) -> set[str]:
    return {p["phase"] for p in _phases(store, campaign_id) if p["open"]}


def phase_refusal(store: Store, campaign_id: int, phase: Phase) -> str:
    """Why the phase refuses today, in Vietnamese: its window and today's date."""
    on = flow.today()
    if db.in_force_publication(store, campaign_id) is not None:
        return ("Đợt đánh giá đã được công bố: quản trị viên phải mở lại đợt trước khi "
                "thay đổi.")
    name = words.PHASE[phase.value]
    window = db.campaign_phases(store, campaign_id).get(phase)
    if window is None:
        return (f"Giai đoạn «{name}» chưa mở: chưa đặt thời gian (hôm nay là "
                f"{vn_date(on)}).")
    state = "chưa bắt đầu" if on < window.opens_on else "đã kết thúc"
    return (f"Giai đoạn «{name}» diễn ra từ {vn_date(window.opens_on)} đến "
            f"{vn_date(window.closes_on)}; hôm nay là {vn_date(on)}: giai đoạn {state}.")


# Conflicts of the flow other than a closed phase, by what its (English) message says.
CONFLICTS = {
    "drafted with this key": "Người lập bản nháp không được tự phê duyệt: một người khác "
                             "của đơn vị phải phê duyệt.",
    "has no draft": "Không có bản nháp nào để phê duyệt.",
    "is submitted already": "Tiêu chí đã nộp; hãy lập lại bản nháp để thay đổi.",
    "is still": "Hệ thống chưa kiểm tra xong tài liệu của tiêu chí này; hãy thẩm định sau.",
    "never pre-screened": "Tiêu chí chưa được kiểm tra sơ bộ.",
    "no round-1 appraisal": "Tiêu chí chưa có kết quả thẩm định vòng 1.",
    "no verdict to confirm": "Không có kết quả kiểm tra để xác nhận: hãy thay đổi, kèm lý do.",
    "is not submitted": "Tiêu chí chưa được nộp (bản nháp chờ người thứ hai phê duyệt).",
}


def conflict_text(store: Store, campaign_id: int, phase: Phase,
                  error: CampaignConflict) -> str:
    if isinstance(error, OutsidePhase) or db.in_force_publication(store, campaign_id):
        return phase_refusal(store, campaign_id, phase)
    message = str(error)
    found = next((text for part, text in CONFLICTS.items() if part in message), None)
    return found or "Chưa thể thực hiện thao tác này."


def _points_of(text: str | None, maximum: float) -> float:
    """A number of points typed by a person ("7,5" or "7.5"), between 0 and the maximum."""
    try:
        value = typed_number(text)
    except ValueError:
        raise CampaignError(f"Số điểm «{(text or '').strip()[:40]}» không phải là một số.") \
            from None
    if not 0 <= value <= maximum:
        raise CampaignError(f"Số điểm phải từ 0 đến {points(maximum)}, không phải "
                            f"{points(value)}.")
    return value


def _stored_uploads(store: Store, request: Request, person: WebSession,
                    files: list[UploadFile]) -> list[str]:
    """The files of the form, stored as the unit's uploads (the empty file input skipped)."""
    limit = request.app.state.settings.max_upload_bytes
    stored = []
    for upload in files:
        if not upload.filename:
            continue
        data = read_upload(upload, limit)
        name = upload_name(upload)
        refuse_unknown_kind(data, name)
        stored.append(store.put_document(data, name, unit=person.key.unit,
                                         uploaded_by=person.key.id).sha256)
    return stored


def _upload_refusal(error: Exception) -> tuple[int, str]:
    if isinstance(error, InputFileError):
        return 422, "Tệp không đọc được: không phải PDF hay ảnh, hoặc tệp rỗng."
    if isinstance(error, ApiError) and error.status == 413:
        return 413, "Tệp quá lớn so với giới hạn cho phép."
    return 422, "Tên tệp không hợp lệ (chứa ký tự điều khiển)."


def _documents(store: Store, key: ApiKey, shas: list[str]) -> list[dict[str, str]]:
    return [{"sha256": sha, "name": document_name(store, key, sha)} for sha in shas]


# -- the list of rounds ------------------------------------------------------------------------

def _round_row(store: Store, row: CampaignRow) -> dict[str, Any]:
    phases = _phases(store, row.id)
    return {"campaign": row, "phases": phases,
            "open": [p for p in phases if p["open"]],
            "units": db.campaign_units(store, row.id)}


@router.get("/campaigns")
def campaigns(request: Request, person: Person, store: StoreDep, phase: str | None = None):
    require_role(person, *PEOPLE)
    scope = unit_scope(person.key)
    rows = [_round_row(store, row) for row in db.list_campaigns(store)]
    rows = [r for r in rows if scope is None or any(u.unit == scope for u in r["units"])]
    if phase in words.PHASE:
        rows = [r for r in rows if any(p["phase"] == phase for p in r["open"])]
    return page(request, "campaigns.html", person, rows=rows, chosen_phase=phase or "",
                phases=list(words.PHASE), rulesets=sorted(available_rulesets()),
                levels=words.LEVEL, error=None, year=flow.today().year)


@router.post("/campaigns")
def create_campaign(request: Request, person: FormPerson, store: StoreDep,
                    name: Annotated[str, Form(max_length=300)] = "",
                    ruleset: Annotated[str, Form(max_length=100)] = "",
                    year: Annotated[str, Form(max_length=10)] = ""):
    key = require_role(person, Role.ADMIN)
    try:
        if not name.strip():
            raise CampaignError("Hãy đặt tên cho đợt đánh giá.")
        if not year.strip().isdigit() or not 2000 <= int(year) <= 2100:
            raise CampaignError("Năm đánh giá phải là một năm, ví dụ 2024.")
        row = flow.create_campaign(store, name.strip(), ruleset, int(year), actor=key.id)
    except (CampaignError, RuleSetError) as error:
        message = (str(error) if isinstance(error, CampaignError)
                   else f"Không có bộ tiêu chí «{ruleset[:100]}».")
        return _list_error(request, person, store, message)
    return RedirectResponse(f"/campaigns/{row.id}", 303)


@router.post("/campaigns/units")
def add_unit(request: Request, person: FormPerson, store: StoreDep,
             campaign: Annotated[str, Form(max_length=12)] = "",
             unit: Annotated[str, Form(max_length=300)] = "",
             level: Annotated[str, Form(max_length=16)] = "",
             parent: Annotated[str, Form(max_length=300)] = ""):
    key = require_role(person, Role.ADMIN)
    if not campaign.isdigit():
        raise PageRefused(404, "Không tìm thấy đợt đánh giá này.")
    campaign_id = _campaign(store, int(campaign)).id
    try:
        if not unit.strip():
            raise CampaignError("Hãy nhập tên đơn vị.")
        flow.add_unit(store, campaign_id, unit.strip(), level, parent.strip() or None,
                      actor=key.id)
    except CampaignError as error:
        message = str(error)
        if "is already assessed" in message:
            message = "Đơn vị đã có trong đợt đánh giá này."
        elif message.startswith(("unknown level", "rule set")):
            message = "Bộ tiêu chí của đợt không có cấp này."
        return _list_error(request, person, store, message)
    return RedirectResponse("/campaigns", 303)


def _list_error(request: Request, person: WebSession, store: Store, message: str) -> Response:
    rows = [_round_row(store, row) for row in db.list_campaigns(store)]
    return page(request, "campaigns.html", person, status_code=422, rows=rows,
                chosen_phase="", phases=list(words.PHASE),
                rulesets=sorted(available_rulesets()), levels=words.LEVEL, error=message,
                year=flow.today().year)


# -- one round: the unit's self-assessment or the appraisers' matrix ---------------------------

@router.get("/campaigns/{campaign_id}")
def campaign(request: Request, campaign_id: RowId, person: Person, store: StoreDep,
             level: str | None = None, unit: str | None = None):
    require_role(person, *PEOPLE)
    if person.key.role == Role.UNIT:
        return self_assessment(request, store, person, campaign_id)
    return matrix(request, store, person, campaign_id, level, unit)


def _criteria_of(campaign: CampaignRow, level: str) -> list[Criterion]:
    return load_ruleset(campaign.ruleset_id).criteria(Level(level))


def self_assessment(request: Request, store: Store, person: WebSession, campaign_id: int,
                    *, error: str | None = None, status_code: int = 200) -> Response:
    row = _campaign(store, campaign_id)
    member = _member(store, person.key, campaign_id)
    mine = {a.criterion: a for a in db.find_assessments(store, campaign_id, unit=member.unit)}
    open_now = _open_phases(store, campaign_id)
    names = people_names(store)
    entries: list[dict[str, Any]] = []
    for criterion in _criteria_of(row, member.level):
        assessment = mine.get(criterion.id)
        view = flow.assessment_view(store, assessment) if assessment else None
        entries.append({
            "criterion": criterion, "max_points": criterion.points[Level(member.level)],
            "view": view, "assessment": assessment,
            "drafted_by": names.get(assessment.drafted_by or 0, "") if assessment else "",
            "approved_by": names.get(assessment.approved_by or 0, "") if assessment else "",
            "documents": _documents(store, person.key, assessment.evidence)
            if assessment else [],
            "screen": view["prescreens"][-1] if view and view["prescreens"] else None,
            "remarks": [a for a in view["appraisals"] if a["remark"]] if view else [],
            "may_explain": bool(view and Phase.EXPLANATION.value in open_now
                                and any(a["round"] == 1 for a in view["appraisals"]))})
    drafts = [e for e in entries if e["assessment"]
              and e["assessment"].state == AssessmentState.DRAFT]
    return page(request, "campaign_unit.html", person, status_code=status_code,
                campaign=row, member=member, entries=entries, drafts=drafts,
                phases=_phases(store, campaign_id), levels=words.LEVEL, states=STATE,
                error=error, today=flow.today())


def matrix(request: Request, store: Store, person: WebSession, campaign_id: int,
           level: str | None, unit: str | None) -> Response:
    row = _campaign(store, campaign_id)
    ruleset = load_ruleset(row.ruleset_id)
    members = db.campaign_units(store, campaign_id)
    shown = [m for m in members if (not level or m.level == level)
             and (not unit or m.unit == unit)]
    levels = {m.level for m in shown}
    columns = [c for c in ruleset.criteria()
               if any(Level(lv) in c.points for lv in levels)
               and flow.may_appraise(store, campaign_id, person.key, c.id)]
    outcomes = {(o.unit, o.criterion): o for o in flow.final_outcomes(store, campaign_id)}
    rows = [{"member": m, "cells": [outcomes.get((m.unit, c.id)) for c in columns]}
            for m in shown]
    return page(request, "campaign_matrix.html", person, campaign=row, columns=columns,
                rows=rows, members=members, chosen_level=level or "", chosen_unit=unit or "",
                levels=words.LEVEL, phases=_phases(store, campaign_id),
                status_words=words.VERDICT_STATUS | {"not_submitted": NOT_SUBMITTED})


# -- a unit drafts, approves, explains ---------------------------------------------------------

def _unit_criterion(store: Store, person: WebSession, campaign_id: int,
                    criterion_id: str) -> tuple[CampaignRow, CampaignUnitRow, Criterion, float]:
    require_role(person, Role.UNIT)
    row = _campaign(store, campaign_id)
    member = _member(store, person.key, campaign_id)
    found = next((c for c in _criteria_of(row, member.level) if c.id == criterion_id), None)
    if found is None:
        raise PageRefused(404, "Không có tiêu chí này ở cấp của đơn vị.")
    return row, member, found, found.points[Level(member.level)]


def _known_documents(store: Store, campaign_id: int, unit: str) -> list[str]:
    """The unit's documents the form offers again: those it handed in already in the round."""
    mine = db.find_assessments(store, campaign_id, unit=unit)
    shas = [sha for a in mine for sha in a.evidence]
    for rows in db.explanations_of(store, [a.id for a in mine]).values():
        shas += [sha for explanation in rows for sha in explanation.evidence]
    return list(dict.fromkeys(shas))


def _draft_page(request: Request, store: Store, person: WebSession, campaign_id: int,
                criterion_id: str, *, error: str | None = None, status_code: int = 200,
                typed: dict[str, Any] | None = None) -> Response:
    row, member, criterion, maximum = _unit_criterion(store, person, campaign_id, criterion_id)
    current = next(iter(db.find_assessments(store, campaign_id, unit=member.unit,
                                            criterion=criterion.id)), None)
    known = _known_documents(store, campaign_id, member.unit)
    chosen = set(typed["documents"] if typed else (current.evidence if current else []))
    return page(request, "campaign_draft.html", person, status_code=status_code, campaign=row,
                member=member, criterion=criterion, max_points=maximum, current=current,
                documents=_documents(store, person.key, known), chosen=chosen,
                claimed=typed["claimed"] if typed else
                (points(current.claimed_points) if current else ""),
                explanation=typed["explanation"] if typed else
                (current.explanation or "" if current else ""),
                error=error, phases=_phases(store, campaign_id), states=STATE)


@router.get("/campaigns/{campaign_id}/criteria/{criterion_id}")
def draft_form(request: Request, campaign_id: RowId, criterion_id: CriterionId, person: Person,
               store: StoreDep):
    return _draft_page(request, store, person, campaign_id, criterion_id)


@router.post("/campaigns/{campaign_id}/criteria/{criterion_id}")
def draft(request: Request, campaign_id: RowId, criterion_id: CriterionId, person: FormPerson,
          store: StoreDep,
          claimed_points: Annotated[str, Form(max_length=40)] = "",
          explanation: Annotated[str, Form(max_length=20_000)] = "",
          documents: Annotated[list[str] | None, Form()] = None,
          files: Annotated[list[UploadFile] | None, File()] = None):
    _, _, criterion, maximum = _unit_criterion(store, person, campaign_id, criterion_id)
    typed = {"claimed": claimed_points, "explanation": explanation,
             "documents": documents or []}
    try:
        value = _points_of(claimed_points, maximum)
        for sha in documents or []:
            visible_document(store, person.key, sha)        # 404 unless the unit uploaded it
        try:
            uploaded = _stored_uploads(store, request, person, files or [])
        except (InputFileError, ApiError) as refused:
            status, message = _upload_refusal(refused)
            return _draft_page(request, store, person, campaign_id, criterion.id,
                               error=message, status_code=status, typed=typed)
        evidence = list(dict.fromkeys([*(documents or []), *uploaded]))
        if not evidence and not explanation.strip():
            raise CampaignError("Không có tệp minh chứng: hãy tải tệp lên, chọn tài liệu đã "
                                "có, hoặc giải thích vì sao không có tệp.")
        flow.draft(store, campaign_id, person.key, criterion.id, claimed_points=value,
                   evidence=evidence, explanation=explanation)
    except CampaignConflict as conflict:
        return _draft_page(request, store, person, campaign_id, criterion.id, typed=typed,
                           error=conflict_text(store, campaign_id, Phase.SELF_ASSESSMENT,
                                               conflict), status_code=409)
    except CampaignError as refused:
        return _draft_page(request, store, person, campaign_id, criterion.id, typed=typed,
                           error=str(refused), status_code=422)
    return RedirectResponse(f"/campaigns/{campaign_id}", 303)


@router.post("/campaigns/{campaign_id}/approve")
def approve(request: Request, campaign_id: RowId, person: FormPerson, store: StoreDep,
            criteria: Annotated[list[str] | None, Form()] = None):
    require_role(person, Role.UNIT)
    _campaign(store, campaign_id)
    _member(store, person.key, campaign_id)
    try:
        flow.approve(store, request.app.state.settings, campaign_id, person.key,
                     criteria or None, trust=request.app.state.trust)
    except CampaignConflict as conflict:
        return self_assessment(request, store, person, campaign_id, status_code=409,
                               error=conflict_text(store, campaign_id, Phase.SELF_ASSESSMENT,
                                                   conflict))
    except NotFound:
        return self_assessment(request, store, person, campaign_id, status_code=404,
                               error="Tiêu chí đã chọn không có bản nháp.")
    return RedirectResponse(f"/campaigns/{campaign_id}", 303)


@router.post("/campaigns/{campaign_id}/assessments/{assessment_id}/explain")
def explain(request: Request, campaign_id: RowId, assessment_id: RowId, person: FormPerson,
            store: StoreDep, text: Annotated[str, Form(max_length=20_000)] = "",
            files: Annotated[list[UploadFile] | None, File()] = None):
    require_role(person, Role.UNIT)
    row = _visible(store, person.key, campaign_id, assessment_id)
    try:
        uploaded = _stored_uploads(store, request, person, files or [])
        flow.explain(store, request.app.state.settings, campaign_id, row.id, person.key,
                     text=text, evidence=uploaded, trust=request.app.state.trust)
    except (InputFileError, ApiError) as refused:
        status, message = _upload_refusal(refused)
        return self_assessment(request, store, person, campaign_id, error=message,
                               status_code=status)
    except CampaignConflict as conflict:
        return self_assessment(request, store, person, campaign_id, status_code=409,
                               error=conflict_text(store, campaign_id, Phase.EXPLANATION,
                                                   conflict))
    except CampaignError:
        return self_assessment(request, store, person, campaign_id, status_code=422,
                               error="Giải trình cần nội dung, tệp minh chứng mới, hoặc cả "
                                     "hai.")
    return RedirectResponse(f"/campaigns/{campaign_id}", 303)


# -- one assessment: what the appraisers judge -------------------------------------------------

def _visible(store: Store, key: ApiKey, campaign_id: int, assessment_id: int):
    try:
        return visible_assessment(store, key, campaign_id, assessment_id)
    except (NotFound, ApiError):
        raise PageRefused(404, "Không tìm thấy bản tự đánh giá này.") from None


def _open_round(store: Store, campaign_id: int) -> int | None:
    open_now = _open_phases(store, campaign_id)
    return next((n for phase, n in PHASE_ROUND.items() if phase.value in open_now), None)


def assessment_page(request: Request, store: Store, person: WebSession, campaign_id: int,
                    assessment_id: int, *, error: str | None = None, status_code: int = 200,
                    typed: dict[str, str] | None = None) -> Response:
    require_role(person, *PEOPLE)
    row = _campaign(store, campaign_id)
    assessment = _visible(store, person.key, campaign_id, assessment_id)
    appraises = flow.may_appraise(store, campaign_id, person.key, assessment.criterion)
    if person.key.role != Role.UNIT and not appraises:
        raise PageRefused(403, "Bạn không thẩm định tiêu chí này trong đợt đánh giá.")
    view = flow.assessment_view(store, assessment)
    criterion = load_ruleset(row.ruleset_id).criterion(assessment.criterion)
    names = people_names(store)
    explanations = [{**e, "documents": _documents(store, person.key, e["evidence"]),
                     "by": names.get(e["by_key_id"], "")} for e in view["explanations"]]
    appraisals = [{**a, "by": names.get(a["by_key_id"], "")} for a in view["appraisals"]]
    return page(request, "campaign_assessment.html", person, status_code=status_code,
                campaign=row, view=view, criterion=criterion, appraisals=appraisals,
                explanations=explanations,
                documents=_documents(store, person.key, view["evidence"]),
                drafted_by=names.get(view["drafted_by"], ""),
                approved_by=names.get(view["approved_by"], ""),
                round=_open_round(store, campaign_id) if appraises else None,
                statuses=words.VERDICT_STATUS, actions=ACTION, states=STATE,
                error=error, typed=typed or {}, phases=_phases(store, campaign_id),
                today=flow.today())


@router.get("/campaigns/{campaign_id}/assessments/{assessment_id}")
def assessment(request: Request, campaign_id: RowId, assessment_id: RowId, person: Person,
               store: StoreDep):
    return assessment_page(request, store, person, campaign_id, assessment_id)


@router.post("/campaigns/{campaign_id}/assessments/{assessment_id}/appraise")
def appraise(request: Request, campaign_id: RowId, assessment_id: RowId, person: FormPerson,
             store: StoreDep, round: Annotated[str, Form(max_length=2)] = "1",
             action: Annotated[str, Form(max_length=16)] = "confirm",
             status: Annotated[str, Form(max_length=32)] = "",
             points_: Annotated[str, Form(alias="points", max_length=40)] = "",
             reason: Annotated[str, Form(max_length=5000)] = "",
             remark: Annotated[str, Form(max_length=5000)] = ""):
    key = require_role(person, *APPRAISERS)
    _campaign(store, campaign_id)
    row = _visible(store, key, campaign_id, assessment_id)
    if not flow.may_appraise(store, campaign_id, key, row.criterion):
        raise PageRefused(403, "Bạn không thẩm định tiêu chí này trong đợt đánh giá.")
    typed = {"action": action, "status": status, "points": points_, "reason": reason,
             "remark": remark}
    round_number = 2 if round == "2" else 1
    phase = Phase.SECOND_APPRAISAL if round_number == 2 else Phase.APPRAISAL
    try:
        value = None
        if action == "change":
            maximum = flow.assessment_view(store, row)["max_points"]
            value = _points_of(points_, maximum)
            if status not in words.VERDICT_STATUS:
                raise CampaignError("Hãy chọn kết quả mới.")
            if not reason.strip():
                raise CampaignError("Khi thay đổi kết quả phải nêu lý do.")
        elif action != "confirm":
            raise CampaignError("Hãy chọn xác nhận hoặc thay đổi.")
        flow.appraise(store, campaign_id, row.id, key, round=round_number, action=action,
                      status=status or None, points=value, reason=reason, remark=remark)
    except CampaignConflict as conflict:
        return assessment_page(request, store, person, campaign_id, assessment_id,
                               status_code=409, typed=typed,
                               error=conflict_text(store, campaign_id, phase, conflict))
    except CampaignError as refused:
        message = str(refused)
        if message.startswith("status "):
            message = "Kết quả không khớp với số điểm (Đạt: đủ điểm; Đạt một phần: một " \
                      "phần; Không đạt: 0 điểm)."
        return assessment_page(request, store, person, campaign_id, assessment_id,
                               status_code=422, typed=typed, error=message)
    return RedirectResponse(f"/campaigns/{campaign_id}/assessments/{assessment_id}", 303)


# -- exports -----------------------------------------------------------------------------------

EXPORT_HEADER = ("Đơn vị", "Cấp", "Đơn vị thẩm định", "Tiêu chí", "Điểm tự đánh giá",
                 "Kết quả", "Điểm được công nhận", "Điểm tối đa", "Căn cứ", "Ngày nộp",
                 "Mã kết quả kiểm tra", "Tài liệu (SHA-256)")
DECIDED_BY = {"second_appraisal": "Thẩm định vòng 2", "appraisal": "Thẩm định vòng 1",
              "verdict": "Kết quả kiểm tra", "claimed": "Chưa kiểm tra",
              "not_submitted": NOT_SUBMITTED}


def export_rows(store: Store, key: ApiKey, campaign_id: int) -> list[tuple]:
    submitted = {a.id: a.approved_at for a in db.find_assessments(store, campaign_id)}
    rows = []
    for o in flow.final_outcomes(store, campaign_id):
        if not sees_unit(key, o.unit) or (
                key.role != Role.UNIT and not flow.may_appraise(store, campaign_id, key,
                                                                o.criterion)):
            continue
        status = NOT_SUBMITTED if o.final_status == "not_submitted" \
            else words.VERDICT_STATUS.get(o.final_status, o.final_status)
        approved = submitted.get(o.assessment_id) if o.assessment_id else None
        rows.append((o.unit, words.LEVEL.get(o.level, o.level), o.parent or "", o.criterion,
                     "" if o.claimed_points is None else o.claimed_points, status,
                     o.final_points, o.max_points, DECIDED_BY.get(o.decided_by, o.decided_by),
                     vn_date(approved), "" if o.verdict_id is None else o.verdict_id,
                     "; ".join(o.evidence)))
    return rows


def _export_rows(person: WebSession, store: Store, campaign_id: int) -> list[tuple]:
    require_role(person, *PEOPLE)
    _campaign(store, campaign_id)
    if person.key.role == Role.UNIT:
        _member(store, person.key, campaign_id)
    return export_rows(store, person.key, campaign_id)


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


@router.get("/campaigns/{campaign_id}/export.csv")
def export_csv(request: Request, campaign_id: RowId, person: Person, store: StoreDep):
    out = io.StringIO(newline="")
    writer = csv.writer(out)
    writer.writerow(EXPORT_HEADER)
    for row in _export_rows(person, store, campaign_id):
        writer.writerow(safe_row(row))
    return Response(("\ufeff" + out.getvalue()).encode("utf-8"),
                    media_type="text/csv; charset=utf-8",
                    headers=_attachment(f"dot-danh-gia-{campaign_id}.csv"))


@router.get("/campaigns/{campaign_id}/export.xlsx")
def export_xlsx(request: Request, campaign_id: RowId, person: Person, store: StoreDep):
    from openpyxl import Workbook

    rows = _export_rows(person, store, campaign_id)
    book = Workbook()
    sheet = book.active
    sheet.title = "ket-qua"
    sheet.append(EXPORT_HEADER)
    for row in rows:
        sheet.append(xlsx_row(row))
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), media_type=XLSX,
                    headers=_attachment(f"dot-danh-gia-{campaign_id}.xlsx"))


# -- phases ------------------------------------------------------------------------------------

def _phases_page(request: Request, store: Store, person: WebSession, campaign_id: int, *,
                 error: str | None = None, status_code: int = 200) -> Response:
    return page(request, "campaign_phases.html", person, status_code=status_code,
                campaign=_campaign(store, campaign_id), phases=_phases(store, campaign_id),
                error=error, today=flow.today())


@router.get("/campaigns/{campaign_id}/phases")
def phases_form(request: Request, campaign_id: RowId, person: Person, store: StoreDep):
    require_role(person, Role.ADMIN)
    return _phases_page(request, store, person, campaign_id)


@router.post("/campaigns/{campaign_id}/phases")
async def set_phases(request: Request, campaign_id: RowId, person: FormPerson,
                     store: StoreDep):
    key = require_role(person, Role.ADMIN)
    _campaign(store, campaign_id)
    form = await request.form()
    windows: dict[Phase, tuple[dt.date, dt.date]] = {}
    for phase in Phase:
        opens, closes = (str(form.get(f"{phase.value}_{end}") or "").strip()
                         for end in ("opens", "closes"))
        if not opens and not closes:
            continue
        name = words.PHASE[phase.value]
        try:
            window = dt.date.fromisoformat(opens), dt.date.fromisoformat(closes)
        except ValueError:
            return _phases_page(request, store, person, campaign_id, status_code=422,
                                error=f"Giai đoạn «{name}»: hãy nhập đủ ngày bắt đầu và ngày "
                                      "kết thúc.")
        if window[0] > window[1]:
            return _phases_page(request, store, person, campaign_id, status_code=422,
                                error=f"Giai đoạn «{name}»: ngày kết thúc trước ngày bắt đầu.")
        windows[phase] = window
    for phase, (opens_on, closes_on) in windows.items():
        db.set_phase(store, campaign_id, phase, opens_on, closes_on, actor=key.id)
    return RedirectResponse(f"/campaigns/{campaign_id}/phases", 303)
