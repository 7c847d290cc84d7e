"""The sample generator: content, rendering, scans and corpus, on real PDFs and images."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import unicodedata

import numpy as np
import pymupdf
import pytest
from PIL import Image

from kiemchung.models.fields import DocType
from samples.content import AGENCIES, LEVELS, format_date_line, format_date_words, make_spec
from samples.corpus import _doc_types, generate_corpus
from samples.corpus import main as corpus_main
from samples.render import render_pdf, render_pdf_with_layout
from samples.scan import save_png, save_tiff, scan_pages, to_image_pdf

MOTTO = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"


def _spec(seed: int, doc_type: DocType | None = None, **kw):
    return make_spec(random.Random(seed), doc_type, **kw)


def _words_text(page: pymupdf.Page) -> str:
    return " ".join(w[4] for w in page.get_text("words"))


def _lines(page: pymupdf.Page) -> list[str]:
    out = []
    for block in page.get_text("dict")["blocks"]:
        for line in block.get("lines", ()):
            out.append("".join(span["text"] for span in line["spans"]))
    return out


@pytest.fixture(scope="module")
def one_page_spec():
    """A one-page document, so that scans stay quick."""
    for seed in range(200):
        spec = _spec(seed, DocType.GIAY_MOI)
        if spec.pages == 1:
            return spec
    raise AssertionError("no one-page invitation in 200 seeds")


@pytest.fixture(scope="module")
def scanned(one_page_spec):
    pdf, layout = render_pdf_with_layout(one_page_spec)
    return pdf, layout, scan_pages(pdf, layout, dpi=200, seed=3)


# --- content -------------------------------------------------------------------------------

def test_agencies_cover_the_three_levels():
    assert len(AGENCIES) >= 8
    assert {a.level for a in AGENCIES} == set(LEVELS)
    for agency in AGENCIES:
        assert agency.name == agency.name.upper()
        if agency.level != "so":
            assert agency.collective == "ỦY BAN NHÂN DÂN"


def test_every_doc_type_is_generated_with_its_number_shape():
    for seed, doc_type in enumerate(DocType):
        spec = _spec(seed, doc_type)
        assert spec.doc_type == doc_type
        seq, symbol = spec.number.split("/")
        assert len(seq) >= 2 and seq.isdigit()          # zero-padded below 10
        if doc_type == DocType.CONG_VAN:
            assert symbol.startswith(spec.agency.symbol + "-")
        else:
            assert symbol.endswith("-" + spec.agency.symbol)


def test_a_corpus_of_twelve_covers_every_type():
    assert set(_doc_types(random.Random(1), 12)) == set(DocType)
    assert set(_doc_types(random.Random(2), 60)) == set(DocType)


def test_same_seed_same_spec_and_level_filter():
    assert _spec(42) == _spec(42)
    assert _spec(42) != _spec(43)
    for level in LEVELS:
        assert _spec(7, level=level).agency.level == level


def test_date_formats():
    assert format_date_words(dt.date(2024, 1, 5), True) == "ngày 05 tháng 01 năm 2024"
    assert format_date_words(dt.date(2024, 6, 29), True) == "ngày 29 tháng 6 năm 2024"
    assert format_date_words(dt.date(2024, 1, 5), False) == "ngày 5 tháng 1 năm 2024"
    assert format_date_line("Phú Vang", dt.date(2024, 12, 3), True) == \
        "Phú Vang, ngày 03 tháng 12 năm 2024"


def test_text_is_nfc_and_can_cu_quote_other_documents():
    for seed in range(30):
        spec = _spec(seed)
        texts = [spec.subject, spec.signer_name, *spec.can_cu, *spec.body, *spec.recipients]
        assert all(unicodedata.is_normalized("NFC", t) for t in texts)
        assert 1 <= len(spec.can_cu) <= 4
        own_date = format_date_words(spec.issue_date, spec.zero_pad_date)
        for line in spec.can_cu:
            assert spec.number not in line
            assert own_date not in line
        assert spec.recipients[-1].startswith("Lưu: VT")
        assert 1 <= spec.pages <= 4
        assert dt.date(2023, 1, 1) <= spec.issue_date <= dt.date(2025, 12, 31)


def test_steering_committee_decision_names_its_head():
    found = 0
    for seed in range(60):
        spec = _spec(seed, DocType.QUYET_DINH)
        if "truong_ban" in spec.extra:
            name, title = spec.extra["truong_ban"]
            assert name in spec.body_names
            assert any(name in para and "Trưởng ban" in para for para in spec.body)
            found += 1
    assert found >= 5


def test_overrides_are_applied_before_composing():
    agency = next(a for a in AGENCIES if a.place == "Phú Vang")
    spec = _spec(1, DocType.KE_HOACH, agency=agency, issue_date=dt.date(2024, 3, 7))
    assert spec.agency == agency and spec.number.endswith("/KH-UBND")
    assert spec.issue_date == dt.date(2024, 3, 7)
    assert _spec(1, DocType.KE_HOACH, signer_name="Lê Văn Tám").signer_name == "Lê Văn Tám"


# --- rendering -----------------------------------------------------------------------------

def test_render_is_deterministic_and_has_the_planned_pages():
    for seed in range(8):
        spec = _spec(seed)
        pdf = render_pdf(spec)
        assert pdf == render_pdf(spec)
        with pymupdf.open(stream=pdf) as doc:
            assert doc.page_count == spec.pages
            assert doc[0].rect.width == pytest.approx(595, abs=1)
            assert doc[0].rect.height == pytest.approx(842, abs=1)


def test_text_layer_holds_the_fields():
    spec = _spec(5, DocType.KE_HOACH)
    pdf, layout = render_pdf_with_layout(spec)
    with pymupdf.open(stream=pdf) as doc:
        first = _words_text(doc[0])
        assert f"Số: {spec.number}" in first
        assert MOTTO in first and "Độc lập - Tự do - Hạnh phúc" in first
        assert format_date_line(spec.agency.place, spec.issue_date, spec.zero_pad_date) in first
        assert "KẾ HOẠCH" in first
        signer_page = doc[layout.signer_page - 1]
        assert spec.signer_name in _words_text(signer_page)
        assert "Nơi nhận:" in _words_text(signer_page)
        # the signer block box holds the title and the name, and its blank holds nothing
        block = pymupdf.Rect(*layout.signer_bbox.as_list())
        block_words = signer_page.get_text("words", clip=block)
        assert spec.signer_name.split()[-1] in {w[4] for w in block_words}
        blank = pymupdf.Rect(*layout.signature_bbox.as_list())
        assert signer_page.get_text("words", clip=blank) == []
        assert layout.signature_bbox.y1 - layout.signature_bbox.y0 >= 60


def test_header_columns_extract_as_separate_lines():
    for seed, doc_type in enumerate(DocType):
        spec = _spec(seed, doc_type)
        with pymupdf.open(stream=render_pdf(spec)) as doc:
            lines = _lines(doc[0])
        number_line = next(ln for ln in lines if ln.startswith("Số:"))
        assert number_line == f"Số: {spec.number}"
        motto_line = next(ln for ln in lines if "CỘNG HÒA" in ln)
        assert motto_line == MOTTO
        date_line = format_date_line(spec.agency.place, spec.issue_date, spec.zero_pad_date)
        assert date_line in lines
        if doc_type == DocType.CONG_VAN:
            assert any(ln.startswith("V/v ") for ln in lines)


def test_signer_block_prints_authority_title_and_name():
    seen = set()
    for seed in range(200):
        spec = _spec(seed)
        if spec.authority in seen:
            continue
        pdf, layout = render_pdf_with_layout(spec)
        with pymupdf.open(stream=pdf) as doc:
            lines = _lines(doc[layout.signer_page - 1])
        if spec.authority_line:
            assert spec.authority_line in lines
        if spec.authority != "Q.":
            assert spec.signer_title in lines
        assert spec.signer_name in lines
        seen.add(spec.authority)
    assert {None, "KT.", "TM.", "Q.", "TL.", "TUQ."} <= seen


def test_tcvn3_variant_has_a_legacy_text_layer():
    from kiemchung.extractors import tcvn3
    spec = _spec(9, DocType.KE_HOACH)
    pdf = render_pdf(spec, tcvn3=True)
    assert pdf == render_pdf(spec, tcvn3=True)
    with pymupdf.open(stream=pdf) as doc:
        assert doc.page_count == spec.pages
        raw = " ".join(doc[0].get_text().split())
    assert spec.subject not in raw and MOTTO not in raw
    assert spec.number in raw
    decoded = tcvn3.decode_tcvn3(raw)
    # TCVN3 (ABC) has no toned capitals: compare without case.
    assert spec.subject.casefold() in decoded.casefold()
    assert MOTTO in decoded


# --- scans ---------------------------------------------------------------------------------

def test_scan_pdf_is_image_only_at_the_right_size(scanned):
    pdf, layout, images = scanned
    assert images[0].size == (round(595 * 200 / 72), round(842 * 200 / 72)) or \
        abs(images[0].size[0] - 1653) <= 1
    image_pdf = to_image_pdf(images, 200)
    with pymupdf.open(stream=image_pdf) as doc:
        assert doc.page_count == len(images)
        page = doc[0]
        assert page.get_text().strip() == ""
        assert page.rect.width == pytest.approx(images[0].size[0] * 72 / 200, abs=0.5)
        xref = page.get_images()[0][0]
        info = doc.extract_image(xref)
        assert (info["width"], info["height"]) == images[0].size
        assert info["ext"] in ("jpeg", "jpg")


def test_scan_is_deterministic(one_page_spec, scanned):
    pdf, layout, images = scanned
    again = scan_pages(pdf, layout, dpi=200, seed=3)
    assert to_image_pdf(images, 200) == to_image_pdf(again, 200)
    other = scan_pages(pdf, layout, dpi=200, seed=4)
    assert to_image_pdf(images, 200) != to_image_pdf(other, 200)


def _red_pixels(img: Image.Image, layout, dpi: int) -> int:
    s = dpi / 72
    b = layout.signer_bbox
    # the seal reaches left of the signer column by up to about its radius
    box = (int((b.x0 - 80) * s), int((b.y0 - 40) * s), int(b.x1 * s), int((b.y1 + 40) * s))
    arr = np.asarray(img.crop(box)).astype(int)
    red = (arr[..., 0] > 150) & (arr[..., 1] < 120) & (arr[..., 2] < 120)
    return int(red.sum())


def test_seal_is_red_in_the_signer_area(scanned):
    pdf, layout, images = scanned
    assert _red_pixels(images[layout.signer_page - 1], layout, 200) > 2000
    plain = scan_pages(pdf, layout, dpi=200, seed=3, seal=False, handwriting=False)
    assert _red_pixels(plain[layout.signer_page - 1], layout, 200) < 50


def test_signature_ink_is_in_the_blank(scanned):
    pdf, layout, images = scanned
    s = 200 / 72
    b = layout.signature_bbox
    crop = np.asarray(images[layout.signer_page - 1].crop(
        (int((b.x0 + 90) * s), int(b.y0 * s), int(b.x1 * s), int(b.y1 * s)))).astype(int)
    blue = (crop[..., 2] > crop[..., 0] + 40) | (crop.sum(axis=2) < 200)
    assert blue.sum() > 200


def test_image_files(scanned, tmp_path):
    _, _, images = scanned
    two = images + images
    paths = save_png(two, tmp_path / "scan.png")
    assert [p.name for p in paths] == ["scan-1.png", "scan-2.png"]
    tiff = save_tiff(two, tmp_path / "scan.tiff")[0]
    with Image.open(tiff) as im:
        assert im.n_frames == 2


# --- corpus --------------------------------------------------------------------------------

def test_generate_corpus_writes_files_and_truth(tmp_path):
    items = generate_corpus(tmp_path, count=3, seed=5, variants=("digital", "tcvn3"))
    assert len(items) == 6
    assert {i.variant for i in items} == {"digital", "tcvn3"}
    for item in items:
        truth = json.loads(item.path.with_name(item.path.name + ".truth.json").read_text())
        assert truth["number"] == item.spec.number
        assert truth["issue_date"] == item.spec.issue_date.isoformat()
        assert truth["issuer"] == item.spec.agency.name
        assert truth["signer"]["name"] == item.spec.signer_name
        assert truth["doc_type"] == item.spec.doc_type.value
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert len(manifest["files"]) == 6
    again = generate_corpus(tmp_path / "again", count=3, seed=5, variants=("digital",))
    assert [i.path.read_bytes() for i in again] == \
        [i.path.read_bytes() for i in items if i.variant == "digital"]


def test_corpus_cli(tmp_path, capsys):
    assert corpus_main([str(tmp_path), "--count", "1", "--seed", "3",
                        "--variants", "digital"]) == 0
    assert re.search(r"wrote 1 files", capsys.readouterr().out)
    assert corpus_main([str(tmp_path), "--count", "1", "--variants", "fax"]) == 2
