"""People who log in to the pages: a user name, an Argon2id password hash, and a key of their
own that carries their role and unit, so pages and API share one set of permissions.

A wrong password counts against the user; after `MAX_FAILED_LOGINS` in a row the account is
locked for `LOCKOUT` (an admin may unlock it sooner). Sessions are server-side rows: the cookie
holds a random token whose SHA-256 is stored, with the CSRF token of that session.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select, update

from kiemchung.api.store import NotFound, Store, StoreError
from kiemchung.api.store.keys import create_key, token_hash
from kiemchung.api.store.tables import ApiKey, AuditEntry, Role, UserRow, WebSessionRow, utcnow
from kiemchung.models.document import nfc

MAX_FAILED_LOGINS = 5
LOCKOUT = dt.timedelta(minutes=15)
SESSION_LIFETIME = dt.timedelta(hours=12)
MIN_PASSWORD_CHARS = 10
# argon2-cffi's defaults (RFC 9106's second recommendation, 46 MiB, ~50 ms here).
_hasher = PasswordHasher()
# Checked against when the user name is unknown, so that an unknown name costs what a known
# one costs and the answer's timing does not tell which names exist.
_UNKNOWN_USER_HASH = _hasher.hash(secrets.token_urlsafe(16))


class LoginRefused(StoreError):
    """Wrong name or password (`code` "wrong"), a locked account ("locked", with `until`) or
    a disabled one ("disabled"). The pages say it in the reader's language by `code`."""

    def __init__(self, message: str, code: str, until: dt.datetime | None = None):
        super().__init__(message)
        self.code = code
        self.until = until


def normal_username(username: str) -> str:
    return nfc(username).strip().lower()


def check_password_rules(password: str, username: str) -> None:
    if len(password) < MIN_PASSWORD_CHARS:
        raise StoreError(f"the password needs at least {MIN_PASSWORD_CHARS} characters")
    if normal_username(username) in normal_username(password):
        raise StoreError("the password must not contain the user name")


def create_user(store: Store, username: str, password: str, role: Role | str,
                unit: str | None = None, *, display_name: str | None = None,
                actor: int | None = None) -> UserRow:
    name = normal_username(username)
    if not name or len(name) > 100 or any(c.isspace() for c in name):
        raise StoreError("a user name is 1 to 100 characters without spaces")
    check_password_rules(password, name)
    with store.session() as session:
        if session.scalars(select(UserRow.id).where(UserRow.username == name)).first():
            raise StoreError(f"the user {name} exists already")
    # The key's token is never shown: the user acts through it from the pages only.
    _, key = create_key(store, f"user:{name}", role, unit, actor=actor)
    with store.session() as session:
        user = UserRow(username=name, display_name=nfc(display_name or name).strip(),
                       password_hash=_hasher.hash(password), key_id=key.id, failed_logins=0)
        session.add(user)
        session.flush()
        session.add(AuditEntry(actor_key_id=actor, action="user.create",
                               subject=f"user:{user.id}",
                               details={"username": name, "role": key.role, "unit": key.unit,
                                        "key_id": key.id}))
        return _with_key(session, user)


def _with_key(session, user: UserRow) -> UserRow:
    session.refresh(user, ["key"])
    return user


def get_user(store: Store, username: str) -> UserRow:
    with store.session() as session:
        user = session.scalars(select(UserRow).where(
            UserRow.username == normal_username(username))).first()
        if user is None:
            raise NotFound(f"no user {normal_username(username)}")
        return user


def people_names(store: Store) -> dict[int, str]:
    """What the pages call whoever holds each key: a user by the name shown for them, any
    other key (the portal's, a script's) by its own name."""
    with store.session() as session:
        keys = {key.id: key.name for key in session.scalars(select(ApiKey))}
        for user in session.scalars(select(UserRow)):
            keys[user.key_id] = user.display_name
        return keys


def list_users(store: Store) -> list[UserRow]:
    with store.session() as session:
        return list(session.scalars(select(UserRow).order_by(UserRow.username)))


def login(store: Store, username: str, password: str,
          now: dt.datetime | None = None) -> UserRow:
    """The user, when the password is right and the account neither locked nor disabled;
    else LoginRefused. Every attempt is in the audit log, the refused ones too."""
    now = now or utcnow()
    name = normal_username(username)
    with store.session() as session:
        user = session.scalars(select(UserRow).where(UserRow.username == name)
                               .with_for_update(of=UserRow)).first()
        refusal = _refusal(user, password, now)
        if refusal is None:
            assert user is not None
            user.failed_logins, user.locked_until = 0, None
            if _hasher.check_needs_rehash(user.password_hash):
                user.password_hash = _hasher.hash(password)
            session.add(AuditEntry(actor_key_id=user.key_id, action="user.login",
                                   subject=f"user:{user.id}", details={"username": name}))
            session.flush()
            return _with_key(session, user)
        # Written, not rolled back: the refusal is raised once this transaction has ended.
        session.add(AuditEntry(actor_key_id=user.key_id if user else None,
                               action="user.login_refused", subject=f"username:{name[:100]}",
                               details={"why": refusal[0]}))
    raise refusal[1]


