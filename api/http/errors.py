"""Every error the API returns is a problem object (RFC 9457): `type`, `title`, `status`,
`detail` and the `request_id` to quote when asking what went wrong.

KiemchungError is translated here, once, the way the CLI turns it into an exit code.
"""

from __future__ import annotations

import contextvars
import logging
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from kiemchung.api.access import OtherUnit
from kiemchung.api.jobs.batch_input import BatchInputError, OtherUnitsError
from kiemchung.api.jobs.queue import BatchError
from kiemchung.api.store import InvalidOverride, NotFound
from kiemchung.api.store.campaigns import CampaignConflict
from kiemchung.models.errors import InputFileError, KiemchungError, OcrUnavailableError
from kiemchung.verifier.ruleset import RuleSetError

PROBLEM_TYPE = "urn:kiemchung:problem:"
PROBLEM_MEDIA_TYPE = "application/problem+json"

# Set per request by the request-context middleware; read by problems and log lines.
request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id",
                                                                        default=None)
log = logging.getLogger("kiemchung.api")


class ApiError(Exception):
    """An error with its HTTP status, raised by routes and dependencies."""

    status = 400
    kind = "bad-request"

    def __init__(self, detail: str, **extra: Any):
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class Unauthorized(ApiError):
    status = 401
    kind = "unauthorized"


class Forbidden(ApiError):
    status = 403
    kind = "forbidden"


class PayloadTooLarge(ApiError):
    status = 413
    kind = "payload-too-large"


class Unprocessable(ApiError):
    status = 422
    kind = "unprocessable"


def _status_and_kind(error: KiemchungError) -> tuple[int, str]:
    if isinstance(error, NotFound):
        return 404, "not-found"
    if isinstance(error, InputFileError):
        return 422, "unreadable-file"
    if isinstance(error, InvalidOverride):
        return 422, "invalid-override"
    if isinstance(error, CampaignConflict):
        return 409, error.kind          # outside a phase's window, a draft's own key…
    if isinstance(error, RuleSetError):
        return 422, "invalid-criterion"
    if isinstance(error, OtherUnitsError | OtherUnit):
        return 403, "forbidden"
    if isinstance(error, BatchInputError | BatchError):
        return 422, "invalid-batch"
    if isinstance(error, OcrUnavailableError):
        return 503, "ocr-unavailable"       # the server lacks Tesseract: not the caller's fault
    return 400, "bad-request"


def problem(status: int, detail: str, kind: str | None = None, *,
            headers: dict[str, str] | None = None, **extra: Any) -> JSONResponse:
    title = HTTPStatus(status).phrase
    body = {"type": PROBLEM_TYPE + kind if kind else "about:blank", "title": title,
            "status": status, "detail": detail, "request_id": request_id.get(), **extra}
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers,
                        media_type=PROBLEM_MEDIA_TYPE)


def _validation_detail(errors: list[dict]) -> str:
    """One line naming each invalid field: `body.year: Field required; …`."""
    parts = []
    for error in errors:
        where = ".".join(str(part) for part in error.get("loc", ()))
        message = error.get("msg", "invalid")
        parts.append(f"{where}: {message}" if where else message)
    return "; ".join(parts) or "invalid request"


def _page_or_problem(request: Request, status: int, detail: str, kind: str | None = None,
                     **extra: Any):
    """A page request (`app.state.error_page`, set by the web pages) gets an error page in
    the reader's language; an API request its problem object."""
    error_page = getattr(request.app.state, "error_page", None)
    if error_page is not None and (shown := error_page(request, status, detail)) is not None:
        return shown
    return problem(status, detail, kind, **extra)


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def api_error(request: Request, error: ApiError):
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(error, Unauthorized) else None
        return _page_or_problem(request, error.status, error.detail, error.kind,
                                headers=headers, **error.extra)

    @app.exception_handler(KiemchungError)
    async def kiemchung_error(request: Request, error: KiemchungError):
        status, kind = _status_and_kind(error)
        request.app.state.metrics.count_failure(kind)
        return _page_or_problem(request, status, error.message, kind)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, error: RequestValidationError):
        errors = [{key: value for key, value in e.items() if key in ("loc", "msg", "type")}
                  for e in error.errors()]
        return _page_or_problem(request, 422, _validation_detail(errors), "validation",
                                errors=errors)

    @app.exception_handler(RecursionError)
    async def too_deep(request: Request, _error: RecursionError):
        # A JSON body nested thousands deep exhausts the parser's stack (FastAPI's and ours):
        # hostile input, not a server fault.
        return _page_or_problem(request, 422, "the request body is nested too deeply to be "
                                "read", "validation")

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, error: StarletteHTTPException):
        if isinstance(error.__cause__, RecursionError):     # FastAPI's "error parsing the body"
            return await too_deep(request, error.__cause__)
        detail = error.detail if isinstance(error.detail, str) else HTTPStatus(
            error.status_code).description
        if error.status_code == 404 and detail == "Not Found":
            detail = f"no such endpoint: {request.method} {request.url.path}"
        return _page_or_problem(request, error.status_code, detail,
                                headers=getattr(error, "headers", None))
