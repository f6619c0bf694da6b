"""The reports' tables: each debtor's reporting dimensions, the aggregate tables the
dashboard reads, the queue of months to refresh, and the monthly e-mails sent.

Every table is tenant-owned under forced row-level security (migration 0019): a
creditor's dashboard is a query on tables under its policy, never a materialized view
(PostgreSQL applies no row-level security to those).

Aggregates are kept by month in the tenant's time zone and by the filter dimensions
(`portfolio_id`, `segment`, `cadence_id`, `arm`) beside the figure's own keys. The
refresh replaces a month's rows whole (`reports.refresh`), so a row has no identity of
its own: its id is a random UUID.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import BigInteger, Date, Index, Integer, Numeric, String, text
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, created_at_column
from core.models import Debt, Interaction, Payment
from core.models.collection import MONEY
from dialer.models import CallRecord

SUM = Numeric()  # sums of squares outgrow NUMERIC(14,2)


def _random_id() -> Mapped[uuid.UUID]:
    # Rows are written by set-based INSERT ... SELECT and by triggers: the server picks ids.
    return mapped_column(primary_key=True, server_default=text("gen_random_uuid()"))


class ReportDebtor(Base):
    """A debtor's reporting dimensions, set once (`id` is the debtor's id).

    `portfolio_id` is the debtor's first portfolio; `segment` its primary segment when it
    was first scored; `cadence_id` and `arm` the cadence and side it was first enrolled
    in ("intent to treat"). Frozen, so a cohort keeps its segment and cadence and the
    numerator and denominator of a rate always count the same debtors. Until they are
    known the row is `pending`; after `reports.refresh.PENDING_DAYS` it is closed with
    what is known (`sem_segmento`, no cadence)."""

    __tablename__ = "report_debtor"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    portfolio_id: Mapped[uuid.UUID | None]
    placed_month: Mapped[dt.date] = mapped_column(Date)
    segment: Mapped[str | None] = mapped_column(String(24))
    cadence_id: Mapped[uuid.UUID | None]
    arm: Mapped[str | None] = mapped_column(String(12))
    enrolled_on: Mapped[dt.date | None] = mapped_column(Date)
    pending: Mapped[bool] = mapped_column(server_default=text("true"))
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        Index("ix_report_debtor_pending", "tenant_id", postgresql_where=text("pending")),
        Index("ix_report_debtor_enrolled", "tenant_id", "enrolled_on"),
    )


class ReportDirty(Base):
    """A month of one figure family that changed: written by statement-level triggers on
    the base tables, consumed (deleted) by the refresh. Append-only, with no unique key,
    so concurrent writers never wait on each other here."""

    __tablename__ = "report_dirty"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = _random_id()
    family: Mapped[str] = mapped_column(String(16))
    month: Mapped[dt.date] = mapped_column(Date)
    created_at: Mapped[dt.datetime] = created_at_column()


class ReportState(Base):
    """One row per tenant (`id` is the tenant's id): when its aggregates were refreshed."""

    __tablename__ = "report_state"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    refreshed_at: Mapped[dt.datetime | None]
    rebuilt_at: Mapped[dt.datetime | None]
    last_duration_ms: Mapped[int | None] = mapped_column(Integer)
    last_slices: Mapped[int | None] = mapped_column(Integer)


class _Dims:
    """The filter dimensions every aggregate carries, after its month."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = _random_id()
    month: Mapped[dt.date] = mapped_column(Date)
    portfolio_id: Mapped[uuid.UUID | None]
    segment: Mapped[str] = mapped_column(String(24))
    cadence_id: Mapped[uuid.UUID | None]
    arm: Mapped[str] = mapped_column(String(12))


class ReportPlacement(_Dims, Base):
    """Debts placed in `month` (placement = the debt's creation), by days-overdue band at
    placement: how many, and the amount placed."""

    __tablename__ = "report_placement"

    band: Mapped[str] = mapped_column(String(8))
    debts: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(MONEY)

    __table_args__ = (Index("ix_report_placement_month", "tenant_id", "month"),)


class ReportRecovery(_Dims, Base):
    """Payments dated in `month` on debts placed in `cohort`: recovered through the agency
    and paid to the creditor directly, first payments and their days since placement,
    and the agency's commission and the net due from `legal.statement`."""

    __tablename__ = "report_recovery"

    cohort: Mapped[dt.date] = mapped_column(Date)
    recovered: Mapped[Decimal] = mapped_column(MONEY)
    recovered_direct: Mapped[Decimal] = mapped_column(MONEY)
    payments: Mapped[int] = mapped_column(Integer)
    first_payments: Mapped[int] = mapped_column(Integer)
    days_to_pay: Mapped[int] = mapped_column(BigInteger)
    commission: Mapped[Decimal] = mapped_column(MONEY)
    net_due: Mapped[Decimal] = mapped_column(MONEY)

    __table_args__ = (Index("ix_report_recovery_month", "tenant_id", "month"),
                      Index("ix_report_recovery_cohort", "tenant_id", "cohort"))


class ReportContact(_Dims, Base):
    """Contact attempts started in `month`, by channel."""

    __tablename__ = "report_contact"

    channel: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer)
    contacts: Mapped[int] = mapped_column(Integer)
    rpc: Mapped[int] = mapped_column(Integer)
    inbound: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_report_contact_month", "tenant_id", "month"),)


class ReportMessage(_Dims, Base):
    """The cadence's written messages of the days of `month`, by channel and step."""

    __tablename__ = "report_message"

    channel: Mapped[str] = mapped_column(String(16))
    step_day: Mapped[int] = mapped_column(Integer)
    planned: Mapped[int] = mapped_column(Integer)
    sent: Mapped[int] = mapped_column(Integer)
    delivered: Mapped[int] = mapped_column(Integer)
    read: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    blocked: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_report_message_month", "tenant_id", "month"),)


class ReportPromise(_Dims, Base):
    """Promises to pay made in `month`: kept, broken (due and not kept), their amounts."""

    __tablename__ = "report_promise"

    made: Mapped[int] = mapped_column(Integer)
    made_amount: Mapped[Decimal] = mapped_column(MONEY)
    kept: Mapped[int] = mapped_column(Integer)
    kept_amount: Mapped[Decimal] = mapped_column(MONEY)
    broken: Mapped[int] = mapped_column(Integer)

    __table_args__ = (Index("ix_report_promise_month", "tenant_id", "month"),)


class ReportAgreement(_Dims, Base):
    """Agreements by what happened to them in `month` (`event`: made, settled, broken),
    and, in the current month's rows, those running now (`running`) with what is still
    to be paid on them (`amount`)."""

    __tablename__ = "report_agreement"

    event: Mapped[str] = mapped_column(String(8))
    agreements: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(MONEY)

    __table_args__ = (Index("ix_report_agreement_month", "tenant_id", "month"),)


class ReportAgent(Base):
    """An agent's month on this tenant: calls handled, talk, logged-in time, agreements."""

    __tablename__ = "report_agent"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = _random_id()
    month: Mapped[dt.date] = mapped_column(Date)
    user_id: Mapped[uuid.UUID]
    calls: Mapped[int] = mapped_column(Integer)
    talk_seconds: Mapped[int] = mapped_column(BigInteger)
    logged_seconds: Mapped[int] = mapped_column(BigInteger)
    agreements: Mapped[int] = mapped_column(Integer)
    agreed_amount: Mapped[Decimal] = mapped_column(MONEY)

    __table_args__ = (Index("ix_report_agent_month", "tenant_id", "month"),)


class ReportDialer(Base):
    """A campaign's dial attempts of `month` and their outcomes."""

    __tablename__ = "report_dialer"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = _random_id()
    month: Mapped[dt.date] = mapped_column(Date)
    campaign_id: Mapped[uuid.UUID]
    abandon_target: Mapped[Decimal] = mapped_column(Numeric(5, 4))
    dialed: Mapped[int] = mapped_column(Integer)
    answered: Mapped[int] = mapped_column(Integer)
    abandoned: Mapped[int] = mapped_column(Integer)
    talk_seconds: Mapped[int] = mapped_column(BigInteger)
    wrap_seconds: Mapped[int] = mapped_column(BigInteger)

    __table_args__ = (Index("ix_report_dialer_month", "tenant_id", "month"),)


class ReportExperiment(_Dims, Base):
    """Debtors first enrolled in `month` on a side of the tenant's cadence test: how many,
    how many paid the agency since, and the sum and sum of squares of what each paid."""

    __tablename__ = "report_experiment"

    debtors: Mapped[int] = mapped_column(Integer)
    payers: Mapped[int] = mapped_column(Integer)
    recovered: Mapped[Decimal] = mapped_column(MONEY)
    recovered_sq: Mapped[Decimal] = mapped_column(SUM)

    __table_args__ = (Index("ix_report_experiment_month", "tenant_id", "month"),)


class ReportEscalation(_Dims, Base):
    """Escalations decided in `month`, by path and their state now."""

    __tablename__ = "report_escalation"

    path: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(24))
    escalations: Mapped[int] = mapped_column(Integer)
    amount: Mapped[Decimal] = mapped_column(MONEY)

    __table_args__ = (Index("ix_report_escalation_month", "tenant_id", "month"),)


