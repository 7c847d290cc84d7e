"""A person's decision over the verifier's: a new status and points with a mandatory reason.
The verdict itself stays as the verifier wrote it; both are in the audit log."""

from __future__ import annotations

from fastapi import APIRouter

from kiemchung.api.http.deps import Overrider, StoreDep
from kiemchung.api.http.routes.verdicts import override_json, visible_verdict
from kiemchung.api.http.schemas import OverrideCreate, OverridePublic, RowId

router = APIRouter(prefix="/verdicts", tags=["overrides"])


@router.post("/{verdict_id}/overrides", status_code=201, response_model=OverridePublic,
             summary="Override a verdict (appraiser, auditor, admin)")
def create_override(verdict_id: RowId, body: OverrideCreate, key: Overrider, store: StoreDep):
    visible_verdict(store, key, verdict_id)
    row = store.override_verdict(verdict_id, body.status.value, body.points, body.reason,
                                 actor=key.id)
    return override_json(row)
