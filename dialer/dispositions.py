"""Dispositions: what the agent says of a call when it ends.

Each records an interaction outcome on the debtor's timeline (or completes the dialer's
own interaction of that call), grades the phone, sets holds (deceased, dispute) and
updates the agenda: a promise to pay or a callback puts the debtor back on it, any other
disposition closes the debtor's item.

The debtor's cadence hears of it through what core already reads, holds and contact
points (the plan skips held debts, the guard refuses a held debtor and an unusable phone
at every send), never through the cadence's internals:

* a promise to pay is a `promise` hold until the promised day plus
  `PROMISE_TOLERANCE_DAYS` (the payment's time to arrive): the cadence's messages and
  calls, the dialer's lists and the agenda's other items wait; the agenda calls the
  debtor the morning the hold ends (the promise is broken by then); a new promise
  replaces the old one; a payment that reaches the promised amount ends the hold at once
  and, kept by the day, takes the item off the agenda (`core.collection.promises`);
* a refusal to pay ends a promise still running, so the cadence resumes at once;
* a wrong number grades the phone `wrong_party`: no list, step or agenda uses it again,
  and a dialer call's list entry is due again for the debtor's next phone, if any;
* a callback is the agenda's (at the debtor's time, for this agent); the cadence goes on.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from enum import StrEnum
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import DebtorId, HoldId, access_debtor, transaction
from core.auth.principal import Principal
from core.collection import holds, interactions, notes, promises
from core.errors import NotFound, ValidationFailed
from core.models import CauseKind, Channel, ContactPoint, Debtor, HoldKind, Outcome
from dialer import agenda, campaigns
from dialer.models import AgendaItem, AgendaKind, AgendaState, CallRecord


class Disposition(StrEnum):
    PROMISE = "promise"
    CALLBACK = "callback"
    REFUSED = "refused"
    WRONG_NUMBER = "wrong_number"
    NOT_DEBTOR = "not_debtor"
    DECEASED = "deceased"
    DISPUTE = "dispute"


LABELS = {
    Disposition.PROMISE: "Promessa de pagamento", Disposition.CALLBACK: "Retornar ligação",
    Disposition.REFUSED: "Recusou pagar", Disposition.WRONG_NUMBER: "Número errado",
    Disposition.NOT_DEBTOR: "Não é o devedor (terceiro atendeu)",
    Disposition.DECEASED: "Devedor falecido", Disposition.DISPUTE: "Contesta a dívida",
}

# The outcome on the timeline; it grades the phone the call used (wrong number: the
# phone is not the debtor's and leaves the lists). A third party answering says nothing
# of the phone, so that one is recorded without grading it.
OUTCOMES = {
    Disposition.PROMISE: Outcome.ANSWERED, Disposition.CALLBACK: Outcome.ANSWERED,
    Disposition.REFUSED: Outcome.ANSWERED, Disposition.WRONG_NUMBER: Outcome.WRONG_PARTY,
    Disposition.NOT_DEBTOR: Outcome.ANSWERED, Disposition.DECEASED: Outcome.ANSWERED,
    Disposition.DISPUTE: Outcome.ANSWERED,
}
HOLDS = {Disposition.DECEASED: HoldKind.DECEASED, Disposition.DISPUTE: HoldKind.DISPUTE}
HOLD_REASONS = {Disposition.DECEASED: "Falecimento informado na ligação",
                Disposition.DISPUTE: "Dívida contestada na ligação"}
PROMISE_HORIZON = dt.timedelta(days=60)
CALLBACK_HORIZON = dt.timedelta(days=30)
PROMISE_CALL_AT = dt.time(9, 0)  # a broken promise: the agenda calls at 9h the debtor's time
PROMISE_TOLERANCE_DAYS = 2  # after the promised day, for the payment to arrive


@dataclass(frozen=True)
class Form:
    """The desktop's form, as typed (strings); `parse` validates it."""

    disposition: str
    promise_date: str = ""
    promise_amount: str = ""
    callback_date: str = ""
    callback_time: str = ""
    note: str = ""


@dataclass(frozen=True)
class Parsed:
    disposition: Disposition
    promise_date: dt.date | None
    amount: Decimal | None
    callback_at: dt.datetime | None
    note: str


