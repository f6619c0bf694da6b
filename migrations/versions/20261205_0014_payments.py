"""payments: slips, slip payments, fee contracts and bands, self-service access codes

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05 13:00:00

A PIX notification or a bank return line names a txid or a "nosso número", never a
tenant: `regua_installment_tenant` (SECURITY DEFINER, owned by the maintenance role)
answers which tenant issued it and nothing more; `regua_tenant_by_slug` does the same
for the public self-service page. "Nosso número" comes from one agency-wide sequence:
the bank agreement (convênio) is the agency's, so numbers are unique across tenants.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import APP, MAINT, tenant_owned

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _now() -> sa.TextClause:
    return sa.text("now()")


def _tenant_columns() -> list[sa.Column[object]]:
    return [sa.Column("tenant_id", sa.Uuid(), nullable=False),
            sa.Column("id", sa.Uuid(), nullable=False)]


def _money(name: str) -> sa.Column[object]:
    return sa.Column(name, sa.Numeric(14, 2), nullable=False)


def upgrade() -> None:
    op.create_table(
        "slip",
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("installment_id", sa.Uuid(), nullable=False),
        sa.Column("pix_payload", sa.String(512), nullable=False),
        sa.Column("boleto_barcode", sa.String(44), nullable=False),
        sa.Column("boleto_line", sa.String(47), nullable=False),
        sa.Column("pdf_key", sa.String(500), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_slip")),
    )
    op.create_index("uq_slip_installment", "slip", ["tenant_id", "installment_id"], unique=True)
    tenant_owned("slip", "SELECT, INSERT, UPDATE")

    op.create_table(
        "slip_payment",
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("external_id", sa.String(100), nullable=False),
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("installment_id", sa.Uuid(), nullable=False),
        _money("expected"),
        _money("amount_paid"),
        _money("bank_fee"),
        sa.Column("paid_on", sa.Date(), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("source_file", sa.String(255), nullable=True),
        sa.Column("raw", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.CheckConstraint("kind IN ('pix', 'boleto')", name=op.f("ck_slip_payment_kind")),
        sa.CheckConstraint("outcome IN ('settled', 'partial', 'overpaid')",
                           name=op.f("ck_slip_payment_outcome")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_slip_payment")),
    )
    op.create_index("uq_slip_payment_external", "slip_payment",
                    ["tenant_id", "kind", "external_id"], unique=True)
    tenant_owned("slip_payment", "SELECT, INSERT")

    op.create_table(
        "fee_contract",
        sa.Column("debtor_fee_pct", sa.Numeric(7, 4), nullable=True),
        sa.Column("direct_payments_earn", sa.Boolean(), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_fee_contract")),
    )
    op.create_index("uq_fee_contract_tenant", "fee_contract", ["tenant_id"], unique=True)
    tenant_owned("fee_contract", "SELECT, INSERT, UPDATE")

    op.create_table(
        "fee_band",
        sa.Column("min_days", sa.Integer(), nullable=False),
        sa.Column("max_days", sa.Integer(), nullable=True),
        sa.Column("bucket", sa.String(16), nullable=False),
        sa.Column("commission_pct", sa.Numeric(7, 4), nullable=False),
        *_tenant_columns(),
        sa.CheckConstraint("min_days >= 0", name=op.f("ck_fee_band_min_days")),
        sa.CheckConstraint("max_days IS NULL OR max_days >= min_days",
                           name=op.f("ck_fee_band_max_days")),
        sa.CheckConstraint("commission_pct >= 0 AND commission_pct <= 100",
                           name=op.f("ck_fee_band_pct")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_fee_band")),
    )
    op.create_index("uq_fee_band", "fee_band", ["tenant_id", "min_days", "bucket"], unique=True)
    tenant_owned("fee_band")

    op.create_table(
        "access_code",
        sa.Column("challenge", sa.String(64), nullable=False),
        sa.Column("debtor_id", sa.Uuid(), nullable=False),
        sa.Column("contact_point_id", sa.Uuid(), nullable=False),
        sa.Column("code_hash", sa.String(64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_access_code")),
    )
    op.create_index("uq_access_code_challenge", "access_code", ["tenant_id", "challenge"],
                    unique=True)
    tenant_owned("access_code", "SELECT, INSERT, UPDATE")

    op.execute(f"""
CREATE SEQUENCE nosso_numero_seq AS bigint MINVALUE 1 MAXVALUE 9999999999;
GRANT USAGE ON SEQUENCE nosso_numero_seq TO {APP};
CREATE FUNCTION regua_installment_tenant(kind text, ref text)
RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT tenant_id FROM installment
    WHERE (kind = 'pix' AND txid = ref) OR (kind = 'boleto' AND nosso_numero = ref) LIMIT 1
$$;
CREATE FUNCTION regua_tenant_by_slug(s text)
RETURNS uuid LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT id FROM tenant WHERE slug = s AND status = 'active'
$$;
REVOKE ALL ON FUNCTION regua_installment_tenant(text, text) FROM PUBLIC;
REVOKE ALL ON FUNCTION regua_tenant_by_slug(text) FROM PUBLIC;
ALTER FUNCTION regua_installment_tenant(text, text) OWNER TO {MAINT};
ALTER FUNCTION regua_tenant_by_slug(text) OWNER TO {MAINT};
GRANT EXECUTE ON FUNCTION regua_installment_tenant(text, text) TO {APP};
GRANT EXECUTE ON FUNCTION regua_tenant_by_slug(text) TO {APP};
""")


def downgrade() -> None:
    op.execute("DROP FUNCTION IF EXISTS regua_tenant_by_slug(text)")
    op.execute("DROP FUNCTION IF EXISTS regua_installment_tenant(text, text)")
    op.execute("DROP SEQUENCE IF EXISTS nosso_numero_seq")
    for table in ("access_code", "fee_band", "fee_contract", "slip_payment", "slip"):
        op.drop_table(table)
