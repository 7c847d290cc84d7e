"""Who is asking, for the pages: the session cookie, the role checks and the CSRF token.

The cookie is HttpOnly and SameSite=Lax, and Secure when the request came over TLS (directly or
through a proxy uvicorn trusts, `--forwarded-allow-ips`) or `KIEMCHUNG_SECURE_COOKIES` is set.
Every form sends the session's CSRF token back (`csrf_token`, or the `X-CSRF-Token` header for
htmx); a state-changing request without it is refused with 403. The login form, before there
is a session, carries a token of its own, matched against a cookie (double submit).
"""

from __future__ import annotations

import hmac
import secrets
from typing import Annotated

from fastapi import Depends, Request
from starlette.responses import Response

from kiemchung.api.http.deps import StoreDep
from kiemchung.api.store.tables import ApiKey, Role
from kiemchung.api.store.users import SESSION_LIFETIME, WebSession, csrf_matches, session_of

SESSION_COOKIE = "kc_session"
LOGIN_CSRF_COOKIE = "kc_login_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class LoginRequired(Exception):
    """No live session: the page answers with a redirect to the login page."""

    def __init__(self, next_path: str):
        super().__init__(next_path)
        self.next_path = next_path


class PageRefused(Exception):
    """A page the person may not open (403), or one that does not exist for them (404:
    another unit's document is "not found", never "forbidden")."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status = status
        self.detail = detail


def secure_cookies(request: Request) -> bool:
    return request.url.scheme == "https" or request.app.state.settings.secure_cookies


def set_cookie(response: Response, request: Request, name: str, value: str, *,
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="lax",
                        secure=secure_cookies(request), path="/")


def set_session_cookie(response: Response, request: Request, token: str) -> None:
    set_cookie(response, request, SESSION_COOKIE, token,
               max_age=int(SESSION_LIFETIME.total_seconds()))


def login_csrf_token(request: Request) -> str:
    """The token the login form carries: the cookie's if the browser has one."""
    return request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(32)


def login_csrf_ok(request: Request, given: str | None) -> bool:
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE)
    return bool(cookie and given) and hmac.compare_digest(cookie or "", given or "")


def _wanted_path(request: Request) -> str:
    query = f"?{request.url.query}" if request.url.query else ""
    return request.url.path + query


def current_person_or_none(request: Request) -> WebSession | None:
    return session_of(request.app.state.store, request.cookies.get(SESSION_COOKIE))


def current_person(request: Request, store: StoreDep) -> WebSession:
    person = session_of(store, request.cookies.get(SESSION_COOKIE))
    if person is None:
        raise LoginRequired(_wanted_path(request) if request.method == "GET" else "/")
    return person


Person = Annotated[WebSession, Depends(current_person)]


async def checked_form(request: Request, person: Person) -> WebSession:
    """The person, once the request's CSRF token is the session's. For every POST page."""
    given = request.headers.get(CSRF_HEADER)
    if given is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        given = value if isinstance(value, str) else None
    if not csrf_matches(person, given):
        raise PageRefused(403, "Biểu mẫu đã hết hạn hoặc không hợp lệ (thiếu mã CSRF). "
                               "Hãy tải lại trang và thử lại.")
    return person


FormPerson = Annotated[WebSession, Depends(checked_form)]


def require_role(person: WebSession, *roles: Role) -> ApiKey:
    if person.key.role not in {role.value for role in roles}:
        raise PageRefused(403, "Tài khoản của bạn không có quyền mở trang này.")
    return person.key
