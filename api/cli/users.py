"""`kiemchung users`: the people who log in to the pages (their passwords stored as
Argon2id hashes). API keys, for programs, are `kiemchung keys`."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer
from rich.table import Table

from kiemchung.api.cli.common import console, run

users_app = typer.Typer(help="Manage the users of the web pages.", no_args_is_help=True)

PasswordStdin = Annotated[bool, typer.Option(
    "--password-stdin", help="read the password from the first line of standard input "
                             "instead of asking for it")]


def _store():
    from kiemchung.api.store import open_store

    return open_store()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return typer.prompt("password", hide_input=True, confirmation_prompt=True)


@users_app.command("add")
def add(username: Annotated[str, typer.Argument(help="the login name, e.g. phuvang.vanthu")],
        role: Annotated[str, typer.Option(help="unit, appraiser, auditor or admin")],
        unit: Annotated[Optional[str], typer.Option(
            help="for --role unit: the unit the person acts for")] = None,
        name: Annotated[Optional[str], typer.Option(
            help="the name shown on the pages, e.g. \"Nguyễn Thị Lan\"")] = None,
        password_stdin: PasswordStdin = False) -> None:
    """Add a user with a password (at least 10 characters)."""
    from kiemchung.api.store.users import create_user

    password = _password(password_stdin)

    def action():
        with _store() as store:
            return create_user(store, username, password, role, unit, display_name=name)

    user = run(action)
    scope = f" for {user.key.unit}" if user.key.unit else ""
    console.print(f"user {user.username} ({user.display_name}), role {user.key.role}{scope}",
                  highlight=False)


@users_app.command("list")
def list_() -> None:
    """Every user: name, role, unit, whether locked or disabled (never the password)."""
    from kiemchung.api.store.tables import utcnow
    from kiemchung.api.store.users import list_users

    def action():
        with _store() as store:
            return list_users(store)

    table = Table(title="users", title_justify="left")
    for column in ("user", "name", "role", "unit", "state"):
        table.add_column(column, overflow="fold")
    now = utcnow()
    for user in run(action):
        state = ("disabled" if user.disabled_at else
                 f"locked until {user.locked_until:%Y-%m-%d %H:%M} UTC"
                 if user.locked_until and user.locked_until > now else "active")
        table.add_row(user.username, user.display_name, user.key.role, user.key.unit or "—",
                      state)
    console.print(table)


@users_app.command("passwd")
def passwd(username: str, password_stdin: PasswordStdin = False) -> None:
    """Set a new password; the user's open sessions end and a lock is lifted."""
    from kiemchung.api.store.users import set_password

    password = _password(password_stdin)

    def action():
        with _store() as store:
            return set_password(store, username, password)

    console.print(f"password of {run(action).username} changed", highlight=False)


@users_app.command("unlock")
def unlock(username: str) -> None:
    """Lift the lock that repeated failed logins set."""
    from kiemchung.api.store.users import unlock as unlock_user

    def action():
        with _store() as store:
            return unlock_user(store, username)

    console.print(f"{run(action).username} unlocked", highlight=False)


@users_app.command("disable")
def disable(username: str) -> None:
    """The user can no longer log in; open sessions end. The history stays."""
    from kiemchung.api.store.users import disable as disable_user

    def action():
        with _store() as store:
            return disable_user(store, username)

    console.print(f"{run(action).username} disabled", highlight=False)
