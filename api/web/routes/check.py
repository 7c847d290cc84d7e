"""A unit checks one file before sending it: upload it (stored and read as the API's
POST /v1/documents does), see which criteria it may serve, pick one and the year, and have it
verified (as POST /v1/verdicts does): the verdict page follows.

An appraiser or admin may check a file too, naming the unit and level it is evidence for."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from starlette.responses import RedirectResponse, Response

from kiemchung.api import service
from kiemchung.api.access import acting_unit, visible_document
from kiemchung.api.http.deps import StoreDep, TrustDep
from kiemchung.api.http.errors import ApiError
from kiemchung.api.http.routes.documents import (
    Sha256Path,
    read_upload,
    refuse_unknown_kind,
    upload_name,
)
from kiemchung.api.store.tables import Role
from kiemchung.api.store.users import WebSession
from kiemchung.api.web.auth import FormPerson, Person, require_role
from kiemchung.api.web.render import page
from kiemchung.models.errors import InputFileError, KiemchungError
from kiemchung.verifier.evidence import unit_level
from kiemchung.verifier.ruleset import Level, RuleSet, available_rulesets, load_ruleset
from kiemchung.verifier.suggest import suggest_criteria

router = APIRouter()

CHECKERS = (Role.UNIT, Role.APPRAISER, Role.ADMIN)
DEFAULT_RULESET = "hue-2024"
LEVEL_NAMES = {Level.SO: "Sở, ban, ngành", Level.HUYEN: "Huyện, thị xã, thành phố",
               Level.XA: "Xã, phường, thị trấn"}


def _upload_form(request: Request, person: WebSession, *, error: str | None = None,
                 detail: str | None = None, status_code: int = 200, unit: str = "") -> Response:
    return page(request, "check.html", person, status_code=status_code, error=error,
                detail=detail, unit=unit)


@router.get("/check")
def check_form(request: Request, person: Person):
    require_role(person, *CHECKERS)
    return _upload_form(request, person)


@router.post("/check")
def check_upload(request: Request, person: FormPerson, store: StoreDep, trust: TrustDep,
                 file: Annotated[UploadFile | None, File()] = None,
                 unit: Annotated[str, Form(max_length=300)] = ""):
    key = require_role(person, *CHECKERS)
    settings = request.app.state.settings
    if file is None or not file.filename:
        return _upload_form(request, person, status_code=422, unit=unit,
                            error="Hãy chọn một tệp PDF hoặc ảnh để kiểm tra.")
    try:
        data = read_upload(file, settings.max_upload_bytes)
        name = upload_name(file)
        refuse_unknown_kind(data, name)
        sha256, _inspection = service.upload_document(
            store, trust, key, data, name, unit=acting_unit(key, unit.strip() or None),
            ocr_dpi=settings.ocr_dpi)
    except ApiError as error:
        message = ("Tệp lớn hơn giới hạn cho phép." if error.status == 413
                   else "Không nhận được tệp này.")
        return _upload_form(request, person, status_code=error.status, unit=unit,
                            error=message, detail=error.detail)
    except InputFileError as error:
        return _upload_form(request, person, status_code=422, unit=unit, detail=error.message,
                            error="Tệp rỗng, hỏng, hoặc không phải PDF hay ảnh (PNG, JPEG, "
                                  "TIFF): không đọc được.")
    return RedirectResponse(f"/check/{sha256}", 303)


def _ruleset(ruleset_id: str | None) -> RuleSet:
    return load_ruleset(ruleset_id if ruleset_id in available_rulesets() else DEFAULT_RULESET)


def _level(person: WebSession, store, sha256: str, asked: str | None) -> Level:
    """A unit's own level (from its name); for others the one asked, else the level of the
    unit the file was uploaded for, else a district's."""
    if person.key.unit:
        return unit_level(person.key.unit) or Level.HUYEN
    if asked in {lv.value for lv in Level}:
        return Level(str(asked))
    for unit in sorted(store.document_units(sha256)):
        if (level := unit_level(unit)) is not None:
            return level
    return Level.HUYEN


