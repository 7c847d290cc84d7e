"""Batches on the embedded default: records of inspections, the cache, ZIP input with hostile
entries, the local worker pool (also when a worker is killed mid-item), reports, the webhook and
`kiemchung batch`. Real generated files, a real SQLite store in a temporary data dir."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import os
import signal
import threading
import zipfile
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from sqlalchemy import func, select

from kiemchung.api.jobs.batch_input import ZipLimits, batch_from_path, batch_from_zip, entry_name
from kiemchung.api.jobs.batches import submit_batch
from kiemchung.api.jobs.pool import run_local
from kiemchung.api.jobs.queue import BatchError, process_item
from kiemchung.api.jobs.webhooks import (
    SIGNATURE_HEADER,
    WebhookRefused,
    check_webhook_url,
    send_webhook,
)
from kiemchung.api.service import batch_report, batch_report_rows, inspect_document
from kiemchung.api.store import NewBatchItem, open_store
from kiemchung.api.store.tables import BatchStatus, InspectionRow, ItemState, VerdictRow
from kiemchung.extractors.pipeline import inspect_bytes
from kiemchung.extractors.signatures import TrustStore
from kiemchung.models.records import inspection_from_record, inspection_to_record
from kiemchung.verifier.reports import csv_bytes, xlsx_bytes
from kiemchung.verifier.ruleset import load_ruleset
from kiemchung.verifier.settings import Settings
from samples.attacks import change_text
from samples.pki import DemoPKI
from tests.helpers import (
    PHONG_DIEN,
    PHU_VANG,
    XA,
    YEAR,
    hold_document,
    kiemchung,
    plan,
    scanned_notice,
)


@pytest.fixture(scope="module")
def pki():
    return DemoPKI.create("batch-tests")


@pytest.fixture(scope="module")
def trust(pki):
    return TrustStore(roots=(pki.root.cert,), intermediates=(pki.intermediate.cert,))


@pytest.fixture(scope="module")
def ruleset():
    return load_ruleset("hue-2024")


@pytest.fixture(scope="module")
def plans(pki):
    """Phú Vang's plan issued in January (full points), Phong Điền's in March (half)."""
    return {"january": plan(PHU_VANG, dt.date(2024, 1, 15), pki),
            "march": plan(PHONG_DIEN, dt.date(2024, 3, 20), pki)}


@pytest.fixture(scope="module")
def scan() -> bytes:
    return scanned_notice()


@pytest.fixture
def settings(tmp_path, pki):
    trust_dir = tmp_path / "trust"
    pki.write_trust_dir(trust_dir)
    return Settings(data_dir=tmp_path / "data", trust_roots=[trust_dir], broker_url=None,
                    webhook_secret="s3cret", webhook_hosts=["127.0.0.1"], webhook_retry_pause=0,
                    item_soft_time_limit=120, item_time_limit=180)


@pytest.fixture
def store(settings):
    with open_store(settings) as opened:
        yield opened


def verdicts_of(store, batch_id) -> dict[tuple[str, str], dict]:
    found = {}
    for item in store.batch_items(batch_id):
        if item.state == ItemState.DONE:
            found[(item.unit, item.criterion)] = store.get_verdict(item.verdict_id).verdict
    return found


# -- records and the cache -------------------------------------------------------------------

def test_records_give_back_the_same_inspection(plans, scan, trust):
    signed = inspect_bytes(plans["january"], "kh.pdf", trust=trust)
    altered = inspect_bytes(change_text(plans["january"], signed.fields.value("number"),
                                        "99/KH-UBND"), "kh-sua.pdf", trust=trust)
    scanned = inspect_bytes(scan, "tb-scan.pdf", trust=trust)
    assert signed.signatures[0].status == "valid"
    assert altered.signatures[0].changes.changed_words                   # what was changed
    assert scanned.text.text_source == "ocr" and scanned.has_seal
    for inspection in (signed, altered, scanned):
        record = json.loads(json.dumps(inspection_to_record(inspection), ensure_ascii=False))
        assert inspection_from_record(record) == inspection, inspection.file


def test_the_same_bytes_are_read_once(store, plans, trust):
    row = store.put_document(plans["january"], "kế hoạch.pdf", unit=PHU_VANG.unit_name)
    first = inspect_document(store, row.sha256, trust, name="kế hoạch.pdf")
    # The stored file is gone: only the cache can answer now.
    store.document_path(row.sha256).unlink()
    again = inspect_document(store, row.sha256, trust, name="kế hoạch.pdf")
    assert again == first and again.signatures[0].status == "valid"
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(InspectionRow)) == 1
    # Other trust anchors decide `trusted` differently: not the same cache entry.
    with pytest.raises(FileNotFoundError):
        inspect_document(store, row.sha256, TrustStore(), name="kế hoạch.pdf")


def test_a_scan_read_for_its_fields_is_cached_apart_from_its_whole_reading(store, scan, trust):
    sha = store.put_document(scan, "tb-scan.pdf", unit=XA).sha256
    part = inspect_document(store, sha, trust)
    assert part.text.partial                  # header band and signer area only
    whole = inspect_document(store, sha, trust, whole_text=True)
    assert not whole.text.partial and len(whole.text.pages[0].lines) > len(part.text.pages[0].lines)
    store.document_path(sha).unlink()
    # Both are cached now; the whole reading serves a request for the fields as well.
    assert inspect_document(store, sha, trust) == whole
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(InspectionRow)) == 2


# -- a batch of good files on the local pool, with its webhook and report ---------------------

class Receiver(BaseHTTPRequestHandler):
    """Answers 500 to the first POST, then 200; keeps what it was sent."""

    received: list[tuple[dict, bytes]] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append((dict(self.headers), body))
        self.send_response(500 if len(type(self).received) == 1 else 200)
        self.end_headers()

    def log_message(self, *_args):
        pass


@pytest.fixture
def receiver():
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", Receiver.received
    server.shutdown()
    server.server_close()


def test_a_batch_of_good_files_gives_the_expected_verdicts(tmp_path, settings, store, plans,
                                                           ruleset, receiver):
    url, received = receiver
    units = tmp_path / "units"
    for agency, data in ((PHU_VANG, plans["january"]), (PHONG_DIEN, plans["march"])):
        path = units / agency.unit_name / "2.1" / "kế hoạch.pdf"
        path.parent.mkdir(parents=True)
        path.write_bytes(data)
    found = batch_from_path(store, units, ruleset)
    assert not found.refused and len(found.files) == 2
    batch_id = submit_batch(store, created_by=None, ruleset_id="hue-2024", year=YEAR,
                            items=found.items(ruleset), webhook_url=url,
                            webhook_hosts=settings.webhook_hosts)
    seen = []
    final = run_local(settings, batch_id, workers=2, progress=seen.append)
    assert final.finished and final.counts[ItemState.FAILED] == 0
    assert store.get_batch(batch_id).status == BatchStatus.DONE
    assert any(p.counts[ItemState.DONE] < p.total for p in seen)      # progress was visible

    verdicts = verdicts_of(store, batch_id)
    assert (verdicts[(PHU_VANG.unit_name, "2.1")]["status"],
            verdicts[(PHU_VANG.unit_name, "2.1")]["points"]) == ("pass", 10)
    assert (verdicts[(PHONG_DIEN.unit_name, "2.1")]["status"],
            verdicts[(PHONG_DIEN.unit_name, "2.1")]["points"]) == ("partial", 5)
    assert verdicts[(PHU_VANG.unit_name, "1.1")]["summary"] == "no evidence file"

    report = csv_bytes(*batch_report(store, batch_id)).decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(report)))
    plan_rows = {r["unit"]: r for r in rows if r["criterion"] == "2.1"}
    assert plan_rows[PHU_VANG.unit_name]["files"] == "kế hoạch.pdf"
    assert plan_rows[PHU_VANG.unit_name]["rank"] == "1"
    assert "issued_in_month" in plan_rows[PHONG_DIEN.unit_name]["failed_checks"]
    from openpyxl import load_workbook
    book = load_workbook(io.BytesIO(xlsx_bytes(*batch_report(store, batch_id))))
    assert [r[0] for r in book["units"].iter_rows(min_row=2, values_only=True)] == \
        [PHU_VANG.unit_name, PHONG_DIEN.unit_name]

    # The webhook: the first try answered 500, the second got the signed summary.
    assert len(received) == 2
    headers, body = received[-1]
    expected = "sha256=" + hmac.new(b"s3cret", body, hashlib.sha256).hexdigest()
    assert headers[SIGNATURE_HEADER] == expected
    summary = json.loads(body)
    assert (summary["batch_id"], summary["event"]) == (batch_id, "batch.finished")
    assert summary["verdicts"]["pass"] == 1 and summary["verdicts"]["partial"] == 1


@pytest.mark.parametrize("url, hosts, refusal", [
    ("http://127.0.0.1:8080/hook", (), "private or local address (127.0.0.1)"),
    ("http://localhost/hook", (), "private or local address"),
    ("https://10.1.2.3/hook", (), "private or local address (10.1.2.3)"),
    ("http://169.254.169.254/latest/meta-data", (), "private or local address"),
    ("http://[::1]/hook", (), "private or local address (::1)"),
    ("https://portal.invalid/hook", (), "cannot be resolved"),
    ("https://evil.example/hook", ("dti.hue.gov.vn",), "not one this server calls"),
    ("ftp://dti.hue.gov.vn/hook", ("dti.hue.gov.vn",), "http:// or https://"),
    ("http://127.0.0.1:8080/hook", ("127.0.0.1",), None),
    ("https://DTI.hue.gov.vn/hook", ("dti.hue.gov.vn",), None)])
def test_webhooks_reach_only_the_hosts_allowed(url, hosts, refusal):
    if refusal is None:
        check_webhook_url(url, hosts)
        return
    with pytest.raises(WebhookRefused) as refused:
        check_webhook_url(url, hosts)
    assert refusal in refused.value.message


def test_a_batch_with_an_internal_webhook_is_refused(store):
    with pytest.raises(BatchError, match="private or local address"):
        submit_batch(store, created_by=None, ruleset_id="hue-2024", year=YEAR,
                     items=[NewBatchItem(XA, "xa", "1.1", ())],
                     webhook_url="http://127.0.0.1:6379/")


def test_a_webhook_that_cannot_be_delivered_is_only_logged(caplog):
    pauses = []
    assert send_webhook("http://127.0.0.1:9/nowhere", {"event": "x"}, "k", attempts=2,
                        sleep=pauses.append) is False
    assert "not delivered" in caplog.text
    assert pauses == []                         # refused, not failed: never tried again


def test_a_failed_try_is_tried_again_after_a_pause_doubled_each_time(receiver, caplog):
    url, received = receiver                    # answers 500 once, then 200
    pauses = []
    assert send_webhook(url, {"event": "x"}, "k", allowed_hosts=["127.0.0.1"],
                        sleep=pauses.append) is True
    assert len(received) == 2 and pauses == [1.0]
    # Nothing listens on port 9: every try fails, with the pause doubled before the next.
    pauses.clear()
    assert send_webhook("http://127.0.0.1:9/hook", {"event": "x"}, "k", attempts=4,
                        allowed_hosts=["127.0.0.1"], pause=0.25, sleep=pauses.append) is False
    assert pauses == [0.25, 0.5, 1.0] and "not delivered after 4 tries" in caplog.text


# -- ZIP input -------------------------------------------------------------------------------

def bomb_entry(archive: zipfile.ZipFile, name: str, size: int) -> None:
    archive.writestr(zipfile.ZipInfo(name), b"\0" * size, compress_type=zipfile.ZIP_DEFLATED)


def test_a_zip_with_hostile_entries_verifies_the_good_ones_and_reports_the_rest(
        settings, store, plans, ruleset):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        top = "nop-2024"        # the archive of a folder: the folder is stripped
        archive.writestr(f"{top}/{PHU_VANG.unit_name}/2.1/kế hoạch.pdf", plans["january"])
        # Typed on a Mac (NFD): the same unit once normalised.
        import unicodedata
        archive.writestr(unicodedata.normalize("NFD", f"{top}/{PHONG_DIEN.unit_name}/2.1/kh.pdf"),
                         plans["march"])
        archive.writestr(f"{top}/../evil.pdf", plans["january"])
        archive.writestr("/etc/evil.pdf", plans["january"])
        bomb_entry(archive, f"{top}/{PHU_VANG.unit_name}/1.2/bom.pdf", 5 * 1024 * 1024)
        archive.writestr(f"{top}/{PHU_VANG.unit_name}/1.2/ghi-chu.docx", b"not evidence")
        archive.writestr(f"{top}/{PHU_VANG.unit_name}/9.99/kh.pdf", plans["january"])
        archive.writestr(f"{top}/__MACOSX/._kh.pdf", b"resource fork")
    found = batch_from_zip(store, buffer.getvalue(), ruleset)
    reasons = {r.name: r.reason for r in found.refused}
    assert "zip slip" in reasons["nop-2024/../evil.pdf"]
    assert "absolute" in reasons["/etc/evil.pdf"]
    assert "zip bomb" in reasons[f"nop-2024/{PHU_VANG.unit_name}/1.2/bom.pdf"]
    assert "not a PDF" in reasons[f"nop-2024/{PHU_VANG.unit_name}/1.2/ghi-chu.docx"]
    assert "no criterion '9.99'" in reasons[f"nop-2024/{PHU_VANG.unit_name}/9.99/kh.pdf"]
    assert len(found.refused) == 5                              # __MACOSX is skipped silently
    assert {u for u, _ in found.units} == {PHU_VANG.unit_name, PHONG_DIEN.unit_name}

    batch_id = submit_batch(store, created_by=None, ruleset_id="hue-2024", year=YEAR,
                            items=found.items(ruleset), refused=found.refused)
    final = run_local(settings, batch_id, workers=2)
    assert final.finished and final.counts[ItemState.FAILED] == 5
    verdicts = verdicts_of(store, batch_id)
    assert verdicts[(PHU_VANG.unit_name, "2.1")]["status"] == "pass"
    assert verdicts[(PHONG_DIEN.unit_name, "2.1")]["status"] == "partial"
    failed = {r.summary for r in batch_report_rows(store, batch_id) if r.status == "failed"}
    assert any("evil.pdf: refused" in s and "zip slip" in s for s in failed)
    assert any("bom.pdf: refused" in s for s in failed)


def test_a_bomb_lying_about_its_size_is_stopped_while_reading(store, ruleset):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        bomb_entry(archive, f"{PHU_VANG.unit_name}/2.1/kh.pdf", 3 * 1024 * 1024)
    data = bytearray(buffer.getvalue())
    # Rewrite both headers to claim a harmless size; the bytes stay the bomb's.
    real = (3 * 1024 * 1024).to_bytes(4, "little")
    small = (1000).to_bytes(4, "little")
    data = bytes(data).replace(real, small)
    found = batch_from_zip(store, data, ruleset, limits=ZipLimits(max_ratio=100))
    assert not found.files and len(found.refused) == 1
    assert "damaged" in found.refused[0].reason or "bomb" in found.refused[0].reason


def test_entry_names_in_any_encoding():
    def info(name: str, flags: int = 0, extra: bytes = b"") -> zipfile.ZipInfo:
        entry = zipfile.ZipInfo("x")
        entry.orig_filename, entry.flag_bits, entry.extra = name, flags, extra
        return entry

    utf8 = "UBND huyện Phú Vang/2.1/kế hoạch.pdf"
    # UTF-8 bytes without the flag: zipfile shows them as CP437.
    assert entry_name(info(utf8.encode().decode("cp437"))) == utf8
    assert entry_name(info(utf8, 0x800)) == utf8
    cp437 = b"CAF\x90/2.1/a.pdf".decode("cp437")                       # 0x90 is É there
    assert entry_name(info(cp437)) == "CAFÉ/2.1/a.pdf"
    unicode_name = "UBND huyện Phú Vang".encode("utf-8")
    import unicodedata
    assert entry_name(info(unicodedata.normalize("NFD", utf8), 0x800)) == utf8
    assert entry_name(info("a\\b\\c.pdf")) == "a/b/c.pdf"
    # The Info-ZIP Unicode path field wins over a legacy name, when its CRC matches.
    import struct
    import zlib
    legacy = "PHU VANG/2.1/kh.pdf"
    field = b"\x01" + struct.pack("<I", zlib.crc32(legacy.encode("cp437"))) + unicode_name
    extra = struct.pack("<HH", 0x7075, len(field)) + field
    assert entry_name(info(legacy, 0, extra)) == "UBND huyện Phú Vang"


# -- a worker killed mid-item ----------------------------------------------------------------

def test_a_killed_worker_s_item_is_requeued_and_finished_once(settings, store, plans, scan):
    plan_row = store.put_document(plans["january"], "kh.pdf", unit=PHU_VANG.unit_name)
    scan_row = store.put_document(scan, "tb-scan.pdf", unit=XA)
    batch_id = submit_batch(store, created_by=None, ruleset_id="hue-2024", year=YEAR, items=[
        NewBatchItem(XA, "xa", "1.2", (scan_row.sha256,)),
        NewBatchItem(PHU_VANG.unit_name, "huyen", "2.1", (plan_row.sha256,))])
    scan_item = store.batch_items(batch_id)[0]
    killed = []

    def kill_the_scan_s_worker(progress) -> None:
        # The pool reports each item the moment a worker claims it, with that item current:
        # the kill comes right after the claim, while the scan is certainly being read.
        current = progress.current
        if not killed and current is not None and current.id == scan_item.id:
            pid = int(current.worker_id.rpartition(":")[2])
            os.kill(pid, signal.SIGKILL)
            killed.append(pid)

    final = run_local(settings, batch_id, workers=2, progress=kill_the_scan_s_worker)
    assert killed and final.finished
    item = next(i for i in store.batch_items(batch_id) if i.id == scan_item.id)
    assert item.state == ItemState.DONE and item.attempts == 2
    assert item.worker_id != f"{item.worker_id.rpartition(':')[0]}:{killed[0]}"
    with store.session() as session:
        verdicts = session.scalar(select(func.count()).select_from(VerdictRow).where(
            VerdictRow.unit == XA))
    assert verdicts == 1
    assert store.get_batch(batch_id).status == BatchStatus.DONE


def test_an_unreadable_document_is_named_in_the_verdict(store, ruleset, trust):
    row = store.put_document(b"%PDF-1.7\n this is not really a PDF", "hong.pdf",
                             unit=PHU_VANG.unit_name)
    batch_id = submit_batch(store, created_by=None, ruleset_id="hue-2024", year=YEAR,
                            items=[NewBatchItem(PHU_VANG.unit_name, "huyen", "2.1",
                                                (row.sha256,))])
    item = store.batch_items(batch_id)[0]
    verdict = process_item(store, item, ruleset, trust)
    readable = [c for c in verdict.checks if c.name == "file_readable"]
    assert readable and readable[0].file == "hong.pdf" and verdict.status == "needs_review"


# -- the command line ------------------------------------------------------------------------

def test_kiemchung_batch_writes_a_workbook(tmp_path, pki, plans, monkeypatch):
    from openpyxl import load_workbook

    units = tmp_path / "units"
    path = units / PHU_VANG.unit_name / "2.1" / "kế hoạch.pdf"
    path.parent.mkdir(parents=True)
    path.write_bytes(plans["january"])
    pki.write_trust_dir(tmp_path / "trust")
    monkeypatch.setenv("KIEMCHUNG_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("KIEMCHUNG_BROKER_URL", raising=False)
    report = tmp_path / "report.xlsx"
    result = kiemchung("batch", str(units), "--ruleset", "hue-2024", "--year", "2024",
                       "--trust-root", str(tmp_path / "trust"), "--workers", "1",
                       "--out", str(report))
    assert result.returncode == 0, result.stderr
    assert PHU_VANG.unit_name in result.stdout and "report written" in result.stdout
    book = load_workbook(report)
    criteria = {row[2]: row for row in book["criteria"].iter_rows(min_row=2, values_only=True)}
    assert criteria["2.1"][3:5] == ("pass", 10) and criteria["2.1"][7] == "kế hoạch.pdf"
    assert [row[0] for row in book["units"].iter_rows(min_row=2, values_only=True)] == \
        [PHU_VANG.unit_name]

    bad = kiemchung("batch", str(tmp_path / "missing"), "--year", "2024")
    assert bad.returncode != 0 and len(bad.stderr.strip().splitlines()) == 1


# With the soft limit off (as when code is stuck where no signal reaches), the pool kills the
# worker at the hard limit. Either way the item fails with the reason and the batch ends.
@pytest.mark.parametrize("limits, reason", [
    ({"item_soft_time_limit": 1}, "took longer than the time limit of 1 s"),
    ({"item_soft_time_limit": 0, "item_time_limit": 1},
     "exceeded the hard time limit of 1 s; the worker was stopped")])
def test_an_item_past_its_time_limit_fails_with_the_reason(settings, store, scan, limits,
                                                          reason):
    limited = settings.model_copy(update=limits)
    sha = store.put_document(scan, "tb-scan.pdf", unit=XA).sha256
    # The worker waits on the document until the limit (nobody hands it the bytes): the item
    # is certainly past its limit, however quickly this machine would read the scan.
    hold_document(store, sha)
    batch_id = submit_batch(store, created_by=None, ruleset_id="hue-2024", year=YEAR,
                            items=[NewBatchItem(XA, "xa", "1.2", (sha,))])
    final = run_local(limited, batch_id, workers=1)
    item = store.batch_items(batch_id)[0]
    assert final.finished and item.state == ItemState.FAILED and item.attempts == 1
    assert item.error == reason
    assert store.get_batch(batch_id).status == BatchStatus.DONE


def test_a_batch_mixing_hostile_and_good_files_verifies_the_good_ones(settings, store, plans,
                                                                     ruleset):
    """Broken and hostile files beside good ones: the good ones are verified as usual, each
    hostile one is named in its criterion's verdict with the reason, and nothing is lost."""
    from samples import hostile

    units = settings.data_dir.parent / "units"
    hostile_files = {
        (PHU_VANG, "2.1", "cắt-cụt.pdf"): (hostile.truncated(plans["january"], 0.4), "damaged"),
        (PHU_VANG, "2.1", "mật khẩu.pdf"): (hostile.encrypted(), "password-protected"),
        (PHONG_DIEN, "2.1", "bom.pdf"): (hostile.content_stream_bomb(), "decompression bomb"),
        (PHONG_DIEN, "2.1", "5000 trang.pdf"): (hostile.many_pages(), "5000 pages"),
        (PHU_VANG, "1.2", "ảnh khổng lồ.pdf"): (hostile.huge_image_pdf(), "too large"),
        (PHU_VANG, "1.2", "vòng lặp.pdf"): (hostile.page_tree_loop(), ""),
        (PHU_VANG, "1.2", "ghi chú.pdf"): (hostile.plain_text(), "a text file"),
    }
    good = {(PHU_VANG, "2.1", "kế hoạch.pdf"): plans["january"],
            (PHONG_DIEN, "2.1", "kế hoạch.pdf"): plans["march"]}
    for (agency, criterion, name), data in [*good.items(),
                                            *((k, v[0]) for k, v in hostile_files.items())]:
        path = units / agency.unit_name / criterion / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    found = batch_from_path(store, units, ruleset)
    assert not found.refused
    batch_id = submit_batch(store, created_by=None, ruleset_id="hue-2024", year=YEAR,
                            items=found.items(ruleset))
    final = run_local(settings, batch_id, workers=2)
    assert final.finished and final.counts[ItemState.FAILED] == 0
    verdicts = verdicts_of(store, batch_id)
    assert verdicts[(PHU_VANG.unit_name, "2.1")]["status"] == "pass"
    # March: half the points; but a file that could not be read might be a January plan.
    assert (verdicts[(PHONG_DIEN.unit_name, "2.1")]["status"],
            verdicts[(PHONG_DIEN.unit_name, "2.1")]["points"]) == ("needs_review", 5)
    for (agency, criterion, name), (_data, reason) in hostile_files.items():
        named = [c for c in verdicts[(agency.unit_name, criterion)]["checks"]
                 if c["file"] == name and c["status"] != "pass"]
        assert named and reason in named[0]["message"], (name, named)
