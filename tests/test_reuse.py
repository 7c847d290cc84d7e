"""Evidence reused under other bytes: one generated plan re-saved, renamed, renumbered and
scanned is found as pairs with what differs; different plans of the same district are not;
the real documents of ../shared/realdocs pair with nothing but copies of themselves. Then the
same through the store and the service, and through `GET /v1/reuse`."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import io
import json

import pymupdf
import pytest
from PIL import Image
from sqlalchemy import delete

from kiemchung.api import service
from kiemchung.api.http.routes import reuse as reuse_routes
from kiemchung.api.store import open_store
from kiemchung.api.store.reuse import get_fingerprint
from kiemchung.api.store.tables import DocumentFingerprintRow
from kiemchung.extractors.fingerprint import (
    MIN_WORDS,
    Fingerprint,
    _first_page_image,
    fingerprint,
)
from kiemchung.extractors.pipeline import inspect_bytes
from kiemchung.extractors.reader import read_document_bytes
from kiemchung.extractors.signatures import TrustStore
from kiemchung.extractors.text_layer import decide_text_layer
from kiemchung.models.document import DocumentText, Page, TextSource
from kiemchung.models.verdicts import Verdict
from kiemchung.verifier.reuse import (
    PHASH_BOUND,
    THRESHOLD,
    Facts,
    Submission,
    find_reuse,
    hamming,
    jaccard,
)
from kiemchung.verifier.settings import Settings
from samples.pki import DemoPKI
from samples.render import render_pdf, render_pdf_with_layout
from samples.scan import scan_pages, to_image_pdf
from tests.helpers import OTHER_UNIT, SHARED, UNIT, Service, absent, plan_spec, service_settings

THIRD_UNIT = "UBND huyện A Lưới"
REALDOCS = SHARED / "realdocs"


def resaved(pdf: bytes) -> bytes:
    with pymupdf.open(stream=pdf, filetype="pdf") as doc:
        doc.set_metadata({"producer": "re-saved", "title": "kế hoạch (bản lưu lại)"})
        return doc.tobytes(garbage=4, deflate=True, clean=True)


@pytest.fixture(scope="module")
def documents() -> dict[str, bytes]:
    """The plan 15/KH-UBND and what becomes of it, and another plan of the same district."""
    spec = plan_spec(dt.date(2024, 1, 15))
    assert spec.number == "15/KH-UBND"
    pdf, layout = render_pdf_with_layout(spec)
    other = plan_spec(dt.date(2024, 2, 20), seed=2)
    other_pdf, other_layout = render_pdf_with_layout(other)
    assert other.number != spec.number and other.agency == spec.agency
    out = {
        "original": pdf,
        "resaved": resaved(pdf),
        "renumbered": render_pdf(dataclasses.replace(spec, number="16/KH-UBND")),
        "scan": to_image_pdf(scan_pages(pdf, layout, dpi=300, seed=3), 300),
        "other": other_pdf,
        "other_scan": to_image_pdf(scan_pages(other_pdf, other_layout, dpi=300, seed=4), 300),
    }
    assert len({hashlib.sha256(data).digest() for data in out.values()}) == len(out)
    return out


@pytest.fixture(scope="module")
def read(documents) -> dict[str, tuple[Facts, Fingerprint, str]]:
    """Each document's facts and fingerprint, as the service computes them."""
    out = {}
    for name, data in documents.items():
        inspection = inspect_bytes(data, f"{name}.pdf")
        out[name] = (Facts.of(inspection), fingerprint(data, inspection.text),
                     inspection.text.sha256)
    return out


def submission(read, name: str, unit: str = UNIT, criterion: str = "2.1", year: int = 2024,
               file: str | None = None) -> Submission:
    facts, fp, sha = read[name]
    return Submission(sha, unit, criterion, year, facts, fp, name=file or f"{name}.pdf")


def by_names(pairs) -> dict[frozenset[str], object]:
    return {frozenset((p.first.name, p.second.name)): p for p in pairs}


