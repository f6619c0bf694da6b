"""What happens to a planned action: its send (the per-attempt guard first), its fallback
when the channel fails, its state as the provider reports it, and its expiry.

A `call` action stays `planned` for the dialer's list or an agent's agenda to take
(`claim_calls`), which marks it `done`; a `task` waits the same way for an agent. Both
expire like the messages do, so nothing stays queued forever.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import DebtId, DebtorId
from core.channels import OutboundMessage, deliver, prepare
from core.compliance import guard
from core.ids import uuid7
from core.models import (
    ActionState,
    CadenceAction,
    CadenceStep,
    CauseKind,
    Channel,
    Debtor,
    DispatchStatus,
    StepChannel,
)

log = logging.getLogger("regua.cadence")
PROCESS = "cadence"

# How long a planned action may wait before the sweep closes it.
MESSAGE_TTL_DAYS = 1  # a message not sent by the end of the next day is stale news
AGENDA_TTL_DAYS = 7  # calls and tasks wait a week for the dialer or an agent
EXPIRED_MESSAGE = "expirada: não foi enviada no prazo"
EXPIRED_AGENDA = "expirada: nenhum operador a realizou no prazo"

STATE_OF_DISPATCH = {
    DispatchStatus.QUEUED: ActionState.PLANNED, DispatchStatus.SENT: ActionState.SENT,
    DispatchStatus.DELIVERED: ActionState.DELIVERED, DispatchStatus.READ: ActionState.READ,
    DispatchStatus.FAILED: ActionState.FAILED, DispatchStatus.BOUNCED: ActionState.FAILED,
}
# Failures after which the step's fallback channel is tried.
FALLBACK_AFTER = (DispatchStatus.FAILED, DispatchStatus.BOUNCED)


async def _fallback(session: AsyncSession, action: CadenceAction) -> CadenceAction | None:
    """The step's fallback action for a failed one (once: a fallback has none)."""
    if action.fallback_of is not None or action.channel != action.step_channel:
        return None
    fallback = (await session.execute(select(CadenceStep.fallback).where(
        CadenceStep.id == action.step_id))).scalar_one_or_none()
    if fallback is None:
        return None
    row = CadenceAction(
        tenant_id=action.tenant_id, id=uuid7(), day=action.day, debtor_id=action.debtor_id,
        step_id=action.step_id, version_id=action.version_id, step_day=action.step_day,
        step_channel=fallback, channel=fallback, template="padrao", arm=action.arm,
        debt_ids=list(action.debt_ids), state=ActionState.PLANNED, fallback_of=action.id)
    inserted = (await session.execute(text(
        "INSERT INTO cadence_action (tenant_id, id, day, debtor_id, step_id, version_id,"
        " step_day, step_channel, channel, template, arm, debt_ids, state, fallback_of)"
        " VALUES (:tenant_id, :id, :day, :debtor_id, :step_id, :version_id, :step_day,"
        " :step_channel, :channel, :template, :arm, :debt_ids, 'planned', :fallback_of)"
        " ON CONFLICT ON CONSTRAINT uq_cadence_action_once DO NOTHING RETURNING id"),
        {c: getattr(row, c) for c in ("tenant_id", "id", "day", "debtor_id", "step_id",
                                      "version_id", "step_day", "step_channel", "channel",
                                      "template", "arm", "debt_ids", "fallback_of")})
    ).scalar_one_or_none()
    return row if inserted is not None else None


async def send(session: AsyncSession, action_id: uuid.UUID,
               now: dt.datetime | None = None) -> list[uuid.UUID]:
    """Send one planned message action, after the guard. Returns actions to send next (a
    fallback). Idempotent: an action no longer planned, or already sent, is left alone."""
    now = now or dt.datetime.now(dt.UTC)
    action = (await session.execute(select(CadenceAction).where(
        CadenceAction.id == action_id).with_for_update())).scalar_one_or_none()
    if (action is None or action.state != ActionState.PLANNED
            or action.dispatch_id is not None
            or action.channel in (StepChannel.CALL, StepChannel.TASK)):
        return []
    channel = Channel(action.channel)
    debtor_id = DebtorId(action.debtor_id)
    verdict = await guard.check(session, debtor_id, channel, now, reserve=True)
    if not verdict.allowed:
        zone = (await session.execute(select(Debtor.timezone).where(
            Debtor.id == debtor_id))).scalar_one()
        opens = verdict.next_allowed_at
        if (opens is not None and opens.astimezone(ZoneInfo(zone)).date() == action.day
                and verdict.code in ("outside_hours", "tenant_window")):
            action.send_after = opens  # later today: the periodic dispatch comes back
            return []
        assert verdict.code is not None
        blocked = await guard.record_blocked(
            session, debtor_id, channel, verdict, cause_kind=CauseKind.CADENCE_STEP,
            process=PROCESS, cause_id=action.id, at=now,
            debt_id=action.debt_ids[0] if len(action.debt_ids) == 1 else None)
        action.state, action.reason = ActionState.BLOCKED, verdict.code
        action.interaction_id, action.updated_at = blocked.id, now
        return []
    dispatch = await prepare(session, OutboundMessage(
        channel, debtor_id, tuple(DebtId(d) for d in action.debt_ids),
        template=action.template, cause_kind=CauseKind.CADENCE_STEP, cause_id=action.id))
    interaction = await deliver(session, dispatch.id, at=now)
    status = DispatchStatus(dispatch.status)
    action.dispatch_id = dispatch.id
    action.interaction_id = interaction.id if interaction is not None else None
    action.state = STATE_OF_DISPATCH[status]
    action.reason = dispatch.status_reason
    action.updated_at = now
    if status in FALLBACK_AFTER:
        fallback = await _fallback(session, action)
        if fallback is not None:
            return [fallback.id]
    return []


