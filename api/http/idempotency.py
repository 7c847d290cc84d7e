"""`Idempotency-Key` on `POST /v1/batches` and `POST /v1/verdicts`: a client that retries (a
timeout, a lost answer) gets the first answer again, with the same id, instead of a second batch
or verdict.

Keys belong to the API key that sent them: another key's same key is another request. The same
key with another request body is a client's mistake (422); while the first request is still
being answered, a retry gets 409. A request that failed keeps nothing, so it can be retried.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from collections.abc import Iterator
from typing import Any

from fastapi.responses import JSONResponse
from pydantic import BaseModel

from kiemchung.api.http.errors import ApiError, Unprocessable
from kiemchung.api.store import Store
from kiemchung.api.store.tables import ApiKey

HEADER = "Idempotency-Key"
HEADER_DOC = ("any unique string (1 to 200 visible ASCII characters, e.g. a UUID): a retry "
              "with the same key and body gets the first answer again, never a duplicate")
KEY = re.compile(r"^[\x21-\x7e]{1,200}$")


class KeyReused(Unprocessable):
    kind = "idempotency-key-reused"


class StillRunning(ApiError):
    status = 409
    kind = "idempotency-key-in-use"


def fingerprint(request: Any) -> str:
    """SHA-256 of the request's content as canonical JSON (field order and spacing aside)."""
    canonical = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False,
                           default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Idempotency:
    """One request's use of its key: `replay()` first, then `answer()` once answered, all of
    it inside `releasing()` so that a failure forgets the reservation."""

    def __init__(self, store: Store, key: ApiKey, scope: str, given: str | None, request: Any):
        self.store, self.owner, self.scope, self.given = store, key.id, scope, given
        self.request_hash = fingerprint(request)
        self.reserved = False

    def replay(self) -> JSONResponse | None:
        """The earlier answer to this key, or None when this request is to be answered now."""
        if self.given is None:
            return None
        if not KEY.match(self.given):
            raise Unprocessable(f"the {HEADER} header must be 1 to 200 visible ASCII characters")
        earlier = self.store.reserve_request(self.owner, self.scope, self.given,
                                             self.request_hash)
        if earlier is None:
            self.reserved = True
            return None
        if earlier.request_hash != self.request_hash:
            raise KeyReused(f"{HEADER} {self.given!r} was used before with a different request; "
                            "send a new key for a new request")
        if earlier.status_code is None:
            raise StillRunning(f"the request with {HEADER} {self.given!r} is still being "
                               "processed; retry in a moment")
        return JSONResponse(earlier.response, status_code=earlier.status_code,
                            headers={"Idempotent-Replayed": "true"})

    def answer(self, status_code: int, body: dict, model: type[BaseModel]):
        """The response to send, kept first for retries when a key was given."""
        if not self.reserved or self.given is None:
            return body                     # no key: FastAPI encodes it as usual
        encoded = model.model_validate(body).model_dump(mode="json")
        self.store.answer_request(self.owner, self.scope, self.given, status_code, encoded)
        self.reserved = False
        return JSONResponse(encoded, status_code=status_code)

    @contextlib.contextmanager
    def releasing(self) -> Iterator[None]:
        try:
            yield
        finally:
            if self.reserved and self.given is not None:   # failed before answering: keep nothing
                self.store.release_request(self.owner, self.scope, self.given)
                self.reserved = False
