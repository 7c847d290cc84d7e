"""The auditor's pages (flagged items, samples worked through, the audit log) and the admin's
(users, keys, trust roots, rule sets): through TestClient and in a real browser."""

from __future__ import annotations

import datetime as dt
import html
import re

import httpx
import pytest

from kiemchung.api.store import open_store
from kiemchung.api.store.campaigns import create_campaign
from kiemchung.api.store.keys import create_key
from kiemchung.api.store.samples import sample_items
from samples.pki import DemoPKI
from tests.helpers import (
    PHU_VANG,
    UNIT,
    TestClient,
    WebClient,
    log_in,
    off_loop,
    plan,
    screenshot,
    web_app,
)

OTHER = "UBND xã Mẫu"


@pytest.fixture(scope="module")
def pki():
    return DemoPKI.create("audit-tests")


@pytest.fixture
def app(tmp_path, pki):
    with web_app(tmp_path, pki) as made:
        yield made


def make_verdicts(app, count: int, unit: str = OTHER) -> list[int]:
    """Verdicts without documents (failed, so flagged): quick, no inspection."""
    token = create_key(app.state.store, "portal", "portal")[0]
    client = TestClient(app)
    body = {"ruleset": "hue-2024", "criterion": "2.1", "level": "huyen", "year": 2024,
            "unit": unit, "documents": []}
    made = []
    for _ in range(count):
        answer = client.post("/v1/verdicts", json=body,
                             headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 201, answer.text
        made.append(answer.json()["id"])
    return made


def sample_id_of(answer) -> int:
    assert answer.status_code == 303, answer.text
    return int(answer.headers["location"].rsplit("/", 1)[1])


def test_flagged_lists_failed_verdicts_with_filters(app):
    made = make_verdicts(app, 2)
    auditor = WebClient(app, "kiemtra")
    listed = auditor.get("/flagged", params={"unit": OTHER})
    assert listed.status_code == 200
    assert all(f'href="/verdicts/{v}"' in listed.text for v in made)
    assert "Không đạt" in listed.text and "Đúng loại văn bản" in listed.text   # check select
    assert auditor.get("/flagged", params={"unit": "UBND huyện Không Có"}).text.count(
        'data-testid="flagged-row"') == 0
    assert WebClient(app, "thamdinh").get("/flagged").status_code == 200
    assert WebClient(app, "phuvang").get("/flagged").status_code == 403
    assert auditor.get("/flagged", params={"status": "great"}).status_code == 400


def test_the_same_seed_draws_the_same_items_and_decisions_are_kept(app):
    made = make_verdicts(app, 6)
    auditor = WebClient(app, "kiemtra")
    form = {"size": "3", "seed": "7", "only_flagged": "1", "unit": OTHER}
    first = sample_id_of(auditor.post("/samples", form, follow_redirects=False))
    again = sample_id_of(auditor.post("/samples", form, follow_redirects=False))
    store = app.state.store
    picked = [i.verdict_id for i in sample_items(store, first)]
    assert picked == [i.verdict_id for i in sample_items(store, again)]
    assert len(picked) == 3 and set(picked) <= set(made)
    shown = auditor.get(f"/samples/{first}")
    assert shown.status_code == 200 and "0 / 3" in shown.text and "hạt giống" in shown.text
    # The API draws the same with the same seed, through the same function.
    token = create_key(store, "audit", "auditor")[0]
    api = TestClient(app).post("/v1/samples", headers={"Authorization": f"Bearer {token}"},
                               json={"size": 3, "seed": 7, "unit": OTHER})
    assert api.status_code == 201
    assert [i["verdict_id"] for i in api.json()["items"]] == picked
    assert api.json()["sample_id"] > again

    items = sample_items(store, first)
    decided = auditor.post(f"/samples/{first}/items/{items[0].id}",
                           {"outcome": "disagree", "note": "thiếu chữ ký"},
                           follow_redirects=False)
    assert decided.status_code == 303
    row = auditor.post(f"/samples/{first}/items/{items[1].id}", {"outcome": "agree"},
                       headers={"HX-Request": "true"})
    assert row.status_code == 200 and row.text.lstrip().startswith("<tr")
    assert "hx-swap-oob" in row.text and "2 / 3" in row.text
    listed = auditor.get("/samples").text
    assert re.search(rf'href="/samples/{first}".*?2 / 3', listed, re.S)
    log = store.audit_entries(action="sample.decide")
    assert [e.details["outcome"] for e in log] == ["disagree", "agree"]
    assert log[0].details["note"] == "thiếu chữ ký"

    assert auditor.post(f"/samples/{first}/items/{items[2].id}",
                        {"outcome": "maybe"}).status_code == 422
    other_item = sample_items(store, again)[0].id
    assert auditor.post(f"/samples/{first}/items/{other_item}",
                        {"outcome": "agree"}).status_code == 404
    assert auditor.get("/samples/99999").status_code == 404


def test_draw_form_refuses_bad_numbers_inline(app):
    auditor = WebClient(app, "kiemtra")
    for form, says in (({"size": "abc"}, "Cỡ mẫu"), ({}, "một trong hai"),
                       ({"size": "2", "rate": "10"}, "một trong hai"),
                       ({"rate": "150"}, "Tỉ lệ"), ({"size": "2", "seed": "-1"}, "Hạt giống"),
                       ({"size": "²"}, "Cỡ mẫu"), ({"size": "1", "seed": "9" * 25}, "Hạt giống")):
        answer = auditor.post("/samples", form)
        assert answer.status_code == 400 and says in answer.text, form
    made = make_verdicts(app, 4)
    drawn = sample_id_of(auditor.post("/samples", {"rate": "50", "unit": OTHER,
                                                   "only_flagged": "1"},
                                      follow_redirects=False))
    assert len(sample_items(app.state.store, drawn)) == 2
    assert {i.verdict_id for i in sample_items(app.state.store, drawn)} <= set(made)


def test_roles_and_csrf(app):
    unit = WebClient(app, "phuvang")
    for path in ("/samples", "/audit", "/admin", "/admin/users", "/admin/keys",
                 "/admin/trust", "/admin/rulesets"):
        assert unit.get(path).status_code == 403, path
    auditor = WebClient(app, "kiemtra")
    assert auditor.get("/admin/users").status_code == 403
    assert auditor.client.post("/samples", data={"size": "1"}).status_code == 403   # no CSRF
    admin = WebClient(app, "quantri")
    assert admin.client.post("/admin/users", data={
        "username": "moi", "role": "auditor", "password": "mot-mat-khau-dai"}).status_code == 403
    assert admin.client.post("/admin/keys", data={"name": "x", "role": "portal"}
                             ).status_code == 403
    assert unit.post("/samples", {"size": "1"}).status_code == 403


def test_audit_log_filters_and_pages(app):
    make_verdicts(app, 2)
    auditor = WebClient(app, "kiemtra")
    auditor.post("/samples", {"size": "1", "seed": "3", "unit": OTHER, "only_flagged": "1"})
    log = auditor.get("/audit")
    assert log.status_code == 200 and "sample.draw" in log.text
    assert '<option value="user.login"' in log.text                  # actions present
    draws = auditor.get("/audit", params={"action": "sample.draw", "actor": "kiemtra"})
    assert draws.text.count('data-testid="audit-row"') == 1
    assert '"seed":3' in html.unescape(draws.text)                   # compact JSON
    assert auditor.get("/audit", params={"action": "sample.draw", "actor": "quantri"}
                       ).text.count('data-testid="audit-row"') == 0
    today = dt.date.today()
    ranged = auditor.get("/audit", params={"action": "sample.draw",
                                           "since": (today - dt.timedelta(days=1)).isoformat(),
                                           "until": (today + dt.timedelta(days=1)).isoformat()})
    assert ranged.text.count('data-testid="audit-row"') == 1
    assert auditor.get("/audit", params={"until": "2020-01-01"}).text.count(
        'data-testid="audit-row"') == 0
    assert auditor.get("/audit", params={"since": "01/02/2024"}).status_code == 400
    assert auditor.get("/audit", params={"before_id": "x"}).status_code == 400
    for _ in range(55):
        app.state.store.audit(None, "test.fill", "test:1", {})
    first = auditor.get("/audit")
    assert first.text.count('data-testid="audit-row"') == 50 and "audit-more" in first.text
    after = re.search(r'data-testid="audit-more" href="([^"]+)"', first.text).group(1)
    rest = auditor.get(after.replace("&amp;", "&"))
    assert 0 < rest.text.count('data-testid="audit-row"') <= 50


def test_admin_manages_users_and_keys(app):
    admin = WebClient(app, "quantri")
    for form, says in (({"username": "ngan", "role": "auditor", "password": "ngan"},
                        "ít nhất 10 ký tự"),
                       ({"username": "kiemtra", "role": "auditor", "password": "mot-mat-khau-dai"},
                        "đã có"),
                       ({"username": "xa", "role": "unit", "password": "mot-mat-khau-dai"},
                        "cần chọn đơn vị")):
        answer = admin.post("/admin/users", form)
        assert answer.status_code == 400 and says in answer.text, form
    added = admin.post("/admin/users", {"username": "ngan", "display_name": "Trần Thị Ngân",
                                        "role": "unit", "unit": UNIT,
                                        "password": "mot-mat-khau-dai"})
    assert added.status_code == 200 and "Trần Thị Ngân" in added.text
    assert admin.post("/admin/users/ngan/password", {"password": "ngan"}).status_code == 400
    assert admin.post("/admin/users/ngan/password",
                      {"password": "mat-khau-moi-dai"}).status_code == 200
    assert admin.post("/admin/users/ngan/unlock").status_code == 200
    assert admin.post("/admin/users/nobody/unlock").status_code == 404
    disabled = admin.post("/admin/users/ngan/disable")
    assert "Đã vô hiệu hoá" in disabled.text
    actions = [e.action for e in app.state.store.audit_entries(subject=None)
               if e.action.startswith("user.") and e.action != "user.login"]
    assert actions[-4:] == ["user.create", "user.password", "user.unlock", "user.disable"]

    made = admin.post("/admin/keys", {"name": "cong-dti", "role": "portal"})
    assert made.status_code == 201 and made.headers["cache-control"] == "no-store"
    token = re.search(r'data-testid="token">(kc_[^<]+)<', made.text).group(1)
    listed = admin.get("/admin/keys")
    assert "cong-dti" in listed.text and token not in listed.text
    assert "user:kiemtra" not in listed.text                    # users' keys are not listed
    assert admin.post("/admin/keys", {"name": "x", "role": "unit"}).status_code == 400
    assert admin.post("/admin/keys", {"name": "x", "role": "portal",
                                      "expires": "hôm qua"}).status_code == 400
    key_id = re.search(r"<td>(\d+)</td>\s*<td>cong-dti</td>", listed.text).group(1)
    assert admin.post(f"/admin/keys/{key_id}/revoke").status_code == 200
    assert TestClient(app).get("/v1/audit", headers={
        "Authorization": f"Bearer {token}"}).status_code == 401
    assert admin.post("/admin/keys/99999/revoke").status_code == 404


def test_admin_sees_trust_roots_and_rulesets(app, pki):
    admin = WebClient(app, "quantri")
    trust = admin.get("/admin/trust")
    assert trust.status_code == 200
    fingerprints = re.findall(r'data-testid="fingerprint">([0-9A-F:]+)<', trust.text)
    assert fingerprints and all(len(f) == 95 for f in fingerprints)
    rulesets = admin.get("/admin/rulesets")
    assert rulesets.status_code == 200 and "hue-2024" in rulesets.text
    campaign = create_campaign(app.state.store, "Đánh giá 2024", "hue-2024", 2024)
    home = admin.get("/admin")
    assert home.status_code == 200 and f'href="/campaigns/{campaign.id}/phases"' in home.text
    admin.client.cookies.set("kc_lang", "en")
    for path in ("/admin", "/admin/users", "/admin/keys", "/admin/trust", "/admin/rulesets",
                 "/flagged", "/samples", "/audit"):
        assert admin.get(path).status_code == 200, path
    assert "Trust roots" in admin.get("/admin/trust").text


# -- in a real browser ------------------------------------------------------------------------

def _verify_on_server(web_server) -> list[int]:
    """Two plans verified through the server's API: one of the right year (passes), one of
    the year before (fails); and one verdict without a document (fails)."""
    with open_store(web_server.settings) as store:
        token = create_key(store, "portal-test", "portal")[0]
    headers = {"Authorization": f"Bearer {token}"}
    made = []
    with httpx.Client(base_url=web_server.base_url, headers=headers, timeout=120) as api:
        for issued in (dt.date(2024, 1, 15), dt.date(2023, 1, 15)):
            upload = api.post("/v1/documents", data={"unit": UNIT}, files={
                "file": ("ke-hoach.pdf", off_loop(plan, PHU_VANG, issued, web_server.pki),
                         "application/pdf")})
            assert upload.status_code in (200, 201), upload.text
            documents = [upload.json()["sha256"]]
            made.append(_verdict(api, documents))
        made.append(_verdict(api, []))
    return made


def _verdict(api, documents: list[str]) -> int:
    answer = api.post("/v1/verdicts", json={"ruleset": "hue-2024", "criterion": "2.1",
                                            "level": "huyen", "year": 2024, "unit": UNIT,
                                            "documents": documents})
    assert answer.status_code == 201, answer.text
    return answer.json()["id"]


def test_auditor_works_through_a_sample_in_a_browser(web_server, web_page):
    _verify_on_server(web_server)
    page, base = web_page, web_server.base_url
    log_in(page, web_server, "kiemtra")
    page.goto(f"{base}/flagged")
    assert page.locator("[data-testid=flagged-row]").count() >= 2
    screenshot(page, "audit-flagged")
    page.click("header nav a[href='/samples']")
    page.fill("input[name=size]", "2")
    page.fill("input[name=seed]", "7")
    screenshot(page, "audit-samples")
    page.click("[data-testid=draw]")
    page.wait_for_url(re.compile(r".*/samples/\d+$"))
    assert page.inner_text("[data-testid=sample-seed]") == "7"
    rows = page.locator("[data-testid=sample-item]")
    assert rows.count() == 2
    for index, outcome in enumerate(("agree", "unsure")):
        row = page.locator("[data-testid=sample-item]").nth(index)
        row.locator("select[name=outcome]").select_option(outcome)
        row.locator("input[name=note]").fill(f"ghi chú {index + 1}")
        row.locator("[data-testid=decide]").click()
        page.locator("[data-testid=sample-item]").nth(index).locator(
            "[data-testid=decided]").wait_for()
        assert page.inner_text("[data-testid=sample-progress]") == f"{index + 1} / 2"
    screenshot(page, "audit-sample")
    page.click("header nav a[href='/audit']")
    page.select_option("select[name=action]", "sample.decide")
    page.click("[data-testid=audit-filters] button[type=submit]")
    page.wait_for_url(re.compile(r".*action=sample.decide.*"))
    assert page.locator("[data-testid=audit-row]").count() == 2
    page.select_option("select[name=action]", "sample.draw")
    page.click("[data-testid=audit-filters] button[type=submit]")
    page.wait_for_url(re.compile(r".*action=sample.draw.*"))
    assert '"seed":7' in page.inner_text("[data-testid=audit-table]")
    screenshot(page, "audit-log")


def test_admin_adds_a_user_and_a_key_in_a_browser(web_server, web_page):
    page, base = web_page, web_server.base_url
    log_in(page, web_server, "quantri")
    assert page.url == f"{base}/admin"
    screenshot(page, "admin-home")
    page.click("[data-testid=admin-links] a[href='/admin/users']")
    form = page.locator("[data-testid=add-user]")
    form.locator("input[name=username]").fill("thamdinh2")
    form.locator("input[name=display_name]").fill("Lê Văn Thẩm")
    form.locator("select[name=role]").select_option("appraiser")
    form.locator("input[name=password]").fill("mot-mat-khau-dai")
    page.click("[data-testid=add-user-submit]")
    page.wait_for_selector("[data-testid=done]")
    assert "Lê Văn Thẩm" in page.inner_text("[data-testid=users-table]")
    screenshot(page, "admin-users")
    page.goto(f"{base}/admin/keys")
    page.fill("[data-testid=make-key] input[name=name]", "cong-dti")
    page.select_option("[data-testid=make-key] select[name=role]", "portal")
    page.click("[data-testid=make-key-submit]")
    token = page.inner_text("[data-testid=token]")
    assert token.startswith("kc_")
    screenshot(page, "admin-keys")
    page.goto(f"{base}/admin/keys")
    assert token not in page.content() and "cong-dti" in page.inner_text("[data-testid=keys-table]")
    page.goto(f"{base}/admin")
    page.click("[data-testid=admin-links] a[href='/admin/trust']")
    assert page.locator("[data-testid=fingerprint]").count() >= 1
    screenshot(page, "admin-trust")
    page.goto(f"{base}/admin")
    page.click("[data-testid=admin-links] a[href='/admin/rulesets']")
    assert page.locator("[data-testid=ruleset]").count() >= 1
    screenshot(page, "admin-rulesets")
