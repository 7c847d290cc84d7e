"""Who may act for and see which unit: one place for the API, the pages and the service.

A `unit` key (a unit's user on the pages acts through one) is confined to its unit: it acts
for that unit only, at that unit's level, and sees the documents its unit uploaded. Every
other role sees every unit. What a unit may not see is answered as not found (`Hidden`, 404),
never as forbidden: whether it exists is not the unit's business.
"""

from __future__ import annotations

from kiemchung.api.store import NotFound, Store
from kiemchung.api.store.tables import ApiKey, Role
from kiemchung.models.errors import ExitCode, KiemchungError
from kiemchung.verifier.evidence import unit_level


class OtherUnit(KiemchungError):
    """A unit key naming another unit or level than its own (403)."""

    exit_code = ExitCode.BAD_INPUT


class Hidden(NotFound):
    """Another unit's document, verdict, batch or entry: "not found" (404)."""


def unit_scope(key: ApiKey) -> str | None:
    """The one unit a key is confined to, or None when it sees every unit."""
    return key.unit if key.role == Role.UNIT else None


def sees_unit(key: ApiKey, unit: str | None) -> bool:
    scope = unit_scope(key)
    return scope is None or unit == scope


def acting_unit(key: ApiKey, unit: str | None) -> str | None:
    """The unit a request is made for: a unit key's own (it may name it, no other)."""
    scope = unit_scope(key)
    if scope is None:
        return unit
    if unit not in (None, "", scope):
        raise OtherUnit(f"this key acts for {scope} only, not {unit}")
    return scope


def acting_level(key: ApiKey, level: str | None) -> None:
    """A unit key submits at its own unit's level only, the one its name says (as the batch
    input reads it): a district must not have itself judged by a department's criteria."""
    scope = unit_scope(key)
    own = unit_level(scope) if scope is not None and level else None
    if own is not None and str(level) != own.value:
        raise OtherUnit(f"this key acts for {scope}, whose level is {own.value}, not {level}")


def visible_document(store: Store, key: ApiKey, sha256: str) -> None:
    """Raise NotFound unless the document exists and the key may see it: a unit key sees the
    documents its unit uploaded."""
    store.get_document(sha256)
    scope = unit_scope(key)
    if scope is not None and scope not in store.document_units(sha256):
        raise Hidden(f"no document {sha256}")
