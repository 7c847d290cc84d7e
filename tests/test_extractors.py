"""The text stage on real files: PDFs built here with PyMuPDF, rasterised scans, real Tesseract."""

from __future__ import annotations

import hashlib
import io
import math
import unicodedata
from pathlib import Path

import pymupdf
import pytesseract
import pytest
from PIL import Image
from rapidfuzz import fuzz

from kiemchung.extractors import ocr as ocr_module
from kiemchung.extractors.ocr import estimate_skew, ocr_image, ocr_page
from kiemchung.extractors.pdf_text import read_text_layer
from kiemchung.extractors.reader import detect_kind, read_document, read_document_bytes
from kiemchung.extractors.tcvn3 import (
    decode_tcvn3,
    decode_vni,
    encode_tcvn3,
    is_vietnamese_syllable,
    looks_like_tcvn3,
    looks_like_vni,
)
from kiemchung.extractors.text_layer import decide_text_layer
from kiemchung.models.document import BBox, TextSource, nfc
from kiemchung.models.errors import InputFileError, OcrUnavailableError

FONT = "/usr/share/fonts/truetype/liberation2/LiberationSerif-Regular.ttf"
AGENCY = "UBND HUYỆN PHÚ VANG"
MOTTO = "CỘNG HÒA XÃ HỘI CHỦ NGHĨA VIỆT NAM"
MOTTO2 = "Độc lập - Tự do - Hạnh phúc"
DATE_LINE = "Phú Vang, ngày 05 tháng 01 năm 2024"
NUMBER = "Số: 15/KH-UBND"
BODY = "Căn cứ Luật Tổ chức chính quyền địa phương ngày 19 tháng 6 năm 2015;"
HEADER = (AGENCY, MOTTO, MOTTO2, NUMBER, DATE_LINE)

LOWER = ("aàảãáạăằẳẵắặâầẩẫấậbcdđeèẻẽéẹêềểễếệghiìỉĩíịklmnoòỏõóọôồổỗốộơờởỡớợpqrstu"
         "ùủũúụưừửữứựvxyỳỷỹýỵ")


def header_page(doc: pymupdf.Document, *, encode=lambda s: s, body_lines: int = 0) -> pymupdf.Page:
    """An A4 page with the decree's two-column header (agency and motto on one baseline)."""
    page = doc.new_page(width=595, height=842)
    page.insert_font(fontname="lib", fontfile=FONT)

    def put(x: float, y: float, text: str, size: float = 13) -> None:
        page.insert_text((x, y), encode(text), fontname="lib", fontsize=size)

    put(60, 60, AGENCY)
    put(290, 60, MOTTO, 12.5)
    put(335, 78, MOTTO2)
    put(80, 100, NUMBER)
    put(320, 110, DATE_LINE)
    for i in range(body_lines):
        put(60, 160 + 20 * i, BODY)
    return page


def header_pdf(**kwargs) -> bytes:
    doc = pymupdf.open()
    header_page(doc, **kwargs)
    return doc.tobytes()


def render_gray(page: pymupdf.Page, dpi: int, clip: pymupdf.Rect | None = None) -> Image.Image:
    pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csGRAY, clip=clip)
    return Image.frombytes("L", (pix.width, pix.height), pix.samples)


def scan_pdf(image: Image.Image, width: float = 595, height: float = 842) -> bytes:
    """An image-only PDF: the page is one picture, as a scanner makes it."""
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    doc = pymupdf.open()
    page = doc.new_page(width=width, height=height)
    page.insert_image(page.rect, stream=buffer.getvalue())
    return doc.tobytes()


def assert_lines_found(found: list[str], expected: tuple[str, ...], minimum: float = 90) -> None:
    for line in expected:
        best = max((fuzz.ratio(nfc(line), nfc(f)) for f in found), default=0)
        assert best >= minimum, f"{line!r} not recovered (best {best:.0f}) in {found}"


