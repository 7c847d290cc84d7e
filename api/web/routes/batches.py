"""A batch upload from the pages: the ZIP laid out unit/criterion/files the API takes, read and
checked by the API's own functions, then the batch's live progress (an htmx fragment polled
every second, answered with 286 once the batch is done so the polling stops) and, when done,
its verdicts, its report and its failed items. A unit's person submits and sees its own
unit's batches only; another unit's batch is "not found"."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from starlette.concurrency import run_in_threadpool
from starlette.responses import RedirectResponse, Response

from kiemchung.api import service
from kiemchung.api.http.deps import StoreDep
from kiemchung.api.http.errors import ApiError, Forbidden, PayloadTooLarge
from kiemchung.api.http.routes.batches import (
    XLSX,
    _zip_form,
    _zip_items,
    check_items,
    visible_batch,
)
from kiemchung.api.jobs.batch_input import BatchInputError, OtherUnitsError
from kiemchung.api.jobs.batches import BrokerUnavailable, dispatch, submit_batch
from kiemchung.api.store import Store
from kiemchung.api.store.tables import ApiKey, ItemState, Role, utcnow
from kiemchung.api.store.users import WebSession
from kiemchung.api.web.auth import FormPerson, Person, require_role
from kiemchung.api.web.render import page
from kiemchung.verifier.reports import csv_bytes, xlsx_bytes
from kiemchung.verifier.ruleset import RuleSetError, available_rulesets

router = APIRouter()

SUBMITTERS = (Role.UNIT, Role.APPRAISER, Role.ADMIN)
READERS = (Role.UNIT, Role.APPRAISER, Role.AUDITOR, Role.ADMIN)
DEFAULT_RULESET = "hue-2024"
# htmx stops polling an element answered with this status.
STOP_POLLING = 286


def _form_page(request: Request, person: WebSession, *, status_code: int = 200,
               error: str | None = None, detail: str | None = None,
               values: dict[str, str] | None = None) -> Response:
    values = values or {}
    return page(request, "batch_new.html", person, status_code=status_code, error=error,
                detail=detail, rulesets=list(available_rulesets()),
                ruleset=values.get("ruleset", DEFAULT_RULESET),
                year=values.get("year", str(dt.date.today().year - 1)))  # the year just ended


@router.get("/batches/new")
def new_batch(request: Request, person: Person):
    require_role(person, *SUBMITTERS)
    return _form_page(request, person)


def _validation_text(error: RequestValidationError) -> str:
    fields = {str(e.get("loc", ("", ""))[-1]) for e in error.errors()}
    if "file" in fields:
        return "Hãy chọn tệp ZIP của lô hồ sơ."
    if "year" in fields:
        return "Năm đánh giá không hợp lệ: cần một năm từ 2000 đến 2100."
    return "Biểu mẫu không hợp lệ: hãy kiểm tra các ô đã nhập."


def _refusal_text(error: Exception) -> tuple[int, str]:
    """The status and the Vietnamese sentence for a batch the API's checks refuse."""
    if isinstance(error, OtherUnitsError):
        return 403, ("Tệp ZIP có thư mục của đơn vị khác: tài khoản của bạn chỉ nộp hồ sơ "
                     "của đơn vị mình.")
    if isinstance(error, BatchInputError):
        return 400, "Không đọc được tệp ZIP: tệp hỏng hoặc không phải tệp ZIP."
    if isinstance(error, RuleSetError):
        return 400, "Không có bộ tiêu chí này."
    if isinstance(error, PayloadTooLarge):
        return 413, "Tệp ZIP quá lớn so với giới hạn cho phép."
    if isinstance(error, Forbidden):
        return 403, ("Bạn chỉ được nộp hồ sơ của đơn vị mình, theo cấp của đơn vị.")
    if isinstance(error, ApiError) and error.status == 422:
        return 422, ("Lô không có mục nào hoặc có tiêu chí không có trong bộ tiêu chí: tệp ZIP "
                     "cần các thư mục đơn vị/tiêu chí/tệp.")
    status = error.status if isinstance(error, ApiError) else 400
    return status, "Không nhận được lô hồ sơ này."


