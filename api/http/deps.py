"""What routes receive: the settings, the store, the trust roots, and the calling key with the
role checks of each kind of request.

Who may do what:

| may                             | unit     | appraiser | auditor   | portal   | admin    |
|---------------------------------|----------|-----------|-----------|----------|----------|
| documents, verify               | own unit | any unit  | read only | any unit | any unit |
| read verdicts, batches, flagged | own unit | all       | all       | all      | all      |
| batches                         | own      | yes       | read      | yes      | yes      |
| overrides                       | –        | yes       | yes       | –        | yes      |
| samples, audit                  | –        | –         | yes       | –        | yes      |

A unit key asking for another unit's document, verdict or batch gets 404, never 403: whether
it exists is not the unit's business (the unit scoping is `api/access.py`).
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from kiemchung.api.http.errors import Forbidden, Unauthorized
from kiemchung.api.store import Store
from kiemchung.api.store.keys import check_token
from kiemchung.api.store.tables import ApiKey, Role
from kiemchung.extractors.signatures import TrustStore
from kiemchung.verifier.settings import Settings


def get_settings(request: Request) -> Settings:
    return request.app.state.settings


def get_store(request: Request) -> Store:
    return request.app.state.store


def get_trust(request: Request) -> TrustStore:
    return request.app.state.trust


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[Store, Depends(get_store)]
TrustDep = Annotated[TrustStore, Depends(get_trust)]

# auto_error=False: a missing header is answered by our own 401 problem, not FastAPI's 403.
_bearer = HTTPBearer(auto_error=False, description="an API key: `Authorization: Bearer kc_…`")
_api_key_header = APIKeyHeader(name="X-API-Key", auto_error=False,
                               description="an API key, for clients that cannot send Bearer")


def current_key(store: StoreDep,
                bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
                api_key: Annotated[str | None, Depends(_api_key_header)]) -> ApiKey:
    token = bearer.credentials if bearer else api_key
    if not token:
        raise Unauthorized("an API key is required: send `Authorization: Bearer <token>` "
                           "or `X-API-Key: <token>`")
    key, refused = check_token(store, token)
    if key is None:
        raise Unauthorized(refused)
    return key


CurrentKey = Annotated[ApiKey, Depends(current_key)]


def role_in(*roles: Role):
    allowed = {role.value for role in roles}

    def check(key: CurrentKey) -> ApiKey:
        if key.role not in allowed:
            raise Forbidden(f"a key with the role {key.role} may not do this (allowed: "
                            f"{', '.join(sorted(allowed))})")
        return key

    return check


# Upload, verify and submit batches: everyone but the auditor, who only reads and judges.
Submitter = Annotated[ApiKey, Depends(role_in(Role.UNIT, Role.APPRAISER, Role.PORTAL,
                                              Role.ADMIN))]
# Change a verdict: the appraising agency and auditors; never the unit or the portal.
Overrider = Annotated[ApiKey, Depends(role_in(Role.APPRAISER, Role.AUDITOR, Role.ADMIN))]
# Draw samples and read the audit log.
Auditor = Annotated[ApiKey, Depends(role_in(Role.AUDITOR, Role.ADMIN))]
Admin = Annotated[ApiKey, Depends(role_in(Role.ADMIN))]


class Metrics:
    """The few counters `/metrics` shows, for this process (Prometheus text format)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: Counter[int] = Counter()         # by HTTP status
        self.documents_processed = 0
        self.ocr_pages = 0
        self.failures: Counter[str] = Counter()         # by kind

    def count_request(self, status: int) -> None:
        with self._lock:
            self.requests[status] += 1

    def count_document(self, ocr_pages: int) -> None:
        with self._lock:
            self.documents_processed += 1
            self.ocr_pages += ocr_pages

    def count_failure(self, kind: str) -> None:
        with self._lock:
            self.failures[kind] += 1


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


MetricsDep = Annotated[Metrics, Depends(get_metrics)]
