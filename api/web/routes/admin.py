"""The admin's pages: the people who log in, the API keys, the trust roots the server checks
signatures against, and the rule sets with their discrepancies."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse

from kiemchung.api.http.deps import StoreDep, TrustDep
from kiemchung.api.store import NotFound, Store, StoreError
from kiemchung.api.store.campaigns import list_campaigns
from kiemchung.api.store.keys import create_key, list_keys, revoke_key
from kiemchung.api.store.tables import Role, utcnow
from kiemchung.api.store.users import (
    MIN_PASSWORD_CHARS,
    create_user,
    disable,
    list_users,
    set_password,
    unlock,
)
from kiemchung.api.web import words
from kiemchung.api.web.auth import FormPerson, PageRefused, Person, require_role
from kiemchung.api.web.render import VIETNAM, page
from kiemchung.extractors.signatures import fingerprint_sha256
from kiemchung.models.errors import KiemchungError
from kiemchung.verifier.evaluate import check_problems
from kiemchung.verifier.ruleset import available_rulesets, load_ruleset_file

router = APIRouter()

USER_KEY_PREFIX = "user:"     # the key each user acts through (api/store/users.py)

# What the store says when it refuses, for people: (a part of its message, the Vietnamese).
REFUSALS = [
    ("characters", f"Mật khẩu cần ít nhất {MIN_PASSWORD_CHARS} ký tự."),
    ("must not contain the user name", "Mật khẩu không được chứa tên đăng nhập."),
    ("exists already", "Tên đăng nhập này đã có."),
    ("without spaces", "Tên đăng nhập dài 1 đến 100 ký tự, không có dấu cách."),
    ("needs the unit", "Vai trò Đơn vị cần chọn đơn vị."),
    ("only keys with the role unit carry a unit",
     "Chỉ vai trò Đơn vị mới gắn với một đơn vị: hãy để trống ô đơn vị."),
    ("unknown role", "Vai trò không hợp lệ."),
    ("a key needs a name", "Khoá API cần có tên."),
    ("already past", "Ngày hết hạn đã qua."),
    ("no user", "Không có người dùng này."),
]


class FormRefused(ValueError):
    """A form's value the page refuses itself, with the Vietnamese message to show."""


def vietnamese(error: StoreError) -> str:
    text = str(error)
    return next((vi for part, vi in REFUSALS if part in text),
                f"Không thực hiện được: {text}")


def _admin(person) -> None:
    require_role(person, Role.ADMIN)


@router.get("/admin")
def admin_home(request: Request, person: Person, store: StoreDep):
    _admin(person)
    return page(request, "admin.html", person, campaigns=list_campaigns(store))


# -- users ------------------------------------------------------------------------------------

def _users_page(request: Request, person, store: Store, *, error: str | None = None,
                form: dict[str, Any] | None = None, status_code: int = 200,
                done: str | None = None):
    return page(request, "admin_users.html", person, status_code=status_code,
                users=list_users(store), roles=words.ROLE, error=error, form=form or {},
                done=done, now=utcnow())


@router.get("/admin/users")
def users_page(request: Request, person: Person, store: StoreDep, done: str = ""):
    _admin(person)
    return _users_page(request, person, store, done=DONE.get(done))


DONE = {"added": "Đã thêm người dùng.", "disabled": "Đã vô hiệu hoá tài khoản.",
        "unlocked": "Đã mở khoá tài khoản.", "password": "Đã đặt lại mật khẩu."}


@router.post("/admin/users")
def add_user(request: Request, person: FormPerson, store: StoreDep,
             username: Annotated[str, Form(max_length=200)] = "",
             display_name: Annotated[str, Form(max_length=200)] = "",
             role: Annotated[str, Form(max_length=20)] = "",
             unit: Annotated[str, Form(max_length=300)] = "",
             password: Annotated[str, Form(max_length=1000)] = ""):
    _admin(person)
    try:
        create_user(store, username, password, role, unit or None,
                    display_name=display_name or None, actor=person.key.id)
    except StoreError as refused:
        form = {"username": username, "display_name": display_name, "role": role,
                "unit": unit}
        return _users_page(request, person, store, error=vietnamese(refused), form=form,
                           status_code=400)
    return RedirectResponse("/admin/users?done=added", 303)


def _user_change(request: Request, person, store: Store, change, done: str, **kw):
    _admin(person)
    try:
        change(store, actor=person.key.id, **kw)
    except StoreError as refused:       # NotFound too: a name not in the list
        return _users_page(request, person, store, error=vietnamese(refused),
                           status_code=404 if isinstance(refused, NotFound) else 400)
    return RedirectResponse(f"/admin/users?done={done}", 303)