def _submit(request: Request, store: Store, key: ApiKey, fields, data: bytes) -> str:
    settings = request.app.state.settings
    items, refused = _zip_items(store, settings, key, fields, data)
    check_items(store, key, fields.ruleset, items, refused)
    return submit_batch(store, created_by=key.id, ruleset_id=fields.ruleset, year=fields.year,
                        items=items, refused=refused, webhook_hosts=settings.webhook_hosts)


@router.post("/batches")
async def create_batch(request: Request, person: FormPerson, store: StoreDep):
    key = require_role(person, *SUBMITTERS)
    settings = request.app.state.settings
    form = await request.form()
    values = {name: value for name, value in form.items()
              if name in ("ruleset", "year") and isinstance(value, str)}
    try:
        fields, data = await _zip_form(request, settings)
        batch_id = await run_in_threadpool(_submit, request, store, key, fields, data)
    except RequestValidationError as error:
        return _form_page(request, person, status_code=422, error=_validation_text(error),
                          values=values)
    except (ApiError, BatchInputError, RuleSetError) as error:
        status, text = _refusal_text(error)
        detail = error.detail if isinstance(error, ApiError) else str(error)
        return _form_page(request, person, status_code=status, error=text, detail=detail,
                          values=values)
    try:
        await run_in_threadpool(lambda: dispatch(settings, batch_id,
                                                 trust=request.app.state.trust))
    except BrokerUnavailable:
        pass        # stored and queued: a worker's sweep takes it up, the page shows it waiting
    return RedirectResponse(f"/batches/{batch_id}", 303)


def _elapsed(started: dt.datetime, finished: dt.datetime | None) -> tuple[int, int]:
    """Minutes and seconds since the batch was submitted (until it finished)."""
    seconds = max(int(((finished or utcnow()) - started).total_seconds()), 0)
    return divmod(seconds, 60)


def _progress(store: Store, key: ApiKey, batch_id: str) -> dict[str, Any]:
    """What the progress fragment shows: counts by state, elapsed time, and the failed items
    with their error (entries of the ZIP refused on arrival are failed from the start)."""
    batch = visible_batch(store, key, batch_id)            # another unit's → 404
    progress = store.batch_progress(batch_id)
    failed = ([item for item in store.batch_items(batch_id) if item.state == ItemState.FAILED]
              if progress.counts.get(ItemState.FAILED) else [])
    return {"batch": batch, "progress": progress, "finished": progress.finished,
            "counts": {state.value: progress.counts.get(state, 0) for state in ItemState},
            "settled": progress.counts.get(ItemState.DONE, 0)
            + progress.counts.get(ItemState.FAILED, 0),
            "elapsed": _elapsed(batch.created_at,
                                batch.finished_at if progress.finished else None),
            "failed": failed}


@router.get("/batches/{batch_id}")
def batch_page(request: Request, batch_id: str, person: Person, store: StoreDep):
    key = require_role(person, *READERS)
    return page(request, "batch.html", person, **_progress(store, key, batch_id))


@router.get("/batches/{batch_id}/progress")
def batch_progress(request: Request, batch_id: str, person: Person, store: StoreDep):
    key = require_role(person, *READERS)
    shown = _progress(store, key, batch_id)
    return page(request, "batch_progress.html", person,
                status_code=STOP_POLLING if shown["finished"] else 200, **shown)


@router.get("/batches/{batch_id}/report.csv")
def report_csv(batch_id: str, person: Person, store: StoreDep):
    visible_batch(store, require_role(person, *READERS), batch_id)
    return Response(csv_bytes(*service.batch_report(store, batch_id)),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="batch-{batch_id}.csv"'})


@router.get("/batches/{batch_id}/report.xlsx")
def report_xlsx(batch_id: str, person: Person, store: StoreDep):
    visible_batch(store, require_role(person, *READERS), batch_id)
    return Response(xlsx_bytes(*service.batch_report(store, batch_id)), media_type=XLSX,
                    headers={"Content-Disposition":
                             f'attachment; filename="batch-{batch_id}.xlsx"'})
