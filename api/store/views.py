"""Saved views: a filtered list a person keeps under a name (the page and its query), to open
again from a link. Each person sees and deletes only their own. Functions over a `Store`, as
`keys.py`."""

from __future__ import annotations

from sqlalchemy import delete, select

from kiemchung.api.store.store import NotFound, Store, StoreError, rowcount
from kiemchung.api.store.tables import SavedViewRow
from kiemchung.models.document import nfc

MAX_NAME_CHARS = 200


def save_view(store: Store, user_id: int, page: str, name: str,
              query: dict[str, str]) -> SavedViewRow:
    """Keep `query` under `name` for this user; a view of the same name is replaced."""
    name = nfc(name).strip()
    if not name or len(name) > MAX_NAME_CHARS:
        raise StoreError(f"a view's name is 1 to {MAX_NAME_CHARS} characters")
    with store.session() as session:
        row = session.scalars(select(SavedViewRow).where(
            SavedViewRow.user_id == user_id, SavedViewRow.name == name)).first()
        if row is None:
            row = SavedViewRow(user_id=user_id, name=name, page=page, query=query)
            session.add(row)
        else:
            row.page, row.query = page, query
        session.flush()
        return row


def list_views(store: Store, user_id: int, page: str) -> list[SavedViewRow]:
    with store.session() as session:
        return list(session.scalars(select(SavedViewRow).where(
            SavedViewRow.user_id == user_id, SavedViewRow.page == page)
            .order_by(SavedViewRow.name)))


def delete_view(store: Store, user_id: int, view_id: int) -> None:
    """Delete the user's own view; another person's is "not found", as one that never was."""
    with store.session() as session:
        deleted = rowcount(session.execute(delete(SavedViewRow).where(
            SavedViewRow.id == view_id, SavedViewRow.user_id == user_id)))
    if not deleted:
        raise NotFound(f"no saved view {view_id}")
