"""The document view, a unit's check of one document and the verdict page: content, unit
scoping (another unit's things are 404), role refusals, CSRF, hostile input, and a real
browser doing a unit's check and an appraiser's override."""

from __future__ import annotations

import dataclasses
import datetime as dt
import html
import re

import pymupdf
import pytest

from kiemchung.api import service
from kiemchung.api.web.render import templates
from kiemchung.api.web.routes.documents import FIRST_PAGES, field_rows, page_views, signature_rows
from samples import attacks
from samples.pki import DemoPKI
from samples.sign import sign_pdf
from tests.helpers import (
    LIMIT,
    PHU_VANG,
    UNIT,
    WebClient,
    log_in,
    off_loop,
    plan,
    screenshot,
    web_app,
)


@pytest.fixture(scope="module")
def pki():
    return DemoPKI.create("documents-tests")


@pytest.fixture(scope="module")
def app(tmp_path_factory, pki):
    with web_app(tmp_path_factory.mktemp("documents"), pki) as made:
        yield made


@pytest.fixture(scope="module")
def checked(app, pki):
    """Phú Vang's plan, uploaded on the check page and verified for 2.1: (sha256, verdict
    id)."""
    web = WebClient(app, "phuvang")
    upload = web.post("/check", files={"file": ("ke-hoach.pdf", off_loop(
        plan, PHU_VANG, dt.date(2024, 1, 15), pki), "application/pdf")}, follow_redirects=False)
    assert upload.status_code == 303, upload.text
    sha256 = upload.headers["location"].removeprefix("/check/")
    verified = web.post(f"/check/{sha256}/verify", {
        "criterion": "2.1", "year": "2024", "ruleset": "hue-2024"}, follow_redirects=False)
    assert verified.status_code == 303, verified.text
    return sha256, int(verified.headers["location"].removeprefix("/verdicts/"))


def test_the_check_page_suggests_the_plan_s_criterion(app, checked):
    sha256, _ = checked
    page = WebClient(app, "phuvang").get(f"/check/{sha256}")
    assert page.status_code == 200
    assert 'data-testid="suggestion"' in page.text
    first = re.search(r'name="criterion" value="([^"]+)"( checked)?', page.text)
    assert first and first.group(1) == "2.1" and first.group(2)     # the best, preselected
    assert "Kế hoạch" in page.text and 'name="year" value="2024"' in page.text
    assert 'name="unit"' not in page.text           # a unit's own: not asked


def test_the_verdict_page_links_each_reason_to_the_document(app, checked):
    sha256, verdict_id = checked
    page = WebClient(app, "phuvang").get(f"/verdicts/{verdict_id}")
    assert page.status_code == 200
    assert "2.1" in page.text and "Ban hành kế hoạch chuyển đổi số hằng năm" in page.text
    assert "Đúng loại văn bản" in page.text           # a check's label
    links = re.findall(r'href="(/documents/[^"]+)" data-testid="reason-link"', page.text)
    assert links and all(link.startswith(f"/documents/{sha256}") for link in links)
    assert any("box=" in link and "#page-" in link for link in links)
    assert 'data-testid="override-form"' not in page.text          # a unit does not override


