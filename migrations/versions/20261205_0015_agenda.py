"""agenda: the agents' worklist items (callbacks, promises, cadence calls, high scores)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-05 13:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import tenant_owned

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LIVE = sa.text("state IN ('open', 'taken')")


def upgrade() -> None:
    op.create_table("agenda_item",
    sa.Column("debtor_id", sa.Uuid(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=True),
    sa.Column("promised_on", sa.Date(), nullable=True),
    sa.Column("assigned_to", sa.Uuid(), nullable=True),
    sa.Column("taken_by", sa.Uuid(), nullable=True),
    sa.Column("taken_until", sa.DateTime(timezone=True), nullable=True),
    sa.Column("disposition", sa.String(length=32), nullable=True),
    sa.Column("source_id", sa.Uuid(), nullable=True),
    sa.Column("created_by", sa.Uuid(), nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.CheckConstraint("kind IN ('callback', 'promise', 'cadence', 'score')", name=op.f("ck_agenda_item_kind")),
    sa.CheckConstraint("state IN ('open', 'taken', 'done', 'cancelled')", name=op.f("ck_agenda_item_state")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agenda_item"))
    )
    op.create_index("uq_agenda_item_live", "agenda_item", ["tenant_id", "debtor_id"], unique=True, postgresql_where=LIVE)
    op.create_index("ix_agenda_item_due", "agenda_item", ["tenant_id", "due_at"], unique=False, postgresql_where=LIVE)
    tenant_owned("agenda_item")


def downgrade() -> None:
    op.drop_index("ix_agenda_item_due", table_name="agenda_item", postgresql_where=LIVE)
    op.drop_index("uq_agenda_item_live", table_name="agenda_item", postgresql_where=LIVE)
    op.drop_table("agenda_item")
