"""The dialer's tables: campaigns, their lists, agents' sessions and call records.

Declared on core's `Base` (one metadata, one migration history) but kept in `dialer/`:
core imports none of the domain packages. `migrations/env.py` imports this module.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Index, Integer, Numeric, String, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, created_at_column


def _in(values: type[StrEnum]) -> str:
    return "(" + ", ".join(f"'{v.value}'" for v in values) + ")"


class CampaignMode(StrEnum):
    PREVIEW = "preview"  # the agent sees the file, then clicks to dial
    PROGRESSIVE = "progressive"  # one line per free agent
    PREDICTIVE = "predictive"  # dials ahead of free agents (dialer/pacing.py)


class CampaignStatus(StrEnum):
    ACTIVE = "active"
    PAUSED = "paused"
    STOPPED = "stopped"


class EntryState(StrEnum):
    PENDING = "pending"  # waiting for `next_attempt_at`
    DIALING = "dialing"  # leased by a dialer process (lease_owner, lease_until)
    DONE = "done"  # the debtor was reached
    EXHAUSTED = "exhausted"  # the retry rules allow no more attempts
    BLOCKED = "blocked"  # the compliance guard refused with no moment to wait for


class AgentState(StrEnum):
    LOGGED_OUT = "logged_out"
    READY = "ready"
    TALKING = "talking"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


class CallOutcome(StrEnum):
    """A dial attempt's result. Finer than the interaction's outcome: see OUTCOME_OF."""

    ANSWERED = "answered"  # answered and bridged to an agent
    BUSY = "busy"  # 486, 600
    NO_ANSWER = "no_answer"  # rang out (ring timeout)
    REJECTED = "rejected"  # other 4xx and 6xx: the code is kept
    FAILED = "failed"  # 5xx, no response, or the line worker died: the reason is kept
    CONGESTION = "congestion"  # 503
    INVALID = "invalid"  # 404, 484, 604: the number does not exist
    ABANDONED = "abandoned"  # answered, no agent bridged within 2 s: message played


class Campaign(TenantOwned, Base):
    __tablename__ = "campaign"

    name: Mapped[str] = mapped_column(String(120))
    mode: Mapped[str] = mapped_column(String(16), default=CampaignMode.PREDICTIVE)
    status: Mapped[str] = mapped_column(String(16), default=CampaignStatus.PAUSED)
    abandon_target: Mapped[Decimal] = mapped_column(Numeric(5, 4), default=Decimal("0.03"))
    max_lines_per_agent: Mapped[Decimal] = mapped_column(Numeric(4, 2), default=Decimal("3"))
    ring_timeout_seconds: Mapped[int] = mapped_column(Integer, default=25)
    wrap_up_seconds: Mapped[int] = mapped_column(Integer, default=20)
    # {"busy": {"delay_seconds": 1800, "max_attempts": 3}, ...} by CallOutcome
    retry_rules: Mapped[dict[str, Any]] = mapped_column(JSONB)
    # {"days_overdue_min": 30, "amount_min": "100.00", "states": ["SP"], ...}
    filters: Mapped[dict[str, Any]] = mapped_column(JSONB)
    callback_number: Mapped[str | None] = mapped_column(String(20))
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = created_at_column()
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        UniqueConstraint("tenant_id", "name"),
        CheckConstraint(f"mode IN {_in(CampaignMode)}", name="mode"),
        CheckConstraint(f"status IN {_in(CampaignStatus)}", name="status"),
        CheckConstraint("abandon_target > 0 AND abandon_target < 1", name="abandon_target"),
        CheckConstraint("max_lines_per_agent >= 1", name="max_lines"),
        CheckConstraint("ring_timeout_seconds >= 15", name="ring_timeout"),
    )


class CampaignEntry(TenantOwned, Base):
    """One debtor on a campaign's list; dialer processes lease entries to call them."""

    __tablename__ = "campaign_entry"

    campaign_id: Mapped[uuid.UUID]
    debtor_id: Mapped[uuid.UUID]
    priority: Mapped[Decimal] = mapped_column(Numeric(14, 2))  # higher first
    next_attempt_at: Mapped[dt.datetime] = created_at_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    state: Mapped[str] = mapped_column(String(16), default=EntryState.PENDING)
    last_outcome: Mapped[str | None] = mapped_column(String(16))
    lease_owner: Mapped[str | None] = mapped_column(String(64))
    lease_until: Mapped[dt.datetime | None]
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        UniqueConstraint("tenant_id", "campaign_id", "debtor_id"),
        CheckConstraint(f"state IN {_in(EntryState)}", name="state"),
        Index("ix_campaign_entry_due", "tenant_id", "campaign_id", text("priority DESC"),
              "next_attempt_at", postgresql_where=text("state = 'pending'")),
    )


