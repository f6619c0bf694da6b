"""The book the negotiation tests share: two creditors and their Josés, imported as a
portfolio is, Alfa's agent, supervisor and creditor admin, and the agency's admin."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from core.db import Scope
from core.models import Debt, Debtor
from tests.legal.helpers import JOSE, load, principal


@pytest.fixture
async def book(db, factory, services, tmp_path):
    """Alfa's José owes R$ 1.000,00 due 10/06/2024 (the worked example) and R$ 500,00
    due 10/08/2024; Beta has a José of its own."""
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    await load(tmp_path, alfa, [
        f"{JOSE};José da Conceição;CT-1;1;10/06/2024;1000,00;(11) 98765-4321;jose@ex.com",
        f"{JOSE};José da Conceição;CT-1;2;10/08/2024;500,00;(11) 98765-4321;jose@ex.com"])
    await load(tmp_path, beta, [
        f"{JOSE};José Beta;CT-9;1;10/06/2024;700,00;(11) 98765-4321;jose@ex.com"])
    async with db.transaction(Scope.tenant(alfa.id)) as session:
        jose = (await session.execute(select(Debtor.id))).scalar_one()
        debts = {d.installment: d.id for d in (await session.execute(select(Debt))).scalars()}
    async with db.transaction(Scope.tenant(beta.id)) as session:
        jose_beta = (await session.execute(select(Debtor.id))).scalar_one()
    agent = await factory.user("agent", tenant_ids=[alfa.id])
    supervisor = await factory.user("supervisor", tenant_ids=[alfa.id])
    creditor = await factory.user("creditor_admin", tenant_id=alfa.id)
    admin = await factory.user("admin", tenant_ids=[alfa.id, beta.id])
    return {"alfa": alfa, "beta": beta, "jose": jose, "jose_beta": jose_beta, "debts": debts,
            "agent": agent, "supervisor": supervisor, "creditor": creditor, "admin": admin,
            "p_admin": await principal(db, admin),
            "p_agent": await principal(db, agent),
            "p_supervisor": await principal(db, supervisor),
            "p_creditor": await principal(db, creditor)}
