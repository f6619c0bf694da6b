"""Campaign services: campaigns and their lists, leases on entries, the dial results,
agents' sessions.

Several dialer processes share one campaign: each leases the entries it calls (`claim`,
`FOR UPDATE SKIP LOCKED` with a lease that expires if the process dies) and takes a
ready agent for an answered call with one atomic update (`take_agent`), so neither an
entry nor an agent is ever given twice.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any, NewType

from sqlalchemy import select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import ContactPointId, DebtorId, TenantId
from core.auth.principal import Principal
from core.auth.roles import Role
from core.collection import contacts, interactions
from core.compliance import guard
from core.errors import Forbidden, NotFound, ValidationFailed
from core.ids import uuid7
from core.masking import format_phone
from core.models import CauseKind, Channel, ContactPoint, Outcome
from core.scoring.rules import BAND_LABELS, SEGMENTS
from dialer import agenda
from dialer.models import (
    AgentSession,
    AgentState,
    CallOutcome,
    CallRecord,
    Campaign,
    CampaignEntry,
    CampaignMode,
    CampaignStatus,
    EntryState,
)

CampaignId = NewType("CampaignId", uuid.UUID)

MANAGERS = (Role.ADMIN, Role.SUPERVISOR)
LEASE = dt.timedelta(minutes=2)  # longer than a ring; renewed while the call lasts
ABANDON_AFTER = dt.timedelta(seconds=2)

# Outcome on the debtor's timeline (core's vocabulary) for each dial result. An abandoned
# call was answered by the debtor: its interaction says so, the call record says more.
OUTCOME_OF = {
    CallOutcome.ANSWERED: Outcome.ANSWERED, CallOutcome.ABANDONED: Outcome.ANSWERED,
    CallOutcome.BUSY: Outcome.BUSY, CallOutcome.NO_ANSWER: Outcome.NO_ANSWER,
    CallOutcome.REJECTED: Outcome.FAILED, CallOutcome.FAILED: Outcome.FAILED,
    CallOutcome.CONGESTION: Outcome.FAILED, CallOutcome.INVALID: Outcome.INVALID,
}

# Retry rules per outcome: wait `delay_seconds`, stop after `max_attempts` attempts with
# that outcome's rule. An answered call ends the entry, and so does an abandoned one (its
# callback goes to the agenda). An invalid number is marked invalid on the debtor's
# file, so the retry dials the debtor's next phone.
DEFAULT_RETRY_RULES: dict[str, dict[str, int]] = {
    CallOutcome.BUSY: {"delay_seconds": 30 * 60, "max_attempts": 4},
    CallOutcome.NO_ANSWER: {"delay_seconds": 2 * 3600, "max_attempts": 4},
    CallOutcome.REJECTED: {"delay_seconds": 4 * 3600, "max_attempts": 2},
    CallOutcome.FAILED: {"delay_seconds": 10 * 60, "max_attempts": 4},
    CallOutcome.CONGESTION: {"delay_seconds": 5 * 60, "max_attempts": 6},
    CallOutcome.INVALID: {"delay_seconds": 60, "max_attempts": 3},
}


# ---- filters ---------------------------------------------------------------------------
# Each filter turns its value into a SQL condition over the candidate debtor `d` and the
# aggregate of its workable debts (`amount`: the balance, `oldest_due`: the oldest due
# date), and the debtor's current score `s` (band and segments).

def _money(name: str, value: Any) -> Decimal:
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise ValidationFailed({f"filters.{name}": "valor inválido"}) from None
    if amount < 0:
        raise ValidationFailed({f"filters.{name}": "deve ser zero ou mais"})
    return amount


def _days(name: str, value: Any) -> int:
    if not isinstance(value, int) or value < 0:
        raise ValidationFailed({f"filters.{name}": "informe um número de dias (0 ou mais)"})
    return value


def _states(name: str, value: Any) -> list[str]:
    from core.zones import ZONE_BY_UF

    if not isinstance(value, list) or not all(str(v).upper() in ZONE_BY_UF for v in value):
        raise ValidationFailed({f"filters.{name}": "informe siglas de UF (ex.: SP, RJ)"})
    return [str(v).upper() for v in value]


def _bands(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(v in BAND_LABELS for v in value):
        raise ValidationFailed({f"filters.{name}": "faixas de score: A, B, C ou D"})
    return sorted(set(value))


def _segments(name: str, value: Any) -> list[str]:
    if not isinstance(value, list) or not value or not all(v in SEGMENTS for v in value):
        raise ValidationFailed({f"filters.{name}": "segmentos: " + ", ".join(SEGMENTS)})
    return sorted(set(value))


FILTERS: dict[str, tuple[Callable[[str, Any], Any], str]] = {
    "days_overdue_min": (_days, "current_date - agg.oldest_due >= :days_overdue_min"),
    "days_overdue_max": (_days, "current_date - agg.oldest_due <= :days_overdue_max"),
    "amount_min": (_money, "agg.amount >= :amount_min"),
    "amount_max": (_money, "agg.amount <= :amount_max"),
    "states": (_states, "d.state = ANY(:states)"),
    # `s`: the debtor's current score (a debtor not scored yet matches neither).
    "bands": (_bands, "s.band = ANY(:bands)"),
    "segments": (_segments, "s.segments && CAST(:segments AS varchar[])"),
}


def validate_filters(filters: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(filters) - set(FILTERS))
    if unknown:
        raise ValidationFailed({"filters": "filtros desconhecidos: " + ", ".join(unknown)
                                + "; use " + ", ".join(FILTERS)})
    return {name: FILTERS[name][0](name, value) for name, value in filters.items()}


def validate_retry_rules(rules: dict[str, Any]) -> dict[str, dict[str, int]]:
    merged = {k: dict(v) for k, v in DEFAULT_RETRY_RULES.items()}
    for outcome, rule in rules.items():
        if outcome not in merged or not isinstance(rule, dict):
            raise ValidationFailed({"retry_rules": f"resultado desconhecido: {outcome}"})
        for key, value in rule.items():
            if key not in ("delay_seconds", "max_attempts") or not isinstance(value, int) \
                    or value < 0:
                raise ValidationFailed({f"retry_rules.{outcome}.{key}":
                                        "informe um número inteiro (0 ou mais)"})
            merged[outcome][key] = value
    return merged


# ---- campaigns -------------------------------------------------------------------------

@dataclass(frozen=True)
class NewCampaign:
    name: str
    mode: str = CampaignMode.PREDICTIVE
    abandon_target: Decimal = Decimal("0.03")
    max_lines_per_agent: Decimal = Decimal("3")
    ring_timeout_seconds: int = 25
    wrap_up_seconds: int = 20
    retry_rules: dict[str, Any] | None = None
    filters: dict[str, Any] | None = None
    callback_number: str | None = None


MAX_ABANDON_TARGET = Decimal("0.03")  # abandoned / answered: 3% at most
MAX_LINES_PER_AGENT = Decimal("10")
MODE_LABELS = {CampaignMode.PREVIEW: "Prévia", CampaignMode.PROGRESSIVE: "Progressivo",
               CampaignMode.PREDICTIVE: "Preditivo"}


def pacing_errors(mode: str, abandon_target: Decimal, max_lines: Decimal) -> dict[str, str]:
    """What is wrong with a campaign's pacing, by field, in Portuguese."""
    errors: dict[str, str] = {}
    if mode not in CampaignMode.__members__.values():
        errors["mode"] = "modo de discagem inválido: escolha prévia, progressivo ou preditivo"
    if not abandon_target.is_finite() or not Decimal("0") < abandon_target <= \
            MAX_ABANDON_TARGET:
        errors["abandon_target"] = ("a meta de abandono deve ser maior que 0% e no máximo "
                                    "3% das ligações atendidas")
    if not max_lines.is_finite() or not Decimal("1") <= max_lines <= MAX_LINES_PER_AGENT:
        errors["max_lines_per_agent"] = ("o máximo de linhas por operador vai de 1 a 10 "
                                         "(ex.: 2,5)")
    return errors


