"""Red seal and handwritten signature on scans and e-documents (extractors/seal.py)."""

from __future__ import annotations

import io
import math
import random
from functools import lru_cache

import numpy as np
import pymupdf
import pytest
from PIL import Image, ImageDraw, ImageFont

from kiemchung.extractors.seal import (
    find_marks,
    find_marks_images,
    find_marks_pdf,
    find_marks_rgb,
    stamp_frames,
)
from kiemchung.models.document import BBox
from kiemchung.models.marks import AuthenticityMarks, HandwritingMark, SealMark
from samples.content import make_spec
from samples.render import font_file, render_pdf_with_layout
from samples.scan import scan_pages, to_image_pdf

SCAN_DPI = 150


@lru_cache(maxsize=None)
def _document(seed: int):
    return render_pdf_with_layout(make_spec(random.Random(seed)))


@lru_cache(maxsize=None)
def _scan(seed: int, seal: bool, handwriting: bool, dpi: int = SCAN_DPI):
    data, layout = _document(seed)
    return tuple(scan_pages(data, layout, dpi=dpi, seed=seed, seal=seal,
                            handwriting=handwriting)), layout


def _near(box: BBox, area: BBox, margin: float = 40.0) -> bool:
    """The box's centre lies in `area` widened by `margin` points."""
    cx, cy = (box.x0 + box.x1) / 2, (box.y0 + box.y1) / 2
    return (area.x0 - margin <= cx <= area.x1 + margin
            and area.y0 - margin <= cy <= area.y1 + margin)


def _rgb(image: Image.Image) -> np.ndarray:
    return np.asarray(image.convert("RGB"), dtype=np.uint8)


# --- scans made by the project's generator ---------------------------------------------------

@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_seal_and_signature_found_in_the_signer_block_of_a_scan(seed):
    images, layout = _scan(seed, True, True)
    marks = find_marks_images(list(images), [SCAN_DPI] * len(images))
    assert marks.has_seal
    assert [s.page for s in marks.seals] == [layout.signer_page]
    seal = marks.seals[0]
    assert _near(seal.bbox, layout.signature_bbox)
    side_mm = (seal.bbox.x1 - seal.bbox.x0) * 25.4 / 72
    assert 30 <= side_mm <= 48            # the generator's seals are ~36–41 mm across
    assert seal.roundness > 0.7 and seal.confidence > 0.7
    assert [h.page for h in marks.handwriting] == [layout.signer_page]
    assert _near(marks.handwriting[0].bbox, layout.signature_bbox, margin=10)


@pytest.mark.parametrize("seed", [4, 5])
def test_image_only_pdf_of_a_scan(seed):
    images, layout = _scan(seed, True, True)
    with pymupdf.open(stream=to_image_pdf(list(images), SCAN_DPI)) as doc:
        marks = find_marks_pdf(doc)
    assert [s.page for s in marks.seals] == [layout.signer_page]
    assert _near(marks.seals[0].bbox, layout.signature_bbox)
    assert [h.page for h in marks.handwriting] == [layout.signer_page]


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_the_same_scan_without_seal_or_signature_has_neither(seed):
    images, _ = _scan(seed, False, False)
    marks = find_marks_images(list(images), [SCAN_DPI] * len(images))
    assert not marks.has_seal
    assert not marks.has_handwriting


@pytest.mark.parametrize("seed", [6, 7])
def test_signature_without_seal_and_seal_without_signature(seed):
    images, layout = _scan(seed, False, True)
    marks = find_marks_images(list(images), [SCAN_DPI] * len(images))
    assert not marks.has_seal
    assert [h.page for h in marks.handwriting] == [layout.signer_page]

    images, layout = _scan(seed, True, False)
    marks = find_marks_images(list(images), [SCAN_DPI] * len(images))
    assert [s.page for s in marks.seals] == [layout.signer_page]
    assert not marks.has_handwriting


def test_boxes_are_points_whatever_the_scan_resolution():
    low = find_marks_images([_scan(8, True, True, 150)[0][-1]], [150])
    high = find_marks_images([_scan(8, True, True, 300)[0][-1]], [300])
    assert low.has_seal and high.has_seal
    a, b = low.seals[0].bbox, high.seals[0].bbox
    assert max(abs(a.x0 - b.x0), abs(a.y0 - b.y0), abs(a.x1 - b.x1), abs(a.y1 - b.y1)) < 6


