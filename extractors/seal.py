"""The red official seal and the handwritten signature, found on rendered pages by colour and shape.

A scanned paper document carries no digital signature: the seal (a red ring ~40 mm across with the
agency's name around the rim) and the signer's ink strokes are what authenticate it. Both are found
with plain numpy on a page rendered at a low resolution (~100 dpi: enough for marks this big):

- seal: "red" pixels (red clearly above green and blue, hue near 0°: faint pink impressions count,
  yellowed paper does not) → connected components on a ~1 mm grid →
  a component is a seal when it is 25–60 mm, about as tall as wide, red along a circle's rim all the
  way round and (almost) not red in the box's corners outside that circle. A red text line fails the
  aspect test; a red block of text or a frame fails the corner test.
- handwriting: blue or dark ink (relative to the paper's own brightness) on the right part of the
  page, where the signer block is →
  components on the grid that are taller than a text line → kept when they hold a stroke taller than
  any printed glyph, are sparse (strokes, not a picture) and are not ruled lines of a table.

Boxes are PDF points, origin top-left: pixels × 72 / dpi.

The incoming-registry stamp's frame (`stamp_frames`) is found on the black-and-white image OCR
reads: a scan in grey has no colour to tell the stamp from the print, but its rectangle stands
out — thin sides that run unbroken, unlike the edge of any block of text.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pymupdf
from PIL import Image

from kiemchung.extractors.limits import (
    LIST_DRAWINGS_CONTENT,
    MARKS_PIXELS,
    MAX_PAGE_CONTENT,
    MAX_PAGES,
    content_bytes,
    render_dpi,
)
from kiemchung.models.document import BBox
from kiemchung.models.marks import AuthenticityMarks, HandwritingMark, SealMark

MM_PER_INCH = 25.4
ANALYSIS_DPI = 100          # images are reduced to about this before analysis

# Seal geometry (mm) and shape thresholds.
SEAL_MIN_MM, SEAL_MAX_MM = 25.0, 60.0
SEAL_MIN_ASPECT = 0.75      # min(w, h) / max(w, h): impressions are slightly elliptical when skewed
SEAL_MIN_RIM_COVERAGE = 0.75   # share of the 36 angular sectors with red on the rim
SEAL_MAX_CORNER_DENSITY = 0.2  # red density in the corners outside the circle / on the rim
SEAL_MAX_RED_RATIO = 0.65   # a filled red disc or block is not an impression

# Handwriting geometry (mm) and thresholds.
INK_MIN_HEIGHT_MM, INK_MAX_HEIGHT_MM = 7.0, 70.0
INK_MIN_WIDTH_MM, INK_MAX_WIDTH_MM = 8.0, 120.0
GLYPH_MAX_MM = 5.5          # a printed glyph at body size (with stacked diacritics) is shorter
BLUE_STROKE_MIN_MM = 4.5    # blue ink is rarely print: a smaller stroke suffices
INK_MAX_RATIO = 0.35        # denser than this is a picture, a QR code or a filled shape
RULED_MAX_SHARE = 0.4       # share of ink on long straight rows/columns: a table or a frame
SIGNER_AREA_LEFT = 0.40     # the signer block is on the right: component centre x ≥ 40 % of width
SIGNER_AREA_TOP = 0.06      # skip the top margin
MERGE_GAP_MM = 10.0         # pieces of one signature closer than this are one mark


# The registry stamp's frame (points): ~40–90 mm wide, 10–45 mm tall; its top and bottom
# sides run across most of its width, one upright side nearly all its height (the other may
# be lost at the page's edge or under the text beside it).
FRAME_WIDTH_PT, FRAME_HEIGHT_PT = (60.0, 270.0), (22.0, 130.0)
FRAME_ACROSS, FRAME_UPRIGHT = 0.85, 0.9
FRAME_CELL = 2              # pixels pooled: a hairline side stays whole, text lines stay apart
FRAME_TOP_PT = 400.0        # stamps are put on the header and the title: the page's top half


@dataclass(frozen=True)
class _Component:
    x0: int    # pixel box, end-exclusive
    y0: int
    x1: int
    y1: int
    area: int  # number of set pixels

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def height(self) -> int:
        return self.y1 - self.y0


def find_marks(source, *, dpi: float = ANALYSIS_DPI,
               image_dpi: list[float] | None = None) -> AuthenticityMarks:
    """Seals and handwriting in a PDF (path, bytes or open document) or PIL images (a list or
    a generator)."""
    if isinstance(source, pymupdf.Document):
        return find_marks_pdf(source, dpi=dpi)
    if isinstance(source, (str, Path, bytes)):
        opened = pymupdf.open(stream=source) if isinstance(source, bytes) else pymupdf.open(source)
        with opened as doc:
            return find_marks_pdf(doc, dpi=dpi)
    return find_marks_images(source, image_dpi)


def find_marks_pdf(doc: pymupdf.Document, dpi: float = ANALYSIS_DPI) -> AuthenticityMarks:
    """Pages that cannot be loaded or rendered within the budgets of extractors/limits.py
    are skipped: reading the text says what is wrong with them."""
    seals: list[SealMark] = []
    handwriting: list[HandwritingMark] = []
    try:
        page_count = doc.page_count
    except Exception:   # noqa: BLE001 — a page tree MuPDF cannot count: no page to search
        page_count = 0
    if page_count > MAX_PAGES:   # refused when its text is read: not worth rendering
        page_count = 0
    for index in range(page_count):
        try:
            page = doc.load_page(index)
            content = content_bytes(page)
            if content > MAX_PAGE_CONTENT or not _may_carry_marks(page, content):
                continue
            page_dpi = render_dpi(page, page.rect, dpi, MARKS_PIXELS)
            try:
                pix = page.get_pixmap(dpi=page_dpi, colorspace=pymupdf.csRGB, alpha=False)
            finally:
                pymupdf.TOOLS.store_shrink(100)   # the images it decoded: pages come once
        except Exception:   # noqa: BLE001 — MuPDF's errors on a broken page, TooLargeToRender
            continue
        rows = np.frombuffer(pix.samples, dtype=np.uint8).reshape(pix.height, pix.stride)
        rgb = rows[:, : pix.width * 3].reshape(pix.height, pix.width, 3)
        # The pixmap is rendered at the page's size: scale by the real ratio, not the nominal dpi.
        pixel_dpi = pix.width * 72.0 / page.rect.width if page.rect.width else dpi
        s, h = find_marks_rgb(rgb, page=index + 1, dpi=pixel_dpi)
        seals += s
        handwriting += h
    return AuthenticityMarks(tuple(seals), tuple(handwriting))


def find_marks_images(images: Iterable[Image.Image],
                      dpi_of_each: Iterable[float] | None = None) -> AuthenticityMarks:
    """Marks on each image in turn: `images` may be a generator, so that only one frame of a
    long multi-page scan is in memory at a time."""
    seals: list[SealMark] = []
    handwriting: list[HandwritingMark] = []
    dpis = iter(dpi_of_each) if dpi_of_each is not None else None
    for index, image in enumerate(images):
        dpi = next(dpis) if dpis is not None else _image_dpi(image)
        rgb, analysis_dpi = _analysis_pixels(image, float(dpi))
        s, h = find_marks_rgb(rgb, page=index + 1, dpi=analysis_dpi)
        seals += s
        handwriting += h
    return AuthenticityMarks(tuple(seals), tuple(handwriting))


def find_marks_rgb(rgb: np.ndarray, *, page: int, dpi: float
                   ) -> tuple[list[SealMark], list[HandwritingMark]]:
    """Marks on one page given as an H×W×3 uint8 array rendered at `dpi`."""
    r, g, b = (rgb[..., i].astype(np.int16) for i in range(3))
    red = _red_mask(r, g, b)
    seals = _find_seals(red, page=page, dpi=dpi)
    handwriting = _find_handwriting(r, g, b, red, page=page, dpi=dpi)
    return seals, handwriting


# --- page triage and image preparation ------------------------------------------------------

def _may_carry_marks(page: pymupdf.Page, content: int) -> bool:
    """A page of pure text and black/grey vector graphics has no seal or signature to find.
    `content` is the size of its drawing instructions (`content_bytes`)."""
    # A signature widget may draw the agency's seal (born-digital e-documents).
    if page.get_images(full=False) or page.first_annot is not None \
            or page.first_widget is not None:
        return True
    # Listing millions of drawings would take gigabytes: look at the rendered page instead.
    if content > LIST_DRAWINGS_CONTENT:
        return True
    for drawing in page.get_drawings():
        for key in ("color", "fill"):
            colour = drawing.get(key)
            if colour and len(colour) == 3 and max(colour) - min(colour) > 0.25:
                return True   # coloured vector art: a seal or signature may be drawn as paths
    return False


def _image_dpi(image: Image.Image) -> float:
    dpi = image.info.get("dpi")
    if dpi and dpi[0] and float(dpi[0]) > 30:
        return float(dpi[0])
    # No resolution recorded: assume the page is A4 portrait (210 mm wide), the usual case.
    return image.width / (210 / MM_PER_INCH)


def _analysis_pixels(image: Image.Image, dpi: float) -> tuple[np.ndarray, float]:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        image = image.convert("RGBA")
        white = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(white, image)
    # Box filters keep thin strokes as lighter pixels; an integer reduction is the fastest.
    # The pixel budget holds too where the stored resolution is low (a photo says 72 dpi), and
    # the reduction comes before any copy of a large image.
    factor = max(int(dpi // ANALYSIS_DPI),
                 math.ceil(math.sqrt(image.width * image.height / MARKS_PIXELS)))
    if factor >= 2:
        if image.mode not in ("L", "RGB", "RGBA"):
            image = image.convert("RGB")
        image = image.reduce(factor)
        dpi = dpi / factor
    if image.mode != "RGB":
        image = image.convert("RGB")
    if dpi > ANALYSIS_DPI * 1.25:
        width = round(image.width * ANALYSIS_DPI / dpi)
        height = round(image.height * ANALYSIS_DPI / dpi)
        dpi = dpi * width / image.width
        image = image.resize((width, height), Image.Resampling.BOX)
    return np.asarray(image, dtype=np.uint8), dpi


# --- colour masks ---------------------------------------------------------------------------

def _red_mask(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Seal ink, faint pink included: red exceeds both other channels clearly (yellowed paper and
    grey print do not), hue within ±40° of 0°, not dark."""
    low = np.minimum(g, b)
    return ((r >= 90) & (r - np.maximum(g, b) >= 28)
            & (np.abs(g - b) * 3 <= (r - low) * 2))       # |hue| ≤ 40°


