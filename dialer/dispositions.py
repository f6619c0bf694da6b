"""Dispositions: what the agent says of a call when it ends.

Each records an interaction outcome on the debtor's timeline (or completes the dialer's
own interaction of that call), grades the phone, sets holds (deceased, dispute) and
updates the agenda: a promise to pay or a callback puts the debtor back on it, any other
disposition closes the debtor's item.
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
from core.access import DebtorId, access_debtor, transaction
from core.auth.principal import Principal
from core.collection import holds, interactions, notes
from core.errors import NotFound, ValidationFailed
from core.models import CauseKind, Channel, ContactPoint, Debtor, HoldKind, Outcome
from dialer import agenda
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
PROMISE_CALL_AT = dt.time(9, 0)  # a promise's day: the agenda reminds at 9h the debtor's time


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
        if parsed.note:
            await notes.add_note(session, principal, checked, parsed.note)
        item_id = await _agenda(session, principal, debtor, parsed, now)
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
    row = await interactions.record(
        session, debtor_id=debtor_id, channel=Channel.CALL, outcome=outcome,
        cause_kind=CauseKind.CAMPAIGN if record else CauseKind.AGENT,
        cause_id=record.campaign_id if record else None, user_id=principal.user_id,
        contact_point_id=graded, started_at=record.dialed_at if record else now,
        answered_at=now, ended_at=now, details=details)
    return row.id


async def _agenda(session: AsyncSession, principal: Principal, debtor: Debtor,
                  parsed: Parsed, now: dt.datetime) -> uuid.UUID | None:
    if parsed.disposition is Disposition.PROMISE and parsed.promise_date is not None:
        due = dt.datetime.combine(parsed.promise_date, PROMISE_CALL_AT,
                                  tzinfo=ZoneInfo(debtor.timezone))
        row = await agenda.add_item(session, debtor.tenant_id, debtor.id,
                                    AgendaKind.PROMISE, due, created_by=principal.user_id,
                                    amount=parsed.amount, promised_on=parsed.promise_date)
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