def _check_page(request: Request, person: WebSession, store, trust, sha256: str, *,
                ruleset_id: str | None, level_asked: str | None, error: str | None = None,
                detail: str | None = None, status_code: int = 200,
                chosen: dict | None = None) -> Response:
    settings = request.app.state.settings
    inspection = service.inspect_document(store, sha256, trust,
                                          name=service.document_name(store, person.key, sha256),
                                          ocr_dpi=settings.ocr_dpi)
    ruleset = _ruleset(ruleset_id)
    level = _level(person, store, sha256, level_asked)
    suggestions = suggest_criteria(ruleset, level, inspection.fields)
    criteria = [c for c in ruleset.criteria(level) if c.backed_by == "documents"]
    units = sorted(store.document_units(sha256))
    chosen = chosen or {}
    return page(request, "check_document.html", person, status_code=status_code,
                sha256=sha256, inspection=inspection, ruleset=ruleset,
                rulesets=list(available_rulesets()), level=level.value,
                levels=LEVEL_NAMES, suggestions=suggestions, criteria=criteria,
                year=chosen.get("year") or ruleset.source.date.year or dt.date.today().year,
                unit=chosen.get("unit", person.key.unit or (units[0] if units else "")),
                criterion=chosen.get("criterion") or (
                    suggestions[0].criterion if suggestions else ""),
                error=error, detail=detail)


@router.get("/check/{sha256}")
def check_document(request: Request, sha256: Sha256Path, person: Person, store: StoreDep,
                   trust: TrustDep, ruleset: str | None = None, level: str | None = None):
    require_role(person, *CHECKERS)
    visible_document(store, person.key, sha256)
    return _check_page(request, person, store, trust, sha256, ruleset_id=ruleset,
                       level_asked=level)


@router.post("/check/{sha256}/verify")
def check_verify(request: Request, sha256: Sha256Path, person: FormPerson, store: StoreDep,
                 trust: TrustDep,
                 criterion: Annotated[str, Form(max_length=32)] = "",
                 other_criterion: Annotated[str, Form(max_length=32)] = "",
                 year: Annotated[str, Form(max_length=10)] = "",
                 ruleset: Annotated[str, Form(max_length=100)] = DEFAULT_RULESET,
                 level: Annotated[str, Form(max_length=16)] = "",
                 unit: Annotated[str, Form(max_length=300)] = ""):
    key = require_role(person, *CHECKERS)
    visible_document(store, key, sha256)
    chosen_criterion = other_criterion.strip() or criterion.strip()
    chosen = {"criterion": chosen_criterion, "year": year, "unit": unit}

    def again(error: str, detail: str | None = None, status_code: int = 422) -> Response:
        return _check_page(request, person, store, trust, sha256, ruleset_id=ruleset,
                           level_asked=level, error=error, detail=detail,
                           status_code=status_code, chosen=chosen)

    if not year.strip().isdigit() or not 2000 <= int(year) <= 2100:
        return again("Năm đánh giá phải là một số từ 2000 đến 2100.")
    if not chosen_criterion:
        return again("Hãy chọn một tiêu chí.")
    if key.role != Role.UNIT and not unit.strip():
        return again("Hãy nhập tên đơn vị được đánh giá.")
    level_value = _level(person, store, sha256, level).value
    try:
        row = service.verify_stored(store, trust, key, ruleset_id=_ruleset(ruleset).id,
                                    criterion=chosen_criterion, level=level_value,
                                    unit=unit.strip() or None, year=int(year),
                                    documents=[sha256],
                                    ocr_dpi=request.app.state.settings.ocr_dpi)
    except KiemchungError as error:
        return again("Không kiểm tra được theo tiêu chí này.", error.message)
    return RedirectResponse(f"/verdicts/{row.id}", 303)
