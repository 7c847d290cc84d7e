"""A PDF page's own text layer as lines of words with boxes (points, top-left origin)."""

from __future__ import annotations

import dataclasses
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import pymupdf

from kiemchung.extractors.tcvn3 import is_vietnamese_syllable
from kiemchung.models.document import BBox, Line, Page, TextSource, Word, nfc

# Ligatures expanded ("ﬁ" → "fi"), whitespace kept so that words split where the PDF put
# spaces, nothing outside the page box.
_FLAGS = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP

# Two words of one PDF line farther apart than this many font sizes belong to different
# columns (e.g. the agency and the motto of a header set on the same baseline).
_COLUMN_GAP = 2.0
# … unless typed spaces fill the gap (a blank left for a stamped number), up to this many.
_BRIDGED_GAP = 8.0

# decode(raw_words, font_names) -> words: converts a legacy-encoded text layer one line at a
# time (the line gives context, e.g. whether a word stands among capitals).
Decoder = Callable[[list[str], list[str]], list[str]]


def read_text_layer(page: pymupdf.Page, number: int, *, decode: Decoder | None = None,
                    source: TextSource = TextSource.TEXT, verdict: str = "") -> Page:
    """Lines and words of `page`'s text layer; `number` is 1-based.

    Each PDF text line stays a line, and a line is also split where a wide gap shows two
    columns. Boxes follow the page as displayed (its /Rotate applied). Text is NFC.
    """
    rotate = page.rotation_matrix if page.rotation else None
    lines: list[Line] = []
    raw = page.get_text("rawdict", flags=_FLAGS)
    for block in raw["blocks"]:
        if block.get("type", 0) != 0:
            continue
        for raw_line in block.get("lines", ()):
            # Glued syllables are found in Unicode only: legacy codes are other letters.
            for group in _split_columns(_words_of_line(raw_line, unglue=decode is None)):
                texts = [w.text for w in group]
                if decode is not None:
                    texts = _decoded(group, decode)
                words = []
                for raw_word, text in zip(group, texts):
                    text = nfc(text).strip()
                    if text:
                        words.append(Word(text=text, bbox=_displayed(raw_word.box, rotate)))
                if words:
                    lines.append(Line(words=tuple(words), block=block["number"],
                                      coloured=all(w.coloured for w in group)))
    if sum(ln.coloured for ln in lines) * 2 > len(lines):
        lines = [dataclasses.replace(ln, coloured=False) for ln in lines]   # a coloured page
    rect = page.rect
    return Page(number=number, width=rect.width, height=rect.height, source=source,
                lines=tuple(lines), text_layer_verdict=verdict, overlays=_overlays(page))


def _displayed(box: tuple[float, float, float, float], rotate: pymupdf.Matrix | None) -> BBox:
    """A box in unrotated page space as the page is displayed (its /Rotate applied)."""
    if rotate is None:
        return BBox(*box)
    shown = pymupdf.Rect(box) * rotate
    return BBox(shown.x0, shown.y0, shown.x1, shown.y1)


def _overlays(page: pymupdf.Page) -> tuple[BBox, ...]:
    """The boxes of the page's annotation and widget appearances, as displayed."""
    boxes = []
    rotate = page.rotation_matrix
    for item in (*page.annots(), *page.widgets()):
        box = item.rect * rotate
        if not box.is_empty:
            boxes.append(BBox(box.x0, box.y0, box.x1, box.y1))
    return tuple(boxes)


def _decoded(words: list[_RawWord], decode: Decoder) -> list[str]:
    """Decode a line's words run by run of one font: legacy files set the capitals of a word
    in a caps-only font and its other letters in the text font ("Ủy": ".VnTimeH" "ñ" then
    ".VnTime" "y"), and each font maps the same codes to other letters."""
    parts: list[tuple[int, str, str]] = []    # (word index, text, font)
    for index, word in enumerate(words):
        start = 0
        for end in range(1, len(word.text) + 1):
            if end == len(word.text) or word.fonts[end] != word.fonts[start]:
                parts.append((index, word.text[start:end], word.fonts[start]))
                start = end
    decoded = decode([text for _, text, _ in parts], [font for _, _, font in parts])
    texts = [""] * len(words)
    for (index, _, _), text in zip(parts, decoded):
        texts[index] += text
    return texts


def _is_coloured(srgb: int) -> bool:
    """Red or blue ink, as stamps are printed; black, grey and dark print are not."""
    r, g, b = (srgb >> 16) & 255, (srgb >> 8) & 255, srgb & 255
    return max(r, g, b) - min(r, g, b) > 100 and max(r, g, b) > 120


# Abbreviations that open a header word glued to the next ("UBNDTỈNH").
_GLUED_HEADS = ("UBND", "HĐND", "MTTQ")


