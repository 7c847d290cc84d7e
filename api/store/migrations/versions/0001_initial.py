"""documents, inspections, verdicts, batches, overrides, audit log, api keys

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# Written out here rather than imported from models.db: a migration must stay as it was run.
JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def timestamp(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "api_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("unit", sa.String(300), nullable=True),
        sa.Column("key_hash", sa.String(64), nullable=False),
        timestamp("created_at"),
        timestamp("revoked_at", nullable=True),
        sa.CheckConstraint("role IN ('unit', 'appraiser', 'auditor', 'admin', 'portal')",
                           name=op.f("ck_api_keys_role")),
        sa.CheckConstraint("(role = 'unit') = (unit IS NOT NULL)", name=op.f("ck_api_keys_unit")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_table(
        "documents",
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("media_kind", sa.String(16), nullable=False),
        sa.Column("stored_path", sa.String(200), nullable=False),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("sha256", name=op.f("pk_documents")),
    )
    op.create_table(
        "document_names",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("name", sa.String(500), nullable=False),
        sa.Column("unit", sa.String(300), nullable=True),
        sa.Column("uploaded_by", sa.Integer(), nullable=True),
        timestamp("created_at"),
        sa.ForeignKeyConstraint(["document_sha256"], ["documents.sha256"],
                                name=op.f("fk_document_names_document_sha256_documents")),
        sa.ForeignKeyConstraint(["uploaded_by"], ["api_keys.id"],
                                name=op.f("fk_document_names_uploaded_by_api_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_document_names")),
        sa.UniqueConstraint("document_sha256", "name", "unit", name="uq_document_names_upload"),
    )
    op.create_index("ix_document_names_document_sha256", "document_names", ["document_sha256"])
    op.create_index("ix_document_names_unit", "document_names", ["unit"])
    op.create_table(
        "inspections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("document_sha256", sa.String(64), nullable=False),
        sa.Column("extractor_version", sa.String(64), nullable=False),
        sa.Column("inspection", JSON, nullable=False),
        timestamp("created_at"),
        sa.ForeignKeyConstraint(["document_sha256"], ["documents.sha256"],
                                name=op.f("fk_inspections_document_sha256_documents")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_inspections")),
        sa.UniqueConstraint("document_sha256", "extractor_version",
                            name="uq_inspections_document_version"),
    )
    op.create_table(
        "verdicts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(300), nullable=True),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("criterion", sa.String(32), nullable=False),
        sa.Column("ruleset_id", sa.String(100), nullable=False),
        sa.Column("ruleset_version", sa.String(100), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("max_points", sa.Float(), nullable=False),
        sa.Column("verdict", JSON, nullable=False),
        sa.Column("evidence", JSON, nullable=False),
        timestamp("created_at"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_verdicts")),
    )
    op.create_index("ix_verdicts_status", "verdicts", ["status"])
    op.create_index("ix_verdicts_unit_criterion", "verdicts", ["unit", "criterion"])
    op.create_table(
        "batches",
        sa.Column("id", sa.String(36), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        sa.Column("ruleset_id", sa.String(100), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total_items", sa.Integer(), nullable=False),
        sa.Column("webhook_url", sa.String(2000), nullable=True),
        timestamp("created_at"),
        timestamp("finished_at", nullable=True),
        sa.CheckConstraint("status IN ('queued', 'running', 'done')",
                           name=op.f("ck_batches_status")),
        sa.ForeignKeyConstraint(["created_by"], ["api_keys.id"],
                                name=op.f("fk_batches_created_by_api_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    op.create_table(
        "batch_items",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.String(36), nullable=False),
        sa.Column("unit", sa.String(300), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("criterion", sa.String(32), nullable=False),
        sa.Column("documents", JSON, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("worker_id", sa.String(200), nullable=True),
        timestamp("deadline", nullable=True),
        timestamp("started_at", nullable=True),
        timestamp("finished_at", nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("verdict_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("state IN ('queued', 'running', 'done', 'failed')",
                           name=op.f("ck_batch_items_state")),
        sa.ForeignKeyConstraint(["batch_id"], ["batches.id"],
                                name=op.f("fk_batch_items_batch_id_batches")),
        sa.ForeignKeyConstraint(["verdict_id"], ["verdicts.id"],
                                name=op.f("fk_batch_items_verdict_id_verdicts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batch_items")),
    )
    op.create_index("ix_batch_items_batch_state", "batch_items", ["batch_id", "state"])
    op.create_index("ix_batch_items_state_deadline", "batch_items", ["state", "deadline"])
    op.create_table(
        "overrides",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("verdict_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("by_key_id", sa.Integer(), nullable=True),
        timestamp("created_at"),
        sa.CheckConstraint("length(reason) > 0", name=op.f("ck_overrides_reason")),
        sa.ForeignKeyConstraint(["by_key_id"], ["api_keys.id"],
                                name=op.f("fk_overrides_by_key_id_api_keys")),
        sa.ForeignKeyConstraint(["verdict_id"], ["verdicts.id"],
                                name=op.f("fk_overrides_verdict_id_verdicts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_overrides")),
    )
    op.create_index("ix_overrides_verdict_id", "overrides", ["verdict_id"])
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        timestamp("at"),
        sa.Column("actor_key_id", sa.Integer(), nullable=True),
        sa.Column("action", sa.String(100), nullable=False),
        sa.Column("subject", sa.String(300), nullable=False),
        sa.Column("details", JSON, nullable=False),
        sa.ForeignKeyConstraint(["actor_key_id"], ["api_keys.id"],
                                name=op.f("fk_audit_log_actor_key_id_api_keys")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_action", "audit_log", ["action"])
    op.create_index("ix_audit_log_actor_key_id", "audit_log", ["actor_key_id"])
    op.create_index("ix_audit_log_subject", "audit_log", ["subject"])
    _refuse_audit_changes()


def _refuse_audit_changes() -> None:
    """The audit log is append-only in the database itself, not only in the store's API."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute("""
            CREATE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP;
            END $$""")
        op.execute("""
            CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE OR TRUNCATE
            ON audit_log FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()""")
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(f"""
                CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log
                BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {event} refused'); END""")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    for table in ("audit_log", "overrides", "batch_items", "batches", "verdicts", "inspections",
                  "document_names", "documents", "api_keys"):
        op.drop_table(table)
