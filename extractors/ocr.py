"""Tesseract (Vietnamese model) on rendered PDF pages, page regions and images.

Pages are rendered, turned to gray with the seal's and signature's colours removed (see
`ink_gray`), straightened when scanned slightly askew (±3°), and the word boxes Tesseract finds
are mapped back to PDF points of the page as displayed.
"""

from __future__ import annotations

import functools
import math
import os
import shutil

import numpy as np
import pymupdf
import pytesseract
from PIL import Image

from extractors.limits import OCR_PIXELS, render_dpi
from models.document import BBox, Line, Page, TextSource, Word, nfc
from models.errors import OcrUnavailableError

LANG = "vie"
CONFIG = "--psm 3 --oem 1"
MAX_SKEW = 3.0          # degrees; larger rotations are not the slight tilt of a feeder scan
_SKEW_STEP = 0.25       # coarse search step, refined to 0.05 around the best angle
_NOISE_CONFIDENCE = 0.6  # a line of marks only (no letter or digit) read below it is specks
_SPECK_SIZE = 0.15      # a mark smaller than this share of the letters' height both ways
_FAINT_CHROMA = 20      # … and the tint that still counts next to such ink
_DARK_PRINT = 110       # gray level under which a faintly tinted pixel is print, kept
_COLOUR_CHROMA = 60     # max−min of R, G, B above which a pixel is seal or signature ink
_SKEW_WIDTH = 1000      # pixels: the skew search runs on a reduced copy this wide


@functools.cache
def check_tesseract() -> None:
    """Raise OcrUnavailableError unless Tesseract and its Vietnamese model are installed."""
    if shutil.which(pytesseract.pytesseract.tesseract_cmd) is None:
        raise OcrUnavailableError(
            "Tesseract OCR is not installed: install the Debian packages tesseract-ocr and "
            "tesseract-ocr-vie (apt-get install tesseract-ocr tesseract-ocr-vie)")
    try:
        languages = pytesseract.get_languages(config="")
    except (pytesseract.TesseractError, OSError) as exc:
        raise OcrUnavailableError(f"Tesseract OCR does not run ({exc}): reinstall the Debian "
                                  "package tesseract-ocr") from exc
    if LANG not in languages:
        raise OcrUnavailableError(
            "Tesseract's Vietnamese model is missing: install the Debian package "
            "tesseract-ocr-vie")


def ocr_page(page: pymupdf.Page, number: int, dpi: int = 300, clip: BBox | None = None,
             *, verdict: str = "") -> Page:
    """OCR a PDF page, or only the region `clip` of it (points, page as displayed).

    The result is a Page with the whole page's size; boxes are in points of that page.
    Raises TooLargeToRender when the page cannot be rendered within the pixel budget.
    """
    check_tesseract()
    rect = page.rect
    area = rect if clip is None else pymupdf.Rect(clip.x0, clip.y0, clip.x1, clip.y1) & rect
    lines: tuple[Line, ...] = ()
    if not area.is_empty:
        # A poster-size page at full resolution would take minutes and gigabytes.
        dpi = render_dpi(page, area, dpi, OCR_PIXELS)
        pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csRGB, clip=area, alpha=False)
        image = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
        lines = ocr_image(image, px_per_pt=pix.width / area.width, origin=(area.x0, area.y0))
    return Page(number=number, width=rect.width, height=rect.height, source=TextSource.OCR,
                lines=lines, text_layer_verdict=verdict)


