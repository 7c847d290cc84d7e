"""batch_items.sent_at (when the item's task was last sent) and verdicts.flagged

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# As the verifier defined them when this revision was written.
FLAGGED_STATUSES = ("fail", "needs_review")
SIGNATURE_CHECKS = ("digitally_signed", "signature_matches_signer", "signature_matches_issuer",
                    "signing_time_consistent", "scan_with_seal")
DOUBTFUL = ("fail", "needs_review")


def upgrade() -> None:
    with op.batch_alter_table("batch_items") as table:
        table.add_column(sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("verdicts") as table:
        table.add_column(sa.Column("flagged", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        table.create_index("ix_verdicts_flagged_id", ["flagged", "id"])
    verdicts = sa.table("verdicts", sa.column("id", sa.Integer), sa.column("status", sa.String),
                        sa.column("verdict", sa.JSON), sa.column("flagged", sa.Boolean))
    connection = op.get_bind()
    flagged = [row.id for row in connection.execute(
        sa.select(verdicts.c.id, verdicts.c.status, verdicts.c.verdict))
        if _flagged(row.status, row.verdict)]
    for start in range(0, len(flagged), 500):
        connection.execute(verdicts.update().where(verdicts.c.id.in_(flagged[start:start + 500]))
                           .values(flagged=True))


def _flagged(status: str, verdict) -> bool:
    if isinstance(verdict, str):
        verdict = json.loads(verdict)
    return status in FLAGGED_STATUSES or any(
        check.get("name") in SIGNATURE_CHECKS and check.get("status") in DOUBTFUL
        for check in (verdict or {}).get("checks", []))


def downgrade() -> None:
    with op.batch_alter_table("verdicts") as table:
        table.drop_index("ix_verdicts_flagged_id")
        table.drop_column("flagged")
    with op.batch_alter_table("batch_items") as table:
        table.drop_column("sent_at")
