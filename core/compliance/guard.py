"""The compliance guard: "may we contact this debtor on this channel now?"

`check` answers with every rule, in this order: the debtor's debts may be worked
(lifecycle, holds, prescription: `core.collection.workable`, not redefined here), the
debtor has not opted out of the channel, the channel's window is open in the debtor's
local time (state rules, the tenant's narrower windows, holidays), and the agency-wide
caps are not reached. The answer carries a stable code, the reason in Portuguese, and the
next moment every time-bound rule would allow the contact (None when allowed now, or
when only a person can lift the block: an opt-out, prescription, a hold with no end).

`check_calendar` is the pure part (windows, holidays, caps over given counts).
Every blocked attempt is recorded with `record_blocked`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import (
    ContactPointId,
    DebtId,
    DebtorId,
    TenantId,
    access_debtor,
    access_tenant_slug,
    transaction,
)
from core.auth.principal import Principal
from core.collection import agency_counts, contacts, interactions
from core.collection.workable import DebtFacts, HoldSpan, blocker, blocker_label, is_active
from core.compliance import caps, policy
from core.compliance.windows import closed_at, law_window, narrow, next_open
from core.db import Scope
from core.errors import NotFound, ValidationFailed
from core.models import (
    CHANNELS_BY_KIND,
    CauseKind,
    Channel,
    ContactKind,
    ContactOptOut,
    ContactPoint,
    Debt,
    Debtor,
    Hold,
    Interaction,
    Outcome,
)
from core.models.collection import CHANNEL_LABELS
from core.zones import ZONE_BY_UF, debtor_zone


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    code: str | None = None  # stable: outside_hours, holiday, cap_day, opted_out, hold:dispute...
    reason: str | None = None  # the same in Portuguese, for people
    next_allowed_at: dt.datetime | None = None

    def as_json(self, zone: str | None = None) -> dict[str, Any]:
        """The CLI's answer; the next moment in the debtor's zone when one is given."""
        when = self.next_allowed_at
        if when is not None and zone is not None:
            when = when.astimezone(ZoneInfo(zone))
        return {"allowed": self.allowed, "reason": self.reason, "code": self.code,
                "next_allowed_at": when.isoformat() if when else None}


ALLOWED = Verdict(True)
# `check(reserve=True, wait=False)` found the debtor's counter held by another sender: not
# a refusal to record, the decision waits for a moment.
IN_PROGRESS = "contact_in_progress"


def _aware(at: dt.datetime) -> dt.datetime:
    if at.tzinfo is None:
        raise ValueError("the moment needs its offset (use UTC)")
    return at


def next_allowed(channel: Channel, at: dt.datetime, *, state: str | None, zone: str,
                 tenant: policy.TenantPolicy | None = None,
                 counts: caps.Counts | None = None) -> dt.datetime | None:
    """The first moment from `at` on when the window is open, the day is not one of the
    tenant's quiet days and no cap holds, counting only the attempts already made (None:
    the window never opens)."""
    own = tenant or policy.NO_POLICY
    place = ZoneInfo(zone)
    window = narrow(law_window(state, channel), own.windows.get(channel))
    limits = caps.limits(channel, own.caps.get(channel))
    moment: dt.datetime | None = _aware(at)
    for _ in range(60):
        assert moment is not None
        moment = next_open(window, state, place, moment)
        if moment is None:
            return None
        day = moment.astimezone(place).date()
        if day in own.quiet_days:
            moment = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=place)
            continue
        hit = caps.breach(channel, day, counts, limits) if counts is not None else None
        if hit is None:
            return moment
        moment = dt.datetime.combine(hit.until, dt.time(0), tzinfo=place)
    return None


def check_calendar(channel: Channel, at: dt.datetime, *, state: str | None, zone: str,
                   tenant: policy.TenantPolicy | None = None,
                   counts: caps.Counts | None = None) -> Verdict:
    """Windows and holidays in `zone` for a debtor of `state`, the tenant's windows, quiet
    days and caps, and the caps over `counts` when given. Needs no database."""
    own = tenant or policy.NO_POLICY
    local = _aware(at).astimezone(ZoneInfo(zone))
    closed = closed_at(law_window(state, channel), own.windows.get(channel), state, channel,
                       local)
    # A day closed by law says so; a quiet day outranks the hour of the day.
    if closed is not None and (closed.code in ("holiday", "closed_day")
                               or local.date() not in own.quiet_days):
        code, reason = closed.code, closed.reason
    elif local.date() in own.quiet_days:
        code = "tenant_quiet_day"
        reason = (f"{local:%d/%m/%Y} é um dia sem contatos definido pelo credor: nenhum "
                  f"contato por {CHANNEL_LABELS[channel]}")
    else:
        limits = caps.limits(channel, own.caps.get(channel))
        hit = caps.breach(channel, local.date(), counts, limits) if counts is not None else None
        if hit is None:
            return ALLOWED
        code, reason = hit.code, hit.reason
    return Verdict(False, code, reason, next_allowed(
        channel, at, state=state, zone=zone, tenant=tenant, counts=counts))


# When every debt is blocked, the reason that says most: a hold, then prescription, then
# the lifecycle.
def _rank(code: str) -> int:
    return 0 if code.startswith("hold:") else 1 if code == "prescribed" else 2


def _resumes_at(debt: DebtFacts, holds: Sequence[HoldSpan], at: dt.datetime) -> dt.datetime | None:
    """When the holds that stop `debt` at `at` have all ended (None: not known)."""
    covering = [h for h in holds
                if (h.debt_id is None or h.debt_id == debt.id) and is_active(h, at)]
    ends = [h.ends_at for h in covering]
    if not ends or any(end is None for end in ends):
        return None
    return max(end for end in ends if end is not None)


async def _debts_blocker(session: AsyncSession, debtor: Debtor, debt_id: DebtId | None,
                         at: dt.datetime) -> Verdict | None:
    query = select(Debt).where(Debt.debtor_id == debtor.id)
    if debt_id is not None:
        query = query.where(Debt.id == debt_id)
    debts = [DebtFacts(d.id, d.status, d.due_date)
             for d in (await session.execute(query)).scalars()]
    holds: list[Hold] = list((await session.execute(
        select(Hold).where(Hold.debtor_id == debtor.id))).scalars())
    blockers = {d: blocker(d, holds, at, debtor.timezone) for d in debts}
    if any(code is None for code in blockers.values()):
        return None
    if not blockers:
        return Verdict(False, "no_debt", "nenhum título deste devedor para cobrar")
    code = min((c for c in blockers.values() if c is not None), key=_rank)
    resumes = [r for d, c in blockers.items() if c is not None and c.startswith("hold:")
               and (r := _resumes_at(d, holds, at)) is not None]
    return Verdict(False, code, blocker_label(code), min(resumes) if resumes else None)


async def _contact_blocker(session: AsyncSession, debtor_id: DebtorId, channel: Channel,
                           contact_point_id: ContactPointId | None) -> Verdict | None:
    label = CHANNEL_LABELS[channel]
    opted_out = Verdict(False, "opted_out",
                        f"o devedor pediu para não ser contatado por {label} neste contato")
    if contact_point_id is not None:
        point = (await session.execute(select(ContactPoint).where(
            ContactPoint.id == contact_point_id,
            ContactPoint.debtor_id == debtor_id))).scalar_one_or_none()
        if point is None:
            raise NotFound("contato")
        if channel not in CHANNELS_BY_KIND[ContactKind(point.kind)]:
            raise ValidationFailed({"channel": f"este contato não recebe {label}"})
        revoked = (await session.execute(select(ContactOptOut.id).where(
            ContactOptOut.contact_point_id == point.id, ContactOptOut.channel == channel,
            ContactOptOut.revoked_at.is_(None)))).first()
        return opted_out if revoked is not None else None
    if await contacts.usable(session, debtor_id, channel):
        return None
    any_opt_out = (await session.execute(
        select(ContactOptOut.id)
        .join(ContactPoint, (ContactPoint.tenant_id == ContactOptOut.tenant_id)
              & (ContactPoint.id == ContactOptOut.contact_point_id))
        .where(ContactPoint.debtor_id == debtor_id, ContactOptOut.channel == channel,
               ContactOptOut.revoked_at.is_(None)).limit(1))).first()
    if any_opt_out is not None:
        return Verdict(False, "opted_out",
                       f"o devedor pediu para não ser contatado por {label}")
    return Verdict(False, "no_contact_point", f"nenhum contato utilizável para {label}")


async def check(session: AsyncSession, debtor_id: DebtorId, channel: Channel,
                at: dt.datetime | None = None, *, debt_id: DebtId | None = None,
                contact_point_id: ContactPointId | None = None,
                reserve: bool = False, wait: bool = True) -> Verdict:
    """May `debtor_id` be contacted on `channel` at `at` (now by default)? Every rule.

    With `debt_id`, about that debt only; else the debtor may be contacted while one of
    its debts may be worked. With `contact_point_id`, about that phone or address.

    `reserve`: the caller is about to make the attempt and record it (`interactions.
    record`) in this transaction. The agency-wide counter of the debtor and channel is
    held until the transaction ends, so a sender to the same debtor elsewhere (another
    worker, another creditor) waits and then counts this attempt: both cannot pass a cap
    that only one attempt fits under.

    `wait=False` (with `reserve`): a counter another transaction holds answers
    `IN_PROGRESS` at once instead of waiting, for a caller that reserves several debtors
    in one transaction (`agency_counts.try_hold`)."""
    at = _aware(at) if at is not None else dt.datetime.now(dt.UTC)
    debtor = (await session.execute(select(Debtor).where(Debtor.id == debtor_id))).scalar_one()
    stopped = await _debts_blocker(session, debtor, debt_id, at)
    refused = await _contact_blocker(session, debtor_id, channel, contact_point_id)
    if stopped is not None and (stopped.next_allowed_at is None or refused is not None):
        # After the hold, an opt-out would still refuse: no moment to promise.
        return Verdict(False, stopped.code, stopped.reason)
    tenant = await policy.policy_of(session, TenantId(debtor.tenant_id))
    local_day = at.astimezone(ZoneInfo(debtor.timezone)).date()
    if reserve and stopped is None and refused is None:
        if wait:
            await agency_counts.hold(session, debtor.document, channel)
        elif not await agency_counts.try_hold(session, debtor.document, channel):
            return Verdict(False, IN_PROGRESS, "outro contato com este devedor está sendo "
                           f"feito agora por {CHANNEL_LABELS[channel]}", at)
    counts = await caps.load_counts(session, debtor.document, local_day)
    if stopped is not None:
        assert stopped.next_allowed_at is not None
        return Verdict(False, stopped.code, stopped.reason, next_allowed(
            channel, stopped.next_allowed_at, state=debtor.state, zone=debtor.timezone,
            tenant=tenant, counts=counts))
    if refused is not None:
        return refused
    return check_calendar(channel, at, state=debtor.state, zone=debtor.timezone,
                          tenant=tenant, counts=counts)


async def record_blocked(session: AsyncSession, debtor_id: DebtorId, channel: Channel,
                         verdict: Verdict, *, cause_kind: CauseKind,
                         process: str | None = None, user_id: uuid.UUID | None = None,
                         debt_id: uuid.UUID | None = None,
                         contact_point_id: uuid.UUID | None = None,
                         cause_id: uuid.UUID | None = None,
                         at: dt.datetime | None = None) -> Interaction:
    """Record the attempt the guard refused, with its reason code, on the timeline.

    A blocked attempt does not add to the agency-wide counts."""
    if verdict.allowed or verdict.code is None:
        raise ValueError("only a refused attempt is recorded as blocked")
    return await interactions.record(
        session, debtor_id=debtor_id, channel=channel, outcome=Outcome.BLOCKED,
        cause_kind=cause_kind, process=process, user_id=user_id, debt_id=debt_id,
        contact_point_id=contact_point_id, cause_id=cause_id, started_at=at,
        details={"reason": verdict.code})


def _state(value: str | None) -> str | None:
    if value is None:
        return None
    state = value.strip().upper()
    if state not in ZONE_BY_UF:
        raise ValidationFailed({"state": "UF desconhecida; use uma das 27 siglas (ex.: SP)"})
    return state


@dataclass(frozen=True)
class Answer:
    verdict: Verdict
    zone: str


async def answer(channel: str, at: dt.datetime, *, state: str | None = None,
                 tenant_slug: str | None = None,
                 debtor_id: uuid.UUID | None = None) -> Answer:
    """The operator's question (`regua compliance check`): with only a state, windows and
    holidays; with a tenant, its narrower windows too; with a debtor, every rule."""
    try:
        chosen = Channel(channel)
    except ValueError:
        raise ValidationFailed({"channel": "canal inválido; use "
                                + ", ".join(c.value for c in Channel)}) from None
    uf = _state(state)
    if tenant_slug is None and debtor_id is None:
        if uf is None:
            raise ValidationFailed({"state": "informe a UF do devedor (--state)"})
        zone = debtor_zone(uf)
        return Answer(check_calendar(chosen, at, state=uf, zone=zone), zone)
    return await _answer_from_database(chosen, at, uf, tenant_slug, debtor_id)


async def _answer_from_database(channel: Channel, at: dt.datetime, state: str | None,
                                tenant_slug: str | None,
                                debtor_id: uuid.UUID | None) -> Answer:
    from core.maintenance import operator
    from core.runtime import get_db

    try:
        principal = await operator()
        tenant_id: TenantId | None = None
        if tenant_slug is not None:
            async with transaction(principal) as session:
                tenant_id = await access_tenant_slug(session, principal, tenant_slug)
            principal = Principal.system(Scope.tenant(tenant_id))
        async with transaction(principal) as session:
            if debtor_id is None:
                assert tenant_id is not None
                if state is None:
                    raise ValidationFailed({"state": "informe a UF do devedor (--state)"})
                tenant = await policy.policy_of(session, tenant_id)
                zone = debtor_zone(state)
                return Answer(check_calendar(channel, at, state=state, zone=zone,
                                             tenant=tenant), zone)
            checked = await access_debtor(session, principal, debtor_id)
            zone = (await session.execute(
                select(Debtor.timezone).where(Debtor.id == checked))).scalar_one()
            return Answer(await check(session, checked, channel, at), zone)
    finally:
        await get_db().dispose()
