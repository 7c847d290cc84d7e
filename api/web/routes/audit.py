"""The auditor's pages: the flagged verdicts, reproducible samples worked through item by
item, and the audit log."""

from __future__ import annotations

import datetime as dt
import json
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse

from kiemchung.api.http.deps import StoreDep
from kiemchung.api.http.schemas import MAX_SEED
from kiemchung.api.sampling import draw_sample
from kiemchung.api.service import flagged_items, in_force
from kiemchung.api.store import NotFound, Store, StoreError, verdict_flags
from kiemchung.api.store.keys import list_keys
from kiemchung.api.store.samples import (
    OUTCOMES,
    get_sample,
    list_samples,
    sample_items,
    set_outcome,
)
from kiemchung.api.store.tables import Role, SampleItemRow
from kiemchung.api.store.users import people_names
from kiemchung.api.web import words
from kiemchung.api.web.auth import FormPerson, PageRefused, Person, require_role
from kiemchung.api.web.render import VIETNAM, page, typed_number
from kiemchung.models.verdicts import VerdictStatus

router = APIRouter()

FLAGGED_PAGE = 200
AUDIT_PAGE = 50
OUTCOME_LABELS = {"agree": "Đồng ý với kết quả", "disagree": "Không đồng ý",
                  "unsure": "Chưa chắc"}
BAD_NUMBER = "Số không hợp lệ: hãy nhập một số nguyên không âm."


def _text(value: str | None) -> str | None:
    """A filter from a form or query: blank means none."""
    return (value or "").strip() or None


def _whole_number(value: str | None, what: str) -> int | None:
    text = _text(value)
    if text is None:
        return None
    if not text.isdecimal():
        raise PageRefused(400, f"{what}: {BAD_NUMBER}")
    return int(text)


# -- flagged items ----------------------------------------------------------------------------

@router.get("/flagged")
def flagged_page(request: Request, person: Person, store: StoreDep, unit: str = "",
                 criterion: str = "", check: str = "", status: str = "", after_id: str = ""):
    require_role(person, Role.AUDITOR, Role.ADMIN, Role.APPRAISER)
    if _text(status) is not None and status not in {s.value for s in VerdictStatus}:
        raise PageRefused(400, "Trạng thái lọc không hợp lệ.")
    filters = {"unit": _text(unit), "criterion": _text(criterion), "check": _text(check),
               "status": _text(status)}
    items = flagged_items(store, unit=filters["unit"], criterion=filters["criterion"],
                          check=filters["check"], status=filters["status"],
                          after_id=_whole_number(after_id, "Trang") or 0, limit=FLAGGED_PAGE)
    more = items[-1]["verdict_id"] if len(items) == FLAGGED_PAGE else None
    return page(request, "audit_flagged.html", person, items=items, filters=filters,
                checks=words.CHECK, statuses=words.VERDICT_STATUS, more=more)


# -- samples ----------------------------------------------------------------------------------

def _samples_page(request: Request, person, store: Store, *, error: str | None = None,
                  form: dict[str, Any] | None = None, status_code: int = 200):
    return page(request, "audit_samples.html", person, status_code=status_code,
                samples=list_samples(store), names=people_names(store), error=error,
                form=form or {"only_flagged": True})


@router.get("/samples")
def samples_page(request: Request, person: Person, store: StoreDep):
    require_role(person, Role.AUDITOR, Role.ADMIN)
    return _samples_page(request, person, store)


def _draw_request(size: str, rate: str, seed: str) -> dict[str, Any]:
    """The size or rate and seed of the draw form; a Vietnamese ValueError when wrong."""
    if (_text(size) is None) == (_text(rate) is None):
        raise ValueError("Hãy nhập cỡ mẫu hoặc tỉ lệ (một trong hai).")
    wanted: dict[str, Any] = {"size": None, "rate": None}
    if _text(size) is not None:
        if not size.strip().isdecimal() or not 1 <= int(size) <= 100_000:
            raise ValueError("Cỡ mẫu phải là số nguyên từ 1 đến 100000.")
        wanted["size"] = int(size)
    else:
        try:
            percent = typed_number(rate)
        except ValueError:
            percent = -1
        if not 0 < percent <= 100:
            raise ValueError("Tỉ lệ phải là số phần trăm lớn hơn 0 và không quá 100.")
        wanted["rate"] = percent / 100
    if _text(seed) is not None:
        if not seed.strip().isdecimal() or int(seed) > MAX_SEED:
            raise ValueError("Hạt giống (seed) phải là số nguyên không âm.")
        wanted["seed"] = int(seed)
    return wanted


@router.post("/samples")
def draw(request: Request, person: FormPerson, store: StoreDep,
         size: Annotated[str, Form(max_length=20)] = "",
         rate: Annotated[str, Form(max_length=20)] = "",
         seed: Annotated[str, Form(max_length=30)] = "",
         only_flagged: Annotated[str, Form(max_length=10)] = "",
         unit: Annotated[str, Form(max_length=300)] = "",
         criterion: Annotated[str, Form(max_length=50)] = ""):
    key = require_role(person, Role.AUDITOR, Role.ADMIN)
    form = {"size": size, "rate": rate, "seed": seed, "only_flagged": bool(only_flagged),
            "unit": unit, "criterion": criterion}
    try:
        wanted = _draw_request(size, rate, seed)
    except ValueError as wrong:
        return _samples_page(request, person, store, error=str(wrong), form=form,
                             status_code=400)
    drawn = draw_sample(store, key.id, **wanted, only_flagged=bool(only_flagged),
                        unit=_text(unit), criterion=_text(criterion))
    return RedirectResponse(f"/samples/{drawn['sample_id']}", 303)


