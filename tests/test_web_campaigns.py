"""The pages of the assessment rounds: the list, a unit's self-assessment (draft, approval by a
second person, pre-screening verdict), the appraisers' matrix and decision, the exports and
the phase windows; through TestClient (refusals, hostile input) and a real browser (a unit's
path and an appraiser's)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import time

import pytest
from openpyxl import load_workbook

from kiemchung.api import campaigns as flow
from kiemchung.api import service
from kiemchung.api.store import Store, open_store
from kiemchung.api.store import campaigns as db
from kiemchung.api.store.tables import Phase
from kiemchung.api.store.users import get_user
from samples.pki import DemoPKI
from tests.helpers import (
    OTHER_UNIT,
    PHU_VANG,
    UNIT,
    WebClient,
    log_in,
    off_loop,
    plan,
    screenshot,
    web_app,
)

TODAY = flow.today()
OPEN = (TODAY - dt.timedelta(days=1), TODAY + dt.timedelta(days=1))
PAST = (TODAY - dt.timedelta(days=30), TODAY - dt.timedelta(days=10))
PROVINCE = "UBND tỉnh Thừa Thiên Huế"


@pytest.fixture(scope="module")
def pki():
    return DemoPKI.create("campaigns-tests")


@pytest.fixture
def app(tmp_path, pki):
    with web_app(tmp_path, pki) as made:
        yield made


def signed_plan(pki: DemoPKI) -> bytes:
    """Phú Vang's plan of 15/01/2024."""
    return off_loop(plan, PHU_VANG, dt.date(2024, 1, 15), pki)


def set_up_round(store: Store, windows: dict[Phase, tuple[dt.date, dt.date]] | None = None,
                 name: str = "DTI 2024", units: tuple[str, ...] = (UNIT, OTHER_UNIT)) -> int:
    """A hue-2024 round with Phú Vang and Phong Điền, every phase open today unless told."""
    admin = get_user(store, "quantri").key
    row = flow.create_campaign(store, name, "hue-2024", 2024, actor=admin.id)
    for unit in units:
        flow.add_unit(store, row.id, unit, "huyen", PROVINCE, actor=admin.id)
    for phase in Phase:
        db.set_phase(store, row.id, phase, *(windows or {}).get(phase, OPEN), actor=admin.id)
    return row.id


def phu_vang_draft(store: Store, cid: int, data: bytes) -> int:
    key = get_user(store, "phuvang").key
    sha = store.put_document(data, "ke-hoach.pdf", unit=UNIT, uploaded_by=key.id).sha256
    return flow.draft(store, cid, key, "2.1", claimed_points=10, evidence=[sha]).id


# -- TestClient ----------------------------------------------------------------------------------

def test_a_unit_sees_its_rounds_and_its_own_criteria(app, pki):
    cid = set_up_round(app.state.store)
    admin_only = flow.create_campaign(app.state.store, "Sở 2024", "hue-2024", 2024)
    web = WebClient(app, "phuvang")
    listed = web.get("/campaigns")
    assert listed.status_code == 200 and "DTI 2024" in listed.text
    assert "Sở 2024" not in listed.text and "Tạo đợt đánh giá" not in listed.text
    page = web.get(f"/campaigns/{cid}")
    assert page.status_code == 200 and "Ban hành kế hoạch chuyển đổi số hằng năm" in page.text
    assert f"/campaigns/{cid}/criteria/2.1" in page.text
    assert web.get(f"/campaigns/{admin_only.id}").status_code == 404   # not its round
    assert web.get(f"/campaigns/{cid}/phases").status_code == 403
    form = web.get(f"/campaigns/{cid}/criteria/2.1")
    assert form.status_code == 200 and "Lưu bản nháp" in form.text


def test_another_unit_cannot_open_phu_vangs_entries(app, pki):
    store = app.state.store
    cid = set_up_round(store)
    aid = phu_vang_draft(store, cid, signed_plan(pki))
    other = WebClient(app, "phongdien")
    assert other.get(f"/campaigns/{cid}/assessments/{aid}").status_code == 404
    assert other.post(f"/campaigns/{cid}/assessments/{aid}/explain",
                      {"text": "x"}).status_code == 404
    assert other.get(f"/campaigns/{cid}/export.csv").text.count(UNIT) == 0
    phu_vangs = db.get_assessment(store, aid).evidence[0]
    assert other.post(f"/campaigns/{cid}/criteria/2.1",
                      {"claimed_points": "10", "documents": phu_vangs}).status_code == 404
    assert db.find_assessments(store, cid, unit=OTHER_UNIT) == []
    own = WebClient(app, "phuvang")
    assert own.get(f"/campaigns/{cid}/assessments/{aid}").status_code == 200
    assert phu_vangs in own.get(f"/campaigns/{cid}/criteria/2.1").text   # offered again
    # A round Phong Điền is not in: not found, its criteria and its entries alike.
    alone = set_up_round(store, name="Phú Vang 2024", units=(UNIT,))
    alone_aid = phu_vang_draft(store, alone, signed_plan(pki))
    for path in (f"/campaigns/{alone}", f"/campaigns/{alone}/criteria/2.1",
                 f"/campaigns/{alone}/assessments/{alone_aid}",
                 f"/campaigns/{alone}/export.csv"):
        assert other.get(path).status_code == 404, path
    assert other.post(f"/campaigns/{alone}/criteria/2.1",
                      {"claimed_points": "1", "explanation": "x"}).status_code == 404
    assert "Phú Vang 2024" not in other.get("/campaigns").text
    # An auditor has no page of the rounds; an appraiser cannot draft.
    assert WebClient(app, "kiemtra").get("/campaigns").status_code == 403
    assert WebClient(app, "thamdinh").get(f"/campaigns/{cid}/criteria/2.1").status_code == 403


