"""Batches: many criteria of many units at once. Submitting returns the batch id at once (202);
the work runs elsewhere (Celery workers, or a local process pool) over the job table, and its
progress, results and reports are read here."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from kiemchung.api import service
from kiemchung.api.access import Hidden, acting_level, acting_unit, unit_scope
from kiemchung.api.http.deps import CurrentKey, SettingsDep, StoreDep, Submitter
from kiemchung.api.http.errors import Unprocessable
from kiemchung.api.http.idempotency import HEADER, HEADER_DOC, Idempotency
from kiemchung.api.http.routes.documents import read_upload
from kiemchung.api.http.routes.verdicts import verdict_json
from kiemchung.api.http.schemas import (
    BatchAccepted,
    BatchCreate,
    BatchPublic,
    BatchResults,
    BatchZipForm,
)
from kiemchung.api.jobs.batch_input import ZipLimits, batch_from_zip
from kiemchung.api.jobs.batches import BrokerUnavailable, Refusal, dispatch, submit_batch
from kiemchung.api.store import NewBatchItem, Store
from kiemchung.api.store.tables import ApiKey, BatchRow
from kiemchung.verifier.reports import csv_bytes, xlsx_bytes
from kiemchung.verifier.ruleset import load_ruleset

router = APIRouter(prefix="/batches", tags=["batches"])
log = logging.getLogger("kiemchung.api")


def _inline(schema: dict) -> dict:
    """A pydantic schema with its `$defs` written in place, to sit inside the OpenAPI page."""
    definitions = schema.pop("$defs", {})

    def resolve(node):
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(definitions[node["$ref"].rsplit("/", 1)[1]])
            return {key: resolve(value) for key, value in node.items()}
        if isinstance(node, list):
            return [resolve(value) for value in node]
        return node

    return resolve(schema)


ZIP_FORM_SCHEMA = _inline(BatchZipForm.model_json_schema())
ZIP_FORM_SCHEMA["properties"]["file"] = {"type": "string", "format": "binary",
                                         "description": "ZIP laid out unit/criterion/files"}
ZIP_FORM_SCHEMA["required"] = [*ZIP_FORM_SCHEMA.get("required", []), "file"]
SUBMIT_BODY = {"requestBody": {"required": True, "content": {
    "application/json": {"schema": _inline(BatchCreate.model_json_schema())},
    "multipart/form-data": {"schema": ZIP_FORM_SCHEMA}}}}


def _validated(model, data):
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise RequestValidationError(
            [{**e, "loc": ("body", *e["loc"])} for e in error.errors()]) from None


async def _zip_form(request: Request, settings) -> tuple[BatchZipForm, bytes]:
    form = await request.form()
    fields = _validated(BatchZipForm, {name: value for name, value in form.items()
                                       if name != "file" and isinstance(value, str)})
    upload = form.get("file")
    if upload is None or isinstance(upload, str):
        raise RequestValidationError([{"loc": ("body", "file"), "msg": "Field required",
                                       "type": "missing"}])
    return fields, await run_in_threadpool(read_upload, upload, settings.max_upload_bytes)


def _zip_items(store: Store, settings, key: ApiKey, fields: BatchZipForm, data: bytes
               ) -> tuple[list[NewBatchItem], list[Refusal]]:
    acting_level(key, fields.level)         # before anything of the ZIP is stored
    ruleset = load_ruleset(fields.ruleset)
    limits = ZipLimits(max_file_bytes=settings.max_upload_bytes)
    unpacked = batch_from_zip(store, data, ruleset, fields.level, limits=limits,
                              uploaded_by=key.id, only_unit=unit_scope(key))
    # Entries refused (zip slip, bombs, not a PDF…) become failed items with the reason.
    return unpacked.items(ruleset), list(unpacked.refused)


async def _manifest(request: Request) -> BatchCreate:
    try:
        data = json.loads(await request.body())
    except (ValueError, UnicodeDecodeError) as error:
        raise RequestValidationError([{"loc": ("body",), "msg": f"JSON decode error ({error})",
                                       "type": "json_invalid"}]) from None
    return _validated(BatchCreate, data)


def _manifest_items(manifest: BatchCreate) -> list[NewBatchItem]:
    return [NewBatchItem(item.unit, item.level.value, item.criterion, tuple(item.documents))
            for item in manifest.items]


def check_items(store: Store, key: ApiKey, ruleset_id: str, items: list[NewBatchItem],
                refused: list[Refusal]) -> None:
    """Refuse at once what would only fail later: unknown criteria, another unit's items (for a
    unit key), documents that are not there or not the caller's to use."""
    ruleset = load_ruleset(ruleset_id)
    if not items and not refused:
        raise Unprocessable("the batch has no items")
    scope = unit_scope(key)
    for refusal in refused:
        acting_unit(key, refusal.unit or None)
        acting_level(key, refusal.level or None)
    known: set[str] = set()
    for item in items:
        acting_unit(key, item.unit)                     # 403 for another unit's item
        acting_level(key, item.level)                   # 403 for another level than its own
        ruleset.criterion(item.criterion)               # 422 for an unknown criterion
        known.update(item.documents)
    for sha256 in known:
        store.get_document(sha256)                      # 404 for an unknown document
        if scope is not None and scope not in store.document_units(sha256):
            raise Hidden(f"no document {sha256}")


@router.post("", status_code=202, response_model=BatchAccepted, openapi_extra=SUBMIT_BODY,
             summary="Submit a batch: a JSON manifest of uploaded documents, or a ZIP")
