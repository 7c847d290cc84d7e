"""Upload an evidence file and read what it says: the same object as `inspect --json`."""

from __future__ import annotations

from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, UploadFile
from starlette import datastructures

from kiemchung.api import service
from kiemchung.api.access import acting_unit, visible_document
from kiemchung.api.http.deps import (
    CurrentKey,
    MetricsDep,
    SettingsDep,
    StoreDep,
    Submitter,
    TrustDep,
)
from kiemchung.api.http.errors import PayloadTooLarge, Unprocessable
from kiemchung.api.http.schemas import DocumentPublic, Unit
from kiemchung.api.jobs.batch_input import MAX_NAME_CHARS, content_refusal, has_control_character
from kiemchung.extractors.reader import display_name
from kiemchung.models.document import nfc
from kiemchung.models.errors import InputFileError
from kiemchung.models.inspection import Inspection

router = APIRouter(prefix="/documents", tags=["documents"])
Sha256Path = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="the document's SHA-256")]
CHUNK = 1024 * 1024


def read_upload(upload: datastructures.UploadFile, limit: int) -> bytes:
    """The file's bytes, read in chunks and given up on at `limit` + 1."""
    chunks, size = [], 0
    while chunk := upload.file.read(min(CHUNK, limit + 1 - size)):
        chunks.append(chunk)
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"{upload.filename or 'the file'} is larger than the limit "
                                  f"of {limit} bytes")
    return b"".join(chunks)


def upload_name(upload: UploadFile) -> str:
    # Only the last part of a client's path: the name is shown back, never used as a path.
    name = nfc(PurePath((upload.filename or "").replace("\\", "/")).name[:MAX_NAME_CHARS])
    if has_control_character(name):
        # PostgreSQL refuses NUL in text; a line break would forge lines in logs and reports.
        raise Unprocessable(f"the file name {display_name(name)} holds a control character "
                            "(NUL, line break…)")
    return name or "upload"


def refuse_unknown_kind(data: bytes, name: str) -> None:
    """Empty files and files that are neither PDF nor image are refused before being stored."""
    if reason := content_refusal(data):
        raise InputFileError(f"{display_name(name)}: {reason}")


def document_json(inspection: Inspection, sha256: str) -> dict:
    return {**inspection.to_json(), "sha256": sha256}


@router.post("", response_model=DocumentPublic, summary="Upload and inspect a document")
def upload_document(key: Submitter, store: StoreDep, trust: TrustDep, settings: SettingsDep,
                    metrics: MetricsDep,
                    file: Annotated[UploadFile, File(description="PDF, PNG, JPEG or TIFF")],
                    unit: Annotated[Unit | None, Form(description="the unit the document is "
                                                      "evidence for; a unit key's own")] = None):
    """Store the file once (by SHA-256) and return its inspection (`service.upload_document`:
    the same bytes are read once, but again for a unit that had not uploaded them). A unit
    key's uploads belong to its unit."""
    unit = acting_unit(key, unit)
    data = read_upload(file, settings.max_upload_bytes)
    name = upload_name(file)
    refuse_unknown_kind(data, name)
    sha256, inspection = service.upload_document(store, trust, key, data, name, unit=unit,
                                                 ocr_dpi=settings.ocr_dpi)
    metrics.count_document(sum(1 for page in inspection.text.pages
                               if str(page.source) == "ocr"))
    return document_json(inspection, sha256)


@router.get("/{sha256}", response_model=DocumentPublic, summary="A document's inspection")
def get_document(sha256: Sha256Path, key: CurrentKey, store: StoreDep, trust: TrustDep,
                 settings: SettingsDep):
    visible_document(store, key, sha256)
    inspection = service.inspect_document(store, sha256, trust,
                                          name=service.document_name(store, key, sha256),
                                          ocr_dpi=settings.ocr_dpi)
    return document_json(inspection, sha256)
