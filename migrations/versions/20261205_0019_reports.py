"""reports: per-tenant aggregate tables, the debtors' reporting dimensions, the queue of
months to refresh (filled by statement-level triggers on the base tables), the monthly
e-mails, and BRIN indexes on the base tables' time columns

Every table is tenant-owned with forced row-level security: what a creditor's dashboard
reads is a table under its policy, not a materialized view (which has none).

The triggers are statement-level with transition tables: one INSERT of the distinct
(tenant, family, month) the statement touched, whatever the number of rows, so a bulk
import pays one small insert per batch. `report_dirty` has no unique key: concurrent
writers never wait on each other's entry (an upsert would hold them until commit).

Revision ID: 0019
Revises: 0022
Create Date: 2026-12-05 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import tenant_owned

revision: str = "0019"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

RANDOM_ID = sa.text("gen_random_uuid()")
MONEY = sa.Numeric(precision=14, scale=2)


def _id() -> list[sa.Column]:  # type: ignore[type-arg]
    return [sa.Column("tenant_id", sa.Uuid(), nullable=False),
            sa.Column("id", sa.Uuid(), server_default=RANDOM_ID, nullable=False)]


def _dims() -> list[sa.Column]:  # type: ignore[type-arg]
    return [*_id(),
            sa.Column("month", sa.Date(), nullable=False),
            sa.Column("portfolio_id", sa.Uuid(), nullable=True),
            sa.Column("segment", sa.String(length=24), nullable=False),
            sa.Column("cadence_id", sa.Uuid(), nullable=True),
            sa.Column("arm", sa.String(length=12), nullable=False)]


def _count(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.Integer(), nullable=False)


def _big(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.BigInteger(), nullable=False)


def _money(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, MONEY, nullable=False)


AGGREGATES = {
    "report_placement": [*_dims(), sa.Column("band", sa.String(length=8), nullable=False),
                         _count("debts"), _money("amount")],
    "report_recovery": [*_dims(), sa.Column("cohort", sa.Date(), nullable=False),
                        _money("recovered"), _money("recovered_direct"), _count("payments"),
                        _count("first_payments"), _big("days_to_pay"), _money("commission"),
                        _money("net_due")],
    "report_contact": [*_dims(), sa.Column("channel", sa.String(length=16), nullable=False),
                       _count("attempts"), _count("contacts"), _count("rpc"),
                       _count("inbound")],
    "report_message": [*_dims(), sa.Column("channel", sa.String(length=16), nullable=False),
                       _count("step_day"), _count("planned"), _count("sent"),
                       _count("delivered"), _count("read"), _count("failed"),
                       _count("blocked")],
    "report_promise": [*_dims(), _count("made"), _money("made_amount"), _count("kept"),
                       _money("kept_amount"), _count("broken")],
    "report_agreement": [*_dims(), sa.Column("event", sa.String(length=8), nullable=False),
                         _count("agreements"), _money("amount")],
    "report_agent": [*_id(), sa.Column("month", sa.Date(), nullable=False),
                     sa.Column("user_id", sa.Uuid(), nullable=False), _count("calls"),
                     _big("talk_seconds"), _big("logged_seconds"), _count("agreements"),
                     _money("agreed_amount")],
    "report_dialer": [*_id(), sa.Column("month", sa.Date(), nullable=False),
                      sa.Column("campaign_id", sa.Uuid(), nullable=False),
                      sa.Column("abandon_target", sa.Numeric(precision=5, scale=4),
                                nullable=False),
                      _count("dialed"), _count("answered"), _count("abandoned"),
                      _big("talk_seconds"), _big("wrap_seconds")],
    "report_experiment": [*_dims(), _count("debtors"), _count("payers"), _money("recovered"),
                          sa.Column("recovered_sq", sa.Numeric(), nullable=False)],
    "report_escalation": [*_dims(), sa.Column("path", sa.String(length=16), nullable=False),
                          sa.Column("state", sa.String(length=24), nullable=False),
                          _count("escalations"), _money("amount")],
}

# BRIN indexes on the base tables' time columns (declared in reports/models.py).
BRIN = {"ix_debt_created_brin": ("debt", "created_at"),
        "ix_payment_paid_brin": ("payment", "paid_on"),
        "ix_interaction_started_brin": ("interaction", "started_at"),
        "ix_call_record_dialed_brin": ("call_record", "dialed_at")}


def _month(column: str) -> str:
    return f"date_trunc('month', n.{column} AT TIME ZONE t.timezone)::date"


TZ = "FROM new_rows n JOIN tenant t ON t.id = n.tenant_id"
NOW_MONTH = "date_trunc('month', now() AT TIME ZONE t.timezone)::date"

# For each base table: the (family, month) pairs its changed rows make stale, as SELECTs
# over the statement's new rows (`new_rows`), joined to their tenant for its time zone.
DIRTY = {
    "debt": [f"SELECT n.tenant_id, 'placement', {_month('created_at')} {TZ}"],
    "payment": [
        "SELECT n.tenant_id, 'recovery', date_trunc('month', n.paid_on)::date"
        " FROM new_rows n WHERE n.paid_on IS NOT NULL",
        # a payment can keep a promise made up to 60 days before it
        "SELECT n.tenant_id, 'promise', (date_trunc('month', n.paid_on) - m.back)::date"
        " FROM new_rows n CROSS JOIN (VALUES (interval '0 month'), (interval '1 month'),"
        " (interval '2 month')) m(back) WHERE n.paid_on IS NOT NULL",
        "SELECT n.tenant_id, 'experiment', date_trunc('month', rd.enrolled_on)::date"
        " FROM new_rows n JOIN report_debtor rd ON rd.tenant_id = n.tenant_id"
        " AND rd.id = n.debtor_id WHERE rd.enrolled_on IS NOT NULL",
    ],
    "interaction": [
        f"SELECT n.tenant_id, 'contact', {_month('started_at')} {TZ}",
        f"SELECT n.tenant_id, 'agent', {_month('started_at')} {TZ} WHERE n.channel = 'call'",
    ],
    "cadence_action": ["SELECT n.tenant_id, 'message', date_trunc('month', n.day)::date"
                       " FROM new_rows n"],
    "agenda_item": [f"SELECT n.tenant_id, 'promise', {_month('created_at')} {TZ}"
                    " WHERE n.kind = 'promise'"],
    "agreement": [
        f"SELECT n.tenant_id, 'agreement', {_month('accepted_at')} {TZ}",
        f"SELECT n.tenant_id, 'agreement', {_month('settled_at')} {TZ}",
        f"SELECT n.tenant_id, 'agreement', {_month('broken_at')} {TZ}",
        f"SELECT n.tenant_id, 'agreement', {NOW_MONTH} {TZ}",
        f"SELECT n.tenant_id, 'agent', {_month('accepted_at')} {TZ}",
    ],
    "installment": [f"SELECT n.tenant_id, 'agreement', {NOW_MONTH} {TZ}"],
    "call_record": [f"SELECT n.tenant_id, 'dialer', {_month('dialed_at')} {TZ}",
                    f"SELECT n.tenant_id, 'agent', {_month('dialed_at')} {TZ}"],
    "agent_session": [f"SELECT n.tenant_id, 'agent', {_month('logged_in_at')} {TZ}"],
    "escalation": [f"SELECT n.tenant_id, 'escalation', {_month('decided_at')} {TZ}"],
    # A debtor scored or enrolled: its reporting dimensions may be known now.
    "debtor_score": [f"SELECT n.tenant_id, 'dims', {NOW_MONTH} {TZ}"],
    "cadence_enrolment": [f"SELECT n.tenant_id, 'dims', {NOW_MONTH} {TZ}"],
}
# Insert-only tables need no update trigger (payments and debts' later updates change
# no figure's month: balances are read at placement, payments are rows of their own).
INSERT_ONLY = {"debt", "payment"}
UPDATE_ONLY = {"installment"}


def _function(table: str) -> str:
    union = "\n    UNION ".join(DIRTY[table])
    return f"""
