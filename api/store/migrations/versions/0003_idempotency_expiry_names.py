"""idempotency_keys, api_keys.expires_at, and document names unique with a NULL unit too

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("api_keys") as table:
        table.add_column(sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True))
    # Concurrent uploads left the same (document, name, no unit) several times: keep the first.
    op.execute("DELETE FROM document_names WHERE id NOT IN (SELECT min(id) FROM document_names "
               "GROUP BY document_sha256, name, coalesce(unit, ''))")
    with op.batch_alter_table("document_names") as table:
        table.drop_constraint("uq_document_names_upload", type_="unique")
    op.create_index("uq_document_names_upload", "document_names",
                    ["document_sha256", "name", sa.text("coalesce(unit, '')")], unique=True)
    op.create_table(
        "idempotency_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("owner_key_id", sa.Integer(), nullable=False),
        sa.Column("scope", sa.String(32), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("request_hash", sa.String(64), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("response", JSON, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_key_id"], ["api_keys.id"],
                                name=op.f("fk_idempotency_keys_owner_key_id_api_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotency_keys")),
        sa.UniqueConstraint("owner_key_id", "scope", "key",
                            name="uq_idempotency_keys_owner_scope_key"),
    )


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_index("uq_document_names_upload", table_name="document_names")
    with op.batch_alter_table("document_names") as table:
        table.create_unique_constraint("uq_document_names_upload",
                                       ["document_sha256", "name", "unit"])
    with op.batch_alter_table("api_keys") as table:
        table.drop_column("expires_at")