def test_the_document_view_shows_fields_signatures_and_pages(app, checked):
    sha256, _ = checked
    web = WebClient(app, "phuvang")
    page = web.get(f"/documents/{sha256}")
    assert page.status_code == 200
    assert 'id="page-1"' in page.text and 'loading="lazy"' in page.text
    assert f'src="/documents/{sha256}/pages/1.png"' in page.text
    assert "Trích yếu" in page.text and "Chuyển đổi số huyện Phú Vang năm 2024" in page.text
    assert '<rect class="field"' in page.text
    assert 'data-testid="signature"' in page.text and "Hợp lệ" in page.text
    assert "lớp chữ của trang" in page.text                       # where the text came from
    assert 'class="highlight"' not in page.text
    shown = web.get(f"/documents/{sha256}?page=1&box=10,20,110,70")
    assert '<rect class="highlight" x="10.0" y="20.0" width="100.0" height="50.0">' in shown.text
    for garbage in ("page=1&box=a,b,c,d", "page=x&box=1,2,3,4", "page=99&box=1,2,3,4",
                    "page=1&box=1,2,3", "page=1&box=nan,1,2,3", "page=1&box=5,5,1,1",
                    "page=1&box=1e999,0,1,1", "page=-1&box=1,2,3,4"):
        answer = web.get(f"/documents/{sha256}?{garbage}")
        assert answer.status_code == 200 and 'class="highlight"' not in answer.text, garbage
    image = web.get(f"/documents/{sha256}/pages/1.png")
    assert image.status_code == 200 and image.content.startswith(b"\x89PNG")
    assert image.headers["cache-control"] == "private, max-age=3600"
    assert web.get(f"/documents/{sha256}/pages/9.png").status_code == 422    # no such page


def test_a_visible_signature_and_what_changed_after_it(app, pki):
    pdf, spec = attacks.evidence(seed=4)            # a one-page plan of Sở Nội vụ
    person = pki.person("Hoàng Thị Lan", "Sở Nội vụ", "CCCD:046123456789")
    signed = off_loop(sign_pdf, pdf, person, box=(330, 90, 540, 140),
                      signing_time=dt.datetime(2024, 3, 5, 9, 30, tzinfo=attacks.VN_TZ))
    seq, rest = spec.number.split("/", 1)
    forged = off_loop(attacks.change_text, signed, spec.number, f"{int(seq) + 1}/{rest}")
    web = WebClient(app, "phuvang")
    upload = web.post("/check", files={"file": ("sua.pdf", forged, "application/pdf")},
                      follow_redirects=False)
    sha256 = upload.headers["location"].removeprefix("/check/")
    page = web.get(f"/documents/{sha256}")
    assert '<rect class="signature"' in page.text and '<rect class="changed"' in page.text
    assert "Văn bản đã bị sửa sau khi ký" in page.text
    assert "Nội dung văn bản đã bị thay đổi sau chữ ký này" in page.text
    widget = re.search(r'href="(/documents/[^"]+)">Trang 1</a>', page.text).group(1)
    assert "box=" in widget and widget.endswith("#page-1")
    verified = web.post(f"/check/{sha256}/verify", {"criterion": "2.1", "year": "2024"},
                        follow_redirects=False)
    verdict = web.get(verified.headers["location"])
    reason = re.search(r'Có chữ ký số hợp lệ</strong>.*?href="([^"]+)"', verdict.text, re.S)
    assert reason and html.unescape(reason.group(1)) == html.unescape(widget)


def test_a_long_document_shows_its_first_pages(app):
    document = pymupdf.open()
    for number in range(1, FIRST_PAGES + 3):
        document.new_page().insert_text((72, 72), f"Trang số {number} của báo cáo")
    web = WebClient(app, "phuvang")
    upload = web.post("/check", files={"file": ("dai.pdf", document.tobytes(),
                                                "application/pdf")}, follow_redirects=False)
    sha256 = upload.headers["location"].removeprefix("/check/")
    first = web.get(f"/documents/{sha256}")
    assert first.text.count('loading="lazy"') == FIRST_PAGES
    assert 'data-testid="all-pages"' in first.text and 'id="page-21"' not in first.text
    assert web.get(f"/documents/{sha256}?all=1").text.count('loading="lazy"') == FIRST_PAGES + 2
    # A box asked for on a later page shows every page.
    assert 'id="page-22"' in web.get(f"/documents/{sha256}?page=22&box=1,1,50,50").text