CREATE FUNCTION regua_report_dirty_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO report_dirty (tenant_id, family, month)
    SELECT d.tenant_id, d.family, d.month FROM (
    {union}
    ) d(tenant_id, family, month) WHERE d.month IS NOT NULL;
    RETURN NULL;
END $$"""


def _triggers(table: str) -> list[str]:
    out = []
    if table not in UPDATE_ONLY:
        out.append(f"CREATE TRIGGER {table}_report_insert AFTER INSERT ON {table}"
                   f" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
                   f" EXECUTE FUNCTION regua_report_dirty_{table}()")
    if table not in INSERT_ONLY:
        out.append(f"CREATE TRIGGER {table}_report_update AFTER UPDATE ON {table}"
                   f" REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT"
                   f" EXECUTE FUNCTION regua_report_dirty_{table}()")
    return out


def upgrade() -> None:
    op.create_table("report_debtor",
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.Column("portfolio_id", sa.Uuid(), nullable=True),
    sa.Column("placed_month", sa.Date(), nullable=False),
    sa.Column("segment", sa.String(length=24), nullable=True),
    sa.Column("cadence_id", sa.Uuid(), nullable=True),
    sa.Column("arm", sa.String(length=12), nullable=True),
    sa.Column("enrolled_on", sa.Date(), nullable=True),
    sa.Column("pending", sa.Boolean(), server_default=sa.text("true"), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_report_debtor")))
    op.create_index("ix_report_debtor_pending", "report_debtor", ["tenant_id"], postgresql_where=sa.text("pending"))
    op.create_index("ix_report_debtor_enrolled", "report_debtor", ["tenant_id", "enrolled_on"])
    tenant_owned("report_debtor")

    op.create_table("report_dirty", *_id(),
    sa.Column("family", sa.String(length=16), nullable=False),
    sa.Column("month", sa.Date(), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_report_dirty")))
    tenant_owned("report_dirty")

    op.create_table("report_state",
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("rebuilt_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("last_duration_ms", sa.Integer(), nullable=True),
    sa.Column("last_slices", sa.Integer(), nullable=True),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_report_state")))
    tenant_owned("report_state")

    for table, columns in AGGREGATES.items():
        op.create_table(table, *columns,
                        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f(f"pk_{table}")))
        op.create_index(f"ix_{table}_month", table, ["tenant_id", "month"])
        tenant_owned(table)
    op.create_index("ix_report_recovery_cohort", "report_recovery", ["tenant_id", "cohort"])

    op.create_table("report_delivery", *_id(),
    sa.Column("month", sa.Date(), nullable=False),
    sa.Column("user_id", sa.Uuid(), nullable=False),
    sa.Column("recipient", sa.String(length=254), nullable=False),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("provider_message_id", sa.String(length=200), nullable=True),
    sa.Column("reason", sa.String(length=500), nullable=True),
    sa.Column("sandbox", sa.Boolean(), server_default=sa.text("false"), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_report_delivery")))
    op.create_index("uq_report_delivery", "report_delivery", ["tenant_id", "month", "user_id"], unique=True)
    tenant_owned("report_delivery")

    for name, (table, column) in BRIN.items():
        op.create_index(name, table, [column], postgresql_using="brin")

    for table in DIRTY:
        op.execute(_function(table))
        for statement in _triggers(table):
            op.execute(statement)


def downgrade() -> None:
    for table in DIRTY:
        for kind in ("insert", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS {table}_report_{kind} ON {table}")
        op.execute(f"DROP FUNCTION regua_report_dirty_{table}()")
    for name, (table, _) in BRIN.items():
        op.drop_index(name, table_name=table)
    for table in ("report_delivery", *AGGREGATES, "report_state", "report_dirty",
                  "report_debtor"):
        op.drop_table(table)
