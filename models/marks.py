"""Marks that authenticate a paper document: the red official seal and the handwritten signature.

Boxes are PDF points with the origin at the page's top-left corner (as in `models.document`);
for an image input, points are pixels × 72 / dpi of that image.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiemchung.models.document import BBox


@dataclass(frozen=True)
class SealMark:
    page: int              # 1-based
    bbox: BBox
    red_ratio: float       # red pixels / box area (ring with text ~0.05–0.4, filled disc ~0.8)
    roundness: float       # 0..1: how much of a circle's rim is red, less red outside the circle
    confidence: float      # 0..1

    def to_json(self) -> dict:
        return {"page": self.page, "bbox": self.bbox.as_list(),
                "red_ratio": round(self.red_ratio, 3), "roundness": round(self.roundness, 3),
                "confidence": round(self.confidence, 3)}


@dataclass(frozen=True)
class HandwritingMark:
    page: int              # 1-based
    bbox: BBox
    ink_ratio: float       # ink pixels / box area (strokes are sparse: ~0.02–0.25)
    confidence: float      # 0..1

    def to_json(self) -> dict:
        return {"page": self.page, "bbox": self.bbox.as_list(),
                "ink_ratio": round(self.ink_ratio, 3), "confidence": round(self.confidence, 3)}


@dataclass(frozen=True)
class AuthenticityMarks:
    seals: tuple[SealMark, ...] = ()
    handwriting: tuple[HandwritingMark, ...] = ()

    @property
    def has_seal(self) -> bool:
        return bool(self.seals)

    @property
    def has_handwriting(self) -> bool:
        return bool(self.handwriting)

    def seals_on(self, page: int) -> tuple[SealMark, ...]:
        return tuple(s for s in self.seals if s.page == page)

    def handwriting_on(self, page: int) -> tuple[HandwritingMark, ...]:
        return tuple(h for h in self.handwriting if h.page == page)

    def to_json(self) -> dict:
        return {"has_seal": self.has_seal,
                "has_handwriting": self.has_handwriting,
                "seals": [s.to_json() for s in self.seals],
                "handwriting": [h.to_json() for h in self.handwriting]}