@pytest.fixture(scope="module")
def header_scan_300() -> Image.Image:
    """The header band of the page rendered at 300 dpi (a 595×140 pt scan)."""
    doc = pymupdf.open()
    page = header_page(doc)
    return render_gray(page, 300, clip=pymupdf.Rect(0, 0, 595, 140))


# --- TCVN3 and VNI --------------------------------------------------------------------------

def test_tcvn3_round_trip_lowercase_and_tcvn3_capitals():
    assert decode_tcvn3(encode_tcvn3(LOWER)) == LOWER
    assert encode_tcvn3("ộ") == "\xe9" and encode_tcvn3("đ") == "\xae"
    assert decode_tcvn3(encode_tcvn3("Ă Â Ê Ô Ơ Ư Đ")) == "Ă Â Ê Ô Ơ Ư Đ"
    assert all(ord(ch) < 256 for ch in encode_tcvn3(LOWER.upper()))


def test_tcvn3_full_round_trip_and_header_capitals():
    upper = LOWER.upper()
    assert decode_tcvn3(encode_tcvn3(upper, full=True)) == upper
    for text in HEADER + ("Hà Nội", "ĐỘC LẬP"):
        assert decode_tcvn3(encode_tcvn3(text)) == text
    assert encode_tcvn3(MOTTO) == "CéNG HßA X· HéI CHñ NGHÜA VIÖT NAM"
    assert decode_tcvn3("céng hßa", caps=True) == "CỘNG HÒA"


def test_tcvn3_extraction_artefacts_and_capitals():
    # 0xAD (ư) is the soft hyphen, which PDF extraction shows as "-".
    assert decode_tcvn3("n-íc th-êng trung -¬ng - L-u: VT") == "nước thường trung ương - Lưu: VT"
    assert decode_tcvn3("Hue-S 15/KH-UBND") == "Hue-S 15/KH-UBND"
    assert decode_tcvn3("ñY BAN NH¢N D¢N") == "ỦY BAN NHÂN DÂN"
    assert decode_tcvn3("Sè: 15/PA-SGD§T") == "Số: 15/PA-SGDĐT"
    assert decode_tcvn3("KT. CHñ TÞCH") == "KT. CHỦ TỊCH"
    assert decode_tcvn3("quan träng. ®Èy m¹nh") == "quan trọng. Đẩy mạnh"


def test_decoded_text_is_nfc():
    decomposed = unicodedata.normalize("NFD", DATE_LINE)
    assert decode_tcvn3(decomposed) == DATE_LINE


def test_legacy_encoding_scores():
    unicode_text = " ".join(HEADER + (BODY,))
    assert looks_like_tcvn3(encode_tcvn3(unicode_text)) > 0.8
    assert looks_like_tcvn3(unicode_text) < 0.1
    vni = "Coäng hoøa xaõ hoäi chuû nghóa Vieät Nam. Ñoäc laäp - Töï do - Haïnh phuùc"
    assert decode_vni(vni) == "Cộng hòa xã hội chủ nghĩa Việt Nam. Độc lập - Tự do - Hạnh phúc"
    assert looks_like_vni(vni) > 0.8
    assert looks_like_vni(unicode_text) < 0.1
    assert looks_like_vni(vni) > looks_like_tcvn3(vni)
    assert is_vietnamese_syllable("nghiêng") and not is_vietnamese_syllable("xyz")


# --- text layer ------------------------------------------------------------------------------

def test_text_layer_keeps_columns_apart_and_boxes_in_points():
    doc = pymupdf.open()
    page = header_page(doc)
    result = read_text_layer(page, 1)
    texts = [line.text for line in result.lines]
    assert AGENCY in texts and MOTTO in texts, texts
    agency = next(line for line in result.lines if line.text == AGENCY)
    assert agency.bbox.x0 == pytest.approx(60, abs=1)
    assert 45 < agency.bbox.y0 < agency.bbox.y1 < 65
    assert (result.width, result.height) == (595, 842)


