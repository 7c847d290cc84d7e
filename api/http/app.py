"""The HTTP service: `create_app()` builds it; `kiemchung serve` runs it with uvicorn.

Routes live one resource per file in `api/http/routes/`, under `/v1`; `/healthz`, `/readyz` and
`/metrics` are for the operator and stay unversioned. Two middlewares wrap every request: the
request context (request id, access log, request counts, and a problem object instead of a bare
500) and the body limit (413 before a too large upload is read to the end).
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import sys
import time
import traceback
import urllib.parse
import uuid

from fastapi import FastAPI
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from kiemchung.api import service, web
from kiemchung.api.http.deps import Metrics
from kiemchung.api.http.errors import install_problem_handlers, problem, request_id
from kiemchung.api.http.routes import (
    audit,
    batches,
    campaigns,
    documents,
    flagged,
    health,
    overrides,
    reuse,
    samples,
    verdicts,
)
from kiemchung.api.store import Store, open_store
from kiemchung.verifier.settings import Settings, load_settings

log = logging.getLogger("kiemchung.api")
# Multipart framing around the file (boundaries, headers, the other form fields).
MULTIPART_ALLOWANCE = 64 * 1024
# A client's request id is echoed only when it is a plain token: it ends up in our logs.
CLIENT_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    settings = settings or load_settings()
    owns_store = store is None
    store = store or open_store(settings)

    @contextlib.asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        if owns_store:
            store.close()

    app = FastAPI(title="kiemchung", version="1", lifespan=lifespan, docs_url="/docs",
                  description="Pre-screening of DTI evidence documents (tài liệu kiểm chứng): "
                              "upload, verify, batches, flagged items, sampling, overrides.")
    app.state.settings = settings
    app.state.store = store
    app.state.trust = service.load_trust_roots(settings)
    app.state.metrics = Metrics()
    install_problem_handlers(app)
    for module in (documents, verdicts, overrides, batches, flagged, samples, audit, campaigns,
                   reuse):
        app.include_router(module.router, prefix="/v1")
    app.include_router(health.router)
    web.install(app)
    # The last added runs first: the request id exists before the body is read.
    app.add_middleware(RefuseNul)
    app.add_middleware(BodyLimit, limit=settings.max_upload_bytes + MULTIPART_ALLOWANCE)
    app.add_middleware(RequestContext, metrics=app.state.metrics)
    return app


class RequestContext:
    """Gives every request an id (the client's `X-Request-ID`, else a new one), echoes it,
    logs one line per request, counts statuses, and turns an unexpected exception into a
    problem 500 carrying the id, with the traceback in the log."""

    def __init__(self, app: ASGIApp, metrics: Metrics):
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(b"x-request-id", b"").decode("latin-1")
        rid = given if CLIENT_REQUEST_ID.match(given) else uuid.uuid4().hex
        token = request_id.set(rid)
        status, started = 500, False
        began = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status, started
            if message["type"] == "http.response.start":
                started, status = True, message["status"]
                message["headers"] = [*message.get("headers", []),
                                      (b"x-request-id", rid.encode("latin-1"))]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled error in %s %s", scope["method"], scope["path"])
            self.metrics.count_failure("server_error")
            if started:
                raise
            response = problem(500, "internal error; quote the request id when reporting it",
                               "internal-error")
            await response(scope, receive, send_with_id)
        finally:
            self.metrics.count_request(status)
            log.info("%s %s %d", scope["method"], scope["path"], status, extra={
                "method": scope["method"], "path": scope["path"], "status": status,
                "duration_ms": round((time.perf_counter() - began) * 1000, 1)})
            request_id.reset(token)


class RefuseNul:
    """A NUL in the path or the query string is refused at once (400). No id or filter holds
    one, and PostgreSQL refuses NUL in text: it would answer 500 from inside a query."""

    def __init__(self, app: ASGIApp):
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (
                "\x00" in scope["path"]
                or b"\x00" in urllib.parse.unquote_to_bytes(scope.get("query_string", b""))):
            await problem(400, "the URL holds a NUL character (%00)", "bad-request")(
                scope, receive, send)
            return
        await self.app(scope, receive, send)


class BodyLimit:
    """Refuses a body larger than `limit`: at once when Content-Length says so, else as soon
    as the bytes received pass it, so an oversized upload is never read to the end."""

    def __init__(self, app: ASGIApp, limit: int):
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        detail = f"the request body is larger than the limit of {self.limit} bytes"
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > self.limit:
            await problem(413, detail, "payload-too-large")(scope, receive, send)
            return
        received = 0

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    # An HTTPException: FastAPI passes it on from body parsing unchanged.
                    raise StarletteHTTPException(413, detail)
            return message

        await self.app(scope, limited_receive, send)


# -- structured logs ---------------------------------------------------------------------------

class JsonLines(logging.Formatter):
    """One JSON object per line: time, level, logger, message, the request id and whatever
    `extra` the call gave (batch_id, status, …)."""

    STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "color_message"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {"time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S%z"),
                 "level": record.levelname.lower(), "logger": record.name,
                 "message": record.getMessage()}
        rid = request_id.get()
        if rid:
            entry["request_id"] = rid
        entry.update({key: value for key, value in vars(record).items()
                      if key not in self.STANDARD and not key.startswith("_")})
        if record.exc_info:
            entry["traceback"] = "".join(traceback.format_exception(*record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str = "info") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLines())
    for name in ("kiemchung", "uvicorn", "uvicorn.error"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(level.upper())
        logger.propagate = False
    logging.getLogger("uvicorn.access").disabled = True     # our own access line has the id
