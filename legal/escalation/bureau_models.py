"""The credit-bureau side of escalation: each tenant's policy (notice periods, removal
deadline, what an agreement does to a listing) and the remessas sent to the bureau.

`bureau_remessa` keeps each file as it was sent (its listings as JSON, so a retry sends
the very same file under the same number) and, once answered, the bureau's return.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Boolean, CheckConstraint, Date, Integer, String, UniqueConstraint, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, created_at_column


class EscalationPolicy(TenantOwned, Base):
    """One per tenant; a tenant without a row has the defaults (DOMAIN.md)."""

    __tablename__ = "escalation_policy"

    notice_days: Mapped[int] = mapped_column(Integer, default=10)
    notice_days_sp: Mapped[int] = mapped_column(Integer, default=20)  # debtors in SP
    removal_business_days: Mapped[int] = mapped_column(Integer, default=5)  # STJ Súmula 548
    # The tenant's agreements take a listing down on acceptance (not only on payment).
    remove_on_agreement: Mapped[bool] = mapped_column(Boolean, default=True)
    notice_email: Mapped[bool] = mapped_column(Boolean, default=True)
    notice_sms: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        UniqueConstraint("tenant_id"),
        CheckConstraint("notice_days BETWEEN 10 AND 90", name="notice_days"),
        CheckConstraint("notice_days_sp BETWEEN 20 AND 90", name="notice_days_sp"),
        CheckConstraint("removal_business_days BETWEEN 1 AND 5", name="removal_days"),
    )


class BureauRemessa(TenantOwned, Base):
    """One file sent to the bureau: inclusions or exclusions, numbered per tenant."""

    __tablename__ = "bureau_remessa"

    number: Mapped[int] = mapped_column(Integer)
    operation: Mapped[str] = mapped_column(String(8))  # include, remove
    adapter: Mapped[str] = mapped_column(String(32))
    day: Mapped[dt.date] = mapped_column(Date)
    escalation_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    listings: Mapped[list[dict[str, Any]]] = mapped_column(JSONB)
    status: Mapped[str] = mapped_column(String(12), default="pending")  # pending, answered
    accepted: Mapped[int] = mapped_column(Integer, default=0)
    rejected: Mapped[int] = mapped_column(Integer, default=0)
    file_key: Mapped[str | None] = mapped_column(String(500))
    answer_key: Mapped[str | None] = mapped_column(String(500))
    error: Mapped[str | None] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = created_at_column()
    answered_at: Mapped[dt.datetime | None]

    __table_args__ = (
        UniqueConstraint("tenant_id", "number"),
        CheckConstraint("operation IN ('include', 'remove')", name="operation"),
        CheckConstraint("status IN ('pending', 'answered')", name="status"),
    )
