"""promise holds carry their terms and when they were kept; case webhook exports retry

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-05 19:00:00

`hold.promised_amount` / `promised_on`: a promise hold's terms, so a payment can tell
whether it keeps the promise (core decides, the dialer and legal need not meet);
`kept_at`: when payments reached the promised amount by the promised day. Holds set
before this migration have no terms and end by their date, as before.

`case_export`: a webhook export is delivered by a job that retries with backoff. It keeps
the body it sends (every attempt sends the same bytes under the same idempotency key),
the attempts made, the next one, and when it was delivered.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("hold", sa.Column("promised_amount", sa.Numeric(14, 2), nullable=True))
    op.add_column("hold", sa.Column("promised_on", sa.Date(), nullable=True))
    op.add_column("hold", sa.Column("kept_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("case_export", sa.Column("body", sa.Text(), nullable=True))
    op.add_column("case_export", sa.Column("attempts", sa.Integer(), nullable=False,
                                           server_default="0"))
    op.add_column("case_export",
                  sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True))
    op.add_column("case_export",
                  sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
    # The sweep that re-sends a delivery whose job was lost finds these.
    op.create_index("ix_case_export_waiting", "case_export", ["next_attempt_at"],
                    postgresql_where=sa.text("status = 'sending'"))


def downgrade() -> None:
    op.drop_index("ix_case_export_waiting", table_name="case_export")
    for column in ("delivered_at", "next_attempt_at", "attempts", "body"):
        op.drop_column("case_export", column)
    for column in ("kept_at", "promised_on", "promised_amount"):
        op.drop_column("hold", column)
