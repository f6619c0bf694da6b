"""The demo's case in the legal queue: `regua up --demo` calls `seed_case` for a demo
creditor. It opens a judicial escalation for the debtor owing the oldest open debt, unless
the escalation rules already handed one off, and lets the cases job open the case with
its dossier; then gives it the demo's lawyer and a deadline. Once per tenant."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import exists, select

from core.access import DebtId, transaction
from core.auth.principal import Principal
from core.collection import ledger
from core.db import Scope
from core.models import Debt, DebtStatus
from legal.cases import service
from legal.cases.models import LegalCase
from legal.escalation import journal
from legal.escalation.models import Escalation, EscalationPath, EscalationState


async def seed_case(tenant_id: uuid.UUID) -> uuid.UUID | None:
    principal = Principal.system(Scope.tenant(tenant_id))
    async with transaction(principal) as session:
        if (await session.execute(select(LegalCase.id).limit(1))).first() is not None:
            return None
        handed = (await session.execute(select(Escalation.id).where(
            Escalation.path == EscalationPath.JUDICIAL,
            Escalation.state == EscalationState.HANDED_OFF).limit(1))).first()
        if handed is None:
            debt = (await session.execute(
                select(Debt).where(Debt.status == DebtStatus.OPEN, ~exists().where(
                    Escalation.tenant_id == Debt.tenant_id, Escalation.debt_id == Debt.id,
                    Escalation.closed_at.is_(None)))
                .order_by(Debt.due_date, Debt.id).limit(1))).scalar_one_or_none()
            if debt is None:
                return None
            balance = sum((await ledger.balances(session, [debt.id]))[debt.id].values(),
                          Decimal("0.00"))
            await journal.open_escalation(
                session, principal, DebtId(debt.id), EscalationPath.JUDICIAL,
                EscalationState.HANDED_OFF, amount=balance, rule_name="demonstração",
                note="título mais antigo da carteira de demonstração")
    opened = await service.open_handed_off(tenant_id)
    if not opened:
        return None
    async with transaction(principal) as session:
        lawyers = await service.lawyers_for(session, [tenant_id])
        today = await service.today_of(session, tenant_id)
    if lawyers:
        await service.assign(principal, opened[0], lawyers[0][0])
    await service.add_deadline(principal, opened[0], "Analisar o dossiê e os documentos",
                               today + dt.timedelta(days=2))
    return opened[0]
