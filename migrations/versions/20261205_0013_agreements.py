"""agreements: negotiation policy, agreements and their debts, installments, the approval
queue, published index values; ledger entries of kind 'accrual'

Revision ID: 0013
Revises: 0009
Create Date: 2026-12-05 12:15:00

`index_value` holds published figures, the same for every tenant: the application role
reads it, the schema owner loads it (`regua indexes load`). The series shipped in
legal/data/indices.csv is loaded here; months already in the table are left alone.
"""

import csv
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import APP, MAINT, tenant_owned

revision: str = "0013"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

AGREEMENT_STATUSES = "('proposed', 'pending_approval', 'active', 'broken', 'reinstated', " \
    "'settled', 'cancelled')"
INDICES = Path(__file__).resolve().parents[2] / "legal" / "data" / "indices.csv"
LEVELS = "('agent', 'supervisor', 'creditor')"
ENTRY_KINDS_BEFORE = "('placement', 'creditor_update', 'payment', 'discount', 'write_off', " \
    "'adjustment')"
ENTRY_KINDS_AFTER = "('placement', 'creditor_update', 'payment', 'discount', 'write_off', " \
    "'adjustment', 'accrual')"


def _now() -> sa.TextClause:
    return sa.text("now()")


def _tenant_columns() -> list[sa.Column[object]]:
    return [sa.Column("tenant_id", sa.Uuid(), nullable=False),
            sa.Column("id", sa.Uuid(), nullable=False)]


def _money(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.Numeric(14, 2), nullable=nullable)


def _pct(name: str, nullable: bool = False) -> sa.Column[object]:
    return sa.Column(name, sa.Numeric(7, 4), nullable=nullable)


