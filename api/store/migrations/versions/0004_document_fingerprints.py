"""document_fingerprints: MinHash and pHash of each document, to find reused evidence

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def upgrade() -> None:
    op.create_table(
        "document_fingerprints",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("extractor_version", sa.String(64), nullable=False),
        sa.Column("minhash", JSON, nullable=True),
        sa.Column("phash", sa.String(64), nullable=True),
        sa.Column("scanned", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column("words", sa.Integer(), nullable=False),
        sa.Column("facts", JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["sha256"], ["documents.sha256"],
                                name=op.f("fk_document_fingerprints_sha256_documents")),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_document_fingerprints")),
    )


def downgrade() -> None:
    op.drop_table("document_fingerprints")
