"""Alembic environment: uses the connection the store hands over, else `sqlalchemy.url`."""

import warnings

from alembic import context
from sqlalchemy import create_engine

from kiemchung.api.store.tables import Base

config = context.config
# SQLite cannot reflect the expression index on document names; autogenerate would say so on
# every comparison (PostgreSQL compares it).
warnings.filterwarnings("ignore", message=".*expression-based index '?uq_document_names_upload")


def run(connection) -> None:
    # Batch mode lets later revisions ALTER tables on SQLite (it copies the table).
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    context.configure(url=config.get_main_option("sqlalchemy.url"),
                      target_metadata=Base.metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
elif config.attributes.get("connection") is not None:
    run(config.attributes["connection"])
else:
    url = config.get_main_option("sqlalchemy.url")
    assert url is not None, "alembic_config() is given a url or a connection"
    with create_engine(url).connect() as connection:
        run(connection)