def test_each_variant_of_a_plan_is_caught_with_what_differs(read):
    pairs = by_names(find_reuse([
        submission(read, "original"),
        submission(read, "resaved", OTHER_UNIT, file="ke-hoach-phong-dien.pdf"),   # renamed
        submission(read, "renumbered", UNIT, year=2025),                  # next year again
        submission(read, "scan", THIRD_UNIT),
        submission(read, "other", OTHER_UNIT, "2.2"),
        submission(read, "other_scan", THIRD_UNIT, "2.3"),
    ]))
    resaved_pair = pairs[frozenset({"original.pdf", "ke-hoach-phong-dien.pdf"})]
    assert resaved_pair.jaccard == 1.0 and resaved_pair.differences == ()
    assert resaved_pair.why == ("another unit",)
    assert resaved_pair.summary == "same text (Jaccard 1.00), same number, date, issuer"

    renumbered = pairs[frozenset({"original.pdf", "renumbered.pdf"})]
    assert THRESHOLD <= renumbered.jaccard < 1.0      # measured 0.98
    assert [(d.field, d.first, d.second) for d in renumbered.differences] == [
        ("number", "15/KH-UBND", "16/KH-UBND")]
    assert renumbered.why == ("another year",)
    assert "number 15/KH-UBND vs 16/KH-UBND" in renumbered.summary

    scan = pairs[frozenset({"original.pdf", "scan.pdf"})]
    assert scan.jaccard is None                        # a scan read in part: no text fingerprint
    assert scan.phash_distance is not None and scan.phash_distance <= PHASH_BOUND
    assert scan.differences == () and "same first page" in scan.summary

    # The variants pair with one another too, the other plan with its own scan; no pair
    # crosses from one plan to the other.
    variants = {"original.pdf", "ke-hoach-phong-dien.pdf", "renumbered.pdf", "scan.pdf"}
    others = {"other.pdf", "other_scan.pdf"}
    assert all(pair <= variants or pair <= others for pair in pairs), sorted(map(sorted, pairs))
    assert frozenset({"ke-hoach-phong-dien.pdf", "renumbered.pdf"}) in pairs
    assert frozenset(others) in pairs


def test_different_plans_of_one_district_are_far_apart(read):
    _, original, _ = read["original"]
    _, other, _ = read["other"]
    _, scan, _ = read["scan"]
    _, other_scan, _ = read["other_scan"]
    assert original.minhash and other.minhash and original.phash and other_scan.phash
    assert scan.phash
    assert jaccard(original.minhash, other.minhash) < 0.6      # measured 0.4
    assert hamming(original.phash, other_scan.phash) > PHASH_BOUND
    assert hamming(scan.phash, other_scan.phash) > PHASH_BOUND
    # Born-digital with born-digital, scan with scan, and each kind with the other.
    for mine, theirs in (("original", "other"), ("scan", "other_scan"),
                         ("original", "other_scan"), ("scan", "other")):
        assert find_reuse([submission(read, mine),
                           submission(read, theirs, OTHER_UNIT, year=2023)]) == []


def test_one_unit_one_criterion_one_year_is_not_reuse(read):
    same = [submission(read, "original"), submission(read, "resaved"),
            submission(read, "scan")]
    assert find_reuse(same) == []
    # The same plan for another criterion of the same unit is (as `not_reused` counts it).
    pairs = find_reuse([submission(read, "original"), submission(read, "resaved", UNIT, "3.1")])
    assert [p.why for p in pairs] == [("another criterion",)]
    # Renamed, the same bytes, by another unit: reported as the same file.
    [same] = find_reuse([submission(read, "original"),
                         submission(read, "original", OTHER_UNIT, file="renamed.pdf")])
    assert same.same_bytes and same.why == ("another unit",) and same.differences == ()
    assert same.summary == "the same file (same bytes)"


def test_too_little_text_gets_no_text_fingerprint():
    doc = pymupdf.open()
    page = doc.new_page()
    page.insert_text((72, 72), "UBND HUYỆN PHÚ VANG  Số: 15/KH-UBND  Kế hoạch chuyển đổi số")
    data = doc.tobytes()
    text = read_document_bytes(data, "short.pdf")
    fp = fingerprint(data, text)
    assert fp.words < MIN_WORDS and fp.minhash is None
    assert fp.phash is not None and not fp.scanned


# -- the real documents -------------------------------------------------------------------------