def test_uncertain_fields_are_marked(app, checked):
    sha256, _ = checked
    inspection = off_loop(service.inspect_document, app.state.store, sha256, app.state.trust)
    unsure = dataclasses.replace(inspection.fields.subject, confidence=0.4)
    inspection = dataclasses.replace(inspection, fields=dataclasses.replace(
        inspection.fields, subject=unsure))
    rows = field_rows(inspection)
    assert [row["name"] for row in rows if row["low"]] == ["subject"]
    html_text = templates.get_template("document.html").render(
        _=lambda text: text, lang="vi", person=None, csrf_token="", navigation=[],
        current_path="/", sha256=sha256, inspection=inspection, fields=rows,
        signatures=signature_rows(inspection), pages=page_views(inspection, rows, None),
        hidden_pages=0, highlight=None)
    assert html_text.count('class="confidence-low"') == 1 and "không chắc chắn" in html_text


def test_another_unit_finds_nothing(app, checked):
    sha256, verdict_id = checked
    other = WebClient(app, "phongdien")
    for path in (f"/documents/{sha256}", f"/documents/{sha256}/pages/1.png",
                 f"/verdicts/{verdict_id}", f"/check/{sha256}"):
        assert other.get(path).status_code == 404, path
    refused = other.post(f"/check/{sha256}/verify", {"criterion": "2.1", "year": "2024"})
    assert refused.status_code == 404
    assert other.get(f"/documents/{'0' * 64}").status_code == 404
    # Appraisers and auditors see every unit's.
    for user in ("thamdinh", "kiemtra", "quantri"):
        web = WebClient(app, user)
        assert web.get(f"/verdicts/{verdict_id}").status_code == 200
        assert web.get(f"/documents/{sha256}").status_code == 200


