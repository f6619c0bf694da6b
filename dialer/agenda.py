"""The agent's agenda: one ordered worklist over the tenants the agent works.

Order: callbacks due now, promises to pay due today or broken, debtors whose cadence
calls for a call today (`claim_calls`), then high-score debtors without recent contact.
Cadence calls and high scores are copied into `agenda_item` as they are needed, so every
source is one row per debtor (a partial unique index keeps one live item per debtor).

"Próximo" takes the top item with `FOR UPDATE SKIP LOCKED` and a lease (`taken_until`):
two agents never hold the same debtor, and an item an agent walked away from comes back.
Every item passes the compliance guard when it is taken, and the agent's call counts
against the agency-wide caps from then on; a refused one is recorded as a blocked attempt
and waits for the moment the guard gives, or leaves the agenda when there is none.
"""

from __future__ import annotations

import datetime as dt
import uuid
import zlib
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import case, or_, select, text, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import ContactPointId, DebtorId, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.cadence.actions import claim_calls
from core.collection import contacts, interactions
from core.compliance import guard
from core.errors import Forbidden
from core.ids import uuid7
from core.models import CauseKind, Channel, Debtor, Hold
from dialer.models import AgendaItem, AgendaKind, AgendaState

WORKERS = (Role.AGENT, Role.SUPERVISOR, Role.ADMIN)
LEASE = dt.timedelta(minutes=30)  # an agent on one debtor for longer gives it back
CALLBACK_GRACE = dt.timedelta(minutes=15)  # then anyone may make another agent's callback
RECENT_CONTACT = dt.timedelta(days=7)
HIGH_BANDS = ("A", "B")
REFILL = 20  # cadence calls and high scores copied per tenant when the agenda runs low
AGENCY_ZONE = ZoneInfo("America/Sao_Paulo")

RANK = case({AgendaKind.CALLBACK.value: 0, AgendaKind.PROMISE.value: 1,
             AgendaKind.CADENCE.value: 2}, value=AgendaItem.kind, else_=3)
LIVE = (AgendaState.OPEN.value, AgendaState.TAKEN.value)

KEPT = "promise_kept"  # the disposition of a promise item a payment closed
ABANDON_CALLBACK_AFTER = dt.timedelta(minutes=5)
ABANDONED_LABEL = "Retornar: ligação atendida sem operador"
KIND_LABELS = {AgendaKind.CALLBACK: "Retorno agendado", AgendaKind.PROMISE: "Promessa de"
               " pagamento", AgendaKind.CADENCE: "Régua pede ligação",
               AgendaKind.SCORE: "Score alto sem contato recente"}


@dataclass(frozen=True)
class Item:
    id: uuid.UUID
    tenant_id: uuid.UUID
    debtor_id: uuid.UUID
    debtor_name: str
    kind: str
    label: str
    due_at: dt.datetime
    amount: Decimal | None
    promised_on: dt.date | None
    broken: bool


def may_work_agenda(principal: Principal) -> None:
    if principal.role not in WORKERS:
        raise Forbidden("apenas operadores e supervisores usam o atendimento")


async def _item(session: AsyncSession, row: AgendaItem, now: dt.datetime) -> Item:
    name = (await session.execute(select(Debtor.name).where(
        Debtor.tenant_id == row.tenant_id, Debtor.id == row.debtor_id))).scalar_one()
    broken = (row.kind == AgendaKind.PROMISE and row.promised_on is not None
              and row.promised_on < now.astimezone(AGENCY_ZONE).date())
    label = ("Promessa quebrada" if broken
             else ABANDONED_LABEL if row.kind == AgendaKind.CALLBACK and row.created_by is None
             else KIND_LABELS[AgendaKind(row.kind)])
    return Item(row.id, row.tenant_id, row.debtor_id, name, row.kind, label, row.due_at,
                row.amount, row.promised_on, broken)


async def add_item(session: AsyncSession, tenant_id: uuid.UUID, debtor_id: uuid.UUID,
                   kind: AgendaKind, due_at: dt.datetime, *, created_by: uuid.UUID | None,
                   assigned_to: uuid.UUID | None = None, amount: Decimal | None = None,
                   promised_on: dt.date | None = None,
                   source_id: uuid.UUID | None = None) -> AgendaItem:
    """A promise or a callback replaces whatever live item the debtor had."""
    now = dt.datetime.now(dt.UTC)
    await session.execute(update(AgendaItem).where(
        AgendaItem.tenant_id == tenant_id, AgendaItem.debtor_id == debtor_id,
        AgendaItem.state.in_(LIVE)).values(state=AgendaState.CANCELLED, closed_at=now))
    row = AgendaItem(tenant_id=tenant_id, id=uuid7(), debtor_id=debtor_id, kind=kind,
                     due_at=due_at, state=AgendaState.OPEN, amount=amount,
                     promised_on=promised_on, assigned_to=assigned_to, source_id=source_id,
                     created_by=created_by)
    session.add(row)
    await session.flush()
    return row


