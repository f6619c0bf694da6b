"""segments and score: per-debtor scores with their inputs and reasons, their daily
history, the tenant's scoring policy, trained models, broken agreements

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05 16:00:00

`agreement_break` is filled by a trigger on `debt` when a debt goes from in_agreement
back to open (the only signal of a broken agreement before agreements exist); its WHEN
clause keeps the trigger off every other update, so imports pay nothing for it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import tenant_owned

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _tenant_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [sa.Column("tenant_id", sa.Uuid(), nullable=False),
            sa.Column("id", sa.Uuid(), nullable=False)]


def _score_checks(table: str) -> list[sa.CheckConstraint]:
    return [
        sa.CheckConstraint("score BETWEEN 0 AND 1000", name=op.f(f"ck_{table}_score_range")),
        sa.CheckConstraint("band IN ('A', 'B', 'C', 'D')", name=op.f(f"ck_{table}_band")),
        sa.CheckConstraint("method IN ('rules', 'model')", name=op.f(f"ck_{table}_method")),
    ]


NOW = sa.text("now()")

BREAK_TRIGGER = """
CREATE FUNCTION regua_note_agreement_break() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO agreement_break (tenant_id, id, debt_id, debtor_id, broken_at, source)
    VALUES (NEW.tenant_id, regua_uuid7(), NEW.id, NEW.debtor_id, now(), 'status');
    RETURN NULL;
END $$;
CREATE TRIGGER debt_agreement_break AFTER UPDATE OF status ON debt FOR EACH ROW
    WHEN (OLD.status = 'in_agreement' AND NEW.status = 'open')
    EXECUTE FUNCTION regua_note_agreement_break();
"""


def upgrade() -> None:
    op.create_table(
        "scoring_policy", *_tenant_columns(),
        sa.Column("high_balance_min", sa.Numeric(14, 2), nullable=False),
        sa.Column("several_debts_min", sa.Integer(), nullable=False),
        sa.Column("new_debtor_days", sa.Integer(), nullable=False),
        sa.Column("late_days_max", sa.Integer(), nullable=False),
        sa.Column("habitual_min", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_scoring_policy")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_scoring_policy_tenant_id")),
    )
    op.create_table(
        "debtor_score",
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("debtor_id", sa.Uuid(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("band", sa.String(1), nullable=False),
        sa.Column("segments", postgresql.ARRAY(sa.String(24)), nullable=False),
        sa.Column("inputs", postgresql.JSONB(), nullable=False),
        sa.Column("reasons", postgresql.JSONB(), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("model_id", sa.Uuid(), nullable=True),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        *_score_checks("debtor_score"),
        sa.PrimaryKeyConstraint("tenant_id", "debtor_id", name=op.f("pk_debtor_score")),
    )
    op.create_index("ix_debtor_score_band", "debtor_score", ["tenant_id", "band"])
    op.create_index("ix_debtor_score_segments", "debtor_score", ["segments"],
                    postgresql_using="gin")
    op.create_table(
        "debtor_score_history", *_tenant_columns(),
        sa.Column("debtor_id", sa.Uuid(), nullable=False),
        sa.Column("scored_on", sa.Date(), nullable=False),
        sa.Column("score", sa.SmallInteger(), nullable=False),
        sa.Column("band", sa.String(1), nullable=False),
        sa.Column("method", sa.String(8), nullable=False),
        sa.Column("model_id", sa.Uuid(), nullable=True),
        sa.Column("inputs", postgresql.JSONB(), nullable=False),
        sa.Column("vector", postgresql.JSONB(), nullable=False),
        sa.Column("reasons", postgresql.JSONB(), nullable=False),
        *_score_checks("debtor_score_history"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_debtor_score_history")),
        sa.UniqueConstraint("tenant_id", "debtor_id", "scored_on",
                            name=op.f("uq_debtor_score_history_tenant_id_debtor_id_scored_on")),
    )
    op.create_index("ix_debtor_score_history_day", "debtor_score_history",
                    ["tenant_id", "scored_on"])
    op.create_table(
        "scoring_model", *_tenant_columns(),
        sa.Column("trained_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("intercept", sa.Float(), nullable=False),
        sa.Column("coefficients", postgresql.JSONB(), nullable=False),
        sa.Column("rules_auc", sa.Float(), nullable=True),
        sa.Column("model_auc", sa.Float(), nullable=True),
        sa.Column("train_rows", sa.Integer(), nullable=False),
        sa.Column("test_rows", sa.Integer(), nullable=False),
        sa.Column("positives", sa.Integer(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("note", sa.String(500), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_scoring_model")),
    )
    op.create_index("ix_scoring_model_trained", "scoring_model", ["tenant_id", "trained_at"])
    op.create_table(
        "agreement_break", *_tenant_columns(),
        sa.Column("debt_id", sa.Uuid(), nullable=False),
        sa.Column("debtor_id", sa.Uuid(), nullable=False),
        sa.Column("broken_at", sa.DateTime(timezone=True), server_default=NOW, nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agreement_break")),
    )
    op.create_index("ix_agreement_break_debtor", "agreement_break", ["tenant_id", "debtor_id"])

    tenant_owned("scoring_policy")
    tenant_owned("debtor_score")
    tenant_owned("debtor_score_history", "SELECT, INSERT, UPDATE")
    tenant_owned("scoring_model", "SELECT, INSERT, UPDATE")
    tenant_owned("agreement_break", "SELECT, INSERT")
    op.execute(BREAK_TRIGGER)


def downgrade() -> None:
    op.execute("DROP TRIGGER debt_agreement_break ON debt")
    op.execute("DROP FUNCTION regua_note_agreement_break()")
    for table in ("agreement_break", "scoring_model", "debtor_score_history", "debtor_score",
                  "scoring_policy"):
        op.drop_table(table)