def test_forms_without_csrf_are_refused(app):
    cid = set_up_round(app.state.store)
    web = WebClient(app, "phuvang")
    refused = web.client.post(f"/campaigns/{cid}/criteria/2.1", data={"claimed_points": "5",
                                                                      "explanation": "x"})
    assert refused.status_code == 403 and "CSRF" in refused.text
    assert web.client.post(f"/campaigns/{cid}/approve", data={}).status_code == 403
    assert db.find_assessments(app.state.store, cid) == []


def test_a_draft_outside_the_window_says_why_in_vietnamese(app):
    cid = set_up_round(app.state.store, {Phase.SELF_ASSESSMENT: PAST})
    web = WebClient(app, "phuvang")
    answer = web.post(f"/campaigns/{cid}/criteria/2.1",
                      {"claimed_points": "5", "explanation": "Không có văn bản"})
    assert answer.status_code == 409
    assert "Giai đoạn «Tự đánh giá» diễn ra từ" in answer.text
    assert f"{PAST[1]:%d/%m/%Y}" in answer.text and f"{TODAY:%d/%m/%Y}" in answer.text
    assert "đã kết thúc" in answer.text


def test_bad_points_and_files_get_a_message(app):
    store = app.state.store
    cid = set_up_round(store)
    web = WebClient(app, "phuvang")
    path = f"/campaigns/{cid}/criteria/2.1"
    for value, says in (("mười", "không phải là một số"), ("12", "từ 0 đến 10"),
                        ("-1", "từ 0 đến 10")):
        answer = web.post(path, {"claimed_points": value, "explanation": "x"})
        assert answer.status_code == 422 and says in answer.text, value
    empty = web.post(path, {"claimed_points": "5"})
    assert empty.status_code == 422 and "Không có tệp minh chứng" in empty.text
    text_file = web.post(path, {"claimed_points": "5"},
                         files={"files": ("ghi-chu.txt", b"khong phai PDF", "text/plain")})
    assert text_file.status_code == 422 and "Tệp không đọc được" in text_file.text
    assert web.get(f"/campaigns/{cid}/criteria/9.9").status_code == 404
    assert db.find_assessments(store, cid) == []
    saved = web.post(path, {"claimed_points": "7,5", "explanation": "Chưa có văn bản"},
                     follow_redirects=False)
    assert saved.status_code == 303
    [row] = db.find_assessments(store, cid)
    assert row.claimed_points == 7.5 and row.state == "draft"
    # The person who drafted cannot approve it.
    refused = web.post(f"/campaigns/{cid}/approve", {"criteria": "2.1"})
    assert refused.status_code == 409 and "người khác" in refused.text


