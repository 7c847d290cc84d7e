"""Read an evidence file (PDF or image) into DocumentText: text layer where usable, OCR elsewhere.

Every input that cannot be read raises InputFileError with one human line; a single page that
fails leaves the other pages usable (`Page.error`).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pymupdf

from extractors.images import read_image_pages
from extractors.ocr import ocr_page
from extractors.text_layer import decide_text_layer
from models.document import DocumentText, Page, TextSource
from models.errors import InputFileError, OcrUnavailableError

SUPPORTED = "PDF, PNG, JPEG or TIFF"


def read_document(path: Path | str, *, ocr_dpi: int = 300) -> DocumentText:
    """Read the file at `path`. Raises InputFileError (missing, unreadable, unsupported,
    encrypted, damaged) or OcrUnavailableError (a page needs OCR, Tesseract is missing)."""
    path = Path(path)
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a directory, not a file")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc
    return read_document_bytes(data, str(path), ocr_dpi=ocr_dpi)


def read_document_bytes(data: bytes, name: str, *, ocr_dpi: int = 300) -> DocumentText:
    """Read a file given as bytes; `name` is used in messages and as DocumentText.path."""
    if not data:
        raise InputFileError(f"{name}: the file is empty (0 bytes)")
    digest = hashlib.sha256(data).hexdigest()
    kind = detect_kind(data)
    if kind == "pdf":
        pages, errors = _read_pdf(data, name, ocr_dpi)
        return DocumentText(path=name, sha256=digest, pages=pages, kind="pdf", errors=errors)
    if kind == "image":
        pages = read_image_pages(data, name)
        errors = tuple(f"page {p.number}: {p.error}" for p in pages if p.error)
        return DocumentText(path=name, sha256=digest, pages=pages, kind="image", errors=errors)
    raise InputFileError(f"{name}: {_describe_unsupported(data)}")


def detect_kind(data: bytes) -> str | None:
    """"pdf" or "image" from the leading bytes (never the file name), else None."""
    # The PDF header may follow some junk, which readers accept within the first kilobyte.
    if b"%PDF-" in data[:1024]:
        return "pdf"
    if data.startswith((b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff", b"II*\x00", b"MM\x00*")):
        return "image"
    return None


def _describe_unsupported(data: bytes) -> str:
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


def _read_pdf(data: bytes, name: str, ocr_dpi: int) -> tuple[tuple[Page, ...], tuple[str, ...]]:
    shown = pymupdf.TOOLS.mupdf_display_errors()
    pymupdf.TOOLS.mupdf_display_errors(False)   # repair chatter on stderr is not for users
    try:
        try:
            doc = pymupdf.open(stream=data, filetype="pdf")
        except Exception as exc:   # MuPDF raises several types for unreadable files
            raise InputFileError(f"{name}: damaged PDF that cannot be opened ({exc})") from exc
        with doc:
            return _read_pdf_pages(doc, data, name, ocr_dpi)
    finally:
        pymupdf.TOOLS.mupdf_display_errors(shown)


def _read_pdf_pages(doc: pymupdf.Document, data: bytes, name: str,
                    ocr_dpi: int) -> tuple[tuple[Page, ...], tuple[str, ...]]:
    if doc.needs_pass:
        raise InputFileError(f"{name}: the PDF is password-protected (encrypted); "
                             "provide a copy without a password")
    damaged = doc.is_repaired or b"%%EOF" not in data[-2048:]
    errors: list[str] = []
    if damaged:
        errors.append("the PDF is damaged or truncated (no end marker or a broken "
                      "cross-reference table); it was repaired and may be incomplete")
    if doc.page_count == 0:
        if damaged:
            raise InputFileError(f"{name}: damaged or truncated PDF: no page can be read")
        raise InputFileError(f"{name}: the PDF has no pages")

    pages: list[Page] = []
    for index in range(doc.page_count):
        page = _read_pdf_page(doc, index, ocr_dpi)
        if damaged and not page.error and not page.lines:
            # A repaired file whose page shows nothing has lost that page's content.
            page = _with_error(page, "nothing on the page can be read (damaged file)")
        if page.error:
            errors.append(f"page {page.number}: {page.error}")
        pages.append(page)
    if all(p.error for p in pages):
        if damaged:
            raise InputFileError(f"{name}: damaged or truncated PDF: none of its "
                                 f"{len(pages)} page(s) can be read")
        raise InputFileError(f"{name}: no page of the PDF can be read ({pages[0].error})")
    return tuple(pages), tuple(errors)


def _read_pdf_page(doc: pymupdf.Document, index: int, ocr_dpi: int) -> Page:
    number = index + 1
    try:
        page = doc.load_page(index)
        decision = decide_text_layer(page, number)
    except Exception as exc:   # a broken page object or content stream
        return Page(number=number, width=0.0, height=0.0, source=TextSource.TEXT, lines=(),
                    error=f"the page cannot be read ({exc})")
    if decision.page is not None:
        return decision.page
    try:
        return ocr_page(page, number, dpi=ocr_dpi, verdict=decision.verdict)
    except OcrUnavailableError:
        raise
    except Exception as exc:   # rendering or Tesseract failed on this page only
        return Page(number=number, width=page.rect.width, height=page.rect.height,
                    source=TextSource.OCR, lines=(), text_layer_verdict=decision.verdict,
                    error=f"OCR failed ({exc})")


def _with_error(page: Page, error: str) -> Page:
    return Page(number=page.number, width=page.width, height=page.height, source=page.source,
                lines=page.lines, text_layer_verdict=page.text_layer_verdict, error=error)
