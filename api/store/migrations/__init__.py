"""Alembic migrations, configured from code: no alembic.ini.

`upgrade_to_head(connection)` is what the store runs on start. To write a new revision:

    .venv/bin/python -c "from api.migrations import alembic_config; from alembic import command; \
command.revision(alembic_config('sqlite:///tmp.sqlite3'), 'what changes', autogenerate=True)"

(upgrade that database to head first, so autogenerate compares against the current schema).
"""

from __future__ import annotations

import threading
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection

MIGRATIONS = Path(__file__).resolve().parent
# Alembic runs a migration through module-level proxies (`alembic.op`, `alembic.context`) that
# it sets and removes around each run: two stores opened at once in one process (the service's
# and a batch thread's) would remove each other's ("KeyError: 'script'"). Other processes
# are serialised by the database's own lock (see the store).
_ONE_AT_A_TIME = threading.Lock()


def alembic_config(url: str | None = None, connection: Connection | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    if url is not None:
        config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def upgrade_to_head(connection: Connection) -> None:
    with _ONE_AT_A_TIME:
        command.upgrade(alembic_config(connection=connection), "head")
