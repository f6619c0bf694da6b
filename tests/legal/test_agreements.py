"""Negotiation: policy limits, approval levels and queues, business-day schedules,
acceptance (agent and one-time link), breach and reinstatement, isolation."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from core.auth.principal import Principal
from core.collection.workable import blocker
from core.db import Scope
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.models import AuditLog, Debt, DebtStatus, LedgerEntry
from legal import agreements, policy, simulator
from legal.models import Agreement, ApprovalLevel, Installment
from legal.simulator import schedule
from tests.legal.helpers import AT, JOSE, principal

D = Decimal


async def test_the_simulation_updates_the_debt_and_offers_the_largest_discount_in_full(book):
    sim = await simulator.simulate(book["p_agent"], book["jose"], [book["debts"][1]], AT)
    [update] = sim.updates
    assert update.total == D("1062.44")  # the worked example of test_updating
    cash = next(o for o in sim.options if o.installments == 1)
    # Band 91-365 days: correction 50%, interest 80%, fee 100%, by hand:
    # 10.13 × 0.5 = 5.065 → 5.06 (half-even); 32.11 × 0.8 = 25.688 → 25.69; 20.20.
    assert cash.discount_total == D("5.06") + D("25.69") + D("20.20")
    assert cash.total == D("1062.44") - D("50.95") == D("1011.49")
    assert cash.down_payment == cash.installment_amount == cash.total
    assert cash.approval == ApprovalLevel.AGENT
    assert [o.installments for o in sorted(sim.options, key=lambda o: o.installments)] == [
        1, 3, 6, 10, 12]
    first = sim.options[0]
    assert first.reason and first.reason.startswith("Primeira por maior recuperação esperada")
    assert "sem histórico" in first.reason
    assert [o.expected_recovery for o in sim.options] == sorted(
        (o.expected_recovery for o in sim.options), reverse=True)


async def test_plans_respect_the_policy_limits(book):
    await policy.save_policy(book["p_supervisor"], book["alfa"].id, {
        "max_installments": "6", "installment_plans": "3, 6, 10", "min_installment": "300",
        "min_down_payment_pct": "40", "installment_interest_pct": "0",
        "max_first_due_days": "2", "agent_max_installments": "3",
        "supervisor_max_installments": "6"})
    sim = await simulator.simulate(book["p_agent"], book["jose"], None, AT)
    by_n = {o.installments: o for o in sim.options}
    # 10 is beyond the maximum; 6 would be installments under R$ 300,00.
    assert set(by_n) == {1, 3}
    three = by_n[3]
    net = three.updated_balance - three.discount_total
    assert three.down_payment == (net * D("0.4")).quantize(D("0.01"))
    assert three.installment_amount >= D("300")
    assert three.total == three.down_payment + 2 * three.installment_amount
    assert three.schedule[0].due_date <= AT + dt.timedelta(days=2)
    for u in sim.updates:  # never beyond the band (91-365 days: no principal discount)
        assert all(v <= u.bucket(b) for b, v in three.discounts[u.debt_id].items())
        assert "principal" not in {b.value for b in three.discounts[u.debt_id]}
    with pytest.raises(ValidationFailed) as caught:
        await policy.save_policy(book["p_supervisor"], book["alfa"].id,
                                 {"agent_discount_pct": "60", "supervisor_discount_pct": "50",
                                  "late_fee_pct": "abc"})
    assert set(caught.value.detail) == {"late_fee_pct"}
    with pytest.raises(Forbidden):
        await policy.save_policy(book["p_agent"], book["alfa"].id, {})


async def test_each_approval_level_goes_to_its_queue(book):
    # Agents grant 0% alone, supervisors up to 4%: cash (4.8% off) needs the creditor, a
    # 3-plan (about 3.7% off) a supervisor.
    await policy.save_policy(book["p_supervisor"], book["alfa"].id, {
        "agent_discount_pct": "0", "supervisor_discount_pct": "4"})
    sim = await simulator.simulate(book["p_agent"], book["jose"], [book["debts"][1]], AT)
    levels = {o.installments: o.approval for o in sim.options}
    assert levels[1] == ApprovalLevel.CREDITOR and levels[3] == ApprovalLevel.SUPERVISOR
    assert "exige aprovação do credor" in next(o for o in sim.options
                                                if o.installments == 1).approval_why
    number = {o.installments: o.option for o in sim.options}

    to_creditor = await agreements.create(book["p_agent"], book["jose"], number[1],
                                          [book["debts"][1]], AT)
    assert (to_creditor.status, to_creditor.approval_level) == ("pending_approval", "creditor")
    with pytest.raises(Conflict):
        await agreements.accept_by_agent(book["p_agent"], to_creditor.agreement_id, "REC-1")
    assert [q.request_id for q in await agreements.queue(book["p_creditor"])] == [
        to_creditor.approval_request_id]
    assert await agreements.queue(book["p_supervisor"]) == []
    with pytest.raises(Forbidden):
        await agreements.decide(book["p_supervisor"], to_creditor.approval_request_id, True, "")
    await agreements.decide(book["p_creditor"], to_creditor.approval_request_id, True, "ok")
    seen = await agreements.get(book["p_agent"], to_creditor.agreement_id)
    assert seen.status == "proposed" and seen.approvals[0]["status_label"] == "aprovado"

    to_supervisor = await agreements.create(book["p_agent"], book["jose"], number[3],
                                            [book["debts"][1]], AT)
    assert to_supervisor.approval_level == "supervisor"
    [item] = await agreements.queue(book["p_supervisor"])
    assert item.may_decide and item.debtor_name == "José da Conceição"
    with pytest.raises(ValidationFailed) as caught:
        await agreements.decide(book["p_supervisor"], item.request_id, False, "  ")
    assert "reason" in caught.value.detail
    await agreements.decide(book["p_supervisor"], item.request_id, False, "desconto alto")
    refused = await agreements.get(book["p_agent"], to_supervisor.agreement_id)
    assert refused.status == "cancelled"
    assert refused.cancel_reason == "recusado pelo supervisor: desconto alto"
    assert {i.status for i in refused.installments} == {"cancelled"}
    # The agent sees the answers to its own requests.
    mine = await agreements.queue(book["p_agent"], include_decided=True)
    assert {(q.level, q.status) for q in mine} == {("creditor", "accepted"),
                                                   ("supervisor", "refused")}
    # A supervisor creating the supervisor-level plan needs nobody.
    direct = await agreements.create(book["p_supervisor"], book["jose"], number[3],
                                     [book["debts"][1]], AT)
    assert direct.status == "proposed" and direct.approval_request_id is None


def test_business_day_schedules_skip_weekends_and_holidays_of_the_tenants_state():
    # 20/11/2026 (three days after 17/11) is a national holiday; the following Saturday
    # and Sunday push the first installment to Monday 23/11; 23/01/2027 is a Saturday.
    dates = schedule(dt.date(2026, 11, 17), 3, "SP", 10)
    assert [d for d, _ in dates] == [dt.date(2026, 11, 23), dt.date(2026, 12, 23),
                                     dt.date(2027, 1, 25)]
    assert "feriado: Dia Nacional de Zumbi e da Consciência Negra" in (dates[0][1] or "")
    assert "sábado" in (dates[2][1] or "")
    # 09/07 is São Paulo's own holiday, not Rio de Janeiro's.
    assert schedule(dt.date(2026, 7, 6), 1, "SP", 10)[0][0] == dt.date(2026, 7, 10)
    assert schedule(dt.date(2026, 7, 6), 1, "RJ", 10)[0][0] == dt.date(2026, 7, 9)
    # The latest first due date wins over the shift: back to the business day before.
    assert schedule(dt.date(2026, 12, 2), 1, "SP", 3)[0][0] == dt.date(2026, 12, 4)


async def _ledger(db, tenant_id, debt_id, kind: str | None = None) -> Decimal:
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        query = select(func.coalesce(func.sum(LedgerEntry.amount), 0)).where(
            LedgerEntry.debt_id == debt_id)
        if kind:
            query = query.where(LedgerEntry.kind == kind)
        return D((await session.execute(query)).scalar_one())


async def _debt(db, tenant_id, debt_id) -> Debt:
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        return (await session.execute(select(Debt).where(Debt.id == debt_id))).scalar_one()


async def test_acceptance_moves_debts_into_the_agreement_and_out_of_collection(db, book):
    sim = await simulator.simulate(book["p_agent"], book["jose"], [book["debts"][1]], AT)
    cash = next(o for o in sim.options if o.installments == 1)
    created = await agreements.create(book["p_agent"], book["jose"], cash.option,
                                      [book["debts"][1]], AT)
    with pytest.raises(ValidationFailed):
        await agreements.accept_by_agent(book["p_agent"], created.agreement_id, " ")
    await agreements.accept_by_agent(book["p_agent"], created.agreement_id, "GRAV-2024-001")
    debt_id = book["debts"][1]
    debt = await _debt(db, book["alfa"].id, debt_id)
    assert debt.status == DebtStatus.IN_AGREEMENT
    assert blocker(debt, [], dt.datetime.now(dt.UTC), "America/Sao_Paulo") == (
        "status:in_agreement")
    # The ledger now says what the agreement says.
    assert await _ledger(db, book["alfa"].id, debt_id) == D("1011.49")
    assert await _ledger(db, book["alfa"].id, debt_id, "discount") == D("-50.95")
    assert await _ledger(db, book["alfa"].id, debt_id, "accrual") == D("62.44")
    assert debt.current_balance == D("1011.49")
    seen = await agreements.get(book["p_agent"], created.agreement_id)
    assert seen.status == "active" and seen.call_recording_ref == "GRAV-2024-001"
    assert "TERMO DE ACORDO EXTRAJUDICIAL" in seen.terms and "R$ 1.011,49" in seen.terms
    # The other debt is still open and may be negotiated; this one may not.
    again = await simulator.simulate(book["p_agent"], book["jose"], None, AT)
    assert [u.debt_id for u in again.updates] == [book["debts"][2]]


async def test_the_debtor_accepts_once_on_the_signed_link(db, book):
    sim = await simulator.simulate(book["p_agent"], book["jose"], None, AT)
    created = await agreements.create(book["p_agent"], book["jose"], 1, None, AT)
    url = await agreements.issue_link(book["p_agent"], created.agreement_id)
    token = url.removeprefix("/acordo?t=")
    seen = await agreements.view_by_link(token)
    assert seen.total == sim.options[0].total
    with pytest.raises(NotFound):
        await agreements.view_by_link(token[:-1] + ("0" if token[-1] != "0" else "1"))
    await agreements.accept_by_link(token, "203.0.113.9", "Mozilla/5.0 (celular)")
    view = await agreements.get(book["p_agent"], created.agreement_id)
    assert (view.status, view.accepted_via, view.accepted_ip, view.accepted_user_agent) == (
        "active", "debtor_link", "203.0.113.9", "Mozilla/5.0 (celular)")
    with pytest.raises(NotFound):
        await agreements.accept_by_link(token, "203.0.113.9", "again")
    async with db.transaction(Scope.tenant(book["alfa"].id)) as session:
        actions = set((await session.execute(select(AuditLog.action).where(
            AuditLog.entity_id == str(created.agreement_id)))).scalars())
    assert {"agreement.created", "agreement.link_issued", "agreement.accepted"} <= actions


async def test_breach_returns_the_unpaid_remainder_and_reinstatement_happens_once(db, book):
    await policy.save_policy(book["p_supervisor"], book["alfa"].id, {
        "installment_interest_pct": "0", "max_first_due_days": "10"})
    sim = await simulator.simulate(book["p_agent"], book["jose"], [book["debts"][1]], AT)
    plan = next(o for o in sim.options if o.installments == 3)
    created = await agreements.create(book["p_agent"], book["jose"], plan.option,
                                      [book["debts"][1]], AT)
    if created.status == "pending_approval":
        await agreements.decide(book["p_supervisor"], created.approval_request_id, True, "")
    await agreements.accept_by_agent(book["p_agent"], created.agreement_id, "GRAV-7")
    system = Principal.system(Scope.tenant(book["alfa"].id))
    async with db.transaction(system.scope) as session:
        first = (await session.execute(select(Installment).where(
            Installment.agreement_id == created.agreement_id, Installment.number == 1))
        ).scalar_one()
        await agreements.pay_installment(session, system, first.id, first.amount,
                                         first.due_date, reference="PIX-1")
    second_due = plan.schedule[1].due_date
    # Within the tolerance (5 days): overdue, not broken.
    assert await agreements.break_overdue(book["alfa"].id, second_due + dt.timedelta(days=5)
                                          ) == []
    view = await agreements.get(book["p_agent"], created.agreement_id)
    assert [i.status for i in view.installments] == ["paid", "overdue", "open"]
    assert await agreements.break_overdue(book["alfa"].id, second_due + dt.timedelta(days=6)
                                          ) == [created.agreement_id]
    view = await agreements.get(book["p_creditor"], created.agreement_id)
    assert view.status == "broken" and "parcela 2" in (view.broken_reason or "")
    assert [i.status for i in view.installments] == ["paid", "cancelled", "cancelled"]
    debt_id = book["debts"][1]
    debt = await _debt(db, book["alfa"].id, debt_id)
    assert debt.status == DebtStatus.OPEN  # back to the cadence and the dialer
    assert blocker(debt, [], dt.datetime.now(dt.UTC), "America/Sao_Paulo") is None
    # The discount is revoked in the share still unpaid, bucket by bucket, by hand.
    share = (plan.total - plan.down_payment) / plan.total
    revoked = sum(((v * share).quantize(D("0.01")) for v in
                   plan.discounts[debt_id].values()), D("0"))
    assert await _ledger(db, book["alfa"].id, debt_id, "discount") == (
        -plan.discount_total + revoked)
    assert await _ledger(db, book["alfa"].id, debt_id) == (
        plan.total - plan.down_payment + revoked)
    async with db.transaction(Scope.tenant(book["alfa"].id)) as session:
        broken = (await session.execute(select(AuditLog).where(
            AuditLog.action == "agreement.broken",
            AuditLog.entity_id == str(created.agreement_id)))).scalar_one()
    assert broken.tenant_id == book["alfa"].id  # the creditor's audit shows it

    today = second_due + dt.timedelta(days=7)
    await agreements.reinstate(book["p_agent"], created.agreement_id, today)
    view = await agreements.get(book["p_agent"], created.agreement_id)
    assert view.status == "reinstated"
    assert [i.status for i in view.installments] == ["paid", "open", "open"]
    assert all(i.due_date > today for i in view.installments[1:])
    assert (await _debt(db, book["alfa"].id, debt_id)).status == DebtStatus.IN_AGREEMENT
    assert await _ledger(db, book["alfa"].id, debt_id) == plan.total - plan.down_payment
    await agreements.break_overdue(book["alfa"].id,
                                   view.installments[1].due_date + dt.timedelta(days=6))
    with pytest.raises(Conflict) as caught:
        await agreements.reinstate(book["p_agent"], created.agreement_id)
    assert "já foi restabelecido" in str(caught.value)


async def test_paying_every_installment_settles_the_agreement_and_its_debts(db, book):
    sim = await simulator.simulate(book["p_agent"], book["jose"], None, AT)
    cash = next(o for o in sim.options if o.installments == 1)
    created = await agreements.create(book["p_supervisor"], book["jose"], cash.option, None, AT)
    await agreements.accept_by_agent(book["p_agent"], created.agreement_id, "GRAV-9")
    view = await agreements.get(book["p_agent"], created.agreement_id)
    [inst] = view.installments
    await agreements.record_payment(book["p_agent"], inst.id, inst.amount, AT)
    view = await agreements.get(book["p_agent"], created.agreement_id)
    assert view.status == "settled" and view.installments[0].status == "paid"
    assert len(view.debts) == 2
    for d in view.debts:
        debt = await _debt(db, book["alfa"].id, uuid.UUID(d["debt_id"]))
        assert debt.status == DebtStatus.PAID and debt.current_balance == 0


async def test_another_tenants_agreement_is_not_found(db, book):
    created = await agreements.create(book["p_agent"], book["jose"], 1, None, AT)
    beta_admin = await principal(db, book["beta"].admin)
    with pytest.raises(NotFound):
        await agreements.get(beta_admin, created.agreement_id)
    with pytest.raises(NotFound):
        await agreements.accept_by_agent(beta_admin, created.agreement_id, "X")
    with pytest.raises(NotFound):
        await simulator.simulate(book["p_agent"], book["jose_beta"], None, AT)
    async with db.transaction(Scope.tenant(book["beta"].id)) as session:
        assert (await session.execute(select(func.count()).select_from(Agreement))
                ).scalar_one() == 0


def test_the_cli_prints_options_and_creates_an_agreement(book):
    from click.testing import CliRunner

    from portal.cli import cli

    runner = CliRunner()
    answer = runner.invoke(cli, ["agreement", "simulate", "--tenant", book["alfa"].slug,
                                 "--debtor", "529.982.247-25", "--date", AT.isoformat(),
                                 "--json"])
    assert answer.exit_code == 0, answer.output
    options = json.loads(answer.output)
    assert {"option", "installments", "total", "down_payment", "installment_amount",
            "approval"} <= set(options[0])
    created = runner.invoke(cli, ["agreement", "create", "--tenant", book["alfa"].slug,
                                  "--debtor", JOSE, "--option", "1", "--date", AT.isoformat(),
                                  "--json"])
    assert created.exit_code == 0, created.output
    assert uuid.UUID(json.loads(created.output)["agreement_id"])
    missing = runner.invoke(cli, ["agreement", "simulate", "--tenant", book["alfa"].slug,
                                  "--debtor", "11144477735", "--json"])
    assert missing.exit_code == 1 and "devedor não encontrado" in missing.output



async def test_the_tenants_own_history_reorders_the_options(db, book):
    """Twenty broken one-payment agreements and none kept: paying in full is expected to
    fail far more often than the prior says, and a plan comes first."""
    before = await simulator.simulate(book["p_agent"], book["jose"], None, AT)
    assert before.options[0].installments == 1
    async with db.transaction(Scope.tenant(book["alfa"].id)) as session:
        for _ in range(20):
            session.add(Agreement(
                tenant_id=book["alfa"].id, id=uuid.uuid4(), debtor_id=book["jose"],
                status="broken", reference_date=AT, terms="-", calculation={},
                option_label="À vista", updated_balance=D("100"), discount_total=D("0"),
                installment_interest=D("0"), total=D("100"), down_payment=D("100"),
                installment_count=1, installment_amount=D("100"), approval_level="agent",
                broken_at=dt.datetime.now(dt.UTC)))
    after = await simulator.simulate(book["p_agent"], book["jose"], None, AT)
    cash = next(o for o in after.options if o.installments == 1)
    # (0 kept + 0.85 × 10) / (20 + 10) = 0.2833…
    assert cash.probability.quantize(D("0.0001")) == D("0.2833")
    assert after.options[0].installments != 1
    assert "0 cumprido(s) e 20 quebrado(s)" in cash.probability_basis


async def test_the_creditor_sees_broken_agreements_in_its_list(client, db, book):
    sim = await simulator.simulate(book["p_agent"], book["jose"], [book["debts"][1]], AT)
    plan = next(o for o in sim.options if o.installments == 3)
    created = await agreements.create(book["p_supervisor"], book["jose"], plan.option,
                                      [book["debts"][1]], AT)
    await agreements.accept_by_agent(book["p_agent"], created.agreement_id, "GRAV-L")
    await agreements.break_overdue(book["alfa"].id, plan.schedule[0].due_date
                                   + dt.timedelta(days=6))
    page = await client.get("/acordos?situacao=broken", headers=book["creditor"].headers)
    assert page.status_code == 200
    assert str(created.agreement_id) in page.text and "quebrado" in page.text
    assert "parcela 1" in page.text
    beta = await client.get("/acordos", headers=book["beta"].admin.headers)
    assert str(created.agreement_id) not in beta.text


def test_the_breach_check_is_a_daily_job_of_each_tenant():
    from core.jobs import PERIODIC
    from portal.jobs import load_tasks

    load_tasks()
    declared = PERIODIC["legal.check_breaches"]
    assert declared.per_tenant and declared.daily_at == dt.time(3, 0)


def test_newer_index_months_are_loaded_from_a_file(services, tmp_path):
    from click.testing import CliRunner

    from portal.cli import cli

    path = tmp_path / "novos.csv"
    path.write_text("# novos meses\nindex,month,value,source\nIPCA,2031-01,0.40,teste\n"
                    "SELIC,2031-01,0.90,teste\n", encoding="utf-8")
    answer = CliRunner().invoke(cli, ["indexes", "load", str(path)])
    assert answer.exit_code == 0, answer.output
    assert json.loads(answer.output) == {"loaded": 2, "last_month": {"IPCA": "2031-01",
                                                                     "SELIC": "2031-01"}}
    bad = tmp_path / "ruim.csv"
    bad.write_text("index,month,value,source\nIGPM,2031-01,0.4,x\n", encoding="utf-8")
    refused = CliRunner().invoke(cli, ["indexes", "load", str(bad)])
    assert refused.exit_code == 1 and "linha 2" in refused.output
