"""scheduled messages: a message written now and sent when the debtor's window opens

Revision ID: 0025
Revises: 0020
Create Date: 2026-12-05 18:00:00

`message_dispatch.not_before` is the moment a queued message may go out (empty: now).
The partial index serves the sweep that sends what has come due.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("message_dispatch",
                  sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_message_dispatch_waiting", "message_dispatch", ["not_before"],
                    postgresql_where=sa.text("status = 'queued' AND interaction_id IS NULL"
                                             " AND not_before IS NOT NULL"))


def downgrade() -> None:
    op.drop_index("ix_message_dispatch_waiting", table_name="message_dispatch")
    op.drop_column("message_dispatch", "not_before")
