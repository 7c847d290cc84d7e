"""Tell the portal a batch has finished: POST a JSON summary to the batch's webhook URL.

The body is signed with HMAC-SHA256 under `KIEMCHUNG_WEBHOOK_SECRET`:

    X-Kiemchung-Signature: sha256=<hex of HMAC(secret, raw body)>

The receiver recomputes it over the raw bytes it got and compares in constant time. Short
timeout, a few tries with a pause between; 4xx answers are not retried. A webhook that cannot
be delivered is logged and never fails the batch: its results stay available through the API.

The URL comes from whoever submits a batch, so the server must not become their way into the
internal network: the host must be one of `KIEMCHUNG_WEBHOOK_HOSTS` (the portal's), or, with
that unset, resolve to public addresses only. Public means `ipaddress` calls it global and it
hides no private IPv4 address either: NAT64 (64:ff9b::/96, 64:ff9b:1::/48), 6to4 (2002::/16),
IPv4-mapped and -compatible, Teredo forms of 127.0.0.1 or 10.x are refused like the address
itself. Checked when the batch is submitted and again before each try; the connection goes to
the very address checked (no second lookup a rebinding DNS server could answer differently),
and a redirect is never followed: an allowed host answering 30x must not send the signed
request on to `localhost` or 169.254.169.254.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import ipaddress
import json
import logging
import socket
import ssl
import time
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from kiemchung.api.jobs.queue import BatchError
from kiemchung.api.store import Store
from kiemchung.api.store.tables import BatchRow, ItemState

SIGNATURE_HEADER = "X-Kiemchung-Signature"
TIMEOUT = 5.0          # seconds per try
ATTEMPTS = 3
PAUSE = 1.0            # seconds before the second try, doubled before the third
log = logging.getLogger("kiemchung.webhook")


class WebhookRefused(BatchError):
    """A webhook URL the server will not call."""


NAT64 = (ipaddress.ip_network("64:ff9b::/96"), ipaddress.ip_network("64:ff9b:1::/48"))


@dataclass(frozen=True)
class Target:
    """Where a webhook goes: the URL's parts and the one address checked, to connect to."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses an IPv6 address carries, by the transition forms that route to it."""
    low32 = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
    found = []
    if address.ipv4_mapped:                                 # ::ffff:a.b.c.d
        found.append(address.ipv4_mapped)
    if int(address) >> 32 == 0 or address in NAT64[0]:     # ::a.b.c.d, 64:ff9b::a.b.c.d
        found.append(low32)
    if address.sixtofour:                                   # 2002:aabb:ccdd::/48
        found.append(address.sixtofour)
    if address.teredo:                                      # 2001:0::/32: server and client
        found.extend(address.teredo)
    return found


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%")[0])
    if not ip.is_global:
        return False
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in NAT64[1]:                                  # local-use NAT64: never public
            return False
        return all(v4.is_global for v4 in embedded_ipv4(ip))
    return True


def webhook_target(url: str, allowed_hosts: Sequence[str] = (), *,
                   resolve: bool = True) -> Target | None:
    """The address to call for this URL, or WebhookRefused (see the module's text). Without
    `resolve`, an allowed host is not looked up (None): it may be down when a batch is sent."""
    try:
        parts = urllib.parse.urlsplit(url)
        port = parts.port
    except ValueError as error:                 # a port past 65535, a bad [IPv6] literal
        raise WebhookRefused(f"webhook URL {url!r} is not valid ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise WebhookRefused(f"webhook must be an http:// or https:// URL, not {url!r}")
    host = parts.hostname.lower()
    port = port or (443 if parts.scheme == "https" else 80)
    allowed = {h.strip().lower() for h in allowed_hosts if h.strip()}
    if allowed and host not in allowed:
        raise WebhookRefused(f"webhook host {host} is not one this server calls "
                             f"(KIEMCHUNG_WEBHOOK_HOSTS: {', '.join(allowed_hosts)})")
    if allowed and not resolve:
        return None
    try:
        found = [str(info[4][0])
                 for info in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]
    except (OSError, UnicodeError, ValueError) as error:
        raise WebhookRefused(f"webhook host {host} cannot be resolved ({error})") from None
    if not allowed:                             # an allowed host is the operator's choice
        for address in found:
            if not is_public(address):
                raise WebhookRefused(f"webhook host {host} is a private or local address "
                                     f"({address}); name it in KIEMCHUNG_WEBHOOK_HOSTS to "
                                     "allow it")
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, found[0])


