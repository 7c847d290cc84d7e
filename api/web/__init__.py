"""The pages: server-rendered HTML over the same service layer as the API, for the people
kiemchung is for (a unit's clerk, appraisers, auditors, admins), in Vietnamese.

`install(app)` adds them to the HTTP app: the routes of `api/web/routes/`, the vendored assets
under `/static`, the redirect to the login page and the error pages.
"""

from __future__ import annotations

from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kiemchung.api.web.auth import LoginRequired, PageRefused, current_person_or_none
from kiemchung.api.web.render import HERE, page
from kiemchung.api.web.routes import ROUTERS

# Paths the pages do not own: the API answers there with problem objects.
API_PREFIXES = ("/v1/", "/healthz", "/readyz", "/metrics", "/docs", "/openapi.json", "/static/")


def is_page(path: str) -> bool:
    return not path.startswith(API_PREFIXES)


def error_page(request: Request, status: int, detail: str) -> Response:
    person = current_person_or_none(request)
    return page(request, "error.html", person, status_code=status, status=status,
                detail=detail)


# Nothing runs on the pages but our own scripts, no page is framed, and only our own origin
# is named in a Referer. No inline script or style anywhere: boxes are SVG attributes.
PAGE_HEADERS = [
    (b"content-security-policy", b"default-src 'self'; img-src 'self' data:; "
                                 b"object-src 'none'; base-uri 'none'; form-action 'self'; "
                                 b"frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
]


class PageHeaders:
    """Adds PAGE_HEADERS to every answer outside the API (pages and their assets)."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(API_PREFIXES[:-1]):
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), *PAGE_HEADERS]
            await send(message)

        await self.app(scope, receive, with_headers)


def install(app: FastAPI) -> None:
    app.add_middleware(PageHeaders)
    for router in ROUTERS:
        app.include_router(router, include_in_schema=False)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    app.state.error_page = lambda request, status, detail: (
        error_page(request, status, detail) if is_page(request.url.path) else None)

    @app.exception_handler(LoginRequired)
    async def to_login(_request: Request, error: LoginRequired):
        return RedirectResponse(f"/login?next={quote(error.next_path, safe='/')}", 303)

    @app.exception_handler(PageRefused)
    async def refused(request: Request, error: PageRefused):
        return error_page(request, error.status, error.detail)
