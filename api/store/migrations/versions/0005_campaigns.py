"""assessment rounds: campaigns, their units, phase windows and appraisers; self-assessments,
appraisals and explanations

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-10
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(), "postgresql")
PHASES = "'self_assessment', 'appraisal', 'explanation', 'second_appraisal', 'publication'"


def _when(name: str, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    referred = target.split(".")[0]
    return sa.ForeignKeyConstraint([column], [target],
                                   name=op.f(f"fk_{table}_{column}_{referred}"))


def upgrade() -> None:
    op.create_table(
        "campaigns",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(300), nullable=False),
        sa.Column("ruleset_id", sa.String(100), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("created_by", sa.Integer(), nullable=True),
        _when("created_at"),
        _fk("campaigns", "created_by", "api_keys.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaigns")),
    )
    op.create_table(
        "campaign_units",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(300), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("parent", sa.String(300), nullable=True),
        _fk("campaign_units", "campaign_id", "campaigns.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_units")),
        sa.UniqueConstraint("campaign_id", "unit", name="uq_campaign_units_campaign_unit"),
    )
    op.create_table(
        "campaign_phases",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("phase", sa.String(32), nullable=False),
        sa.Column("opens_on", sa.Date(), nullable=False),
        sa.Column("closes_on", sa.Date(), nullable=False),
        sa.Column("set_by", sa.Integer(), nullable=True),
        _when("set_at"),
        sa.CheckConstraint(f"phase IN ({PHASES})", name=op.f("ck_campaign_phases_phase")),
        sa.CheckConstraint("opens_on <= closes_on", name=op.f("ck_campaign_phases_window")),
        _fk("campaign_phases", "campaign_id", "campaigns.id"),
        _fk("campaign_phases", "set_by", "api_keys.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_phases")),
        sa.UniqueConstraint("campaign_id", "phase", name="uq_campaign_phases_campaign_phase"),
    )
    op.create_table(
        "campaign_appraisers",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("key_id", sa.Integer(), nullable=False),
        sa.Column("criterion_prefixes", JSON, nullable=False),
        _fk("campaign_appraisers", "campaign_id", "campaigns.id"),
        _fk("campaign_appraisers", "key_id", "api_keys.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_campaign_appraisers")),
        sa.UniqueConstraint("campaign_id", "key_id", name="uq_campaign_appraisers_campaign_key"),
    )
    op.create_table(
        "self_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("campaign_id", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(300), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("criterion", sa.String(32), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("claimed_points", sa.Float(), nullable=False),
        sa.Column("figures", JSON, nullable=True),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("explanation", sa.Text(), nullable=True),
        sa.Column("drafted_by", sa.Integer(), nullable=True),
        _when("drafted_at"),
        sa.Column("approved_by", sa.Integer(), nullable=True),
        _when("approved_at", nullable=True),
        sa.Column("batch_item_id", sa.Integer(), nullable=True),
        sa.CheckConstraint("state IN ('draft', 'submitted')",
                           name=op.f("ck_self_assessments_state")),
        _fk("self_assessments", "campaign_id", "campaigns.id"),
        _fk("self_assessments", "drafted_by", "api_keys.id"),
        _fk("self_assessments", "approved_by", "api_keys.id"),
        _fk("self_assessments", "batch_item_id", "batch_items.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_self_assessments")),
        sa.UniqueConstraint("campaign_id", "unit", "criterion",
                            name="uq_self_assessments_campaign_unit_criterion"),
    )
    op.create_table(
        "appraisals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("points", sa.Float(), nullable=False),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("remark", sa.Text(), nullable=True),
        sa.Column("verdict_id", sa.Integer(), nullable=True),
        sa.Column("override_id", sa.Integer(), nullable=True),
        sa.Column("by_key_id", sa.Integer(), nullable=True),
        _when("created_at"),
        sa.CheckConstraint("round IN (1, 2)", name=op.f("ck_appraisals_round")),
        sa.CheckConstraint("action IN ('confirm', 'change')", name=op.f("ck_appraisals_action")),
        _fk("appraisals", "assessment_id", "self_assessments.id"),
        _fk("appraisals", "verdict_id", "verdicts.id"),
        _fk("appraisals", "override_id", "overrides.id"),
        _fk("appraisals", "by_key_id", "api_keys.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_appraisals")),
    )
    op.create_index(op.f("ix_appraisals_assessment_id"), "appraisals", ["assessment_id"])
    op.create_table(
        "explanations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("assessment_id", sa.Integer(), nullable=False),
        sa.Column("appraisal_id", sa.Integer(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        sa.Column("evidence", JSON, nullable=False),
        sa.Column("batch_item_id", sa.Integer(), nullable=True),
        sa.Column("by_key_id", sa.Integer(), nullable=True),
        _when("created_at"),
        _fk("explanations", "assessment_id", "self_assessments.id"),
        _fk("explanations", "appraisal_id", "appraisals.id"),
        _fk("explanations", "batch_item_id", "batch_items.id"),
        _fk("explanations", "by_key_id", "api_keys.id"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_explanations")),
    )
    op.create_index(op.f("ix_explanations_assessment_id"), "explanations", ["assessment_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_explanations_assessment_id"), table_name="explanations")
    op.drop_table("explanations")
    op.drop_index(op.f("ix_appraisals_assessment_id"), table_name="appraisals")
    op.drop_table("appraisals")
    for table in ("self_assessments", "campaign_appraisers", "campaign_phases",
                  "campaign_units", "campaigns"):
        op.drop_table(table)
