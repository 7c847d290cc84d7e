"""The number and the day written into a printed header's blanks, read again as digits.

The văn thư writes (or stamps) the number and the day into the blanks a document is printed
with: `Số: 22 /TTr-UBND`, `ngày 05 tháng 02 năm 2025`, in marker or blue pen. Tesseract's
Vietnamese model, reading the page, gives such digits as signs (`Số:#3`, `ngày,@3`,
`Số:.2%5`), as a wrong digit of low confidence, or, sure of it, as a wrong digit taller than
the print. Each such blank of an OCR'd first page is cut out again, with the print around it,
and read by the handwriting networks (extractors/handwriting.py), the surer first; when they
see no digit, or a day that cannot be, by Tesseract's English model told to see digits only,
in twelve renderings (gray and two thresholds, four sizes) stacked into one image, taking the
value most renderings agree on. What is read here stays doubtful: its confidence is at most
WRITTEN_CONFIDENCE, lower the less sure the reader. Measured on the 18 scans of
../shared/realdocs: numbers and days read right 18 → 25 of 34 with the first network before
Tesseract, 28 with both and the height test; every value taken here has a confidence of 0.5
or less.
"""

from __future__ import annotations

import collections
import dataclasses
import itertools
import re
from collections.abc import Callable

import numpy as np
from PIL import Image

from kiemchung.extractors.handwriting import read_handwritten
from kiemchung.extractors.lexicon import DIGIT_SLIPS
from kiemchung.extractors.ocr import tesseract_data
from kiemchung.models.document import BBox, Line, Page, Word
from kiemchung.models.timing import stage

HEADER_BAND = 0.4          # of the page's height: the number and the date stand above it
WRITTEN_CONFIDENCE = 0.5   # at most, for digits read in a blank: often wrong (see above)
# Digits Tesseract read in a blank below this confidence are read again. Not higher: from 0.33
# to 0.72 Tesseract reads typed numbers right where the network takes the "/" after them for a
# 1 (though on ../shared/realdocs it read a handwritten "51" as "9" at 0.6).
DOUBTFUL = 0.3
MIN_VOTES = 3              # of the renderings, that must agree on the value
# Digits this much taller than the printed year were written by hand, however sure Tesseract
# is of them (it read a written "02" as "3" at 0.8, a "51" as "9" at 0.6).
WRITTEN_HEIGHT = 1.25
DPI = 400
_SIZES = (1.0, 0.75, 0.5, 0.35)   # handwriting is larger than print: smaller copies read better
_THRESHOLDS = (None, 140, 180)    # None: gray, stretched to the paper's white
_GAP = 30                          # white pixels around each rendering
_EM_PER_CHAR = 0.45                # a printed character's width, in line heights (Times)
_OVERFLOW = 0.5     # handwriting runs past its blank into the print, by up to this (line heights)
_CONFIG = "--psm 6 --oem 1 -c tessedit_char_whitelist=0123456789"

# `Số:` opening the number line (OCR: `Sô:`, `S6;`), and the "/" ending its blank.
_NUMBER_BLANK_RE = re.compile(r"^\W{0,2}S\S{0,2}?\s*[:.;](?P<blank>[^/]*)/")
# `ngày … tháng` of the date line, then its month and year.
_DAY_BLANK_RE = re.compile(r"\bng\S{1,2}y(?P<blank>.*?)th[^\s\d]{2,4}\s*\S{1,3}\s*n\S{1,2}m"
                           r"\s*\d{4}", re.IGNORECASE)

Crop = Callable[[BBox, int], "Image.Image | None"]


