"""Read an evidence file (PDF or image) into DocumentText: text layer where usable, OCR elsewhere.

Every input that cannot be read raises InputFileError with one human line; a single page that
fails leaves the other pages usable (`Page.error`). What a file may cost to read is bounded
(extractors/limits.py): too many pages is an error, a page that is a decompression bomb is a
page error, and a page or image too large to render is not OCR'd.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import re
import unicodedata
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pymupdf
from PIL import Image

from kiemchung.extractors.images import read_image_pages
from kiemchung.extractors.limits import (
    MAX_PAGE_CONTENT,
    MAX_PAGES,
    TooLargeToRender,
    content_bytes,
    megabytes,
)
from kiemchung.extractors.ocr import ocr_page, ocr_threads, read_rendered, render_for_ocr
from kiemchung.extractors.regions import field_areas, unread_bands
from kiemchung.extractors.text_layer import decide_text_layer
from kiemchung.extractors.written_digits import with_written_digits
from kiemchung.models.document import BBox, DocumentText, Line, Page, TextSource
from kiemchung.models.errors import InputFileError, OcrUnavailableError
from kiemchung.models.marks import AuthenticityMarks

SUPPORTED = "PDF, PNG, JPEG or TIFF"
NAME_SHOWN = 120          # characters of a file name shown in a message, at most
REFETCH = "get a complete copy from where it came from"


def read_document(path: Path | str, *, ocr_dpi: int = 300) -> DocumentText:
    """Read the file at `path`. Raises InputFileError (missing, unreadable, unsupported,
    encrypted, damaged) or OcrUnavailableError (a page needs OCR, Tesseract is missing)."""
    path = Path(path)
    return read_document_bytes(read_file(path), str(path), ocr_dpi=ocr_dpi)


def read_file(path: Path) -> bytes:
    """The bytes of the file at `path`; InputFileError when there are none to read."""
    shown = display_name(str(path))
    if not path.exists():
        raise InputFileError(f"{shown}: no such file")
    if path.is_dir():
        raise InputFileError(f"{shown}: is a directory, not a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{shown}: cannot be read ({exc.strerror or exc})") from exc


def read_document_bytes(data: bytes, name: str, *, ocr_dpi: int = 300,
                        fields_only: AuthenticityMarks | None = None,
                        pdf: pymupdf.Document | None = None,
                        read_before: DocumentText | None = None) -> DocumentText:
    """Read a file given as bytes; `name` is used in messages and as DocumentText.path. With
    `fields_only` (the file's seals and handwriting), scanned PDF pages are OCR'd only where
    the fields stand (extractors/regions.py); else every page is read whole. `pdf`: these
    bytes already opened (`open_pdf`), so that they are parsed once. `read_before`: these
    same bytes read with `fields_only` (the caller checks they are), to be read whole now:
    what was read is kept and only the rest of the pages read in part is OCR'd."""
    shown = display_name(name)
    if not data:
        raise InputFileError(f"{shown}: the file is empty (0 bytes)")
    digest = hashlib.sha256(data).hexdigest()
    kind = detect_kind(data)
    if kind == "pdf":
        with quiet_mupdf(), contextlib.ExitStack() as opened:
            doc = pdf if pdf is not None else opened.enter_context(open_pdf(data, name))
            before = read_before.pages if read_before is not None and fields_only is not None \
                else None
            pages, errors = _read_pdf_pages(doc, data, shown, ocr_dpi, fields_only, before)
        return DocumentText(path=name, sha256=digest, pages=pages, kind="pdf", errors=errors)
    if kind == "image":
        pages = read_image_pages(data, shown)
        errors = tuple(f"page {p.number}: {p.error}" for p in pages if p.error)
        return DocumentText(path=name, sha256=digest, pages=pages, kind="image", errors=errors)
    raise InputFileError(f"{shown}: {describe_unsupported(data)}")


def display_name(name: str) -> str:
    """A file name as messages show it: one line whatever its bytes. Control characters, bidi
    overrides (which could make a message read backwards) and undecodable bytes are shown
    escaped, Vietnamese in NFC, and a very long name is cut in its middle."""
    name = unicodedata.normalize("NFC", name)
    shown = "".join(_escaped(ch) if unicodedata.category(ch) in _HIDDEN else ch for ch in name)
    if len(shown) > NAME_SHOWN:
        shown = shown[: NAME_SHOWN * 2 // 3] + "…" + shown[-NAME_SHOWN // 3:]
    return shown


# Control, format (bidi, zero-width), line/paragraph separators, lone surrogates, unassigned.
_HIDDEN = {"Cc", "Cf", "Zl", "Zp", "Cs", "Co", "Cn"}


def _escaped(ch: str) -> str:
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def mupdf_reason(exc: Exception) -> str:
    """MuPDF's message without its error-code prefix ("code=7: cycle in page tree")."""
    text = " ".join(re.sub(r"^code=\d+:\s*", "", str(exc).strip()).split())
    if text == "exception stack overflow!":
        return "objects nested too deeply"
    return text or type(exc).__name__


def detect_kind(data: bytes) -> str | None:
    """"pdf" or "image" from the leading bytes (never the file name), else None."""
    # The PDF header may follow some junk, which readers accept within the first kilobyte.
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")):
        return "image"
    return None


def describe_unsupported(data: bytes) -> str:
    if data.startswith(b"PK\x03\x04"):
        return f"a ZIP or Office file (.docx, .xlsx …), not a {SUPPORTED} file: export it to PDF"
    if data.startswith((b"GIF8", b"BM", b"RIFF")):
        return f"an image format that is not supported: use {SUPPORTED}"
    head = data[:512]
    if head.lstrip().lower().startswith((b"<!doctype html", b"<html")):
        return f"an HTML page, not a {SUPPORTED} file"
    try:
        head.decode("utf-8")
        return f"a text file, not a {SUPPORTED} file"
    except UnicodeDecodeError:
        return f"not a {SUPPORTED} file"


def open_pdf(data: bytes, name: str) -> pymupdf.Document:
    """The PDF as MuPDF opens it (repairing what it can); InputFileError when it cannot."""
    try:
        return pymupdf.open(stream=data, filetype="pdf")
    except Exception as exc:   # MuPDF raises several types for unreadable files
        raise InputFileError(f"{display_name(name)}: damaged PDF that cannot be opened "
                             f"({mupdf_reason(exc)}): {REFETCH}") from exc


@contextlib.contextmanager
def quiet_mupdf() -> Iterator[None]:
    """MuPDF prints what it repairs on a damaged file to standard output, where it would
    corrupt `inspect --json`; the reader reports damage in the inspection instead."""
    errors, warnings = pymupdf.TOOLS.mupdf_display_errors(), \
        pymupdf.TOOLS.mupdf_display_warnings()
    pymupdf.TOOLS.mupdf_display_errors(False)
    pymupdf.TOOLS.mupdf_display_warnings(False)
    try:
        yield
    finally:
        pymupdf.TOOLS.mupdf_display_errors(errors)
        pymupdf.TOOLS.mupdf_display_warnings(warnings)


def _read_pdf_pages(doc: pymupdf.Document, data: bytes, name: str, ocr_dpi: int,
                    fields_only: AuthenticityMarks | None, before: tuple[Page, ...] | None
                    ) -> tuple[tuple[Page, ...], tuple[str, ...]]:
    if doc.needs_pass:
        raise InputFileError(f"{name}: the PDF is password-protected (encrypted); "
                             "provide a copy without a password")
    damaged = doc.is_repaired or b"%%EOF" not in data[-2048:]
    errors: list[str] = []
    if damaged:
        errors.append("the PDF is damaged or truncated (no end marker or a broken "
                      "cross-reference table); it was repaired and may be incomplete")
    try:
        page_count = doc.page_count
    except Exception as exc:   # MuPDF raises one of several types
        raise InputFileError(f"{name}: damaged PDF: its page tree cannot be read "
                             f"({mupdf_reason(exc)}): {REFETCH}") from exc
    if page_count > MAX_PAGES:
        raise InputFileError(f"{name}: the PDF has {page_count} pages, more than the "
                             f"{MAX_PAGES} one evidence file may have: split it and submit the "
                             "part that is evidence")
    if page_count == 0:
        if damaged:
            raise InputFileError(f"{name}: damaged or truncated PDF: no page can be read: "
                                 f"{REFETCH}")
        if not _has_page_tree(doc):
            raise InputFileError(f"{name}: damaged PDF: its catalog or page tree cannot be "
                                 f"read, so no page can be shown: {REFETCH}")
        raise InputFileError(f"{name}: the PDF has no pages")

    if before is not None and len(before) != page_count:
        before = None
    pages = _read_in_turn(doc, page_count, ocr_dpi, fields_only, before)
    for index, page in enumerate(pages):
        if damaged and not page.error and not page.lines:
            # A repaired file whose page shows nothing has lost that page's content.
            pages[index] = page = _with_error(page, "nothing on the page can be read "
                                                    "(damaged file)")
        if page.error:
            errors.append(f"page {page.number}: {page.error}")
    if all(p.error for p in pages):
        if damaged:
            raise InputFileError(f"{name}: damaged or truncated PDF: none of its "
                                 f"{len(pages)} page(s) can be read: {REFETCH}")
        raise InputFileError(f"{name}: no page of the PDF can be read; page 1: "
                             f"{pages[0].error}")
    return tuple(pages), tuple(errors)


def _has_page_tree(doc: pymupdf.Document) -> bool:
    """Whether the catalog loads and names a page tree (MuPDF gives up on a catalog nested
    too deeply, or one its cross-reference sections lose)."""
    try:
        catalog = doc.pdf_catalog()
        return catalog > 0 and doc.xref_get_key(catalog, "Pages")[0] == "xref"
    except Exception:   # noqa: BLE001 — MuPDF raises one of several types
        return False


def _read_in_turn(doc: pymupdf.Document, page_count: int, ocr_dpi: int,
                  fields_only: AuthenticityMarks | None,
                  before: tuple[Page, ...] | None) -> list[Page]:
    """Every page, in order. MuPDF decides and renders one page at a time in this thread;
    Tesseract reads the rendered regions `ocr_threads()` at a time (parallel_ocr), at most that
    many pages rendered ahead, so that a long scan is never in memory whole."""
    threads = ocr_threads()
    pool = ThreadPoolExecutor(threads, thread_name_prefix="kiemchung-ocr") if threads > 1 \
        else None
    pages: list[Page | None] = []
    waiting: deque[tuple[int, Callable[[], Page]]] = deque()
    try:
        for index in range(page_count):
            read = _read_pdf_page(doc, index, ocr_dpi, fields_only, pool,
                                  None if before is None else before[index])
            if isinstance(read, Page):
                pages.append(read)
                continue
            # MuPDF keeps what it decoded in a store of up to 256 MB, for pages seen again: a
            # page rendered for OCR leaves its image there (a scanned page's: 26 MB), and pages
            # are read once, so the store is emptied. The fonts a text page leaves stay: the
            # next pages use them (reloading them costs more than reading a page's text).
            pymupdf.TOOLS.store_shrink(100)
            pages.append(None)
            waiting.append((index, read))
            while len(waiting) > threads - 1:
                done, finish = waiting.popleft()
                pages[done] = finish()
        for done, finish in waiting:
            pages[done] = finish()
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    return [page for page in pages if page is not None]


def _read_pdf_page(doc: pymupdf.Document, index: int, ocr_dpi: int,
                   fields_only: AuthenticityMarks | None,
                   pool: ThreadPoolExecutor | None = None,
                   before: Page | None = None) -> Page | Callable[[], Page]:
    """The page, or, when it must be OCR'd, a function giving it once read (its regions
    rendered now and read in `pool`, or in this thread without one). `before`: the page as
    read for the fields (`fields_only`); read in part, its rest is read now."""
    number = index + 1
    if before is not None and not before.partial:
        return before
    try:
        page = doc.load_page(index)
        if page.xref:   # MuPDF stands in a blank page for a page object it cannot load
            doc.xref_get_key(page.xref, "Type")
        # Measured before MuPDF interprets the page: a bomb would take minutes each time.
        if content_bytes(page) > MAX_PAGE_CONTENT:
            return Page(number=number, width=page.rect.width, height=page.rect.height,
                        source=TextSource.TEXT, lines=(),
                        error=f"more than {megabytes(MAX_PAGE_CONTENT)} of drawing "
                              "instructions once decompressed (a decompression bomb): not read")
        decision = decide_text_layer(page, number)
    except Exception as exc:  # noqa: BLE001 - a broken page object or content stream
        return Page(number=number, width=0.0, height=0.0, source=TextSource.TEXT, lines=(),
                    error=f"the page cannot be read ({mupdf_reason(exc)})")
    if decision.page is not None:
        if number == 1 and decision.page.overlays:
            return _with_stamped_text(page, decision.page, ocr_dpi)
        return decision.page
    areas = None if fields_only is None else \
        field_areas(number, doc.page_count, page.rect.width, page.rect.height, fields_only)
    width, height = page.rect.width, page.rect.height
    # A page read in part before: its areas, kept, and the bands left, read now.
    rest = None if before is None or areas is None else \
        (before, areas, unread_bands(areas, width, height))

    def ocr_failed(exc: Exception) -> Page:
        error = str(exc) if isinstance(exc, TooLargeToRender) \
            else f"OCR failed ({mupdf_reason(exc)})"
        return Page(number=number, width=width, height=height, source=TextSource.OCR,
                    lines=(), text_layer_verdict=decision.verdict, error=error)

    regions = list(rest[2]) if rest is not None else [None] if areas is None else list(areas)
    try:
        rendered = [render_for_ocr(page, ocr_dpi, region) for region in regions]
    except OcrUnavailableError:
        raise
    except Exception as exc:  # noqa: BLE001 - rendering failed on this page only
        return ocr_failed(exc)
    reading = [pool.submit(read_rendered, r) for r in rendered] if pool is not None else None

    def finish() -> Page:
        try:
            parts = [f.result() for f in reading] if reading is not None else \
                [read_rendered(r) for r in rendered]
        except OcrUnavailableError:
            raise
        except Exception as exc:  # noqa: BLE001 - Tesseract failed on this page only
            return ocr_failed(exc)
        if rest is not None:
            kept, read_areas, bands = rest
            return dataclasses.replace(kept, partial=False,
                                       lines=_with_rest(kept.lines, read_areas, bands, parts))
        read = Page(number=number, width=width, height=height, source=TextSource.OCR,
                    lines=tuple(line for part in parts for line in part),
                    text_layer_verdict=decision.verdict, partial=areas is not None)
        return with_written_digits(read, functools.partial(_render_region, page)) \
            if number == 1 else read

    return finish


CUT = 3.0     # points: a line read this near an area's edge may have been cut by it


def _with_rest(read: tuple[Line, ...], areas: tuple[BBox, ...], bands: tuple[BBox, ...],
               parts: list[tuple[Line, ...]]) -> tuple[Line, ...]:
    """The lines read before in `areas` and those read now in `bands` (`parts`, one per band),
    area and band in turn down the page. A line an area's edge cut is read again whole in the
    band beside it; a line read now within the lines kept from an area was read there."""
    def middle(line: Line) -> float:
        return (line.bbox.y0 + line.bbox.y1) / 2

    def distance(y: float, top: float, bottom: float) -> float:
        return max(top - y, 0.0, y - bottom)

    def cut(line: Line, area: BBox) -> bool:      # by an edge a band reads across
        top = any(band.y0 < area.y0 < band.y1 for band in bands)
        bottom = any(band.y0 < area.y1 < band.y1 for band in bands)
        return top and line.bbox.y0 <= area.y0 + CUT or bottom and line.bbox.y1 >= area.y1 - CUT

    kept: list[list[Line]] = [[] for _area in areas]
    for line in read:       # to the nearest area: deskewing may move a box a little out
        nearest = min(range(len(areas)),
                      key=lambda i: distance(middle(line), areas[i].y0, areas[i].y1))
        if not cut(line, areas[nearest]):
            kept[nearest].append(line)
    spans = [(min(line.bbox.y0 for line in lines), max(line.bbox.y1 for line in lines))
             for lines in kept if lines]
    pieces = [(area.y0, lines) for area, lines in zip(areas, kept, strict=True)]
    for band, part in zip(bands, parts, strict=True):
        pieces.append((band.y0, [line for line in part
                                 if all(distance(middle(line), *span) > 0 for span in spans)]))
    return tuple(line for _top, lines in sorted(pieces, key=lambda p: p[0]) for line in lines)


def _render_region(page: pymupdf.Page, box: BBox, dpi: int) -> Image.Image | None:
    """A region of the page (points, as displayed) in colour; None when it is empty."""
    return render_for_ocr(page, dpi, box).image


STAMP_BAND = 0.4      # of page 1's height: the number and the day are stamped in the header
STAMP_MAX = (0.45, 0.08)   # an appearance larger than this share of the page is no such stamp


def _with_stamped_text(pdf_page: pymupdf.Page, page: Page, ocr_dpi: int) -> Page:
    """E-office systems stamp the number and the day into small signature appearances in the
    header when the document is issued. Their text is usually read with the page's; one drawn
    as an image has none, and is OCR'd (its words keep Tesseract's confidence)."""
    words = [w.bbox for line in page.lines for w in line.words]
    added: list = []
    for box in page.overlays:
        small = (box.x1 - box.x0 <= STAMP_MAX[0] * page.width
                 and box.y1 - box.y0 <= STAMP_MAX[1] * page.height)
        inside = any(box.contains_centre(w) for w in words)
        if box.y1 > STAMP_BAND * page.height or not small or inside:
            continue
        # Tesseract reads a lone digit badly: the box is read with some page around it, and
        # only the words inside it are kept.
        pad = box.y1 - box.y0
        around = BBox(box.x0 - pad, box.y0 - pad / 2, box.x1 + pad, box.y1 + pad / 2)
        try:
            read = ocr_page(pdf_page, page.number, dpi=max(ocr_dpi, 400), clip=around).lines
        except Exception:   # noqa: BLE001 — no Tesseract, or a render error: the text stays
            return page
        for line in read:
            inner = tuple(w for w in line.words if box.contains_centre(w.bbox))
            # What is stamped there is a number or a day; a logo's specks are not kept.
            if any(ch.isdigit() for w in inner for ch in w.text):
                added.append(dataclasses.replace(line, words=inner))
    return dataclasses.replace(page, lines=page.lines + tuple(added)) if added else page


def _with_error(page: Page, error: str) -> Page:
    return dataclasses.replace(page, error=error)
