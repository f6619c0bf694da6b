"""What happened to a debtor: holds on collection, contact attempts, staff notes, and
events other packages record on the file (an agreement proposed, broken, settled)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, created_at_column
from core.models.collection import MONEY, Channel, _in


class HoldKind(StrEnum):
    DISPUTE = "dispute"  # the debtor contests the charge (CDC; Lei 14.181/2021)
    COURT_PLAN = "court_plan"  # a court repayment plan for over-indebtedness
    DECEASED = "deceased"
    LEGAL = "legal"  # the legal team asked to stop
    CREDITOR = "creditor"  # the creditor asked to pause
    PROMISE = "promise"  # the debtor promised to pay by a date: until then, and a margin


HOLD_LABELS = {
    HoldKind.DISPUTE: "contestação", HoldKind.COURT_PLAN: "plano judicial (superendividamento)",
    HoldKind.DECEASED: "devedor falecido", HoldKind.LEGAL: "bloqueio jurídico",
    HoldKind.CREDITOR: "pausa pedida pelo credor", HoldKind.PROMISE: "promessa de pagamento",
}


class Hold(TenantOwned, Base):
    """A reason to stop collecting, from `starts_at` until `ends_at` (open: still on).

    On one debt, or on every debt of the debtor when `debt_id` is empty. When it ends the
    debt is worked again where the calendar is then: nothing is replayed."""

    __tablename__ = "hold"

    debtor_id: Mapped[uuid.UUID]
    debt_id: Mapped[uuid.UUID | None]
    kind: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(String(1000))
    starts_at: Mapped[dt.datetime] = created_at_column()
    ends_at: Mapped[dt.datetime | None]
    set_by: Mapped[uuid.UUID | None]
    set_by_email: Mapped[str] = mapped_column(String(254))
    ended_by_email: Mapped[str | None] = mapped_column(String(254))
    end_reason: Mapped[str | None] = mapped_column(String(1000))
    created_at: Mapped[dt.datetime] = created_at_column()
    # A promise's terms, and when payments reached the amount by the day (it was kept).
    promised_amount: Mapped[Decimal | None] = mapped_column(MONEY)
    promised_on: Mapped[dt.date | None]
    kept_at: Mapped[dt.datetime | None]

    __table_args__ = (
        CheckConstraint(f"kind IN {_in(HoldKind)}", name="kind"),
        CheckConstraint("ends_at IS NULL OR ends_at >= starts_at", name="span"),
        Index("ix_hold_debtor", "tenant_id", "debtor_id"),
    )


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"


class Outcome(StrEnum):
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    REPLIED = "replied"
    FAILED = "failed"
    BOUNCED = "bounced"
    ANSWERED = "answered"
    NO_ANSWER = "no_answer"
    BUSY = "busy"
    VOICEMAIL = "voicemail"
    WRONG_PARTY = "wrong_party"
    INVALID = "invalid"
    OPTED_OUT = "opted_out"
    BLOCKED = "blocked"  # the compliance guard refused the attempt


OUTCOME_LABELS = {
    Outcome.SENT: "enviado", Outcome.DELIVERED: "entregue", Outcome.READ: "lido",
    Outcome.REPLIED: "respondido", Outcome.FAILED: "falhou", Outcome.BOUNCED: "devolvido",
    Outcome.ANSWERED: "atendido", Outcome.NO_ANSWER: "não atendido", Outcome.BUSY: "ocupado",
    Outcome.VOICEMAIL: "caixa postal", Outcome.WRONG_PARTY: "não é o devedor",
    Outcome.INVALID: "contato inválido", Outcome.OPTED_OUT: "pediu para não ser contatado",
    Outcome.BLOCKED: "bloqueado pelas regras de contato",
}


class CauseKind(StrEnum):
    CADENCE_STEP = "cadence_step"
    CAMPAIGN = "campaign"
    AGENT = "agent"  # an agent's own action (manual call, message)
    DEBTOR = "debtor"  # the debtor reached out
    SYSTEM = "system"


class Interaction(TenantOwned, Base):
    """One contact attempt on any channel, made by a user or a process."""

    __tablename__ = "interaction"

    debtor_id: Mapped[uuid.UUID]
    debt_id: Mapped[uuid.UUID | None]
    channel: Mapped[str] = mapped_column(String(16))
    direction: Mapped[str] = mapped_column(String(8), default=Direction.OUTBOUND)
    contact_point_id: Mapped[uuid.UUID | None]
    outcome: Mapped[str] = mapped_column(String(16))
    started_at: Mapped[dt.datetime] = created_at_column()
    answered_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    user_id: Mapped[uuid.UUID | None]
    process: Mapped[str | None] = mapped_column(String(32))  # 'cadence', 'dialer', ...
    cause_kind: Mapped[str] = mapped_column(String(16))
    cause_id: Mapped[uuid.UUID | None]
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(f"channel IN {_in(Channel)}", name="channel"),
        CheckConstraint(f"direction IN {_in(Direction)}", name="direction"),
        CheckConstraint(f"outcome IN {_in(Outcome)}", name="outcome"),
        CheckConstraint(f"cause_kind IN {_in(CauseKind)}", name="cause_kind"),
        CheckConstraint("user_id IS NOT NULL OR process IS NOT NULL", name="made_by"),
        Index("ix_interaction_debtor", "tenant_id", "debtor_id", text("started_at DESC")),
    )


class DebtorNote(TenantOwned, Base):
    """A free-text note by agency or creditor staff on a debtor's file."""

    __tablename__ = "debtor_note"

    debtor_id: Mapped[uuid.UUID]
    body: Mapped[str] = mapped_column(String(4000))
    author_id: Mapped[uuid.UUID | None]
    author_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (Index("ix_debtor_note_debtor", "tenant_id", "debtor_id"),)


class DebtorEvent(TenantOwned, Base):
    """Something done on a debtor's file that is not a contact attempt, recorded by the
    package that did it (legal: an agreement proposed, approved, broken...), so the
    debtor's timeline shows it without core reading that package's tables.

    `kind` is "<area>.<what>" (`agreement.broken`); `title` and `detail` are what the
    timeline shows, in Portuguese; `link` a page about it."""

    __tablename__ = "debtor_event"

    debtor_id: Mapped[uuid.UUID]
    at: Mapped[dt.datetime] = created_at_column()
    kind: Mapped[str] = mapped_column(String(48))
    title: Mapped[str] = mapped_column(String(200))
    detail: Mapped[str | None] = mapped_column(String(1000))
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    user_id: Mapped[uuid.UUID | None]
    # Who did it when no user did, as the timeline names it ("o devedor, pelo link").
    by_label: Mapped[str | None] = mapped_column(String(80))
    source_id: Mapped[uuid.UUID | None]  # the row it is about (an agreement's id)
    link: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint("kind ~ '^[a-z_]+[.][a-z_]+$'", name="kind"),
        Index("ix_debtor_event_debtor", "tenant_id", "debtor_id", text("at DESC")),
    )