async def callback_after_abandon(session: AsyncSession, tenant_id: uuid.UUID,
                                 debtor_id: uuid.UUID, call_id: uuid.UUID,
                                 ended: dt.datetime) -> AgendaItem | None:
    """The message told the debtor we would call back: a callback on the agenda, for any
    agent, unless the debtor already waits for a callback or a promise's follow-up."""
    kept = (await session.execute(select(AgendaItem.id).where(
        AgendaItem.tenant_id == tenant_id, AgendaItem.debtor_id == debtor_id,
        AgendaItem.state.in_(LIVE),
        AgendaItem.kind.in_((AgendaKind.CALLBACK, AgendaKind.PROMISE))))).first()
    if kept is not None:
        return None
    return await add_item(session, tenant_id, debtor_id, AgendaKind.CALLBACK,
                          ended + ABANDON_CALLBACK_AFTER, created_by=None, source_id=call_id)


async def _close_kept(session: AsyncSession, tenants: list[uuid.UUID]) -> None:
    """A promise kept by a payment (its hold marked kept) needs no follow-up call."""
    await session.execute(update(AgendaItem).where(
        AgendaItem.tenant_id.in_(tenants), AgendaItem.kind == AgendaKind.PROMISE,
        AgendaItem.state.in_(LIVE), Hold.tenant_id == AgendaItem.tenant_id,
        Hold.id == AgendaItem.source_id, Hold.kept_at.is_not(None))
        .values(state=AgendaState.DONE, disposition=KEPT, closed_at=Hold.kept_at,
                taken_by=None, taken_until=None)
        .execution_options(synchronize_session=False))


async def _refill(session: AsyncSession, tenant_id: uuid.UUID, now: dt.datetime) -> None:
    """Copy today's cadence calls and the best-scored debtors not contacted lately into
    the agenda. One agent refills a tenant at a time; the others go on picking."""
    key = zlib.crc32(f"agenda:{tenant_id}".encode())
    got = (await session.execute(text("SELECT pg_try_advisory_xact_lock(:k)"),
                                 {"k": key})).scalar_one()
    if not got:
        return
    waiting = (await session.execute(select(AgendaItem.id).where(
        AgendaItem.tenant_id == tenant_id, AgendaItem.state == AgendaState.OPEN,
        AgendaItem.due_at <= now).limit(REFILL))).all()
    if len(waiting) >= REFILL:
        return
    live = ["tenant_id", "debtor_id"]
    for action in await claim_calls(session, tenant_id, now.astimezone(AGENCY_ZONE).date(),
                                    limit=REFILL):
        await session.execute(insert(AgendaItem).values(
            tenant_id=tenant_id, id=uuid7(), debtor_id=action.debtor_id,
            kind=AgendaKind.CADENCE, due_at=now, state=AgendaState.OPEN,
            source_id=action.id).on_conflict_do_nothing(
                index_elements=live, index_where=text("state IN ('open', 'taken')")))
    await session.execute(text("""
        INSERT INTO agenda_item (tenant_id, id, debtor_id, kind, due_at, state)
        SELECT s.tenant_id, regua_uuid7(), s.debtor_id, 'score', :now, 'open'
        FROM debtor_score s
        WHERE s.tenant_id = :tenant AND s.band = ANY(:bands)
          AND NOT EXISTS (SELECT 1 FROM interaction i
                          WHERE i.tenant_id = s.tenant_id AND i.debtor_id = s.debtor_id
                            AND i.started_at > :since AND i.outcome <> 'blocked')
          AND NOT EXISTS (SELECT 1 FROM agenda_item a
                          WHERE a.tenant_id = s.tenant_id AND a.debtor_id = s.debtor_id
                            AND (a.state IN ('open', 'taken') OR a.closed_at > :since))
        ORDER BY s.score DESC, s.debtor_id LIMIT :n
        ON CONFLICT (tenant_id, debtor_id) WHERE state IN ('open', 'taken') DO NOTHING
    """), {"now": now, "tenant": tenant_id, "bands": list(HIGH_BANDS),
           "since": now - RECENT_CONTACT, "n": REFILL})


