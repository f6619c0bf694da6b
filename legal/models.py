"""Negotiation and agreements: a tenant's negotiation policy, agreements ("acordos") over
one or more debts of one debtor, their installments, the approval queue, and the dated
table of published index values (IPCA, Selic) that updates a debt's balance.

Tenant-owned tables follow core.models: `(tenant_id, id)` leads the primary key and
references carry `tenant_id`. `index_value` is agency-wide: published figures, the same
for every tenant.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    CheckConstraint,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, created_at_column
from core.models.collection import MONEY, _in

AGREEMENT_KEY = ["agreement.tenant_id", "agreement.id"]
PERCENT = Numeric(7, 4)  # a percentage such as 2.0000 (%), or 0.8300 (% a month)


class AgreementStatus(StrEnum):
    PROPOSED = "proposed"  # issued, waiting for the debtor's or the agent's acceptance
    PENDING_APPROVAL = "pending_approval"  # beyond the proposer's limit: in the queue
    ACTIVE = "active"  # accepted: debts are in agreement, installments run
    BROKEN = "broken"  # an installment went unpaid past the tolerance
    REINSTATED = "reinstated"  # a broken agreement revived once; runs like an active one
    SETTLED = "settled"  # every installment paid
    CANCELLED = "cancelled"  # refused, withdrawn before acceptance, or superseded


AGREEMENT_STATUS_LABELS = {
    AgreementStatus.PROPOSED: "proposto", AgreementStatus.PENDING_APPROVAL: "aguardando aprovação",
    AgreementStatus.ACTIVE: "ativo", AgreementStatus.BROKEN: "quebrado",
    AgreementStatus.REINSTATED: "restabelecido", AgreementStatus.SETTLED: "quitado",
    AgreementStatus.CANCELLED: "cancelado",
}

# Statuses in which installments are due and paid.
RUNNING = (AgreementStatus.ACTIVE, AgreementStatus.REINSTATED)


class ApprovalLevel(StrEnum):
    AGENT = "agent"
    SUPERVISOR = "supervisor"
    CREDITOR = "creditor"


APPROVAL_LEVEL_LABELS = {
    ApprovalLevel.AGENT: "operador", ApprovalLevel.SUPERVISOR: "supervisor",
    ApprovalLevel.CREDITOR: "credor",
}


class AcceptanceChannel(StrEnum):
    DEBTOR_LINK = "debtor_link"  # the debtor on a one-time signed link
    AGENT = "agent"  # the agent, on a recorded call


class InstallmentStatus(StrEnum):
    OPEN = "open"
    PAID = "paid"
    OVERDUE = "overdue"  # past its due date, within the tolerance
    CANCELLED = "cancelled"  # the agreement broke or was cancelled


INSTALLMENT_STATUS_LABELS = {
    InstallmentStatus.OPEN: "em aberto", InstallmentStatus.PAID: "paga",
    InstallmentStatus.OVERDUE: "vencida", InstallmentStatus.CANCELLED: "cancelada",
}


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    REFUSED = "refused"


APPROVAL_STATUS_LABELS = {
    ApprovalStatus.PENDING: "pendente", ApprovalStatus.ACCEPTED: "aprovado",
    ApprovalStatus.REFUSED: "recusado",
}


class DiscountRevocation(StrEnum):
    """What a breach does to the discounts granted at acceptance."""

    PROPORTIONAL = "proportional"  # revoke the share of each discount still unpaid
    FULL = "full"  # revoke every discount
    NONE = "none"  # the discounts stand


class NegotiationPolicy(TenantOwned, Base):
    """One per tenant: how far a negotiation may go, and who must approve beyond that.

    `discount_bands` is a list of bands by days overdue, each
    `{"min_days": int, "max_days": int | null, "principal": "0", "correction": "100",
    "interest": "100", "fine": "100", "fees": "100"}`: the largest discount, in percent
    of each bucket, a plan may grant. Limits of approval are in percent of the updated
    balance: a plan's total discount up to `agent_discount_pct` (and installments up to
    `agent_max_installments`) an agent grants alone, up to the supervisor's a
    supervisor grants, anything beyond goes to the creditor."""

    __tablename__ = "negotiation_policy"

    discount_bands: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    installment_plans: Mapped[list[int]] = mapped_column(JSONB)  # e.g. [3, 6, 10, 12]
    max_installments: Mapped[int] = mapped_column(Integer)
    min_installment: Mapped[Decimal] = mapped_column(MONEY)
    min_down_payment_pct: Mapped[Decimal] = mapped_column(PERCENT)
    installment_interest_pct: Mapped[Decimal] = mapped_column(PERCENT)  # a month, compound
    max_first_due_days: Mapped[int] = mapped_column(Integer)  # latest first due date
    agent_discount_pct: Mapped[Decimal] = mapped_column(PERCENT)
    agent_max_installments: Mapped[int] = mapped_column(Integer)
    supervisor_discount_pct: Mapped[Decimal] = mapped_column(PERCENT)
    supervisor_max_installments: Mapped[int] = mapped_column(Integer)
    breach_tolerance_days: Mapped[int] = mapped_column(Integer, default=5)
    reinstatement_allowed: Mapped[bool] = mapped_column(Boolean, default=True)
    discount_revocation: Mapped[str] = mapped_column(
        String(16), default=DiscountRevocation.PROPORTIONAL)
    # How the balance is updated where the debt's contract says nothing else.
    correction_index: Mapped[str] = mapped_column(String(16), default="IPCA")  # or "none"
    contract_interest_pct: Mapped[Decimal | None] = mapped_column(PERCENT)  # None: legal rate
    late_fee_pct: Mapped[Decimal] = mapped_column(PERCENT, default=Decimal("2"))
    rounding: Mapped[str] = mapped_column(String(16), default="half_even")
    # The order a payment settles a debt's buckets in (every bucket once). The fee the
    # debtor may be charged is the fee contract's (legal.fees), not the policy's.
    allocation_order: Mapped[list[str]] = mapped_column(
        JSONB, server_default=text("'[\"fees\", \"fine\", \"interest\", \"correction\","
                                   " \"principal\"]'::jsonb"))
    updated_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = created_at_column()
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        UniqueConstraint("tenant_id"),
        CheckConstraint(f"discount_revocation IN {_in(DiscountRevocation)}",
                        name="discount_revocation"),
        CheckConstraint("rounding IN ('half_even', 'half_up')", name="rounding"),
        CheckConstraint("late_fee_pct >= 0", name="late_fee_nonnegative"),
        CheckConstraint("breach_tolerance_days >= 0", name="tolerance_nonnegative"),
        CheckConstraint("max_installments >= 1", name="max_installments_positive"),
    )


class Agreement(TenantOwned, Base):
    """An "acordo": one debtor's debts, a total after discounts, paid in installments.

    Installment 1 is the down payment ("entrada"); a plan of N installments is the
    entrada plus N - 1 equal installments. `terms` is the Portuguese text as issued;
    `calculation` the memória de cálculo the figures came from."""

    __tablename__ = "agreement"

    debtor_id: Mapped[uuid.UUID]
    status: Mapped[str] = mapped_column(String(24), default=AgreementStatus.PROPOSED)
    reference_date: Mapped[dt.date] = mapped_column(Date)  # the balances' date
    terms: Mapped[str] = mapped_column(Text)
    calculation: Mapped[dict[str, Any]] = mapped_column(JSONB)
    option_label: Mapped[str] = mapped_column(String(100))
    updated_balance: Mapped[Decimal] = mapped_column(MONEY)  # before discounts
    discount_total: Mapped[Decimal] = mapped_column(MONEY)
    installment_interest: Mapped[Decimal] = mapped_column(MONEY)
    total: Mapped[Decimal] = mapped_column(MONEY)  # what the debtor pays, all installments
    down_payment: Mapped[Decimal] = mapped_column(MONEY)
    installment_count: Mapped[int] = mapped_column(Integer)
    installment_amount: Mapped[Decimal] = mapped_column(MONEY)
    approval_level: Mapped[str] = mapped_column(String(16))  # what the plan needed
    approved_by: Mapped[uuid.UUID | None]
    approved_at: Mapped[dt.datetime | None]
    # Acceptance: by the debtor on a one-time link, or by the agent on a recorded call.
    accepted_via: Mapped[str | None] = mapped_column(String(16))
    accepted_at: Mapped[dt.datetime | None]
    accepted_ip: Mapped[str | None] = mapped_column(String(45))
    accepted_user_agent: Mapped[str | None] = mapped_column(String(500))
    accepted_by: Mapped[uuid.UUID | None]
    call_recording_ref: Mapped[str | None] = mapped_column(String(200))
    link_nonce: Mapped[str | None] = mapped_column(String(64))  # the link's one-time secret
    link_expires_at: Mapped[dt.datetime | None]
    link_used_at: Mapped[dt.datetime | None]
    broken_at: Mapped[dt.datetime | None]
    broken_reason: Mapped[str | None] = mapped_column(String(500))
    reinstated_at: Mapped[dt.datetime | None]
    reinstated_by: Mapped[uuid.UUID | None]
    settled_at: Mapped[dt.datetime | None]
    cancelled_at: Mapped[dt.datetime | None]
    cancel_reason: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = created_at_column()
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(f"status IN {_in(AgreementStatus)}", name="status"),
        CheckConstraint(f"approval_level IN {_in(ApprovalLevel)}", name="approval_level"),
        CheckConstraint(f"accepted_via IS NULL OR accepted_via IN {_in(AcceptanceChannel)}",
                        name="accepted_via"),
        CheckConstraint("accepted_via <> 'agent' OR call_recording_ref IS NOT NULL",
                        name="agent_acceptance_recorded"),
        CheckConstraint("installment_count >= 1", name="installment_count_positive"),
        CheckConstraint("total > 0", name="total_positive"),
        Index("ix_agreement_debtor", "tenant_id", "debtor_id"),
        Index("ix_agreement_status", "tenant_id", "status"),
    )


class AgreementDebt(TenantOwned, Base):
    """A debt in an agreement: its balance by bucket at the reference date, and the
    discount granted on each bucket (positive amounts)."""

    __tablename__ = "agreement_debt"

    agreement_id: Mapped[uuid.UUID]
    debt_id: Mapped[uuid.UUID]
    principal: Mapped[Decimal] = mapped_column(MONEY)
    correction: Mapped[Decimal] = mapped_column(MONEY)
    interest: Mapped[Decimal] = mapped_column(MONEY)
    fine: Mapped[Decimal] = mapped_column(MONEY)
    fees: Mapped[Decimal] = mapped_column(MONEY)
    discount_principal: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    discount_correction: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    discount_interest: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    discount_fine: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    discount_fees: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "agreement_id"], AGREEMENT_KEY),
        UniqueConstraint("tenant_id", "agreement_id", "debt_id"),
        Index("ix_agreement_debt_debt", "tenant_id", "debt_id"),
    )


class Installment(TenantOwned, Base):
    """One payment of an agreement. `nosso_numero` (boleto) and `txid` (PIX) are the
    slip's identifiers, written when the slip is issued."""

    __tablename__ = "installment"

    agreement_id: Mapped[uuid.UUID]
    number: Mapped[int] = mapped_column(Integer)  # 1 is the down payment
    due_date: Mapped[dt.date] = mapped_column(Date)
    amount: Mapped[Decimal] = mapped_column(MONEY)
    status: Mapped[str] = mapped_column(String(16), default=InstallmentStatus.OPEN)
    paid_at: Mapped[dt.datetime | None]
    paid_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    nosso_numero: Mapped[str | None] = mapped_column(String(20))
    txid: Mapped[str | None] = mapped_column(String(35))
    created_at: Mapped[dt.datetime] = created_at_column()
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "agreement_id"], AGREEMENT_KEY),
        UniqueConstraint("tenant_id", "agreement_id", "number"),
        CheckConstraint(f"status IN {_in(InstallmentStatus)}", name="status"),
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("number >= 1", name="number_positive"),
        Index("ix_installment_due", "tenant_id", "status", "due_date"),
        Index("ix_installment_nosso_numero", "nosso_numero"),
        Index("ix_installment_txid", "txid"),
    )


