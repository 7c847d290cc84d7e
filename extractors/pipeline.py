"""One evidence file to facts, stage by stage: text (layer or OCR) → fields → signatures → marks."""

from __future__ import annotations

from io import BytesIO
from pathlib import Path

from PIL import Image, ImageSequence

from extractors.fields import extract_fields
from extractors.reader import read_document_bytes
from extractors.seal import find_marks
from extractors.signatures import TrustStore, read_signatures
from models.errors import InputFileError
from models.inspection import Inspection


def read_input(path: Path) -> bytes:
    if not path.exists():
        raise InputFileError(f"{path}: no such file")
    if path.is_dir():
        raise InputFileError(f"{path}: is a directory, not a file")
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputFileError(f"{path}: cannot be read ({exc.strerror or exc})") from exc


def inspect_bytes(data: bytes, name: str, *, trust: TrustStore | None = None,
                  ocr_dpi: int = 300) -> Inspection:
    text = read_document_bytes(data, name, ocr_dpi=ocr_dpi)
    fields = extract_fields(text)
    signatures = read_signatures(data, trust or TrustStore()) if text.kind == "pdf" else ()
    marks = find_marks(data) if text.kind == "pdf" else find_marks(_image_frames(data))
    return Inspection(file=name, text=text, fields=fields, signatures=signatures, marks=marks)


def inspect_file(path: Path, *, trust: TrustStore | None = None, ocr_dpi: int = 300) -> Inspection:
    return inspect_bytes(read_input(path), str(path), trust=trust, ocr_dpi=ocr_dpi)


def _image_frames(data: bytes) -> list[Image.Image]:
    with Image.open(BytesIO(data)) as image:
        return [frame.convert("RGB") for frame in ImageSequence.Iterator(image)]