def test_the_matrix_exports_and_phases_for_the_host(app, pki):
    store = app.state.store
    cid = set_up_round(store)
    phu_vang_draft(store, cid, signed_plan(pki))
    admin = WebClient(app, "quantri")
    matrix = admin.get(f"/campaigns/{cid}")
    assert matrix.status_code == 200 and 'class="cell-none"' in matrix.text
    assert OTHER_UNIT in matrix.text
    only = admin.get(f"/campaigns/{cid}?unit={UNIT}")
    assert OTHER_UNIT not in only.text.split('data-testid="matrix"')[1]
    exported = admin.get(f"/campaigns/{cid}/export.csv")
    rows = list(csv.reader(io.StringIO(exported.content.decode("utf-8-sig"))))
    assert rows[0][:4] == ["Đơn vị", "Cấp", "Đơn vị thẩm định", "Tiêu chí"]
    assert len(rows) == 1 + 2 * 53 and {r[5] for r in rows[1:]} == {"Chưa nộp"}
    book = load_workbook(io.BytesIO(admin.get(f"/campaigns/{cid}/export.xlsx").content))
    assert book.active.max_row == 1 + 2 * 53
    phases = admin.get(f"/campaigns/{cid}/phases")
    assert phases.status_code == 200 and f"{OPEN[0]:%d/%m/%Y}" in phases.text
    bad = admin.post(f"/campaigns/{cid}/phases", {"appraisal_opens": "2024-12-31",
                                                  "appraisal_closes": "2024-12-01"})
    assert bad.status_code == 422 and "kết thúc trước" in bad.text
    done = admin.post(f"/campaigns/{cid}/phases", {"appraisal_opens": "2024-12-01",
                                                   "appraisal_closes": "2024-12-31"},
                      follow_redirects=False)
    assert done.status_code == 303
    window = db.campaign_phases(store, cid)[Phase.APPRAISAL]
    assert (window.opens_on, window.closes_on) == (dt.date(2024, 12, 1), dt.date(2024, 12, 31))
    # The host creates a round and adds a unit from the list page.
    created = admin.post("/campaigns", {"name": "DTI 2025", "ruleset": "hue-2024",
                                        "year": "2025"}, follow_redirects=False)
    assert created.status_code == 303
    new_id = int(created.headers["location"].rsplit("/", 1)[1])
    added = admin.post("/campaigns/units", {"campaign": str(new_id), "unit": "UBND xã Phú An",
                                            "level": "xa", "parent": UNIT},
                       follow_redirects=False)
    assert added.status_code == 303
    assert [u.unit for u in db.campaign_units(store, new_id)] == ["UBND xã Phú An"]
    again = admin.post("/campaigns/units", {"campaign": str(new_id), "unit": "UBND xã Phú An",
                                            "level": "xa"})
    assert again.status_code == 422 and "Đơn vị đã có" in again.text
    wrong = admin.post("/campaigns", {"name": "X", "ruleset": "no-such", "year": "2025"})
    assert wrong.status_code == 422 and "Không có bộ tiêu chí" in wrong.text


# -- the browser ---------------------------------------------------------------------------------

def open_verdict_row(page, criterion: str, seconds: float = 90) -> None:
    """Reload the self-assessment until the criterion's pre-screening verdict shows."""
    cell = page.locator(f"[data-testid='verdict-{criterion}']")
    deadline = time.monotonic() + seconds
    while not cell.locator("a[href^='/verdicts/']").count():
        assert time.monotonic() < deadline, "no pre-screening verdict in time"
        time.sleep(1)
        page.reload()


def test_a_unit_drafts_and_a_second_person_approves(web_server, web_page, tmp_path):
    with open_store(web_server.settings) as store:
        cid = set_up_round(store)
    page = web_page
    log_in(page, web_server, "phuvang")
    page.click("nav a[href='/campaigns']")
    page.wait_for_selector("[data-testid=campaigns]")
    screenshot(page, "campaigns-list")
    page.click(f"a[href='/campaigns/{cid}']")
    page.click(f"a[href='/campaigns/{cid}/criteria/2.1']")
    page.fill("input[name=claimed_points]", "10")
    pdf = tmp_path / "ke-hoach-cds-2024.pdf"
    pdf.write_bytes(signed_plan(web_server.pki))
    page.set_input_files("input[name=files]", str(pdf))
    screenshot(page, "campaigns-draft")
    page.click("[data-testid=save-draft]")
    page.wait_for_selector("[data-testid=approve-form]")
    assert "ke-hoach-cds-2024.pdf" in page.inner_text("tr[data-criterion='2.1']")
    page.click("[data-testid=logout]")
    log_in(page, web_server, "phuvang2")
    page.goto(f"{web_server.base_url}/campaigns/{cid}")
    page.check("input[name=criteria][value='2.1']")
    page.click("[data-testid=approve]")
    page.wait_for_selector("[data-testid=self-assessment]")
    row = page.locator("tr[data-criterion='2.1']")
    assert "Đã nộp" in row.inner_text() and "phuvang2" in row.inner_text()
    open_verdict_row(page, "2.1")
    assert "Đạt" in row.inner_text()
    screenshot(page, "campaigns-self-assessment")


