"""A verdict: its criterion, status and points, the verdict in force with its overrides, and
each reason linked to where on the document it was read; the override form for those who may
change a verdict (appraisers, auditors, admins)."""

from __future__ import annotations

import contextlib
from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import RedirectResponse, Response

from kiemchung.api import service
from kiemchung.api.http.deps import StoreDep, TrustDep
from kiemchung.api.http.routes.verdicts import verdict_json, visible_verdict
from kiemchung.api.http.schemas import RowId
from kiemchung.api.store import InvalidOverride, Store
from kiemchung.api.store.tables import Role, VerdictRow
from kiemchung.api.store.users import WebSession, people_names
from kiemchung.api.web.auth import FormPerson, Person, require_role
from kiemchung.api.web.render import page, typed_number
from kiemchung.api.web.routes.documents import box_link, widget_link
from kiemchung.extractors.signatures import TrustStore
from kiemchung.models.errors import KiemchungError
from kiemchung.models.verdicts import VerdictStatus
from kiemchung.verifier.ruleset import load_ruleset

router = APIRouter()

OVERRIDERS = (Role.APPRAISER, Role.AUDITOR, Role.ADMIN)
# Checks about the digital signature: their reason points at the signature's widget.
SIGNATURE_CHECKS = frozenset({"digitally_signed", "signature_matches_signer",
                              "signature_matches_issuer", "signing_time_consistent"})


def _criterion_title(row: VerdictRow) -> str:
    with contextlib.suppress(KiemchungError):
        return load_ruleset(row.ruleset_id).criterion(row.criterion).name
    return ""


def _reason_links(store: Store, trust: TrustStore, person: WebSession, row: VerdictRow,
                  checks: list[dict], ocr_dpi: int) -> list[str | None]:
    """Where each reason was read: the document view at its page and box (a signature's
    widget for signature checks), or None."""
    by_name = {service.document_name(store, person.key, sha, row.unit): sha
               for sha in row.evidence}
    widgets: dict[str, str | None] = {}

    def widget(sha: str) -> str | None:
        if sha not in widgets:
            widgets[sha] = None
            with contextlib.suppress(KiemchungError):
                inspection = service.inspect_document(store, sha, trust, ocr_dpi=ocr_dpi)
                widgets[sha] = next((link for s in inspection.signatures
                                     if (link := widget_link(s, sha))), None)
        return widgets[sha]

    links: list[str | None] = []
    for check in checks:
        sha = by_name.get(check.get("file") or "") or (
            row.evidence[0] if len(row.evidence) == 1 else None)
        link = widget(sha) if sha and check.get("name") in SIGNATURE_CHECKS else None
        if link is None and sha:
            link = box_link(sha, check.get("page"), check.get("bbox"))
        links.append(link)
    return links


def _verdict_page(request: Request, person: WebSession, store: Store, trust: TrustStore,
                  verdict_id: int, *, error: str | None = None, detail: str | None = None,
                  status_code: int = 200, form: dict | None = None) -> Response:
    row = visible_verdict(store, person.key, verdict_id)
    verdict = verdict_json(row, store.verdict_overrides(verdict_id))
    checks = verdict.get("checks", [])
    links = _reason_links(store, trust, person, row, checks, request.app.state.settings.ocr_dpi)
    who = people_names(store) if verdict["overrides"] else {}
    return page(request, "verdict.html", person, status_code=status_code, verdict=verdict,
                title=_criterion_title(row), reasons=list(zip(checks, links, strict=True)),
                who=who, statuses=[s.value for s in VerdictStatus],
                may_override=person.key.role in {r.value for r in OVERRIDERS},
                error=error, detail=detail, form=form or {})


@router.get("/verdicts/{verdict_id}")
def verdict_view(request: Request, verdict_id: RowId, person: Person, store: StoreDep,
                 trust: TrustDep):
    return _verdict_page(request, person, store, trust, verdict_id)


@router.post("/verdicts/{verdict_id}/override")
def verdict_override(request: Request, verdict_id: RowId, person: FormPerson, store: StoreDep,
                     trust: TrustDep,
                     status: Annotated[str, Form(max_length=32)] = "",
                     points: Annotated[str, Form(max_length=20)] = "",
                     reason: Annotated[str, Form(max_length=5000)] = ""):
    key = require_role(person, *OVERRIDERS)
    visible_verdict(store, key, verdict_id)
    form = {"status": status, "points": points, "reason": reason}

    def again(error: str, detail: str | None = None) -> Response:
        return _verdict_page(request, person, store, trust, verdict_id, error=error,
                             detail=detail, status_code=422, form=form)

    try:
        value = typed_number(points)
    except ValueError:
        return again("Số điểm phải là một số, ví dụ 5 hoặc 7,5.")
    if not reason.strip():
        return again("Hãy ghi lý do thay đổi kết quả.")
    try:
        store.override_verdict(verdict_id, status, value, reason.replace("\x00", ""),
                               actor=key.id)
    except InvalidOverride as refused:
        return again("Không lưu được: trạng thái hoặc số điểm không hợp lệ.", refused.message)
    return RedirectResponse(f"/verdicts/{verdict_id}", 303)
