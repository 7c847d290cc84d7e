"""Which parts of a scanned page OCR must read for the fields, when the whole text is not asked
for: OCR is most of a scan's cost, and the fields stand in two places (Decree 30's layout).

- the header band of page 1: agency, number, place and date, type and subject;
- the signer area of every page carrying a seal or a handwritten signature: from a little above
  the marks (the signer's title, "Nơi nhận") to the foot of the page (the name, the recipients).

Without any mark nothing tells where the signer block is: the first and the last page are read
whole (the block most often closes the last page) and a longer document's middle pages not at
all; when the signer is not found there, the pipeline reads every page whole. Pages read in
part are marked `Page.partial`; a check that needs the whole text gets the rest of them read
then (verifier/evaluate.py, `unread_bands`), keeping what was read for the fields.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiemchung.models.document import BBox
from kiemchung.models.marks import AuthenticityMarks

HEADER_SHARE = 0.35          # of page 1's height; the subject ends near 0.22 on A4
ABOVE_MARKS = 45 * 72 / 25.4  # points above the highest mark: the title and "Nơi nhận:" lines
OVERLAP = 12 * 72 / 25.4      # points a band read later reaches into the areas read before


@dataclass(frozen=True)
class SignerArea(BBox):
    """The signer area: OCR reads it as one block of text (extractors/ocr.py), since
    Tesseract's page analysis takes a signature or a black seal for a picture and drops the
    title and the name printed under and over it."""


def field_areas(number: int, page_count: int, width: float, height: float,
                marks: AuthenticityMarks) -> tuple[BBox, ...] | None:
    """The areas of page `number` (of `page_count`) to OCR, in points; () for none, None for
    the whole page."""
    if not (marks.seals or marks.handwriting):
        return None if number in (1, page_count) else ()
    areas = []
    if number == 1:
        areas.append(BBox(0.0, 0.0, width, height * HEADER_SHARE))
    on_page = ([m.bbox for m in marks.seals_on(number)]
               + [m.bbox for m in marks.handwriting_on(number)])
    if on_page:
        top = max(0.0, min(b.y0 for b in on_page) - ABOVE_MARKS)
        areas.append(SignerArea(0.0, top, width, height))
    if len(areas) == 2 and areas[1].y0 <= areas[0].y1:     # they meet: the whole page
        return None
    return tuple(areas)


def unread_bands(areas: tuple[BBox, ...], width: float, height: float) -> tuple[BBox, ...]:
    """The rest of a page read in `areas` (full-width bands, as `field_areas` gives them): the
    bands between them, each reaching OVERLAP into the areas beside it, so that a line an
    area's edge cut in two is read whole once."""
    bands, top = [], 0.0
    for area in sorted(areas, key=lambda a: a.y0):
        if area.y0 > top:
            bands.append(BBox(0.0, max(0.0, top - OVERLAP), width, min(height, area.y0 + OVERLAP)))
        top = max(top, area.y1)
    if top < height:
        bands.append(BBox(0.0, max(0.0, top - OVERLAP), width, height))
    return tuple(bands)