def _refusal(user: UserRow | None, password: str,
             now: dt.datetime) -> tuple[str, LoginRefused] | None:
    """None when the login may go on, else (why, for the log; what the person is told)."""
    wrong = LoginRefused("wrong user name or password", "wrong")
    if user is None:
        _verify(_UNKNOWN_USER_HASH, password)
        return "unknown user", wrong
    if user.disabled_at is not None or user.key.revoked:
        return "disabled", LoginRefused("this account is disabled: ask an administrator",
                                        "disabled")
    if user.locked_until is not None and user.locked_until > now:
        return "locked", _locked(user.locked_until)
    if _verify(user.password_hash, password):
        return None
    user.failed_logins += 1
    if user.failed_logins >= MAX_FAILED_LOGINS:
        user.locked_until, user.failed_logins = now + LOCKOUT, 0
        return "wrong password, now locked", _locked(user.locked_until)
    return "wrong password", wrong


def _locked(until: dt.datetime) -> LoginRefused:
    return LoginRefused(f"too many failed logins: the account is locked until "
                        f"{until.strftime('%Y-%m-%d %H:%M UTC')}", "locked", until)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def set_password(store: Store, username: str, password: str, *,
                 actor: int | None = None) -> UserRow:
    """A new password (and the lock lifted); the user's sessions end."""
    user = get_user(store, username)
    check_password_rules(password, user.username)
    with store.session() as session:
        session.execute(update(UserRow).where(UserRow.id == user.id).values(
            password_hash=_hasher.hash(password), failed_logins=0, locked_until=None))
        _end_sessions(session, user.id)
        session.add(AuditEntry(actor_key_id=actor, action="user.password",
                               subject=f"user:{user.id}", details={}))
    return get_user(store, username)


def unlock(store: Store, username: str, *, actor: int | None = None) -> UserRow:
    user = get_user(store, username)
    with store.session() as session:
        session.execute(update(UserRow).where(UserRow.id == user.id).values(
            failed_logins=0, locked_until=None))
        session.add(AuditEntry(actor_key_id=actor, action="user.unlock",
                               subject=f"user:{user.id}", details={}))
    return get_user(store, username)


def disable(store: Store, username: str, *, actor: int | None = None) -> UserRow:
    """The user can no longer log in; open sessions end. The rows stay for the audit log."""
    user = get_user(store, username)
    with store.session() as session:
        session.execute(update(UserRow).where(UserRow.id == user.id).values(
            disabled_at=utcnow()))
        _end_sessions(session, user.id)
        session.add(AuditEntry(actor_key_id=actor, action="user.disable",
                               subject=f"user:{user.id}", details={}))
    return get_user(store, username)


def _end_sessions(session, user_id: int) -> None:
    session.execute(update(WebSessionRow).where(WebSessionRow.user_id == user_id,
                                                WebSessionRow.ended_at.is_(None))
                    .values(ended_at=utcnow()))


# -- sessions ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class WebSession:
    id: int
    user: UserRow
    csrf_token: str

    @property
    def key(self) -> ApiKey:
        return self.user.key


def start_session(store: Store, user: UserRow) -> tuple[str, WebSession]:
    """A new session: (the cookie's token, shown to the browser only; the session)."""
    token = secrets.token_urlsafe(32)
    with store.session() as session:
        row = WebSessionRow(token_hash=token_hash(token), user_id=user.id,
                            csrf_token=secrets.token_urlsafe(32),
                            expires_at=utcnow() + SESSION_LIFETIME)
        session.add(row)
        session.flush()
        return token, WebSession(row.id, user, row.csrf_token)


def session_of(store: Store, token: str | None,
               now: dt.datetime | None = None) -> WebSession | None:
    """The live session the cookie's token belongs to: not ended, not expired, its user
    neither disabled nor its key revoked."""
    if not token:
        return None
    now = now or utcnow()
    with store.session() as session:
        row = session.scalars(select(WebSessionRow).where(
            WebSessionRow.token_hash == token_hash(token))).first()
        if row is None or row.ended_at is not None or row.expires_at <= now:
            return None
        user = session.get(UserRow, row.user_id)
        if user is None or user.disabled_at is not None or user.key.revoked:
            return None
        return WebSession(row.id, user, row.csrf_token)


def end_session(store: Store, session_id: int) -> None:
    with store.session() as session:
        session.execute(update(WebSessionRow).where(WebSessionRow.id == session_id)
                        .values(ended_at=utcnow()))


def csrf_matches(web_session: WebSession, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(web_session.csrf_token, given or "")