class ReportDelivery(Base):
    """The monthly report e-mailed to one of the creditor's users: one row per month and
    user, so the monthly job sends each once."""

    __tablename__ = "report_delivery"

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = _random_id()
    month: Mapped[dt.date] = mapped_column(Date)
    user_id: Mapped[uuid.UUID]
    recipient: Mapped[str] = mapped_column(String(254))
    status: Mapped[str] = mapped_column(String(16))  # sent, failed, bounced
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    reason: Mapped[str | None] = mapped_column(String(500))
    sandbox: Mapped[bool] = mapped_column(server_default=text("false"))
    sent_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (Index("uq_report_delivery", "tenant_id", "month", "user_id", unique=True),)


# Block-range indexes on the base tables' time columns: the refresh reads one month of
# them at a time. Rows arrive in time order, so a BRIN index is a few pages and costs
# the writers next to nothing (a B-tree on interaction.started_at would grow with every
# attempt). Declared here, with the queries that use them.
BASE_TABLE_INDEXES = (
    Index("ix_debt_created_brin", Debt.__table__.c.created_at, postgresql_using="brin"),
    Index("ix_payment_paid_brin", Payment.__table__.c.paid_on, postgresql_using="brin"),
    Index("ix_interaction_started_brin", Interaction.__table__.c.started_at,
          postgresql_using="brin"),
    Index("ix_call_record_dialed_brin", CallRecord.__table__.c.dialed_at,
          postgresql_using="brin"),
)