async def due_for_sending(session: AsyncSession, tenant_id: uuid.UUID, day: dt.date,
                          now: dt.datetime) -> list[uuid.UUID]:
    """The day's planned message actions not sent yet whose window is open by `now`."""
    rows = await session.execute(text(
        "SELECT id, send_after FROM cadence_action WHERE tenant_id = :t AND day = :d"
        " AND state = 'planned' AND dispatch_id IS NULL"
        " AND channel IN ('email', 'sms', 'whatsapp', 'letter')"
        " AND (send_after IS NULL OR send_after <= :now) ORDER BY id"),
        {"t": tenant_id, "d": day, "now": now})
    return [r[0] for r in rows]


SYNC = """
UPDATE cadence_action a SET state = CASE d.status
        WHEN 'sent' THEN 'sent' WHEN 'delivered' THEN 'delivered' WHEN 'read' THEN 'read'
        ELSE 'failed' END,
    reason = d.status_reason, updated_at = now()
FROM message_dispatch d
WHERE a.tenant_id = :t AND d.tenant_id = a.tenant_id AND d.id = a.dispatch_id
  AND d.status <> 'queued'
  AND a.state IN ('sent', 'delivered', 'read')
  AND a.state <> CASE d.status WHEN 'sent' THEN 'sent' WHEN 'delivered' THEN 'delivered'
                               WHEN 'read' THEN 'read' ELSE 'failed' END
RETURNING a.id, a.state
"""

EXPIRE = """
UPDATE cadence_action SET state = 'expired', updated_at = now(),
    reason = CASE WHEN channel IN ('call', 'task') THEN :agenda ELSE :message END
WHERE tenant_id = :t AND state = 'planned'
  AND day < CAST(:today AS date) - CASE WHEN channel IN ('call', 'task')
                                        THEN CAST(:agenda_days AS int)
                                        ELSE CAST(:message_days AS int) END
"""


async def sweep(session: AsyncSession, tenant_id: uuid.UUID, today: dt.date) -> list[uuid.UUID]:
    """Follow the providers' reports (a message that failed after it was sent gets the
    step's fallback), and expire what waited too long. Returns fallbacks to send."""
    changed = (await session.execute(text(SYNC), {"t": tenant_id})).all()
    fallbacks: list[uuid.UUID] = []
    for action_id, state in changed:
        if state != ActionState.FAILED:
            continue
        action = (await session.execute(select(CadenceAction).where(
            CadenceAction.id == action_id))).scalar_one()
        if action.day == today and (made := await _fallback(session, action)) is not None:
            fallbacks.append(made.id)
    await session.execute(text(EXPIRE), {
        "t": tenant_id, "today": today, "agenda": EXPIRED_AGENDA, "message": EXPIRED_MESSAGE,
        "agenda_days": AGENDA_TTL_DAYS, "message_days": MESSAGE_TTL_DAYS})
    return fallbacks


async def claim_calls(session: AsyncSession, tenant_id: uuid.UUID, day: dt.date,
                      limit: int = 100) -> list[CadenceAction]:
    """The dialer's (or an agenda's) intake: the day's planned calls, marked done as they
    are taken, so two consumers never take the same one."""
    rows = list((await session.execute(
        select(CadenceAction).where(CadenceAction.tenant_id == tenant_id,
                                    CadenceAction.day == day,
                                    CadenceAction.state == ActionState.PLANNED,
                                    CadenceAction.channel == StepChannel.CALL)
        .order_by(CadenceAction.id).limit(limit).with_for_update(skip_locked=True))).scalars())
    for row in rows:
        row.state, row.updated_at = ActionState.DONE, dt.datetime.now(dt.UTC)
    return rows