@router.post("/admin/users/{username}/disable")
def disable_user(request: Request, person: FormPerson, store: StoreDep, username: str):
    if username == person.user.username:
        raise PageRefused(400, "Không thể tự vô hiệu hoá tài khoản của chính mình.")
    return _user_change(request, person, store, disable, "disabled", username=username)


@router.post("/admin/users/{username}/unlock")
def unlock_user(request: Request, person: FormPerson, store: StoreDep, username: str):
    return _user_change(request, person, store, unlock, "unlocked", username=username)


@router.post("/admin/users/{username}/password")
def reset_password(request: Request, person: FormPerson, store: StoreDep, username: str,
                   password: Annotated[str, Form(max_length=1000)] = ""):
    return _user_change(request, person, store, set_password, "password", username=username,
                        password=password)


# -- API keys ---------------------------------------------------------------------------------

def _keys_page(request: Request, person, store: Store, *, error: str | None = None,
               form: dict[str, Any] | None = None, status_code: int = 200,
               token: str | None = None, made: Any = None, done: str | None = None):
    keys = list_keys(store)
    response = page(request, "admin_keys.html", person, status_code=status_code,
                    keys=[k for k in keys if not k.name.startswith(USER_KEY_PREFIX)],
                    user_keys=sum(1 for k in keys if k.name.startswith(USER_KEY_PREFIX)),
                    roles=words.ROLE, error=error, form=form or {}, token=token, made=made,
                    done=done, now=utcnow())
    if token is not None:               # the token is on this answer only: keep no copy
        response.headers["Cache-Control"] = "no-store"
    return response


@router.get("/admin/keys")
def keys_page(request: Request, person: Person, store: StoreDep, done: str = ""):
    _admin(person)
    return _keys_page(request, person, store,
                      done="Đã thu hồi khoá." if done == "revoked" else None)


def _expiry(text: str) -> dt.datetime | None:
    """The day a key stops working (from 00:00 Vietnam time), from `<input type="date">`."""
    if not text.strip():
        return None
    try:
        day = dt.date.fromisoformat(text.strip())
    except ValueError:
        raise FormRefused("Ngày hết hạn không hợp lệ.") from None
    return dt.datetime.combine(day, dt.time(), VIETNAM).astimezone(dt.UTC)


@router.post("/admin/keys")
def make_key(request: Request, person: FormPerson, store: StoreDep,
             name: Annotated[str, Form(max_length=200)] = "",
             role: Annotated[str, Form(max_length=20)] = "",
             unit: Annotated[str, Form(max_length=300)] = "",
             expires: Annotated[str, Form(max_length=30)] = ""):
    """The token is shown on this answer, once: it is not kept, so no redirect can show it."""
    _admin(person)
    form = {"name": name, "role": role, "unit": unit, "expires": expires}
    try:
        if name.strip().startswith(USER_KEY_PREFIX):
            raise FormRefused("Tên khoá không được bắt đầu bằng “user:” (dành cho người dùng).")
        token, key = create_key(store, name, role, unit or None, actor=person.key.id,
                                expires_at=_expiry(expires))
    except (StoreError, FormRefused) as refused:
        error = str(refused) if isinstance(refused, FormRefused) else vietnamese(refused)
        return _keys_page(request, person, store, form=form, status_code=400, error=error)
    return _keys_page(request, person, store, status_code=201, token=token, made=key)


@router.post("/admin/keys/{key_id}/revoke")
def revoke(request: Request, person: FormPerson, store: StoreDep, key_id: int):
    _admin(person)
    try:
        revoke_key(store, key_id, actor=person.key.id)
    except NotFound:
        raise PageRefused(404, "Không có khoá API này.") from None
    return RedirectResponse("/admin/keys?done=revoked", 303)


# -- trust roots and rule sets ----------------------------------------------------------------

@router.get("/admin/trust")
def trust_page(request: Request, person: Person, trust: TrustDep):
    _admin(person)
    certificates = [{"kind": kind, "subject": c.subject.rfc4514_string(),
                     "issuer": c.issuer.rfc4514_string(), "not_before": c.not_valid_before_utc,
                     "not_after": c.not_valid_after_utc, "fingerprint": fingerprint_sha256(c)}
                    for kind, found in (("root", trust.roots),
                                        ("intermediate", trust.intermediates))
                    for c in found]
    return page(request, "admin_trust.html", person, certificates=certificates, now=utcnow())


@router.get("/admin/rulesets")
def rulesets_page(request: Request, person: Person):
    _admin(person)
    shown: list[dict[str, Any]] = []
    for ruleset_id, path in available_rulesets().items():
        try:
            rules = load_ruleset_file(path)
        except KiemchungError as error:
            shown.append({"id": ruleset_id, "error": error.message})
            continue
        shown.append({"id": rules.id, "rules": rules, "criteria": len(rules.criteria()),
                      "problems": rules.discrepancies() + check_problems(rules)})
    return page(request, "admin_rulesets.html", person, rulesets=shown)
