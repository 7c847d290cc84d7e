"""Verdicts a person should look at: failed, in need of review, or with a signature problem in
any of their files (a plan can pass on one file while another was altered after signing)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kiemchung.api.access import unit_scope
from kiemchung.api.http.deps import CurrentKey, StoreDep
from kiemchung.api.http.schemas import AfterId, FlaggedItem, Unit
from kiemchung.api.service import flagged_items
from kiemchung.models.verdicts import VerdictStatus

router = APIRouter(prefix="/flagged", tags=["flagged"])


@router.get("", response_model=list[FlaggedItem], summary="Flagged verdicts, filterable")
def list_flagged(key: CurrentKey, store: StoreDep,
                 unit: Annotated[Unit | None, Query(description="only this unit")] = None,
                 criterion: Annotated[str | None, Query(description="e.g. 2.1")] = None,
                 check: Annotated[str | None, Query(
                     description="only verdicts where this check failed or needs review, "
                                 "e.g. digitally_signed")] = None,
                 status: Annotated[VerdictStatus | None, Query(
                     description="only verdicts with this status")] = None,
                 after_id: AfterId = 0,
                 limit: Annotated[int, Query(ge=1, le=10_000)] = 1000):
    scope = unit_scope(key)
    if scope is not None:
        if unit not in (None, scope):
            return []                    # another unit's items do not exist for this key
        unit = scope
    return flagged_items(store, unit=unit, criterion=criterion, check=check,
                         status=status.value if status else None, after_id=after_id,
                         limit=limit)