def test_an_appraiser_changes_a_cell_with_a_reason(web_server, web_page):
    with open_store(web_server.settings) as store:
        cid = set_up_round(store, name="DTI 2024 (thẩm định)")
        aid = phu_vang_draft(store, cid, signed_plan(web_server.pki))
        approval = flow.approve(store, web_server.settings, cid,
                                get_user(store, "phuvang2").key, ["2.1"],
                                trust=service.load_trust_roots(web_server.settings))
        deadline = time.monotonic() + 90
        while not store.batch_progress(approval.batch_id).finished:
            assert time.monotonic() < deadline, "the pre-screening did not finish"
            time.sleep(0.3)
    page = web_page
    log_in(page, web_server, "thamdinh")
    page.goto(f"{web_server.base_url}/campaigns/{cid}")
    cell = page.locator(f"tr[data-unit='{UNIT}'] td[data-criterion='2.1']")
    assert cell.get_attribute("class") == "cell-pass"
    assert "10 / 10" in cell.inner_text()
    screenshot(page, "campaigns-matrix")
    cell.locator("a").click()
    page.wait_for_selector("[data-testid=appraise-form]")
    assert page.locator("[data-testid=verdict-link]").count() == 1
    page.check("input[name=action][value=change]")
    page.select_option("select[name=status]", "partial")
    page.fill("input[name=points]", "5")
    page.click("[data-testid=appraise]")                     # no reason: refused inline
    page.wait_for_selector("[data-testid=form-error]")
    assert "phải nêu lý do" in page.inner_text("[data-testid=form-error]")
    page.fill("textarea[name=reason]", "Kế hoạch ban hành muộn so với hồ sơ gốc")
    page.fill("textarea[name=remark]", "Đề nghị bổ sung văn bản gốc")
    page.click("[data-testid=appraise]")
    page.wait_for_selector("[data-testid=decisions] .decision")
    decisions = page.inner_text("[data-testid=decisions]")
    assert "Thay đổi" in decisions and "Kế hoạch ban hành muộn" in decisions
    assert "Đạt một phần" in page.inner_text("[data-testid=outcome]")
    screenshot(page, "campaigns-assessment")
    page.goto(f"{web_server.base_url}/campaigns/{cid}")
    cell = page.locator(f"tr[data-unit='{UNIT}'] td[data-criterion='2.1']")
    assert cell.get_attribute("class") == "cell-partial"
    page.click("[data-testid=logout]")
    log_in(page, web_server, "quantri")
    page.goto(f"{web_server.base_url}/campaigns/{cid}/phases")
    page.fill("input[name=publication_opens]", "2024-12-01")
    page.fill("input[name=publication_closes]", "2024-12-31")
    page.click("[data-testid=save-phases]")
    page.wait_for_selector("tr[data-phase=publication]")
    assert "01/12/2024 – 31/12/2024" in page.inner_text("tr[data-phase=publication]")
    screenshot(page, "campaigns-phases")
    with open_store(web_server.settings) as store:
        assert db.appraisals_of(store, [aid])[aid][-1].remark == "Đề nghị bổ sung văn bản gốc"


def test_a_unit_explains_and_a_limited_appraiser_sees_its_criteria_only(app, pki):
    store = app.state.store
    cid = set_up_round(store)
    aid = phu_vang_draft(store, cid, signed_plan(pki))
    approval = flow.approve(store, app.state.settings, cid, get_user(store, "phuvang2").key,
                            trust=app.state.trust)
    deadline = time.monotonic() + 90
    while not store.batch_progress(approval.batch_id).finished:
        assert time.monotonic() < deadline, "the pre-screening did not finish"
        time.sleep(0.3)
    appraiser = WebClient(app, "thamdinh")
    decided = appraiser.post(f"/campaigns/{cid}/assessments/{aid}/appraise",
                             {"round": "1", "action": "confirm",
                              "remark": "Đề nghị nộp bản gốc"}, follow_redirects=False)
    assert decided.status_code == 303
    unit = WebClient(app, "phuvang")
    page = unit.get(f"/campaigns/{cid}")
    assert "Đề nghị nộp bản gốc" in page.text and "Gửi giải trình" in page.text
    empty = unit.post(f"/campaigns/{cid}/assessments/{aid}/explain", {"text": " "})
    assert empty.status_code == 422 and "Giải trình cần nội dung" in empty.text
    sent = unit.post(f"/campaigns/{cid}/assessments/{aid}/explain",
                     {"text": "Bản gốc đã ký số ngày 15/01/2024"}, follow_redirects=False)
    assert sent.status_code == 303
    detail = appraiser.get(f"/campaigns/{cid}/assessments/{aid}")
    assert "Bản gốc đã ký số ngày 15/01/2024" in detail.text and "Xác nhận" in detail.text
    # An appraiser limited to index 1 has no column 2.1 and cannot open or decide it.
    thamdinh = get_user(store, "thamdinh").key
    db.set_appraiser(store, cid, thamdinh.id, ["1."])
    matrix = appraiser.get(f"/campaigns/{cid}")
    assert 'data-criterion="1.1"' in matrix.text and 'data-criterion="2.1"' not in matrix.text
    assert appraiser.get(f"/campaigns/{cid}/assessments/{aid}").status_code == 403
    assert appraiser.post(f"/campaigns/{cid}/assessments/{aid}/appraise",
                          {"round": "2", "action": "confirm"}).status_code == 403
