"""Importing portfolios into the database: counts, modes, repeats, crashes, isolation."""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import uuid
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select, text

from core.db import Scope
from core.models import ContactPoint, Debt, Debtor, LedgerEntry, Payment, Portfolio
from portal.operator import import_portfolio
from tenants.intake import pipeline, service
from tenants.intake.formats.sample import write as write_sample
from tests.jobs import drain

HEADER = "CPF/CNPJ;Nome;Contrato;Parcela;Vencimento;Valor;Telefone;E-mail"
CPFS = ["52998224725", "01234567890", "00191000191", "11144477735"]


def csv_file(tmp_path: Path, rows: list[str], name: str = "carteira.csv",
             header: str = HEADER) -> Path:
    path = tmp_path / name
    path.write_text(header + "\n" + "\n".join(rows) + "\n", encoding="cp1252")
    return path


async def run(tenant, path: Path, mode: str = "incremental", layout: str | None = None):
    return await import_portfolio(tenant.slug, str(path), layout, mode, None)


async def count(db, tenant_id: uuid.UUID, model) -> int:
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        return (await session.execute(select(func.count()).select_from(model))).scalar_one()


async def report(db, tenant_id: uuid.UUID, portfolio_id: str, kind: str) -> str:
    """A portfolio's report as the creditor downloads it."""
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        portfolio = await service.get_portfolio(session, uuid.UUID(portfolio_id))
    return service.read_report(portfolio, kind).decode("utf-8-sig")


async def debts(db, tenant_id: uuid.UUID) -> dict[tuple[str, int], Debt]:
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        rows = (await session.execute(select(Debt))).scalars()
        return {(d.contract, d.installment): d for d in rows}


async def payments(db, tenant_id: uuid.UUID) -> dict[tuple[str, int], list[tuple]]:
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        rows = await session.execute(
            select(Debt.contract, Debt.installment, Payment.amount, Payment.paid_on,
                   Payment.source).join(Payment, Payment.debt_id == Debt.id))
        out: dict[tuple[str, int], list[tuple]] = {}
        for contract, installment, amount, paid_on, source in rows:
            out.setdefault((contract, installment), []).append((amount, paid_on, source))
        return out


async def ledger_sums(db, tenant_id: uuid.UUID) -> dict[tuple[str, int], Decimal]:
    """Each debt's balance as its ledger entries add up."""
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        rows = await session.execute(
            select(Debt.contract, Debt.installment, func.coalesce(func.sum(LedgerEntry.amount), 0))
            .outerjoin(LedgerEntry, LedgerEntry.debt_id == Debt.id)
            .group_by(Debt.contract, Debt.installment))
        return {(c, i): total for c, i, total in rows}


async def test_import_counts_debtors_debts_and_contacts(db, factory, services, tmp_path):
    tenant = await factory.tenant()
    path = csv_file(tmp_path, [
        f"{CPFS[0]};Ana Souza;A-1;1;10/01/2025;100,00;(11) 98765-4321;ana@ex.com",
        f"{CPFS[0]};Ana Souza;A-1;2;10/02/2025;100,00;(11) 98765-4321;ana@ex.com",
        f"{CPFS[1]};Bruno Lima;B-1;1;10/01/2025;1.234,56;(21) 3333-4444;bruno@",
        "111.111.111-11;Inválido;C-1;1;10/01/2025;10,00;;",
        f"{CPFS[2]};Duplicado;A-1;2;10/03/2025;50,00;;",
    ])
    result = await run(tenant, path)
    assert result["status"] == "done"
    assert result["rows_total"] == 5
    assert result["rows_accepted"] + result["rows_rejected"] == result["rows_total"]
    assert (result["rows_accepted"], result["rows_rejected"]) == (3, 2)
    assert result["rows_with_warnings"] == 1
    assert result["debtors_created"] == 2 and result["debts_created"] == 3
    assert result["amount_placed"] == "1434.56"
    assert await count(db, tenant.id, Debtor) == 2
    # Ana's phone and e-mail appear on two rows but are stored once.
    assert await count(db, tenant.id, ContactPoint) == 3
    receipt = await report(db, tenant.id, result["portfolio_id"], "acknowledgement")
    assert "Valor colocado (R$);1.434,56" in receipt and "Títulos novos;3" in receipt


async def test_error_report_has_original_columns_row_and_reason(db, factory, services,
                                                                 tmp_path):
    tenant = await factory.tenant()
    path = csv_file(tmp_path, [
        f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;",
        "123;Curto;B-1;1;31/02/2025;0;;",
    ])
    result = await run(tenant, path)
    errors_csv = await report(db, tenant.id, result["portfolio_id"], "errors")
    lines = list(csv.reader(io.StringIO(errors_csv), delimiter=";"))
    assert lines[0] == ["Linha original", *HEADER.split(";"), "Motivo da recusa"]
    assert lines[1][:4] == ["3", "123", "Curto", "B-1"]
    reason = lines[1][-1]
    assert "CPF/CNPJ" in reason and "Vencimento" in reason and "Valor" in reason


async def test_fixed_error_report_can_be_uploaded_again(db, factory, services, tmp_path):
    tenant = await factory.tenant()
    first = await run(tenant, csv_file(tmp_path, [
        f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;", f"{CPFS[1]};Bia;B-1;1;10/13/2025;5,00;;",
        f"{CPFS[2]};Caio;C-1;1;10/01/2025;abc;;"]))
    fixed = (await report(db, tenant.id, first["portfolio_id"], "errors")).replace(
        "10/13/2025", "13/10/2025")
    path = tmp_path / "corrigido.csv"
    path.write_text(fixed, encoding="utf-8-sig")
    second = await run(tenant, path)
    assert (second["rows_accepted"], second["rows_rejected"]) == (1, 1)
    assert (await debts(db, tenant.id))[("B-1", 1)].original_amount == 5
    # The report of the report has its columns once, and the row where it is now.
    again = list(csv.reader(io.StringIO(
        await report(db, tenant.id, second["portfolio_id"], "errors")), delimiter=";"))
    assert again[0] == ["Linha original", *HEADER.split(";"), "Motivo da recusa"]
    assert again[1][0] == "3" and again[1][-1] == "Valor: valor inválido ('abc')"


