"""Upload an evidence file and read what it says: the same object as `inspect --json`."""

from __future__ import annotations

import hashlib
from pathlib import PurePath
from typing import Annotated

from fastapi import APIRouter, File, Form, Path, UploadFile
from starlette import datastructures

from kiemchung.api import service
from kiemchung.api.http.deps import (
    CurrentKey,
    MetricsDep,
    SettingsDep,
    StoreDep,
    Submitter,
    TrustDep,
    acting_unit,
    unit_scope,
    visible_document,
)
from kiemchung.api.http.errors import PayloadTooLarge, Unprocessable
from kiemchung.api.http.schemas import DocumentPublic, Unit
from kiemchung.api.jobs.batch_input import MAX_NAME_CHARS, content_refusal, has_control_character
from kiemchung.api.store import NotFound, Store
from kiemchung.api.store.tables import ApiKey
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


def document_name(store: Store, key: ApiKey, sha256: str, unit: str | None = None) -> str:
    """The name the document was uploaded under: the unit's own upload first (checks cite
    it), never another unit's name to a unit key."""
    uploads = store.get_document(sha256).uploads
    unit = unit or unit_scope(key)
    mine = [u.name for u in uploads if u.unit == unit]
    if unit_scope(key) is None:
        mine += [u.name for u in uploads]
    return (mine or [sha256])[0]


def uploaded_elsewhere(store: Store, sha256: str, unit: str) -> bool:
    """The bytes are stored, and this unit never uploaded them."""
    try:
        store.get_document(sha256)
    except NotFound:
        return False
    return unit not in store.document_units(sha256)


def document_json(inspection: Inspection, sha256: str) -> dict:
    return {**inspection.to_json(), "sha256": sha256}


@router.post("", response_model=DocumentPublic, summary="Upload and inspect a document")
def upload_document(key: Submitter, store: StoreDep, trust: TrustDep, settings: SettingsDep,
                    metrics: MetricsDep,
                    file: Annotated[UploadFile, File(description="PDF, PNG, JPEG or TIFF")],
                    unit: Annotated[Unit | None, Form(description="the unit the document is "
                                                      "evidence for; a unit key's own")] = None):
    """Store the file once (by SHA-256) and return its inspection. The same bytes uploaded
    again are not read again, but for a unit key whose unit had not uploaded them: its answer
    must not tell that another unit did. A unit key's uploads belong to its unit."""
    unit = acting_unit(key, unit)
    data = read_upload(file, settings.max_upload_bytes)
    name = upload_name(file)
    refuse_unknown_kind(data, name)
    scope = unit_scope(key)
    reread = scope is not None and uploaded_elsewhere(store, hashlib.sha256(data).hexdigest(),
                                                      scope)
    row = store.put_document(data, name, unit=unit, uploaded_by=key.id)
    if reread:
        # Bytes only other units uploaded are read again for this unit, not taken from the
        # cache: a cached answer comes ~10x sooner and would tell the unit that the document
        # exists elsewhere (and an unreadable one's cached message names the other upload).
        inspection = service.inspect_fresh(data, name, trust, ocr_dpi=settings.ocr_dpi)
    else:
        inspection = service.inspect_document(store, row.sha256, trust, name=name,
                                              ocr_dpi=settings.ocr_dpi)
    metrics.count_document(sum(1 for page in inspection.text.pages
                               if str(page.source) == "ocr"))
    return document_json(inspection, row.sha256)


@router.get("/{sha256}", response_model=DocumentPublic, summary="A document's inspection")
def get_document(sha256: Sha256Path, key: CurrentKey, store: StoreDep, trust: TrustDep,
                 settings: SettingsDep):
    visible_document(store, key, sha256)
    inspection = service.inspect_document(store, sha256, trust,
                                          name=document_name(store, key, sha256),
                                          ocr_dpi=settings.ocr_dpi)
    return document_json(inspection, sha256)
