"""API keys: a random token shown once, stored only as its SHA-256, with a role and, for the
`unit` role, the one unit it may act for."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import select

from kiemchung.api.store import NotFound, Store, StoreError
from kiemchung.api.store.tables import ApiKey, AuditEntry, Role, utcnow

# A recognisable prefix lets secret scanners and people spot a leaked token.
TOKEN_PREFIX = "kc_"


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_key(store: Store, name: str, role: Role | str, unit: str | None = None, *,
               actor: int | None = None,
               expires_at: dt.datetime | None = None) -> tuple[str, ApiKey]:
    """A new key: (the token, to be shown once and never again; the stored row). With
    `expires_at`, the key is refused from that moment on."""
    try:
        role = Role(role)
    except ValueError:
        raise StoreError(f"unknown role {role!r} (known: "
                         f"{', '.join(r.value for r in Role)})") from None
    unit = (unit or "").strip() or None
    if role == Role.UNIT and unit is None:
        raise StoreError("a key with the role unit needs the unit it acts for")
    if role != Role.UNIT and unit is not None:
        raise StoreError(f"only keys with the role unit carry a unit, not {role.value}")
    if not name.strip():
        raise StoreError("a key needs a name")
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise StoreError("the expiry needs a time zone (UTC)")
        if expires_at <= utcnow():
            raise StoreError(f"the expiry {expiry_text(expires_at)} is already past")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)        # 32 random bytes
    with store.session() as session:
        key = ApiKey(name=name.strip(), role=role.value, unit=unit, key_hash=token_hash(token),
                     expires_at=expires_at)
        session.add(key)
        session.flush()
        session.add(AuditEntry(actor_key_id=actor, action="key.create", subject=f"key:{key.id}",
                               details={"name": key.name, "role": key.role, "unit": key.unit,
                                        "expires_at": expires_at and expires_at.isoformat()}))
        return token, key


def authenticate(store: Store, token: str | None) -> ApiKey | None:
    """The key the token belongs to, or None for unknown, revoked and expired keys."""
    return check_token(store, token)[0]


def check_token(store: Store, token: str | None) -> tuple[ApiKey | None, str]:
    """(the key, "") when the token is good, else (None, why it is refused, in one line)."""
    unknown = "the API key is unknown or revoked"
    if not token:
        return None, unknown
    digest = token_hash(token)
    with store.session() as session:
        key = session.scalar(select(ApiKey).where(ApiKey.key_hash == digest))
    # The lookup is by hash, which says nothing about the token; compare again in constant
    # time so that the decision itself does not depend on how much of it matched.
    if key is None or not hmac.compare_digest(key.key_hash, digest) or key.revoked:
        return None, unknown
    if key.expired() and key.expires_at is not None:   # expired: it has an expiry
        # Only the holder of the token learns this: it tells them to ask for a new key.
        return None, (f"the API key expired on {expiry_text(key.expires_at)}; ask for a new "
                      "one")
    return key, ""


def expiry_text(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def parse_expiry(text: str) -> dt.datetime:
    """`2027-01-01` (that day, 00:00 UTC) or an ISO date and time (UTC unless it says)."""
    try:
        moment = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        raise StoreError(f"--expires {text!r}: not a date such as 2027-01-01") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def revoke_key(store: Store, key_id: int, *, actor: int | None = None) -> ApiKey:
    """Revoke a key for good; revoking it again changes nothing."""
    with store.session() as session:
        key = session.get(ApiKey, key_id)
        if key is None:
            raise NotFound(f"no API key {key_id}")
        if key.revoked_at is None:
            key.revoked_at = utcnow()
            session.add(AuditEntry(actor_key_id=actor, action="key.revoke",
                                   subject=f"key:{key.id}", details={"name": key.name}))
        return key


def list_keys(store: Store, *, include_revoked: bool = True) -> list[ApiKey]:
    query = select(ApiKey).order_by(ApiKey.id)
    if not include_revoked:
        query = query.where(ApiKey.revoked_at.is_(None))
    with store.session() as session:
        return list(session.scalars(query))