def text_layer_only(data: bytes, name: str) -> DocumentText:
    """What inspection reads of a real file, without its OCR: the pages whose text layer is
    not used stand as OCR'd in part, which gets no text fingerprint anyway."""
    pages = []
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        for index, pdf_page in enumerate(doc):
            decision = decide_text_layer(pdf_page, index + 1)
            pages.append(decision.page or Page(index + 1, pdf_page.rect.width,
                                               pdf_page.rect.height, TextSource.OCR, (),
                                               partial=True))
    return DocumentText(name, hashlib.sha256(data).hexdigest(), tuple(pages))


def rescanned(data: bytes) -> bytes:
    """Page 1 printed and scanned again: rendered at 150 dpi, greyed, JPEG at quality 60."""
    with pymupdf.open(stream=data, filetype="pdf") as doc:
        pix = doc[0].get_pixmap(dpi=150, alpha=False)
        image = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
    buffer = io.BytesIO()
    image.convert("L").save(buffer, "JPEG", quality=60)
    out = pymupdf.open()
    page = out.new_page(width=pix.width * 72 / 150, height=pix.height * 72 / 150)
    page.insert_image(page.rect, stream=buffer.getvalue())
    return out.tobytes()


def test_only_pictures_of_paper_are_straightened_for_the_first_page_hash():
    # A drawn page (the real born-digital files) is straight: its hash skips the skew search,
    # which finds a 0.15° tilt on every such page. Every scan and the photo are pictures.
    if not (REALDOCS / "labels.json").is_file():
        absent(f"the real documents are not in {REALDOCS}")
    labels = json.loads((REALDOCS / "labels.json").read_text(encoding="utf-8"))["files"]
    for label in labels:
        found = _first_page_image((REALDOCS / label["file"]).read_bytes(), "pdf")
        assert found is not None
        assert found[1] == (label["kind"] == "born_digital_signed"), label["file"]


def test_real_documents_pair_only_with_copies_of_themselves():
    if not (REALDOCS / "labels.json").is_file():
        absent(f"the real documents are not in {REALDOCS}")
    labels = json.loads((REALDOCS / "labels.json").read_text(encoding="utf-8"))["files"]
    assert len(labels) == 25
    submissions = []
    for number, label in enumerate(labels):
        data = (REALDOCS / label["file"]).read_bytes()
        text = text_layer_only(data, label["file"])
        submissions.append(Submission(text.sha256, f"unit {number}", "2.1", 2024, Facts(),
                                      fingerprint(data, text), name=label["file"]))

    def file_of(chosen: Submission):
        return REALDOCS / chosen.name

    # 25 distinct documents, each handed in by another unit: no pair at all (measured: the
    # closest texts share 5 % of their 5-grams, the closest first pages differ in 96 bits).
    assert find_reuse(submissions) == []
    # A born-digital one re-saved, a scan scanned again: each pairs with its original only.
    born_digital = next(s for s in submissions if "2601" in s.name)
    scan = next(s for s in submissions if "BenTre_666" in s.name)
    copies = []
    for original, data in ((born_digital, resaved(file_of(born_digital).read_bytes())),
                           (scan, rescanned(file_of(scan).read_bytes()))):
        text = text_layer_only(data, "copy.pdf")
        copies.append(Submission(text.sha256, "another unit", "2.1", 2025, Facts(),
                                 fingerprint(data, text), name=f"copy of {original.name}"))
    pairs = find_reuse(submissions + copies)
    assert sorted((p.first.name, p.second.name) for p in pairs) == sorted(
        (original.name, copy.name) for original, copy in zip((born_digital, scan), copies))
    assert all(set(p.why) == {"another unit", "another year"} for p in pairs)


# -- the store and the service ------------------------------------------------------------------

def verdict(unit: str, year: int = 2024, criterion: str = "2.1") -> Verdict:
    return Verdict(criterion=criterion, level="huyen", unit=unit, year=year, points=10,
                   max_points=10, ruleset_id="hue-2024", ruleset_version="r1", summary="")


