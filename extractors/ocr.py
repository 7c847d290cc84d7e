"""Tesseract (Vietnamese model) on rendered PDF pages, page regions and images.

Pages are rendered, turned to gray with the seal's and signature's colours removed (see
`ink_gray`), binarised against their local background (`binarise`: grey paper, show-through,
uneven light), straightened when scanned slightly askew (±3°), and the word boxes Tesseract
finds are mapped back to PDF points of the page as displayed.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import math
import os
import shutil
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pymupdf
import pytesseract
from PIL import Image

from kiemchung.extractors.lexicon import snap_line
from kiemchung.extractors.limits import OCR_PIXELS, render_dpi
from kiemchung.extractors.regions import SignerArea
from kiemchung.extractors.seal import stamp_frames
from kiemchung.models.document import BBox, Line, Page, TextSource, Word, nfc
from kiemchung.models.errors import OcrUnavailableError
from kiemchung.models.timing import stage

LANG = "vie"
CONFIG = "--psm 3 --oem 1"        # page layout analysis: the header's two columns
BLOCK_CONFIG = "--psm 6 --oem 1"  # one block: the signer area (see regions.SignerArea)
MAX_SKEW = 3.0          # degrees; larger rotations are not the slight tilt of a feeder scan
_SKEW_STEP = 0.25       # coarse search step, refined to 0.05 around the best angle
_NOISE_CONFIDENCE = 0.6  # a line of marks only (no letter or digit) read below it is specks
_SPECK_SIZE = 0.15      # a mark smaller than this share of the letters' height both ways
_FAINT_CHROMA = 20      # … and the tint that still counts next to such ink
_DARK_PRINT = 110       # gray level under which a faintly tinted pixel is print, kept
_TINT_REACH = 2         # pixels from strong colour within which a faint tint is ink too
_COLOUR_CHROMA = 60     # max−min of R, G, B above which a pixel is seal or signature ink
_SKEW_WIDTH = 1000      # pixels: the skew search runs on a reduced copy this wide
# Sauvola's local threshold: a pixel is ink when darker than mean·(1 + k·(std/128 − 1)) of the
# window around it. Measured on the real scans of ../shared/realdocs (header band and signer
# area read against the labels): a window of 1/4 inch (two lines of text) read more lines
# right than 1/10 or 1/2 inch, or Tesseract's own global threshold; k 0.2 over 0.1 and 0.3.
_SAUVOLA_WINDOW = 0.25  # inches
_SAUVOLA_K = 0.2
_SAUVOLA_CELL = 1 / 75  # inches: mean and spread are taken on a grid of cells this wide
_SAUVOLA_GRID = 1_000_000  # cells at most
_STRIP_CELLS = 64       # cell rows binarised at a time (memory)
# Signs no administrative text prints inside a word: Tesseract gives them to handwriting and
# strokes it cannot read (`Số:2%5` for a handwritten 289, `ngày,#$`, `Z⁄⁄`), often with the
# confidence of print. Such a word is doubtful whatever Tesseract says.
_GARBLED = frozenset("†‡#⁄|Ø@¬^~*$§¤¡¿™«»\\")
_GARBLED_CONFIDENCE = 0.3
_STROKE_CONFIDENCE = 0.25  # in a signer area, a word read below it at a line's end is strokes
_MIDDLE = (0.35, 0.55)  # share of an area's width where a header's two columns meet
_COLUMN_GAP = 1.2       # line heights: a gap there this wide parts the columns


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


@dataclass(frozen=True)
class Rendered:
    """A page region rendered for OCR (`render_for_ocr`), to be read by `read_rendered`: the
    rendering needs the document (MuPDF, one thread at a time), the reading does not."""

    image: Image.Image | None       # None: the region is empty
    px_per_pt: float = 1.0
    origin: tuple[float, float] = (0.0, 0.0)
    block: bool = False             # a signer area: one block of text
    stamps: bool = False            # the top of page 1, where registry stamps are put


def render_for_ocr(page: pymupdf.Page, dpi: int = 300, clip: BBox | None = None) -> Rendered:
    """Render a PDF page, or only the region `clip` of it (points, page as displayed). Raises
    TooLargeToRender when the page cannot be rendered within the pixel budget."""
    check_tesseract()
    rect = page.rect
    area = rect if clip is None else pymupdf.Rect(clip.x0, clip.y0, clip.x1, clip.y1) & rect
    if area.is_empty:
        return Rendered(None)
    with stage("ocr"):              # rendering for OCR is OCR's time
        # A poster-size page at full resolution would take minutes and gigabytes.
        dpi = render_dpi(page, area, dpi, OCR_PIXELS)
        pix = page.get_pixmap(dpi=dpi, colorspace=pymupdf.csRGB, clip=area, alpha=False)
        image = Image.frombytes("RGB", (pix.width, pix.height), pix.samples)
    return Rendered(image, pix.width / area.width, (area.x0, area.y0),
                    isinstance(clip, SignerArea), page.number == 0 and area.y0 <= rect.y0 + 1)


def read_rendered(rendered: Rendered) -> tuple[Line, ...]:
    """Tesseract on a rendered region; boxes in points of its page. Safe in any thread."""
    if rendered.image is None:
        return ()
    return ocr_image(rendered.image, px_per_pt=rendered.px_per_pt, origin=rendered.origin,
                     block=rendered.block, stamps=rendered.stamps)


def ocr_page(page: pymupdf.Page, number: int, dpi: int = 300, clip: BBox | None = None,
             *, verdict: str = "") -> Page:
    """OCR a PDF page, or only the region `clip` of it (points, page as displayed).

    The result is a Page with the whole page's size; boxes are in points of that page.
    Raises TooLargeToRender when the page cannot be rendered within the pixel budget.
    """
    lines = read_rendered(render_for_ocr(page, dpi, clip))
    return Page(number=number, width=page.rect.width, height=page.rect.height,
                source=TextSource.OCR, lines=lines, text_layer_verdict=verdict)


# Threads reading one document's rendered regions at once (`parallel_ocr`): Tesseract runs as a
# process of its own, so two threads keep two cores busy on one document.
_OCR_THREADS: contextvars.ContextVar[int] = contextvars.ContextVar("kiemchung_ocr_threads",
                                                                  default=1)


@contextlib.contextmanager
def parallel_ocr(threads: int) -> Iterator[None]:
    """Within this block, a document's pages and regions are OCR'd `threads` at a time."""
    token = _OCR_THREADS.set(max(1, threads))
    try:
        yield
    finally:
        _OCR_THREADS.reset(token)


def ocr_threads() -> int:
    return _OCR_THREADS.get()


def ink_gray(image: Image.Image) -> Image.Image:
    """Grayscale for OCR with strongly coloured pixels made white.

    The red seal and the blue signature over the signer block make Tesseract take the whole
    block for a picture and skip the title and name; black print has almost no colour and
    stays, also where the seal covers it. (Coloured print is lost too: admin documents are
    printed in black.)"""
    if image.mode == "L":
        return image
    rgb = image.convert("RGB")
    # Per channel in uint8 (max ≥ min: no overflow): reducing a pixel's three values along the
    # last axis is many times slower on a 300-dpi page.
    r, g, b = (np.asarray(channel) for channel in rgb.split())
    chroma = np.maximum(np.maximum(r, g), b) - np.minimum(np.minimum(r, g), b)
    gray = np.array(rgb.convert("L"))
    strong = chroma > _COLOUR_CHROMA
    rows, cols = np.flatnonzero(strong.any(axis=1)), np.flatnonzero(strong.any(axis=0))
    if rows.size:
        # The strokes' anti-aliased and JPEG-blurred edges are paler: next to strong colour,
        # take a faint tint as ink too, or the seal's outline stays as a grey ring. Removed
        # ink becomes the paper's own shade, not white, so that it leaves no outline either.
        # Dark pixels stay: print that the seal covers blends with its red at the edges.
        # Only the box around the coloured ink (grown by the dilation) can change.
        y0, x0 = max(0, rows[0] - _TINT_REACH), max(0, cols[0] - _TINT_REACH)
        box = (slice(y0, rows[-1] + _TINT_REACH + 1), slice(x0, cols[-1] + _TINT_REACH + 1))
        inked = gray[box]                     # a view: colouring it colours the page
        pale_tint = (chroma[box] > _FAINT_CHROMA) & (inked > _DARK_PRINT)
        colour = strong[box] | (_dilate(strong[box], _TINT_REACH) & pale_tint)
        inked[colour] = int(np.median(gray[::7, ::7]))
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
              deskew: bool = True, block: bool = False, stamps: bool = False
              ) -> tuple[Line, ...]:
    """OCR an image (colour goes through `ink_gray`, then `binarise`); boxes come back in
    points: pixel / px_per_pt + origin. `block`: read it as one block of text (psm 6), not
    through Tesseract's page layout analysis. `stamps`: words inside a registry stamp's frame
    (extractors/seal.py) come as lines of their own, marked `Line.coloured` as a stamp in
    colour is: in grey, the frame is what tells them from the print."""
    check_tesseract()
    with stage("ocr"):
        image = binarise(ink_gray(image), px_per_pt * 72.0)
        angle = estimate_skew(image) if deskew else 0.0
        straight = image
        if angle:
            straight = image.rotate(angle, resample=Image.Resampling.BILINEAR, expand=True,
                                    fillcolor=255)
        data = tesseract_data(straight, BLOCK_CONFIG if block else CONFIG)
        frames = stamp_frames(np.asarray(straight) < 128, px_per_pt) if stamps else []
    to_page = _PixelToPage(image.size, straight.size, angle, px_per_pt, origin)
    frame_boxes = [to_page.box(x0, y0, x1 - x0, y1 - y0) for x0, y0, x1, y1 in frames]
    width = image.width / px_per_pt
    middle = (origin[0] + _MIDDLE[0] * width, origin[0] + _MIDDLE[1] * width)
    return _lines_from_data(data, to_page, middle, trim=block, frames=frame_boxes)


def binarise(gray: Image.Image, px_per_inch: float) -> Image.Image:
    """Black ink on white by Sauvola's local threshold: grey or uneven paper, show-through
    from the back of the sheet and JPEG haze become white, faint print stays (Tesseract's own
    threshold is global and leaves them grey or joins them to the letters). The mean and the
    spread are taken per cell of a coarse grid and interpolated back, which costs a few
    percent of the OCR time and a fraction of the memory of a full-resolution window."""
    pixels = np.asarray(gray if gray.mode == "L" else gray.convert("L"))
    height, width = pixels.shape
    # At least 4 pixels a cell and at most _SAUVOLA_GRID cells: the grid's float arrays stay
    # small whatever the resolution (a poster page is rendered at 74 dpi).
    step = max(4, round(px_per_inch * _SAUVOLA_CELL),
               math.ceil(math.sqrt(height * width / _SAUVOLA_GRID)))
    rows, cols = -(-height // step), -(-width // step)
    # Strip by strip, so that no full-size copy is made but the threshold map and the result:
    # a poster page within the OCR budget is 12 M pixels.
    sums = np.empty((rows, cols))
    squares = np.empty((rows, cols))
    for top in range(0, rows, _STRIP_CELLS):
        strip = pixels[top * step:(top + _STRIP_CELLS) * step]
        n = -(-strip.shape[0] // step)
        strip = np.pad(strip, ((0, n * step - strip.shape[0]), (0, cols * step - width)),
                       mode="edge").reshape(n, step, cols, step)
        sums[top:top + n] = strip.sum(axis=(1, 3), dtype=np.uint32)
        squares[top:top + n] = np.square(strip, dtype=np.uint32).sum(axis=(1, 3))
    mean = _box_mean(sums / (step * step), px_per_inch, step)
    square = _box_mean(squares / (step * step), px_per_inch, step)
    spread = np.sqrt(np.maximum(square - mean * mean, 0.0))
    threshold = mean * (1.0 + _SAUVOLA_K * (spread / 128.0 - 1.0))
    # Cell centres to pixels: bilinear over the grid, cropped to the image.
    grid = Image.fromarray(np.clip(np.rint(threshold), 0, 255).astype(np.uint8))
    limit = np.asarray(grid.resize((cols * step, rows * step),
                                   Image.Resampling.BILINEAR))[:height, :width]
    out = np.empty_like(pixels)
    for top in range(0, height, _STRIP_CELLS * step):
        rows_ = slice(top, top + _STRIP_CELLS * step)
        out[rows_] = np.where(pixels[rows_] > limit[rows_], np.uint8(255), np.uint8(0))
    return Image.fromarray(out)


def _box_mean(grid: np.ndarray, px_per_inch: float, step: int) -> np.ndarray:
    """The mean of `grid` over a square window of _SAUVOLA_WINDOW inches (odd, in cells)."""
    size = max(3, round(_SAUVOLA_WINDOW * px_per_inch / step)) | 1
    half = size // 2
    padded = np.pad(grid, half, mode="reflect") if min(grid.shape) > half else \
        np.pad(grid, half, mode="edge")
    total = np.zeros((padded.shape[0] + 1, padded.shape[1] + 1))
    total[1:, 1:] = padded.cumsum(0).cumsum(1)
    rows, cols = grid.shape
    return (total[size:size + rows, size:size + cols] - total[:rows, size:size + cols]
            - total[size:size + rows, :cols] + total[:rows, :cols]) / (size * size)


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
                                              expand=True, fillcolor=0))
        # Exact in integers (no float copy of the image): the sums stay far below 2**53.
        rows = rotated.sum(axis=1, dtype=np.int64)
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


def tesseract_data(image: Image.Image, config: str = CONFIG, lang: str = LANG) -> dict:
    """Tesseract's words, boxes and confidences for `image` (pytesseract's DICT output)."""
    # One OpenMP thread per Tesseract process: measured 3 s a dense page at 300 dpi with one,
    # 17–29 s with two on a 2-core machine. The subprocess inherits this environment.
    os.environ["OMP_THREAD_LIMIT"] = "1"
    # pytesseract hands the image over in a temporary file, PNG unless told: compressing it
    # costs about 0.1 s a region. An uncompressed PGM holds the same pixels, and Tesseract
    # reads it the same (identical output measured on real header bands).
    image.format = "PPM"
    try:
        return pytesseract.image_to_data(image, lang=lang, config=config,
                                         output_type=pytesseract.Output.DICT)
    except pytesseract.TesseractNotFoundError as exc:
        check_tesseract.cache_clear()
        raise OcrUnavailableError("Tesseract OCR is not installed: install the Debian packages "
                                  "tesseract-ocr and tesseract-ocr-vie") from exc


def _lines_from_data(data: dict, to_page: _PixelToPage,
                     middle: tuple[float, float] = (0.0, 0.0), trim: bool = False,
                     frames: list[BBox] | None = None) -> tuple[Line, ...]:
    """Tesseract's words as lines, in points; the words inside a registry stamp's `frames`
    (points) as lines of their own, marked `coloured`."""
    grouped: dict[tuple[int, int, int], list[Word]] = {}
    for i, text in enumerate(data["text"]):
        text = nfc(text or "").strip()
        if data["level"][i] != 5 or not text:
            continue
        confidence = max(0.0, min(1.0, float(data["conf"][i]) / 100.0))
        if any(ch in _GARBLED for ch in text):
            confidence = min(confidence, _GARBLED_CONFIDENCE)
        box = to_page.box(data["left"][i], data["top"][i], data["width"][i], data["height"][i])
        key = (data["block_num"][i], data["par_num"][i], data["line_num"][i])
        grouped.setdefault(key, []).append(Word(text=text, bbox=box, confidence=confidence))
    lines: list[Line] = []
    for key, words in grouped.items():
        words = _without_specks(words)
        if not words:
            continue
        for part in _split_columns(words, middle):
            part = without_strokes(part) if trim else part
            framed = [any(f.contains_centre(w.bbox) for f in frames or ()) for w in part]
            stamp = tuple(w for w, inside in zip(part, framed, strict=True) if inside)
            printed = tuple(w for w, inside in zip(part, framed, strict=True) if not inside)
            # With the marks Tesseract lost on known words given back.
            if printed:
                lines.append(snap_line(Line(words=printed, block=key[0])))
            if stamp:
                lines.append(snap_line(Line(words=stamp, block=key[0], coloured=True)))
    return tuple(lines)


def _has_alnum(word: Word) -> bool:
    # A modifier letter (ˆ ˜ ʼ, category Lm) alone is a stray diacritic, not a word.
    return any(ch.isalnum() and unicodedata.category(ch) != "Lm" for ch in word.text)


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


def without_strokes(words: tuple[Word, ...]) -> tuple[Word, ...]:
    """Read as one block, the strokes of a signature or a seal beside the title and the name
    come out as words of almost no confidence at the ends of their lines (`hiế Tần Duy Đông`,
    `se, GIÁM ĐÓC`) or as lines of such words: they are dropped. A word with three capitals in
    a row stays: it is a title's word with a stroke glued to it (`s.PHÓ`, `——Q.GIÁM`).
    Measured on the real signer areas: strokes read below 0.25, printed words above."""
    def stroke(word: Word) -> bool:
        return word.confidence < _STROKE_CONFIDENCE and not _capitals(word.text, 3)

    start, end = 0, len(words)
    while start < end and stroke(words[start]):
        start += 1
    while end > start and stroke(words[end - 1]):
        end -= 1
    return words[start:end]


def _capitals(text: str, count: int) -> bool:
    """Whether `text` has `count` capital letters in a row."""
    run = 0
    for ch in text:
        run = run + 1 if ch.isupper() else 0
        if run >= count:
            return True
    return False


def _split_columns(words: list[Word], middle: tuple[float, float] = (0.0, 0.0)
                   ) -> list[tuple[Word, ...]]:
    """Tesseract may join two columns set on the same baseline (the agency and the motto of
    a header) into one line: split where the gap is wider than twice the line's height, or
    than 1.2 times where it crosses `middle` (points), the middle of the area where the
    header's columns meet: some agencies' names end there a line-height from the motto."""
    heights = sorted(w.bbox.y1 - w.bbox.y0 for w in words if _has_alnum(w)) or [
        w.bbox.y1 - w.bbox.y0 for w in words]
    height = heights[len(heights) // 2]
    # A mark with no letter or digit (a speck read as `ˆ` or `—`) does not bridge a gap: the
    # gap is measured between words, and a mark in a gap that parts columns is dropped.
    parts: list[list[Word]] = [[words[0]]]
    previous, pending = words[0], []
    for word in words[1:]:
        if not _has_alnum(word):
            pending.append(word)
            continue
        gap = word.bbox.x0 - previous.bbox.x1
        # … a gap between a part begun in the left column and a word in the right one
        central = parts[-1][0].bbox.x0 < middle[0] and previous.bbox.x1 < middle[1] \
            and word.bbox.x0 > middle[0]
        if gap > 2.0 * height or (central and gap > _COLUMN_GAP * height):
            parts.append([])
        else:
            parts[-1].extend(pending)
        parts[-1].append(word)
        previous, pending = word, []
    parts[-1].extend(pending)
    return [tuple(p) for p in parts]
