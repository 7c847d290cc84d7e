"""The `kiemchung` command: every command and command group, registered in one place.

Each command lives with its group (`documents`, `batch`, `trust`, `keys`, `serve`) and shares
`common`'s helpers; every error becomes one line on stderr and its `ExitCode`.
"""

import typer

from kiemchung.api.cli import batch, campaign, documents, keys, reuse, serve, trust, users
from kiemchung.api.runtime import fewer_collections

app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                  help="Pre-screen DTI evidence documents (tài liệu kiểm chứng).")


@app.callback()
def _every_command() -> None:
    fewer_collections()     # the service and the Celery worker run in this process too


for command in (documents.inspect, documents.demo, documents.verify, documents.rulesets,
                documents.criteria, documents.score, reuse.reuse, batch.batch, batch.worker,
                serve.serve):
    app.command()(command)
app.add_typer(trust.trust_app, name="trust")
app.add_typer(keys.keys_app, name="keys")
app.add_typer(users.users_app, name="users")
app.add_typer(campaign.campaign_app, name="campaign")
app.add_typer(serve.db_app, name="db")

if __name__ == "__main__":
    app()
