"""Accounts of the web pages: login, lock-out, sessions, CSRF, cookies, and a real browser
logging in and out."""

from __future__ import annotations

import re

import pytest

from kiemchung.api.http.app import create_app
from kiemchung.api.store import StoreError
from kiemchung.api.store.users import MAX_FAILED_LOGINS, LoginRefused, create_user, login
from tests.helpers import (
    WEB_PASSWORD,
    TestClient,
    WebClient,
    add_web_users,
    csrf_of,
    log_in,
    screenshot,
)


@pytest.fixture
def app(settings):
    app = create_app(settings)
    add_web_users(app.state.store)
    yield app
    app.state.store.close()


def test_login_sets_a_session_cookie_and_logout_ends_it(app):
    client = TestClient(app)
    assert client.get("/account", follow_redirects=False).headers["location"] == \
        "/login?next=/account"
    form = client.get("/login")
    answer = client.post("/login", data={"username": "phuvang", "password": WEB_PASSWORD,
                                         "csrf_token": csrf_of(form.text), "next": "/check"},
                         follow_redirects=False)
    assert answer.status_code == 303 and answer.headers["location"] == "/check"
    cookie = answer.headers["set-cookie"]
    assert "kc_session=" in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert "Secure" not in cookie            # plain http on loopback
    account = client.get("/account")
    assert account.status_code == 200 and "UBND huyện Phú Vang" in account.text
    out = client.post("/logout", data={"csrf_token": csrf_of(account.text)},
                      follow_redirects=False)
    assert out.status_code == 303
    client.cookies.set("kc_session", re.search(r"kc_session=([^;]+)", cookie).group(1))
    assert client.get("/account", follow_redirects=False).status_code == 303   # ended


def test_secure_cookie_behind_tls(app):
    client = TestClient(app, base_url="https://kiemchung.test")
    form = client.get("/login")
    answer = client.post("/login", data={"username": "phuvang", "password": WEB_PASSWORD,
                                         "csrf_token": csrf_of(form.text)},
                         follow_redirects=False)
    assert "Secure" in answer.headers["set-cookie"]


def test_forms_without_the_csrf_token_are_refused(app):
    web = WebClient(app, "phuvang")
    refused = web.client.post("/logout", data={})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert web.client.post("/logout", data={"csrf_token": "forged"}).status_code == 403
    assert web.get("/account").status_code == 200         # still logged in
    fresh = TestClient(app)
    assert fresh.post("/login", data={"username": "phuvang", "password": WEB_PASSWORD,
                                      "csrf_token": "none"}).status_code == 403


def test_repeated_failures_lock_the_account(app):
    store = app.state.store
    for _ in range(MAX_FAILED_LOGINS - 1):
        with pytest.raises(LoginRefused) as refused:
            login(store, "thamdinh", "wrong password")
        assert refused.value.code == "wrong"
    with pytest.raises(LoginRefused) as refused:
        login(store, "thamdinh", "wrong password")
    assert refused.value.code == "locked"
    with pytest.raises(LoginRefused) as refused:       # the right password, too late
        login(store, "thamdinh", WEB_PASSWORD)
    assert refused.value.code == "locked"
    client = TestClient(app)
    page = client.post("/login", data={"username": "thamdinh", "password": WEB_PASSWORD,
                                       "csrf_token": csrf_of(client.get("/login").text)})
    assert page.status_code == 401 and "bị khoá" in page.text
    refusals = store.audit_entries(action="user.login_refused")
    assert len(refusals) == MAX_FAILED_LOGINS + 2
    assert login(store, "phuvang", WEB_PASSWORD).username == "phuvang"   # others unaffected


def test_unknown_user_and_wrong_password_read_alike(app):
    client = TestClient(app)
    answers = [client.post("/login", data={"username": name, "password": "x" * 12,
                                           "csrf_token": csrf_of(client.get("/login").text)})
               for name in ("nobody", "phuvang")]
    assert [a.status_code for a in answers] == [401, 401]
    assert all("Sai tên đăng nhập hoặc mật khẩu" in a.text for a in answers)


def test_password_rules_and_unique_names(store):
    with pytest.raises(StoreError, match="10 characters"):
        create_user(store, "ngan", "short", "auditor")
    create_user(store, "Ngân", "mot-mat-khau-dai", "auditor")
    with pytest.raises(StoreError, match="exists"):
        create_user(store, "NGÂN", "mot-mat-khau-dai", "auditor")
    with pytest.raises(StoreError, match="unit it acts for"):
        create_user(store, "xa", "mot-mat-khau-dai", "unit")


def test_pages_answer_with_security_headers_and_html_errors(app):
    web = WebClient(app, "phuvang")
    answer = web.get("/no-such-page")
    assert answer.status_code == 404 and answer.headers["content-type"].startswith("text/html")
    assert "Không tìm thấy" in answer.text
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    api = web.get("/v1/no-such-endpoint")
    assert api.headers["content-type"].startswith("application/problem+json")


def test_login_and_logout_in_a_real_browser(web_server, web_page):
    web_page.goto(f"{web_server.base_url}/login")
    screenshot(web_page, "login")
    web_page.fill("input[name=username]", "phuvang")
    web_page.fill("input[name=password]", "wrong-password")
    web_page.click("button[type=submit]")
    assert "Sai tên đăng nhập" in web_page.inner_text("[data-testid=login-error]")
    log_in(web_page, web_server, "phuvang")
    assert "UBND huyện Phú Vang" in web_page.inner_text("[data-testid=who]")
    web_page.click("[data-testid=logout]")
    web_page.wait_for_url(f"{web_server.base_url}/login")
    web_page.goto(f"{web_server.base_url}/account")
    assert web_page.url.startswith(f"{web_server.base_url}/login")
