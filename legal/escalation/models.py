"""Escalations: one row per debt sent down a path, its state, and every change of it.

`escalation_rule` is a tenant's rule set, tried in priority order; the first rule a
debt satisfies decides its path. `escalation` is the debt's journey down that path;
`escalation_event` is its history (who or which rule moved it, from which state to
which), the record a creditor or a court can read back.
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
    String,
    Text,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, created_at_column
from core.models.collection import MONEY, _in

ESCALATION_KEY = ["escalation.tenant_id", "escalation.id"]
DEBT_KEY = ["debt.tenant_id", "debt.id"]


class EscalationPath(StrEnum):
    BUREAU = "bureau"  # credit-bureau listing ("negativação") after a written notice
    PROTEST = "protest"  # protest at the notary, through the CRA electronic layout
    JUDICIAL = "judicial"  # handed to the legal team with a dossier


PATH_LABELS = {
    EscalationPath.BUREAU: "negativação", EscalationPath.PROTEST: "protesto",
    EscalationPath.JUDICIAL: "cobrança judicial",
}


class EscalationState(StrEnum):
    # bureau
    NOTICE_PENDING = "notice_pending"  # decided; the notice goes in the next print file
    NOTICE_SENT = "notice_sent"  # notice sent; waiting out the period
    LISTED = "listed"  # listing accepted by the bureau
    REMOVAL_PENDING = "removal_pending"  # paid or agreed: removal due within 5 business days
    REMOVED = "removed"
    EXPIRED = "expired"  # removed at the 5-year limit
    # protest
    QUEUED = "queued"  # waiting for the next remessa
    SENT = "sent"  # in a remessa sent to the CRA
    REGISTERED = "registered"  # confirmed by the notary
    PROTESTED = "protested"
    PAID_AT_NOTARY = "paid_at_notary"
    WITHDRAWN = "withdrawn"  # desistência before protest
    RETURNED = "returned"  # refused by the notary, with the reason
    CANCELLATION_SENT = "cancellation_sent"  # authorization to cancel issued
    # judicial
    HANDED_OFF = "handed_off"  # a case in the legal queue holds it
    # any path
    CANCELLED = "cancelled"  # stopped before it took effect (paid, agreement, released)
    CLOSED = "closed"


STATE_LABELS = {
    EscalationState.NOTICE_PENDING: "notificação a enviar",
    EscalationState.NOTICE_SENT: "notificado, em prazo",
    EscalationState.LISTED: "negativado",
    EscalationState.REMOVAL_PENDING: "baixa pendente",
    EscalationState.REMOVED: "baixado",
    EscalationState.EXPIRED: "baixado (5 anos)",
    EscalationState.QUEUED: "aguardando remessa",
    EscalationState.SENT: "enviado ao cartório",
    EscalationState.REGISTERED: "apontado",
    EscalationState.PROTESTED: "protestado",
    EscalationState.PAID_AT_NOTARY: "pago em cartório",
    EscalationState.WITHDRAWN: "desistência",
    EscalationState.RETURNED: "devolvido",
    EscalationState.CANCELLATION_SENT: "cancelamento autorizado",
    EscalationState.HANDED_OFF: "com o jurídico",
    EscalationState.CANCELLED: "cancelado",
    EscalationState.CLOSED: "encerrado",
}

# States in which the escalation has no further effect; a debt may escalate again.
FINISHED = (EscalationState.REMOVED, EscalationState.EXPIRED, EscalationState.WITHDRAWN,
            EscalationState.RETURNED, EscalationState.PAID_AT_NOTARY,
            EscalationState.CANCELLED, EscalationState.CLOSED)


class EscalationRule(TenantOwned, Base):
    """A tenant's rule: which debts are eligible and which path they take. Bounds left
    empty do not apply. Stop conditions (an active agreement, a hold, prescription, a
    debt not open) always apply, whatever the rule says."""

    __tablename__ = "escalation_rule"

    name: Mapped[str] = mapped_column(String(100))
    priority: Mapped[int] = mapped_column(Integer)  # lower is tried first
    path: Mapped[str] = mapped_column(String(16))
    min_days_overdue: Mapped[int] = mapped_column(Integer)
    min_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    max_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    min_score: Mapped[int | None] = mapped_column(Integer)
    max_score: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(f"path IN {_in(EscalationPath)}", name="path"),
        CheckConstraint("min_days_overdue >= 0", name="min_days_nonnegative"),
        CheckConstraint("min_score IS NULL OR min_score BETWEEN 0 AND 1000", name="min_score"),
        CheckConstraint("max_score IS NULL OR max_score BETWEEN 0 AND 1000", name="max_score"),
        Index("uq_escalation_rule_name", "tenant_id", "name", unique=True),
    )


class Escalation(TenantOwned, Base):
    """One debt down one path. At most one unfinished escalation per debt."""

    __tablename__ = "escalation"

    debt_id: Mapped[uuid.UUID]
    debtor_id: Mapped[uuid.UUID]
    path: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(24))
    rule_id: Mapped[uuid.UUID | None]  # None: escalated by a person
    rule_name: Mapped[str] = mapped_column(String(100))  # as it was when it decided
    amount: Mapped[Decimal] = mapped_column(MONEY)  # the balance when decided
    decided_at: Mapped[dt.datetime]
    decided_by: Mapped[uuid.UUID | None]
    state_changed_at: Mapped[dt.datetime]
    # The date the current state's deadline falls: the notice period's end, the removal
    # or cancellation deadline, the 5-year limit of a listing.
    deadline_on: Mapped[dt.date | None] = mapped_column(Date)
    held_since: Mapped[dt.datetime | None]  # a supervisor or the legal team held it
    held_by: Mapped[uuid.UUID | None]
    held_reason: Mapped[str | None] = mapped_column(String(500))
    closed_at: Mapped[dt.datetime | None]
    details: Mapped[dict[str, Any]] = mapped_column(JSONB, default=dict)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "debt_id"], DEBT_KEY),
        CheckConstraint(f"path IN {_in(EscalationPath)}", name="path"),
        CheckConstraint(f"state IN {_in(EscalationState)}", name="state"),
        Index("uq_escalation_debt_open", "tenant_id", "debt_id", unique=True,
              postgresql_where=text("closed_at IS NULL")),
        Index("ix_escalation_state", "tenant_id", "path", "state"),
        Index("ix_escalation_debtor", "tenant_id", "debtor_id"),
    )


class EscalationEvent(TenantOwned, Base):
    """A change of an escalation's state, or a hold or release of it."""

    __tablename__ = "escalation_event"

    escalation_id: Mapped[uuid.UUID]
    at: Mapped[dt.datetime]
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str] = mapped_column(String(24))
    actor_id: Mapped[uuid.UUID | None]  # None: a rule or a job
    actor_email: Mapped[str | None] = mapped_column(String(320))
    rule_name: Mapped[str | None] = mapped_column(String(100))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "escalation_id"], ESCALATION_KEY),
        Index("ix_escalation_event_escalation", "tenant_id", "escalation_id", "at"),
    )