def with_written_digits(page: Page, crop: Crop) -> Page:
    """`page` with the digits of its unreadable number and day blanks read again (those read
    no better stay as OCR read them, no surer than a re-read); `crop(box, dpi)` renders a
    region of the page (points) in colour."""
    lines = list(page.lines)
    dropped: set[int] = set()
    rows = _rows(page)
    header_years = _year_heights([line for _, line, _ in rows])
    for index, line, partner in rows:
        # Print's height: the line's own year (a date line's), else the smallest in the header.
        print_height = next(iter(_year_heights([line])), min(header_years, default=None))
        for pattern, width in ((_NUMBER_BLANK_RE, 5), (_DAY_BLANK_RE, 2)):
            blank = _unreadable_blank(line, pattern, width, print_height)
            # A comma or a dot OCR glued to the label ("ngày,@3") is no part of the blank's box.
            box = _blank_box(line, _after_marks(line.text, blank[0]), blank[1]) \
                if blank is not None else None
            try:
                image = crop(_reach(box, _print_height(line)), DPI) if box is not None else None
                read = _read_blank(image, is_day=width == 2) if image is not None else None
            except Exception:   # noqa: BLE001 — a second look never costs the page its reading
                read = None
            if blank is None:
                continue
            if box is not None and read is not None:
                changed = _replaced(line, blank[0], blank[1], Word(read[0], box, read[1]))
            else:   # unread again: what OCR made of the blank stays, no surer than a re-read
                changed = _capped(line, *blank)
            if changed == line:
                continue
            line = lines[index] = changed
            if partner is not None:
                dropped.add(partner)
    if lines == list(page.lines):
        return page
    return dataclasses.replace(page, lines=tuple(ln for i, ln in enumerate(lines)
                                                  if i not in dropped))


# A line ending at a blank that OCR found empty, and the start of the line that goes on after
# it on the same baseline: `Số:` | `/STTTT-CNTT`, `Hà Nội, ngày` | `tháng 10 năm 2025`.
_BEFORE_BLANK_RE = re.compile(r"(?:^\W{0,2}S\S{0,2}?\s*[:.;][^/]*|\bng\S{1,2}y\S*)$",
                              re.IGNORECASE)
_AFTER_BLANK_RE = re.compile(r"^\W?(?:/|th[^\s\d]{2,4})", re.IGNORECASE)


def _rows(page: Page) -> list[tuple[int, Line, int | None]]:
    """The header band's lines (index, line, None), a line that ends at a blank joined with
    the one going on after it (index, joined, the other's index)."""
    band = [(i, ln) for i, ln in enumerate(page.lines) if ln.bbox.y0 <= HEADER_BAND * page.height]
    rows: list[tuple[int, Line, int | None]] = []
    for index, line in band:
        partner = None
        if _BEFORE_BLANK_RE.search(line.text):
            after = [(other.bbox.x0, i) for i, other in band
                     if other.bbox.x0 > line.bbox.x1 and _AFTER_BLANK_RE.match(other.text)
                     and _same_baseline(line, other)]
            partner = min(after)[1] if after else None
        if partner is None:
            rows.append((index, line, None))
        else:
            joined = dataclasses.replace(line, words=line.words + page.lines[partner].words)
            rows.append((index, joined, partner))
    return rows


def _same_baseline(a: Line, b: Line) -> bool:
    overlap = min(a.bbox.y1, b.bbox.y1) - max(a.bbox.y0, b.bbox.y0)
    return overlap > 0.5 * min(a.height, b.height)


def _unreadable_blank(line: Line, pattern: re.Pattern, width: int,
                      print_height: float | None) -> tuple[int, int] | None:
    """The span of the line's text where the number or the day stands, when what OCR read
    there is no digits (no day of a month), digits it all but guessed, or digits written by
    hand (taller than the printed digits, `print_height`)."""
    match = pattern.search(line.text)
    if match is None:
        return None
    start, end = match.span("blank")
    # OCR's slips undone ("3|" is a readable 31), the digits Tesseract was not unsure of stay;
    # marks after the digits (`Số: 1.::/GM`) say OCR lost some of them.
    digits = match.group("blank").lstrip(" .,;:").rstrip().translate(DIGIT_SLIPS)
    if re.fullmatch(rf"\d{{1,{width}}}", digits) and (width != 2 or 1 <= int(digits) <= 31):
        words = _words_in(line, start, end)
        if min((w.confidence for w in words), default=1.0) >= DOUBTFUL \
                and not _taller_than_print(words, print_height):
            return None
    return start, end


