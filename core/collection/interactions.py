"""Contact attempts: every attempt on every channel is one `interaction` row.

Recording one also grades the contact point it used, honours an opt-out the debtor
expressed in it, and adds to the agency-wide counts the caps read."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.collection import agency_counts
from core.collection.contacts import QUALITY_BY_OUTCOME
from core.ids import uuid7
from core.models import (
    CauseKind,
    Channel,
    ContactOptOut,
    ContactPoint,
    Debtor,
    Direction,
    Interaction,
    Outcome,
)

ANSWERED = (Outcome.ANSWERED, Outcome.READ, Outcome.REPLIED)


async def record(session: AsyncSession, *, debtor_id: uuid.UUID, channel: Channel,
                 outcome: Outcome, cause_kind: CauseKind, user_id: uuid.UUID | None = None,
                 process: str | None = None, debt_id: uuid.UUID | None = None,
                 contact_point_id: uuid.UUID | None = None, cause_id: uuid.UUID | None = None,
                 direction: Direction = Direction.OUTBOUND,
                 started_at: dt.datetime | None = None, answered_at: dt.datetime | None = None,
                 ended_at: dt.datetime | None = None,
                 details: dict[str, Any] | None = None, counted: bool = False) -> Interaction:
    """Record one attempt, made by a user (`user_id`) or a process (`process`).

    The caller has reached `debtor_id` through an access helper or picked it in a
    scoped query; row-level security keeps the insert inside the scope either way.
    `counted`: `count_attempt` added this attempt to the agency-wide counts when it was
    made; only its answer is added now."""
    if user_id is None and process is None:
        raise ValueError("an interaction is made by a user or a process")
    debtor = (await session.execute(select(Debtor).where(Debtor.id == debtor_id))).scalar_one()
    now = dt.datetime.now(dt.UTC)
    row = Interaction(
        tenant_id=debtor.tenant_id, id=uuid7(), debtor_id=debtor.id, debt_id=debt_id,
        channel=channel, direction=direction, contact_point_id=contact_point_id,
        outcome=outcome, started_at=started_at or now, answered_at=answered_at,
        ended_at=ended_at, user_id=user_id, process=process, cause_kind=cause_kind,
        cause_id=cause_id, details=details)
    session.add(row)
    if contact_point_id is not None:
        point = await _grade(session, contact_point_id, outcome, row.started_at)
        if outcome is Outcome.OPTED_OUT:
            already = (await session.execute(select(ContactOptOut.id).where(
                ContactOptOut.contact_point_id == point.id, ContactOptOut.channel == channel,
                ContactOptOut.revoked_at.is_(None)))).first()
            if already is None:
                session.add(ContactOptOut(
                    tenant_id=point.tenant_id, id=uuid7(), contact_point_id=point.id,
                    channel=channel, opted_out_at=row.started_at, source="debtor",
                    note="pedido durante o contato", set_by=user_id))
    answered = 1 if outcome in ANSWERED else 0
    if (direction is Direction.OUTBOUND and outcome is not Outcome.BLOCKED
            and (answered or not counted)):
        local_day = row.started_at.astimezone(ZoneInfo(debtor.timezone)).date()
        await agency_counts.tally(session, debtor.document, channel, local_day,
                                  attempts=0 if counted else 1, answered=answered)
    await session.flush()
    return row


async def count_attempt(session: AsyncSession, debtor_id: uuid.UUID, channel: Channel,
                        at: dt.datetime) -> None:
    """Add an attempt made at `at` to the agency-wide counts before its interaction is
    recorded: a call is recorded when it ends, but counts from the transaction that
    reserved the debtor's counter (`guard.check(reserve=True)`) and decided to place it,
    whether it then connects or not. Its `record` says `counted=True`."""
    debtor = (await session.execute(select(Debtor).where(Debtor.id == debtor_id))).scalar_one()
    await agency_counts.tally(session, debtor.document, channel,
                              at.astimezone(ZoneInfo(debtor.timezone)).date())


async def _grade(session: AsyncSession, contact_point_id: uuid.UUID, outcome: Outcome,
                 at: dt.datetime) -> ContactPoint:
    point = (await session.execute(select(ContactPoint).where(
        ContactPoint.id == contact_point_id).with_for_update())).scalar_one()
    point.last_outcome, point.last_outcome_at = outcome, at
    if outcome in QUALITY_BY_OUTCOME:
        point.quality = QUALITY_BY_OUTCOME[outcome]
    return point


async def update_outcome(session: AsyncSession, interaction_id: uuid.UUID, outcome: Outcome,
                         *, at: dt.datetime | None = None,
                         details: dict[str, Any] | None = None) -> Interaction:
    """A later word on an attempt (a message delivered, read, bounced): the attempt keeps
    its row and its place in the counts, and its contact point is graded again."""
    row = (await session.execute(select(Interaction).where(
        Interaction.id == interaction_id).with_for_update())).scalar_one()
    when = at or dt.datetime.now(dt.UTC)
    row.outcome = outcome
    if outcome in ANSWERED and row.answered_at is None:
        row.answered_at = when
    row.ended_at = when
    if details:
        row.details = {**(row.details or {}), **details}
    if row.contact_point_id is not None:
        await _grade(session, row.contact_point_id, outcome, when)
    await session.flush()
    return row
