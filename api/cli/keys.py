"""`kiemchung keys`: create, list and revoke the API keys of the HTTP service."""

from __future__ import annotations

from typing import Annotated, Optional

import typer
from rich.table import Table

from kiemchung.api.cli.common import console, run

keys_app = typer.Typer(help="Manage API keys for the HTTP service (stored hashed).",
                       no_args_is_help=True)


def _store():
    # Imported here: the database layer is not needed by the other commands.
    from kiemchung.api.store import open_store

    return open_store()


@keys_app.command("create")
def create(name: Annotated[str, typer.Argument(help="who or what uses the key, e.g. "
                                                    "\"DTI portal\"")],
           role: Annotated[str, typer.Option(help="unit, appraiser, auditor, admin or portal")],
           unit: Annotated[Optional[str], typer.Option(
               help="for --role unit: the unit the key acts for, e.g. \"UBND huyện Phú Vang\"")]
           = None,
           expires: Annotated[Optional[str], typer.Option(
               help="refuse the key from this date on (00:00 UTC), e.g. 2027-01-01; or an ISO "
                    "date and time")] = None) -> None:
    """Create a key and print its token. The token is shown this once: store it now."""
    from kiemchung.api.store.keys import create_key, expiry_text, parse_expiry

    def action():
        expires_at = parse_expiry(expires) if expires else None
        with _store() as store:
            return create_key(store, name, role, unit, expires_at=expires_at)

    token, key = run(action)
    scope = f" for {key.unit}" if key.unit else ""
    until = f", expires {expiry_text(key.expires_at)}" if key.expires_at else ""
    console.print(f"key {key.id} [bold]{key.name}[/bold], role {key.role}{scope}{until}",
                  highlight=False)
    console.print("token (shown once, only its hash is stored):", highlight=False)
    print(token)


@keys_app.command("list")
def list_() -> None:
    """Show every key: id, name, role, unit, when made, revoked and expiring (never the
    token)."""
    from kiemchung.api.store.keys import list_keys

    def action():
        with _store() as store:
            return list_keys(store)

    table = Table(title="API keys", title_justify="left")
    for column in ("id", "name", "role", "unit", "created (UTC)", "revoked (UTC)",
                   "expires (UTC)"):
        table.add_column(column, overflow="fold")

    def when(moment):
        return moment.strftime("%Y-%m-%d %H:%M") if moment else "—"

    for key in run(action):
        table.add_row(str(key.id), key.name, key.role, key.unit or "—", when(key.created_at),
                      when(key.revoked_at), when(key.expires_at))
    console.print(table)


@keys_app.command("revoke")
def revoke(key_id: Annotated[int, typer.Argument(metavar="ID", help="the key's id "
                                                                   "(see `kiemchung keys list`)")]
           ) -> None:
    """Revoke a key: requests with its token are refused from now on."""
    from kiemchung.api.store.keys import revoke_key

    def action():
        with _store() as store:
            return revoke_key(store, key_id)

    key = run(action)
    console.print(f"key {key.id} {key.name} revoked", highlight=False)
