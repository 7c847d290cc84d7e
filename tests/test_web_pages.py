"""Every page at once: each GET page answers each role without a server error, every form
refuses a request without the session's CSRF token, and no page is open without logging in."""

from __future__ import annotations

import re

import pytest
from fastapi.routing import APIRoute

from kiemchung.api.web import is_page
from kiemchung.api.web.routes import ROUTERS
from samples.pki import DemoPKI
from tests.helpers import WEB_USERS, TestClient, WebClient, web_app

OPEN_PAGES = {"/login", "/lang/{locale}"}
# A value for each kind of path parameter: well-formed, naming nothing that exists.
PARAMETERS = {"sha256": "0" * 64, "locale": "vi", "criterion": "2.1", "unit": "UBND"}


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    with web_app(tmp_path_factory.mktemp("pages"), DemoPKI.create("pages-tests")) as made:
        yield made


def page_routes(method: str) -> list[str]:
    """The pages' paths (the routers `api.web.install` adds, with their own prefixes)."""
    return sorted({route.path for router in ROUTERS for route in router.routes
                   if isinstance(route, APIRoute) and method in (route.methods or ())
                   and is_page(route.path)})


def filled(path: str) -> str:
    return re.sub(r"\{([a-z_0-9]+)(:[a-z]+)?\}",
                  lambda m: PARAMETERS.get(m.group(1), "1"), path)


def test_there_are_pages_for_every_role(app):
    paths = page_routes("GET")
    for wanted in ("/login", "/check", "/documents/{sha256}", "/verdicts/{verdict_id}",
                   "/verdicts", "/batches/new", "/campaigns", "/flagged", "/samples", "/audit",
                   "/admin"):
        assert any(p == wanted or p.startswith(wanted.split("{")[0]) for p in paths), wanted


def test_no_page_opens_without_logging_in(app):
    client = TestClient(app)
    for path in page_routes("GET"):
        if path in OPEN_PAGES:
            continue
        answer = client.get(filled(path), follow_redirects=False)
        assert answer.status_code in (303, 404, 422), (path, answer.status_code)
        if answer.status_code == 303:
            assert answer.headers["location"].startswith("/login"), path


@pytest.mark.parametrize("username", sorted(WEB_USERS))
def test_every_page_answers_every_role_without_a_server_error(app, username):
    web = WebClient(app, username)
    for path in page_routes("GET"):
        answer = web.get(filled(path), follow_redirects=False)
        assert answer.status_code < 500, (path, answer.status_code, answer.text[:300])
        if answer.headers.get("content-type", "").startswith("text/html"):
            assert "Traceback" not in answer.text


def test_every_form_refuses_a_request_without_the_csrf_token(app):
    web = WebClient(app, "quantri")          # the admin: no role refusal comes first
    for path in page_routes("POST"):
        if path == "/login":
            continue
        for token in (None, "forged"):
            data = {} if token is None else {"csrf_token": token}
            answer = web.client.post(filled(path), data=data, follow_redirects=False)
            assert answer.status_code == 403, (path, token, answer.status_code)
    assert web.get("/account").status_code == 200
