"""What staff do on a debtor's file: notes, holds, contact points. Each action is one
transaction that checks access to everything it names (another tenant's debtor, debt,
hold or contact point is "not found"), refuses roles that only read, and calls the rule
in `core.collection`, which audits the change."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import (
    ContactPointId,
    DebtId,
    DebtorId,
    access_contact_point,
    access_debt,
    access_debtor,
    access_hold,
    transaction,
)
from core.auth.principal import Principal
from core.collection import contacts, holds, notes
from core.debtors.file import build_file, may_act
from core.debtors.schemas import DebtorFile, NoteOut
from core.errors import Forbidden, NotFound, ValidationFailed
from core.models import ContactPoint, Hold, HoldKind


def _may_act(principal: Principal) -> None:
    if not may_act(principal):
        raise Forbidden("seu perfil pode consultar a ficha, mas não alterá-la")


async def _contact_of(session: AsyncSession, principal: Principal, debtor_id: DebtorId,
                      contact_id: uuid.UUID) -> ContactPointId:
    checked = await access_contact_point(session, principal, contact_id)
    owner = (await session.execute(
        select(ContactPoint.debtor_id).where(ContactPoint.id == checked))).scalar_one()
    if owner != debtor_id:
        raise NotFound("contato")
    return checked


async def _file(session: AsyncSession, principal: Principal,
                debtor_id: DebtorId) -> DebtorFile:
    return await build_file(session, principal, debtor_id, dt.datetime.now(dt.UTC))


async def add_note(principal: Principal, debtor_id: uuid.UUID, body: str | None) -> NoteOut:
    _may_act(principal)
    async with transaction(principal) as session:
        checked = await access_debtor(session, principal, debtor_id)
        note = await notes.add_note(session, principal, checked, body)
        return NoteOut(id=note.id, debtor_id=note.debtor_id, body=note.body,
                       author=note.author_email, created_at=note.created_at)


async def set_hold(principal: Principal, debtor_id: uuid.UUID, kind: str | None,
                   reason: str | None, debt_id: uuid.UUID | None = None) -> DebtorFile:
    """Stop collecting one debt, or every debt of the debtor; the file after it."""
    _may_act(principal)
    async with transaction(principal) as session:
        checked = await access_debtor(session, principal, debtor_id)
        chosen = holds.parse_kind(kind)
        debt: DebtId | None = None
        if debt_id is not None:
            if chosen is HoldKind.DECEASED:
                raise ValidationFailed({"debt_id": "o falecimento vale para todos os títulos"
                                                   " do devedor"})
            debt = await access_debt(session, principal, debt_id)
        await holds.set_hold(session, principal, checked, chosen, reason or "", debt_id=debt)
        return await _file(session, principal, checked)


async def end_hold(principal: Principal, debtor_id: uuid.UUID, hold_id: uuid.UUID,
                   reason: str | None) -> DebtorFile:
    _may_act(principal)
    async with transaction(principal) as session:
        checked = await access_debtor(session, principal, debtor_id)
        hold = await access_hold(session, principal, hold_id)
        owner = (await session.execute(
            select(Hold.debtor_id).where(Hold.id == hold))).scalar_one()
        if owner != checked:
            raise NotFound("bloqueio")
        await holds.end_hold(session, principal, hold, reason or "")
        return await _file(session, principal, checked)


async def set_quality(principal: Principal, debtor_id: uuid.UUID, contact_id: uuid.UUID,
                      quality: str | None) -> DebtorFile:
    _may_act(principal)
    async with transaction(principal) as session:
        checked = await access_debtor(session, principal, debtor_id)
        contact = await _contact_of(session, principal, checked, contact_id)
        await contacts.set_quality(session, principal, contact, quality or "")
        return await _file(session, principal, checked)


async def opt_out(principal: Principal, debtor_id: uuid.UUID, contact_id: uuid.UUID,
                  channel: str | None, source: str | None = "debtor",
                  note: str | None = None) -> DebtorFile:
    _may_act(principal)
    async with transaction(principal) as session:
        checked = await access_debtor(session, principal, debtor_id)
        contact = await _contact_of(session, principal, checked, contact_id)
        await contacts.opt_out(session, principal, contact, channel or "",
                               source=source or "debtor", note=note)
        return await _file(session, principal, checked)


async def revoke_opt_out(principal: Principal, debtor_id: uuid.UUID, contact_id: uuid.UUID,
                         channel: str | None) -> DebtorFile:
    _may_act(principal)
    async with transaction(principal) as session:
        checked = await access_debtor(session, principal, debtor_id)
        contact = await _contact_of(session, principal, checked, contact_id)
        await contacts.revoke_opt_out(session, principal, contact, channel or "")
        return await _file(session, principal, checked)