def ink_gray(image: Image.Image) -> Image.Image:
    """Grayscale for OCR with strongly coloured pixels made white.

    The red seal and the blue signature over the signer block make Tesseract take the whole
    block for a picture and skip the title and name; black print has almost no colour and
    stays, also where the seal covers it. (Coloured print is lost too: admin documents are
    printed in black.)"""
    if image.mode == "L":
        return image
    rgb = image.convert("RGB")
    pixels = np.asarray(rgb, dtype=np.int16)
    chroma = pixels.max(axis=2) - pixels.min(axis=2)
    gray = np.array(rgb.convert("L"))
    strong = chroma > _COLOUR_CHROMA
    if strong.any():
        # The strokes' anti-aliased and JPEG-blurred edges are paler: next to strong colour,
        # take a faint tint as ink too, or the seal's outline stays as a grey ring. Removed
        # ink becomes the paper's own shade, not white, so that it leaves no outline either.
        # Dark pixels stay: print that the seal covers blends with its red at the edges.
        pale_tint = (chroma > _FAINT_CHROMA) & (gray > _DARK_PRINT)
        colour = strong | (_dilate(strong, 2) & pale_tint)
        gray[colour] = int(np.median(gray[::7, ::7]))
    return Image.fromarray(gray)


def _dilate(mask: np.ndarray, radius: int) -> np.ndarray:
    """Grow a boolean mask by `radius` pixels (a square), rows then columns."""
    grown = mask.copy()
    for shift in range(1, radius + 1):
        grown[shift:, :] |= mask[:-shift, :]
        grown[:-shift, :] |= mask[shift:, :]
    rows = grown.copy()
    for shift in range(1, radius + 1):
        grown[:, shift:] |= rows[:, :-shift]
        grown[:, :-shift] |= rows[:, shift:]
    return grown


def ocr_image(image: Image.Image, *, px_per_pt: float, origin: tuple[float, float] = (0.0, 0.0),
              deskew: bool = True) -> tuple[Line, ...]:
    """OCR an image (colour goes through `ink_gray`); boxes come back in points:
    pixel / px_per_pt + origin."""
    check_tesseract()
    image = ink_gray(image)
    angle = estimate_skew(image) if deskew else 0.0
    straight = image
    if angle:
        straight = image.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True,
                                fillcolor=255)
    data = _tesseract(straight)
    to_page = _PixelToPage(image.size, straight.size, angle, px_per_pt, origin)
    return _lines_from_data(data, to_page)


def estimate_skew(image: Image.Image, max_angle: float = MAX_SKEW) -> float:
    """The rotation (degrees, counter-clockwise as PIL's `rotate`) that makes text lines
    horizontal: the angle whose row profile of ink is sharpest. 0.0 for a blank image."""
    small = image.convert("L")
    if small.width > _SKEW_WIDTH:
        small = small.resize((_SKEW_WIDTH, max(1, round(small.height * _SKEW_WIDTH / small.width))),
                             Image.Resampling.BILINEAR)
    pixels = np.asarray(small, dtype=np.uint8)
    # Ink is what is clearly darker than the page; a mostly dark image has no text lines.
    threshold = min(160, int(np.percentile(pixels, 50)) - 40)
    ink = np.where(pixels < threshold, 255, 0).astype(np.uint8)
    if ink.mean() < 0.5 or ink.mean() > 128:
        return 0.0
    ink_image = Image.fromarray(ink)

    def sharpness(angle: float) -> float:
        rotated = np.asarray(ink_image.rotate(angle, resample=Image.Resampling.NEAREST,
                                              expand=True, fillcolor=0), dtype=np.float64)
        rows = rotated.sum(axis=1)
        return float(np.sum(np.diff(rows) ** 2))

    coarse = np.arange(-max_angle, max_angle + 1e-9, _SKEW_STEP)
    best = max(coarse, key=sharpness)
    fine = np.arange(best - _SKEW_STEP, best + _SKEW_STEP + 1e-9, 0.05)
    best = max(fine, key=sharpness)
    best = float(round(best, 2))
    return 0.0 if abs(best) < 0.1 else best