def test_text_layer_is_nfc_and_follows_page_rotation():
    doc = pymupdf.open()
    page = doc.new_page(width=595, height=842)
    page.insert_font(fontname="lib", fontfile=FONT)
    page.insert_text((60, 60), unicodedata.normalize("NFD", MOTTO2), fontname="lib", fontsize=13)
    assert read_text_layer(page, 1).text == MOTTO2
    page.set_rotation(90)
    rotated = read_text_layer(page, 1)
    assert (rotated.width, rotated.height) == (842, 595)
    box = rotated.lines[0].bbox
    assert box.x0 > 700 and box.y0 == pytest.approx(60, abs=1)   # now along the right edge


def test_tcvn3_text_layer_is_converted():
    result = read_document_bytes(header_pdf(encode=encode_tcvn3, body_lines=3), "abc.pdf")
    page = result.pages[0]
    assert page.source == TextSource.TCVN3 and page.text_layer_verdict == "tcvn3"
    texts = [line.text for line in page.lines]
    for line in HEADER + (BODY,):
        assert line in texts
    assert result.text_source == "text"


def test_text_layer_verdicts_without_ocr():
    doc = pymupdf.open()
    vni = doc.new_page()
    vni.insert_font(fontname="lib", fontfile=FONT)
    vni.insert_text((60, 60), "Coäng hoøa xaõ hoäi chuû nghóa Vieät Nam. Ñoäc laäp - Töï do",
                    fontname="lib", fontsize=12)
    verdict = decide_text_layer(vni, 1)
    assert verdict.verdict == "vni" and not verdict.usable

    blank = doc.new_page()
    assert decide_text_layer(blank, 2).verdict == "blank"

    scan = doc.new_page()
    picture = pymupdf.Pixmap(pymupdf.csGRAY, pymupdf.IRect(0, 0, 50, 70), 0)
    scan.insert_image(scan.rect, pixmap=picture)
    assert decide_text_layer(scan, 3).verdict == "empty"
    scan.insert_font(fontname="lib", fontfile=FONT)
    scan.insert_text((400, 800), "Ký bởi: Nguyễn Văn A", fontname="lib", fontsize=8)
    assert decide_text_layer(scan, 3).verdict == "too_short"
    scan.insert_text((60, 60), MOTTO + " " + MOTTO2, fontname="lib", fontsize=8)
    assert decide_text_layer(scan, 3).verdict == "image_little_text"

    ascii_page = doc.new_page()
    ascii_page.insert_text((40, 60), "Cong hoa xa hoi chu nghia Viet Nam " * 8, fontsize=6)
    assert decide_text_layer(ascii_page, 4).verdict == "no_diacritics"

    unicode_page = header_page(doc, body_lines=2)
    decision = decide_text_layer(unicode_page, 5)
    assert decision.verdict == "text" and decision.page.source == TextSource.TEXT


# --- OCR -------------------------------------------------------------------------------------

def test_scanned_pdf_is_ocr_read_with_boxes_in_points():
    doc = pymupdf.open()
    page = header_page(doc)
    scan = render_gray(page, 200)
    result = read_document_bytes(scan_pdf(scan), "scan.pdf", ocr_dpi=300)
    page = result.pages[0]
    assert page.source == TextSource.OCR and page.text_layer_verdict == "empty"
    assert result.text_source == "ocr"
    assert_lines_found([line.text for line in page.lines], HEADER)
    motto = max(page.lines, key=lambda line: fuzz.ratio(line.text, MOTTO))
    assert motto.bbox.x0 == pytest.approx(290, abs=4) and motto.bbox.y1 == pytest.approx(60, abs=5)
    assert 0.5 < page.mean_confidence <= 1.0