def _agreement_fk(table: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(["tenant_id", "agreement_id"],
                                   ["agreement.tenant_id", "agreement.id"],
                                   name=op.f(f"fk_{table}_tenant_id_agreement_id_agreement"))


def upgrade() -> None:
    op.drop_constraint(op.f("ck_ledger_entry_kind"), "ledger_entry", type_="check")
    op.create_check_constraint(op.f("ck_ledger_entry_kind"), "ledger_entry",
                               f"kind IN {ENTRY_KINDS_AFTER}")

    op.create_table(
        "negotiation_policy",
        sa.Column("discount_bands", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("installment_plans", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("max_installments", sa.Integer(), nullable=False),
        _money("min_installment"),
        _pct("min_down_payment_pct"),
        _pct("installment_interest_pct"),
        sa.Column("max_first_due_days", sa.Integer(), nullable=False),
        _pct("agent_discount_pct"),
        sa.Column("agent_max_installments", sa.Integer(), nullable=False),
        _pct("supervisor_discount_pct"),
        sa.Column("supervisor_max_installments", sa.Integer(), nullable=False),
        sa.Column("breach_tolerance_days", sa.Integer(), nullable=False),
        sa.Column("reinstatement_allowed", sa.Boolean(), nullable=False),
        sa.Column("discount_revocation", sa.String(16), nullable=False),
        sa.Column("correction_index", sa.String(16), nullable=False),
        _pct("contract_interest_pct", nullable=True),
        _pct("late_fee_pct"),
        _pct("debtor_fee_pct", nullable=True),
        sa.Column("rounding", sa.String(16), nullable=False),
        sa.Column("updated_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.CheckConstraint("discount_revocation IN ('proportional', 'full', 'none')",
                           name=op.f("ck_negotiation_policy_discount_revocation")),
        sa.CheckConstraint("rounding IN ('half_even', 'half_up')",
                           name=op.f("ck_negotiation_policy_rounding")),
        sa.CheckConstraint("late_fee_pct >= 0", name=op.f("ck_negotiation_policy_late_fee_nonnegative")),
        sa.CheckConstraint("breach_tolerance_days >= 0",
                           name=op.f("ck_negotiation_policy_tolerance_nonnegative")),
        sa.CheckConstraint("max_installments >= 1",
                           name=op.f("ck_negotiation_policy_max_installments_positive")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_negotiation_policy")),
        sa.UniqueConstraint("tenant_id", name=op.f("uq_negotiation_policy_tenant_id")),
    )
    tenant_owned("negotiation_policy", "SELECT, INSERT, UPDATE")

    op.create_table(
        "agreement",
        sa.Column("debtor_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(24), nullable=False),
        sa.Column("reference_date", sa.Date(), nullable=False),
        sa.Column("terms", sa.Text(), nullable=False),
        sa.Column("calculation", postgresql.JSONB(astext_type=sa.Text()), nullable=False),
        sa.Column("option_label", sa.String(100), nullable=False),
        _money("updated_balance"),
        _money("discount_total"),
        _money("installment_interest"),
        _money("total"),
        _money("down_payment"),
        sa.Column("installment_count", sa.Integer(), nullable=False),
        _money("installment_amount"),
        sa.Column("approval_level", sa.String(16), nullable=False),
        sa.Column("approved_by", sa.Uuid(), nullable=True),
        sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_via", sa.String(16), nullable=True),
        sa.Column("accepted_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("accepted_ip", sa.String(45), nullable=True),
        sa.Column("accepted_user_agent", sa.String(500), nullable=True),
        sa.Column("accepted_by", sa.Uuid(), nullable=True),
        sa.Column("call_recording_ref", sa.String(200), nullable=True),
        sa.Column("link_nonce", sa.String(64), nullable=True),
        sa.Column("link_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("link_used_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("broken_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("broken_reason", sa.String(500), nullable=True),
        sa.Column("reinstated_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reinstated_by", sa.Uuid(), nullable=True),
        sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_reason", sa.String(500), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.CheckConstraint(f"status IN {AGREEMENT_STATUSES}", name=op.f("ck_agreement_status")),
        sa.CheckConstraint(f"approval_level IN {LEVELS}", name=op.f("ck_agreement_approval_level")),
        sa.CheckConstraint("accepted_via IS NULL OR accepted_via IN ('debtor_link', 'agent')",
                           name=op.f("ck_agreement_accepted_via")),
        sa.CheckConstraint("accepted_via <> 'agent' OR call_recording_ref IS NOT NULL",
                           name=op.f("ck_agreement_agent_acceptance_recorded")),
        sa.CheckConstraint("installment_count >= 1",
                           name=op.f("ck_agreement_installment_count_positive")),
        sa.CheckConstraint("total > 0", name=op.f("ck_agreement_total_positive")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agreement")),
    )
    op.create_index("ix_agreement_debtor", "agreement", ["tenant_id", "debtor_id"])
    op.create_index("ix_agreement_status", "agreement", ["tenant_id", "status"])
    tenant_owned("agreement", "SELECT, INSERT, UPDATE")

    op.create_table(
        "agreement_debt",
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("debt_id", sa.Uuid(), nullable=False),
        *(_money(name) for name in ("principal", "correction", "interest", "fine", "fees")),
        *(_money(f"discount_{name}")
          for name in ("principal", "correction", "interest", "fine", "fees")),
        *_tenant_columns(),
        _agreement_fk("agreement_debt"),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_agreement_debt")),
        sa.UniqueConstraint("tenant_id", "agreement_id", "debt_id",
                            name=op.f("uq_agreement_debt_tenant_id_agreement_id_debt_id")),
    )
    op.create_index("ix_agreement_debt_debt", "agreement_debt", ["tenant_id", "debt_id"])
    tenant_owned("agreement_debt", "SELECT, INSERT")

    op.create_table(
        "installment",
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        _money("amount"),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("paid_at", sa.DateTime(timezone=True), nullable=True),
        _money("paid_amount", nullable=True),
        sa.Column("nosso_numero", sa.String(20), nullable=True),
        sa.Column("txid", sa.String(35), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        _agreement_fk("installment"),
        sa.CheckConstraint("status IN ('open', 'paid', 'overdue', 'cancelled')",
                           name=op.f("ck_installment_status")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_installment_amount_positive")),
        sa.CheckConstraint("number >= 1", name=op.f("ck_installment_number_positive")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_installment")),
        sa.UniqueConstraint("tenant_id", "agreement_id", "number",
                            name=op.f("uq_installment_tenant_id_agreement_id_number")),
    )
    op.create_index("ix_installment_due", "installment", ["tenant_id", "status", "due_date"])
    op.create_index("ix_installment_nosso_numero", "installment", ["nosso_numero"])
    op.create_index("ix_installment_txid", "installment", ["txid"])
    tenant_owned("installment", "SELECT, INSERT, UPDATE")

    op.create_table(
        "approval_request",
        sa.Column("agreement_id", sa.Uuid(), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("why", sa.String(500), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=True),
        sa.Column("requested_by", sa.Uuid(), nullable=True),
        sa.Column("decided_by", sa.Uuid(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        _agreement_fk("approval_request"),
        sa.CheckConstraint("status IN ('pending', 'accepted', 'refused')",
                           name=op.f("ck_approval_request_status")),
        sa.CheckConstraint("level IN ('supervisor', 'creditor')",
                           name=op.f("ck_approval_request_level")),
        sa.CheckConstraint("status = 'pending' OR decided_at IS NOT NULL",
                           name=op.f("ck_approval_request_decided")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_approval_request")),
    )
    op.create_index("ix_approval_request_queue", "approval_request",
                    ["tenant_id", "level", "status"])
    tenant_owned("approval_request", "SELECT, INSERT, UPDATE")

    op.create_table(
        "index_value",
        sa.Column("index_name", sa.String(16), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("value", sa.Numeric(10, 4), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.CheckConstraint("index_name IN ('IPCA', 'SELIC')", name=op.f("ck_index_value_index_name")),
        sa.CheckConstraint("extract(day FROM month) = 1", name=op.f("ck_index_value_first_of_month")),
        sa.PrimaryKeyConstraint("index_name", "month", name=op.f("pk_index_value")),
    )
    op.execute(f"GRANT SELECT ON index_value TO {APP}")
    op.execute(f"GRANT SELECT ON index_value TO {MAINT}")
    _load_indices()


def _load_indices() -> None:
    if not INDICES.exists():
        return
    with INDICES.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(line for line in f if not line.startswith("#"))
                if r.get("value")]
    for row in rows:
        op.get_bind().execute(sa.text(
            "INSERT INTO index_value (index_name, month, value, source)"
            " VALUES (:i, :m, :v, :s) ON CONFLICT DO NOTHING"),
            {"i": row["index"].strip().upper(), "m": dt.date.fromisoformat(row["month"] + "-01"),
             "v": Decimal(row["value"]), "s": row["source"].strip()})


def downgrade() -> None:
    for table in ("index_value", "approval_request", "installment", "agreement_debt",
                  "agreement", "negotiation_policy"):
        op.drop_table(table)
    op.execute("DELETE FROM ledger_entry WHERE kind = 'accrual'")
    op.drop_constraint(op.f("ck_ledger_entry_kind"), "ledger_entry", type_="check")
    op.create_check_constraint(op.f("ck_ledger_entry_kind"), "ledger_entry",
                               f"kind IN {ENTRY_KINDS_BEFORE}")