def _paper_level(r: np.ndarray, g: np.ndarray, b: np.ndarray) -> float:
    """Brightness of the paper: most of a page is blank, so a high percentile of a sample."""
    value = np.maximum(np.maximum(r[::8, ::8], g[::8, ::8]), b[::8, ::8])
    return float(np.percentile(value, 75)) if value.size else 255.0


def _blue_mask(r: np.ndarray, g: np.ndarray, b: np.ndarray, paper: float) -> np.ndarray:
    """Ballpoint or signature-image ink: blue clearly above red and green, darker than the paper.
    Thin strokes at a low resolution blend with the paper, so only a small margin is asked."""
    return (b - np.maximum(r, g) >= 18) & (b <= paper - 25)


def _dark_mask(r: np.ndarray, g: np.ndarray, b: np.ndarray, paper: float) -> np.ndarray:
    return np.maximum(np.maximum(r, g), b) < paper * 0.6


# --- connected components -------------------------------------------------------------------

def _pool(mask: np.ndarray, cell: int, min_count: int) -> np.ndarray:
    """A coarse grid: a cell is set when at least `min_count` of its pixels are."""
    h, w = mask.shape[0] // cell, mask.shape[1] // cell
    counts = mask[: h * cell, : w * cell].reshape(h, cell, w, cell).sum(axis=(1, 3))
    return counts >= min_count