def _manager(principal: Principal) -> None:
    if principal.role not in MANAGERS and not principal.is_system:
        raise Forbidden({"role": "apenas supervisores gerenciam campanhas"})


def campaign_errors(new: NewCampaign) -> dict[str, str]:
    """What is wrong with a new campaign's settings, by field, in Portuguese."""
    errors: dict[str, str] = {}
    if not 1 <= len(new.name.strip()) <= 120:
        errors["name"] = "informe um nome de até 120 caracteres"
    errors.update(pacing_errors(new.mode, new.abandon_target, new.max_lines_per_agent))
    if new.ring_timeout_seconds < 15 or new.ring_timeout_seconds > 60:
        errors["ring_timeout_seconds"] = "entre 15 e 60 segundos"
    if not 0 <= new.wrap_up_seconds <= 600:
        errors["wrap_up_seconds"] = "entre 0 e 600 segundos"
    return errors


async def create_campaign(session: AsyncSession, principal: Principal, tenant_id: TenantId,
                          new: NewCampaign) -> Campaign:
    _manager(principal)
    name = new.name.strip()
    errors = campaign_errors(new)
    if errors:
        raise ValidationFailed(errors)
    taken = (await session.execute(select(Campaign.id).where(
        Campaign.tenant_id == tenant_id, Campaign.name == name))).first()
    if taken is not None:
        raise ValidationFailed({"name": "já existe uma campanha com este nome"})
    row = Campaign(
        tenant_id=tenant_id, id=uuid7(), name=name, mode=new.mode,
        status=CampaignStatus.PAUSED, abandon_target=new.abandon_target,
        max_lines_per_agent=new.max_lines_per_agent,
        ring_timeout_seconds=new.ring_timeout_seconds, wrap_up_seconds=new.wrap_up_seconds,
        retry_rules=validate_retry_rules(new.retry_rules or {}),
        filters=_json(new.filters or {}),
        callback_number=new.callback_number, created_by=principal.actor.id)
    session.add(row)
    await session.flush()
    await audit.record(session, principal.actor, "campaign.created", tenant_id=tenant_id,
                       entity="campaign", entity_id=row.id,
                       after={"name": name, "mode": new.mode, "filters": row.filters})
    return row


def _json(filters: dict[str, Any]) -> dict[str, Any]:
    return {k: str(v) if isinstance(v, Decimal) else v
            for k, v in validate_filters(filters).items()}


async def access_campaign(session: AsyncSession, principal: Principal,
                          campaign_id: uuid.UUID) -> CampaignId:
    tenant_id = (await session.execute(select(Campaign.tenant_id).where(
        Campaign.id == campaign_id))).scalar_one_or_none()
    if tenant_id is None or not principal.may_work(tenant_id):
        raise NotFound("campanha")
    return CampaignId(campaign_id)


async def set_status(session: AsyncSession, principal: Principal, campaign_id: CampaignId,
                     status: str) -> Campaign:
    """Start, pause or stop a campaign (a stopped one is not started again)."""
    _manager(principal)
    if status not in CampaignStatus.__members__.values():
        raise ValidationFailed({"status": "situação inválida; use active, paused ou stopped"})
    row = (await session.execute(select(Campaign).where(
        Campaign.id == campaign_id).with_for_update())).scalar_one()
    if row.status == CampaignStatus.STOPPED and status != CampaignStatus.STOPPED:
        raise ValidationFailed({"status": "uma campanha encerrada não é retomada"})
    before = row.status
    row.status, row.updated_at = status, dt.datetime.now(dt.UTC)
    await audit.record(session, principal.actor, "campaign.status_set",
                       tenant_id=row.tenant_id, entity="campaign", entity_id=row.id,
                       before={"status": before}, after={"status": status})
    return row


