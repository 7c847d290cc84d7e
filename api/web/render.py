"""Templates and what every page is rendered with: the person, their CSRF token, the locale,
the navigation of their role, and the filters that write dates and statuses for people."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.templating import Jinja2Templates
from jinja2 import pass_context
from starlette.responses import Response

from kiemchung.api.store.tables import Role
from kiemchung.api.store.users import WebSession
from kiemchung.api.web import words
from kiemchung.api.web.i18n import DEFAULT_LOCALE, LOCALE_COOKIE, locale_of, translate

HERE = Path(__file__).parent
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
templates = Jinja2Templates(directory=HERE / "templates")

# The menu of each role: (path, label). A page not listed for a role refuses it too.
NAVIGATION: dict[str, list[tuple[str, str]]] = {
    Role.UNIT: [("/check", "Kiểm tra văn bản"), ("/campaigns", "Tự đánh giá"),
                ("/verdicts", "Kết quả")],
    Role.APPRAISER: [("/campaigns", "Đợt đánh giá"), ("/verdicts", "Kết quả"),
                     ("/batches/new", "Tải lô hồ sơ"), ("/check", "Kiểm tra văn bản")],
    Role.AUDITOR: [("/flagged", "Mục bị gắn cờ"), ("/samples", "Mẫu kiểm tra"),
                   ("/verdicts", "Kết quả"), ("/audit", "Nhật ký")],
    Role.ADMIN: [("/admin", "Quản trị"), ("/campaigns", "Đợt đánh giá"),
                 ("/verdicts", "Kết quả"), ("/flagged", "Mục bị gắn cờ"),
                 ("/samples", "Mẫu kiểm tra"), ("/audit", "Nhật ký")],
    Role.PORTAL: [],
}


def vn_date(value: dt.date | dt.datetime | str | None, with_time: bool = False) -> str:
    """dd/mm/yyyy (and HH:MM), in Vietnam's time for a moment."""
    if value is None or value == "":
        return ""
    if isinstance(value, str):
        text = value
        try:
            value = dt.datetime.fromisoformat(text) if "T" in text or " " in text \
                else dt.date.fromisoformat(text)
        except ValueError:
            return text
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(VIETNAM)
        return value.strftime("%d/%m/%Y %H:%M" if with_time else "%d/%m/%Y")
    return value.strftime("%d/%m/%Y")


def typed_number(text: str | None) -> float:
    """A number as a person types it in Vietnam ("7,5" or "7.5"); ValueError for anything
    else, infinities and NaN included."""
    value = float((text or "").strip().replace(",", "."))
    if not math.isfinite(value):
        raise ValueError(f"not a finite number: {text!r}")
    return value


def percent(value: float | None) -> str:
    return "" if value is None else f"{round(value * 100)} %"


def points(value: float | None) -> str:
    if value is None:
        return ""
    return f"{value:g}".replace(".", ",")


def _label(table: dict[str, str]):
    @pass_context
    def label(context, value: Any) -> str:
        key = str(getattr(value, "value", value))
        return translate(table.get(key, key), context.get("lang", DEFAULT_LOCALE))
    return label


for _name, _table in (("verdict_status", words.VERDICT_STATUS),
                      ("check_status", words.CHECK_STATUS),
                      ("signature_status", words.SIGNATURE_STATUS),
                      ("signature_role", words.SIGNATURE_ROLE), ("role", words.ROLE),
                      ("phase", words.PHASE), ("field", words.FIELD),
                      ("source", words.SOURCE), ("doc_type", words.DOC_TYPE),
                      ("check", words.CHECK)):
    templates.env.filters[_name] = _label(_table)
templates.env.filters["vn_date"] = vn_date
templates.env.filters["percent"] = percent
templates.env.filters["points"] = points


def locale(request: Request) -> str:
    return locale_of(request.cookies.get(LOCALE_COOKIE))


def page(request: Request, template: str, person: WebSession | None = None, *,
         status_code: int = 200, **context: Any) -> Response:
    """A whole page (or, for an htmx request of a partial template, just the fragment)."""
    lang = locale(request)
    role = person.key.role if person else None
    return templates.TemplateResponse(request, template, status_code=status_code, context={
        "person": person, "csrf_token": person.csrf_token if person else "",
        "lang": lang, "_": lambda text: translate(text, lang),
        "navigation": NAVIGATION.get(role, []) if role else [],
        "current_path": request.url.path, **context})
