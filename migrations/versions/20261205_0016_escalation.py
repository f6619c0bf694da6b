"""escalation: per-tenant rules, escalations down a path, and their history

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-05 14:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import tenant_owned

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("escalation_rule",
    sa.Column("name", sa.String(length=100), nullable=False),
    sa.Column("priority", sa.Integer(), nullable=False),
    sa.Column("path", sa.String(length=16), nullable=False),
    sa.Column("min_days_overdue", sa.Integer(), nullable=False),
    sa.Column("min_amount", sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column("max_amount", sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column("min_score", sa.Integer(), nullable=True),
    sa.Column("max_score", sa.Integer(), nullable=True),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("created_by", sa.Uuid(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.CheckConstraint("path IN ('bureau', 'protest', 'judicial')", name=op.f("ck_escalation_rule_path")),
    sa.CheckConstraint("max_score IS NULL OR max_score BETWEEN 0 AND 1000", name=op.f("ck_escalation_rule_max_score")),
    sa.CheckConstraint("min_days_overdue >= 0", name=op.f("ck_escalation_rule_min_days_nonnegative")),
    sa.CheckConstraint("min_score IS NULL OR min_score BETWEEN 0 AND 1000", name=op.f("ck_escalation_rule_min_score")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_escalation_rule"))
    )
    op.create_index("uq_escalation_rule_name", "escalation_rule", ["tenant_id", "name"], unique=True)
    op.create_table("escalation",
    sa.Column("debt_id", sa.Uuid(), nullable=False),
    sa.Column("debtor_id", sa.Uuid(), nullable=False),
    sa.Column("path", sa.String(length=16), nullable=False),
    sa.Column("state", sa.String(length=24), nullable=False),
    sa.Column("rule_id", sa.Uuid(), nullable=True),
    sa.Column("rule_name", sa.String(length=100), nullable=False),
    sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_by", sa.Uuid(), nullable=True),
    sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("deadline_on", sa.Date(), nullable=True),
    sa.Column("held_since", sa.DateTime(timezone=True), nullable=True),
    sa.Column("held_by", sa.Uuid(), nullable=True),
    sa.Column("held_reason", sa.String(length=500), nullable=True),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.CheckConstraint("path IN ('bureau', 'protest', 'judicial')", name=op.f("ck_escalation_path")),
    sa.CheckConstraint("state IN ('notice_pending', 'notice_sent', 'listed', 'removal_pending', 'removed', 'expired', 'queued', 'sent', 'registered', 'protested', 'paid_at_notary', 'withdrawn', 'returned', 'cancellation_sent', 'handed_off', 'cancelled', 'closed')", name=op.f("ck_escalation_state")),
    sa.ForeignKeyConstraint(["tenant_id", "debt_id"], ["debt.tenant_id", "debt.id"], name=op.f("fk_escalation_tenant_id_debt_id_debt")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_escalation"))
    )
    op.create_index("ix_escalation_debtor", "escalation", ["tenant_id", "debtor_id"], unique=False)
    op.create_index("ix_escalation_state", "escalation", ["tenant_id", "path", "state"], unique=False)
    op.create_index("uq_escalation_debt_open", "escalation", ["tenant_id", "debt_id"], unique=True, postgresql_where=sa.text("closed_at IS NULL"))
    op.create_table("escalation_event",
    sa.Column("escalation_id", sa.Uuid(), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("from_state", sa.String(length=24), nullable=True),
    sa.Column("to_state", sa.String(length=24), nullable=False),
    sa.Column("actor_id", sa.Uuid(), nullable=True),
    sa.Column("actor_email", sa.String(length=320), nullable=True),
    sa.Column("rule_name", sa.String(length=100), nullable=True),
    sa.Column("note", sa.Text(), nullable=True),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(["tenant_id", "escalation_id"], ["escalation.tenant_id", "escalation.id"], name=op.f("fk_escalation_event_tenant_id_escalation_id_escalation")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_escalation_event"))
    )
    op.create_index("ix_escalation_event_escalation", "escalation_event", ["tenant_id", "escalation_id", "at"], unique=False)
    tenant_owned("escalation_rule")
    tenant_owned("escalation")
    # The history is insert-only for the application.
    tenant_owned("escalation_event", "SELECT, INSERT")


def downgrade() -> None:
    op.drop_index("ix_escalation_event_escalation", table_name="escalation_event")
    op.drop_table("escalation_event")
    op.drop_index("uq_escalation_debt_open", table_name="escalation", postgresql_where=sa.text("closed_at IS NULL"))
    op.drop_index("ix_escalation_state", table_name="escalation")
    op.drop_index("ix_escalation_debtor", table_name="escalation")
    op.drop_table("escalation")
    op.drop_index("uq_escalation_rule_name", table_name="escalation_rule")
    op.drop_table("escalation_rule")
