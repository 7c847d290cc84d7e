"""Tell the portal a batch has finished: POST a JSON summary to the batch's webhook URL.

The body is signed with HMAC-SHA256 under `KIEMCHUNG_WEBHOOK_SECRET`:

    X-Kiemchung-Signature: sha256=<hex of HMAC(secret, raw body)>

The receiver recomputes it over the raw bytes it got and compares in constant time. Short
timeout, a few tries with a pause between; 4xx answers are not retried. A webhook that cannot
be delivered is logged and never fails the batch: its results stay available through the API.

The URL comes from whoever submits a batch, so the server must not become their way into the
internal network: the host must be one of `KIEMCHUNG_WEBHOOK_HOSTS` (the portal's), or, with
that unset, resolve to public addresses only. Checked when the batch is submitted and again
before sending (the name may resolve elsewhere by then).
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import json
import logging
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from typing import Any

from api.jobs import BatchError
from api.store import Store
from models.db import BatchRow, ItemState

SIGNATURE_HEADER = "X-Kiemchung-Signature"
TIMEOUT = 5.0          # seconds per try
ATTEMPTS = 3
PAUSE = 1.0            # seconds before the second try, doubled before the third
log = logging.getLogger("kiemchung.webhook")


class WebhookRefused(BatchError):
    """A webhook URL the server will not call."""


def check_webhook_url(url: str, allowed_hosts: Sequence[str] = ()) -> None:
    """Raise WebhookRefused unless the server may call this URL (see the module's text)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused(f"webhook must be an http:// or https:// URL, not {url!r}")
    host = parts.hostname.lower()
    if allowed_hosts:
        if host not in {h.strip().lower() for h in allowed_hosts}:
            raise WebhookRefused(f"webhook host {host} is not one this server calls "
                                 f"(KIEMCHUNG_WEBHOOK_HOSTS: {', '.join(allowed_hosts)})")
        return
    try:
        found = {info[4][0] for info in socket.getaddrinfo(host, parts.port or 443,
                                                           type=socket.SOCK_STREAM)}
    except (socket.gaierror, UnicodeError) as error:
        raise WebhookRefused(f"webhook host {host} cannot be resolved ({error})") from None
    for address in sorted(found):
        if not ipaddress.ip_address(address.split("%")[0]).is_global:
            raise WebhookRefused(f"webhook host {host} is a private or local address "
                                 f"({address}); name it in KIEMCHUNG_WEBHOOK_HOSTS to allow it")


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


def notify_batch_finished(store: Store, batch: BatchRow, secret: str | None,
                          allowed_hosts: Sequence[str] = ()) -> bool:
    try:
        check_webhook_url(batch.webhook_url, allowed_hosts)
        delivered = send_webhook(batch.webhook_url, batch_summary(store, batch), secret)
    except WebhookRefused as refused:
        log.error("webhook of batch %s not sent: %s", batch.id, refused.message)
        delivered = False
    except Exception:  # noqa: BLE001 - a webhook never fails the batch
        log.exception("webhook of batch %s failed", batch.id)
        delivered = False
    store.audit(None, "batch.webhook", f"batch:{batch.id}",
                {"url": batch.webhook_url, "delivered": delivered})
    return delivered
