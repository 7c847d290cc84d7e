"""Tell the portal a batch has finished: POST a JSON summary to the batch's webhook URL.

The body is signed with HMAC-SHA256 under `KIEMCHUNG_WEBHOOK_SECRET`:

    X-Kiemchung-Signature: sha256=<hex of HMAC(secret, raw body)>

The receiver recomputes it over the raw bytes it got and compares in constant time. Short
timeout, a few tries with a pause between; 4xx answers are not retried. A webhook that cannot
be delivered is logged and never fails the batch: its results stay available through the API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from typing import Any

from api.store import Store
from models.db import BatchRow, ItemState

SIGNATURE_HEADER = "X-Kiemchung-Signature"
TIMEOUT = 5.0          # seconds per try
ATTEMPTS = 3
PAUSE = 1.0            # seconds before the second try, doubled before the third
log = logging.getLogger("kiemchung.webhook")


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def batch_summary(store: Store, batch: BatchRow) -> dict[str, Any]:
    """What the portal needs to decide whether to fetch the results."""
    progress = store.batch_progress(batch.id)
    verdicts: dict[str, int] = {}
    for item in store.batch_items(batch.id):
        if item.state == ItemState.DONE and item.verdict_id is not None:
            status = store.get_verdict(item.verdict_id).status
            verdicts[status] = verdicts.get(status, 0) + 1
    return {"event": "batch.finished", "batch_id": batch.id, "status": progress.status,
            "ruleset": batch.ruleset_id, "year": batch.year, "total": progress.total,
            "counts": progress.counts, "verdicts": verdicts,
            "finished_at": batch.finished_at.isoformat() if batch.finished_at else None}


def send_webhook(url: str, payload: dict[str, Any], secret: str | None, *,
                 attempts: int = ATTEMPTS, timeout: float = TIMEOUT) -> bool:
    """POST the payload; True once the receiver answered 2xx."""
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "kiemchung"}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, body)
    else:
        log.warning("webhook %s sent unsigned: KIEMCHUNG_WEBHOOK_SECRET is not set", url)
    pause = PAUSE
    for attempt in range(1, attempts + 1):
        request = urllib.request.Request(url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as answer:
                answer.read()
            return True
        except urllib.error.HTTPError as error:
            problem = f"HTTP {error.code}"
            if 400 <= error.code < 500:       # the receiver refuses it: trying again won't help
                log.error("webhook %s refused: %s", url, problem)
                return False
        except (urllib.error.URLError, OSError, ValueError) as error:
            problem = str(getattr(error, "reason", error))
        log.warning("webhook %s try %d of %d failed: %s", url, attempt, attempts, problem)
        if attempt < attempts:
            time.sleep(pause)
            pause *= 2
    log.error("webhook %s not delivered after %d tries", url, attempts)
    return False


def notify_batch_finished(store: Store, batch: BatchRow, secret: str | None) -> bool:
    try:
        delivered = send_webhook(batch.webhook_url, batch_summary(store, batch), secret)
    except Exception:  # noqa: BLE001 - a webhook never fails the batch
        log.exception("webhook of batch %s failed", batch.id)
        delivered = False
    store.audit(None, "batch.webhook", f"batch:{batch.id}",
                {"url": batch.webhook_url, "delivered": delivered})
    return delivered