async def set_pacing(session: AsyncSession, principal: Principal, campaign_id: CampaignId,
                     mode: str, abandon_target: Decimal, max_lines: Decimal) -> Campaign:
    """A supervisor's pacing: the mode, the abandon target and the lines-per-agent cap.
    The dialer reads the campaign every round, so it paces with them at once."""
    _manager(principal)
    errors = pacing_errors(mode, abandon_target, max_lines)
    if errors:
        raise ValidationFailed(errors)
    row = (await session.execute(select(Campaign).where(
        Campaign.id == campaign_id).with_for_update())).scalar_one()
    before = {"mode": row.mode, "abandon_target": str(row.abandon_target),
              "max_lines_per_agent": str(row.max_lines_per_agent)}
    row.mode, row.abandon_target = mode, abandon_target.quantize(Decimal("0.0001"))
    row.max_lines_per_agent = max_lines.quantize(Decimal("0.01"))
    row.updated_at = dt.datetime.now(dt.UTC)
    after = {"mode": row.mode, "abandon_target": str(row.abandon_target),
             "max_lines_per_agent": str(row.max_lines_per_agent)}
    if after != before:
        await audit.record(session, principal.actor, "campaign.pacing_set",
                           tenant_id=row.tenant_id, entity="campaign", entity_id=row.id,
                           before=before, after=after)
    return row


async def build_list(session: AsyncSession, principal: Principal,
                     campaign_id: CampaignId) -> int:
    """Add to the list every debtor matching the filters with a workable debt and a
    phone that may be called; set-based, so a list of a million debtors is one statement.
    Debtors already on the list keep their place and attempts. Returns how many came in.
    Priority: the workable balance, largest first."""
    _manager(principal)
    campaign = (await session.execute(select(Campaign).where(
        Campaign.id == campaign_id))).scalar_one()
    filters = validate_filters(campaign.filters)
    conditions = " AND ".join(FILTERS[name][1] for name in filters) or "TRUE"
    # The aggregate is materialized once: a nested loop over it would run the blocker
    # function for every pair of debtor and debt (minutes for a few thousand debtors).
    result = await session.execute(text(f"""
        WITH agg AS MATERIALIZED (
            SELECT debt.debtor_id, sum(debt.current_balance) AS amount,
                   min(debt.due_date) AS oldest_due
            FROM debt WHERE debt.tenant_id = :tenant_id
              AND regua_debt_blocker(debt, statement_timestamp()) IS NULL
            GROUP BY debt.debtor_id)
        INSERT INTO campaign_entry (tenant_id, id, campaign_id, debtor_id, priority,
                                    next_attempt_at, attempts, state)
        SELECT d.tenant_id, regua_uuid7(), :campaign_id, d.id, agg.amount, now(), 0, 'pending'
        FROM agg JOIN debtor d ON d.tenant_id = :tenant_id AND d.id = agg.debtor_id
        LEFT JOIN debtor_score s ON s.tenant_id = d.tenant_id AND s.debtor_id = d.id
        WHERE {conditions}
          AND EXISTS (SELECT 1 FROM contact_point cp
                      WHERE cp.tenant_id = d.tenant_id AND cp.debtor_id = d.id
                        AND cp.kind = 'phone'
                        AND cp.quality NOT IN ('wrong_party', 'invalid', 'bounced'))
        ON CONFLICT (tenant_id, campaign_id, debtor_id) DO NOTHING
    """), {"campaign_id": campaign.id, "tenant_id": campaign.tenant_id, **filters})
    added: int = result.rowcount  # type: ignore[attr-defined]
    await audit.record(session, principal.actor, "campaign.list_built",
                       tenant_id=campaign.tenant_id, entity="campaign", entity_id=campaign.id,
                       after={"added": added})
    return added


# ---- dialing ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Dial:
    """A call to place: the leased entry, the debtor's best phone, the call record."""

    call_id: uuid.UUID
    tenant_id: uuid.UUID
    campaign_id: uuid.UUID
    entry_id: uuid.UUID
    debtor_id: uuid.UUID
    contact_point_id: uuid.UUID
    number: str
    ring_timeout_seconds: int


async def active_campaigns(session: AsyncSession) -> list[Campaign]:
    return list((await session.execute(select(Campaign).where(
        Campaign.status == CampaignStatus.ACTIVE,
        Campaign.mode != CampaignMode.PREVIEW).order_by(Campaign.created_at))).scalars())


async def claim(session: AsyncSession, campaign: Campaign, n: int, *, dialer_id: str,
                worker_id: int, at: dt.datetime | None = None) -> list[Dial]:
    """Lease up to `n` due entries of `campaign`, best first, that the compliance guard
    lets us call now, and open their call records. Entries the guard refuses are recorded
    as blocked attempts and wait for the moment it gives (or leave the list without one).
    Each call counts against the agency-wide caps from this transaction on, and the
    debtor's counter is held until it commits: another creditor's campaign or an agent
    deciding on the same debtor meanwhile passes over it and asks again later."""
    now = at or dt.datetime.now(dt.UTC)
    dials: list[Dial] = []
    busy: list[uuid.UUID] = []  # another sender is deciding on the debtor: next round
    while len(dials) < n:
        rows = list((await session.execute(
            select(CampaignEntry).where(
                CampaignEntry.tenant_id == campaign.tenant_id,
                CampaignEntry.campaign_id == campaign.id,
                CampaignEntry.state == EntryState.PENDING,
                CampaignEntry.next_attempt_at <= now,
                CampaignEntry.id.not_in(busy))
            .order_by(CampaignEntry.priority.desc(), CampaignEntry.next_attempt_at)
            .limit(n - len(dials)).with_for_update(skip_locked=True))).scalars())
        if not rows:
            break
        for entry in rows:
            phone, verdict = await _guarded_phone(session, campaign, entry, now,
                                                  reserve=True, wait=False)
            if phone is not None:
                dials.append(await _open_call(session, campaign, entry, phone, now,
                                              dialer_id, worker_id))
            elif verdict.code == guard.IN_PROGRESS:
                busy.append(entry.id)
    return dials