def check_webhook_url(url: str, allowed_hosts: Sequence[str] = ()) -> None:
    """Raise WebhookRefused unless the server may call this URL (see the module's text)."""
    webhook_target(url, allowed_hosts, resolve=False)


class _PinnedHTTP(http.client.HTTPConnection):
    """Connects to the address checked, whatever the name resolves to now."""

    def __init__(self, target: Target, timeout: float):
        super().__init__(target.host, target.port, timeout=timeout)
        self.address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPS(http.client.HTTPSConnection):
    """The same over TLS: the certificate is checked against the host's name."""

    def __init__(self, target: Target, timeout: float):
        self.tls = ssl.create_default_context()
        super().__init__(target.host, target.port, timeout=timeout, context=self.tls)
        self.address = target.address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)


def _post(target: Target, body: bytes, headers: dict[str, str], timeout: float) -> int:
    """POST once; the status. http.client never follows a redirect."""
    kind = _PinnedHTTPS if target.scheme == "https" else _PinnedHTTP
    connection = kind(target, timeout)
    try:
        connection.request("POST", target.path, body=body, headers=headers)
        answer = connection.getresponse()
        answer.read(64 * 1024)                  # enough to end the exchange; never more
        return answer.status
    finally:
        connection.close()


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
                 allowed_hosts: Sequence[str] = (), attempts: int = ATTEMPTS,
                 timeout: float = TIMEOUT, pause: float = PAUSE,
                 sleep: Callable[[float], None] = time.sleep) -> bool:
    """POST the payload; True once the receiver answered 2xx. The URL is checked before each
    try; a 3xx is not followed and, like a 4xx, not tried again. Between tries it calls
    `sleep` with `pause` seconds, doubled each time (a test passes one that records them)."""
    body = json.dumps(payload, ensure_ascii=False, sort_keys=True).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "kiemchung"}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, body)
    else:
        log.warning("webhook %s sent unsigned: KIEMCHUNG_WEBHOOK_SECRET is not set", url)
    for attempt in range(1, attempts + 1):
        try:
            target = webhook_target(url, allowed_hosts)
            assert target is not None               # resolved: never None
            status = _post(target, body, headers, timeout)
            if 200 <= status < 300:
                return True
            problem = f"HTTP {status}"
            if 300 <= status < 400:             # followed, it could lead anywhere
                log.error("webhook %s not delivered: answered %s, a redirect, which is never "
                          "followed", url, problem)
                return False
            if 400 <= status < 500:             # the receiver refuses it: trying again won't help
                log.error("webhook %s not delivered: refused with %s", url, problem)
                return False
        except WebhookRefused as refused:
            log.error("webhook %s not delivered: %s", url, refused.message)
            return False
        except (OSError, http.client.HTTPException, ValueError) as error:
            problem = str(error) or type(error).__name__
        log.warning("webhook %s try %d of %d failed: %s", url, attempt, attempts, problem)
        if attempt < attempts:
            sleep(pause)
            pause *= 2
    log.error("webhook %s not delivered after %d tries", url, attempts)
    return False


def notify_batch_finished(store: Store, batch: BatchRow, secret: str | None,
                          allowed_hosts: Sequence[str] = (), *, pause: float = PAUSE) -> bool:
    url = batch.webhook_url
    if not url:
        return False
    try:
        check_webhook_url(url, allowed_hosts)
        delivered = send_webhook(url, batch_summary(store, batch), secret,
                                 allowed_hosts=allowed_hosts, pause=pause)
    except WebhookRefused as refused:
        log.error("webhook of batch %s not sent: %s", batch.id, refused.message)
        delivered = False
    except Exception:  # noqa: BLE001 - a webhook never fails the batch
        log.exception("webhook of batch %s failed", batch.id)
        delivered = False
    store.audit(None, "batch.webhook", f"batch:{batch.id}",
                {"url": batch.webhook_url, "delivered": delivered})
    return delivered
