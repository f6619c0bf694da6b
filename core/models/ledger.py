"""Money on a debt: ledger entries by bucket and kind, and payments.

A debt's balance is the sum of its entries; `debt.current_balance` is kept equal to it
by the statements that write entries. Payments are rows of their own (amount, date,
who received it) because intake (a creditor's settlement file) and agreements both
write them, and fees are computed from them.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, created_at_column
from core.models.collection import MONEY, _in


class Bucket(StrEnum):
    PRINCIPAL = "principal"
    CORRECTION = "correction"  # monetary correction by the contract's index
    INTEREST = "interest"
    FINE = "fine"  # late fee (multa)
    FEES = "fees"  # collection fees charged to the debtor


BUCKET_LABELS = {
    Bucket.PRINCIPAL: "principal", Bucket.CORRECTION: "correção monetária",
    Bucket.INTEREST: "juros", Bucket.FINE: "multa", Bucket.FEES: "honorários",
}


class EntryKind(StrEnum):
    PLACEMENT = "placement"  # the amount the creditor placed
    CREDITOR_UPDATE = "creditor_update"  # a re-import changed the amount or balance
    PAYMENT = "payment"
    DISCOUNT = "discount"
    WRITE_OFF = "write_off"  # closed without payment to the agency (baixa)
    ADJUSTMENT = "adjustment"  # a correction by agency staff, with a note
    ACCRUAL = "accrual"  # correction, interest, fine and fees updated to an agreement's date


ENTRY_KIND_LABELS = {
    EntryKind.PLACEMENT: "colocação", EntryKind.CREDITOR_UPDATE: "atualização do credor",
    EntryKind.PAYMENT: "pagamento", EntryKind.DISCOUNT: "desconto",
    EntryKind.WRITE_OFF: "baixa", EntryKind.ADJUSTMENT: "ajuste",
    EntryKind.ACCRUAL: "atualização do saldo",
}


class LedgerEntry(TenantOwned, Base):
    __tablename__ = "ledger_entry"

    debt_id: Mapped[uuid.UUID]  # no foreign key: debts are never deleted (DEBTOR_REFERENCES)
    posted_on: Mapped[dt.date] = mapped_column(Date)
    bucket: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    amount: Mapped[Decimal] = mapped_column(MONEY)  # signed: a payment is negative
    # What wrote it: 'portfolio' (source_id: the import), 'payment', 'user', 'agreement'.
    source: Mapped[str] = mapped_column(String(16))
    source_id: Mapped[uuid.UUID | None]
    note: Mapped[str | None] = mapped_column(String(500))
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(f"bucket IN {_in(Bucket)}", name="bucket"),
        CheckConstraint(f"kind IN {_in(EntryKind)}", name="kind"),
        CheckConstraint("amount <> 0", name="amount_nonzero"),
        Index("ix_ledger_entry_debt", "tenant_id", "debt_id"),
    )


class PaymentSource(StrEnum):
    AGENCY = "agency"  # paid through the agency (slip, PIX)
    CREDITOR = "creditor"  # paid to the creditor directly, as its settlement file says


PAYMENT_SOURCE_LABELS = {PaymentSource.AGENCY: "pago à assessoria",
                         PaymentSource.CREDITOR: "pago ao credor"}


class Payment(TenantOwned, Base):
    __tablename__ = "payment"

    debt_id: Mapped[uuid.UUID]
    debtor_id: Mapped[uuid.UUID]
    amount: Mapped[Decimal] = mapped_column(MONEY)
    paid_on: Mapped[dt.date | None] = mapped_column(Date)
    source: Mapped[str] = mapped_column(String(16))
    reference: Mapped[str | None] = mapped_column(String(100))  # slip number, txid, file
    portfolio_id: Mapped[uuid.UUID | None]  # the settlement file that reported it
    recorded_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(f"source IN {_in(PaymentSource)}", name="source"),
        CheckConstraint("amount > 0", name="amount_positive"),
        Index("ix_payment_debt", "tenant_id", "debt_id"),
    )
