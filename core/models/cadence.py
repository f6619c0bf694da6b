"""The collection cadence (régua): versioned definitions per tenant, which debtor follows
which version, and one action row per debtor, step, channel and day."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import CheckConstraint, Date, Index, Integer, String, Text, UniqueConstraint, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, created_at_column
from core.models.collection import MONEY, _in


class StepChannel(StrEnum):
    """What a step may do: the written channels, a call (the dialer's list or an agent's
    agenda) and a manual task."""

    EMAIL = "email"
    SMS = "sms"
    WHATSAPP = "whatsapp"
    LETTER = "letter"
    CALL = "call"
    TASK = "task"


STEP_CHANNEL_LABELS = {
    StepChannel.EMAIL: "e-mail", StepChannel.SMS: "SMS", StepChannel.WHATSAPP: "WhatsApp",
    StepChannel.LETTER: "carta", StepChannel.CALL: "ligação", StepChannel.TASK: "tarefa",
}


class ActionState(StrEnum):
    PLANNED = "planned"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    BLOCKED = "blocked"
    EXPIRED = "expired"  # never went out: the sweep closed it with a reason
    DONE = "done"  # a call or task that the dialer or an agent took


ACTION_STATE_LABELS = {
    ActionState.PLANNED: "planejada", ActionState.SENT: "enviada",
    ActionState.DELIVERED: "entregue", ActionState.READ: "lida", ActionState.FAILED: "falhou",
    ActionState.BLOCKED: "bloqueada", ActionState.EXPIRED: "expirada",
    ActionState.DONE: "realizada",
}


class Arm(StrEnum):
    CHAMPION = "champion"
    CHALLENGER = "challenger"


class Cadence(TenantOwned, Base):
    """A named cadence of a tenant; its steps live in its versions."""

    __tablename__ = "cadence"

    name: Mapped[str] = mapped_column(String(100))
    current_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (UniqueConstraint("tenant_id", "name"),)


class CadenceVersion(TenantOwned, Base):
    """One version of a cadence: a change adds a version; nothing edits one in place."""

    __tablename__ = "cadence_version"

    cadence_id: Mapped[uuid.UUID]
    version: Mapped[int]
    source: Mapped[str] = mapped_column(Text)  # the YAML as loaded or as the editor wrote it
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (UniqueConstraint("tenant_id", "cadence_id", "version"),)


class CadenceStep(TenantOwned, Base):
    """A step of a version: its day from the due date, channels, templates, fallback and
    conditions, in columns so the engine's one statement can read them."""

    __tablename__ = "cadence_step"

    version_id: Mapped[uuid.UUID]
    position: Mapped[int]
    day: Mapped[int]
    channels: Mapped[list[str]] = mapped_column(ARRAY(String(16)))
    templates: Mapped[dict[str, str]] = mapped_column(JSONB)  # channel -> template name
    fallback: Mapped[str | None] = mapped_column(String(16))
    score_min: Mapped[int | None]
    score_max: Mapped[int | None]
    amount_min: Mapped[Decimal | None] = mapped_column(MONEY)
    amount_max: Mapped[Decimal | None] = mapped_column(MONEY)
    states: Mapped[list[str] | None] = mapped_column(ARRAY(String(2)))
    segments: Mapped[list[str] | None] = mapped_column(ARRAY(String(24)))

    __table_args__ = (
        UniqueConstraint("tenant_id", "version_id", "position"),
        Index("ix_cadence_step_day", "tenant_id", "day"),
    )


class CadencePolicy(TenantOwned, Base):
    """Which cadence a tenant runs, and its challenger on a stable share of debtors: a
    debtor's side is a hash of its id with the tenant's salt, so it never changes."""

    __tablename__ = "cadence_policy"

    champion_id: Mapped[uuid.UUID]
    challenger_id: Mapped[uuid.UUID | None]
    challenger_percent: Mapped[int] = mapped_column(Integer, default=0)
    salt: Mapped[str] = mapped_column(String(32))
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        UniqueConstraint("tenant_id"),
        CheckConstraint("challenger_percent BETWEEN 0 AND 100", name="percent"),
    )


class CadenceEnrolment(TenantOwned, Base):
    """The version a debtor follows; a new version does not move it, a decision does."""

    __tablename__ = "cadence_enrolment"

    debtor_id: Mapped[uuid.UUID]
    version_id: Mapped[uuid.UUID]
    arm: Mapped[str] = mapped_column(String(12))
    enrolled_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        UniqueConstraint("tenant_id", "debtor_id"),
        CheckConstraint(f"arm IN {_in(Arm)}", name="arm"),
    )


class CadenceAction(TenantOwned, Base):
    """One thing the cadence does for one debtor on one day: a message on a channel (its
    fallback when the first has no usable contact), a call for the dialer's list or an
    agent's agenda, or a manual task. Unique per debtor, step, step channel and day, so a
    rerun of a day adds nothing. `debt_ids` lists every debt that reached the step."""

    __tablename__ = "cadence_action"

    day: Mapped[dt.date] = mapped_column(Date)
    debtor_id: Mapped[uuid.UUID]
    step_id: Mapped[uuid.UUID]
    version_id: Mapped[uuid.UUID]
    step_day: Mapped[int]
    step_channel: Mapped[str] = mapped_column(String(16))  # as the step names it
    channel: Mapped[str] = mapped_column(String(16))  # what it uses (the fallback, maybe)
    template: Mapped[str] = mapped_column(String(100))
    arm: Mapped[str] = mapped_column(String(12))
    debt_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    state: Mapped[str] = mapped_column(String(12))
    reason: Mapped[str | None] = mapped_column(String(500))
    send_after: Mapped[dt.datetime | None]
    dispatch_id: Mapped[uuid.UUID | None]
    interaction_id: Mapped[uuid.UUID | None]
    fallback_of: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = created_at_column()
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        UniqueConstraint("tenant_id", "day", "debtor_id", "step_id", "step_channel",
                         name="uq_cadence_action_once"),
        CheckConstraint(f"state IN {_in(ActionState)}", name="state"),
        CheckConstraint(f"channel IN {_in(StepChannel)}", name="channel"),
        CheckConstraint(f"arm IN {_in(Arm)}", name="arm"),
        Index("ix_cadence_action_debtor", "tenant_id", "debtor_id"),
        Index("ix_cadence_action_open", "tenant_id", "day",
              postgresql_where="state = 'planned'"),
    )


class CadencePlanMark(TenantOwned, Base):
    """How far a tenant's day was planned: the database snapshot the run started from.

    A rerun of the day looks only at debtors whose rows (debts due on a step's offset,
    the debtor, its score, its enrolment, its holds) changed after that snapshot, so a
    rerun with nothing new costs a small fraction of the first run (`core.cadence.engine`)."""

    __tablename__ = "cadence_plan_mark"

    day: Mapped[dt.date] = mapped_column(Date)
    snapshot: Mapped[str] = mapped_column(Text)  # pg_current_snapshot() as text
    planned_at: Mapped[dt.datetime] = created_at_column()
    runs: Mapped[int] = mapped_column(Integer, default=1)

    __table_args__ = (UniqueConstraint("tenant_id", "day"),)

