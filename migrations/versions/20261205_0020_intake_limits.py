"""intake limits: a tenant's own limits on uploaded files

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-05 15:00:00

`tenant.intake_limits` holds the limits a tenant sets for its files (JSON, read by
tenants.intake.limits), within the platform's maxima (REGUA_INTAKE_MAX_*).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("tenant", sa.Column("intake_limits", postgresql.JSONB(astext_type=sa.Text()),
                                      nullable=True))


def downgrade() -> None:
    op.drop_column("tenant", "intake_limits")