def test_image_resolution_read_from_the_file():
    images, layout = _scan(9, True, True)
    page = images[layout.signer_page - 1]
    buf = io.BytesIO()
    page.save(buf, "PNG", dpi=(SCAN_DPI, SCAN_DPI))
    marks = find_marks([Image.open(io.BytesIO(buf.getvalue()))])
    assert marks.has_seal and _near(marks.seals[0].bbox, layout.signature_bbox)


# --- things that are red or dark but not marks --------------------------------------------------

def test_red_heading_text_is_not_a_seal():
    data, layout = _document(10)
    with pymupdf.open(stream=data) as doc:
        page = doc[0]
        page.insert_text((60, 200), "KHẨN - THỰC HIỆN NGAY", fontsize=30,
                         fontname="LiberationB", fontfile=font_file("B"), color=(0.85, 0.1, 0.1))
        for i in range(4):   # a red paragraph under it: a square-ish block of red text
            page.insert_text((60, 240 + 18 * i), "Ủy ban nhân dân huyện yêu cầu các đơn vị "
                             "khẩn trương triển khai thực hiện", fontsize=13,
                             fontname="LiberationR", fontfile=font_file("R"),
                             color=(0.8, 0.1, 0.15))
        data = doc.tobytes()
    images = scan_pages(data, layout, dpi=SCAN_DPI, seed=10, seal=False, handwriting=False)
    red_pixels = int(np.count_nonzero(_rgb(images[0])[..., 0].astype(int)
                                      - _rgb(images[0])[..., 1:].max(axis=2) > 60))
    assert red_pixels > 2000    # the heading really is there, and red
    assert not find_marks_images(images, [SCAN_DPI] * len(images)).has_seal


def test_red_frame_and_red_disc_are_not_seals():
    dpi = 100
    page = Image.new("RGB", (827, 1169), (248, 246, 240))
    draw = ImageDraw.Draw(page)
    side = round(40 / 25.4 * dpi)     # seal-sized, but square: a "KHẨN" style frame
    draw.rectangle((100, 100, 100 + side, 100 + side), outline=(210, 30, 40), width=4)
    font = ImageFont.truetype(font_file("B"), 30)
    draw.text((115, 140), "KHẨN", font=font, fill=(210, 30, 40))
    draw.ellipse((450, 400, 450 + side, 400 + side), fill=(210, 30, 40))   # a filled red disc
    seals, _ = find_marks_rgb(_rgb(page), page=1, dpi=dpi)
    assert seals == []


def test_born_digital_document_has_no_marks():
    for seed in (0, 1, 2):
        data, _ = _document(seed)
        with pymupdf.open(stream=data) as doc:
            assert find_marks_pdf(doc) == AuthenticityMarks()
            # Not only because the page is skipped: its rendering has nothing either.
            for page in doc:
                pix = page.get_pixmap(dpi=100, alpha=False)
                rgb = np.frombuffer(pix.samples, np.uint8).reshape(pix.height, pix.width, 3)
                assert find_marks_rgb(rgb, page=page.number + 1, dpi=100) == ([], [])


# --- e-documents: seal and signature as images on a born-digital page ---------------------------

