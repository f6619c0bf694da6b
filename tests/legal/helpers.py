"""Shared pieces of the negotiation tests: the portfolio loader, principals, and an active
agreement over real debts, built the way the agreements service leaves one."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psycopg

from core.access import DebtId, transaction
from core.auth import service
from core.auth.principal import Principal
from core.auth.roles import Role
from core.collection import ledger
from core.ids import uuid7
from core.models import Bucket, ContactPoint, Debt, Debtor, EntryKind
from legal.models import Agreement, AgreementDebt, Installment
from portal.operator import import_portfolio

HEADER = "CPF/CNPJ;Nome;Contrato;Parcela;Vencimento;Valor;Telefone;E-mail"
JOSE = "52998224725"


AT = dt.date(2024, 10, 10)  # inside the shipped index series


async def principal(db, login) -> Principal:
    found = await service.load_principal(db, login.user_id)
    assert found is not None
    return found


async def load(tmp_path: Path, tenant, rows: list[str]) -> None:
    path = tmp_path / f"{uuid.uuid4().hex[:6]}.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n", encoding="utf-8")
    result = await import_portfolio(tenant.slug, str(path), None, "incremental", None)
    assert result["status"] == "done", result


def creditor(tenant_id: uuid.UUID, role: Role = Role.CREDITOR_ADMIN) -> Principal:
    return Principal(user_id=uuid7(), email="staff@credor.test", full_name="Staff",
                     role=role, tenant_id=tenant_id, tenant_ids=frozenset({tenant_id}))


def set_address(database_url: str, tenant_id: uuid.UUID) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("UPDATE tenant SET address = %s WHERE id = %s",
                     ("Rua do Credor, 100 - Centro, São Paulo/SP - 01001-000", tenant_id))


@dataclass
class Built:
    tenant_id: uuid.UUID
    principal: Principal
    debtor_id: uuid.UUID
    document: str
    debt_ids: list[uuid.UUID]
    agreement_id: uuid.UUID
    email: str
    phone: str


async def build_agreement(database_url: str, tenant_id: uuid.UUID, *,
                          amounts: tuple[str, ...] = ("100.00", "150.00"),
                          document: str = "52998224725", status: str = "active",
                          placed: tuple[tuple[str, str], ...] = (("300.00", "20.00"),),
                          ) -> Built:
    """Debts of (principal, interest) each, and an agreement paying `amounts` (installment 1
    first) for them: the rest of their balances is the agreement's discount."""
    set_address(database_url, tenant_id)
    staff = creditor(tenant_id)
    email = f"devedor-{uuid.uuid4().hex[:8]}@exemplo.com.br"
    phone = "+55119" + str(uuid.uuid4().int)[:8]
    today = dt.date.today()
    async with transaction(staff) as session:
        debtor = (await session.execute(
            Debtor.__table__.select().where(Debtor.document == document))).first()
        if debtor is None:
            row = Debtor(tenant_id=tenant_id, id=uuid7(), document=document,
                         document_kind="cpf", name="Ana Souza", state="SP")
            session.add(row)
            session.add_all([ContactPoint(tenant_id=tenant_id, id=uuid7(), debtor_id=row.id,
                                          kind=kind, value=value, source="portfolio")
                             for kind, value in (("email", email), ("phone", phone))])
            await session.flush()
            debtor_id = row.id
        else:
            debtor_id = debtor.id
        debt_ids = []
        for index, (principal_amount, interest) in enumerate(placed):
            debt = Debt(tenant_id=tenant_id, id=uuid7(), debtor_id=debtor_id,
                        portfolio_id=uuid7(), last_portfolio_id=uuid7(),
                        contract=f"CT-{uuid.uuid4().hex[:10]}", installment=index + 1,
                        original_amount=Decimal(principal_amount),
                        current_balance=Decimal("0"), due_date=today - dt.timedelta(days=200),
                        status="in_agreement")
            session.add(debt)
            await session.flush()
            await ledger.post(session, staff, DebtId(debt.id), [
                (Bucket.PRINCIPAL, EntryKind.PLACEMENT, Decimal(principal_amount)),
                (Bucket.INTEREST, EntryKind.CREDITOR_UPDATE, Decimal(interest))],
                source="portfolio")
            debt_ids.append(debt.id)
        total = sum((Decimal(a) for a in amounts), Decimal("0"))
        # As acceptance leaves it: the discount on the debts, interest first.
        forgive = sum((Decimal(p) + Decimal(i) for p, i in placed), Decimal("0")) - total
        for debt_id, (principal_amount, interest) in zip(debt_ids, placed, strict=True):
            lines = []
            for bucket, value in ((Bucket.INTEREST, Decimal(interest)),
                                  (Bucket.PRINCIPAL, Decimal(principal_amount))):
                off = min(value, forgive)
                if off > 0:
                    lines.append((bucket, EntryKind.DISCOUNT, -off))
                    forgive -= off
            await ledger.post(session, staff, DebtId(debt_id), lines, source="agreement")
        agreement = Agreement(
            tenant_id=tenant_id, id=uuid7(), debtor_id=debtor_id, status=status,
            reference_date=today, terms="Termos do acordo.", calculation={},
            option_label="teste", updated_balance=total, discount_total=Decimal("0"),
            installment_interest=Decimal("0"), total=total, down_payment=Decimal(amounts[0]),
            installment_count=len(amounts),
            installment_amount=Decimal(amounts[-1]), approval_level="agent")
        session.add(agreement)
        await session.flush()
        for debt_id in debt_ids:
            session.add(AgreementDebt(
                tenant_id=tenant_id, id=uuid7(), agreement_id=agreement.id, debt_id=debt_id,
                principal=Decimal("0"), correction=Decimal("0"), interest=Decimal("0"),
                fine=Decimal("0"), fees=Decimal("0")))
        for number, amount in enumerate(amounts, start=1):
            session.add(Installment(tenant_id=tenant_id, id=uuid7(), agreement_id=agreement.id,
                                    number=number, amount=Decimal(amount), status="open",
                                    due_date=today + dt.timedelta(days=30 * (number - 1) + 3)))
    return Built(tenant_id, staff, debtor_id, document, debt_ids, agreement.id, email, phone)


async def place_open_debt(database_url: str, tenant_id: uuid.UUID, *, document: str,
                          email: str | None = None) -> uuid.UUID:
    """A debtor with an e-mail (when given) and one open debt 120 days overdue."""
    set_address(database_url, tenant_id)
    staff = creditor(tenant_id)
    async with transaction(staff) as session:
        debtor = Debtor(tenant_id=tenant_id, id=uuid7(), document=document,
                        document_kind="cpf", name="ANA SOUZA LIMA", state="SP")
        session.add(debtor)
        if email:
            session.add(ContactPoint(tenant_id=tenant_id, id=uuid7(), debtor_id=debtor.id,
                                     kind="email", value=email, source="portfolio"))
        debt = Debt(tenant_id=tenant_id, id=uuid7(), debtor_id=debtor.id, portfolio_id=uuid7(),
                    last_portfolio_id=uuid7(), contract=f"CT-{uuid.uuid4().hex[:8]}",
                    installment=1, original_amount=Decimal("480.00"),
                    current_balance=Decimal("0"),
                    due_date=dt.date.today() - dt.timedelta(days=120))
        session.add(debt)
        await session.flush()
        await ledger.post(session, staff, DebtId(debt.id), [
            (Bucket.PRINCIPAL, EntryKind.PLACEMENT, Decimal("480.00"))], source="portfolio")
    return debtor.id