def parse(form: Form, zone: ZoneInfo, now: dt.datetime) -> Parsed:
    errors: dict[str, str] = {}
    try:
        kind = Disposition(form.disposition)
    except ValueError:
        raise ValidationFailed({"disposition": "escolha o resultado da ligação"}) from None
    today = now.astimezone(zone).date()
    promise_date = amount = callback_at = None
    if kind is Disposition.PROMISE:
        try:
            promise_date = dt.date.fromisoformat(form.promise_date.strip())
        except ValueError:
            errors["promise_date"] = "informe a data prometida"
        else:
            if promise_date < today:
                errors["promise_date"] = "a data prometida não pode estar no passado"
            elif promise_date > today + PROMISE_HORIZON:
                errors["promise_date"] = "a data prometida vai até 60 dias a partir de hoje"
        raw = form.promise_amount.strip().replace("R$", "").strip()
        if "," in raw:
            raw = raw.replace(".", "").replace(",", ".")
        try:
            amount = Decimal(raw)
        except InvalidOperation:
            errors["promise_amount"] = "informe o valor prometido (ex.: 150,00)"
        else:
            if not amount.is_finite() or amount <= 0:
                errors["promise_amount"] = "o valor prometido deve ser maior que zero"
            else:
                amount = amount.quantize(Decimal("0.01"))
    if kind is Disposition.CALLBACK:
        try:
            day = dt.date.fromisoformat(form.callback_date.strip())
        except ValueError:
            errors["callback_date"] = "informe a data do retorno"
            day = None
        try:
            hour = dt.time.fromisoformat(form.callback_time.strip())
        except ValueError:
            errors["callback_time"] = "informe a hora do retorno"
            hour = None
        if day is not None and hour is not None:
            callback_at = dt.datetime.combine(day, hour, tzinfo=zone)
            if callback_at <= now:
                errors["callback_time"] = "o retorno deve ser depois de agora"
            elif callback_at > now + CALLBACK_HORIZON:
                errors["callback_date"] = "o retorno vai até 30 dias a partir de hoje"
    note = form.note.strip()
    if len(note) > notes.NOTE_MAX:
        errors["note"] = f"a anotação tem {len(note)} caracteres; o máximo é {notes.NOTE_MAX}"
    if errors:
        raise ValidationFailed(errors)
    return Parsed(kind, promise_date, amount, callback_at, note)


@dataclass(frozen=True)
class Saved:
    disposition: Disposition
    interaction_id: uuid.UUID
    agenda_item_id: uuid.UUID | None  # the promise's or callback's item


async def _call(session: AsyncSession, principal: Principal, debtor_id: uuid.UUID,
                call_id: uuid.UUID | None) -> CallRecord | None:
    if call_id is None:
        return None
    record = (await session.execute(select(CallRecord).where(
        CallRecord.id == call_id))).scalar_one_or_none()
    if record is None or record.debtor_id != debtor_id:
        raise NotFound("ligação")
    return record


async def _phone(session: AsyncSession, debtor_id: uuid.UUID,
                 contact_point_id: uuid.UUID | None) -> uuid.UUID | None:
    if contact_point_id is None:
        return None
    owner = (await session.execute(select(ContactPoint.debtor_id).where(
        ContactPoint.id == contact_point_id))).scalar_one_or_none()
    if owner != debtor_id:
        raise NotFound("contato")
    return contact_point_id


async def dispose(principal: Principal, debtor_id: uuid.UUID, form: Form, *,
                  call_id: uuid.UUID | None = None,
                  contact_point_id: uuid.UUID | None = None,
                  at: dt.datetime | None = None) -> Saved:
    """Save the agent's disposition of a call to `debtor_id` (the dialer's `call_id`,
    or a call the agent placed from the agenda on `contact_point_id`)."""
    agenda.may_work_agenda(principal)
    now = at or dt.datetime.now(dt.UTC)
    async with transaction(principal) as session:
        checked = await access_debtor(session, principal, debtor_id)
        debtor = (await session.execute(select(Debtor).where(
            Debtor.id == checked))).scalar_one()
        parsed = parse(form, ZoneInfo(debtor.timezone), now)
        record = await _call(session, principal, checked, call_id)
        phone = record.contact_point_id if record else await _phone(
            session, checked, contact_point_id)
        interaction_id = await _record(session, principal, checked, parsed, record, phone,
                                       now)
        if parsed.disposition in HOLDS:
            await holds.set_hold(session, principal, checked, HOLDS[parsed.disposition],
                                 parsed.note or HOLD_REASONS[parsed.disposition], at=now)
        promise_hold = None
        if parsed.disposition is Disposition.PROMISE:
            promise_hold = await _pause_for_promise(session, principal, debtor, parsed, now)
        elif parsed.disposition is Disposition.REFUSED:
            await _end_promises(session, principal, checked, "o devedor recusou pagar na"
                                " ligação", now)
        elif parsed.disposition is Disposition.WRONG_NUMBER and record is not None:
            await campaigns.next_phone(session, record, now)
        if parsed.note:
            await notes.add_note(session, principal, checked, parsed.note)
        item_id = await _agenda(session, principal, debtor, parsed, now, promise_hold)
        await audit.record(session, principal.actor, "dialer.disposition",
                           tenant_id=debtor.tenant_id, entity="debtor", entity_id=debtor.id,
                           after={"disposition": parsed.disposition,
                                  "promise_date": parsed.promise_date,
                                  "amount": parsed.amount, "callback_at": parsed.callback_at,
                                  "call_id": call_id, "interaction_id": interaction_id})
        return Saved(parsed.disposition, interaction_id, item_id)