class _PixelToPage:
    """Maps a pixel of the straightened image back to points of the original page."""

    def __init__(self, original: tuple[int, int], straight: tuple[int, int], angle: float,
                 px_per_pt: float, origin: tuple[float, float]):
        self.cx, self.cy = original[0] / 2.0, original[1] / 2.0
        self.sx, self.sy = straight[0] / 2.0, straight[1] / 2.0
        rad = math.radians(angle)
        self.cos, self.sin = math.cos(rad), math.sin(rad)
        self.scale = px_per_pt
        self.origin = origin

    def point(self, x: float, y: float) -> tuple[float, float]:
        # PIL's rotate(angle) turns the picture counter-clockwise; undo it around the centres.
        dx, dy = x - self.sx, y - self.sy
        ox = self.cx + dx * self.cos - dy * self.sin
        oy = self.cy + dx * self.sin + dy * self.cos
        return ox / self.scale + self.origin[0], oy / self.scale + self.origin[1]

    def box(self, left: int, top: int, width: int, height: int) -> BBox:
        corners = [self.point(x, y) for x in (left, left + width) for y in (top, top + height)]
        xs = [c[0] for c in corners]
        ys = [c[1] for c in corners]
        return BBox(min(xs), min(ys), max(xs), max(ys))


def _tesseract(image: Image.Image) -> dict:
    # One OpenMP thread per Tesseract process: measured 3 s a dense page at 300 dpi with one,
    # 17–29 s with two on a 2-core machine. The subprocess inherits this environment.
    os.environ["OMP_THREAD_LIMIT"] = "1"
    try:
        return pytesseract.image_to_data(image, lang=LANG, config=CONFIG,
                                         output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractNotFoundError as exc:
        check_tesseract.cache_clear()
        raise OcrUnavailableError("Tesseract OCR is not installed: install the Debian packages "
                                  "tesseract-ocr and tesseract-ocr-vie") from exc


def _lines_from_data(data: dict, to_page: _PixelToPage) -> tuple[Line, ...]:
    grouped: dict[tuple[int, int, int], list[Word]] = {}
    for i, text in enumerate(data["text"]):
        text = nfc(text or "").strip()
        if data["level"][i] != 5 or not text:
            continue
        confidence = max(0.0, min(1.0, float(data["conf"][i]) / 100.0))
        box = to_page.box(data["left"][i], data["top"][i], data["width"][i], data["height"][i])
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        grouped.setdefault(key, []).append(Word(text=text, bbox=box, confidence=confidence))
    lines: list[Line] = []
    for key, words in grouped.items():
        words = _without_specks(words)
        if words:
            lines.extend(Line(words=part, block=key[0]) for part in _split_columns(words))
    return tuple(lines)


def _has_alnum(word: Word) -> bool:
    return any(ch.isalnum() for ch in word.text)


def _without_specks(words: list[Word]) -> list[Word]:
    """Drop specks and stray diacritics that Tesseract reads as „ ` : -- into a line: marks with
    no letter or digit that lie outside the band of the line's real words or are dots much
    smaller than its letters, or, in a line of marks only, read with low confidence."""
    real = [w for w in words if _has_alnum(w)]
    if not real:
        return [w for w in words if w.confidence >= _NOISE_CONFIDENCE]
    top = min(w.bbox.y0 for w in real)
    bottom = max(w.bbox.y1 for w in real)
    heights = sorted(w.bbox.y1 - w.bbox.y0 for w in real)
    dot = _SPECK_SIZE * heights[len(heights) // 2]

    def kept(w: Word) -> bool:
        if _has_alnum(w):
            return True
        inside = top <= (w.bbox.y0 + w.bbox.y1) / 2 <= bottom
        speck = w.bbox.x1 - w.bbox.x0 < dot and w.bbox.y1 - w.bbox.y0 < dot
        return inside and not speck

    return [w for w in words if kept(w)]


def _split_columns(words: list[Word]) -> list[tuple[Word, ...]]:
    """Tesseract may join two columns set on the same baseline (the agency and the motto of
    a header) into one line: split where the gap is wider than twice the line's height."""
    heights = sorted(w.bbox.y1 - w.bbox.y0 for w in words if _has_alnum(w)) or [
        w.bbox.y1 - w.bbox.y0 for w in words]
    limit = 2.0 * heights[len(heights) // 2]
    parts: list[list[Word]] = [[words[0]]]
    for previous, word in zip(words, words[1:]):
        if word.bbox.x0 - previous.bbox.x1 > limit:
            parts.append([])
        parts[-1].append(word)
    return [tuple(p) for p in parts]