async def _allowed(session: AsyncSession, principal: Principal, row: AgendaItem,
                   now: dt.datetime) -> bool | None:
    """The guard on the debtor's best phone, reserving the debtor's agency-wide counter:
    the agent taking the item calls now, so the attempt counts from this transaction
    (`dispositions` records it as counted). A refusal is recorded as a blocked attempt
    and moves or closes the item. None: another sender is deciding on the debtor right
    now; the item stays as it is."""
    debtor_id = DebtorId(row.debtor_id)
    phones = await contacts.usable(session, debtor_id, Channel.CALL)
    verdict = await guard.check(session, debtor_id, Channel.CALL, now,
                                contact_point_id=ContactPointId(phones[0].id)
                                if phones else None, reserve=True, wait=False)
    if verdict.allowed:
        await interactions.count_attempt(session, debtor_id, Channel.CALL, now)
        return True
    if verdict.code == guard.IN_PROGRESS:
        return None
    await guard.record_blocked(session, debtor_id, Channel.CALL, verdict,
                               cause_kind=CauseKind.AGENT, user_id=principal.user_id,
                               contact_point_id=phones[0].id if phones else None,
                               cause_id=row.id, at=now)
    if phones and verdict.next_allowed_at is not None:
        row.due_at = verdict.next_allowed_at
    else:
        row.state, row.closed_at = AgendaState.CANCELLED, now
    row.taken_by = row.taken_until = None
    return False


async def take_next(principal: Principal, at: dt.datetime | None = None) -> Item | None:
    """The top item of the agent's agenda, taken for this agent (None: nothing to do)."""
    may_work_agenda(principal)
    now = at or dt.datetime.now(dt.UTC)
    async with transaction(principal) as session:
        tenants = sorted(principal.tenant_ids)
        # "Próximo" again gives back the debtor the agent held and did not dispose.
        await session.execute(update(AgendaItem).where(
            AgendaItem.tenant_id.in_(tenants), AgendaItem.taken_by == principal.user_id,
            AgendaItem.state == AgendaState.TAKEN)
            .values(state=AgendaState.OPEN, taken_by=None, taken_until=None))
        await _close_kept(session, tenants)
        for tenant_id in tenants:
            await _refill(session, tenant_id, now)
        busy: list[uuid.UUID] = []
        for _ in range(100):
            row = (await session.execute(select(AgendaItem).where(
                AgendaItem.tenant_id.in_(tenants), AgendaItem.id.not_in(busy),
                or_(AgendaItem.state == AgendaState.OPEN,
                    (AgendaItem.state == AgendaState.TAKEN) & (AgendaItem.taken_until < now)),
                AgendaItem.due_at <= now,
                or_(AgendaItem.assigned_to.is_(None),
                    AgendaItem.assigned_to == principal.user_id,
                    AgendaItem.due_at < now - CALLBACK_GRACE))
                .order_by(RANK, AgendaItem.due_at, AgendaItem.id)
                .limit(1).with_for_update(skip_locked=True))).scalar_one_or_none()
            if row is None:
                return None
            allowed = await _allowed(session, principal, row, now)
            if allowed is None:
                busy.append(row.id)
            if not allowed:
                continue
            row.state, row.taken_by, row.taken_until = (
                AgendaState.TAKEN, principal.user_id, now + LEASE)
            await audit.record(session, principal.actor, "agenda.taken",
                               tenant_id=row.tenant_id, entity="debtor",
                               entity_id=row.debtor_id,
                               after={"agenda_item_id": row.id, "kind": row.kind})
            return await _item(session, row, now)
        return None


async def holds_item(session: AsyncSession, principal: Principal,
                     debtor_id: uuid.UUID) -> bool:
    """Whether the agent took `debtor_id` from its agenda (its call already counted)."""
    return (await session.execute(select(AgendaItem.id).where(
        AgendaItem.debtor_id == debtor_id, AgendaItem.state == AgendaState.TAKEN,
        AgendaItem.taken_by == principal.user_id).limit(1))).first() is not None


async def upcoming(principal: Principal, limit: int = 30,
                   at: dt.datetime | None = None) -> list[Item]:
    """The agent's agenda as it stands: live items of its tenants, in serving order."""
    may_work_agenda(principal)
    now = at or dt.datetime.now(dt.UTC)
    async with transaction(principal) as session:
        await _close_kept(session, sorted(principal.tenant_ids))
        rows = (await session.execute(select(AgendaItem).where(
            AgendaItem.tenant_id.in_(sorted(principal.tenant_ids)),
            AgendaItem.state.in_(LIVE),
            or_(AgendaItem.assigned_to.is_(None),
                AgendaItem.assigned_to == principal.user_id))
            .order_by(AgendaItem.due_at > now, RANK, AgendaItem.due_at)
            .limit(limit))).scalars()
        return [await _item(session, row, now) for row in rows]
