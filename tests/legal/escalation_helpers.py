"""Debtors and debts for the escalation tests, placed as an import leaves them."""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass
from decimal import Decimal

from core.access import DebtId, transaction
from core.auth.principal import Principal
from core.collection import ledger
from core.collection.workable import add_years
from core.db import Scope
from core.ids import uuid7
from core.models import Bucket, ContactPoint, Debt, Debtor, EntryKind
from core.zones import debtor_zone
from tests.legal.helpers import creditor, set_address


def random_cpf() -> str:
    base = [random.randint(0, 9) for _ in range(9)]
    for weights in (range(10, 1, -1), range(11, 1, -1)):
        total = sum(v * w for v, w in zip(base, weights, strict=False))
        digit = 11 - total % 11
        base.append(0 if digit >= 10 else digit)
    return "".join(map(str, base))


def system(tenant_id: uuid.UUID) -> Principal:
    return Principal.system(Scope.tenant(tenant_id))


@dataclass
class Placed:
    debtor_id: uuid.UUID
    debt_ids: list[uuid.UUID]
    document: str
    email: str


async def place(database_url: str, tenant_id: uuid.UUID, *, state: str = "MG",
                due_dates: tuple[dt.date, ...] = (), days_overdue: tuple[int, ...] = (90,),
                amounts: tuple[str, ...] | None = None, email: bool = True,
                address: bool = True, phone: bool = True, name: str = "Maria da Silva"
                ) -> Placed:
    """A debtor of `state` with an address, e-mail and phone, and one open debt per due
    date (or per days overdue from today)."""
    set_address(database_url, tenant_id)
    staff = creditor(tenant_id)
    dues = list(due_dates) or [dt.date.today() - dt.timedelta(days=d) for d in days_overdue]
    values = list(amounts or ["500.00"] * len(dues))
    mail = f"devedor-{uuid.uuid4().hex[:8]}@exemplo.com.br"
    document = random_cpf()
    async with transaction(staff) as session:
        debtor = Debtor(tenant_id=tenant_id, id=uuid7(), document=document,
                        document_kind="cpf", name=name, state=state,
                        timezone=debtor_zone(state))
        session.add(debtor)
        points = []
        if address:
            points.append(("address", f"Rua das Flores, 10 - Centro, Cidade/{state}",
                           {"street": "Rua das Flores, 10", "city": "Belo Horizonte",
                            "state": state, "zip": "30110000"}))
        if email:
            points.append(("email", mail, None))
        if phone:
            points.append(("phone", "+5531987654" + str(random.randint(100, 999)), None))
        for kind, value, details in points:
            session.add(ContactPoint(tenant_id=tenant_id, id=uuid7(), debtor_id=debtor.id,
                                     kind=kind, value=value, details=details,
                                     source="portfolio"))
        ids = []
        for due, value in zip(dues, values, strict=True):
            debt = Debt(tenant_id=tenant_id, id=uuid7(), debtor_id=debtor.id,
                        portfolio_id=uuid7(), last_portfolio_id=uuid7(),
                        contract=f"CT{uuid.uuid4().hex[:8].upper()}", installment=1,
                        original_amount=Decimal(value), current_balance=Decimal("0"),
                        due_date=due)
            session.add(debt)
            await session.flush()
            await ledger.post(session, staff, DebtId(debt.id), [
                (Bucket.PRINCIPAL, EntryKind.PLACEMENT, Decimal(value))], source="portfolio")
            ids.append(debt.id)
    return Placed(debtor.id, ids, document, mail)


def years_ago(years: int, plus_days: int = 0) -> dt.date:
    return add_years(dt.date.today(), -years) + dt.timedelta(days=plus_days)