def _words_in(line: Line, start: int, end: int) -> list[Word]:
    return [w for w, (a, b) in zip(line.words, _word_spans(line), strict=True)
            if a < end and b > start]


def _year_heights(lines: list[Line]) -> list[float]:
    """The heights of the years printed in `lines` (`năm 2025`): digits no hand writes."""
    return [w.bbox.y1 - w.bbox.y0 for line in lines for w in line.words
            if re.fullmatch(r"(19|20)\d\d[.,;]?", w.text)]


def _taller_than_print(words: list[Word], print_height: float | None) -> bool:
    """Whether `words` stand WRITTEN_HEIGHT taller than printed digits."""
    return print_height is not None and bool(words) and \
        max(w.bbox.y1 - w.bbox.y0 for w in words) > WRITTEN_HEIGHT * print_height


def _after_marks(text: str, start: int) -> int:
    return start + len(text[start:]) - len(text[start:].lstrip(" .,;:"))


def _word_spans(line: Line) -> list[tuple[int, int]]:
    """Each word's span in `line.text` (words joined by one space)."""
    spans, at = [], 0
    for word in line.words:
        spans.append((at, at + len(word.text)))
        at += len(word.text) + 1
    return spans


def _char_x(line: Line, offset: int, from_end: bool) -> float:
    """Where character `offset` of the line's text begins (or, `from_end`, where the one
    before it ends), in points. Inside a word that runs print and handwriting together
    (`Số:#3`) the print's share is measured from the word's printed end by a printed
    character's width, since handwritten digits are wider than print."""
    em = _print_height(line)
    before = None           # the end of the word before the offset
    for word, (a, b) in zip(line.words, _word_spans(line), strict=True):
        if offset >= b and not (from_end and offset == b):
            before = word.bbox.x1
            continue
        if offset <= a:
            return word.bbox.x0 if from_end or before is None else before
        share = (offset - a) / (b - a)
        proportional = word.bbox.x0 + share * (word.bbox.x1 - word.bbox.x0)
        if from_end:   # the print stands after the offset: "†tháng", "/TTr-UBND"
            return max(proportional, word.bbox.x1 - (b - offset) * _EM_PER_CHAR * em)
        return min(proportional, word.bbox.x0 + (offset - a) * _EM_PER_CHAR * em)
    return line.words[-1].bbox.x1


