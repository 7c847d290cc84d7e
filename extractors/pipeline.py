"""One evidence file to facts: marks (seal, handwriting: where OCR must read) → text (layer or
OCR) → fields → signatures. A PDF is opened once by MuPDF for the marks and the text."""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path

import pymupdf
from PIL import Image, ImageSequence

from kiemchung.extractors.fields import extract_fields
from kiemchung.extractors.images import DAMAGED_IMAGE
from kiemchung.extractors.reader import (
    detect_kind,
    display_name,
    open_pdf,
    quiet_mupdf,
    read_document_bytes,
    read_file,
)
from kiemchung.extractors.seal import find_marks
from kiemchung.extractors.signatures import TrustStore, read_signatures
from kiemchung.models.errors import InputFileError, KiemchungError
from kiemchung.models.inspection import Inspection
from kiemchung.models.marks import AuthenticityMarks
from kiemchung.models.timing import stage


def inspect_bytes(data: bytes, name: str, *, trust: TrustStore | None = None,
                  ocr_dpi: int = 300, whole_text: bool = False,
                  read_in_part: Inspection | None = None) -> Inspection:
    """Everything kiemchung reads from one file. Scanned pages are OCR'd only where the fields
    stand (found from the seals and handwriting, extractors/regions.py); with `whole_text`, the
    rest of them after — of `read_in_part` when given: these bytes read so before."""
    with quiet_mupdf():
        if detect_kind(data) == "pdf":
            with open_pdf(data, name) as pdf:         # parsed once for the marks and the text
                if read_in_part is not None and \
                        read_in_part.text.sha256 == hashlib.sha256(data).hexdigest():
                    marks, text, fields = read_in_part.marks, read_in_part.text, \
                        read_in_part.fields
                else:
                    marks = _pdf_marks(pdf)
                    with stage("text"):
                        text = read_document_bytes(data, name, ocr_dpi=ocr_dpi, pdf=pdf,
                                                   fields_only=marks)
                    with stage("fields"):
                        fields = extract_fields(text)
                if text.partial and fields.signer is None:
                    # The marks did not lead to the signer block (a specimen signature, a seal
                    # on another page, a block read badly on its own): read the pages whole,
                    # as a person would look further.
                    with stage("text"):
                        text = read_document_bytes(data, name, ocr_dpi=ocr_dpi, pdf=pdf)
                    with stage("fields"):
                        fields = extract_fields(text)
                elif text.partial and whole_text:
                    # The rest of the pages, keeping what was read: the fields stand there.
                    with stage("text"):
                        text = read_document_bytes(data, name, ocr_dpi=ocr_dpi, pdf=pdf,
                                                   fields_only=marks, read_before=text)
                    with stage("fields"):
                        fields = extract_fields(text)
        else:
            with stage("text"):
                text = read_document_bytes(data, name, ocr_dpi=ocr_dpi)
            with stage("marks"):
                marks = find_marks(_image_frames(data))
            with stage("fields"):
                fields = extract_fields(text)
        signatures = _signatures(data, name, trust) if text.kind == "pdf" else ()
    return Inspection(file=name, text=text, fields=fields, signatures=signatures, marks=marks)


def inspect_file(path: Path, *, trust: TrustStore | None = None, ocr_dpi: int = 300,
                 whole_text: bool = False, read_in_part: Inspection | None = None) -> Inspection:
    return inspect_bytes(read_file(path), str(path), trust=trust, ocr_dpi=ocr_dpi,
                         whole_text=whole_text, read_in_part=read_in_part)


def _pdf_marks(pdf: pymupdf.Document) -> AuthenticityMarks:
    # A broken file may have no marks to find; reading its text says what is wrong with it.
    try:
        with stage("marks"):
            return find_marks(pdf)
    except Exception:   # noqa: BLE001 — MuPDF raises one of several types
        return AuthenticityMarks()


def _signatures(data: bytes, name: str, trust: TrustStore | None):
    # read_signatures turns every broken signature into a report; a failure outside any one
    # signature on a hostile file (e.g. Python's recursion limit in the parser) ends here.
    try:
        with stage("signatures"):
            return read_signatures(data, trust or TrustStore())
    except KiemchungError:
        raise
    except Exception as exc:   # noqa: BLE001 — whatever pyHanko's parser raises
        raise InputFileError(f"{display_name(name)}: the PDF's signature data cannot be read "
                             f"({type(exc).__name__})") from exc


def _image_frames(data: bytes) -> Iterator[Image.Image]:
    """The frames one at a time: a long multi-page scan is never in memory whole. A damaged
    frame ends the sequence (reading the text has reported it)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # Pillow's about damaged metadata: not for users
        with Image.open(BytesIO(data)) as image:
            frames = ImageSequence.Iterator(image)
            while True:
                try:
                    frame = next(frames)
                    frame.load()
                except (StopIteration, *DAMAGED_IMAGE):
                    return
                yield frame
