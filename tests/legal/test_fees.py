"""The agency's fee contract (commission by band and bucket, direct payments, the debtor's
fee) on its page and in the CLI, the debtor's fee in the memória de cálculo, and the
policy's allocation order deciding which buckets a payment settles, so the commission:
figures computed by hand."""

from __future__ import annotations

import json
import re
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.access import TenantId, transaction
from core.db import Scope
from core.errors import ValidationFailed
from core.models import Bucket, LedgerEntry
from legal import agreements, fees, policy, simulator, statement
from legal.payment_models import FeeBand, FeeContract
from tests.legal.helpers import AT, build_agreement

D = Decimal


def test_a_band_is_written_as_days_and_rates_and_overlaps_are_refused():
    assert fees.band_from_text("0-180:principal=10,interest=30") == {
        "min_days": "0", "max_days": "180", "principal": "10", "interest": "30"}
    assert fees.band_from_text("181-:principal=20")["max_days"] is None
    with pytest.raises(ValidationFailed) as caught:
        fees.band_from_text("0-180:capital=10")
    assert "componente 'capital' desconhecido" in caught.value.detail["bands"]
    with pytest.raises(ValidationFailed) as caught:
        fees.band_from_text("dez:principal=10")
    assert "use DE-ATÉ:componente=pct" in caught.value.detail["bands"]
    # Different buckets may be banded differently; one bucket may not overlap itself.
    contract = fees.from_dict({"bands": [
        {"min_days": 0, "max_days": 180, "principal": "10"},
        {"min_days": 181, "max_days": None, "principal": "20"},
        {"min_days": 0, "max_days": None, "interest": "33"}]})
    assert (contract.pct(Bucket.PRINCIPAL, 200), contract.pct(Bucket.INTEREST, 200),
            contract.pct(Bucket.FINE, 200)) == (D("20"), D("33"), D("0"))
    with pytest.raises(ValidationFailed) as caught:
        fees.from_dict({"bands": [{"min_days": 0, "max_days": 180, "principal": "10"},
                                  {"min_days": 100, "max_days": None, "principal": "20"}]})
    assert caught.value.detail["bands"] == ("faixas sobrepostas para principal (a faixa que"
                                            " começa em 0 dias e a que começa em 100 dias)")
    with pytest.raises(ValidationFailed) as caught:
        fees.from_dict({"bands": [{"min_days": 0, "fees": "120"}], "debtor_fee_pct": "x"})
    assert set(caught.value.detail) == {"debtor_fee_pct"}


async def test_the_debtors_fee_is_its_own_line_of_the_memoria(book):
    before = await simulator.simulate(book["p_agent"], book["jose"], [book["debts"][1]], AT)
    assert before.updates[0].total == D("1062.44")
    await fees.save(book["p_admin"], book["alfa"].id, {
        "bands": [{"min_days": 0, "max_days": None, "principal": "10"}],
        "debtor_fee_pct": "10"})
    [update] = (await simulator.simulate(book["p_agent"], book["jose"], [book["debts"][1]],
                                         AT)).updates
    # The worked example of test_updating, unrounded: corrected 1010.1319083, interest
    # 32.1113330, fine 20.2026382; their sum × 10% = 106.24458795 → R$ 106,24.
    assert update.fees == D("106.24") and update.total == D("1168.68")
    assert ("5. Honorários de cobrança sobre o saldo atualizado: (R$ 1.010,131908 +"
            " R$ 32,111333 + R$ 20,202638) × 10,00% = R$ 106,244588.") in update.memoria