def _print_height(line: Line) -> float:
    heights = sorted(w.bbox.y1 - w.bbox.y0 for w in line.words)
    return heights[len(heights) // 2]


def _blank_box(line: Line, start: int, end: int) -> BBox | None:
    """The blank on the page: from the label's end to the print after it, the line's height."""
    x0, x1 = _char_x(line, start, from_end=False), _char_x(line, end, from_end=True)
    if x1 - x0 < 0.5 * _print_height(line):      # no room: nothing was written there
        return None
    return BBox(x0, line.bbox.y0, x1, line.bbox.y1)


def _reach(blank: BBox, height: float) -> BBox:
    """Where handwriting in `blank` reaches: a half line above, a third below, and past both
    ends into the print by _OVERFLOW (the network reads print cut by the edges as no digit)."""
    return BBox(blank.x0 - _OVERFLOW * height, blank.y0 - 0.5 * height,
                blank.x1 + _OVERFLOW * height, blank.y1 + 0.3 * height)


def _read_blank(image: Image.Image, is_day: bool) -> tuple[str, float] | None:
    """The digits written in the blank and how sure that is (at most WRITTEN_CONFIDENCE): the
    surest of the handwriting networks' readings that can be, or Tesseract's when the
    networks see none or only impossible days (more than two digits, or none of a month's)."""
    for reader in (_read_handwriting, _read_digits):
        for read in reader(image):
            if not is_day or (len(read[0]) <= 2 and 1 <= int(read[0]) <= 31):
                return read
    return None


def _read_handwriting(image: Image.Image) -> list[tuple[str, float]]:
    """The networks' readings, the surest first."""
    with stage("ocr"):
        reads = read_handwritten(image)
    return [(digits, round(WRITTEN_CONFIDENCE * certainty, 3)) for digits, certainty in reads]


def _read_digits(image: Image.Image) -> list[tuple[str, float]]:
    """The digits most renderings of `image` read, and how sure that is; none when fewer than
    MIN_VOTES agree, or as many on another value."""
    ink = np.asarray(image.convert("RGB")).min(axis=2)   # blue pen and black print alike
    if not (ink < 140).any():
        return []                                        # an empty blank
    renderings = [_rendering(ink, threshold, size)
                  for size, threshold in itertools.product(_SIZES, _THRESHOLDS)]
    stacked, rows = _stacked(renderings)
    with stage("ocr"):
        data = tesseract_data(stacked, _CONFIG, lang="eng")
    reads: dict[int, str] = collections.defaultdict(str)
    for text, top, height in zip(data["text"], data["top"], data["height"], strict=True):
        text = (text or "").strip()
        row = next((i for i, (y0, y1) in enumerate(rows)
                    if y0 - _GAP / 2 <= top + height / 2 <= y1 + _GAP / 2), None)
        if text and row is not None:
            reads[row] += text
    votes = collections.Counter(reads.values()).most_common(2)
    if not votes or votes[0][1] < MIN_VOTES or (len(votes) > 1 and votes[1][1] == votes[0][1]):
        return []
    value, count = votes[0]
    return [(value, round(WRITTEN_CONFIDENCE * count / len(renderings), 3))]


def _rendering(ink: np.ndarray, threshold: int | None, size: float) -> Image.Image:
    if threshold is None:
        low, high = float(ink.min()), float(np.percentile(ink, 90))
        pixels = np.clip((ink - low) * 255.0 / max(high - low, 1.0), 0, 255)
    else:
        pixels = np.where(ink < threshold, 0, 255)
    image = Image.fromarray(pixels.astype(np.uint8))
    if size != 1.0:
        image = image.resize((max(1, round(image.width * size)),
                              max(1, round(image.height * size))), Image.Resampling.LANCZOS)
    return image


def _stacked(images: list[Image.Image]) -> tuple[Image.Image, list[tuple[int, int]]]:
    """The images one under another on white, and each one's rows."""
    width = max(i.width for i in images) + 2 * _GAP
    height = sum(i.height + _GAP for i in images) + _GAP
    canvas = Image.new("L", (width, height), 255)
    rows, top = [], _GAP
    for image in images:
        canvas.paste(image, (_GAP, top))
        rows.append((top, top + image.height))
        top += image.height + _GAP
    return canvas, rows


def _replaced(line: Line, start: int, end: int, digits: Word) -> Line:
    """The line with the characters [start, end) of its text replaced by `digits`; the words
    that run into the blank keep their parts outside it."""
    words: list[Word] = []
    placed = False
    for word, (a, b) in zip(line.words, _word_spans(line), strict=True):
        if b <= start or a >= end:
            if a >= end and not placed:
                words.append(digits)
                placed = True
            words.append(word)
            continue
        if a < start:
            words.append(_part(word, 0, start - a))
        if not placed:
            words.append(digits)
            placed = True
        if b > end:
            words.append(_part(word, end - a, b - a))
    if not placed:
        words.append(digits)
    return dataclasses.replace(line, words=tuple(w for w in words if w.text.strip()))


def _capped(line: Line, start: int, end: int) -> Line:
    """The line with the words in characters [start, end) no surer than WRITTEN_CONFIDENCE."""
    inside = _words_in(line, start, end)
    words = tuple(dataclasses.replace(w, confidence=min(w.confidence, WRITTEN_CONFIDENCE))
                  if w in inside else w for w in line.words)
    return dataclasses.replace(line, words=words)


def _part(word: Word, start: int, end: int) -> Word:
    """Characters [start, end) of a word, with the share of its box they take."""
    length = len(word.text)
    x0, x1 = word.bbox.x0, word.bbox.x1
    box = BBox(x0 + (x1 - x0) * start / length, word.bbox.y0,
               x0 + (x1 - x0) * end / length, word.bbox.y1)
    return dataclasses.replace(word, text=word.text[start:end].strip(), bbox=box)