def test_ocr_of_a_clip_only():
    doc = pymupdf.open()
    page = header_page(doc)
    result = ocr_page(page, 1, dpi=200, clip=BBox(280, 40, 595, 120))
    texts = [line.text for line in result.lines]
    assert_lines_found(texts, (MOTTO, MOTTO2, DATE_LINE))
    assert max(fuzz.ratio(t, AGENCY) for t in texts) < 60   # outside the clip
    assert (result.width, result.height) == (595, 842)
    motto = max(result.lines, key=lambda line: fuzz.ratio(line.text, MOTTO))
    assert motto.bbox.x0 == pytest.approx(290, abs=4)


def test_deskew_of_a_rotated_scan(header_scan_300):
    angle = 1.5
    tilted = header_scan_300.rotate(-angle, resample=Image.Resampling.BICUBIC, fillcolor=255)
    assert estimate_skew(tilted) == pytest.approx(angle, abs=0.2)
    assert estimate_skew(header_scan_300) == pytest.approx(0, abs=0.1)
    lines = ocr_image(tilted, px_per_pt=300 / 72)
    assert_lines_found([line.text for line in lines], HEADER)
    # The box of the motto's second line is where the tilt put it (rotation about the centre).
    cx, cy = 595 / 2, 140 / 2
    x, y = 335 - cx, 73 - cy
    rad = math.radians(-angle)
    expected_x = cx + x * math.cos(rad) + y * math.sin(rad)
    expected_y = cy - x * math.sin(rad) + y * math.cos(rad)
    motto2 = max(lines, key=lambda line: fuzz.ratio(line.text, MOTTO2))
    assert motto2.bbox.x0 == pytest.approx(expected_x, abs=4)
    assert (motto2.bbox.y0 + motto2.bbox.y1) / 2 == pytest.approx(expected_y, abs=6)


