"""The one way an escalation is opened or moved: every change writes its event (who or
which rule, from which state to which, why), and changes made by a person are audited.
Bureau, protest and judicial services all go through here, so the history a creditor or
a court reads back is complete whatever path a debt took."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, NewType

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import DebtId, tenant_of
from core.auth.principal import Principal
from core.errors import Conflict
from core.ids import uuid7
from core.models import Debt
from legal.escalation.models import (
    FINISHED,
    Escalation,
    EscalationEvent,
    EscalationPath,
    EscalationState,
)

EscalationId = NewType("EscalationId", uuid.UUID)


async def access_escalation(session: AsyncSession, principal: Principal,
                            escalation_id: uuid.UUID) -> EscalationId:
    await tenant_of(session, Escalation, escalation_id, principal, "escalonamento")
    return EscalationId(escalation_id)


async def open_escalation(session: AsyncSession, principal: Principal, debt_id: DebtId,
                          path: EscalationPath, state: EscalationState, *,
                          amount: Decimal, rule_id: uuid.UUID | None = None,
                          rule_name: str | None = None, note: str | None = None,
                          deadline_on: dt.date | None = None,
                          details: dict[str, Any] | None = None,
                          at: dt.datetime | None = None) -> Escalation:
    """Start `debt_id` down `path`. A rule opens it (`rule_name`), or a person (then the
    rule name is "manual"). A debt has at most one unfinished escalation."""
    now = at or dt.datetime.now(dt.UTC)
    debt = (await session.execute(select(Debt).where(Debt.id == debt_id))).scalar_one()
    running = (await session.execute(select(Escalation.id).where(
        Escalation.debt_id == debt_id, Escalation.closed_at.is_(None)))).first()
    if running is not None:
        raise Conflict("este título já está em escalonamento")
    by_person = not principal.is_system
    escalation = Escalation(
        tenant_id=debt.tenant_id, id=uuid7(), debt_id=debt.id, debtor_id=debt.debtor_id,
        path=path, state=state, rule_id=rule_id, rule_name=rule_name or "manual",
        amount=amount, decided_at=now, decided_by=principal.user_id if by_person else None,
        state_changed_at=now, deadline_on=deadline_on, details=details or {})
    session.add(escalation)
    await session.flush()
    _event(session, principal, escalation, None, state, now, note, escalation.rule_name)
    if by_person:
        await audit.record(session, principal.actor, "escalation.opened",
                           tenant_id=debt.tenant_id, entity="debt", entity_id=debt.id,
                           after={"escalation_id": escalation.id, "path": path,
                                  "state": state, "note": note})
    return escalation


async def move(session: AsyncSession, principal: Principal, escalation: Escalation,
               to_state: EscalationState, *, note: str | None = None,
               rule_name: str | None = None, deadline_on: dt.date | None = None,
               at: dt.datetime | None = None) -> None:
    """Move `escalation` to `to_state`; a finished state closes it. The caller holds the
    row (SELECT ... FOR UPDATE) and checks the move is allowed for its path."""
    if escalation.closed_at is not None:
        raise Conflict("este escalonamento já foi encerrado")
    now = at or dt.datetime.now(dt.UTC)
    before = escalation.state
    escalation.state = to_state
    escalation.state_changed_at = now
    escalation.deadline_on = deadline_on
    if to_state in FINISHED:
        escalation.closed_at = now
    _event(session, principal, escalation, before, to_state, now, note, rule_name)
    if not principal.is_system:
        await audit.record(session, principal.actor, "escalation.moved",
                           tenant_id=escalation.tenant_id, entity="escalation",
                           entity_id=escalation.id, before={"state": before},
                           after={"state": to_state, "note": note})


def _event(session: AsyncSession, principal: Principal, escalation: Escalation,
           from_state: str | None, to_state: str, at: dt.datetime, note: str | None,
           rule_name: str | None) -> None:
    by_person = not principal.is_system
    session.add(EscalationEvent(
        tenant_id=escalation.tenant_id, id=uuid7(), escalation_id=escalation.id, at=at,
        from_state=from_state, to_state=to_state,
        actor_id=principal.user_id if by_person else None,
        actor_email=principal.email if by_person else None, rule_name=rule_name, note=note))
