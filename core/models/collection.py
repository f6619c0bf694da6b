"""The shared collection model: portfolios (imports), debtors, their contact points, debts.

All tenant-owned: `(tenant_id, id)` is the primary key and every foreign key to another
tenant-owned table carries `tenant_id`, so a row can never point across tenants and the
schema can be distributed by tenant.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    Date,
    Index,
    Integer,
    Numeric,
    String,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, created_at_column
from core.import_mode import ImportMode  # the models' modes, kept light for the readers
from core.zones import DEFAULT_ZONE

MONEY = Numeric(14, 2)


class PortfolioStatus(StrEnum):
    UPLOADING = "uploading"  # waiting for the browser to put the file in S3
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the file as a whole could not be imported (reason in `error`)
    DUPLICATE = "duplicate"  # the same file was imported before (see duplicate_of)


class DebtStatus(StrEnum):
    """A debt's lifecycle only. Reasons to stop collecting an open debt are holds
    (`core.models.holds`), and prescription is computed from the due date
    (`core.collection.workable`): neither is a status."""

    OPEN = "open"
    IN_AGREEMENT = "in_agreement"
    PAID = "paid"
    SETTLED_BY_CREDITOR = "settled_by_creditor"
    WITHDRAWN = "withdrawn"
    RECALLED = "recalled"
    RETURNED = "returned"


DEBT_STATUS_LABELS = {
    DebtStatus.OPEN: "em aberto", DebtStatus.IN_AGREEMENT: "em acordo", DebtStatus.PAID: "pago",
    DebtStatus.SETTLED_BY_CREDITOR: "baixado pelo credor",
    DebtStatus.WITHDRAWN: "retirado pelo credor", DebtStatus.RECALLED: "recolhido pelo credor",
    DebtStatus.RETURNED: "devolvido ao credor",
}

# Statuses in which the debt is still placed with the agency (a creditor may close it).
PLACED = (DebtStatus.OPEN, DebtStatus.IN_AGREEMENT)


class ContactKind(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    ADDRESS = "address"


class ContactQuality(StrEnum):
    """How good a contact point is, from the outcomes of the attempts made on it."""

    UNVERIFIED = "unverified"  # never reached yet
    GOOD = "good"  # the debtor answered, read or replied
    WRONG_PARTY = "wrong_party"  # someone else answered: not the debtor's
    INVALID = "invalid"  # the number does not exist, the address is unknown
    BOUNCED = "bounced"  # the e-mail or message could not be delivered


CONTACT_QUALITY_LABELS = {
    ContactQuality.UNVERIFIED: "não verificado", ContactQuality.GOOD: "bom",
    ContactQuality.WRONG_PARTY: "não é do devedor", ContactQuality.INVALID: "inválido",
    ContactQuality.BOUNCED: "devolvido",
}


class Channel(StrEnum):
    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    LETTER = "letter"
    CALL = "call"


CHANNEL_LABELS = {
    Channel.EMAIL: "e-mail", Channel.SMS: "SMS", Channel.WHATSAPP: "WhatsApp",
    Channel.LETTER: "carta", Channel.CALL: "ligação",
}

# One phone serves calls, SMS and WhatsApp; an opt-out is per channel.
CHANNELS_BY_KIND = {
    ContactKind.PHONE: (Channel.CALL, Channel.SMS, Channel.WHATSAPP),
    ContactKind.EMAIL: (Channel.EMAIL,),
    ContactKind.ADDRESS: (Channel.LETTER,),
}


def _in(values: type[StrEnum]) -> str:
    return "(" + ", ".join(f"'{v.value}'" for v in values) + ")"


class ColumnLayout(TenantOwned, Base):
    """A tenant's saved mapping from its spreadsheet headers to Régua's fields."""

    __tablename__ = "column_layout"

    name: Mapped[str] = mapped_column(String(100))
    mode: Mapped[str] = mapped_column(String(16), default=ImportMode.INCREMENTAL)
    mapping: Mapped[dict[str, Any]] = mapped_column(JSONB)
    sheet: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (UniqueConstraint("tenant_id", "name"),)


class Portfolio(TenantOwned, Base):
    """One uploaded file and its import: what came in, what it changed, where it stands."""

    __tablename__ = "portfolio"

    file_name: Mapped[str] = mapped_column(String(255))
    file_key: Mapped[str] = mapped_column(String(500))
    file_sha256: Mapped[str | None] = mapped_column(String(64))
    file_size: Mapped[int | None]
    layout_name: Mapped[str | None] = mapped_column(String(100))
    mapping: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    sheet: Mapped[str | None] = mapped_column(String(100))
    mode: Mapped[str] = mapped_column(String(16), default=ImportMode.INCREMENTAL)
    status: Mapped[str] = mapped_column(String(16), default=PortfolioStatus.UPLOADING)
    phase: Mapped[str | None] = mapped_column(String(32))
    error: Mapped[str | None]
    duplicate_of: Mapped[uuid.UUID | None]
    placement_days: Mapped[int] = mapped_column(Integer, default=180)
    placed_until: Mapped[dt.date | None] = mapped_column(Date)
    returned_at: Mapped[dt.datetime | None]

    bytes_total: Mapped[int | None]
    bytes_read: Mapped[int] = mapped_column(default=0)
    rows_total: Mapped[int] = mapped_column(default=0)
    rows_accepted: Mapped[int] = mapped_column(default=0)
    rows_rejected: Mapped[int] = mapped_column(default=0)
    rows_with_warnings: Mapped[int] = mapped_column(default=0)
    debtors_created: Mapped[int] = mapped_column(default=0)
    debtors_updated: Mapped[int] = mapped_column(default=0)
    debts_created: Mapped[int] = mapped_column(default=0)
    debts_updated: Mapped[int] = mapped_column(default=0)
    debts_unchanged: Mapped[int] = mapped_column(default=0)
    debts_closed: Mapped[int] = mapped_column(default=0)
    amount_placed: Mapped[Decimal] = mapped_column(MONEY, default=Decimal("0"))

    error_report_key: Mapped[str | None] = mapped_column(String(500))
    warning_report_key: Mapped[str | None] = mapped_column(String(500))
    return_report_key: Mapped[str | None] = mapped_column(String(500))

    uploaded_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = created_at_column()
    started_at: Mapped[dt.datetime | None]
    finished_at: Mapped[dt.datetime | None]

    __table_args__ = (
        CheckConstraint(f"mode IN {_in(ImportMode)}", name="mode"),
        CheckConstraint(f"status IN {_in(PortfolioStatus)}", name="status"),
        # One successful import per file content and tenant; repeats are DUPLICATE rows.
        Index("uq_portfolio_sha256", "tenant_id", "file_sha256", unique=True,
              postgresql_where="status IN ('queued', 'running', 'done')"),
        Index("ix_portfolio_created", "tenant_id", "created_at"),
    )


# DEBTOR_REFERENCES: `debt.debtor_id` and `contact_point.debtor_id` have no foreign key.
# The per-row check locks the debtor row for every inserted debt and contact point, more
# than half of a large import's time (migration 0003 has the figures). Instead debtors
# are never deleted and their keys never change (the application role lacks those
# privileges), and imports take debtor ids from rows they resolved in the same
# transaction.


class Debtor(TenantOwned, Base):
    __tablename__ = "debtor"

    document: Mapped[str] = mapped_column(String(14))
    document_kind: Mapped[str] = mapped_column(String(4))
    name: Mapped[str] = mapped_column(String(200))
    birth_date: Mapped[dt.date | None] = mapped_column(Date)
    state: Mapped[str | None] = mapped_column(String(2))
    # From the state, else the first phone's DDD (core.zones); contact windows use it.
    timezone: Mapped[str] = mapped_column(String(40), server_default=DEFAULT_ZONE)
    deceased_on: Mapped[dt.date | None] = mapped_column(Date)
    first_portfolio_id: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = created_at_column()
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        UniqueConstraint("tenant_id", "document"),
        CheckConstraint("document_kind IN ('cpf', 'cnpj')", name="document_kind"),
    )


class ContactPoint(TenantOwned, Base):
    """A phone, e-mail or address of a debtor; channels and the dialer grade its quality."""

    __tablename__ = "contact_point"

    debtor_id: Mapped[uuid.UUID]  # see DEBTOR_REFERENCES
    kind: Mapped[str] = mapped_column(String(8))
    value: Mapped[str] = mapped_column(String(500))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    source: Mapped[str] = mapped_column(String(64))
    quality: Mapped[str] = mapped_column(String(16), server_default=ContactQuality.UNVERIFIED)
    last_outcome: Mapped[str | None] = mapped_column(String(24))
    last_outcome_at: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = created_at_column()
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        UniqueConstraint("tenant_id", "debtor_id", "kind", "value"),
        Index("ix_contact_point_value", "tenant_id", "value"),  # the debtor search
        CheckConstraint(f"kind IN {_in(ContactKind)}", name="kind"),
        CheckConstraint(f"quality IN {_in(ContactQuality)}", name="quality"),
    )


class ContactOptOut(TenantOwned, Base):
    """The debtor asked not to be contacted on one channel of one contact point.

    Honoured from `opted_out_at` until revoked; an opt-out from SMS leaves calls alone."""

    __tablename__ = "contact_opt_out"

    contact_point_id: Mapped[uuid.UUID]
    channel: Mapped[str] = mapped_column(String(16))
    opted_out_at: Mapped[dt.datetime] = created_at_column()
    source: Mapped[str] = mapped_column(String(32))  # debtor, creditor, agent, provider
    note: Mapped[str | None] = mapped_column(String(500))
    set_by: Mapped[uuid.UUID | None]
    revoked_at: Mapped[dt.datetime | None]
    revoked_by: Mapped[uuid.UUID | None]

    __table_args__ = (
        CheckConstraint(f"channel IN {_in(Channel)}", name="channel"),
        Index("uq_contact_opt_out_active", "tenant_id", "contact_point_id", "channel",
              unique=True, postgresql_where="revoked_at IS NULL"),
    )


class Debt(TenantOwned, Base):
    """One installment of one contract, placed with the agency by a portfolio."""

    __tablename__ = "debt"

    debtor_id: Mapped[uuid.UUID]  # see DEBTOR_REFERENCES
    # The import that placed it. No foreign key: portfolios are never deleted, and the
    # per-row check would cost bulk imports about a fifth of their time.
    portfolio_id: Mapped[uuid.UUID]
    last_portfolio_id: Mapped[uuid.UUID]  # the import that last touched it
    contract: Mapped[str] = mapped_column(String(64))
    installment: Mapped[int]
    original_amount: Mapped[Decimal] = mapped_column(MONEY)
    # The sum of the debt's ledger entries, kept beside them by every statement that
    # writes one (core.collection.ledger), so lists and imports need no aggregate.
    current_balance: Mapped[Decimal] = mapped_column(MONEY)
    due_date: Mapped[dt.date] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(24), server_default=DebtStatus.OPEN)
    status_reason: Mapped[str | None]
    closed_at: Mapped[dt.datetime | None]
    closed_by_portfolio_id: Mapped[uuid.UUID | None]
    placed_until: Mapped[dt.date | None] = mapped_column(Date)
    extra: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = created_at_column()
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        UniqueConstraint("tenant_id", "contract", "installment"),
        CheckConstraint(f"status IN {_in(DebtStatus)}", name="status"),
        CheckConstraint("original_amount > 0", name="original_amount_positive"),
        CheckConstraint("installment > 0", name="installment_positive"),
        Index("ix_debt_debtor", "tenant_id", "debtor_id"),
        # The cadence picks open debts by due date (migration 0011).
        Index("ix_debt_open_due", "tenant_id", "due_date", postgresql_where="status = 'open'"),
    )
