"""Logging in and out, the home page of each role, and the choice of language."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from kiemchung.api.http.deps import StoreDep
from kiemchung.api.store.tables import Role
from kiemchung.api.store.users import LoginRefused, end_session, login, start_session
from kiemchung.api.web.auth import (
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    FormPerson,
    Person,
    current_person_or_none,
    login_csrf_ok,
    login_csrf_token,
    set_cookie,
    set_session_cookie,
)
from kiemchung.api.web.i18n import LOCALE_COOKIE, LOCALES
from kiemchung.api.web.render import page, vn_date

router = APIRouter()

HOME = {Role.UNIT: "/check", Role.APPRAISER: "/campaigns", Role.AUDITOR: "/flagged",
        Role.ADMIN: "/admin", Role.PORTAL: "/account"}


def safe_next(target: str | None) -> str | None:
    """A path on this site only: never `//host` or `https://…` (an open redirect)."""
    if target and target.startswith("/") and not target.startswith(("//", "/\\")):
        return target
    return None


@router.get("/")
def home(person: Person):
    return RedirectResponse(HOME.get(Role(person.key.role), "/account"), 303)


@router.get("/login")
def login_form(request: Request, next: str | None = None):
    if (person := current_person_or_none(request)) is not None:
        return RedirectResponse(safe_next(next) or HOME[Role(person.key.role)], 303)
    return _login_page(request, next)


def _login_page(request: Request, next_path: str | None, *, error: str | None = None,
                status_code: int = 200, username: str = "") -> Response:
    token = login_csrf_token(request)
    response = page(request, "login.html", status_code=status_code, login_csrf=token,
                    next=safe_next(next_path) or "", error=error, username=username)
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token)
    return response


@router.post("/login")
def login_submit(request: Request, store: StoreDep,
                 username: Annotated[str, Form(max_length=200)] = "",
                 password: Annotated[str, Form(max_length=1000)] = "",
                 csrf_token: Annotated[str, Form(max_length=200)] = "",
                 next: Annotated[str, Form(max_length=2000)] = ""):
    if not login_csrf_ok(request, csrf_token):
        return _login_page(request, next, status_code=403, username=username,
                           error="Biểu mẫu đăng nhập đã hết hạn. Hãy nhập lại.")
    try:
        user = login(store, username, password)
    except LoginRefused as refused:
        return _login_page(request, next, status_code=401, username=username,
                           error=_refusal_text(refused))
    token, _session = start_session(store, user)
    response = RedirectResponse(safe_next(next) or HOME[Role(user.key.role)], 303)
    set_session_cookie(response, request, token)
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


def _refusal_text(refused: LoginRefused) -> str:
    if refused.code == "locked" and refused.until is not None:
        return (f"Đăng nhập sai quá nhiều lần: tài khoản bị khoá đến "
                f"{vn_date(refused.until, with_time=True)}.")
    if refused.code == "disabled":
        return "Tài khoản đã bị vô hiệu hoá. Hãy liên hệ quản trị viên."
    return "Sai tên đăng nhập hoặc mật khẩu."


@router.post("/logout")
def logout(request: Request, person: FormPerson, store: StoreDep):
    end_session(store, person.id)
    store.audit(person.key.id, "user.logout", f"user:{person.user.id}", {})
    response = RedirectResponse("/login", 303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/account")
def account(request: Request, person: Person):
    return page(request, "account.html", person)


@router.get("/lang/{locale}")
def choose_language(request: Request, locale: str, next: str | None = None):
    response = RedirectResponse(safe_next(next) or "/", 303)
    if locale in LOCALES:
        set_cookie(response, request, LOCALE_COOKIE, locale, max_age=365 * 24 * 3600)
    return response