def test_fingerprints_are_kept_when_first_read_and_pairs_come_from_the_verdicts(
        tmp_path, documents):
    settings = Settings(_env_file=None, data_dir=tmp_path, database_url=None)
    trust = TrustStore()
    with open_store(settings) as store:
        shas = {}
        for name, unit in (("original", UNIT), ("renumbered", OTHER_UNIT), ("other", THIRD_UNIT)):
            row = store.put_document(documents[name], f"{name}.pdf", unit=unit)
            shas[name] = row.sha256
            service.inspect_document(store, row.sha256, trust, name=f"{name}.pdf")
            assert get_fingerprint(store, row.sha256) is not None      # the hook made it
            store.save_verdict(verdict(unit), [row.sha256])
        # A document read before fingerprints existed gets one from its cached inspection.
        with store.session() as session:
            session.execute(delete(DocumentFingerprintRow).where(
                DocumentFingerprintRow.sha256 == shas["renumbered"]))
        pairs = service.reused_evidence(store, year=2024)
        assert [(p.first.name, p.second.name, [d.field for d in p.differences])
                for p in pairs] == [("renumbered.pdf", "original.pdf", ["number"])]
        assert get_fingerprint(store, shas["renumbered"]) is not None
        assert service.reused_evidence(store, year=2024, unit=THIRD_UNIT) == []
        assert service.reused_evidence(store, year=2023) == []


# -- the HTTP route -----------------------------------------------------------------------------

def test_the_reuse_route_lists_pairs_for_appraisers_and_auditors_only(tmp_path, documents):
    running = Service(service_settings(tmp_path, DemoPKI.create("reuse-tests")))
    running.app.include_router(reuse_routes.router, prefix="/v1")
    with running.client:
        for role, name in (("unit", "original"), ("other_unit", "resaved")):
            uploaded = running.upload(role, documents[name], f"{name}.pdf")
            assert uploaded.status_code == 200, uploaded.text
            unit = UNIT if role == "unit" else OTHER_UNIT
            answer = running.verify(role, [uploaded.json()["sha256"]], unit=unit)
            assert answer.status_code in (200, 201), answer.text
        for role in ("appraiser", "auditor", "admin"):
            response = running.client.get("/v1/reuse", params={"year": 2024},
                                          headers=running.auth(role))
            assert response.status_code == 200, response.text
            [pair] = response.json()
            assert {pair["first"]["unit"], pair["second"]["unit"]} == {UNIT, OTHER_UNIT}
            assert pair["jaccard"] == 1.0 and pair["differs"] == []
            assert pair["why"] == ["another unit"]
        response = running.client.get("/v1/reuse", params={"year": 2024, "unit": THIRD_UNIT},
                                      headers=running.auth("appraiser"))
        assert response.json() == []
        for role in ("unit", "portal"):
            response = running.client.get("/v1/reuse", params={"year": 2024},
                                          headers=running.auth(role))
            assert response.status_code == 403, response.text
    running.store.close()


# -- the command --------------------------------------------------------------------------------

def test_the_reuse_command_reads_folders_of_two_years(tmp_path, documents):
    import typer
    from typer.testing import CliRunner

    from kiemchung.api.cli.reuse import reuse

    this_year, last_year = tmp_path / "2024", tmp_path / "2023"
    for folder, unit, name in ((this_year, UNIT, "original"), (this_year, OTHER_UNIT, "other"),
                               (last_year, OTHER_UNIT, "renumbered")):
        (folder / unit / "2.1").mkdir(parents=True)
        (folder / unit / "2.1" / f"{name}.pdf").write_bytes(documents[name])
    app = typer.Typer()
    app.command()(reuse)
    app.command("unused")(lambda: None)   # two commands: `reuse` stays a subcommand
    result = CliRunner().invoke(app, ["reuse", str(this_year), "--year", "2024", "--earlier",
                                      f"2023={last_year}", "--json"])
    assert result.exit_code == 0, result.output
    [pair] = json.loads(result.stdout)
    assert (pair["first"]["name"], pair["second"]["name"]) == (
        f"{OTHER_UNIT}/2.1/renumbered.pdf", f"{UNIT}/2.1/original.pdf")
    assert pair["why"] == ["another unit", "another year"]
    assert pair["differs"] == [{"field": "number", "first": "16/KH-UBND",
                                "second": "15/KH-UBND"}]
    shown = CliRunner().invoke(app, ["reuse", str(this_year), "--year", "2024"])
    assert shown.exit_code == 0 and "no reused evidence among 2 files" in shown.stdout