async def _paid_first_installment(database_url, tenant_id, order: list[str] | None):  # type: ignore[no-untyped-def]
    """A debt of principal 300 and interest 20 in an agreement of 100 + 220 (no discount),
    the commission 10% of principal and 30% of interest, the first installment paid."""
    built = await build_agreement(database_url, tenant_id, amounts=("100.00", "220.00"),
                                  placed=(("300.00", "20.00"),))
    async with transaction(built.principal) as session:
        await fees.set_contract(session, built.principal, TenantId(tenant_id), fees.Contract((
            fees.Band(0, None, Bucket.PRINCIPAL, D("10")),
            fees.Band(0, None, Bucket.INTEREST, D("30"))), None, False))
    if order is not None:
        await policy.save_policy(built.principal, tenant_id, {"allocation_order": order})
    view = await agreements.get(built.principal, built.agreement_id)
    first = view.installments[0]
    await agreements.record_payment(built.principal, first.id, first.amount, AT)
    async with transaction(built.principal) as session:
        paid = {e.bucket: -e.amount for e in (await session.execute(select(LedgerEntry).where(
            LedgerEntry.debt_id == built.debt_ids[0], LedgerEntry.kind == "payment"))).scalars()}
        report = await statement.build(session, TenantId(tenant_id), AT.replace(day=1))
    return paid, report


async def test_the_allocation_order_decides_the_buckets_and_so_the_commission(factory,
                                                                              database_url):
    # Charges first (the default): interest 20.00, then principal 80.00;
    # commission 20 × 30% + 80 × 10% = 6.00 + 8.00 = R$ 14,00.
    charges_first, report = await _paid_first_installment(
        database_url, (await factory.tenant()).id, None)
    assert charges_first == {"interest": D("20.00"), "principal": D("80.00")}
    [line] = report.lines
    assert (line.amount, line.commission, line.net_to_creditor) == (
        D("100.00"), D("14.00"), D("86.00"))
    # Principal first: all 100.00 on the principal; commission 100 × 10% = R$ 10,00.
    principal_first, report = await _paid_first_installment(
        database_url, (await factory.tenant()).id,
        ["principal", "correction", "interest", "fine", "fees"])
    assert principal_first == {"principal": D("100.00")}
    assert [(line.commission, line.net_to_creditor) for line in report.lines] == [
        (D("10.00"), D("90.00"))]


async def test_the_policy_orders_every_bucket_once_and_leaves_the_debtors_fee_to_the_contract(
        book):
    with pytest.raises(ValidationFailed) as caught:
        await policy.save_policy(book["p_supervisor"], book["alfa"].id,
                                 {"allocation_order": ["principal", "principal", "interest",
                                                       "fine", "fees"]})
    assert caught.value.detail == {"allocation_order": (
        "informe a ordem de quitação com cada componente uma vez (principal, correção"
        " monetária, juros, multa, honorários)")}
    with pytest.raises(ValidationFailed) as caught:
        await policy.save_policy(book["p_supervisor"], book["alfa"].id, {"debtor_fee_pct": "5"})
    assert "contrato de honorários" in caught.value.detail["debtor_fee_pct"]
    saved = await policy.save_policy(book["p_supervisor"], book["alfa"].id,
                                     {"allocation_order": "principal, interest, correction,"
                                                          " fine, fees"})
    assert saved["allocation_order"] == ["principal", "interest", "correction", "fine", "fees"]
    assert "debtor_fee_pct" not in saved


async def _csrf(client) -> str:  # type: ignore[no-untyped-def]
    await client.get("/")
    return str(client.cookies.get("regua_csrf", ""))


