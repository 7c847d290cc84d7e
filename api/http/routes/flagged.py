"""Verdicts a person should look at: failed, in need of review, or with a signature problem in
any of their files (a plan can pass on one file while another was altered after signing)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from kiemchung.api.access import unit_scope
from kiemchung.api.http.deps import CurrentKey, StoreDep
from kiemchung.api.http.routes.verdicts import in_force
from kiemchung.api.http.schemas import AfterId, FlaggedItem, Unit
from kiemchung.api.store import Store, verdict_flags
from kiemchung.api.store.tables import VerdictRow
from kiemchung.models.verdicts import VerdictStatus, points_value

router = APIRouter(prefix="/flagged", tags=["flagged"])


def flagged_items(store: Store, *, unit: str | None = None, criterion: str | None = None,
                  check: str | None = None, status: str | None = None,
                  only_flagged: bool = True, after_id: int = 0,
                  limit: int | None = None, batch: str | None = None) -> list[dict]:
    """Verdicts in id order with why they are flagged; with `only_flagged=False`, every
    verdict matching the filters. `check` keeps the verdicts where that check failed or
    needs review; `batch` those the batch of this id gave."""
    def has_check(row: VerdictRow) -> bool:
        doubtful = verdict_flags(row.status, row.verdict.get("checks", []))[1]
        return any(c.get("name") == check for c in doubtful)

    items: list[dict[str, Any]] = []
    for row, batch_id in store.find_verdicts(unit=unit, criterion=criterion, status=status,
                                             only_flagged=only_flagged, after_id=after_id,
                                             keep=has_check if check is not None else None,
                                             limit=limit, batch=batch):
        flags, doubtful = verdict_flags(row.status, row.verdict.get("checks", []))
        items.append({"verdict_id": row.id, "unit": row.unit, "level": row.level,
                      "year": row.year, "criterion": row.criterion, "ruleset": row.ruleset_id,
                      "status": row.status, "points": points_value(row.points),
                      "max_points": points_value(row.max_points), "flags": flags,
                      "problem_checks": doubtful, "batch_id": batch_id,
                      "created_at": row.created_at, "row": row})
    overrides = store.overrides_by_verdict([item["verdict_id"] for item in items])
    for item in items:
        item["in_force"] = in_force(item.pop("row"), overrides.get(item["verdict_id"], []))
    return items


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