def _components(mask: np.ndarray) -> list[_Component]:
    """8-connected components, by union-find over horizontal runs (no scipy needed)."""
    edges = np.diff(mask.astype(np.int8), axis=1, prepend=0, append=0)
    ys, starts = np.nonzero(edges == 1)
    _, ends = np.nonzero(edges == -1)      # runs are [start, end) on row y, in row-major order
    if len(ys) == 0:
        return []
    row_first = np.searchsorted(ys, np.arange(mask.shape[0] + 1)).tolist()
    s, e = starts.tolist(), ends.tolist()
    parent = list(range(len(s)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for y in range(1, mask.shape[0]):
        i, i_end = row_first[y - 1], row_first[y]
        j, j_end = row_first[y], row_first[y + 1]
        while i < i_end and j < j_end:
            if s[i] <= e[j] and s[j] <= e[i]:     # touching, diagonals included
                a, c = root(i), root(j)
                if a != c:
                    parent[a] = c
            if e[i] < e[j]:
                i += 1
            else:
                j += 1

    labels = np.fromiter((root(i) for i in range(len(s))), dtype=np.int64, count=len(s))
    uniq, inverse = np.unique(labels, return_inverse=True)
    n = len(uniq)
    x0 = np.full(n, np.iinfo(np.int64).max)
    y0 = np.full(n, np.iinfo(np.int64).max)
    x1 = np.zeros(n, dtype=np.int64)
    y1 = np.zeros(n, dtype=np.int64)
    np.minimum.at(x0, inverse, starts)
    np.minimum.at(y0, inverse, ys)
    np.maximum.at(x1, inverse, ends)
    np.maximum.at(y1, inverse, ys + 1)
    area = np.bincount(inverse, weights=ends - starts, minlength=n).astype(np.int64)
    return [_Component(int(x0[k]), int(y0[k]), int(x1[k]), int(y1[k]), int(area[k]))
            for k in range(n)]


def _bbox_points(x0: float, y0: float, x1: float, y1: float, dpi: float) -> BBox:
    k = 72.0 / dpi
    return BBox(x0 * k, y0 * k, x1 * k, y1 * k)


# --- seal -----------------------------------------------------------------------------------

def _find_seals(red: np.ndarray, *, page: int, dpi: float) -> list[SealMark]:
    cell = max(1, round(dpi / MM_PER_INCH))          # ~1 mm: bridges small breaks in the ring
    grid = _pool(red, cell, min_count=2)
    mm_per_cell = cell * MM_PER_INCH / dpi
    seals = []
    for comp in _components(grid):
        w_mm, h_mm = comp.width * mm_per_cell, comp.height * mm_per_cell
        if not (SEAL_MIN_MM <= w_mm <= SEAL_MAX_MM and SEAL_MIN_MM <= h_mm <= SEAL_MAX_MM):
            continue
        if min(w_mm, h_mm) / max(w_mm, h_mm) < SEAL_MIN_ASPECT:
            continue
        x0, y0, x1, y1 = comp.x0 * cell, comp.y0 * cell, comp.x1 * cell, comp.y1 * cell
        crop = red[y0:y1, x0:x1]
        red_ratio = float(crop.mean())
        if red_ratio > SEAL_MAX_RED_RATIO:
            continue
        coverage, corner_density = _ring_shape(crop)
        if coverage < SEAL_MIN_RIM_COVERAGE or corner_density > SEAL_MAX_CORNER_DENSITY:
            continue
        roundness = coverage * (1.0 - corner_density / SEAL_MAX_CORNER_DENSITY * 0.5)
        size_fit = 1.0 if 30 <= (w_mm + h_mm) / 2 <= 50 else 0.85
        seals.append(SealMark(page=page, bbox=_bbox_points(x0, y0, x1, y1, dpi),
                              red_ratio=red_ratio, roundness=roundness,
                              confidence=round(min(1.0, 0.4 + 0.6 * roundness) * size_fit, 3)))
    return seals


def _ring_shape(crop: np.ndarray) -> tuple[float, float]:
    """(share of 36 angular sectors with red on the rim,
    red density in the corners outside the circle / red density on the rim).

    Coordinates are normalised by the box's half-width and half-height, so a slightly elliptical
    impression is still a circle of radius 1.
    """
    h, w = crop.shape
    yy, xx = np.nonzero(crop)
    dx = (xx + 0.5 - w / 2) / (w / 2)
    dy = (yy + 0.5 - h / 2) / (h / 2)
    radius = np.hypot(dx, dy)
    on_rim = (radius >= 0.8) & (radius <= 1.05)
    sectors = ((np.arctan2(dy[on_rim], dx[on_rim]) + np.pi) / (2 * np.pi) * 36).astype(int) % 36
    coverage = len(np.unique(sectors)) / 36

    # Areas in the normalised square [-1, 1]²: the rim annulus inside the box, and the corners.
    rim_area = np.pi * (1.0 - 0.8 ** 2)        # the part beyond 1.0 falls mostly outside the box
    corner_area = 4.0 - np.pi * 1.1 ** 2
    pixel_area = 4.0 / (w * h)
    rim_density = on_rim.sum() * pixel_area / rim_area
    corner_density = (radius > 1.1).sum() * pixel_area / corner_area
    if rim_density == 0:
        return coverage, 1.0
    return coverage, float(corner_density / rim_density)


# --- handwriting ----------------------------------------------------------------------------

def _find_handwriting(r: np.ndarray, g: np.ndarray, b: np.ndarray, red: np.ndarray, *,
                      page: int, dpi: float) -> list[HandwritingMark]:
    height, width = r.shape
    left, top = int(width * SIGNER_AREA_LEFT * 0.5), int(height * SIGNER_AREA_TOP)
    r, g, b = r[top:, left:], g[top:, left:], b[top:, left:]
    paper = _paper_level(r, g, b)
    blue = _blue_mask(r, g, b, paper)
    ink = (blue | _dark_mask(r, g, b, paper)) & ~red[top:, left:]

    px_per_mm = dpi / MM_PER_INCH
    cell = max(1, round(px_per_mm))
    grid = _pool(ink, cell, min_count=2)
    found = []
    for comp in _components(grid):
        w_mm, h_mm = comp.width * cell / px_per_mm, comp.height * cell / px_per_mm
        if not (INK_MIN_HEIGHT_MM <= h_mm <= INK_MAX_HEIGHT_MM
                and INK_MIN_WIDTH_MM <= w_mm <= INK_MAX_WIDTH_MM):
            continue
        x0, y0, x1, y1 = comp.x0 * cell, comp.y0 * cell, comp.x1 * cell, comp.y1 * cell
        if left + (x0 + x1) / 2 < width * SIGNER_AREA_LEFT:
            continue
        mark = _handwriting_in(ink[y0:y1, x0:x1], blue[y0:y1, x0:x1], px_per_mm)
        if mark is None:
            continue
        (sx0, sy0, sx1, sy1), confidence = mark
        found.append(((x0 + sx0, y0 + sy0, x0 + sx1, y0 + sy1), confidence))

    marks = []
    for (x0, y0, x1, y1), confidence in _merge_near(found, gap=round(MERGE_GAP_MM * px_per_mm)):
        box = _bbox_points(left + x0, top + y0, left + x1, top + y1, dpi)
        ink_ratio = float(ink[y0:y1, x0:x1].mean())
        marks.append(HandwritingMark(page=page, bbox=box, ink_ratio=ink_ratio,
                                     confidence=confidence))
    return marks


def _merge_near(found: list[tuple[tuple[int, int, int, int], float]], gap: int):
    """One signature is often cut in pieces (pen lifts, the seal's red over the strokes): join
    boxes that are within `gap` pixels of each other, keeping the best confidence."""
    boxes = list(found)
    merged = True
    while merged:
        merged = False
        for i in range(len(boxes)):
            for j in range(i + 1, len(boxes)):
                (a, ca), (b, cb) = boxes[i], boxes[j]
                if (a[0] - gap <= b[2] and b[0] - gap <= a[2]
                        and a[1] - gap <= b[3] and b[1] - gap <= a[3]):
                    box = (min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3]))
                    boxes[i] = (box, max(ca, cb))
                    del boxes[j]
                    merged = True
                    break
            if merged:
                break
    return boxes


