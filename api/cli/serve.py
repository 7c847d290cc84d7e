"""`kiemchung serve`: the HTTP API and the web pages with uvicorn, logging JSON lines."""

from __future__ import annotations

import functools
import logging
from typing import Annotated

import typer

from kiemchung.api.cli.common import run

db_app = typer.Typer(help="The database: migrate it, and set up its run-time role.",
                     no_args_is_help=True)


def serve(host: Annotated[str, typer.Option(help="address to listen on")] = "127.0.0.1",
          port: Annotated[int, typer.Option(help="port to listen on")] = 8000,
          log_level: Annotated[str, typer.Option(help="debug, info, warning or error")]
          = "info",
          demo: Annotated[bool, typer.Option(
              "--demo", help="serve the demo of the web pages (its own data dir, the demo CA "
                             "trusted, demo accounts; see `kiemchung demo`)")] = False) -> None:
    """Run the HTTP API (OpenAPI at /docs) and the web pages (at /). Settings come from
    KIEMCHUNG_… and kiemchung.env."""
    import uvicorn

    from kiemchung.api.http.app import configure_logging, create_app
    from kiemchung.api.jobs.batches import resume_unfinished

    settings = None
    if demo:
        from kiemchung.api.demo_site import demo_settings, prepare_demo_site

        settings = demo_settings()
        run(functools.partial(prepare_demo_site, settings))
        print(f"demo pages at http://{host}:{port}/ (accounts: `kiemchung demo`)")
    app = run(lambda: create_app(settings))   # a bad setting is one line, not a traceback
    configure_logging(log_level)
    settings = app.state.settings
    if not settings.broker_url:
        # Embedded mode: batches run in this process's pool, so batches a previous run left
        # unfinished are taken up again here (with a broker, the workers' sweeper does it).
        for batch_id in resume_unfinished(settings):
            logging.getLogger("kiemchung.api").info("batch resumed",
                                                    extra={"batch_id": batch_id})
    uvicorn.run(app, host=host, port=port, log_config=None, log_level=log_level,
                access_log=False)


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Migrate the database (KIEMCHUNG_DATABASE_URL) to the newest schema. In production, run
    it with the URL of the role owning the tables; the service runs with a lesser role."""
    from kiemchung.api.store import open_store

    run(lambda: open_store().close())       # opening migrates
    print("the database is at the newest schema")


@db_app.command("grant-runtime")
def db_grant_runtime(role: Annotated[str, typer.Argument(
        help="the PostgreSQL role the API and workers connect as")]) -> None:
    """As the owner of the tables (KIEMCHUNG_DATABASE_URL names it): migrate, then give ROLE
    what the service needs at run time and nothing that could rewrite history (verdicts,
    overrides and the audit log: read and insert only). Run again after every upgrade."""
    from kiemchung.api.store import open_store

    def action():
        with open_store() as store:
            return store.grant_runtime(role)

    for statement in run(action):
        print(statement + ";")