async def test_the_admin_sets_the_contract_on_its_page_and_nobody_else_does(client, db, book):
    alfa = book["alfa"].id
    admin = book["admin"].headers
    page = await client.get(f"/credores/{alfa}/honorarios", headers=admin)
    assert page.status_code == 200
    assert "ainda não tem contrato salvo" in page.text and "Contrato de honorários" in page.text
    form = {"band_min_days": ["0", "181", ""], "band_max_days": ["180", "", ""],
            "band_principal": ["10", "20", ""], "band_correction": ["", "", ""],
            "band_interest": ["30", "30", ""], "band_fine": ["", "", ""],
            "band_fees": ["", "", ""], "direct_payments_earn": "on", "debtor_fee_pct": "5"}
    headers = {**admin, "x-csrftoken": await _csrf(client)}
    saved = await client.post(f"/credores/{alfa}/honorarios", headers=headers, data=form)
    assert saved.status_code == 200 and "Contrato de honorários salvo" in saved.text
    stored = await fees.read(book["p_admin"], alfa)
    assert stored == {"default": False, "debtor_fee_pct": "5", "direct_payments_earn": True,
                      "bands": [
                          {"min_days": 0, "max_days": 180, "principal": "10",
                           "correction": None, "interest": "30", "fine": None, "fees": None},
                          {"min_days": 181, "max_days": None, "principal": "20",
                           "correction": None, "interest": "30", "fine": None, "fees": None}]}
    overlapping = {**form, "band_min_days": ["0", "100", ""]}
    refused = await client.post(f"/credores/{alfa}/honorarios", headers=headers,
                                data=overlapping)
    assert refused.status_code == 422
    assert ("faixas sobrepostas para principal (a faixa que começa em 0 dias e a que começa em"
            " 100 dias); juros (a faixa") in refused.text
    # The creditor's admin and the agency's supervisor may not; nor reach another tenant.
    for who in ("creditor", "supervisor"):
        denied = await client.get(f"/credores/{alfa}/honorarios", headers=book[who].headers)
        assert denied.status_code == 403
    missing = await client.get(f"/credores/{uuid.uuid4()}/honorarios", headers=admin)
    assert missing.status_code == 404
    # The wall: under Beta's setting, none of Alfa's contract rows.
    async with db.transaction(Scope.tenant(book["beta"].id)) as session:
        assert (await session.execute(select(FeeContract.id))).first() is None
        assert (await session.execute(select(FeeBand.id))).first() is None
    async with db.transaction(Scope.tenant(alfa)) as session:
        assert len((await session.execute(select(FeeBand.id))).all()) == 4


def test_the_cli_shows_and_sets_a_contract(book):
    from click.testing import CliRunner

    from portal.cli import cli

    runner = CliRunner()
    slug = book["alfa"].slug
    shown = runner.invoke(cli, ["fees", "show", "--tenant", slug])
    assert shown.exit_code == 0, shown.output
    assert "Sem contrato salvo: comissão padrão." in shown.output
    assert "Honorários cobrados do devedor: não cobrados" in shown.output
    changed = runner.invoke(cli, ["fees", "set", "--tenant", slug,
                                  "--band", "0-180:principal=10,interest=30",
                                  "--band", "181-:principal=20", "--debtor-fee", "2.5",
                                  "--direct-payments-earn", "--json"])
    assert changed.exit_code == 0, changed.output
    result = json.loads(changed.output)
    assert (result["tenant"], result["debtor_fee_pct"], result["direct_payments_earn"]) == (
        slug, "2.5", True)
    assert [(b["min_days"], b["max_days"], b["principal"]) for b in result["bands"]] == [
        (0, 180, "10"), (181, None, "20")]
    again = runner.invoke(cli, ["fees", "set", "--tenant", slug, "--debtor-fee", "none"])
    assert again.exit_code == 0, again.output
    lines = again.output.splitlines()
    assert "Comissão, 0 a 180 dias de atraso na colocação: principal 10%, juros 30%" in lines
    assert "Comissão, 181 dias ou mais de atraso na colocação: principal 20%" in lines
    assert "Honorários cobrados do devedor: não cobrados" in lines
    wrong = runner.invoke(cli, ["fees", "set", "--tenant", slug, "--band", "0-10"])
    assert wrong.exit_code == 1 and "use DE-ATÉ:componente=pct" in wrong.output
    unknown = runner.invoke(cli, ["fees", "show", "--tenant", "nao-existe"])
    assert unknown.exit_code == 1 and "não encontrado" in unknown.output
    assert re.search(r"\S", unknown.output)