def _handwriting_in(ink: np.ndarray, blue: np.ndarray, px_per_mm: float):
    """Strokes inside one candidate box: (their box within the crop, confidence) or None."""
    if ink.mean() > INK_MAX_RATIO:
        return None
    if _ruled_share(ink) > RULED_MAX_SHARE:
        return None
    strokes = _components(ink)
    if not strokes:
        return None
    blue_share = blue.sum() / max(1, ink.sum())
    min_stroke_mm = BLUE_STROKE_MIN_MM if blue_share >= 0.5 else GLYPH_MAX_MM
    tall = [c for c in strokes if c.height / px_per_mm >= min_stroke_mm
            or c.width / px_per_mm >= 2 * GLYPH_MAX_MM]
    tall = [c for c in tall if c.height / px_per_mm >= 1.5]   # a long thin rule is not a stroke
    if not tall or max(c.height for c in tall) / px_per_mm < min_stroke_mm:
        return None
    x0 = min(c.x0 for c in tall)
    y0 = min(c.y0 for c in tall)
    x1 = max(c.x1 for c in tall)
    y1 = max(c.y1 for c in tall)
    tallest_mm = max(c.height for c in tall) / px_per_mm
    confidence = 0.9 if blue_share >= 0.5 else (0.8 if tallest_mm >= 8 else 0.6)
    return (x0, y0, x1, y1), confidence