async def test_same_file_twice_changes_nothing_and_names_the_first(db, factory, services,
                                                                   tmp_path):
    tenant = await factory.tenant()
    path = csv_file(tmp_path, [f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;"])
    first = await run(tenant, path)
    before = await count(db, tenant.id, Debt)
    second = await run(tenant, path)
    assert second["status"] == "duplicate"
    assert second["duplicate_of"] == first["portfolio_id"]
    assert await count(db, tenant.id, Debt) == before


async def test_incremental_reimport_reports_exactly_the_changed_amounts(db, factory, services,
                                                                        tmp_path):
    tenant = await factory.tenant()
    original = tmp_path / "v1.csv"
    write_sample(original, 400, seed=7, bad_ratio=0.0)
    first = await run(tenant, original)
    lines = original.read_text(encoding="cp1252").splitlines()
    changed = 0
    for i in range(1, len(lines), 100):  # 1% of the rows
        cells = lines[i].split(";")
        cells[5] = "9.999,99"
        lines[i] = ";".join(cells)
        changed += 1
    copy = tmp_path / "v2.csv"
    copy.write_text("\r\n".join(lines) + "\r\n", encoding="cp1252")
    second = await run(tenant, copy)
    assert second["debts_updated"] == changed
    assert second["debts_unchanged"] == first["debts_created"] - changed
    assert second["debts_created"] == 0 and second["debtors_created"] == 0
    assert second["debtors_updated"] == 0


async def test_a_reimport_never_rewrites_a_debt_in_agreement_and_warns_instead(
        db, factory, services, tmp_path):
    tenant = await factory.tenant()
    await run(tenant, csv_file(tmp_path, [
        f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;", f"{CPFS[1]};Bia;B-1;1;10/01/2025;100,00;;"],
        "v1.csv"))
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        await session.execute(text(
            "UPDATE debt SET status = 'in_agreement' WHERE contract = 'A-1'"))
    result = await run(tenant, csv_file(tmp_path, [
        f"{CPFS[0]};Ana;A-1;1;10/03/2025;150,00;;", f"{CPFS[1]};Bia;B-1;1;10/01/2025;130,00;;"],
        "v2.csv"))
    assert (result["debts_updated"], result["debts_unchanged"]) == (1, 1)
    assert result["rows_with_warnings"] == 1
    state = await debts(db, tenant.id)
    agreed, updated = state[("A-1", 1)], state[("B-1", 1)]
    assert (agreed.original_amount, agreed.current_balance, agreed.due_date) == (
        Decimal("100.00"), Decimal("100.00"), dt.date(2025, 1, 10))
    assert (updated.original_amount, updated.current_balance) == (Decimal("130.00"),) * 2
    warnings = list(csv.reader(io.StringIO(
        await report(db, tenant.id, result["portfolio_id"], "warnings")), delimiter=";"))
    assert warnings[1][:3] == ["2", "contrato/parcela", "A-1/1"]
    assert "título em acordo" in warnings[1][3]
    # The change is an entry of its own: placement 100, then the creditor's +30.
    assert await ledger_sums(db, tenant.id) == {("A-1", 1): Decimal("100.00"),
                                                ("B-1", 1): Decimal("130.00")}
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        kinds = (await session.execute(
            select(LedgerEntry.kind, LedgerEntry.amount).join(
                Debt, Debt.id == LedgerEntry.debt_id).where(Debt.contract == "B-1")
            .order_by(LedgerEntry.created_at, LedgerEntry.kind))).all()
    assert sorted(kinds) == [("creditor_update", Decimal("30.00")),
                             ("placement", Decimal("100.00"))]


async def test_a_placed_balance_is_principal_plus_the_creditors_charges(db, factory, services,
                                                                        tmp_path):
    tenant = await factory.tenant()
    await run(tenant, csv_file(tmp_path, [f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;160,00",
                                          f"{CPFS[1]};Bia;B-1;1;10/01/2025;100,00;80,00"],
                               header="CPF;Nome;Contrato;Parcela;Vencimento;Valor Original;"
                                      "Saldo Devedor"))
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        rows = (await session.execute(
            select(Debt.contract, LedgerEntry.bucket, LedgerEntry.kind, LedgerEntry.amount)
            .join(Debt, Debt.id == LedgerEntry.debt_id))).all()
    assert sorted(rows) == [
        ("A-1", "interest", "placement", Decimal("60.00")),
        ("A-1", "principal", "placement", Decimal("100.00")),
        ("B-1", "principal", "creditor_update", Decimal("-20.00")),
        ("B-1", "principal", "placement", Decimal("100.00"))]
    assert await ledger_sums(db, tenant.id) == {
        k: d.current_balance for k, d in (await debts(db, tenant.id)).items()}


async def test_debtors_take_the_zone_of_their_state_else_of_their_phone(db, factory, services,
                                                                        tmp_path):
    tenant = await factory.tenant()
    await run(tenant, csv_file(tmp_path, [
        f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;(11) 98765-4321;AM",
        f"{CPFS[1]};Bia;B-1;1;10/01/2025;100,00;(68) 99876-5432;",
        f"{CPFS[2]};Caio;C-1;1;10/01/2025;100,00;;"],
        header="CPF;Nome;Contrato;Parcela;Vencimento;Valor;Telefone;UF"))
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        zones = dict((await session.execute(select(Debtor.name, Debtor.timezone))).all())
    assert zones == {"Ana": "America/Manaus", "Bia": "America/Rio_Branco",
                     "Caio": "America/Sao_Paulo"}


async def test_a_changed_row_updates_its_debt_and_a_withdrawn_debt_placed_again_reopens(
        db, factory, services, tmp_path):
    tenant = await factory.tenant()
    await run(tenant, csv_file(tmp_path, [
        f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;", f"{CPFS[0]};Ana;A-1;2;10/02/2025;100,00;;",
        f"{CPFS[1]};Bia;B-1;1;10/01/2025;100,00;;"], "v1.csv"))
    await run(tenant, csv_file(tmp_path, [f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;"],
                               "v2.csv"), mode="full")
    # A-1/2 moves to a new amount and due date, B-1/1 (withdrawn) comes back for Ana.
    result = await run(tenant, csv_file(tmp_path, [
        f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;", f"{CPFS[0]};Ana;A-1;2;15/03/2025;250,50;;",
        f"{CPFS[0]};Ana;B-1;1;10/01/2025;80,00;;"], "v3.csv"))
    assert (result["debts_updated"], result["debts_unchanged"]) == (2, 1)
    state = await debts(db, tenant.id)
    moved, back = state[("A-1", 2)], state[("B-1", 1)]
    assert (moved.status, moved.original_amount, moved.current_balance, str(moved.due_date)) \
        == ("open", Decimal("250.50"), Decimal("250.50"), "2025-03-15")
    assert (back.status, back.current_balance, back.closed_at) == ("open", Decimal("80.00"), None)
    assert back.debtor_id == state[("A-1", 1)].debtor_id
    assert back.last_portfolio_id == moved.last_portfolio_id == uuid.UUID(result["portfolio_id"])


async def test_a_debt_another_debtor_holds_is_not_moved_by_a_later_file(db, factory, services,
                                                                        tmp_path):
    tenant = await factory.tenant()
    await run(tenant, csv_file(tmp_path, [f"{CPFS[0]};Ana;K-1;1;10/01/2025;100,00;;"], "v1.csv"))
    result = await run(tenant, csv_file(tmp_path, [
        f"{CPFS[1]};Bia;K-1;1;10/01/2025;999,00;(11) 98765-4321;",
        f"{CPFS[2]};Caio;K-2;1;10/01/2025;50,00;;",
        f"{CPFS[3]};Davi;K-2;2;10/02/2025;50,00;;"], "v2.csv"))
    assert (result["rows_accepted"], result["rows_rejected"]) == (2, 1)
    assert (result["debts_created"], result["debts_updated"]) == (2, 0)
    state = await debts(db, tenant.id)
    assert state[("K-1", 1)].original_amount == Decimal("100.00")
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        ana = (await session.execute(select(Debtor).where(Debtor.document == CPFS[0]))).scalar_one()
        names = set((await session.execute(select(Debtor.name))).scalars())
    assert state[("K-1", 1)].debtor_id == ana.id
    assert names == {"Ana", "Caio", "Davi"}  # nothing of Bia's refused row stays
    assert await count(db, tenant.id, ContactPoint) == 0
    errors = list(csv.reader(io.StringIO(
        await report(db, tenant.id, result["portfolio_id"], "errors")), delimiter=";"))
    assert errors[1][:7] == ["2", CPFS[1], "Bia", "K-1", "1", "10/01/2025", "999,00"]
    assert "já pertencem a outro devedor" in errors[1][-1]
    # In a full file too the row is there: the debt is not withdrawn as absent.
    full = await run(tenant, csv_file(tmp_path, [
        f"{CPFS[1]};Bia;K-1;1;10/01/2025;999,00;;", f"{CPFS[2]};Caio;K-2;1;10/01/2025;50,00;;",
        f"{CPFS[3]};Davi;K-2;2;10/02/2025;50,00;;"], "v3.csv"), mode="full")
    assert (full["rows_rejected"], full["debts_closed"]) == (1, 0)
    assert (await debts(db, tenant.id))[("K-1", 1)].status == "open"


async def test_the_balance_owed_is_kept_beside_the_original_amount(db, factory, services,
                                                                   tmp_path):
    tenant = await factory.tenant()
    header = "CPF;Nome;Contrato;Parcela;Vencimento;Valor Original;Saldo Devedor"
    result = await run(tenant, csv_file(tmp_path, [
        f"{CPFS[0]};Ana;A-1;1;10/01/2025;1.234,56;1.500,00",
        f"{CPFS[0]};Ana;A-1;2;10/02/2025;100,00;",  # no balance: the amount is owed
        f"{CPFS[1]};Bia;B-1;1;10/01/2025;100,00;0,00"], header=header))
    assert (result["rows_accepted"], result["rows_rejected"]) == (2, 1)
    assert result["amount_placed"] == "1600.00"
    state = await debts(db, tenant.id)
    assert (state[("A-1", 1)].original_amount, state[("A-1", 1)].current_balance) == (
        Decimal("1234.56"), Decimal("1500.00"))
    assert state[("A-1", 2)].current_balance == Decimal("100.00")
    errors_csv = await report(db, tenant.id, result["portfolio_id"], "errors")
    assert "Saldo Devedor: o saldo devedor deve ser maior que zero" in errors_csv
    # The creditor's next file says what is owed now.
    again = await run(tenant, csv_file(tmp_path, [
        f"{CPFS[0]};Ana;A-1;1;10/01/2025;1.234,56;1.610,25",
        f"{CPFS[0]};Ana;A-1;2;10/02/2025;100,00;"], "v2.csv", header=header))
    assert (again["debts_updated"], again["debts_unchanged"]) == (1, 1)
    assert (await debts(db, tenant.id))[("A-1", 1)].current_balance == Decimal("1610.25")
    # A file with the balance alone takes it as the amount.
    alone = await run(tenant, csv_file(tmp_path, [f"{CPFS[2]};Caio;C-1;1;10/01/2025;80,00"],
                                       "v3.csv", header="CPF;Nome;Contrato;Parcela;"
                                       "Vencimento;Saldo Devedor"))
    assert alone["debts_created"] == 1
    assert (await debts(db, tenant.id))[("C-1", 1)].original_amount == Decimal("80.00")


async def test_full_mode_withdraws_open_debts_absent_from_the_file(db, factory, services,
                                                                   tmp_path):
    tenant = await factory.tenant()
    await run(tenant, csv_file(tmp_path, [
        f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;", f"{CPFS[0]};Ana;A-1;2;10/02/2025;100,00;;",
        f"{CPFS[1]};Bia;B-1;1;10/01/2025;100,00;;"], "v1.csv"))
    result = await run(tenant, csv_file(tmp_path, [
        f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;"], "v2.csv"), mode="full")
    assert result["debts_closed"] == 2
    state = await debts(db, tenant.id)
    assert state[("A-1", 1)].status == "open"
    assert state[("A-1", 2)].status == "withdrawn"
    assert state[("B-1", 1)].closed_by_portfolio_id == uuid.UUID(result["portfolio_id"])


async def test_full_mode_keeps_debts_whose_rows_were_rejected(db, factory, services, tmp_path):
    tenant = await factory.tenant()
    await run(tenant, csv_file(tmp_path, [
        f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;", f"{CPFS[0]};Ana;A-1;2;10/02/2025;100,00;;",
        f"{CPFS[1]};Bia;B-1;1;10/01/2025;100,00;;", f"{CPFS[2]};Caio;C-1;1;10/01/2025;9,00;;"],
        "v1.csv"))
    # A-2's row has a CPF typo, B-1's a bad date: both are in the file, only C-1 is not.
    result = await run(tenant, csv_file(tmp_path, [
        f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;", "52998224700;Ana;A-1;2;10/02/2025;100,00;;",
        f"{CPFS[1]};Bia;B-1;1;2025-13-10;100,00;;"], "v2.csv"), mode="full")
    assert (result["rows_accepted"], result["rows_rejected"], result["debts_closed"]) == (1, 2, 1)
    state = await debts(db, tenant.id)
    assert {k: d.status for k, d in state.items()} == {
        ("A-1", 1): "open", ("A-1", 2): "open", ("B-1", 1): "open", ("C-1", 1): "withdrawn"}


@pytest.mark.parametrize("rows", [[], [f"{CPFS[0]};Ana;A-1;1;31/02/2025;100,00;;",
                                      "TOTAL;;;;;100,00;;"]],
                         ids=["header only", "every row rejected"])
async def test_a_full_file_with_no_accepted_row_closes_nothing(db, factory, services, tmp_path,
                                                               rows):
    tenant = await factory.tenant()
    await run(tenant, csv_file(tmp_path, [f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;",
                                          f"{CPFS[1]};Bia;B-1;1;10/01/2025;100,00;;"], "v1.csv"))
    result = await run(tenant, csv_file(tmp_path, rows, "v2.csv"), mode="full")
    assert result["status"] == "failed" and result["debts_closed"] == 0
    assert ("nenhuma linha aceita" if rows else "nenhuma linha de dados") in result["error"]
    assert {d.status for d in (await debts(db, tenant.id)).values()} == {"open"}
    if rows:  # what went wrong can still be read
        assert result["rows_rejected"] == 2
        assert "TOTAL" in await report(db, tenant.id, result["portfolio_id"], "errors")


async def test_settlement_file_closes_debts_and_reports_unknown_ones(db, factory, services,
                                                                     tmp_path):
    tenant = await factory.tenant()
    await run(tenant, csv_file(tmp_path, [
        f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;", f"{CPFS[1]};Bia;B-1;1;10/01/2025;50,00;;"]))
    baixa = csv_file(tmp_path, ["A-1;1;100,00;05/01/2025", "Z-9;1;10,00;05/01/2025"],
                     "baixa.csv", header="Contrato;Parcela;Valor Pago;Data do Pagamento")
    result = await run(tenant, baixa, mode="settlement")
    assert result["status"] == "done"
    assert (result["rows_accepted"], result["rows_rejected"], result["debts_closed"]) == (1, 1, 1)
    state = await debts(db, tenant.id)
    assert state[("A-1", 1)].status == "settled_by_creditor"
    # Paid to the creditor directly: a payment of its own, and nothing left to collect.
    paid = await payments(db, tenant.id)
    assert paid == {("A-1", 1): [(Decimal("100.00"), dt.date(2025, 1, 5), "creditor")]}
    assert state[("A-1", 1)].current_balance == 0
    assert await ledger_sums(db, tenant.id) == {
        key: d.current_balance for key, d in state.items()}
    assert state[("B-1", 1)].status == "open"
    errors_csv = await report(db, tenant.id, result["portfolio_id"], "errors")
    assert "Z-9" in errors_csv and "não encontrado" in errors_csv


async def test_a_settlement_row_without_installment_settles_the_whole_contract(
        db, factory, services, tmp_path):
    tenant = await factory.tenant()
    await run(tenant, csv_file(tmp_path, [
        f"{CPFS[0]};Ana;000123;1;10/01/2025;100,00;;",
        f"{CPFS[0]};Ana;000123;2;10/02/2025;100,00;;",
        f"{CPFS[1]};Bia;B-1;1;10/01/2025;50,00;;", f"{CPFS[1]};Bia;B-1;2;10/02/2025;50,00;;"]))
    await run(tenant, csv_file(tmp_path, ["B-1;2;50,00;05/01/2025"], "baixa1.csv",
                               header="Contrato;Parcela;Valor Pago;Data da Baixa"),
              mode="settlement")
    baixa = csv_file(tmp_path, ["000123;10/05/2024;200,00", "123;10/05/2024;1,00",
                                "B-1;10/05/2024;50,00", "B-1;10/05/2024;50,00"],
                     "baixa2.csv", header="Contrato;Data da Baixa;Valor Pago")
    result = await run(tenant, baixa, mode="settlement")
    assert (result["rows_accepted"], result["rows_rejected"], result["debts_closed"]) == (2, 2, 3)
    state = await debts(db, tenant.id)
    assert {k: d.status for k, d in state.items()} == {
        ("000123", 1): "settled_by_creditor", ("000123", 2): "settled_by_creditor",
        ("B-1", 1): "settled_by_creditor", ("B-1", 2): "settled_by_creditor"}
    # The contract's payment cannot be split among its installments.
    assert set(await payments(db, tenant.id)) == {("B-1", 2)}
    errors = list(csv.reader(io.StringIO(
        await report(db, tenant.id, result["portfolio_id"], "errors")), delimiter=";"))
    assert [(r[0], r[-1]) for r in errors[1:]] == [
        ("3", "contrato/parcela não encontrado na carteira"),
        ("5", "Contrato: contrato e parcela repetidos no arquivo; vale a primeira ocorrência,"
              " na linha 4")]


async def test_missing_columns_fail_the_import_with_a_clear_message(db, factory, services,
                                                                    tmp_path):
    tenant = await factory.tenant()
    path = csv_file(tmp_path, ["52998224725;Ana"], header="CPF;Nome")
    result = await run(tenant, path)
    assert result["status"] == "failed"
    assert "Contrato" in result["error"] and "“CPF”" in result["error"]


async def test_a_crashed_import_reruns_to_the_same_final_state(db, factory, services, tmp_path,
                                                               monkeypatch):
    tenant = await factory.tenant()
    path = tmp_path / "grande.csv"
    write_sample(path, 500, seed=3)
    from tenants.intake.load import store

    real_finish = store.PortfolioWriter.finish

    def crash(self):
        real_finish(self)  # every row written inside the transaction...
        raise ConnectionError("worker killed")  # ...then the process dies

    monkeypatch.setattr(store.PortfolioWriter, "finish", crash)
    with pytest.raises(ConnectionError):
        await run(tenant, path)
    monkeypatch.setattr(store.PortfolioWriter, "finish", real_finish)
    assert await count(db, tenant.id, Debt) == 0
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        stuck = (await session.execute(select(Portfolio))).scalar_one()
    assert stuck.status == "running"
    # The job runs again (a retry, or `intake.resume` after a restart).
    outcome = await asyncio.to_thread(pipeline.run_import, tenant.id, stuck.id)
    assert outcome.status == "done"
    again = await asyncio.to_thread(pipeline.run_import, tenant.id, stuck.id)
    assert again.status == "done"  # a finished import is left as it is
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        done = await service.get_portfolio(session, stuck.id)
        distinct = (await session.execute(text(
            "SELECT count(*), count(DISTINCT (contract, installment)) FROM debt"))).one()
    assert done.rows_accepted == distinct[0] == distinct[1] == done.debts_created
    assert done.rows_accepted + done.rows_rejected == done.rows_total == 500


async def test_an_import_that_fails_for_its_own_fault_is_not_left_running(
        db, factory, services, tmp_path, monkeypatch):
    """A fault of the file or the code would fail every retry: the import fails, says so,
    and the same file can be sent again once it is fixed."""
    from tenants.intake.rules import rows

    def broken(self, frame, bytes_read):
        raise ValueError("a bug")

    tenant = await factory.tenant()
    path = csv_file(tmp_path, [f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;"])
    monkeypatch.setattr(rows.RowRules, "apply", broken)
    result = await run(tenant, path)
    assert result["status"] == "failed" and "erro inesperado" in result["error"]
    assert await count(db, tenant.id, Debt) == 0
    monkeypatch.undo()
    again = await run(tenant, path)
    assert again["status"] == "done" and again["debts_created"] == 1


async def test_an_import_whose_file_is_gone_from_storage_fails_saying_so(db, factory, services,
                                                                          tmp_path):
    """Retrying cannot bring a missing file back: the import fails once, with the reason,
    instead of being retried and resumed forever."""
    from core.runtime import get_storage

    tenant = await factory.tenant()
    result = await run(tenant, csv_file(tmp_path, [f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;"]))
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        portfolio = await service.get_portfolio(session, uuid.UUID(result["portfolio_id"]))
        portfolio.status, portfolio.file_key = "queued", f"{portfolio.file_key}.gone"
    outcome = await asyncio.to_thread(pipeline.run_import, tenant.id, portfolio.id)
    assert outcome.status == "failed"
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        failed = await service.get_portfolio(session, portfolio.id)
    assert failed.status == "failed" and "não está no armazenamento" in failed.error
    assert get_storage().size(portfolio.file_key.removesuffix(".gone")) > 0


async def test_a_cli_import_whose_upload_fails_places_nothing(db, factory, services, tmp_path,
                                                            monkeypatch):
    """The CLI reads the file while it goes to S3; a portfolio is only placed with its file
    stored, so a failed upload leaves the tenant as it was and says why."""
    from core.storage import Storage

    def broken_upload(self, key: str, path: str) -> None:
        raise OSError("connection reset by S3")

    monkeypatch.setattr(Storage, "upload_file", broken_upload)
    tenant = await factory.tenant()
    result = await run(tenant, csv_file(tmp_path, [f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;"]))
    assert result["status"] == "failed"
    assert await count(db, tenant.id, Debt) == await count(db, tenant.id, Debtor) == 0
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        failed = await service.get_portfolio(session, uuid.UUID(result["portfolio_id"]))
    assert "não pôde ser guardado no armazenamento" in failed.error


async def test_a_cli_import_keeps_the_file_in_storage(db, factory, services, tmp_path):
    from core.runtime import get_storage

    tenant = await factory.tenant()
    path = csv_file(tmp_path, [f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;"])
    result = await run(tenant, path)
    assert result["status"] == "done"
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        portfolio = await service.get_portfolio(session, uuid.UUID(result["portfolio_id"]))
    assert get_storage().get(portfolio.file_key) == path.read_bytes()


async def test_portfolios_debts_and_reports_stay_inside_their_tenant(db, client, factory,
                                                                     services, tmp_path):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    result = await run(alfa, csv_file(tmp_path, [
        f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;", "1;x;;;;;;"]))
    pid = result["portfolio_id"]
    own = await client.get(f"/api/v1/portfolios/{pid}", headers=alfa.admin.headers)
    assert own.status_code == 200
    for url in (f"/api/v1/portfolios/{pid}", f"/api/v1/portfolios/{pid}/reports/errors"):
        answer = await client.get(url, headers=beta.admin.headers)
        assert answer.status_code == 404, url
    preview = await client.post(f"/api/v1/portfolios/{pid}/preview", headers=beta.admin.headers)
    assert preview.status_code == 404
    listed = await client.get("/api/v1/portfolios", headers=beta.admin.headers)
    assert pid not in {p["id"] for p in listed.json()}
    for table in ("portfolio", "debtor", "debt", "contact_point"):
        async with db.transaction(Scope.tenant(beta.id)) as session:
            seen = (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar_one()
        assert seen == 0, table
    recall = await client.post("/api/v1/recalls", headers=beta.admin.headers,
                               json={"items": [{"contract": "A-1", "installment": 1}]})
    assert recall.json()["closed"] == []
    assert (await debts(db, alfa.id))[("A-1", 1)].status == "open"


async def test_the_same_debtors_and_contracts_in_two_tenants_are_matched_only_inside_each(
        db, factory, services, tmp_path):
    """Imports find existing debtors and debts through row-level security alone: a second
    tenant with the same documents and contracts gets its own rows, and its re-import
    updates only them."""
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    rows = [f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;", f"{CPFS[1]};Bia;B-1;1;10/01/2025;50,00;;"]
    await run(alfa, csv_file(tmp_path, [*rows, f"{CPFS[0]};Ana;Z-1;1;10/01/2025;7,00;;"],
                             "alfa.csv"))
    first = await run(beta, csv_file(tmp_path, [r.replace("100,00", "101,00") for r in rows],
                                     "beta-v1.csv"))
    assert (first["debtors_created"], first["debts_created"], first["debts_updated"]) == (2, 2, 0)
    again = await run(beta, csv_file(tmp_path, [r.replace("100,00", "102,00") for r in rows],
                                     "beta-v2.csv"))
    assert (again["debts_created"], again["debts_updated"], again["debts_unchanged"]) == (0, 1, 1)
    assert (await debts(db, alfa.id))[("A-1", 1)].original_amount == Decimal("100.00")
    assert (await debts(db, beta.id))[("A-1", 1)].original_amount == Decimal("102.00")
    assert await count(db, alfa.id, Debtor) == await count(db, beta.id, Debtor) == 2
    # A contract Alfa's Ana holds is Beta's to give to anyone: another tenant's debt is
    # never "held by another debtor".
    other = await run(beta, csv_file(tmp_path, [f"{CPFS[2]};Caio;Z-1;1;10/02/2025;9,00;;"],
                                     "beta-v3.csv"))
    assert (other["rows_rejected"], other["debts_created"]) == (0, 1)
    assert (await debts(db, alfa.id))[("Z-1", 1)].original_amount == Decimal("7.00")


async def test_upload_preview_start_and_progress_through_the_api(db, client, factory, worker,
                                                                 tmp_path):
    tenant = await factory.tenant()
    headers = tenant.admin.headers
    path = tmp_path / "c.csv"
    write_sample(path, 300, seed=11)
    size = path.stat().st_size
    created = await client.post("/api/v1/portfolios", headers=headers,
                                json={"file_name": "carteira março.csv", "file_size": size})
    assert created.status_code == 201, created.text
    body = created.json()
    async with httpx.AsyncClient() as s3:  # the browser's PUT, straight to S3
        put = await s3.put(body["upload_url"], content=path.read_bytes(),
                           headers=body["upload_headers"])
    assert put.status_code == 200
    preview = (await client.post(f"/api/v1/portfolios/{body['id']}/preview",
                                 headers=headers)).json()
    assert preview["format"]["encoding"] == "cp1252"
    assert preview["mapping"]["document"] == "CPF/CNPJ" and preview["missing"] == []
    assert len(preview["rows"]) == 5
    started = await client.post(f"/api/v1/portfolios/{body['id']}/start", headers=headers,
                                json={"mapping": preview["mapping"]})
    assert started.status_code == 202
    for _ in range(120):
        status = (await client.get(f"/api/v1/portfolios/{body['id']}", headers=headers)).json()
        if status["status"] not in ("queued", "running"):
            break
        await asyncio.sleep(0.25)
    assert status["status"] == "done"
    assert status["rows_total"] == 300 and status["bytes_read"] == status["bytes_total"]
    assert status["rows_accepted"] + status["rows_rejected"] == 300
    report = await client.get(f"/api/v1/portfolios/{body['id']}/reports/errors",
                              headers=headers)
    assert report.status_code == 200 and "Motivo da recusa" in report.text
    # One charset, and CRLF line ends only (Excel's), header and rows alike.
    assert report.headers["content-type"] == "text/csv; charset=utf-8"
    assert report.content.count(b"\n") == report.content.count(b"\r\n") > 1
    # The same tenant cannot start it twice.
    again = await client.post(f"/api/v1/portfolios/{body['id']}/start", headers=headers)
    assert again.status_code == 409


async def test_viewer_may_read_but_not_import(client, factory, services):
    tenant = await factory.tenant()
    viewer = await factory.user("creditor_viewer", tenant_id=tenant.id)
    assert (await client.get("/api/v1/portfolios", headers=viewer.headers)).status_code == 200
    answer = await client.post("/api/v1/portfolios", headers=viewer.headers,
                               json={"file_name": "x.csv", "file_size": 10})
    assert answer.status_code == 403


async def test_agency_user_imports_only_for_tenants_they_work(client, factory, services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    supervisor = await factory.user("supervisor", tenant_ids=[alfa.id])
    ok = await client.post("/api/v1/portfolios", headers=supervisor.headers,
                           json={"file_name": "x.csv", "file_size": 10, "tenant_id": str(alfa.id)})
    assert ok.status_code == 201
    denied = await client.post("/api/v1/portfolios", headers=supervisor.headers, json={
        "file_name": "x.csv", "file_size": 10, "tenant_id": str(beta.id)})
    assert denied.status_code == 404


async def test_placement_term_end_returns_debts_with_a_return_file(db, factory, services,
                                                                   tmp_path, worker):
    from tenants.intake.tasks import return_expired

    tenant = await factory.tenant()
    result = await run(tenant, csv_file(tmp_path, [
        f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;", f"{CPFS[1]};Bia;B-1;1;10/01/2025;5,00;;"]))
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        await session.execute(text(
            "UPDATE debt SET placed_until = current_date - 1 WHERE contract = 'A-1'"))
    return_expired.send(str(tenant.id))
    await drain(worker, return_expired.queue_name)
    state = await debts(db, tenant.id)
    assert state[("A-1", 1)].status == "returned"
    assert state[("B-1", 1)].status == "open"
    returned = await report(db, tenant.id, result["portfolio_id"], "return")
    assert "A-1" in returned and "B-1" not in returned
    header, row = returned.lstrip("\ufeff").splitlines()[:2]
    assert header == "Contrato;Parcela;CPF/CNPJ;Nome;Vencimento;Valor original;Saldo;Carteira"
    assert ";10/01/2025;100,00;100,00;" in row


async def test_layouts_are_saved_per_tenant_and_invisible_to_others(client, factory,
                                                                    services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    mapping = {"document": "ID", "name": "Sacado", "contract": "Ref", "due_date": "Venc",
               "amount": "Montante", "phone": ["Fone 1", "Fone 2"]}
    saved = await client.put("/api/v1/layouts", headers=alfa.admin.headers,
                             json={"name": "ERP", "mapping": mapping})
    assert saved.status_code == 200
    again = await client.put("/api/v1/layouts", headers=alfa.admin.headers,
                             json={"name": "ERP", "mapping": {**mapping, "name": "Cliente"}})
    assert again.json()["id"] == saved.json()["id"]  # saving again updates it
    listed = await client.get("/api/v1/layouts", headers=alfa.admin.headers)
    assert [x["mapping"]["name"] for x in listed.json()] == ["Cliente"]
    assert (await client.get("/api/v1/layouts", headers=beta.admin.headers)).json() == []
    other = await client.get(f"/api/v1/layouts?tenant_id={alfa.id}",
                             headers=beta.admin.headers)
    assert other.status_code == 404
    incomplete = await client.put("/api/v1/layouts", headers=alfa.admin.headers,
                                  json={"name": "X", "mapping": {"document": "ID"}})
    assert incomplete.status_code == 422
    assert "obrigatórios" in incomplete.json()["errors"]["_"]


async def test_xlsx_sheet_imports_and_warnings_are_downloadable(db, factory, services,
                                                                tmp_path):
    import datetime as dt

    import openpyxl

    tenant = await factory.tenant()
    book = openpyxl.Workbook()
    book.active.title = "Capa"
    sheet = book.create_sheet("Títulos")
    sheet.append(["CPF", "Nome", "Contrato", "Vencimento", "Valor", "Celular", "E-mail"])
    sheet.append([52998224725, "Ana", "X-1", dt.date(2025, 3, 1), 150.5, "(11) 98765-4321",
                  "ana@"])
    sheet.append(["1234567890", "Bia", "X-2", "01/04/2025", "R$ 1.000,00", "", ""])
    path = tmp_path / "carteira.xlsx"
    book.save(path)
    result = await import_portfolio(tenant.slug, str(path), None, "incremental", "Títulos")
    assert result["status"] == "done", result["error"]
    assert (result["rows_accepted"], result["rows_with_warnings"]) == (2, 1)
    state = await debts(db, tenant.id)
    assert state[("X-1", 1)].original_amount == Decimal("150.50")
    assert state[("X-2", 1)].due_date == dt.date(2025, 4, 1)
    warnings = await report(db, tenant.id, result["portfolio_id"], "warnings")
    assert warnings.splitlines()[0] == "Linha;Coluna;Valor;Aviso"
    assert "2;E-mail;ana@;e-mail inválido descartado" in warnings


async def tenant_rows(db, tenant_id: uuid.UUID) -> dict[str, set[tuple]]:
    """A tenant's debtors, debts and contact points by their business keys."""
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        debtors = {d.id: d for d in (await session.execute(select(Debtor))).scalars()}
        debt_rows = (await session.execute(select(Debt))).scalars()
        contact_rows = (await session.execute(select(ContactPoint))).scalars()
        return {
            "debtors": {(d.document, d.name, d.birth_date, d.state) for d in debtors.values()},
            "debts": {(debtors[d.debtor_id].document, d.contract, d.installment,
                       d.original_amount, d.due_date) for d in debt_rows},
            "contacts": {(debtors[c.debtor_id].document, c.kind, c.value)
                         for c in contact_rows},
        }


@pytest.mark.parametrize("filter_bits", [None, 8], ids=["filter", "saturated-filter"])
async def test_many_small_batches_reach_the_same_state_as_one(db, factory, services, tmp_path,
                                                              monkeypatch, filter_bits):
    """Debtors whose installments straddle batch boundaries are written once, with their
    contacts once, and are not reported as updated by their own import, whether the
    first-portfolio filter skips their lookups or (saturated) sends every one."""
    path = tmp_path / "carteira.csv"
    write_sample(path, 1200, seed=11)
    whole = await factory.tenant()
    one = await run(whole, path)
    from tenants.intake.formats import reader
    from tenants.intake.load import store
    from tenants.intake.load.bloom_filter import BloomFilter

    monkeypatch.setattr(reader, "CHUNK_BYTES", 4096)  # about 20 rows a parse batch
    monkeypatch.setattr(pipeline, "WRITE_ROWS", 50)  # a few parse batches a write
    if filter_bits is not None:
        monkeypatch.setattr(store, "BloomFilter", lambda: BloomFilter(filter_bits))
    pieces = await factory.tenant()
    many = await run(pieces, path)
    for key in ("rows_total", "rows_accepted", "rows_rejected", "debtors_created",
                "debts_created", "amount_placed"):
        assert many[key] == one[key], key
    assert many["debtors_updated"] == one["debtors_updated"] == 0
    assert await tenant_rows(db, pieces.id) == await tenant_rows(db, whole.id)
    # Repeated contracts are named with their first row however the file is cut.
    errors = [sorted(csv.reader(io.StringIO(await report(db, t.id, r["portfolio_id"], "errors")),
                                delimiter=";"))
              for t, r in ((whole, one), (pieces, many))]
    assert errors[0] == errors[1]
    assert any("repetidos" in line[-1] for line in errors[0])
    assert await count(db, pieces.id, Debtor) == one["debtors_created"]


async def test_debtor_rows_cannot_be_deleted_or_rekeyed_by_the_application(db, factory,
                                                                           services, tmp_path):
    """Debts and contact points reference debtors without a foreign key (DEBTOR_REFERENCES):
    the application role must not be able to break those references."""
    import sqlalchemy.exc

    tenant = await factory.tenant()
    await run(tenant, csv_file(tmp_path, [f"{CPFS[0]};Ana Souza;A-1;1;10/01/2025;100,00;;"]))
    for statement in ("DELETE FROM debtor", "UPDATE debtor SET id = gen_random_uuid()",
                      "UPDATE debtor SET tenant_id = gen_random_uuid()"):
        with pytest.raises(sqlalchemy.exc.ProgrammingError, match="permission denied"):
            async with db.transaction(Scope.tenant(tenant.id)) as session:
                await session.execute(text(statement))
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        await session.execute(text("UPDATE debtor SET name = 'Ana S. Souza'"))
    assert await count(db, tenant.id, Debtor) == 1


@pytest.mark.parametrize("keys_in_memory", [1_000_000, 100])
async def test_a_repeat_far_from_its_first_row_is_rejected_naming_it(
        db, factory, services, tmp_path, monkeypatch, keys_in_memory):
    """The file's keys are remembered across batches: in memory, and past the limit in a
    database session of the import's own."""
    from tenants.intake.formats import reader

    monkeypatch.setattr(reader, "CHUNK_BYTES", 1024)
    monkeypatch.setattr(pipeline, "KEYS_IN_MEMORY", keys_in_memory)
    rows = [f"{CPFS[0]};Ana Souza;K-{i};1;10/01/2025;10,00;;" for i in range(300)]
    rows.append(f"{CPFS[1]};Bruno Lima;K-0;1;10/01/2025;99,00;;")
    tenant = await factory.tenant()
    result = await run(tenant, csv_file(tmp_path, rows))
    assert (result["rows_accepted"], result["rows_rejected"]) == (300, 1)
    errors = await report(db, tenant.id, result["portfolio_id"], "errors")
    line = next(r for r in csv.reader(io.StringIO(errors), delimiter=";") if r[0] == "302")
    assert "repetidos" in line[-1] and "linha 2" in line[-1]
    assert (await debts(db, tenant.id))[("K-0", 1)].original_amount == Decimal("10.00")


async def test_an_xlsx_upload_previews_its_first_rows_with_a_ddd_column_joined(
        client, factory, tmp_path):
    openpyxl = pytest.importorskip("openpyxl")
    tenant = await factory.tenant()
    headers = tenant.admin.headers
    book = openpyxl.Workbook()
    book.active.append(["CPF", "Nome", "Contrato", "Vencimento", "Valor", "DDD", "Fone"])
    for i in range(8):
        book.active.append([52998224725, "Ana", f"C{i}", "10/01/2025", 10.5, 11, "3333-4444"])
    path = tmp_path / "carteira.xlsx"
    book.save(path)
    body = (await client.post("/api/v1/portfolios", headers=headers,
                              json={"file_name": "carteira.xlsx",
                                    "file_size": path.stat().st_size})).json()
    async with httpx.AsyncClient() as s3:
        put = await s3.put(body["upload_url"], content=path.read_bytes(),
                           headers=body["upload_headers"])
        assert put.status_code == 200
    preview = (await client.post(f"/api/v1/portfolios/{body['id']}/preview",
                                 headers=headers)).json()
    assert preview["format"]["kind"] == "xlsx" and preview["missing"] == []
    assert preview["rows"][0] == ["52998224725", "Ana", "C0", "10/01/2025", "10.5", "11",
                                  "3333-4444"]
    assert len(preview["rows"]) == 5
    assert preview["area_codes"] == {"Fone": "DDD"}


async def test_access_portfolio_answers_not_found_for_another_tenants_import(
        db, factory, services, tmp_path):
    from core.access import transaction
    from core.auth.principal import Principal
    from core.auth.roles import Role
    from core.errors import NotFound
    from core.ids import uuid7

    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    theirs = await run(beta, csv_file(tmp_path, [f"{CPFS[0]};Ana;A-1;1;10/01/2025;100,00;;"]))
    staff = Principal(user_id=uuid7(), email="a@alfa.test", full_name="A",
                      role=Role.CREDITOR_ADMIN, tenant_id=alfa.id,
                      tenant_ids=frozenset({alfa.id}))
    async with transaction(staff) as session:
        with pytest.raises(NotFound) as crossed:
            await service.access_portfolio(session, staff, uuid.UUID(theirs["portfolio_id"]))
        with pytest.raises(NotFound) as missing:
            await service.access_portfolio(session, staff, uuid7())
    assert crossed.value.detail == missing.value.detail == "carteira não encontrada"
