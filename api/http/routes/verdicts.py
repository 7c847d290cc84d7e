"""Verify one criterion for one unit from uploaded documents: the same object as
`verify --json`, stored with its id; read it back with its overrides."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header

from kiemchung.api import service
from kiemchung.api.access import Hidden, sees_unit
from kiemchung.api.http.deps import CurrentKey, SettingsDep, StoreDep, Submitter, TrustDep
from kiemchung.api.http.idempotency import HEADER, HEADER_DOC, Idempotency
from kiemchung.api.http.schemas import RowId, VerdictCreate, VerdictPublic
from kiemchung.api.service import in_force
from kiemchung.api.store import Store
from kiemchung.api.store.tables import ApiKey, OverrideRow, VerdictRow
from kiemchung.extractors.signatures import TrustStore
from kiemchung.models.verdicts import points_value

router = APIRouter(prefix="/verdicts", tags=["verdicts"])


def override_json(row: OverrideRow) -> dict:
    return {"id": row.id, "verdict_id": row.verdict_id, "status": row.status,
            "points": points_value(row.points), "reason": row.reason, "by_key_id": row.by_key_id,
            "created_at": row.created_at}


def verdict_json(row: VerdictRow, overrides: list[OverrideRow]) -> dict:
    return {**row.verdict, "id": row.id, "evidence": row.evidence, "created_at": row.created_at,
            "overrides": [override_json(o) for o in overrides],
            "in_force": in_force(row, overrides)}


def visible_verdict(store: Store, key: ApiKey, verdict_id: int) -> VerdictRow:
    row = store.get_verdict(verdict_id)                 # NotFound → 404
    if not sees_unit(key, row.unit):
        raise Hidden(f"no verdict {verdict_id}")
    return row


@router.post("", status_code=201, response_model=VerdictPublic,
             summary="Verify a criterion from uploaded documents")
def create_verdict(body: VerdictCreate, key: Submitter, store: StoreDep, trust: TrustDep,
                   settings: SettingsDep,
                   idempotency_key: Annotated[str | None, Header(
                       alias=HEADER, description=HEADER_DOC)] = None):
    once = Idempotency(store, key, "verdicts", idempotency_key, body.model_dump(mode="json"))
    if (earlier := once.replay()) is not None:
        return earlier
    with once.releasing():
        return once.answer(201, _verdict(body, key, store, trust, settings), VerdictPublic)


def _verdict(body: VerdictCreate, key: ApiKey, store: Store, trust: TrustStore, settings) -> dict:
    row = service.verify_stored(store, trust, key, ruleset_id=body.ruleset,
                                criterion=body.criterion, level=body.level, unit=body.unit,
                                year=body.year, documents=body.documents,
                                ocr_dpi=settings.ocr_dpi)
    return verdict_json(row, [])


@router.get("/{verdict_id}", response_model=VerdictPublic,
            summary="A verdict with its overrides")
def get_verdict(verdict_id: RowId, key: CurrentKey, store: StoreDep):
    row = visible_verdict(store, key, verdict_id)
    return verdict_json(row, store.verdict_overrides(verdict_id))