@lru_cache(maxsize=65536)
def glued_syllables(word: str) -> tuple[int, ...]:
    """Where a word typed without its spaces splits ("TỈNHTHỪA", "BộTư", "SỞY"): the cut
    positions, () for a word to keep. Vietnamese writes each syllable apart, so a word with a
    Vietnamese letter that is no syllable but splits wholly into syllables lost its spaces.
    ASCII words ("Video") and abbreviations ("UBND", "QLTDTT") are kept."""
    if len(word) < 3 or word.isascii() or is_vietnamese_syllable(word):
        return ()
    comma = re.search(r"(?<=[^\W\d_])[,;](?=[^\W\d_])", word)    # "HÓA,THỂ"
    if comma:
        cut = comma.end()
        return (*glued_syllables(word[:cut]), cut,
                *(cut + c for c in glued_syllables(word[cut:])))
    if not word.isalpha():
        return ()
    for head in _GLUED_HEADS:
        if word.startswith(head) and is_vietnamese_syllable(word[len(head):]):
            return (len(head),)
    # A capital after a small letter opens the next word ("BộTư").
    cases = tuple(i for i in range(1, len(word)) if word[i].isupper() and word[i - 1].islower())
    if cases and all(is_vietnamese_syllable(part) for part in
                     (word[a:b] for a, b in zip((0, *cases), (*cases, len(word))))):
        return cases
    cuts = _segments(word)
    return cuts[:-1] if cuts and len(cuts) > 1 else ()


_VOWELS = set("aăâeêioôơuưy")


def _segments(word: str) -> tuple[int, ...] | None:
    """End positions of a segmentation of `word` into syllables, None when there is none.
    Of several, the one whose later syllables open with a consonant ("Y TẾ", not "YT Ế")."""
    def all_of(start: int) -> list[tuple[int, ...]]:
        found: list[tuple[int, ...]] = []
        for end in range(start + 1, min(len(word), start + 7) + 1):
            if is_vietnamese_syllable(word[start:end]):
                found += [(end,)] if end == len(word) else [(end, *rest) for rest in all_of(end)]
        return found

    def vowel_openings(cuts: tuple[int, ...]) -> int:
        return sum(unicodedata.normalize("NFD", word[c].lower())[0] in _VOWELS for c in cuts[:-1])

    options = all_of(0)
    return min(options, key=lambda cuts: (vowel_openings(cuts), len(cuts))) if options else None


@dataclass(slots=True)
class _RawWord:
    text: str
    box: tuple[float, float, float, float]    # x0, y0, x1, y1 in unrotated page space
    size: float
    font: str
    # Typed spaces fill the gap before this word: "Số:        /BC-SNV" leaves room for the
    # number stamped at issuance, and is one line however wide the gap.
    bridged: bool = False
    fonts: tuple[str, ...] = ()   # the font of each character
    coloured: bool = False        # set in a strong colour (see `_is_coloured`)


def _words_of_line(raw_line: dict, *, unglue: bool = True) -> list[_RawWord]:
    words: list[_RawWord] = []
    texts: list[str] = []           # the current word's characters, their boxes and fonts
    boxes: list[tuple[float, float, float, float]] = []
    fonts: list[str] = []
    font, size = "", 0.0
    spaced = False          # whitespace typed since the last word
    coloured = False

    def flush() -> None:
        if texts:
            text = "".join(texts)
            start = 0
            for end in (*(glued_syllables(text) if unglue else ()), len(text)):
                # Tuples, not pymupdf.Rect (slow); min and max over columns run in C.
                x0s, y0s, x1s, y1s = zip(*boxes[start:end])
                words.append(_RawWord(text[start:end], (min(x0s), min(y0s), max(x1s), max(y1s)),
                                      size, font, bridged=bridged if start == 0 else False,
                                      fonts=tuple(fonts[start:end]), coloured=coloured))
                start = end
            texts.clear()
            boxes.clear()
            fonts.clear()

    bridged = False
    for span in raw_line["spans"]:
        span_font, span_size = span["font"], span["size"]
        span_coloured = _is_coloured(span.get("color", 0))
        apart = 0.6 * max(span_size, 1.0)     # a wider gap without a space parts two words
        for c in span["chars"]:
            char, box = c["c"], c["bbox"]
            if char.isspace() and char != "\x85":   # 0x85 is a TCVN3 letter, not a space
                flush()
                spaced = bool(words)
                continue
            if boxes and box[0] - boxes[-1][2] > apart:
                flush()   # words placed apart without a space character
                spaced = False
            if not texts:
                font, size, coloured = span_font, span_size, span_coloured
                bridged, spaced = spaced, False
            texts.append(char)
            boxes.append(box)
            fonts.append(span_font)
    flush()
    return words


def _split_columns(words: list[_RawWord]) -> list[list[_RawWord]]:
    groups: list[list[_RawWord]] = []
    for i, word in enumerate(words):
        previous = words[i - 1] if i else None
        gap = (word.box[0] - previous.box[2]) / max(word.size, previous.size, 1.0) \
            if previous is not None else 0.0
        if previous is None or gap > (_BRIDGED_GAP if word.bridged else _COLUMN_GAP):
            groups.append([])
        groups[-1].append(word)
    return groups