def test_only_those_who_judge_may_override(app, checked):
    _, verdict_id = checked
    unit = WebClient(app, "phuvang")
    refused = unit.post(f"/verdicts/{verdict_id}/override",
                        {"status": "pass", "points": "10", "reason": "đủ"})
    assert refused.status_code == 403
    appraiser = WebClient(app, "thamdinh")
    no_token = appraiser.client.post(f"/verdicts/{verdict_id}/override",
                                     data={"status": "pass", "points": "10", "reason": "đủ"})
    assert no_token.status_code == 403 and "CSRF" in no_token.text
    for bad, message in (({"points": "mười"}, "Số điểm phải là một số"),
                         ({"reason": "  "}, "Hãy ghi lý do"),
                         ({"points": "99"}, "không hợp lệ"),
                         ({"status": "great"}, "không hợp lệ")):
        answer = appraiser.post(f"/verdicts/{verdict_id}/override",
                                {"status": "pass", "points": "10", "reason": "đủ", **bad})
        assert answer.status_code == 422 and message in answer.text, bad
    assert app.state.store.verdict_overrides(verdict_id) == []
    done = appraiser.post(f"/verdicts/{verdict_id}/override",
                          {"status": "partial", "points": "7,5", "reason": "Ban hành muộn"},
                          follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"/verdicts/{verdict_id}"
    page = appraiser.get(f"/verdicts/{verdict_id}")
    assert "Ban hành muộn" in page.text and "Đạt một phần" in page.text and "7,5" in page.text


def test_hostile_uploads_get_a_clear_message(app):
    web = WebClient(app, "phuvang")
    for name, data in (("rong.pdf", b""), ("ghi-chu.txt", b"just some text\n"),
                       ("gia.pdf", b"%PDF-1.7 broken")):
        answer = web.post("/check", files={"file": (name, data, "application/pdf")})
        assert 400 <= answer.status_code < 500 and 'data-testid="check-error"' in answer.text, \
            (name, answer.status_code)
        assert "Traceback" not in answer.text
    large = web.post("/check", files={"file": ("lon.pdf", b"%PDF" + b"0" * LIMIT,
                                               "application/pdf")})
    assert large.status_code == 413 and "giới hạn" in large.text
    assert web.post("/check", {}).status_code == 422
    assert web.client.post("/check", files={"file": ("a.pdf", b"x")}).status_code == 403


def test_the_verify_form_refuses_bad_input(app, checked):
    sha256, _ = checked
    web = WebClient(app, "phuvang")
    for form, message in (({"year": "hai nghìn"}, "Năm đánh giá"),
                          ({"year": "99999"}, "Năm đánh giá"),
                          ({"criterion": "9.99"}, "Không kiểm tra được"),
                          ({"criterion": ""}, "Hãy chọn một tiêu chí")):
        answer = web.post(f"/check/{sha256}/verify",
                          {"criterion": "2.1", "year": "2024", **form})
        assert answer.status_code == 422 and message in answer.text, form
    # An appraiser names the unit.
    appraiser = WebClient(app, "thamdinh")
    page = appraiser.get(f"/check/{sha256}?level=huyen")
    assert page.status_code == 200 and f'value="{UNIT}"' in page.text
    assert appraiser.post(f"/check/{sha256}/verify", {
        "criterion": "2.1", "year": "2024", "level": "huyen"}).status_code == 422
    done = appraiser.post(f"/check/{sha256}/verify", {
        "criterion": "2.1", "other_criterion": "2.2", "year": "2024", "level": "huyen",
        "unit": UNIT}, follow_redirects=False)
    assert done.status_code == 303
    verdict = appraiser.get(done.headers["location"])
    assert "Văn bản chỉ đạo chuyển đổi số" in verdict.text      # the other criterion chosen


def test_roles_that_do_not_check(app):
    assert WebClient(app, "kiemtra").get("/check").status_code == 403
    assert WebClient(app, "phuvang").get("/check").status_code == 200


def test_a_unit_checks_a_plan_and_an_appraiser_overrides(web_server, web_page, browser,
                                                         tmp_path):
    path = tmp_path / "ke-hoach-chuyen-doi-so.pdf"
    path.write_bytes(off_loop(plan, PHU_VANG, dt.date(2024, 1, 15), web_server.pki))
    page = web_page
    log_in(page, web_server, "phuvang")
    page.goto(f"{web_server.base_url}/check")
    screenshot(page, "documents-check")
    page.set_input_files("[data-testid=check-file]", str(path))
    page.click("[data-testid=check-upload]")
    page.wait_for_selector("[data-testid=suggestion]", timeout=120_000)
    assert page.locator("input[name=criterion]:checked").get_attribute("value") == "2.1"
    screenshot(page, "documents-suggestions")
    page.click("[data-testid=verify]")
    page.wait_for_selector("[data-testid=reasons]", timeout=120_000)
    assert "2.1" in page.inner_text("[data-testid=verdict-title]")
    screenshot(page, "documents-verdict")
    verdict_url = page.url
    page.locator("[data-testid=reason-link][href*='box=']").first.click()
    page.wait_for_selector("rect.highlight", state="attached")
    page.wait_for_function("() => { const img = document.querySelector('#page-1 img');"
                           " return img && img.complete && img.naturalWidth > 0; }")
    assert "#page-" in page.url
    screenshot(page, "documents-view")
    page.locator("rect.highlight").first.scroll_into_view_if_needed()
    screenshot(page, "documents-view-box", full_page=False)      # what the reader sees
    page.click("[data-testid=logout]")
    log_in(page, web_server, "thamdinh")
    page.goto(verdict_url)
    page.select_option("select[name=status]", "partial")
    page.fill("input[name=points]", "5")
    page.fill("textarea[name=reason]", "Kế hoạch thiếu nội dung bắt buộc")
    page.click("[data-testid=override-submit]")
    page.wait_for_selector("[data-testid=override]")
    assert "Đạt một phần" in page.inner_text("[data-testid=in-force]")
    assert "Kế hoạch thiếu nội dung bắt buộc" in page.inner_text("[data-testid=overrides]")
    screenshot(page, "documents-override")
