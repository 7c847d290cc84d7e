"""Text of an evidence file as extracted: pages, lines and words with their boxes.

Coordinates are PDF points (1/72 inch) with the origin at the page's top-left corner,
whatever the source (text layer or OCR of a rendered page), so boxes are comparable.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from functools import cached_property


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def without_marks(text: str) -> str:
    """Diacritics removed (`Đồng` → `Dong`) — for matching, never for display."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c))


@dataclass(frozen=True)
class BBox:
    x0: float
    y0: float
    x1: float
    y1: float

    def union(self, other: BBox) -> BBox:
        return BBox(min(self.x0, other.x0), min(self.y0, other.y0),
                    max(self.x1, other.x1), max(self.y1, other.y1))

    def contains_centre(self, other: BBox) -> bool:
        """Whether the centre of `other` lies in this box."""
        x, y = (other.x0 + other.x1) / 2, (other.y0 + other.y1) / 2
        return self.x0 <= x <= self.x1 and self.y0 <= y <= self.y1

    def as_list(self) -> list[float]:
        return [round(self.x0, 1), round(self.y0, 1), round(self.x1, 1), round(self.y1, 1)]


class TextSource(StrEnum):
    TEXT = "text"        # the PDF's own Unicode text layer
    TCVN3 = "tcvn3"      # a legacy TCVN3 (ABC) text layer converted to Unicode
    OCR = "ocr"          # Tesseract on a rendered page or an image file


@dataclass(frozen=True)
class Word:
    text: str
    bbox: BBox
    confidence: float = 1.0   # 0..1; 1.0 for a text layer


@dataclass(frozen=True)
class Line:
    words: tuple[Word, ...]
    block: int = 0
    # Printed in colour (red, blue) on a page of black text, or OCR'd inside a registry stamp's
    # frame: incoming-registry stamps and signing tools' notes, never the document's own fields.
    coloured: bool = False

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    # Cached: layout analysis asks a line for its box thousands of times (a frozen line's
    # words never change; the cache lives outside the compared fields).
    @cached_property
    def bbox(self) -> BBox:
        box = self.words[0].bbox
        for w in self.words[1:]:
            box = box.union(w.bbox)
        return box

    @property
    def confidence(self) -> float:
        return min((w.confidence for w in self.words), default=0.0)

    @cached_property
    def height(self) -> float:
        """The line's height in points, at least 1 (a ratio's denominator)."""
        box = self.bbox
        return max(box.y1 - box.y0, 1.0)


@dataclass(frozen=True)
class Page:
    number: int            # 1-based
    width: float
    height: float
    source: TextSource
    lines: tuple[Line, ...]
    text_layer_verdict: str = ""    # why the text layer was used or not (e.g. "empty", "tcvn3")
    error: str | None = None        # a page that failed still leaves the others usable
    # OCR read only the areas the fields come from (header band, signer area), or nothing of
    # a middle page: the rest is read when a check needs the whole text.
    partial: bool = False
    # Where annotation and signature-widget appearances stand (points): e-office systems stamp
    # the number and the day there at issuance, and their text is read with the page's.
    overlays: tuple[BBox, ...] = ()

    def in_overlay(self, box: BBox) -> bool:
        """Whether the centre of `box` lies in an appearance (see `overlays`)."""
        return any(overlay.contains_centre(box) for overlay in self.overlays)

    @property
    def text(self) -> str:
        return "\n".join(line.text for line in self.lines)

    @property
    def mean_confidence(self) -> float:
        words = [w.confidence for line in self.lines for w in line.words]
        return sum(words) / len(words) if words else 0.0


@dataclass(frozen=True)
class DocumentText:
    path: str
    sha256: str
    pages: tuple[Page, ...]
    kind: str = "pdf"                     # "pdf" or "image"
    errors: tuple[str, ...] = field(default=())

    @property
    def partial(self) -> bool:
        """Some page was read only in part (see `Page.partial`)."""
        return any(p.partial for p in self.pages)

    @property
    def text_source(self) -> str:
        """Contract value: "text", "ocr" or "mixed"."""
        kinds = {"ocr" if p.source == TextSource.OCR else "text" for p in self.pages}
        if len(kinds) == 1:
            return kinds.pop()
        return "mixed" if kinds else "text"
