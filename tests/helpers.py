"""Plain helpers and constants several test modules share (fixtures live in conftest.py):
where the shared files are, the `kiemchung` command, PostgreSQL schemas, the HTTP service of
the API tests, generated evidence, and a document a worker waits on until the test hands it
its bytes."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from kiemchung.api.http.app import create_app
from kiemchung.api.store.keys import create_key
from kiemchung.api.store.tables import Role
from kiemchung.models.fields import DocType
from kiemchung.verifier.settings import Settings
from samples.content import AGENCIES, make_spec
from samples.pki import DemoPKI
from samples.render import render_pdf, render_pdf_with_layout
from samples.scan import scan_pages, to_image_pdf
from samples.sign import sign_as_printed

with warnings.catch_warnings():     # Starlette's note about httpx versions, not ours to fix
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

SHARED = Path(__file__).resolve().parents[2] / "shared"
# On CI (`CI` set, as .ci/run does) a missing server or ../shared is a fault to see, never a skip.
ON_CI = bool(os.environ.get("CI"))

UNIT = "UBND huyện Phú Vang"
OTHER_UNIT = "UBND huyện Phong Điền"
XA = "UBND xã Phú Thượng"
YEAR = 2024
PHU_VANG = next(a for a in AGENCIES if a.unit_name == UNIT)
PHONG_DIEN = next(a for a in AGENCIES if a.unit_name == OTHER_UNIT)


def absent(reason: str) -> NoReturn:
    """Skip a test whose server or shared files are truly absent here; fail it on CI."""
    if ON_CI:
        pytest.fail(f"{reason} (CI must run this test)")
    pytest.skip(reason)


def truth(path: Path) -> dict:
    return json.loads(path.with_name(path.name + ".truth.json").read_text(encoding="utf-8"))


# -- the command line -------------------------------------------------------------------------

CONTRACT_KEYS = {"sha256", "pages", "text_source", "doc_type", "number", "issue_date", "place",
                 "issuer", "subject", "signer", "signatures", "has_seal"}


def kiemchung(*args: str) -> subprocess.CompletedProcess:
    exe = shutil.which("kiemchung", path=str(Path(sys.executable).parent)) or "kiemchung"
    env = {**os.environ, "COLUMNS": "250"}   # wide tables: one row per line
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=300, env=env)


# -- PostgreSQL -------------------------------------------------------------------------------

POSTGRES_URLS = ("postgresql://postgres@127.0.0.1:5432/test",
                 "postgresql://root@127.0.0.1:5432/test")


@contextlib.contextmanager
def postgres_schema(url: str):
    """A URL whose connections work in a new, empty schema; the schema is dropped afterwards,
    so parallel and repeated runs never see each other's tables."""
    schema = f"kc_test_{uuid.uuid4().hex[:16]}"
    admin = create_engine(make_url(url).set(drivername="postgresql+psycopg"),
                          isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield (make_url(url).update_query_dict({"options": f"-csearch_path={schema}"})
               .render_as_string(hide_password=False))
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


# -- the HTTP service -------------------------------------------------------------------------

LIMIT = 2 * 1024 * 1024
PROBLEM_KEYS = {"type", "title", "status", "detail", "request_id"}


class Service:
    """A running app, its store and one key per role (two unit keys: ours and another)."""

    def __init__(self, settings: Settings):
        self.app = create_app(settings)
        self.store = self.app.state.store
        self.client = TestClient(self.app)
        self.tokens = {role.value: create_key(self.store, role.value, role,
                                              UNIT if role == Role.UNIT else None)[0]
                       for role in Role}
        self.tokens["other_unit"] = create_key(self.store, "other", Role.UNIT, OTHER_UNIT)[0]

    def auth(self, role: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}

    def upload(self, role: str, data: bytes, name: str = "ke-hoach.pdf", **form):
        return self.client.post("/v1/documents", headers=self.auth(role),
                                files={"file": (name, data, "application/pdf")}, data=form)

    def verify(self, role: str, documents: list[str], *, unit: str | None = UNIT,
               criterion: str = "2.1", **extra):
        body = {"ruleset": "hue-2024", "criterion": criterion, "level": "huyen", "year": 2024,
                "unit": unit, "documents": documents, **extra}
        return self.client.post("/v1/verdicts", headers=self.auth(role), json=body)


def service_settings(data_dir: Path, pki: DemoPKI, database_url: str | None = None,
                     **overrides) -> Settings:
    return Settings(_env_file=None,  # type: ignore[call-arg]  # pydantic-settings' init option
                    data_dir=data_dir, database_url=database_url,
                    trust_roots=[pki.write_trust_dir(data_dir / "roots")],
                    max_upload_bytes=LIMIT, **overrides)


def assert_problem(response, status: int, *, mentions: str = "") -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert PROBLEM_KEYS <= body.keys() and body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    assert mentions.lower() in body["detail"].lower(), body["detail"]
    return body


def finished_batch(service, batch_id: str, role: str = "portal") -> dict:
    """Poll the status until the batch is done (the local pool runs it in the background)."""
    deadline = time.monotonic() + 600
    while time.monotonic() < deadline:
        status = service.client.get(f"/v1/batches/{batch_id}", headers=service.auth(role))
        assert status.status_code == 200, status.text
        body = status.json()
        assert sum(body["counts"].values()) == body["total"]
        if body["status"] == "done":
            return body
        time.sleep(0.5)
    raise AssertionError(f"batch {batch_id} did not finish: {body}")


# -- generated evidence -------------------------------------------------------------------------

def spec_of(doc_type: DocType, issued: dt.date, *, agency=PHU_VANG, seed: int = 1, **overrides):
    return make_spec(random.Random(seed), doc_type, agency=agency, issue_date=issued, **overrides)


def plan_spec(issued: dt.date, year: int | None = None, **kw):
    year = year or issued.year
    return spec_of(DocType.KE_HOACH, issued, subject=f"Chuyển đổi số huyện Phú Vang năm {year}",
                   **kw)


def signed(spec, pki) -> bytes:
    return sign_as_printed(render_pdf(spec), spec, pki)


def plan(agency, issued: dt.date, pki) -> bytes:
    """The district's plan for its year, signed as printed."""
    district = agency.unit_name.removeprefix("UBND huyện ")
    spec = make_spec(random.Random(1), DocType.KE_HOACH, agency=agency, issue_date=issued,
                     subject=f"Chuyển đổi số huyện {district} năm {issued.year}")
    return sign_as_printed(render_pdf(spec), spec, pki)


def scanned_notice() -> bytes:
    """A notice printed, signed, stamped and scanned at 300 dpi: image only, read by OCR."""
    spec = make_spec(random.Random(5), DocType.THONG_BAO, issue_date=dt.date(2024, 5, 6))
    pdf, layout = render_pdf_with_layout(spec)
    return to_image_pdf(scan_pages(pdf, layout, dpi=300, seed=5), 300)


# -- a document a worker waits on ---------------------------------------------------------------

def hold_document(store, sha256: str) -> Path:
    """Put a FIFO in place of the stored file: a worker reading it waits (in open()) until
    `hand_over` gives it the bytes, so its item is certainly still running while the test
    kills the worker or lets a time limit pass; no guess of how long reading it takes."""
    path = store.document_path(sha256)
    path.unlink()
    os.mkfifo(path, 0o644)
    return path


def hand_over(path: Path, data: bytes, timeout: float = 120) -> None:
    """Give the worker waiting on the FIFO `path` its bytes, and put the real file in place
    for any later reading. Waits (at most `timeout`) for the worker to open it."""
    done = threading.Event()
    failed: list[BaseException] = []

    def write() -> None:
        try:
            with open(path, "wb") as fifo:      # returns once the worker has it open to read
                # From now on the name is the ordinary file: the open FIFO is ours and the
                # worker's, and a second reading of the document finds the bytes at once.
                incoming = path.with_name(path.name + ".real")
                incoming.write_bytes(data)
                os.replace(incoming, path)
                fifo.write(data)
        except BaseException as error:  # noqa: BLE001 - reported below, in the test's thread
            failed.append(error)
        finally:
            done.set()

    threading.Thread(target=write, daemon=True).start()
    assert done.wait(timeout), f"no worker opened {path} within {timeout} s"
    if failed:
        raise failed[0]


# -- the web pages ----------------------------------------------------------------------------

WEB_PASSWORD = "mat-khau-thu-nghiem"
# The people of the web tests: user name → (role, unit). Two of Phú Vang: a draft counts only
# once a second person of the unit approves it.
WEB_USERS = {"phuvang": ("unit", UNIT), "phuvang2": ("unit", UNIT),
             "phongdien": ("unit", OTHER_UNIT), "thamdinh": ("appraiser", None),
             "kiemtra": ("auditor", None), "quantri": ("admin", None)}
SCREENSHOTS = Path(os.environ.get("KIEMCHUNG_SCREENSHOTS",
                                  Path(__file__).resolve().parents[1] / "build" / "screenshots"))


def add_web_users(store) -> None:
    from kiemchung.api.store.users import create_user

    for username, (role, unit) in WEB_USERS.items():
        create_user(store, username, WEB_PASSWORD, role, unit, display_name=username)


def csrf_of(html: str) -> str:
    """The CSRF token a page carries (its `<meta name="csrf-token">` or a form's field)."""
    found = (re.search(r'name="csrf-token" content="([^"]+)"', html)
             or re.search(r'name="csrf_token" value="([^"]+)"', html))
    assert found, "no CSRF token on the page"
    return found.group(1)


class WebClient:
    """A TestClient logged in to the pages as one of WEB_USERS; `post` sends the session's
    CSRF token with the form."""

    def __init__(self, app, username: str):
        self.client = TestClient(app)
        form = self.client.get("/login")
        answer = self.client.post("/login", data={
            "username": username, "password": WEB_PASSWORD, "csrf_token": csrf_of(form.text)},
            follow_redirects=False)
        assert answer.status_code == 303, answer.text
        self.csrf = csrf_of(self.client.get("/account").text)

    def get(self, path: str, **kw):
        return self.client.get(path, **kw)

    def post(self, path: str, data: dict | None = None, **kw):
        return self.client.post(path, data={"csrf_token": self.csrf, **(data or {})}, **kw)


@dataclass
class WebServer:
    """`kiemchung serve` on 127.0.0.1 with the embedded defaults (SQLite, no broker), in its
    own data dir, with WEB_USERS and the demo PKI's roots."""

    base_url: str
    settings: Settings
    pki: DemoPKI
    process: subprocess.Popen


def start_web_server(data_dir: Path, pki: DemoPKI) -> WebServer:
    from kiemchung.api.store import open_store

    trust = pki.write_trust_dir(data_dir / "roots")
    settings = Settings(_env_file=None,  # type: ignore[call-arg]  # pydantic-settings' option
                        data_dir=data_dir / "data", database_url=None, trust_roots=[trust])
    with open_store(settings) as store:
        add_web_users(store)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "KIEMCHUNG_DATA_DIR": str(settings.data_dir),
           "KIEMCHUNG_TRUST_ROOTS": str(trust), "KIEMCHUNG_SETTINGS_FILE": os.devnull}
    env.pop("KIEMCHUNG_DATABASE_URL", None)
    env.pop("KIEMCHUNG_BROKER_URL", None)
    log = (data_dir / "server.log").open("wb")
    process = subprocess.Popen([sys.executable, "-m", "kiemchung.api.cli.main", "serve",
                                "--port", str(port), "--log-level", "warning"],
                               env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server stopped: {(data_dir / 'server.log').read_text()}")
        with contextlib.suppress(OSError), \
                urllib.request.urlopen(f"{base}/healthz", timeout=2) as answer:
            if answer.status == 200:
                return WebServer(base, settings, pki, process)
        time.sleep(0.2)
    process.kill()
    raise AssertionError("the server did not answer /healthz within 60 s")


def log_in(page, server: WebServer, username: str) -> None:
    """Log in through the login page as one of WEB_USERS."""
    page.goto(f"{server.base_url}/login")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", WEB_PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("[data-testid=who]")


def screenshot(page, name: str, *, full_page: bool = True) -> Path:
    """A screenshot for review (of the whole page, or of what the window shows), in
    SCREENSHOTS (build/screenshots by default)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def off_loop(make, *args, **kw):
    """`make(*args)` in a thread of its own: signing and reading signatures run an asyncio
    loop, and while a browser test's Playwright is open its loop runs in this thread."""
    with ThreadPoolExecutor(1) as worker:
        return worker.submit(make, *args, **kw).result()


@contextlib.contextmanager
def web_app(data_dir: Path, pki: DemoPKI):
    """The app of the pages' TestClient tests, with WEB_USERS, in its own data dir."""
    app = create_app(service_settings(data_dir, pki))
    add_web_users(app.state.store)
    yield app
    app.state.store.close()
