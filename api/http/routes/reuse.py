"""Evidence reused across units and years: pairs of different files that are the same
document (re-saved, re-scanned, renamed, lightly edited), with how similar they are and which
of number, date and issuer differ. For the appraising agency and auditors, never a unit (it
would learn what other units handed in)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel

from kiemchung.api import service
from kiemchung.api.http.deps import Overrider, StoreDep
from kiemchung.api.http.schemas import Unit, Year

router = APIRouter(prefix="/reuse", tags=["reuse"])


class ReuseSide(BaseModel):
    sha256: str
    name: str
    unit: str
    criterion: str
    year: int
    number: str | None
    issue_date: str | None
    issuer: str | None


class FieldDifference(BaseModel):
    field: str
    first: str | None
    second: str | None


class ReusePairPublic(BaseModel):
    first: ReuseSide
    second: ReuseSide
    jaccard: float | None
    phash_distance: int | None
    differs: list[FieldDifference]
    why: list[str]
    summary: str


@router.get("", response_model=list[ReusePairPublic],
            summary="Documents handed in again under other bytes (appraiser, auditor, admin)")
def list_reuse(key: Overrider, store: StoreDep, year: Annotated[Year, Query()],
               unit: Annotated[Unit | None, Query(
                   description="only pairs where this unit handed in one side that year")
               ] = None):
    return [pair.to_json() for pair in service.reused_evidence(store, year=year, unit=unit)]
