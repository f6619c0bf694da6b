"""escalation_bureau: each tenant's escalation policy, and the remessas sent to the bureau

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-05 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import tenant_owned

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("escalation_policy",
    sa.Column("notice_days", sa.Integer(), nullable=False),
    sa.Column("notice_days_sp", sa.Integer(), nullable=False),
    sa.Column("removal_business_days", sa.Integer(), nullable=False),
    sa.Column("remove_on_agreement", sa.Boolean(), nullable=False),
    sa.Column("notice_email", sa.Boolean(), nullable=False),
    sa.Column("notice_sms", sa.Boolean(), nullable=False),
    sa.Column("updated_by", sa.Uuid(), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.CheckConstraint("notice_days BETWEEN 10 AND 90", name=op.f("ck_escalation_policy_notice_days")),
    sa.CheckConstraint("notice_days_sp BETWEEN 20 AND 90", name=op.f("ck_escalation_policy_notice_days_sp")),
    sa.CheckConstraint("removal_business_days BETWEEN 1 AND 5", name=op.f("ck_escalation_policy_removal_days")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_escalation_policy")),
    sa.UniqueConstraint("tenant_id", name=op.f("uq_escalation_policy_tenant_id"))
    )
    op.create_table("bureau_remessa",
    sa.Column("number", sa.Integer(), nullable=False),
    sa.Column("operation", sa.String(length=8), nullable=False),
    sa.Column("adapter", sa.String(length=32), nullable=False),
    sa.Column("day", sa.Date(), nullable=False),
    sa.Column("escalation_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
    sa.Column("listings", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
    sa.Column("status", sa.String(length=12), nullable=False),
    sa.Column("accepted", sa.Integer(), nullable=False),
    sa.Column("rejected", sa.Integer(), nullable=False),
    sa.Column("file_key", sa.String(length=500), nullable=True),
    sa.Column("answer_key", sa.String(length=500), nullable=True),
    sa.Column("error", sa.String(length=500), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.CheckConstraint("operation IN ('include', 'remove')", name=op.f("ck_bureau_remessa_operation")),
    sa.CheckConstraint("status IN ('pending', 'answered')", name=op.f("ck_bureau_remessa_status")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_bureau_remessa")),
    sa.UniqueConstraint("tenant_id", "number", name=op.f("uq_bureau_remessa_tenant_id_number"))
    )
    tenant_owned("escalation_policy")
    tenant_owned("bureau_remessa")


def downgrade() -> None:
    op.drop_table("bureau_remessa")
    op.drop_table("escalation_policy")