class AgentSession(TenantOwned, Base):
    """An agent logged in to campaigns with a phone. `tenant_id` is the tenant of the
    first campaign; the campaigns may span the tenants the agent works."""

    __tablename__ = "agent_session"

    user_id: Mapped[uuid.UUID]
    campaign_ids: Mapped[list[str]] = mapped_column(JSONB)
    sip_uri: Mapped[str] = mapped_column(String(200))
    state: Mapped[str] = mapped_column(String(16), default=AgentState.READY)
    state_since: Mapped[dt.datetime] = created_at_column()
    reason: Mapped[str | None] = mapped_column(String(200))
    call_id: Mapped[uuid.UUID | None]  # the call record it is on
    logged_in_at: Mapped[dt.datetime] = created_at_column()
    logged_out_at: Mapped[dt.datetime | None]

    __table_args__ = (
        CheckConstraint(f"state IN {_in(AgentState)}", name="state"),
        Index("uq_agent_session_live", "tenant_id", "user_id", unique=True,
              postgresql_where=text("logged_out_at IS NULL")),
    )


class CallRecord(TenantOwned, Base):
    """One dial attempt with its SIP timings; the debtor's timeline has its interaction."""

    __tablename__ = "call_record"

    campaign_id: Mapped[uuid.UUID]
    entry_id: Mapped[uuid.UUID | None]
    debtor_id: Mapped[uuid.UUID]
    contact_point_id: Mapped[uuid.UUID | None]
    number: Mapped[str] = mapped_column(String(20))
    dialed_at: Mapped[dt.datetime] = created_at_column()
    ringing_at: Mapped[dt.datetime | None]
    answered_at: Mapped[dt.datetime | None]
    bridged_at: Mapped[dt.datetime | None]
    ended_at: Mapped[dt.datetime | None]
    sip_code: Mapped[int | None]
    outcome: Mapped[str | None] = mapped_column(String(16))  # None while in progress
    reason: Mapped[str | None] = mapped_column(String(200))
    agent_user_id: Mapped[uuid.UUID | None]
    answer_to_bridge_ms: Mapped[int | None]
    recording_key: Mapped[str | None] = mapped_column(String(500))
    # The retention period ran out: the WAV was deleted from S3 (the key stays, as a
    # record of what was kept and for how long).
    recording_deleted_at: Mapped[dt.datetime | None]
    dialer_id: Mapped[str] = mapped_column(String(64))  # the dialer process
    worker_id: Mapped[int] = mapped_column(Integer)
    interaction_id: Mapped[uuid.UUID | None]

    __table_args__ = (
        CheckConstraint(f"outcome IS NULL OR outcome IN {_in(CallOutcome)}", name="outcome"),
        Index("ix_call_record_campaign", "tenant_id", "campaign_id", text("dialed_at DESC")),
        Index("ix_call_record_debtor", "tenant_id", "debtor_id"),
        Index("ix_call_record_open", "dialer_id", postgresql_where=text("ended_at IS NULL")),
        Index("ix_call_record_recording", "tenant_id", "ended_at",
              postgresql_where=text("recording_key IS NOT NULL"
                                    " AND recording_deleted_at IS NULL")),
    )


class RecordingPolicy(TenantOwned, Base):
    """How long the tenant's call recordings are kept (one row per tenant; none: the
    agency's default, `REGUA_CALL_RECORDING_RETENTION_DAYS`)."""

    __tablename__ = "recording_policy"

    retention_days: Mapped[int] = mapped_column(Integer)
    set_by: Mapped[uuid.UUID | None]
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        UniqueConstraint("tenant_id"),
        CheckConstraint("retention_days BETWEEN 30 AND 3650", name="retention_days"),
    )


class AgendaKind(StrEnum):
    """In the order the agenda serves them."""

    CALLBACK = "callback"  # the debtor asked to be called back at a time
    PROMISE = "promise"  # a promise to pay: called on its day, and after if broken
    CADENCE = "cadence"  # the debtor's cadence calls for a call today
    SCORE = "score"  # a high-score debtor without recent contact


class AgendaState(StrEnum):
    OPEN = "open"
    TAKEN = "taken"  # an agent took it with "Próximo" (until `taken_until`)
    DONE = "done"  # disposed
    CANCELLED = "cancelled"  # the guard refuses with no moment to wait for


class AgendaItem(TenantOwned, Base):
    """One debtor to call on an agent's agenda. At most one open or taken item per
    debtor, so two agents never hold the same debtor."""

    __tablename__ = "agenda_item"

    debtor_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(16))
    due_at: Mapped[dt.datetime]
    state: Mapped[str] = mapped_column(String(16), default=AgendaState.OPEN)
    amount: Mapped[Decimal | None] = mapped_column(Numeric(14, 2))  # a promise's amount
    promised_on: Mapped[dt.date | None]
    assigned_to: Mapped[uuid.UUID | None]  # a callback goes back to its agent first
    taken_by: Mapped[uuid.UUID | None]
    taken_until: Mapped[dt.datetime | None]
    disposition: Mapped[str | None] = mapped_column(String(32))
    source_id: Mapped[uuid.UUID | None]  # the cadence action or call record behind it
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = created_at_column()
    closed_at: Mapped[dt.datetime | None]

    __table_args__ = (
        CheckConstraint(f"kind IN {_in(AgendaKind)}", name="kind"),
        CheckConstraint(f"state IN {_in(AgendaState)}", name="state"),
        Index("uq_agenda_item_live", "tenant_id", "debtor_id", unique=True,
              postgresql_where=text("state IN ('open', 'taken')")),
        Index("ix_agenda_item_due", "tenant_id", "due_at",
              postgresql_where=text("state IN ('open', 'taken')")),
    )
