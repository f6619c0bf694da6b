"""contact policy: a tenant's narrower contact windows, agency counts over a date range

Revision ID: 0008
Revises: 0006
Create Date: 2026-12-05 12:00:00

`tenant.contact_policy` holds a tenant's own contact windows (JSON, read by
core.compliance.policy): they can only narrow the state rules, never widen them.
`regua_contact_counts_between` gives the agency-wide counts of one keyed debtor per
local day over a range, for weekly caps: counts only, like `regua_contact_counts`.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import APP

revision: str = "0008"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SIGNATURE = "regua_contact_counts_between(bytea, date, date)"


def upgrade() -> None:
    op.add_column("tenant", sa.Column("contact_policy", postgresql.JSONB(astext_type=sa.Text()),
                                      nullable=True))
    op.execute(f"""
CREATE FUNCTION regua_contact_counts_between(k bytea, first_day date, last_day date)
RETURNS TABLE (day date, channel text, attempts int, answered int)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT c.day, c.channel, c.attempts, c.answered FROM agency_contact_count c
    WHERE c.debtor_key = k AND c.day BETWEEN first_day AND last_day
$$;
REVOKE ALL ON FUNCTION {SIGNATURE} FROM PUBLIC;
GRANT EXECUTE ON FUNCTION {SIGNATURE} TO {APP};
""")


def downgrade() -> None:
    op.execute(f"DROP FUNCTION {SIGNATURE}")
    op.drop_column("tenant", "contact_policy")
