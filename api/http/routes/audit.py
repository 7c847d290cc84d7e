"""The append-only audit log: overrides, samples drawn, keys made and revoked."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from kiemchung.api.http.deps import Auditor, StoreDep
from kiemchung.api.http.schemas import AfterId, AuditEntryPublic

router = APIRouter(prefix="/audit", tags=["audit"])


@router.get("", response_model=list[AuditEntryPublic],
            summary="Audit log entries, oldest first (auditor, admin)")
def list_audit_entries(key: Auditor, store: StoreDep,
                       subject: Annotated[str | None, Query(
                           description="e.g. verdict:12 or sample:42")] = None,
                       action: Annotated[str | None, Query(
                           description="e.g. verdict.override")] = None,
                       after_id: AfterId = 0,
                       limit: Annotated[int, Query(ge=1, le=1000)] = 100):
    return store.audit_entries(subject=subject, action=action, after_id=after_id, limit=limit)