async def _guarded_phone(session: AsyncSession, campaign: Campaign, entry: CampaignEntry,
                         now: dt.datetime, *, reserve: bool, wait: bool = True
                         ) -> tuple[ContactPoint | None, guard.Verdict]:
    """The debtor's best phone, if the guard lets us call it now. A refusal is recorded
    as a blocked attempt and the entry waits for the moment the guard gives (or leaves
    the list without one). `reserve`: the call is placed in this transaction
    (`_open_call`), which holds the debtor's agency-wide counter until it commits; with
    `wait=False` a counter another sender holds answers `guard.IN_PROGRESS` and leaves
    the entry as it was."""
    debtor_id = DebtorId(entry.debtor_id)
    phones = await contacts.usable(session, debtor_id, Channel.CALL)
    verdict = await guard.check(session, debtor_id, Channel.CALL, now,
                                contact_point_id=ContactPointId(phones[0].id)
                                if phones else None, reserve=reserve, wait=wait)
    if verdict.allowed:
        return phones[0], verdict
    if verdict.code == guard.IN_PROGRESS:
        return None, verdict
    await guard.record_blocked(session, debtor_id, Channel.CALL, verdict,
                               cause_kind=CauseKind.CAMPAIGN, process="dialer",
                               cause_id=campaign.id,
                               contact_point_id=phones[0].id if phones else None, at=now)
    entry.last_outcome = "blocked"
    entry.lease_owner = entry.lease_until = None
    if verdict.next_allowed_at is None:
        entry.state = EntryState.BLOCKED
    else:
        entry.state, entry.next_attempt_at = EntryState.PENDING, verdict.next_allowed_at
    return None, verdict


async def _open_call(session: AsyncSession, campaign: Campaign, entry: CampaignEntry,
                     phone: ContactPoint, now: dt.datetime, dialer_id: str,
                     worker_id: int) -> Dial:
    entry.state, entry.lease_owner, entry.lease_until = (
        EntryState.DIALING, dialer_id, now + LEASE)
    record = CallRecord(
        tenant_id=campaign.tenant_id, id=uuid7(), campaign_id=campaign.id, entry_id=entry.id,
        debtor_id=entry.debtor_id, contact_point_id=phone.id, number=phone.value,
        dialed_at=now, dialer_id=dialer_id, worker_id=worker_id)
    session.add(record)
    await session.flush()
    # The attempt counts from now, in the transaction that reserved the debtor's counter:
    # whatever `finish` later says of it (`counted=True` there).
    await interactions.count_attempt(session, entry.debtor_id, Channel.CALL, now)
    return Dial(record.id, campaign.tenant_id, campaign.id, entry.id, entry.debtor_id,
                phone.id, phone.value, campaign.ring_timeout_seconds)


async def assign_worker(session: AsyncSession, call_id: uuid.UUID, worker_id: int) -> None:
    await session.execute(update(CallRecord).where(CallRecord.id == call_id)
                          .values(worker_id=worker_id))


@dataclass
class Result:
    """What a line worker measured of one call."""

    call_id: uuid.UUID
    outcome: CallOutcome
    sip_code: int | None = None
    reason: str | None = None
    ringing_at: dt.datetime | None = None
    answered_at: dt.datetime | None = None
    bridged_at: dt.datetime | None = None
    ended_at: dt.datetime | None = None
    answer_to_bridge_ms: int | None = None
    agent_user_id: uuid.UUID | None = None
    recording_key: str | None = None


async def finish(session: AsyncSession, result: Result) -> CallRecord:
    """Close the call record, put the attempt on the debtor's timeline (grading the
    phone), and schedule the entry's retry by the campaign's rule for the outcome."""
    record = (await session.execute(select(CallRecord).where(
        CallRecord.id == result.call_id).with_for_update())).scalar_one()
    ended = result.ended_at or dt.datetime.now(dt.UTC)
    record.ringing_at, record.answered_at = result.ringing_at, result.answered_at
    record.bridged_at, record.ended_at = result.bridged_at, ended
    record.sip_code, record.outcome, record.reason = (
        result.sip_code, result.outcome, (result.reason or "")[:200] or None)
    record.agent_user_id, record.answer_to_bridge_ms = (
        result.agent_user_id, result.answer_to_bridge_ms)
    record.recording_key = result.recording_key
    details: dict[str, Any] = {"call_record_id": str(record.id), "dial_outcome": result.outcome,
                               "sip_code": result.sip_code, "number": record.number}
    if result.recording_key:
        details["recording_key"] = result.recording_key
    if result.reason:
        details["reason"] = result.reason
    interaction = await interactions.record(
        session, debtor_id=record.debtor_id, channel=Channel.CALL,
        outcome=OUTCOME_OF[result.outcome], cause_kind=CauseKind.CAMPAIGN,
        cause_id=record.campaign_id, process="dialer", user_id=result.agent_user_id,
        contact_point_id=record.contact_point_id, started_at=record.dialed_at,
        answered_at=result.answered_at, ended_at=ended, details=details, counted=True)
    record.interaction_id = interaction.id
    if result.outcome is CallOutcome.ABANDONED:
        await agenda.callback_after_abandon(session, record.tenant_id, record.debtor_id,
                                            record.id, ended)
    if record.entry_id is not None:
        await _schedule(session, record, result.outcome, ended)
    return record


