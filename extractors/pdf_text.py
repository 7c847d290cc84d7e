"""A PDF page's own text layer as lines of words with boxes (points, top-left origin)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pymupdf

from models.document import BBox, Line, Page, TextSource, Word, nfc

# Ligatures expanded ("ﬁ" → "fi"), whitespace kept so that words split where the PDF put
# spaces, nothing outside the page box.
_FLAGS = pymupdf.TEXT_PRESERVE_WHITESPACE | pymupdf.TEXT_MEDIABOX_CLIP

# Two words of one PDF line farther apart than this many font sizes belong to different
# columns (e.g. the agency and the motto of a header set on the same baseline).
_COLUMN_GAP = 2.0

# decode(raw_words, font_names) -> words: converts a legacy-encoded text layer one line at a
# time (the line gives context, e.g. whether a word stands among capitals).
Decoder = Callable[[list[str], list[str]], list[str]]


def read_text_layer(page: pymupdf.Page, number: int, *, decode: Decoder | None = None,
                    source: TextSource = TextSource.TEXT, verdict: str = "") -> Page:
    """Lines and words of `page`'s text layer; `number` is 1-based.

    Each PDF text line stays a line, and a line is also split where a wide gap shows two
    columns. Boxes follow the page as displayed (its /Rotate applied). Text is NFC.
    """
    rotate = page.rotation_matrix
    lines: list[Line] = []
    raw = page.get_text("rawdict", flags=_FLAGS)
    for block in raw["blocks"]:
        if block.get("type", 0) != 0:
            continue
        for raw_line in block.get("lines", ()):
            for group in _split_columns(_words_of_line(raw_line)):
                texts = [w.text for w in group]
                if decode is not None:
                    texts = decode(texts, [w.font for w in group])
                words = []
                for raw_word, text in zip(group, texts):
                    text = nfc(text).strip()
                    if text:
                        box = raw_word.box * rotate
                        words.append(Word(text=text, bbox=BBox(box.x0, box.y0, box.x1, box.y1)))
                if words:
                    lines.append(Line(words=tuple(words), block=block["number"]))
    rect = page.rect
    return Page(number=number, width=rect.width, height=rect.height, source=source,
                lines=tuple(lines), text_layer_verdict=verdict)


@dataclass
class _RawWord:
    text: str
    box: pymupdf.Rect       # unrotated page space
    size: float
    font: str


def _words_of_line(raw_line: dict) -> list[_RawWord]:
    words: list[_RawWord] = []
    chars: list[dict] = []
    font, size = "", 0.0

    def flush() -> None:
        if chars:
            boxes = [c["bbox"] for c in chars]     # plain tuples: pymupdf.Rect is slow here
            box = pymupdf.Rect(min(b[0] for b in boxes), min(b[1] for b in boxes),
                               max(b[2] for b in boxes), max(b[3] for b in boxes))
            words.append(_RawWord("".join(c["c"] for c in chars), box, size, font))
            chars.clear()

    for span in raw_line["spans"]:
        for c in span["chars"]:
            if c["c"].isspace() and c["c"] != "\x85":   # 0x85 is a TCVN3 letter, not a space
                flush()
                continue
            if chars and c["bbox"][0] - chars[-1]["bbox"][2] > 0.6 * max(span["size"], 1.0):
                flush()   # words placed apart without a space character
            if not chars:
                font, size = span["font"], span["size"]
            chars.append(c)
    flush()
    return words


def _split_columns(words: list[_RawWord]) -> list[list[_RawWord]]:
    groups: list[list[_RawWord]] = []
    for i, word in enumerate(words):
        previous = words[i - 1] if i else None
        if previous is None or (word.box.x0 - previous.box.x1
                                > _COLUMN_GAP * max(word.size, previous.size, 1.0)):
            groups.append([])
        groups[-1].append(word)
    return groups
