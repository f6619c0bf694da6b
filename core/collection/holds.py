"""Holds: reasons to stop collecting (dispute, court plan, deceased, legal, creditor).

A hold covers one debt or, without a debt, every debt of the debtor. Setting and ending
one is audited; a deceased hold also marks the debtor deceased."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import DebtId, DebtorId, HoldId
from core.auth.principal import Principal
from core.errors import Conflict, ValidationFailed
from core.ids import uuid7
from core.models import Debt, Debtor, Hold, HoldKind

REASON_MAX = 1000


def _reason(text: str | None, field: str = "reason") -> str:
    reason = (text or "").strip()
    if not reason:
        raise ValidationFailed({field: "informe o motivo"})
    if len(reason) > REASON_MAX:
        raise ValidationFailed({field: f"o motivo tem {len(reason)} caracteres; o máximo é"
                                       f" {REASON_MAX}"})
    return reason


# Holds staff set by hand; a promise hold comes with the promise (a call's disposition),
# which gives its end.
MANUAL_KINDS = tuple(k for k in HoldKind if k is not HoldKind.PROMISE)


def parse_kind(value: str | None) -> HoldKind:
    """A kind staff may choose by hand."""
    try:
        kind = HoldKind(value or "")
    except ValueError:
        kind = None
    if kind not in MANUAL_KINDS:
        names = ", ".join(k.value for k in MANUAL_KINDS)
        raise ValidationFailed({"kind": f"tipo de bloqueio desconhecido; use {names}"})
    return kind


async def set_hold(session: AsyncSession, principal: Principal, debtor_id: DebtorId,
                   kind: HoldKind, reason: str, *, debt_id: DebtId | None = None,
                   at: dt.datetime | None = None, until: dt.datetime | None = None) -> Hold:
    """Stop collecting from `at` (now), until someone ends the hold or, with `until`,
    until then."""
    reason = _reason(reason)
    debtor = (await session.execute(
        select(Debtor).where(Debtor.id == debtor_id).with_for_update())).scalar_one()
    if debt_id is not None:
        owner = (await session.execute(
            select(Debt.debtor_id).where(Debt.id == debt_id))).scalar_one()
        if owner != debtor.id:
            raise ValidationFailed({"debt_id": "o título não é deste devedor"})
    now = at or dt.datetime.now(dt.UTC)
    if until is not None and until <= now:
        raise ValidationFailed({"until": "o bloqueio deve terminar depois de começar"})
    hold = Hold(tenant_id=debtor.tenant_id, id=uuid7(), debtor_id=debtor.id, debt_id=debt_id,
                kind=kind, reason=reason, starts_at=now, ends_at=until,
                set_by=principal.actor.id, set_by_email=principal.email)
    session.add(hold)
    if kind is HoldKind.DECEASED:
        debtor.deceased_on = now.date()
    await session.flush()
    await audit.record(session, principal.actor, "hold.set", tenant_id=debtor.tenant_id,
                       entity="debtor", entity_id=debtor.id,
                       after={"hold_id": hold.id, "kind": kind, "reason": reason,
                              "debt_id": debt_id, "until": until})
    return hold


async def end_hold(session: AsyncSession, principal: Principal, hold_id: HoldId,
                   reason: str, *, at: dt.datetime | None = None) -> Hold:
    reason = _reason(reason)
    hold = (await session.execute(
        select(Hold).where(Hold.id == hold_id).with_for_update())).scalar_one()
    now = at or dt.datetime.now(dt.UTC)
    # A hold set to end later (a promise's) may be ended sooner.
    if hold.ends_at is not None and hold.ends_at <= now:
        raise Conflict({"hold": "este bloqueio já foi encerrado"})
    hold.ends_at = max(now, hold.starts_at)
    hold.ended_by_email = principal.email
    hold.end_reason = reason
    if hold.kind == HoldKind.DECEASED:
        still = (await session.execute(select(Hold.id).where(
            Hold.debtor_id == hold.debtor_id, Hold.kind == HoldKind.DECEASED,
            Hold.ends_at.is_(None), Hold.id != hold.id).limit(1))).first()
        if still is None:
            debtor = (await session.execute(
                select(Debtor).where(Debtor.id == hold.debtor_id))).scalar_one()
            debtor.deceased_on = None
    await session.flush()
    await audit.record(session, principal.actor, "hold.ended", tenant_id=hold.tenant_id,
                       entity="debtor", entity_id=hold.debtor_id,
                       before={"hold_id": hold.id, "kind": hold.kind},
                       after={"end_reason": reason})
    return hold


async def active_holds(session: AsyncSession, debtor_id: DebtorId, kind: HoldKind,
                       at: dt.datetime | None = None) -> list[Hold]:
    """The debtor's holds of `kind` in force at `at` (now)."""
    now = at or dt.datetime.now(dt.UTC)
    return list((await session.execute(select(Hold).where(
        Hold.debtor_id == debtor_id, Hold.kind == kind, Hold.starts_at <= now,
        (Hold.ends_at.is_(None)) | (Hold.ends_at > now)))).scalars())


async def debtor_holds(session: AsyncSession, debtor_id: DebtorId) -> list[Hold]:
    return list((await session.execute(
        select(Hold).where(Hold.debtor_id == debtor_id).order_by(Hold.starts_at.desc())
    )).scalars())