async def _schedule(session: AsyncSession, record: CallRecord, outcome: CallOutcome,
                    ended: dt.datetime) -> None:
    entry = (await session.execute(select(CampaignEntry).where(
        CampaignEntry.id == record.entry_id).with_for_update())).scalar_one()
    campaign = (await session.execute(select(Campaign).where(
        Campaign.id == record.campaign_id))).scalar_one()
    entry.attempts += 1
    entry.last_outcome = outcome
    entry.lease_owner = entry.lease_until = None
    if outcome in (CallOutcome.ANSWERED, CallOutcome.ABANDONED):
        # An abandoned call's debtor heard that we will call back: the agenda has it.
        entry.state = EntryState.DONE
        return
    rule = campaign.retry_rules.get(outcome) or DEFAULT_RETRY_RULES[outcome]
    same = (await session.execute(select(CallRecord.id).where(
        CallRecord.tenant_id == record.tenant_id, CallRecord.entry_id == entry.id,
        CallRecord.outcome == outcome))).all()
    if len(same) >= rule["max_attempts"]:
        entry.state = EntryState.EXHAUSTED
    else:
        entry.state = EntryState.PENDING
        entry.next_attempt_at = ended + dt.timedelta(seconds=rule["delay_seconds"])


async def next_phone(session: AsyncSession, record: CallRecord, at: dt.datetime) -> bool:
    """The call reached someone who is not the debtor on that number (graded
    `wrong_party` already): the list entry is due again for the debtor's next phone,
    when one is left (the guard still decides when)."""
    if record.entry_id is None:
        return False
    if not await contacts.usable(session, DebtorId(record.debtor_id), Channel.CALL):
        return False
    await session.execute(update(CampaignEntry).where(
        CampaignEntry.tenant_id == record.tenant_id, CampaignEntry.id == record.entry_id,
        CampaignEntry.state == EntryState.DONE)
        .values(state=EntryState.PENDING, next_attempt_at=at, last_outcome="wrong_number"))
    return True


async def renew_leases(session: AsyncSession, dialer_id: str, entry_ids: list[uuid.UUID]
                       ) -> None:
    if entry_ids:
        await session.execute(update(CampaignEntry).where(
            CampaignEntry.id.in_(entry_ids), CampaignEntry.lease_owner == dialer_id)
            .values(lease_until=dt.datetime.now(dt.UTC) + LEASE))


async def expire_leases(session: AsyncSession) -> list[uuid.UUID]:
    """Entries whose dialer process died without finishing: their open call records are
    closed as failed, and the entries are due again. Returns the call records closed."""
    now = dt.datetime.now(dt.UTC)
    stale = list((await session.execute(select(CampaignEntry).where(
        CampaignEntry.state == EntryState.DIALING, CampaignEntry.lease_until < now)
        .with_for_update(skip_locked=True))).scalars())
    closed: list[uuid.UUID] = []
    for entry in stale:
        open_calls = list((await session.execute(select(CallRecord.id).where(
            CallRecord.tenant_id == entry.tenant_id, CallRecord.entry_id == entry.id,
            CallRecord.ended_at.is_(None)))).scalars())
        for call_id in open_calls:
            await finish(session, Result(call_id, CallOutcome.FAILED,
                                         reason="dialer process lost (lease expired)"))
            closed.append(call_id)
        if not open_calls:
            entry.state, entry.lease_owner, entry.lease_until = EntryState.PENDING, None, None
    return closed


async def calls_since(session: AsyncSession, campaign: Campaign, since: dt.datetime
                      ) -> list[CallRecord]:
    """The campaign's call records dialed from `since` on, in order (pacing starts its
    measurements from them)."""
    return list((await session.execute(select(CallRecord).where(
        CallRecord.tenant_id == campaign.tenant_id, CallRecord.campaign_id == campaign.id,
        CallRecord.dialed_at >= since).order_by(CallRecord.dialed_at))).scalars())


async def others_lines(session: AsyncSession, campaign: Campaign, dialer_id: str
                       ) -> list[tuple[dt.datetime, dt.datetime | None]]:
    """(dialed, answered) of the campaign's calls other dialer processes have out and
    not yet bridged: pacing counts them with its own."""
    return [(r.dialed_at, r.answered_at) for r in (await session.execute(select(
        CallRecord.dialed_at, CallRecord.answered_at).where(
        CallRecord.tenant_id == campaign.tenant_id, CallRecord.campaign_id == campaign.id,
        CallRecord.ended_at.is_(None), CallRecord.bridged_at.is_(None),
        CallRecord.dialer_id != dialer_id)))]


async def open_calls(session: AsyncSession, dialer_id: str) -> list[uuid.UUID]:
    return list((await session.execute(select(CallRecord.id).where(
        CallRecord.dialer_id == dialer_id, CallRecord.ended_at.is_(None)))).scalars())


# ---- preview dialing -------------------------------------------------------------------
# A preview campaign is not paced: "Próxima ficha" leases the top due entry to the agent
# (lease owner `preview:<user>`), who reads the file and then either asks for the call
# (`preview_dial`: a call record that no dialer process owns yet, the agent reserved
# for it) or skips the debtor with a reason. A dialer process takes the call on its next
# round (`take_preview_calls`) and places it like any other, with the agent's phone
# called the moment the debtor answers.

PREVIEW_LEASE = dt.timedelta(minutes=15)  # the agent reads the file; then it returns
PREVIEW_SKIP_DELAY = dt.timedelta(hours=4)  # a skipped debtor comes back after this
PREVIEW_PENDING = "preview"  # the dialer id of a preview call no process has taken yet


def _preview_owner(principal: Principal) -> str:
    return f"preview:{principal.user_id}"


