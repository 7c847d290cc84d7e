"""Page images for the document view, rendered by the server so that scans, photos and
born-digital files look the same in every browser, and cached on disk next to the documents
(`<data dir>/page-images/`): a page is rendered once per resolution.

Boxes are drawn over the image in percent of the page (fields, signatures and changed words
are in points, the page's size is in points), so the image's pixel size does not matter.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from pathlib import Path

import pymupdf
from PIL import Image, ImageSequence

from kiemchung.api.store import Store
from kiemchung.extractors.limits import (
    MAX_IMAGE_PIXELS,
    MAX_PAGE_CONTENT,
    TooLargeToRender,
    content_bytes,
    render_dpi,
)
from kiemchung.extractors.reader import detect_kind, quiet_mupdf
from kiemchung.models.errors import InputFileError

DPI = 110                       # legible on a laptop screen, ~150 kB a page
MAX_PIXELS = 4_000_000          # one page image, whatever the paper size
MAX_IMAGE_WIDTH = 1400          # a phone photo or a 600-dpi scan is shown downscaled


def page_image(store: Store, sha256: str, number: int) -> bytes:
    """The PNG of page `number` (1-based) of a stored document; InputFileError when there is
    no such page or it cannot be drawn."""
    cached = store.data_dir / "page-images" / sha256[:2] / f"{sha256}-{number}-{DPI}.png"
    if cached.exists():
        return cached.read_bytes()
    data = store.document_bytes(sha256)
    png = _render_pdf(data, number) if detect_kind(data) == "pdf" else _render_image(data, number)
    _write(cached, png)
    return png


def _render_pdf(data: bytes, number: int) -> bytes:
    with quiet_mupdf():
        try:
            doc = pymupdf.open(stream=data, filetype="pdf")
        except Exception as exc:  # noqa: BLE001 - MuPDF raises several types
            raise InputFileError(f"the PDF cannot be opened ({exc})") from exc
        with doc:
            if not 1 <= number <= doc.page_count:
                raise InputFileError(f"the document has no page {number}")
            page = doc[number - 1]
            if content_bytes(page) > MAX_PAGE_CONTENT:
                raise InputFileError(f"page {number} holds too many drawing instructions to "
                                     "be shown")
            try:
                dpi = render_dpi(page, page.rect, DPI, MAX_PIXELS)
                return page.get_pixmap(dpi=dpi, annots=True).tobytes("png")
            except TooLargeToRender as exc:
                raise InputFileError(f"page {number}: {exc}") from exc
            except Exception as exc:  # noqa: BLE001 - a damaged page
                raise InputFileError(f"page {number} cannot be drawn ({exc})") from exc


def _render_image(data: bytes, number: int) -> bytes:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            image = Image.open(io.BytesIO(data))
            for index, frame in enumerate(ImageSequence.Iterator(image), start=1):
                if index == number:
                    if frame.width * frame.height > MAX_IMAGE_PIXELS:
                        raise InputFileError(f"page {number} is too large to be shown")
                    shown = frame.convert("RGB")
                    if shown.width > MAX_IMAGE_WIDTH:
                        shown = shown.resize((MAX_IMAGE_WIDTH, round(
                            shown.height * MAX_IMAGE_WIDTH / shown.width)))
                    out = io.BytesIO()
                    shown.save(out, "PNG", optimize=True)
                    return out.getvalue()
        except InputFileError:
            raise
        except Exception as exc:  # noqa: BLE001 - Pillow raises many types for bad files
            raise InputFileError(f"the image cannot be drawn ({exc})") from exc
    raise InputFileError(f"the document has no page {number}")


def _write(path: Path, data: bytes) -> None:
    """Atomically: two requests rendering one page at once both leave a whole file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".part")
    with os.fdopen(handle, "wb") as out:
        out.write(data)
    os.replace(temporary, path)