def _ruled_share(ink: np.ndarray) -> float:
    """Share of ink on rows or columns that are mostly ink across the box: table rules, frames."""
    total = ink.sum()
    if total == 0:
        return 0.0
    full_rows = ink.mean(axis=1) >= 0.6
    full_cols = ink.mean(axis=0) >= 0.6
    on_rules = ink[full_rows, :].sum() + ink[:, full_cols].sum()
    return float(on_rules / total)


def stamp_frames(ink: np.ndarray, px_per_pt: float) -> list[tuple[int, int, int, int]]:
    """The rectangles (pixel boxes x0, y0, x1, y1 of `ink`, a boolean image of the top of page
    1) framed like a registry stamp: of a stamp's size, their sides drawn (FRAME_ACROSS,
    FRAME_UPRIGHT), within FRAME_TOP_PT of the top."""
    cell = FRAME_CELL
    ink = ink[: round(FRAME_TOP_PT * px_per_pt)]
    h, w = ink.shape[0] // cell, ink.shape[1] // cell
    pooled = np.asarray(ink[: h * cell, : w * cell].reshape(h, cell, w, cell).any(axis=(1, 3)))
    pt = cell / px_per_pt
    frames = []
    for c in _components(pooled):
        if not (FRAME_WIDTH_PT[0] <= c.width * pt <= FRAME_WIDTH_PT[1]
                and FRAME_HEIGHT_PT[0] <= c.height * pt <= FRAME_HEIGHT_PT[1]):
            continue
        box = pooled[c.y0:c.y1, c.x0:c.x1]
        side = max(2, round(min(box.shape) * 0.2))   # a slightly turned stamp's side
        across = min(box[:side].any(axis=0).mean(), box[-side:].any(axis=0).mean())
        rows = box[side:-side]        # between the top and bottom sides, which a turn tilts
        upright = max(rows[:, :side].any(axis=1).mean(), rows[:, -side:].any(axis=1).mean()) \
            if len(rows) else 0.0
        if across >= FRAME_ACROSS and upright >= FRAME_UPRIGHT:
            frames.append((c.x0 * cell, c.y0 * cell, c.x1 * cell, c.y1 * cell))
    return frames
