"""The lists of verdicts (filters, saved views, exports) and batch uploads with their live
progress: unit scoping, CSRF, hostile ZIPs, spreadsheet injection, and an appraiser's whole
path in a real browser."""

from __future__ import annotations

import csv
import datetime as dt
import html
import io
import re
import time
import zipfile

import pytest
from openpyxl import load_workbook

from kiemchung.api.store import open_store
from kiemchung.models.verdicts import Verdict
from samples.pki import DemoPKI
from tests.helpers import (
    OTHER_UNIT,
    PHONG_DIEN,
    PHU_VANG,
    UNIT,
    YEAR,
    WebClient,
    log_in,
    off_loop,
    plan,
    screenshot,
    web_app,
)


def plans_zip(pki) -> bytes:
    """Phú Vang's plan issued in January (passes), Phong Điền's in March (half the points)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(f"{UNIT}/2.1/kế hoạch.pdf", plan(PHU_VANG, dt.date(2024, 1, 15), pki))
        archive.writestr(f"{OTHER_UNIT}/2.1/kh.pdf", plan(PHONG_DIEN, dt.date(2024, 3, 20), pki))
    return buffer.getvalue()


def upload(web: WebClient, data: bytes, **fields):
    return web.post("/batches", data={"ruleset": "hue-2024", "year": str(YEAR), **fields},
                    files={"file": ("lo.zip", data, "application/zip")}, follow_redirects=False)


def wait_until_done(web: WebClient, batch_id: str, seconds: float = 180) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        answer = web.get(f"/batches/{batch_id}/progress")
        if answer.status_code == 286:
            return answer.text
        assert answer.status_code == 200, answer.text
        time.sleep(0.5)
    raise AssertionError(f"batch {batch_id} did not finish")


@pytest.fixture(scope="module")
def pki():
    return DemoPKI.create("lists-tests")


@pytest.fixture(scope="module")
def app(tmp_path_factory, pki):
    with web_app(tmp_path_factory.mktemp("lists"), pki) as made:
        yield made


@pytest.fixture(scope="module")
def batch_id(app, pki) -> str:
    """A batch of both units' plans, submitted by the appraiser through the page, finished."""
    web = WebClient(app, "thamdinh")
    answer = upload(web, plans_zip(pki))
    assert answer.status_code == 303, answer.text
    batch_id = answer.headers["location"].rsplit("/", 1)[1]
    done = wait_until_done(web, batch_id)
    assert "Lô đã xử lý xong" in done and f"/verdicts?batch={batch_id}" in done
    return batch_id


def csv_rows(answer) -> list[dict]:
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(answer.content.decode("utf-8-sig"))))


def test_the_appraiser_sees_every_unit_and_a_unit_only_its_own(app, batch_id):
    appraiser, other = WebClient(app, "thamdinh"), WebClient(app, "phongdien")
    listed = appraiser.get(f"/verdicts?batch={batch_id}")
    assert listed.status_code == 200 and UNIT in listed.text and OTHER_UNIT in listed.text
    # 100 a page, then "trang sau" for the rest of the batch's verdicts.
    total = app.state.store.batch_progress(batch_id).total
    assert total > 100 and listed.text.count("data-verdict=") == 100
    next_page = re.search(r'href="([^"]+)" data-testid="next-page"', listed.text).group(1)
    rest = appraiser.get(html.unescape(next_page))
    assert rest.text.count("data-verdict=") == total - 100
    assert 'data-testid="next-page"' not in rest.text
    # Without JavaScript the batch's page shows where it stands, and polls no more once done.
    shown = appraiser.get(f"/batches/{batch_id}")
    assert f'value="{total}" max="{total}"' in shown.text and "hx-get" not in shown.text
    passed = appraiser.get(f"/verdicts?batch={batch_id}&status=pass&criterion=2.1")
    assert UNIT in passed.text and OTHER_UNIT not in passed.text
    rows = csv_rows(appraiser.get(f"/verdicts/export.csv?batch={batch_id}&criterion=2.1"))
    assert {(r["Đơn vị"], r["Trạng thái"]) for r in rows} == {(UNIT, "Đạt"),
                                                              (OTHER_UNIT, "Đạt một phần")}
    assert all(r["Ngày tạo"].count("/") == 2 for r in rows)            # dd/mm/yyyy
    book = load_workbook(io.BytesIO(appraiser.get(
        f"/verdicts/export.xlsx?batch={batch_id}&criterion=2.1").content))
    assert next(book.active.iter_rows(values_only=True))[1] == "Đơn vị"

    own = other.get("/verdicts")
    assert own.status_code == 200 and OTHER_UNIT in own.text and UNIT not in own.text
    assert 'data-testid="no-verdicts"' in other.get(f"/verdicts?unit={UNIT}").text
    assert {r["Đơn vị"] for r in csv_rows(other.get(f"/verdicts/export.csv?unit={UNIT}"))} \
        == set()
    assert {r["Đơn vị"] for r in csv_rows(other.get("/verdicts/export.csv"))} == {OTHER_UNIT}
    for path in ("", "/progress", "/report.csv", "/report.xlsx"):
        assert other.get(f"/batches/{batch_id}{path}").status_code == 404
    report = appraiser.get(f"/batches/{batch_id}/report.csv")
    assert report.status_code == 200 and UNIT in report.content.decode("utf-8-sig")