async def _record(session: AsyncSession, principal: Principal, debtor_id: DebtorId,
                  parsed: Parsed, record: CallRecord | None, phone: uuid.UUID | None,
                  now: dt.datetime) -> uuid.UUID:
    details: dict[str, Any] = {"disposition": parsed.disposition.value}
    if parsed.promise_date is not None:
        details["promise_date"] = parsed.promise_date.isoformat()
        details["promise_amount"] = str(parsed.amount)
    if parsed.callback_at is not None:
        details["callback_at"] = parsed.callback_at.isoformat()
    outcome = OUTCOMES[parsed.disposition]
    graded = None if parsed.disposition is Disposition.NOT_DEBTOR else phone
    if record is not None and record.interaction_id is not None:
        # The dialer recorded the attempt when the call ended: the disposition is the
        # rest of what happened on it, not another attempt (the caps count attempts).
        row = await interactions.update_outcome(session, record.interaction_id, outcome,
                                                at=now, details=details)
        return row.id
    if record is not None:
        details["call_record_id"] = str(record.id)
    # A dialer call counted when it was placed, an agenda call when the agent took the
    # debtor; a call the agent placed on its own counts now.
    counted = record is not None or await agenda.holds_item(session, principal, debtor_id)
    row = await interactions.record(
        session, debtor_id=debtor_id, channel=Channel.CALL, outcome=outcome,
        cause_kind=CauseKind.CAMPAIGN if record else CauseKind.AGENT,
        cause_id=record.campaign_id if record else None, user_id=principal.user_id,
        contact_point_id=graded, started_at=record.dialed_at if record else now,
        answered_at=now, ended_at=now, details=details, counted=counted)
    return row.id


def promise_ends(promised: dt.date, zone: str) -> dt.datetime:
    """When a promise's pause ends: the start of the day after its tolerance."""
    day = promised + dt.timedelta(days=PROMISE_TOLERANCE_DAYS + 1)
    return dt.datetime.combine(day, dt.time(0), tzinfo=ZoneInfo(zone))


async def _end_promises(session: AsyncSession, principal: Principal, debtor_id: DebtorId,
                        reason: str, now: dt.datetime) -> None:
    for hold in await holds.active_holds(session, debtor_id, HoldKind.PROMISE, now):
        await holds.end_hold(session, principal, HoldId(hold.id), reason, at=now)


async def _pause_for_promise(session: AsyncSession, principal: Principal, debtor: Debtor,
                             parsed: Parsed, now: dt.datetime) -> uuid.UUID:
    assert parsed.promise_date is not None and parsed.amount is not None
    debtor_id = DebtorId(debtor.id)
    await _end_promises(session, principal, debtor_id, "substituída por nova promessa", now)
    hold = await promises.set_promise(
        session, principal, debtor_id, parsed.amount, parsed.promise_date,
        at=now, until=promise_ends(parsed.promise_date, debtor.timezone))
    return hold.id


async def _agenda(session: AsyncSession, principal: Principal, debtor: Debtor,
                  parsed: Parsed, now: dt.datetime,
                  promise_hold: uuid.UUID | None) -> uuid.UUID | None:
    if parsed.disposition is Disposition.PROMISE and parsed.promise_date is not None:
        # The debtor is not called while the promise runs (its hold): the agenda calls
        # the morning it ends, when the promise is broken. The hold is its source: a
        # payment that keeps the promise marks the hold, and the agenda drops the item.
        resumes = promise_ends(parsed.promise_date, debtor.timezone)
        due = dt.datetime.combine(resumes.date(), PROMISE_CALL_AT, tzinfo=resumes.tzinfo)
        row = await agenda.add_item(session, debtor.tenant_id, debtor.id,
                                    AgendaKind.PROMISE, due, created_by=principal.user_id,
                                    amount=parsed.amount, promised_on=parsed.promise_date,
                                    source_id=promise_hold)
        return row.id
    if parsed.disposition is Disposition.CALLBACK and parsed.callback_at is not None:
        row = await agenda.add_item(session, debtor.tenant_id, debtor.id,
                                    AgendaKind.CALLBACK, parsed.callback_at,
                                    created_by=principal.user_id,
                                    assigned_to=principal.user_id)
        return row.id
    await session.execute(update(AgendaItem).where(
        AgendaItem.tenant_id == debtor.tenant_id, AgendaItem.debtor_id == debtor.id,
        AgendaItem.state.in_(agenda.LIVE))
        .values(state=AgendaState.DONE, disposition=parsed.disposition, closed_at=now))
    return None
