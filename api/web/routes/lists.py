"""The lists of verdicts: filtered (status, criterion, check, unit, batch, only flagged), paged,
saved under a name as a view, and exported as CSV or XLSX. A unit's person sees its own unit's
verdicts only, as `/v1/flagged` scopes them; everyone else sees all."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from kiemchung.api.access import unit_scope
from kiemchung.api.http.deps import StoreDep
from kiemchung.api.http.routes.batches import XLSX
from kiemchung.api.service import flagged_items
from kiemchung.api.store import Store, StoreError
from kiemchung.api.store.tables import ApiKey, Role
from kiemchung.api.store.views import delete_view, list_views, save_view
from kiemchung.api.web import words
from kiemchung.api.web.auth import FormPerson, PageRefused, Person, require_role
from kiemchung.api.web.render import page, vn_date
from kiemchung.checks.registry import REGISTRY
from kiemchung.models.verdicts import VerdictStatus
from kiemchung.verifier.reports import safe_row, xlsx_row

router = APIRouter()

PAGE = "verdicts"           # the saved views' page
PAGE_SIZE = 100
EXPORT_LIMIT = 100_000
FILTERS = ("status", "criterion", "check", "unit", "batch", "flagged")
READERS = (Role.UNIT, Role.APPRAISER, Role.AUDITOR, Role.ADMIN)
EXPORT_HEADER = ("Mã kết quả", "Đơn vị", "Cấp", "Năm", "Tiêu chí", "Trạng thái",
                 "Đã điều chỉnh", "Điểm", "Điểm tối đa", "Kiểm tra có vấn đề", "Lô", "Ngày tạo")


def chosen_filters(values: dict[str, Any]) -> dict[str, str]:
    """The filters given, trimmed, without the empty ones: what a view keeps and links carry."""
    chosen = {}
    for name in FILTERS:
        value = values.get(name)
        if isinstance(value, str) and value.strip():
            chosen[name] = value.strip()[:300]
    return chosen


def matching(store: Store, key: ApiKey, filters: dict[str, str], *, after_id: int = 0,
             limit: int) -> list[dict]:
    """The verdicts of these filters that the key may see, as `/v1/flagged` scopes them."""
    status = filters.get("status")
    if status is not None and status not in {s.value for s in VerdictStatus}:
        raise PageRefused(400, "Trạng thái lọc không hợp lệ.")
    check = filters.get("check")
    if check is not None and check not in REGISTRY:
        raise PageRefused(400, "Tên kiểm tra không hợp lệ.")
    unit = filters.get("unit")
    scope = unit_scope(key)
    if scope is not None:
        if unit not in (None, scope):
            return []                    # another unit's verdicts do not exist for this key
        unit = scope
    return flagged_items(store, unit=unit, criterion=filters.get("criterion"), check=check,
                         status=status, only_flagged="flagged" in filters, after_id=after_id,
                         limit=limit, batch=filters.get("batch"))


@router.get("/verdicts")
def verdict_list(request: Request, person: Person, store: StoreDep, after_id: int = 0):
    key = require_role(person, *READERS)
    filters = chosen_filters(dict(request.query_params))
    found = matching(store, key, filters, after_id=max(after_id, 0), limit=PAGE_SIZE + 1)
    items, more = found[:PAGE_SIZE], len(found) > PAGE_SIZE
    query = urlencode(filters)
    next_page = (f"/verdicts?{urlencode({**filters, 'after_id': items[-1]['verdict_id']})}"
                 if more else None)
    return page(request, "lists.html", person, items=items, filters=filters, query=query,
                next_page=next_page, after_id=after_id, statuses=words.VERDICT_STATUS,
                levels=words.LEVEL,
                checks=sorted(REGISTRY), scoped_unit=unit_scope(key),
                views=[(view, urlencode(view.query)) for view in
                       list_views(store, person.user.id, PAGE)])


@router.post("/verdicts/views")
async def save_current_view(request: Request, person: FormPerson, store: StoreDep,
                            name: Annotated[str, Form(max_length=1000)] = ""):
    require_role(person, *READERS)
    filters = chosen_filters(dict(await request.form()))
    try:
        save_view(store, person.user.id, PAGE, name, filters)
    except StoreError:
        raise PageRefused(400, "Tên bộ lọc cần có từ 1 đến 200 ký tự.") from None
    return RedirectResponse(f"/verdicts?{urlencode(filters)}", 303)


@router.post("/verdicts/views/{view_id}/delete")
def delete_saved_view(view_id: int, person: FormPerson, store: StoreDep):
    require_role(person, *READERS)
    delete_view(store, person.user.id, view_id)        # another person's → NotFound → 404
    return RedirectResponse("/verdicts", 303)


def export_rows(request: Request, person: Person, store: Store) -> list[list]:
    """The header and one row per verdict of the current filter, cells made safe."""
    key = require_role(person, *READERS)
    filters = chosen_filters(dict(request.query_params))
    items = matching(store, key, filters, limit=EXPORT_LIMIT)
    rows = [list(EXPORT_HEADER)]
    for item in items:
        in_force = item["in_force"]
        rows.append(safe_row((
            item["verdict_id"], item["unit"] or "", words.LEVEL.get(item["level"], item["level"]),
            item["year"],
            item["criterion"], words.VERDICT_STATUS.get(in_force["status"], in_force["status"]),
            "có" if in_force["override_id"] else "", in_force["points"], item["max_points"],
            "; ".join(words.CHECK.get(c.get("name", ""), c.get("name", ""))
                      for c in item["problem_checks"]),
            item["batch_id"] or "", vn_date(item["created_at"]))))
    return rows


@router.get("/verdicts/export.csv")
def export_csv(request: Request, person: Person, store: StoreDep):
    out = io.StringIO(newline="")
    csv.writer(out).writerows(export_rows(request, person, store))
    # UTF-8 with a BOM, as Excel needs to read Vietnamese.
    return Response(("\ufeff" + out.getvalue()).encode("utf-8"),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": 'attachment; filename="ket-qua.csv"'})


@router.get("/verdicts/export.xlsx")
def export_xlsx(request: Request, person: Person, store: StoreDep):
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.title = "ket-qua"
    for row in export_rows(request, person, store):
        sheet.append(xlsx_row(row))
    out = io.BytesIO()
    book.save(out)
    return Response(out.getvalue(), media_type=XLSX,
                    headers={"Content-Disposition": 'attachment; filename="ket-qua.xlsx"'})