@dataclass(frozen=True)
class Preview:
    entry_id: uuid.UUID
    tenant_id: uuid.UUID
    campaign_id: uuid.UUID
    campaign_name: str
    debtor_id: uuid.UUID
    number: str | None  # the phone the call would use (None: none callable now)

    @property
    def number_label(self) -> str:
        return format_phone(self.number) if self.number else ""


async def _live_session(session: AsyncSession, principal: Principal) -> AgentSession:
    row = (await session.execute(select(AgentSession).where(
        AgentSession.user_id == principal.user_id,
        AgentSession.logged_out_at.is_(None)).with_for_update())).scalar_one_or_none()
    if row is None:
        raise NotFound("sessão de operador")
    return row


async def _preview(session: AsyncSession, campaign: Campaign,
                   entry: CampaignEntry) -> Preview:
    phones = await contacts.usable(session, DebtorId(entry.debtor_id), Channel.CALL)
    return Preview(entry.id, entry.tenant_id, campaign.id, campaign.name, entry.debtor_id,
                   phones[0].value if phones else None)


async def held_preview(session: AsyncSession, principal: Principal) -> Preview | None:
    """The entry this agent is reading, if any."""
    row = (await session.execute(select(CampaignEntry, Campaign).join(
        Campaign, (Campaign.tenant_id == CampaignEntry.tenant_id)
        & (Campaign.id == CampaignEntry.campaign_id)).where(
        CampaignEntry.state == EntryState.DIALING,
        CampaignEntry.lease_owner == _preview_owner(principal),
        CampaignEntry.lease_until > dt.datetime.now(dt.UTC)))).first()
    return await _preview(session, row[1], row[0]) if row else None


async def preview_next(session: AsyncSession, principal: Principal,
                       at: dt.datetime | None = None) -> Preview | None:
    """The next debtor of the agent's preview campaigns, leased to the agent, the guard
    first (None: nothing to call now). The one the agent holds comes back until it is
    called or skipped."""
    now = at or dt.datetime.now(dt.UTC)
    agent = await _live_session(session, principal)
    held = await held_preview(session, principal)
    if held is not None:
        return held
    chosen = list((await session.execute(select(Campaign).where(
        Campaign.id.in_([uuid.UUID(c) for c in agent.campaign_ids]),
        Campaign.mode == CampaignMode.PREVIEW, Campaign.status == CampaignStatus.ACTIVE)
        .order_by(Campaign.created_at))).scalars())
    for campaign in chosen:
        while True:
            entry = (await session.execute(select(CampaignEntry).where(
                CampaignEntry.tenant_id == campaign.tenant_id,
                CampaignEntry.campaign_id == campaign.id,
                CampaignEntry.state == EntryState.PENDING,
                CampaignEntry.next_attempt_at <= now)
                .order_by(CampaignEntry.priority.desc(), CampaignEntry.next_attempt_at)
                .limit(1).with_for_update(skip_locked=True))).scalar_one_or_none()
            if entry is None:
                break
            # The agent reads the file first: "Ligar" reserves (`preview_dial`).
            phone, _ = await _guarded_phone(session, campaign, entry, now, reserve=False)
            if phone is None:
                continue
            entry.state, entry.lease_owner = EntryState.DIALING, _preview_owner(principal)
            entry.lease_until = dt.datetime.now(dt.UTC) + PREVIEW_LEASE
            return Preview(entry.id, entry.tenant_id, campaign.id, campaign.name,
                           entry.debtor_id, phone.value)
    return None


async def _held_entry(session: AsyncSession, principal: Principal,
                      entry_id: uuid.UUID) -> tuple[CampaignEntry, Campaign]:
    row = (await session.execute(select(CampaignEntry, Campaign).join(
        Campaign, (Campaign.tenant_id == CampaignEntry.tenant_id)
        & (Campaign.id == CampaignEntry.campaign_id)).where(
        CampaignEntry.id == entry_id, CampaignEntry.state == EntryState.DIALING,
        CampaignEntry.lease_owner == _preview_owner(principal))
        .with_for_update(of=CampaignEntry))).first()
    if row is None:
        raise NotFound("ficha")
    return row[0], row[1]


@dataclass(frozen=True)
class PreviewCall:
    call_id: uuid.UUID | None  # None: the guard refused
    debtor_id: uuid.UUID
    refused: str | None = None  # the guard's reason, in Portuguese


async def preview_dial(session: AsyncSession, principal: Principal, entry_id: uuid.UUID,
                       at: dt.datetime | None = None) -> PreviewCall:
    """The agent read the file and clicks "Ligar": the call is opened for a dialer
    process to place, with this agent reserved for it. The guard is asked again (the
    file may have been on screen a while); a refusal is recorded and the entry waits."""
    now = at or dt.datetime.now(dt.UTC)
    entry, campaign = await _held_entry(session, principal, entry_id)
    agent = await _live_session(session, principal)
    if agent.state != AgentState.READY or agent.call_id is not None:
        raise ValidationFailed({"_": "fique disponível antes de ligar (você está em "
                                     "ligação, em pós-atendimento ou em pausa)"})
    phone, verdict = await _guarded_phone(session, campaign, entry, now, reserve=True)
    if phone is None:
        return PreviewCall(None, entry.debtor_id, verdict.reason)
    dial = await _open_call(session, campaign, entry, phone, now, PREVIEW_PENDING, -1)
    agent.call_id = dial.call_id
    await audit.record(session, principal.actor, "campaign.preview_dialed",
                       tenant_id=campaign.tenant_id, entity="debtor",
                       entity_id=entry.debtor_id,
                       after={"campaign_id": campaign.id, "call_id": dial.call_id})
    return PreviewCall(dial.call_id, entry.debtor_id)