async def create_batch(request: Request, key: Submitter, store: StoreDep,
                       settings: SettingsDep,
                       idempotency_key: Annotated[str | None, Header(
                           alias=HEADER, description=HEADER_DOC)] = None):
    """JSON: `{ruleset, year, webhook_url?, items: [{unit, level, criterion, documents}]}`
    over documents uploaded before. Multipart: a `file` ZIP laid out unit/criterion/files with
    the fields `ruleset`, `year`, `level?`, `webhook_url?`. Returns the batch id at once, also
    when the broker cannot be reached (the items wait in the job table for a worker's sweep)."""
    submitted: BatchZipForm | BatchCreate
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        submitted, data = await _zip_form(request, settings)
        # The content, not the bytes sent: every retry has its own multipart boundary.
        content = {"zip": hashlib.sha256(data).hexdigest(), **submitted.model_dump(mode="json")}
    else:
        submitted, data = await _manifest(request), None
        content = submitted.model_dump(mode="json")
    once = Idempotency(store, key, "batches", idempotency_key, content)
    if (earlier := await run_in_threadpool(once.replay)) is not None:
        return earlier
    with once.releasing():
        if isinstance(submitted, BatchZipForm):
            assert data is not None   # the ZIP's bytes come with its form
            items, refused = await run_in_threadpool(_zip_items, store, settings, key,
                                                     submitted, data)
        else:
            items, refused = _manifest_items(submitted), []
        await run_in_threadpool(check_items, store, key, submitted.ruleset, items, refused)
        batch_id = await run_in_threadpool(
            lambda: submit_batch(store, created_by=key.id, ruleset_id=submitted.ruleset,
                                 year=submitted.year, items=items, refused=refused,
                                 webhook_url=submitted.webhook_url,
                                 webhook_hosts=settings.webhook_hosts))
        # Kept before dispatching: from here on the batch exists, whatever happens next.
        answer = await run_in_threadpool(once.answer, 202, {"batch_id": batch_id},
                                         BatchAccepted)
    try:
        await run_in_threadpool(lambda: dispatch(settings, batch_id,
                                                 trust=request.app.state.trust))
    except BrokerUnavailable as error:
        # Stored and queued: a 4xx/5xx now would make the client submit it a second time.
        log.warning("batch accepted while the broker is away: %s", error.message,
                    extra={"batch_id": batch_id})
    log.info("batch submitted", extra={"batch_id": batch_id, "items": len(items),
                                       "key_id": key.id})
    return answer


def visible_batch(store: Store, key: ApiKey, batch_id: str) -> BatchRow:
    """The batch, if the key may see it: a unit key sees the batches its unit submitted and
    those whose every item is its unit's."""
    batch = store.get_batch(batch_id)                   # NotFound → 404
    scope = unit_scope(key)
    if scope is None:
        return batch
    creator = store.get_key(batch.created_by) if batch.created_by else None
    units = {item.unit for item in store.batch_items(batch_id)}
    if (creator is not None and creator.unit == scope) or units == {scope}:
        return batch
    raise Hidden(f"no batch {batch_id}")


def item_json(item) -> dict:
    return {"id": item.id, "unit": item.unit, "level": item.level, "criterion": item.criterion,
            "documents": item.documents, "state": item.state, "attempts": item.attempts,
            "error": item.error, "verdict_id": item.verdict_id,
            "started_at": item.started_at, "finished_at": item.finished_at}


@router.get("/{batch_id}", response_model=BatchPublic,
            summary="Batch status: progress counts per state and the current item")
def get_batch(batch_id: str, key: CurrentKey, store: StoreDep):
    batch = visible_batch(store, key, batch_id)
    progress = store.batch_progress(batch_id)
    return {"batch_id": batch.id, "status": progress.status, "ruleset": batch.ruleset_id,
            "year": batch.year, "total": progress.total, "counts": progress.counts,
            "finished": progress.finished,
            "current": item_json(progress.current) if progress.current else None,
            "created_at": batch.created_at, "finished_at": batch.finished_at}


@router.get("/{batch_id}/results", response_model=BatchResults,
            summary="Every item of the batch with its verdict once done")
def get_batch_results(batch_id: str, key: CurrentKey, store: StoreDep):
    batch = visible_batch(store, key, batch_id)
    items = store.batch_items(batch_id)
    verdict_ids = [item.verdict_id for item in items if item.verdict_id is not None]
    verdicts = store.verdicts_by_id(verdict_ids)
    overrides = store.overrides_by_verdict(verdict_ids)
    results = []
    for item in items:
        row = verdicts.get(item.verdict_id) if item.verdict_id is not None else None
        verdict = verdict_json(row, overrides.get(row.id, [])) if row else None
        results.append({**item_json(item), "verdict": verdict})
    return {"batch_id": batch.id, "status": batch.status, "items": results}


@router.get("/{batch_id}/report.csv", response_class=Response,
            responses={200: {"content": {"text/csv": {}}}}, summary="The batch report as CSV")
def get_report_csv(batch_id: str, key: CurrentKey, store: StoreDep):
    visible_batch(store, key, batch_id)
    return Response(csv_bytes(*service.batch_report(store, batch_id)),
                    media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition":
                             f'attachment; filename="batch-{batch_id}.csv"'})


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@router.get("/{batch_id}/report.xlsx", response_class=Response,
            responses={200: {"content": {XLSX: {}}}}, summary="The batch report as XLSX")
def get_report_xlsx(batch_id: str, key: CurrentKey, store: StoreDep):
    visible_batch(store, key, batch_id)
    return Response(xlsx_bytes(*service.batch_report(store, batch_id)), media_type=XLSX,
                    headers={"Content-Disposition":
                             f'attachment; filename="batch-{batch_id}.xlsx"'})