def _shown_items(store: Store, items: list[SampleItemRow]) -> list[dict[str, Any]]:
    """Each item with its verdict as it stands now: the status in force and the flags."""
    ids = [item.verdict_id for item in items]
    verdicts = store.verdicts_by_id(ids)
    overrides = store.overrides_by_verdict(ids)
    shown = []
    for item in items:
        row = verdicts[item.verdict_id]
        flags, doubtful = verdict_flags(row.status, row.verdict.get("checks", []))
        shown.append({"item": item, "verdict": row, "flags": flags, "doubtful": doubtful,
                      "in_force": in_force(row, overrides.get(row.id, []))})
    return shown


def _sample_or_404(store: Store, sample_id: int):
    try:
        return get_sample(store, sample_id)
    except NotFound:
        raise PageRefused(404, "Không có mẫu kiểm tra này.") from None


@router.get("/samples/{sample_id}")
def sample_page(request: Request, person: Person, store: StoreDep, sample_id: int):
    require_role(person, Role.AUDITOR, Role.ADMIN)
    sample = _sample_or_404(store, sample_id)
    shown = _shown_items(store, sample_items(store, sample_id))
    decided = sum(1 for each in shown if each["item"].outcome is not None)
    return page(request, "audit_sample.html", person, sample=sample, shown=shown,
                decided=decided, names=people_names(store), outcomes=OUTCOME_LABELS)


@router.post("/samples/{sample_id}/items/{item_id}")
def decide(request: Request, person: FormPerson, store: StoreDep, sample_id: int, item_id: int,
           outcome: Annotated[str, Form(max_length=20)] = "",
           note: Annotated[str, Form(max_length=4000)] = ""):
    key = require_role(person, Role.AUDITOR, Role.ADMIN)
    _sample_or_404(store, sample_id)
    if outcome not in OUTCOMES:
        raise PageRefused(422, "Hãy chọn một kết luận: Đồng ý với kết quả, Không đồng ý "
                               "hoặc Chưa chắc.")
    try:
        item = set_outcome(store, sample_id, item_id, outcome, note, actor=key.id)
    except NotFound:
        raise PageRefused(404, "Mẫu kiểm tra này không có mục đó.") from None
    except StoreError as refused:
        raise PageRefused(422, str(refused)) from None
    if request.headers.get("HX-Request"):
        items = sample_items(store, sample_id)
        decided = sum(1 for each in items if each.outcome is not None)
        return page(request, "audit_sample_row.html", person, each=_shown_items(store, [item])[0],
                    sample_id=sample_id, outcomes=OUTCOME_LABELS, decided=decided,
                    total=len(items), oob=True)
    return RedirectResponse(f"/samples/{sample_id}#item-{item_id}", 303)


# -- the audit log ----------------------------------------------------------------------------

def _day(value: str, what: str) -> dt.date | None:
    if _text(value) is None:
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise PageRefused(400, f"{what}: ngày không hợp lệ.") from None


def _start_of(day: dt.date) -> dt.datetime:
    """The first moment of a day in Vietnam: the dates people give are Vietnam's."""
    return dt.datetime.combine(day, dt.time(), VIETNAM)


@router.get("/audit")
def audit_page(request: Request, person: Person, store: StoreDep, action: str = "",
               subject: str = "", actor: str = "", since: str = "", until: str = "",
               before_id: str = ""):
    require_role(person, Role.AUDITOR, Role.ADMIN)
    first, last = _day(since, "Từ ngày"), _day(until, "Đến ngày")
    names = people_names(store)
    actors = None
    if (who := _text(actor)) is not None:
        # By the name shown or the login (a user's key is named `user:<login>`).
        wanted = who.lower().removeprefix("user:")
        logins = {key.id: key.name.removeprefix("user:").lower() for key in list_keys(store)}
        actors = [key_id for key_id, name in names.items()
                  if wanted in (name.lower(), logins.get(key_id))]
    entries = store.audit_entries(
        action=_text(action), subject=_text(subject), actors=actors,
        since=_start_of(first) if first else None,
        until=_start_of(last + dt.timedelta(days=1)) if last else None,
        before_id=_whole_number(before_id, "Trang"), newest_first=True, limit=AUDIT_PAGE)
    shown = [{"entry": entry, "actor": names.get(entry.actor_key_id or 0, ""),
              "details": json.dumps(entry.details, ensure_ascii=False, separators=(",", ":"),
                                    sort_keys=True)}
             for entry in entries]
    filters = {"action": action, "subject": subject, "actor": actor, "since": since,
               "until": until}
    more = entries[-1].id if len(entries) == AUDIT_PAGE else None
    return page(request, "audit_log.html", person, shown=shown, filters=filters,
                actions=store.audit_actions(), more=more, first=first, last=last)