async def preview_skip(session: AsyncSession, principal: Principal, entry_id: uuid.UUID,
                       reason: str | None, at: dt.datetime | None = None) -> None:
    """The agent skips the debtor without calling, saying why; it comes back later."""
    text = (reason or "").strip()
    if not text:
        raise ValidationFailed({"skip_reason": "informe por que esta ficha fica para depois"})
    if len(text) > 200:
        raise ValidationFailed({"skip_reason": f"o motivo tem {len(text)} caracteres; "
                                               "o máximo é 200"})
    entry, campaign = await _held_entry(session, principal, entry_id)
    entry.state, entry.lease_owner, entry.lease_until = EntryState.PENDING, None, None
    entry.last_outcome = "skipped"
    entry.next_attempt_at = (at or dt.datetime.now(dt.UTC)) + PREVIEW_SKIP_DELAY
    await audit.record(session, principal.actor, "campaign.preview_skipped",
                       tenant_id=campaign.tenant_id, entity="debtor",
                       entity_id=entry.debtor_id,
                       after={"campaign_id": campaign.id, "reason": text})


@dataclass(frozen=True)
class PreviewDial:
    campaign: Campaign
    dial: Dial
    agent: Agent


async def take_preview_calls(session: AsyncSession, dialer_id: str, limit: int
                             ) -> list[PreviewDial]:
    """Preview calls agents asked for, taken by this dialer process (several processes
    never take one: `SKIP LOCKED`). A call whose agent left meanwhile is failed."""
    if limit <= 0:
        return []
    records = list((await session.execute(select(CallRecord).where(
        CallRecord.dialer_id == PREVIEW_PENDING, CallRecord.ended_at.is_(None))
        .order_by(CallRecord.dialed_at).limit(limit)
        .with_for_update(skip_locked=True))).scalars())
    taken = []
    for record in records:
        record.dialer_id = dialer_id
        await session.execute(update(CampaignEntry).where(
            CampaignEntry.tenant_id == record.tenant_id, CampaignEntry.id == record.entry_id)
            .values(lease_owner=dialer_id, lease_until=dt.datetime.now(dt.UTC) + LEASE))
        agent = (await session.execute(select(AgentSession).where(
            AgentSession.call_id == record.id,
            AgentSession.logged_out_at.is_(None)))).scalar_one_or_none()
        if agent is None:
            await finish(session, Result(record.id, CallOutcome.FAILED,
                                         reason="the agent left before the call"))
            continue
        campaign = (await session.execute(select(Campaign).where(
            Campaign.tenant_id == record.tenant_id,
            Campaign.id == record.campaign_id))).scalar_one()
        assert record.entry_id is not None and record.contact_point_id is not None
        taken.append(PreviewDial(campaign, Dial(
            record.id, record.tenant_id, record.campaign_id, record.entry_id,
            record.debtor_id, record.contact_point_id, record.number,
            campaign.ring_timeout_seconds),
            Agent(agent.id, agent.tenant_id, agent.user_id, agent.sip_uri)))
    return taken


# ---- agents ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Agent:
    session_id: uuid.UUID
    tenant_id: uuid.UUID
    user_id: uuid.UUID
    sip_uri: str


async def login(session: AsyncSession, principal: Principal, campaign_ids: list[CampaignId],
                sip_uri: str) -> AgentSession:
    """An agent logs in to campaigns (of any tenant it works) with a softphone or desk
    phone; it starts ready. A live session of the same agent is closed first."""
    if principal.role not in (Role.AGENT, *MANAGERS):
        raise Forbidden({"role": "apenas operadores atendem campanhas"})
    if not campaign_ids:
        raise ValidationFailed({"campaign_ids": "escolha ao menos uma campanha"})
    uri = sip_uri.strip()
    if not uri.startswith(("sip:", "sips:")) or "@" not in uri or len(uri) > 200:
        raise ValidationFailed({"sip_uri": "informe um endereço SIP (ex.: sip:ramal@host)"})
    first = (await session.execute(select(Campaign.tenant_id).where(
        Campaign.id == campaign_ids[0]))).scalar_one()
    await logout(session, principal)
    now = dt.datetime.now(dt.UTC)
    row = AgentSession(tenant_id=first, id=uuid7(), user_id=principal.user_id,
                       campaign_ids=[str(c) for c in campaign_ids], sip_uri=uri,
                       state=AgentState.READY, state_since=now, logged_in_at=now)
    session.add(row)
    await session.flush()
    await audit.record(session, principal.actor, "dialer.agent_login", tenant_id=first,
                       entity="agent_session", entity_id=row.id,
                       after={"campaign_ids": row.campaign_ids, "sip_uri": uri})
    return row


async def logout(session: AsyncSession, principal: Principal) -> None:
    now = dt.datetime.now(dt.UTC)
    live = list((await session.execute(select(AgentSession).where(
        AgentSession.user_id == principal.user_id,
        AgentSession.logged_out_at.is_(None)).with_for_update())).scalars())
    for row in live:
        row.state, row.state_since, row.logged_out_at = AgentState.LOGGED_OUT, now, now
        await audit.record(session, principal.actor, "dialer.agent_logout",
                           tenant_id=row.tenant_id, entity="agent_session", entity_id=row.id)


async def set_agent_state(session: AsyncSession, principal: Principal, state: str,
                          reason: str | None = None) -> AgentSession:
    """The agent's own choice: ready, or paused with a reason. Talking is the dialer's."""
    if state not in (AgentState.READY, AgentState.PAUSED):
        raise ValidationFailed({"state": "escolha disponível ou pausa"})
    if state == AgentState.PAUSED and not (reason or "").strip():
        raise ValidationFailed({"reason": "informe o motivo da pausa"})
    row = (await session.execute(select(AgentSession).where(
        AgentSession.user_id == principal.user_id,
        AgentSession.logged_out_at.is_(None)).with_for_update())).scalar_one_or_none()
    if row is None:
        raise NotFound("sessão de operador")
    if row.state == AgentState.TALKING:
        raise ValidationFailed({"state": "encerre a ligação antes"})
    row.state, row.state_since = state, dt.datetime.now(dt.UTC)
    row.reason = (reason or "").strip()[:200] or None
    return row