def test_saved_views_belong_to_their_owner(app):
    appraiser, auditor = WebClient(app, "thamdinh"), WebClient(app, "kiemtra")
    saved = appraiser.post("/verdicts/views", data={"name": "Đạt 2.1", "status": "pass",
                                                    "criterion": "2.1"}, follow_redirects=False)
    assert saved.status_code == 303 and "status=pass" in saved.headers["location"]
    page = appraiser.get("/verdicts")
    assert "Đạt 2.1" in page.text and "/verdicts?status=pass&amp;criterion=2.1" in page.text
    view_id = re.search(r"/verdicts/views/(\d+)/delete", page.text).group(1)
    assert "Đạt 2.1" not in auditor.get("/verdicts").text
    assert auditor.post(f"/verdicts/views/{view_id}/delete").status_code == 404
    assert "Đạt 2.1" in appraiser.get("/verdicts").text
    assert appraiser.post(f"/verdicts/views/{view_id}/delete",
                          follow_redirects=False).status_code == 303
    assert "Đạt 2.1" not in appraiser.get("/verdicts").text


def test_forms_without_the_csrf_token_are_refused(app, pki):
    web = WebClient(app, "thamdinh")
    assert web.client.post("/verdicts/views", data={"name": "x"}).status_code == 403
    refused = web.client.post("/batches", data={"year": str(YEAR)},
                              files={"file": ("lo.zip", b"PK", "application/zip")})
    assert refused.status_code == 403 and "CSRF" in refused.text


def test_hostile_uploads_are_refused_on_the_form(app, pki):
    appraiser = WebClient(app, "thamdinh")
    broken = upload(appraiser, b"PK\x03\x04 not really a zip")
    assert broken.status_code == 400 and "Không đọc được tệp ZIP" in broken.text
    assert 'data-testid="batch-form"' in broken.text
    no_year = upload(appraiser, plans_zip(pki), year="năm ngoái")
    assert no_year.status_code == 422 and "Năm đánh giá không hợp lệ" in no_year.text
    # A unit's person may not send another unit's folder.
    other = upload(WebClient(app, "phongdien"), plans_zip(pki))
    assert other.status_code == 403 and "đơn vị khác" in other.text
    too_large = upload(appraiser, b"PK" + b"\0" * app.state.settings.max_upload_bytes)
    assert too_large.status_code == 413 and "quá lớn" in too_large.text
    assert WebClient(app, "kiemtra").get("/batches/new").status_code == 403