class ApprovalRequest(TenantOwned, Base):
    """An agreement beyond its proposer's limit, waiting for a supervisor or the creditor."""

    __tablename__ = "approval_request"

    agreement_id: Mapped[uuid.UUID]
    level: Mapped[str] = mapped_column(String(16))  # supervisor or creditor
    status: Mapped[str] = mapped_column(String(16), default=ApprovalStatus.PENDING)
    why: Mapped[str] = mapped_column(String(500))  # what exceeds which limit
    reason: Mapped[str | None] = mapped_column(String(1000))  # the decider's reason
    requested_by: Mapped[uuid.UUID | None]
    decided_by: Mapped[uuid.UUID | None]
    decided_at: Mapped[dt.datetime | None]
    # The answer reaches the proposer (a notice on the agent desktop until seen) and the
    # debtor (what was sent, in Portuguese: "link de aceite enviado por e-mail e SMS").
    answer_seen_at: Mapped[dt.datetime | None]
    debtor_notice: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "agreement_id"], AGREEMENT_KEY),
        CheckConstraint(f"status IN {_in(ApprovalStatus)}", name="status"),
        CheckConstraint("level IN ('supervisor', 'creditor')", name="level"),
        CheckConstraint("status = 'pending' OR decided_at IS NOT NULL", name="decided"),
        Index("ix_approval_request_queue", "tenant_id", "level", "status"),
    )


class IndexValue(Base):
    """A published monthly rate, in percent: IPCA (IBGE) and Selic accumulated in the
    month (Banco Central). Agency-wide; loaded from legal/data/indices.csv and
    `regua indexes load`."""

    __tablename__ = "index_value"

    index_name: Mapped[str] = mapped_column(String(16), primary_key=True)
    month: Mapped[dt.date] = mapped_column(Date, primary_key=True)  # the month's first day
    value: Mapped[Decimal] = mapped_column(Numeric(10, 4))
    source: Mapped[str] = mapped_column(String(200))
    loaded_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("index_name IN ('IPCA', 'SELIC')", name="index_name"),
        CheckConstraint("extract(day FROM month) = 1", name="first_of_month"),
    )
