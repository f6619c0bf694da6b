"""cadence: versioned definitions per tenant, enrolments, champion/challenger, actions

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05 13:00:00

`cadence_action` is unique per (tenant, day, debtor, step, step channel): the engine's
`INSERT ... ON CONFLICT DO NOTHING` makes a rerun of a day add nothing. The partial index
on open debts by due date lets the engine read only the debts a step reaches today.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import tenant_owned

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STEP_CHANNELS = "('email', 'sms', 'whatsapp', 'letter', 'call', 'task')"
STATES = "('planned', 'sent', 'delivered', 'read', 'failed', 'blocked', 'expired', 'done')"
ARMS = "('champion', 'challenger')"


def _tenant_columns() -> list[sa.Column[object]]:
    return [sa.Column("tenant_id", sa.Uuid(), nullable=False),
            sa.Column("id", sa.Uuid(), nullable=False)]


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    op.create_index("ix_debt_open_due", "debt", ["tenant_id", "due_date"],
                    postgresql_where=sa.text("status = 'open'"))

    op.create_table(
        "cadence",
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("current_version", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_cadence")),
        sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_cadence_tenant_id_name")),
    )
    tenant_owned("cadence", "SELECT, INSERT, UPDATE")

    op.create_table(
        "cadence_version",
        sa.Column("cadence_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("created_by", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_cadence_version")),
        sa.UniqueConstraint("tenant_id", "cadence_id", "version",
                            name=op.f("uq_cadence_version_tenant_id_cadence_id_version")),
    )
    tenant_owned("cadence_version", "SELECT, INSERT")

    op.create_table(
        "cadence_step",
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("day", sa.Integer(), nullable=False),
        sa.Column("channels", postgresql.ARRAY(sa.String(16)), nullable=False),
        sa.Column("templates", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("fallback", sa.String(16), nullable=True),
        sa.Column("score_min", sa.Integer(), nullable=True),
        sa.Column("score_max", sa.Integer(), nullable=True),
        sa.Column("amount_min", sa.Numeric(14, 2), nullable=True),
        sa.Column("amount_max", sa.Numeric(14, 2), nullable=True),
        sa.Column("states", postgresql.ARRAY(sa.String(2)), nullable=True),
        sa.Column("segments", postgresql.ARRAY(sa.String(24)), nullable=True),
        *_tenant_columns(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_cadence_step")),
        sa.UniqueConstraint("tenant_id", "version_id", "position",
                            name=op.f("uq_cadence_step_tenant_id_version_id_position")),
    )
    op.create_index("ix_cadence_step_day", "cadence_step", ["tenant_id", "day"])
    tenant_owned("cadence_step", "SELECT, INSERT")

    op.create_table(
        "cadence_policy",
        sa.Column("champion_id", sa.Uuid(), nullable=False),
        sa.Column("challenger_id", sa.Uuid(), nullable=True),
        sa.Column("challenger_percent", sa.Integer(), nullable=False),
        sa.Column("salt", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.CheckConstraint("challenger_percent BETWEEN 0 AND 100",
                           name=op.f("ck_cadence_policy_percent")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_cadence_policy")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_cadence_policy_tenant_id")),
    )
    tenant_owned("cadence_policy", "SELECT, INSERT, UPDATE")

    op.create_table(
        "cadence_enrolment",
        sa.Column("debtor_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("arm", sa.String(12), nullable=False),
        sa.Column("enrolled_at", sa.DateTime(timezone=True), server_default=_now(),
                  nullable=False),
        *_tenant_columns(),
        sa.CheckConstraint(f"arm IN {ARMS}", name=op.f("ck_cadence_enrolment_arm")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_cadence_enrolment")),
        sa.UniqueConstraint("tenant_id", "debtor_id", name=op.f("uq_cadence_enrolment_tenant_id_debtor_id")),
    )
    tenant_owned("cadence_enrolment", "SELECT, INSERT, UPDATE")

    op.create_table(
        "cadence_action",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("debtor_id", sa.Uuid(), nullable=False),
        sa.Column("step_id", sa.Uuid(), nullable=False),
        sa.Column("version_id", sa.Uuid(), nullable=False),
        sa.Column("step_day", sa.Integer(), nullable=False),
        sa.Column("step_channel", sa.String(16), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("template", sa.String(100), nullable=False),
        sa.Column("arm", sa.String(12), nullable=False),
        sa.Column("debt_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("state", sa.String(12), nullable=False),
        sa.Column("reason", sa.String(500), nullable=True),
        sa.Column("send_after", sa.DateTime(timezone=True), nullable=True),
        sa.Column("dispatch_id", sa.Uuid(), nullable=True),
        sa.Column("interaction_id", sa.Uuid(), nullable=True),
        sa.Column("fallback_of", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.CheckConstraint(f"state IN {STATES}", name=op.f("ck_cadence_action_state")),
        sa.CheckConstraint(f"channel IN {STEP_CHANNELS}", name=op.f("ck_cadence_action_channel")),
        sa.CheckConstraint(f"arm IN {ARMS}", name=op.f("ck_cadence_action_arm")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_cadence_action")),
        sa.UniqueConstraint("tenant_id", "day", "debtor_id", "step_id", "step_channel",
                            name="uq_cadence_action_once"),
    )
    op.create_index("ix_cadence_action_debtor", "cadence_action", ["tenant_id", "debtor_id"])
    op.create_index("ix_cadence_action_open", "cadence_action", ["tenant_id", "day"],
                    postgresql_where=sa.text("state = 'planned'"))
    tenant_owned("cadence_action", "SELECT, INSERT, UPDATE")


def downgrade() -> None:
    for table in ("cadence_action", "cadence_enrolment", "cadence_policy", "cadence_step",
                  "cadence_version", "cadence"):
        op.drop_table(table)
    op.drop_index("ix_debt_open_due", "debt")