def test_an_entry_of_an_unknown_criterion_is_a_failed_item_with_its_reason(app, pki):
    """As the API takes a ZIP: the entry is refused, the rest of the batch goes on."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{OTHER_UNIT}/9.99/kh.pdf", b"%PDF-1.7 never read")
    web = WebClient(app, "phongdien")
    answer = upload(web, buffer.getvalue())
    assert answer.status_code == 303, answer.text
    shown = web.get(answer.headers["location"])
    assert shown.status_code == 200 and 'data-testid="batch-failed"' in shown.text
    assert "no criterion &#39;9.99&#39;" in shown.text


def test_a_cell_that_looks_like_a_formula_is_exported_as_text(app):
    with open_store(app.state.settings) as store:
        row = store.save_verdict(Verdict(criterion="2.1", level="district",
                                         unit='=HYPERLINK("http://evil.example","x")',
                                         year=YEAR, points=0, max_points=10), [])
    web = WebClient(app, "thamdinh")
    rows = csv_rows(web.get("/verdicts/export.csv?criterion=2.1"))
    cells = {r["Mã kết quả"]: r["Đơn vị"] for r in rows}
    assert cells[str(row.id)] == "'=HYPERLINK(\"http://evil.example\",\"x\")"
    book = load_workbook(io.BytesIO(web.get("/verdicts/export.xlsx?criterion=2.1").content))
    units = [r[1] for r in book.active.iter_rows(min_row=2, values_only=True)]
    assert all(not str(unit).startswith("=") for unit in units)


def test_an_appraiser_uploads_a_batch_watches_it_and_keeps_a_view(web_server, web_page,
                                                                   tmp_path):
    archive = tmp_path / "lo-ho-so.zip"
    # Signing runs its own asyncio loop, and Playwright's runs in this thread already.
    archive.write_bytes(off_loop(plans_zip, web_server.pki))
    page = web_page
    log_in(page, web_server, "thamdinh")
    page.click("nav >> text=Tải lô hồ sơ")
    page.set_input_files("input[name=file]", str(archive))
    page.fill("input[name=year]", str(YEAR))
    screenshot(page, "lists-batch-new")
    page.click("[data-testid=batch-form] button[type=submit]")
    page.wait_for_url("**/batches/*")
    page.wait_for_selector("[data-testid=batch-bar]")
    screenshot(page, "lists-batch-progress")
    # The bar fills while htmx polls the fragment; bounded by the wait's timeout.
    page.wait_for_function("""() => {
        const bar = document.querySelector('[data-testid=batch-bar]');
        return bar && bar.max > 0 && bar.value === bar.max;
    }""", timeout=180_000)
    page.wait_for_selector("[data-testid=batch-done]")
    screenshot(page, "lists-batch-done")

    page.click("[data-testid=batch-verdicts]")
    page.wait_for_selector("[data-testid=verdicts]")
    assert UNIT in page.inner_text("[data-testid=verdicts]")
    page.select_option("select[name=status]", "pass")
    page.click("[data-testid=apply-filters]")
    page.wait_for_url("**status=pass**")
    table = page.inner_text("[data-testid=verdicts]")
    assert UNIT in table and OTHER_UNIT not in table
    screenshot(page, "lists-verdicts")
    page.fill("[data-testid=save-view] input[name=name]", "Lô vừa nộp: đạt")
    page.click("[data-testid=save-view] button[type=submit]")
    page.wait_for_selector("[data-testid=saved-views]")

    page.click("text=Bỏ lọc")
    page.wait_for_url(f"{web_server.base_url}/verdicts")
    page.click("[data-testid=saved-views] >> text=Lô vừa nộp: đạt")
    page.wait_for_url("**status=pass**")
    assert page.input_value("select[name=status]") == "pass"
    assert OTHER_UNIT not in page.inner_text("[data-testid=verdicts]")
    screenshot(page, "lists-saved-view")

    with page.expect_download() as download:
        page.click("[data-testid=export-csv]")
    text = download.value.path().read_bytes().decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows and {r["Trạng thái"] for r in rows} == {"Đạt"}
    assert (UNIT, "2.1") in {(r["Đơn vị"], r["Tiêu chí"]) for r in rows}
