"""Shared fixtures: evidence files made by the project's own sample generator, and the
databases of the store's tests (SQLite, and this machine's PostgreSQL in a fresh schema).
Plain helpers and constants are in tests/helpers.py.

PostgreSQL: KIEMCHUNG_TEST_POSTGRES_URL, else postgresql://postgres@127.0.0.1:5432/test or the
same as user root (trust authentication). Its tests are skipped only when nothing listens there.
"""

from __future__ import annotations

import os
import socket
import subprocess

import psycopg
import pytest
from sqlalchemy.engine import make_url

from kiemchung.api.store import open_store
from kiemchung.verifier.settings import Settings
from samples.corpus import generate_corpus
from samples.pki import DemoPKI
from tests.helpers import POSTGRES_URLS, absent, postgres_schema, start_web_server


@pytest.fixture(scope="session")
def digital_corpus(tmp_path_factory):
    """Twelve born-digital documents: every document type once."""
    return generate_corpus(tmp_path_factory.mktemp("digital"), count=12, seed=11,
                           variants=("digital", "tcvn3"))


@pytest.fixture(scope="session")
def scan_corpus(tmp_path_factory):
    """Two documents scanned at 300 dpi with seal and signature, as PDF and as PNG."""
    return generate_corpus(tmp_path_factory.mktemp("scans"), count=2, seed=5,
                           variants=("scan300", "png"))


@pytest.fixture(scope="session")
def postgres_url() -> str:
    """A PostgreSQL URL that connects; skip only when no server listens at the address."""
    candidates = ([os.environ["KIEMCHUNG_TEST_POSTGRES_URL"]]
                  if os.environ.get("KIEMCHUNG_TEST_POSTGRES_URL") else list(POSTGRES_URLS))
    address = make_url(candidates[0])
    host, port = address.host or "127.0.0.1", address.port or 5432
    try:
        socket.create_connection((host, port), timeout=5).close()
    except OSError as error:
        absent(f"PostgreSQL is not reachable at {host}:{port} ({error}); set "
               "KIEMCHUNG_TEST_POSTGRES_URL to test against another server")
    refusals = []
    for url in candidates:
        conninfo = make_url(url).set(drivername="postgresql").render_as_string(False)
        try:
            psycopg.connect(conninfo, connect_timeout=5).close()
            return url
        except psycopg.OperationalError as error:
            refusals.append(f"{make_url(url).username}: {str(error).strip()}")
    pytest.fail(f"PostgreSQL listens at {host}:{port} but refuses us: {'; '.join(refusals)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tmp_path):
    """Settings of a store on SQLite (a temporary data dir), then on PostgreSQL (a fresh
    schema, dropped afterwards). Modules with settings of their own override it."""
    if request.param == "sqlite":
        yield Settings(_env_file=None, data_dir=tmp_path, database_url=None)
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        yield Settings(_env_file=None, data_dir=tmp_path, database_url=url)


@pytest.fixture
def store(settings):
    with open_store(settings) as opened:
        yield opened


# -- the web pages in a real browser ----------------------------------------------------------

CHROMIUM = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def web_server(tmp_path_factory):
    """`kiemchung serve` with the embedded defaults and WEB_USERS, one per test module."""
    server = start_web_server(tmp_path_factory.mktemp("web"), DemoPKI.create("web-tests"))
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        server.process.kill()


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright: never a downloaded browser. Per
    module: while Playwright is open its asyncio loop runs in the test thread, where signing
    and reading signatures (asyncio.run) cannot run (`off_loop` runs them aside); closed,
    the next module's tests have the thread to themselves."""
    if not os.access(CHROMIUM, os.X_OK):
        absent(f"{CHROMIUM} is not installed (Debian's chromium package; `make test` "
               "installs it)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, headless=True,
                                              args=["--no-sandbox", "--disable-gpu"])
        yield launched
        launched.close()


@pytest.fixture
def web_page(browser):
    """A fresh browser context and page; at the end, no JavaScript error may have happened
    and no console error been logged on any page it opened. A page answering 403 or 404 on
    purpose logs "Failed to load resource" for itself: only that one is let pass, never an
    asset's or a fetch's."""
    context = browser.new_context(locale="vi-VN", viewport={"width": 1360, "height": 900})
    page = context.new_page()
    problems: list[str] = []
    documents: set[str] = set()

    def on_console(message) -> None:
        if message.type != "error":
            return
        if message.text.startswith("Failed to load resource") and \
                message.location.get("url") in documents:
            return
        problems.append(f"console error: {message.text} ({message.location.get('url')})")

    page.on("request", lambda request: documents.add(request.url)
            if request.is_navigation_request() else None)
    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
    page.set_default_timeout(30_000)
    yield page
    context.close()
    assert not problems, problems


def pytest_collection_modifyitems(items) -> None:
    """Tests driving a browser are marked `browser` (`make screenshots` runs only them)."""
    for item in items:
        if "web_page" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.browser)
