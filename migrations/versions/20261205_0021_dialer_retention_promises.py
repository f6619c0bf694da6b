"""dialer: recording retention per tenant, deleted recordings marked; promise holds

Revision ID: 0021
Revises: 0024
Create Date: 2026-12-05 15:00:00

A call record keeps its recording's key after the retention period deletes the WAV,
with the moment it was deleted. `recording_policy` holds a tenant's period (tenant-owned,
forced RLS). A promise to pay made on a call is a hold that ends after the promised day
(its tolerance included), so the hold kinds gain `promise`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import tenant_owned

revision: str = "0021"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

KEPT = sa.text("recording_key IS NOT NULL AND recording_deleted_at IS NULL")
KINDS = "'dispute', 'court_plan', 'deceased', 'legal', 'creditor'"


def upgrade() -> None:
    op.add_column("call_record", sa.Column("recording_deleted_at",
                                           sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_call_record_recording", "call_record", ["tenant_id", "ended_at"],
                    unique=False, postgresql_where=KEPT)
    op.create_table("recording_policy",
    sa.Column("retention_days", sa.Integer(), nullable=False),
    sa.Column("set_by", sa.Uuid(), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.CheckConstraint("retention_days BETWEEN 30 AND 3650", name=op.f("ck_recording_policy_retention_days")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_recording_policy")),
    sa.UniqueConstraint("tenant_id", name=op.f("uq_recording_policy_tenant_id"))
    )
    tenant_owned("recording_policy")
    op.drop_constraint(op.f("ck_hold_kind"), "hold", type_="check")
    op.create_check_constraint(op.f("ck_hold_kind"), "hold", f"kind IN ({KINDS}, 'promise')")


def downgrade() -> None:
    # Promise holds come from call dispositions, whose interactions keep the promise.
    op.execute("DELETE FROM hold WHERE kind = 'promise'")
    op.drop_constraint(op.f("ck_hold_kind"), "hold", type_="check")
    op.create_check_constraint(op.f("ck_hold_kind"), "hold", f"kind IN ({KINDS})")
    op.drop_table("recording_policy")
    op.drop_index("ix_call_record_recording", table_name="call_record", postgresql_where=KEPT)
    op.drop_column("call_record", "recording_deleted_at")
