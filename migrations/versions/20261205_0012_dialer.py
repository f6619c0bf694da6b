"""dialer: campaigns, their lists, agent sessions, call records

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-05 12:00:00

Every table is tenant-owned (forced RLS). An agent"s session lives in the tenant of its
first campaign; the dialer process reads every tenant"s rows under the operator"s scope.
Chained on 0008, this branch"s head (the brief said 0004: on this branch 0004 -> 0005 ->
0008 are already merged, and two heads would stop `regua migrate`).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import tenant_owned

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("agent_session",
    sa.Column("user_id", sa.Uuid(), nullable=False),
    sa.Column("campaign_ids", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column("sip_uri", sa.String(length=200), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("state_since", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("reason", sa.String(length=200), nullable=True),
    sa.Column("call_id", sa.Uuid(), nullable=True),
    sa.Column("logged_in_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("logged_out_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.CheckConstraint("state IN ('logged_out', 'ready', 'talking', 'wrap_up', 'paused')", name=op.f("ck_agent_session_state")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agent_session"))
    )
    op.create_index("uq_agent_session_live", "agent_session", ["tenant_id", "user_id"], unique=True, postgresql_where=sa.text("logged_out_at IS NULL"))
    op.create_table("call_record",
    sa.Column("campaign_id", sa.Uuid(), nullable=False),
    sa.Column("entry_id", sa.Uuid(), nullable=True),
    sa.Column("debtor_id", sa.Uuid(), nullable=False),
    sa.Column("contact_point_id", sa.Uuid(), nullable=True),
    sa.Column("number", sa.String(length=20), nullable=False),
    sa.Column("dialed_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("ringing_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("bridged_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("sip_code", sa.Integer(), nullable=True),
    sa.Column("outcome", sa.String(length=16), nullable=True),
    sa.Column("reason", sa.String(length=200), nullable=True),
    sa.Column("agent_user_id", sa.Uuid(), nullable=True),
    sa.Column("answer_to_bridge_ms", sa.Integer(), nullable=True),
    sa.Column("recording_key", sa.String(length=500), nullable=True),
    sa.Column("dialer_id", sa.String(length=64), nullable=False),
    sa.Column("worker_id", sa.Integer(), nullable=False),
    sa.Column("interaction_id", sa.Uuid(), nullable=True),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.CheckConstraint("outcome IS NULL OR outcome IN ('answered', 'busy', 'no_answer', 'rejected', 'failed', 'congestion', 'invalid', 'abandoned')", name=op.f("ck_call_record_outcome")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_call_record"))
    )
    op.create_index("ix_call_record_campaign", "call_record", ["tenant_id", "campaign_id", sa.literal_column("dialed_at DESC")], unique=False)
    op.create_index("ix_call_record_debtor", "call_record", ["tenant_id", "debtor_id"], unique=False)
    op.create_index("ix_call_record_open", "call_record", ["dialer_id"], unique=False, postgresql_where=sa.text("ended_at IS NULL"))
    op.create_table("campaign",
    sa.Column("name", sa.String(length=120), nullable=False),
    sa.Column("mode", sa.String(length=16), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("abandon_target", sa.Numeric(precision=5, scale=4), nullable=False),
    sa.Column("max_lines_per_agent", sa.Numeric(precision=4, scale=2), nullable=False),
    sa.Column("ring_timeout_seconds", sa.Integer(), nullable=False),
    sa.Column("wrap_up_seconds", sa.Integer(), nullable=False),
    sa.Column("retry_rules", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column("filters", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column("callback_number", sa.String(length=20), nullable=True),
    sa.Column("created_by", sa.Uuid(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.CheckConstraint("mode IN ('preview', 'progressive', 'predictive')", name=op.f("ck_campaign_mode")),
    sa.CheckConstraint("status IN ('active', 'paused', 'stopped')", name=op.f("ck_campaign_status")),
    sa.CheckConstraint("abandon_target > 0 AND abandon_target < 1", name=op.f("ck_campaign_abandon_target")),
    sa.CheckConstraint("max_lines_per_agent >= 1", name=op.f("ck_campaign_max_lines")),
    sa.CheckConstraint("ring_timeout_seconds >= 15", name=op.f("ck_campaign_ring_timeout")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_campaign")),
    sa.UniqueConstraint("tenant_id", "name", name=op.f("uq_campaign_tenant_id_name"))
    )
    op.create_table("campaign_entry",
    sa.Column("campaign_id", sa.Uuid(), nullable=False),
    sa.Column("debtor_id", sa.Uuid(), nullable=False),
    sa.Column("priority", sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("last_outcome", sa.String(length=16), nullable=True),
    sa.Column("lease_owner", sa.String(length=64), nullable=True),
    sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.CheckConstraint("state IN ('pending', 'dialing', 'done', 'exhausted', 'blocked')", name=op.f("ck_campaign_entry_state")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_campaign_entry")),
    sa.UniqueConstraint("tenant_id", "campaign_id", "debtor_id", name=op.f("uq_campaign_entry_tenant_id_campaign_id_debtor_id"))
    )
    op.create_index("ix_campaign_entry_due", "campaign_entry", ["tenant_id", "campaign_id", sa.literal_column("priority DESC"), "next_attempt_at"], unique=False, postgresql_where=sa.text("state = 'pending'"))

    for table in ("campaign", "campaign_entry", "agent_session", "call_record"):
        tenant_owned(table)


def downgrade() -> None:
    op.drop_index("ix_campaign_entry_due", table_name="campaign_entry", postgresql_where=sa.text("state = 'pending'"))
    op.drop_table("campaign_entry")
    op.drop_table("campaign")
    op.drop_index("ix_call_record_open", table_name="call_record", postgresql_where=sa.text("ended_at IS NULL"))
    op.drop_index("ix_call_record_debtor", table_name="call_record")
    op.drop_index("ix_call_record_campaign", table_name="call_record")
    op.drop_table("call_record")
    op.drop_index("uq_agent_session_live", table_name="agent_session", postgresql_where=sa.text("logged_out_at IS NULL"))
    op.drop_table("agent_session")
