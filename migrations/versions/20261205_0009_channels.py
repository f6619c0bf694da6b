"""channels: tenants' message templates and every message sent on a channel

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05 12:00:00

Provider callbacks (delivery status, an inbound "SAIR") arrive with no tenant: two
`SECURITY DEFINER` functions owned by the maintenance role answer which tenant sent a
provider's message and which tenants hold a phone, and nothing more.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import APP, MAINT, tenant_owned

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

CHANNELS = "('email', 'sms', 'whatsapp', 'letter', 'call')"
STATUSES = "('queued', 'sent', 'delivered', 'read', 'failed', 'bounced')"


def _now() -> sa.TextClause:
    return sa.text("now()")


def _tenant_columns() -> list[sa.Column[object]]:
    return [sa.Column("tenant_id", sa.Uuid(), nullable=False),
            sa.Column("id", sa.Uuid(), nullable=False)]


def upgrade() -> None:
    op.create_table(
        "message_template",
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(300), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.CheckConstraint(f"channel IN {CHANNELS}", name=op.f("ck_message_template_channel")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_message_template")),
    )
    op.create_index("uq_message_template_version", "message_template",
                    ["tenant_id", "channel", "name", "version"], unique=True)
    op.create_index("uq_message_template_active", "message_template",
                    ["tenant_id", "channel", "name"], unique=True,
                    postgresql_where=sa.text("active"))
    tenant_owned("message_template", "SELECT, INSERT, UPDATE")

    op.create_table(
        "message_dispatch",
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("debtor_id", sa.Uuid(), nullable=False),
        sa.Column("debt_ids", postgresql.ARRAY(sa.Uuid()), nullable=False),
        sa.Column("contact_point_id", sa.Uuid(), nullable=True),
        sa.Column("recipient", sa.String(500), nullable=False),
        sa.Column("template_id", sa.Uuid(), nullable=True),
        sa.Column("template_name", sa.String(100), nullable=False),
        sa.Column("template_version", sa.Integer(), nullable=False),
        sa.Column("subject", sa.String(300), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("params", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("attachments", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("sandbox", sa.Boolean(), nullable=False),
        sa.Column("provider_message_id", sa.String(200), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("status_reason", sa.String(500), nullable=True),
        sa.Column("interaction_id", sa.Uuid(), nullable=True),
        sa.Column("cause_kind", sa.String(16), nullable=False),
        sa.Column("cause_id", sa.Uuid(), nullable=True),
        sa.Column("print_key", sa.String(500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.CheckConstraint(f"channel IN {CHANNELS}", name=op.f("ck_message_dispatch_channel")),
        sa.CheckConstraint(f"status IN {STATUSES}", name=op.f("ck_message_dispatch_status")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_message_dispatch")),
    )
    op.create_index("ix_message_dispatch_provider", "message_dispatch",
                    ["provider", "provider_message_id"])
    op.create_index("ix_message_dispatch_debtor", "message_dispatch", ["tenant_id", "debtor_id"])
    op.create_index("ix_message_dispatch_created", "message_dispatch",
                    ["tenant_id", "created_at"])
    tenant_owned("message_dispatch", "SELECT, INSERT, UPDATE")

    op.execute(f"""
CREATE FUNCTION regua_dispatch_tenant(p text, message_id text)
RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT tenant_id FROM message_dispatch
    WHERE provider = p AND provider_message_id = message_id LIMIT 1
$$;
CREATE FUNCTION regua_phone_tenants(phone text)
RETURNS SETOF uuid LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT DISTINCT tenant_id FROM contact_point WHERE kind = 'phone' AND value = phone
$$;
REVOKE ALL ON FUNCTION regua_dispatch_tenant(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION regua_phone_tenants(text) FROM PUBLIC;
ALTER FUNCTION regua_dispatch_tenant(text, text) OWNER TO {MAINT};
ALTER FUNCTION regua_phone_tenants(text) OWNER TO {MAINT};
GRANT EXECUTE ON FUNCTION regua_dispatch_tenant(text, text) TO {APP};
GRANT EXECUTE ON FUNCTION regua_phone_tenants(text) TO {APP};
""")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS regua_phone_tenants(text)")
    op.execute("DROP FUNCTION IF EXISTS regua_dispatch_tenant(text, text)")
    op.drop_table("message_dispatch")
    op.drop_table("message_template")
