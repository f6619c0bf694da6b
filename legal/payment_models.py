"""Tables of slips, slip payments, the agency's fee contract and debtor self-service codes.

The agreement, its debts and installments live in `legal.models`; an installment's
`nosso_numero` and `txid` are written when its slip is issued (`legal.slips`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, Index, Integer, Numeric, String
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, created_at_column
from core.models.collection import MONEY, _in

PERCENT = Numeric(7, 4)


class SlipKind(StrEnum):
    PIX = "pix"
    BOLETO = "boleto"


class SlipOutcome(StrEnum):
    SETTLED = "settled"  # the installment is paid
    PARTIAL = "partial"  # less than the installment: held for a person to decide
    OVERPAID = "overpaid"  # the installment is paid; the excess awaits a person


SLIP_OUTCOME_LABELS = {SlipOutcome.SETTLED: "quitou a parcela",
                       SlipOutcome.PARTIAL: "pagamento parcial (não quitou)",
                       SlipOutcome.OVERPAID: "pagamento a maior (excedente a devolver)"}


class Slip(TenantOwned, Base):
    """The issued slip of one installment: its PIX code, its boleto and the PDF in S3."""

    __tablename__ = "slip"

    agreement_id: Mapped[uuid.UUID]
    installment_id: Mapped[uuid.UUID]
    pix_payload: Mapped[str] = mapped_column(String(512))
    boleto_barcode: Mapped[str] = mapped_column(String(44))
    boleto_line: Mapped[str] = mapped_column(String(47))
    pdf_key: Mapped[str | None] = mapped_column(String(500))
    sent_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (Index("uq_slip_installment", "tenant_id", "installment_id", unique=True),)


class SlipPayment(TenantOwned, Base):
    """One notification of money received for an installment (a PIX or a bank return
    line). Unique by its external id, so a repeated notification or file changes nothing."""

    __tablename__ = "slip_payment"

    kind: Mapped[str] = mapped_column(String(8))
    external_id: Mapped[str] = mapped_column(String(100))  # endToEndId; nosso número+date
    agreement_id: Mapped[uuid.UUID]
    installment_id: Mapped[uuid.UUID]
    expected: Mapped[Decimal] = mapped_column(MONEY)
    amount_paid: Mapped[Decimal] = mapped_column(MONEY)
    bank_fee: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))
    paid_on: Mapped[dt.date] = mapped_column(Date)
    outcome: Mapped[str] = mapped_column(String(16))
    source_file: Mapped[str | None] = mapped_column(String(255))
    raw: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(f"kind IN {_in(SlipKind)}", name="kind"),
        CheckConstraint(f"outcome IN {_in(SlipOutcome)}", name="outcome"),
        Index("uq_slip_payment_external", "tenant_id", "kind", "external_id", unique=True),
    )


class FeeContract(TenantOwned, Base):
    """The agency's contract with one creditor: what it charges and on what."""

    __tablename__ = "fee_contract"

    debtor_fee_pct: Mapped[Decimal | None] = mapped_column(PERCENT)  # None: not charged
    direct_payments_earn: Mapped[bool] = mapped_column(Boolean, default=False)
    updated_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (Index("uq_fee_contract_tenant", "tenant_id", unique=True),)


class FeeBand(TenantOwned, Base):
    """Commission on what is recovered from one bucket of debts that were `min_days` to
    `max_days` (open-ended when None) overdue when placed."""

    __tablename__ = "fee_band"

    min_days: Mapped[int] = mapped_column(Integer)
    max_days: Mapped[int | None] = mapped_column(Integer)
    bucket: Mapped[str] = mapped_column(String(16))
    commission_pct: Mapped[Decimal] = mapped_column(PERCENT)

    __table_args__ = (
        CheckConstraint("min_days >= 0", name="min_days"),
        CheckConstraint("max_days IS NULL OR max_days >= min_days", name="max_days"),
        CheckConstraint("commission_pct >= 0 AND commission_pct <= 100", name="pct"),
        Index("uq_fee_band", "tenant_id", "min_days", "bucket", unique=True),
    )


class AccessCode(TenantOwned, Base):
    """A one-time code sent to a debtor's contact point for the self-service page."""

    __tablename__ = "access_code"

    challenge: Mapped[str] = mapped_column(String(64))  # the opaque id the page carries
    debtor_id: Mapped[uuid.UUID]
    contact_point_id: Mapped[uuid.UUID]
    code_hash: Mapped[str] = mapped_column(String(64))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    expires_at: Mapped[dt.datetime]
    used_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (Index("uq_access_code_challenge", "tenant_id", "challenge", unique=True),)