_PICK_READY = """
    SELECT tenant_id, id FROM agent_session
    WHERE state = 'ready' AND call_id IS NULL AND logged_out_at IS NULL
      AND campaign_ids @> jsonb_build_array(CAST(:campaign AS text))
    ORDER BY state_since LIMIT 1 FOR UPDATE SKIP LOCKED
"""


async def take_agent(session: AsyncSession, campaign_id: uuid.UUID,
                     call_id: uuid.UUID) -> Agent | None:
    """The agent ready the longest in `campaign_id`, now talking on `call_id`; atomic
    across dialer processes (None: nobody is ready)."""
    row = (await session.execute(text(f"""
        UPDATE agent_session s SET state = 'talking', state_since = now(), call_id = :call
        FROM ({_PICK_READY}) pick
        WHERE s.tenant_id = pick.tenant_id AND s.id = pick.id
        RETURNING s.id, s.tenant_id, s.user_id, s.sip_uri
    """), {"call": call_id, "campaign": str(campaign_id)})).first()
    return Agent(row.id, row.tenant_id, row.user_id, row.sip_uri) if row else None


async def reserve_agent(session: AsyncSession, campaign_id: uuid.UUID,
                        call_id: uuid.UUID) -> Agent | None:
    """Progressive dialing: the line is dialed for one ready agent, who stays ready (and
    is not taken for another call) until it is answered or ends. The worker then calls
    the agent the moment the debtor answers, with no round trip to the coordinator."""
    row = (await session.execute(text(f"""
        UPDATE agent_session s SET call_id = :call
        FROM ({_PICK_READY}) pick
        WHERE s.tenant_id = pick.tenant_id AND s.id = pick.id
        RETURNING s.id, s.tenant_id, s.user_id, s.sip_uri
    """), {"call": call_id, "campaign": str(campaign_id)})).first()
    return Agent(row.id, row.tenant_id, row.user_id, row.sip_uri) if row else None


async def agent_talking(session: AsyncSession, agent: Agent, call_id: uuid.UUID) -> bool:
    """The reserved agent's line was answered: talking (a pause asked meanwhile waits for
    the end of this call)."""
    result = await session.execute(update(AgentSession).where(
        AgentSession.tenant_id == agent.tenant_id, AgentSession.id == agent.session_id,
        AgentSession.call_id == call_id)
        .values(state=AgentState.TALKING, state_since=dt.datetime.now(dt.UTC)))
    return bool(result.rowcount)  # type: ignore[attr-defined]


async def release_agent(session: AsyncSession, agent: Agent, call_id: uuid.UUID, *,
                        wrap_up: bool) -> None:
    """The call is over for the agent: wrap-up after talking, else ready again."""
    state = AgentState.WRAP_UP if wrap_up else AgentState.READY
    await session.execute(update(AgentSession).where(
        AgentSession.tenant_id == agent.tenant_id, AgentSession.id == agent.session_id,
        AgentSession.call_id == call_id)
        .values(state=state, state_since=dt.datetime.now(dt.UTC), call_id=None))


async def end_wrap_ups(session: AsyncSession) -> list[AgentSession]:
    """Agents whose wrap-up time (their first campaign's) has passed are ready again."""
    rows = list((await session.execute(text("""
        UPDATE agent_session s SET state = 'ready', state_since = now()
        WHERE s.state = 'wrap_up' AND s.logged_out_at IS NULL
          AND s.state_since + make_interval(secs => coalesce((
                SELECT c.wrap_up_seconds FROM campaign c
                WHERE c.id = CAST(s.campaign_ids->>0 AS uuid)), 20)) <= now()
        RETURNING s.tenant_id, s.id
    """))).all())
    if not rows:
        return []
    return list((await session.execute(select(AgentSession).where(
        AgentSession.id.in_([r.id for r in rows])))).scalars())


async def release_stale_agents(session: AsyncSession) -> int:
    """Agents left on a call that is over (its dialer process died) are freed: wrap-up
    after talking, else as they were."""
    result = await session.execute(text("""
        UPDATE agent_session s SET state = CASE WHEN s.state = 'talking' THEN 'wrap_up'
                                                ELSE s.state END,
                                   state_since = now(), call_id = NULL
        WHERE s.logged_out_at IS NULL AND EXISTS (
            SELECT 1 FROM call_record c
            WHERE c.id = s.call_id AND c.ended_at IS NOT NULL)
    """))
    released: int = result.rowcount  # type: ignore[attr-defined]
    return released


async def end_call(session: AsyncSession, principal: Principal, call_id: uuid.UUID) -> None:
    """The agent ends its call from the desktop: the dialer process holding the call
    hangs up both legs (it listens on `events.HANGUP_CHANNEL`). A supervisor may end any
    call of a tenant it works."""
    from dialer import events

    record = (await session.execute(select(CallRecord).where(
        CallRecord.id == call_id))).scalar_one_or_none()
    if record is None or not principal.may_work(record.tenant_id) or record.ended_at:
        raise NotFound("ligação")
    if principal.role not in MANAGERS:
        mine = (await session.execute(select(AgentSession.id).where(
            AgentSession.user_id == principal.user_id, AgentSession.call_id == call_id,
            AgentSession.logged_out_at.is_(None)))).first()
        if mine is None:
            raise NotFound("ligação")
    await events.request_hangup(session, record.dialer_id, call_id)


async def logged_in_agents(session: AsyncSession) -> list[AgentSession]:
    return list((await session.execute(select(AgentSession).where(
        AgentSession.logged_out_at.is_(None)))).scalars())