def test_png_and_multipage_tiff(tmp_path: Path, header_scan_300):
    png = tmp_path / "scan.bin"          # the type comes from the bytes, not the name
    header_scan_300.save(png, format="PNG")
    result = read_document(png)
    assert result.kind == "image" and len(result.pages) == 1
    page = result.pages[0]
    assert page.width == pytest.approx(595, abs=1)    # 300 dpi assumed: no dpi stored
    assert_lines_found([line.text for line in page.lines], HEADER)

    jpeg = tmp_path / "scan.jpg"
    band = header_scan_300.crop((1200, 0, header_scan_300.width, header_scan_300.height))
    band.convert("RGB").save(jpeg, format="JPEG", quality=90, dpi=(150, 150))
    result = read_document(jpeg)
    assert result.pages[0].width == pytest.approx(band.width * 72 / 150, abs=1)
    assert_lines_found([line.text for line in result.pages[0].lines], (MOTTO, MOTTO2))

    width, height = header_scan_300.size
    small = header_scan_300.resize((width * 2 // 3, height * 2 // 3))
    second = small.crop((small.width // 2, 0, small.width, small.height))
    tiff = tmp_path / "scan.tif"
    small.save(tiff, format="TIFF", dpi=(200, 200), save_all=True, append_images=[second],
               compression="tiff_deflate")
    result = read_document(tiff)
    assert len(result.pages) == 2 and result.text_source == "ocr"
    first, half = result.pages
    assert first.width == pytest.approx(595, abs=1)   # 200 dpi honoured
    assert half.width == pytest.approx(595 / 2, abs=1)
    assert_lines_found([line.text for line in first.lines], HEADER)
    assert_lines_found([line.text for line in half.lines], (MOTTO, MOTTO2, DATE_LINE))


def test_missing_tesseract_is_reported(monkeypatch):
    monkeypatch.setattr(pytesseract.pytesseract, "tesseract_cmd", "/nonexistent/tesseract")
    ocr_module.check_tesseract.cache_clear()
    try:
        doc = pymupdf.open()
        with pytest.raises(OcrUnavailableError, match="tesseract-ocr"):
            ocr_page(doc.new_page(), 1)
    finally:
        ocr_module.check_tesseract.cache_clear()


# --- inputs ----------------------------------------------------------------------------------

def test_document_hash_kind_and_text_source(tmp_path: Path):
    data = header_pdf(body_lines=5)
    path = tmp_path / "kh.pdf"
    path.write_bytes(data)
    result = read_document(path)
    assert result.sha256 == hashlib.sha256(data).hexdigest()
    assert result.kind == "pdf" and result.text_source == "text" and result.errors == ()
    assert detect_kind(b"junk\n%PDF-1.7\n") == "pdf" and detect_kind(b"plain") is None


def bad_inputs(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    doc = pymupdf.open()
    header_page(doc, body_lines=10)
    header_page(doc, body_lines=10)
    data = doc.tobytes()
    encrypted = tmp_path / "encrypted.pdf"
    doc.save(encrypted, encryption=pymupdf.mupdf.PDF_ENCRYPT_AES_256, user_pw="secret",
             owner_pw="owner")
    truncated = tmp_path / "truncated.pdf"
    truncated.write_bytes(data[: len(data) // 2])
    text = tmp_path / "notes.pdf"
    text.write_text("Biên bản họp ban chỉ đạo\n", encoding="utf-8")
    empty = tmp_path / "empty.pdf"
    empty.write_bytes(b"")
    folder = tmp_path / "folder.pdf"
    folder.mkdir()
    png = io.BytesIO()
    Image.new("L", (400, 300), 255).save(png, format="PNG")
    cut_png = tmp_path / "cut.png"
    cut_png.write_bytes(png.getvalue()[: len(png.getvalue()) // 2])
    return {
        "missing": (tmp_path / "missing.pdf", "no such file"),
        "directory": (folder, "directory"),
        "zero bytes": (empty, "empty"),
        "text renamed .pdf": (text, "not a PDF"),
        "encrypted": (encrypted, "password"),
        "truncated": (truncated, "truncated"),
        "truncated image": (cut_png, "truncated"),
    }


@pytest.mark.parametrize("case", ["missing", "directory", "zero bytes", "text renamed .pdf",
                                  "encrypted", "truncated", "truncated image"])
def test_bad_inputs_raise_one_clear_line(tmp_path: Path, case: str):
    path, expected = bad_inputs(tmp_path)[case]
    with pytest.raises(InputFileError) as raised:
        read_document(path)
    message = raised.value.message
    assert expected in message and str(path) in message and "\n" not in message


def test_truncated_pdf_that_still_reads_is_kept_with_an_error():
    data = header_pdf(body_lines=5)
    cut = data[: data.rindex(b"xref")]            # cross-reference table and %%EOF lost
    result = read_document_bytes(cut, "cut.pdf")
    assert any("damaged or truncated" in e for e in result.errors)
    assert BODY in result.pages[0].text


# --- realistic samples (samples/render.py, samples/scan.py) -----------------------------------

def test_realistic_samples_tcvn3_and_stamped_scan():
    """A generated document: its TCVN3 variant reads as the Unicode one, and OCR of the printed,
    signed and stamped page still finds the signer's title and name under the seal."""
    import random

    from kiemchung.models.fields import DocType
    from samples import content, render, scan

    spec = content.make_spec(random.Random(2024), DocType.KE_HOACH)
    pdf, layout = render.render_pdf_with_layout(spec)
    digital = read_document_bytes(pdf, "kh.pdf")
    legacy = read_document_bytes(render.render_pdf_with_layout(spec, tcvn3=True)[0], "kh-abc.pdf")
    assert {p.source for p in legacy.pages} == {TextSource.TCVN3}
    for ours, theirs in zip(legacy.pages, digital.pages):
        assert fuzz.ratio(ours.text, theirs.text) >= 98

    signed = scan.scan_pages(pdf, layout, dpi=300, seed=7)[layout.signer_page - 1]
    lines = ocr_image(signed, px_per_pt=300 / 72)
    expected = tuple(t for t in (spec.authority_line, spec.signer_title, spec.signer_name) if t)
    assert_lines_found([line.text for line in lines], expected, minimum=85)
