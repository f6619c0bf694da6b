"""cadence plan marks (cheap reruns of a planned day) and the day's letter print batches

`cadence_plan_mark` keeps, per tenant and day, the snapshot the day's plan started from:
a rerun looks only at debtors whose rows changed after it. `letter_batch` lists each
day's print file and manifest of a tenant's letters, with the count, for the letters page.

Revision ID: 0022
Revises: 0023
Create Date: 2026-12-05 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import tenant_owned

revision: str = "0022"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "cadence_plan_mark",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("snapshot", sa.Text(), nullable=False),
        sa.Column("planned_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_cadence_plan_mark")),
        sa.UniqueConstraint("tenant_id", "day", name=op.f("uq_cadence_plan_mark_tenant_id_day")),
    )
    tenant_owned("cadence_plan_mark", "SELECT, INSERT, UPDATE")
    op.create_table(
        "letter_batch",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("letters", sa.Integer(), nullable=False),
        sa.Column("pages", sa.Integer(), nullable=False),
        sa.Column("pdf_key", sa.String(length=500), nullable=False),
        sa.Column("manifest_key", sa.String(length=500), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_letter_batch")),
        sa.UniqueConstraint("tenant_id", "day", name=op.f("uq_letter_batch_tenant_id_day")),
    )
    tenant_owned("letter_batch", "SELECT, INSERT, UPDATE")


def downgrade() -> None:
    op.drop_table("letter_batch")
    op.drop_table("cadence_plan_mark")
