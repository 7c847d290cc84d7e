"""What one evidence file may cost to read, and the cheap measures that check it first.

A hostile or broken upload (a decompression bomb, thousands of pages, an image or a page
declared far larger than any scan, a form drawn a million times) must end in a clear error or
a page error, not in hours of OCR or gigabytes of memory. Real evidence stays far below each
limit: a DTI evidence file is a few to a few hundred A4 pages.
"""

from __future__ import annotations

import math
import re

import pymupdf

MAX_PAGES = 1000                    # pages of a PDF or frames of a TIFF; each may need OCR
MAX_IMAGE_PIXELS = 80_000_000       # one image (file frame or PDF image): A3 at 600 dpi is 70 M
MAX_PAGE_CONTENT = 64 * 1024**2     # bytes of drawing instructions interpreted for one page
LIST_DRAWINGS_CONTENT = 2 * 1024**2  # above this a page's drawings are not listed one by one
# Render budgets (pixels) of one page; a larger page is rendered at a lower resolution. OCR
# costs this process about 26 bytes a pixel (A4 at 300 dpi, 8.7 M: 230 MB), and Tesseract's
# own process 8; the search for seals about 18. A4 at 300 dpi is OCR'd at full resolution,
# A3 at 256 dpi; A1 at 100 dpi (7.7 M) is searched for seals at full resolution.
OCR_PIXELS = 12_000_000
MARKS_PIXELS = 8_000_000
MIN_RENDER_DPI = 20                 # below this nothing on the page can be made out


class TooLargeToRender(ValueError):
    """A page (or an image on it) that cannot be rendered within the budget; the message
    says why, as a page error."""


# `/Name Do` paints the XObject named Name (a form is drawn again at every such call).
_PAINT_XOBJECT = re.compile(rb"/([^\s/\[\]<>(){}%]+)\s*Do(?![^\s/\[\]<>(){}%])")


def content_bytes(page: pymupdf.Page, limit: int = MAX_PAGE_CONTENT) -> int:
    """Decompressed bytes of drawing instructions MuPDF goes through to show `page`: its
    content streams and, at each `/Name Do` of a form XObject, that form's own instructions
    (and its forms', in turn). Counting stops once past `limit`, so measuring a bomb costs
    little: MuPDF refuses to decompress a stream of well over 100 MB ("compression bomb
    detected"), which counts as past the limit too. A stream that cannot be decoded counts as
    empty: reading the page will say what is wrong with it."""
    forms: dict[int, dict[bytes, int]] = {}     # invoker (0: the page) → form name → xref
    for xref, name, invoker, _bbox in page.get_xobjects():
        forms.setdefault(invoker, {})[name.encode("latin-1", "replace")] = xref
    doc = page.parent
    sizes: dict[int, int] = {}

    def stream_bytes(xref: int, invoker: int, open_forms: frozenset[int]) -> int:
        if xref in sizes:
            return sizes[xref]
        try:
            data = doc.xref_stream(xref) or b""
        except Exception as exc:  # noqa: BLE001 - MuPDF raises one of several types
            return limit + 1 if "bomb" in str(exc) else 0
        total = len(data)
        named = forms.get(invoker, {})
        if named and total <= limit:
            for match in _PAINT_XOBJECT.finditer(data):
                form = named.get(match.group(1))
                if form is not None and form not in open_forms:   # MuPDF skips a cycle
                    total += stream_bytes(form, form, open_forms | {form})
                if total > limit:
                    break
        sizes[xref] = total
        return total

    total = 0
    for xref in page.get_contents():
        total += stream_bytes(xref, 0, frozenset())
        if total > limit:
            break
    return total


def render_dpi(page: pymupdf.Page, area: pymupdf.Rect, dpi: float, max_pixels: int) -> int:
    """The resolution at which to render `area` of `page`: `dpi`, or less so that the pixmap
    stays within `max_pixels`. Raises TooLargeToRender for an image on the page declared
    larger than MAX_IMAGE_PIXELS (MuPDF would decode it all, minutes per rendering) and for a
    page so large that even MIN_RENDER_DPI would not fit."""
    for image in page.get_images(full=True):
        width, height = image[2], image[3]
        if width * height > MAX_IMAGE_PIXELS:
            raise TooLargeToRender(f"an image on the page is {pixels_text(width, height)}: "
                                   "too large to render")
    square_inches = area.width * area.height / 72.0**2
    fitting = int(math.sqrt(max_pixels / square_inches)) if square_inches else int(dpi)
    if fitting < MIN_RENDER_DPI:
        raise TooLargeToRender(f"the page is {area.width / 72 * 2.54:,.0f} × "
                               f"{area.height / 72 * 2.54:,.0f} cm, too large to render")
    return min(int(dpi), fitting)


def pixels_text(width: int, height: int) -> str:
    return (f"{width} × {height} pixels ({width * height / 1e6:,.0f} megapixels, over the "
            f"limit of {MAX_IMAGE_PIXELS / 1e6:.0f})")


def megabytes(size: int) -> str:
    return f"{size / 1024**2:,.0f} MB"