def _seal_png(diameter_px: int) -> bytes:
    """A red ring seal with text round the rim and a star, on a transparent background."""
    size = diameter_px + 4
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    red = (215, 30, 40, 255)
    c, r = size / 2, diameter_px / 2
    draw.ellipse((c - r, c - r, c + r, c + r), outline=red, width=max(3, diameter_px // 45))
    inner = r * 0.66
    draw.ellipse((c - inner, c - inner, c + inner, c + inner), outline=red, width=2)
    font = ImageFont.truetype(font_file("B"), max(8, diameter_px // 14))
    text = "ỦY BAN NHÂN DÂN HUYỆN PHÚ VANG ★ "
    for i, ch in enumerate(text):
        a = -math.pi + 2 * math.pi * i / len(text)
        draw.text((c + 0.83 * r * math.cos(a), c + 0.83 * r * math.sin(a)), ch, font=font,
                  fill=red, anchor="mm")
    star = []
    for k in range(10):
        radius = inner * (0.5 if k % 2 == 0 else 0.2)
        angle = -math.pi / 2 + k * math.pi / 5
        star.append((c + radius * math.cos(angle), c + radius * math.sin(angle)))
    draw.polygon(star, fill=red)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def _signature_png(width_px: int, height_px: int) -> bytes:
    img = Image.new("RGBA", (width_px, height_px), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    points = [(width_px * (0.05 + 0.9 * t),
               height_px * (0.5 + 0.38 * math.sin(t * 13) * (1 - 0.4 * t)))
              for t in np.linspace(0, 1, 160)]
    draw.line(points, fill=(20, 50, 170, 255), width=max(2, width_px // 90), joint="curve")
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


def test_e_document_seal_and_signature_images():
    data, layout = _document(11)
    with pymupdf.open(stream=data) as doc:
        page = doc[layout.signer_page - 1]
        box = layout.signature_bbox
        sig = pymupdf.Rect(box.x0 + 70, box.y0, box.x0 + 200, box.y1)
        page.insert_image(sig, stream=_signature_png(520, 272))
        side = 40 / 25.4 * 72
        cx, cy = sig.x0 + sig.width / 3 - side * 0.4, (sig.y0 + sig.y1) / 2
        page.insert_image(pymupdf.Rect(cx - side / 2, cy - side / 2, cx + side / 2, cy + side / 2),
                          stream=_seal_png(320))
        marks = find_marks_pdf(doc)
    assert [s.page for s in marks.seals] == [layout.signer_page]
    assert _near(marks.seals[0].bbox, layout.signature_bbox)
    assert [h.page for h in marks.handwriting] == [layout.signer_page]
    assert _near(marks.handwriting[0].bbox, layout.signature_bbox, margin=10)


# --- the model and the speed --------------------------------------------------------------------

def test_marks_model_derives_has_seal_and_serialises():
    seal = SealMark(page=2, bbox=BBox(300, 600, 413.4, 713.4), red_ratio=0.15, roundness=0.9,
                    confidence=0.94)
    ink = HandwritingMark(page=2, bbox=BBox(350, 620, 480, 680), ink_ratio=0.06, confidence=0.9)
    marks = AuthenticityMarks(seals=(seal,), handwriting=(ink,))
    assert marks.has_seal and not AuthenticityMarks().has_seal
    assert marks.seals_on(2) == (seal,) and marks.seals_on(1) == ()
    js = marks.to_json()
    assert js["has_seal"] is True and js["seals"][0]["bbox"] == [300.0, 600.0, 413.4, 713.4]
    assert js["handwriting"][0]["page"] == 2


# --- registry stamps' frames, on the black-and-white image OCR reads (300 dpi) -------------

def _ink(draw_on) -> np.ndarray:
    image = Image.new("L", (1200, 900), 255)
    draw_on(image, ImageDraw.Draw(image), ImageFont.truetype(font_file("B"), 36))
    return np.asarray(image) < 128


def test_a_registry_stamps_frame_is_found_turned_and_with_text_inside():
    def stamp(image, _draw, font):
        frame = Image.new("L", (560, 230), 255)
        inner = ImageDraw.Draw(frame)
        inner.rectangle((2, 2, 557, 227), outline=0, width=5)
        for i, line in enumerate(["SỞ NỘI VỤ", "ĐẾN  Số: 9639", "Ngày: 19/05/2025"]):
            inner.text((24, 18 + 68 * i), line, font=font, fill=0)
        image.paste(frame.rotate(3, expand=True, fillcolor=255), (300, 200))
    frames = stamp_frames(_ink(stamp), 300 / 72)
    assert len(frames) == 1
    x0, y0, x1, y1 = frames[0]
    assert 290 <= x0 <= 320 and 190 <= y0 <= 220 and 850 <= x1 <= 890 and 440 <= y1 <= 480


def test_a_frame_cut_by_the_page_edge_is_a_frame_and_a_paragraph_is_none():
    def cut(_image, draw, font):      # its left side beyond the page
        draw.rectangle((-10, 300, 500, 520), outline=0, width=5)
        draw.text((20, 380), "ĐẾN Số: 2770", font=font, fill=0)
    assert len(stamp_frames(_ink(cut), 300 / 72)) == 1

    def paragraph(_image, draw, font):   # lines of text, the size of a stamp, without a frame
        for i in range(4):
            draw.text((200, 200 + 48 * i), "Căn cứ Luật Tổ chức chính quyền", font=font, fill=0)
    assert stamp_frames(_ink(paragraph), 300 / 72) == []
