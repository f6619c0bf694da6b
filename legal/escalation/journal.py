"""The one way an escalation is opened or moved: every change writes its event (who or
which rule, from which state to which, why), and changes made by a person are audited.
Bureau, protest and judicial services all go through here, so the history a creditor or
a court reads back is complete whatever path a debt took."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any, NewType

from sqlalchemy import select, text
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


# A set of debts opened at once by rules: the caller's SELECT gives one row per debt
# (tenant_id, debt_id, debtor_id, path, state, rule_id, rule_name, amount); each becomes an
# escalation and its first event in two statements, never a row at a time. A debt that
# already has an unfinished escalation is skipped (the partial unique index).
OPEN_MANY = """
WITH cand AS ({candidates}),
opened AS (
    INSERT INTO escalation (tenant_id, id, debt_id, debtor_id, path, state, rule_id,
                            rule_name, amount, decided_at, state_changed_at, details)
    SELECT c.tenant_id, regua_uuid7(), c.debt_id, c.debtor_id, c.path, c.state, c.rule_id,
           c.rule_name, c.amount, :at, :at, '{{}}'::jsonb
    FROM cand c
    ON CONFLICT (tenant_id, debt_id) WHERE closed_at IS NULL DO NOTHING
    RETURNING tenant_id, id, state, rule_name, path
),
logged AS (
    INSERT INTO escalation_event (tenant_id, id, escalation_id, at, from_state, to_state,
                                  rule_name, note)
    SELECT tenant_id, regua_uuid7(), id, :at, NULL, state, rule_name, :note
    FROM opened
)
SELECT path, count(*) FROM opened GROUP BY path
"""


async def open_many(session: AsyncSession, principal: Principal, candidates: str,
                    params: dict[str, Any], at: dt.datetime, note: str) -> dict[str, int]:
    """Open an escalation for every row `candidates` (SQL) selects, as rules do; returns
    how many were opened by path."""
    if not principal.is_system:
        raise Conflict("só as regras abrem escalonamentos em lote")
    rows = await session.execute(text(OPEN_MANY.format(candidates=candidates)),
                                 {**params, "at": at, "note": note})
    return {path: count for path, count in rows}


async def hold(session: AsyncSession, principal: Principal, escalation: Escalation,
               reason: str, at: dt.datetime | None = None) -> None:
    """A supervisor or the legal team holds the file: it does not advance until released."""
    if escalation.closed_at is not None:
        raise Conflict("este escalonamento já foi encerrado")
    if escalation.held_since is not None:
        raise Conflict("este escalonamento já está retido")
    now = at or dt.datetime.now(dt.UTC)
    escalation.held_since, escalation.held_reason = now, reason
    escalation.held_by = None if principal.is_system else principal.user_id
    _event(session, principal, escalation, escalation.state, escalation.state, now,
           f"retido: {reason}", None)
    await audit.record(session, principal.actor, "escalation.held",
                       tenant_id=escalation.tenant_id, entity="escalation",
                       entity_id=escalation.id, after={"reason": reason})


async def release(session: AsyncSession, principal: Principal, escalation: Escalation,
                  reason: str, at: dt.datetime | None = None) -> None:
    if escalation.held_since is None:
        raise Conflict("este escalonamento não está retido")
    now = at or dt.datetime.now(dt.UTC)
    before = {"held_since": escalation.held_since, "reason": escalation.held_reason}
    escalation.held_since = escalation.held_by = escalation.held_reason = None
    _event(session, principal, escalation, escalation.state, escalation.state, now,
           f"liberado: {reason}", None)
    await audit.record(session, principal.actor, "escalation.released",
                       tenant_id=escalation.tenant_id, entity="escalation",
                       entity_id=escalation.id, before=before, after={"reason": reason})


def _event(session: AsyncSession, principal: Principal, escalation: Escalation,
           from_state: str | None, to_state: str, at: dt.datetime, note: str | None,
           rule_name: str | None) -> None:
    by_person = not principal.is_system
    session.add(EscalationEvent(
        tenant_id=escalation.tenant_id, id=uuid7(), escalation_id=escalation.id, at=at,
        from_state=from_state, to_state=to_state,
        actor_id=principal.user_id if by_person else None,
        actor_email=principal.email if by_person else None, rule_name=rule_name, note=note))
