"""Every figure of the dashboard against a portfolio computed by hand (tests/reports/data.py),
the aggregates against a scan of the base tables, the filters, a change reaching the
figures through the queue, and the wall between tenants."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import text

from core.access import DebtId, TenantId, transaction
from core.collection import ledger
from core.models import PaymentSource
from reports import dashboard, tables
from reports.dashboard import Filters
from reports.families import FAMILIES
from reports.refresh import refresh_tenant, system
from tests.reports.conftest import Reported
from tests.reports.data import Built, build

D = Decimal


async def _board(built: Built, scan: bool = False, **dims: object) -> dashboard.Dashboard:
    filters = Filters(built.months.a, built.months.c, **dims)  # type: ignore[arg-type]
    async with transaction(system(built.tenant_id)) as session:
        tenant = TenantId(built.tenant_id)
        if scan:
            return await dashboard.scan(session, tenant, filters)
        return await dashboard.build(session, tenant, filters)


@pytest.fixture
def portfolio(reported: Reported) -> Built:
    return reported.built


async def test_every_figure_against_the_hand_computed_portfolio(portfolio: Built) -> None:
    board = await _board(portfolio)
    m = portfolio.months

    # Placement by days overdue at placement: T3 not yet due; T4 (10 d) and T5 (3 d);
    # T1 (45 d); T2 (200 d, placed 2,000 + 500 interest).
    bands = {b.band: (b.debts, b.amount) for b in board.bands}
    assert bands == {"a_vencer": (1, D("300.00")), "0-30": (2, D("500.00")),
                     "31-60": (1, D("1000.00")), "61-90": (0, D(0)), "91-180": (0, D(0)),
                     "181-360": (1, D("2500.00")), "361+": (0, D(0))}
    assert (board.placed_debts, board.placed_amount) == (5, D("4300.00"))

    # Vintage: month A placed 3,900 (T1, T2, T3, T5) and got 600 in A, 400 in B; T2's
    # 100 went to the creditor. Month B placed 400 (T4), paid in full in B.
    a, b = board.cohorts
    assert (a.month, a.debts, a.placed, a.recovered, a.direct) == (
        m.a, 4, D("3900.00"), D("1000.00"), D("100.00"))
    assert a.curve == [D(600) / D(3900), D(1000) / D(3900), D(1000) / D(3900)]
    assert (b.month, b.placed, b.recovered, b.rate, b.curve) == (
        m.b, D("400.00"), D("400.00"), D(1), [D(1), D(1)])
    assert board.liquidity == D(1400) / D(4300)

    # Money by payment date; days to pay from placement to the first agency payment:
    # T1 placed A-05, paid A-20 (15 days); T4 placed B-10, paid B-25 (15 days).
    money = board.money
    assert (money.recovered, money.direct, money.payments, money.first_payments) == (
        D("1400.00"), D("100.00"), 3, 2)
    assert money.average_days_to_pay == D(15)
    # The statement's default contract: 10% on agency payments, none on direct ones.
    assert (money.commission, money.net_due) == (D("140.00"), D("1260.00"))

    channels = {c.channel: (c.attempts, c.contacts, c.rpc, c.inbound) for c in board.channels}
    assert channels == {
        "email": (2, 1, 1, 0),  # sent; read (the debtor)
        "sms": (1, 1, 0, 0),  # delivered: reached the phone, not known to be the debtor
        # a third party answered; no answer; abandoned (answered, no agent); the debtor
        "call": (4, 3, 1, 0),
        "whatsapp": (0, 0, 0, 1),  # blocked by the guard is no attempt; one inbound
    }
    totals = board.channel_totals()
    assert (totals.contact_rate, totals.rpc_rate) == (D(5) / D(7), D(2) / D(7))

    messages = {(r.step_day, r.channel): (r.planned, r.sent, r.delivered, r.read, r.failed,
                                          r.blocked) for r in board.messages}
    assert messages == {(-3, "email"): (1, 1, 1, 1, 0, 0), (0, "email"): (1, 0, 0, 0, 1, 0),
                        (0, "sms"): (1, 1, 1, 0, 0, 0), (5, "whatsapp"): (1, 0, 0, 0, 0, 1)}

    # D1 promised 500 by A-25 and paid 600 on A-20: kept. D2 promised 300 by B-05 and
    # only paid the creditor: broken. D3 promised for ten days from now: pending.
    p = board.promises
    assert (p.made, p.made_amount, p.kept, p.kept_amount, p.broken, p.pending) == (
        3, D("1050.00"), 1, D("500.00"), 1, 1)
    assert p.kept_rate == D("0.5")

    ag = board.agreements
    assert ag.counts == {"made": 3, "settled": 1, "broken": 1}
    assert ag.amounts == {"made": D("2600.00"), "settled": D("400.00"),
                          "broken": D("1800.00")}
    assert (ag.running, ag.outstanding) == (1, D("400.00"))

    assert [(e.path, e.state, e.escalations, e.amount) for e in board.escalations] == [
        ("bureau", "listed", 1, D("2500.00")), ("protest", "queued", 1, D("400.00"))]

    [agent] = board.agents
    assert (agent.calls, agent.talk_seconds, agent.logged_seconds, agent.agreements,
            agent.agreed_amount) == (2, 180, 3600, 2, D("2200.00"))
    assert agent.calls_per_hour == D(2)
    assert agent.name == "Operador 1"  # a system reader does not see agency users

    [campaign] = board.dialer
    assert (campaign.dialed, campaign.answered, campaign.abandoned) == (4, 3, 1)
    assert (campaign.answer_rate, campaign.abandon_rate) == (D("0.75"), D(1) / D(3))
    assert campaign.over_target
    assert board.occupancy == D(180 + 2 * 20) / D(3600)

    # Champion: D1 (paid 1,000 since enrolment) and D4 (nothing); challenger: D2 (paid
    # the creditor only). Rates 1/2 and 0/1: -0.5, CI -0.5 ± 1.96·sqrt(0.25/2).
    ex = board.experiment
    assert ex.champion is not None and ex.challenger is not None
    assert (ex.champion.debtors, ex.champion.payers, ex.champion.recovered) == (
        2, 1, D("1000.00"))
    assert ex.champion.variance == D(500000)
    assert (ex.challenger.debtors, ex.challenger.payers) == (1, 0)
    diff = ex.payer_rate_diff
    assert diff is not None and diff.value == D("-0.5")
    half = D("1.96") * D("0.125").sqrt()
    assert (diff.low, diff.high) == (D(-1), D("-0.5") + half)  # -1.19 cut at -100%
    assert not diff.significant
    assert ex.mean_diff is None  # one challenger debtor: no variance to compare


async def test_the_aggregates_hold_what_a_scan_of_the_base_tables_computes(
        portfolio: Built) -> None:
    cases: list[dict[str, object]] = [
        {}, {"portfolio_id": portfolio.portfolios["P2"]}, {"segment": "primeiro_atraso"},
        {"segment": "sem_segmento"}, {"cadence": str(portfolio.cadences["C2"])},
        {"cadence": "none"}]
    for dims in cases:
        stored = await _board(portfolio, **dims)
        scanned = await _board(portfolio, scan=True, **dims)
        shown = [(t.title, [[c.text for c in r] for r in t.rows])
                 for t in tables.build_tables(stored, lambda f, k: None)]
        again = [(t.title, [[c.text for c in r] for r in t.rows])
                 for t in tables.build_tables(scanned, lambda f, k: None)]
        assert shown == again, dims


async def test_filters_count_only_their_debtors(portfolio: Built) -> None:
    p2 = await _board(portfolio, portfolio_id=portfolio.portfolios["P2"])
    assert (p2.placed_debts, p2.placed_amount, p2.money.recovered) == (1, D("400.00"),
                                                                       D("400.00"))
    assert p2.agreements.counts == {"made": 1} and p2.agreements.running == 1
    first = await _board(portfolio, segment="primeiro_atraso")  # D1 only
    assert [(b.band, b.debts) for b in first.bands if b.debts] == [("31-60", 1)]
    assert first.promises.kept == 1 and first.promises.made == 1
    assert {c.channel for c in first.channels} == {"email", "call"}
    challenger = await _board(portfolio, cadence=str(portfolio.cadences["C2"]))  # D2 only
    assert challenger.placed_amount == D("2800.00")
    assert challenger.experiment.champion is None
    assert challenger.money.direct == D("100.00") and challenger.money.recovered == D(0)
    outside = await _board(portfolio, cadence="none")  # D3: never enrolled
    assert outside.placed_amount == D("400.00")
    # Agents and campaigns have no portfolio or segment: the period alone filters them.
    assert len(first.agents) == 1 and len(first.dialer) == 1


async def test_a_payment_reaches_the_figures_through_the_queue(portfolio: Built) -> None:
    principal = system(portfolio.tenant_id)
    async with transaction(principal) as session:
        await ledger.record_payment(session, principal, DebtId(portfolio.debts["T5"]),
                                    D("100.00"), paid_on=portfolio.months.today,
                                    source=PaymentSource.AGENCY)
    async with transaction(principal) as session:
        queued = (await session.execute(text(
            "SELECT family, month FROM report_dirty ORDER BY family"))).all()
    c = portfolio.months.c
    assert ("recovery", c) in queued and ("promise", c) in queued
    assert ("experiment", portfolio.months.a) in queued  # D4's enrolment month
    before = await _board(portfolio)
    assert before.money.recovered == D("1400.00")  # not yet: the queue waits for the job
    summary = await refresh_tenant(TenantId(portfolio.tenant_id))
    assert summary.slices["recovery"] == [c]
    after = await _board(portfolio)
    assert after.money.recovered == D("1500.00")
    assert after.experiment.champion is not None and after.experiment.champion.payers == 2
    assert after.liquidity == D(1500) / D(4300)


async def test_another_tenant_never_counts_in_a_dashboard(factory) -> None:  # type: ignore[no-untyped-def]
    first, second = await factory.tenant("Alfa Relatórios"), await factory.tenant("Beta")
    built = await build(first.id, seed=202)
    await build(second.id, seed=303)
    for tenant in (first.id, second.id):
        await refresh_tenant(TenantId(tenant))
    alone = await factory.tenant("Gama")
    mine = await build(alone.id, seed=404)
    await refresh_tenant(TenantId(alone.id))
    # Three tenants with the same portfolio: each sees its own figures, never the sum.
    for one in (built, mine):
        board = await _board(one)
        assert (board.placed_amount, board.money.recovered) == (D("4300.00"), D("1400.00"))
        assert board.agreements.counts["made"] == 3
    # A raw query under the first tenant's setting sees none of the second's rows.
    async with transaction(system(first.id)) as session:
        for family in FAMILIES.values():
            tenants = set((await session.execute(text(
                f"SELECT DISTINCT tenant_id FROM {family.table}"))).scalars())
            assert tenants <= {first.id}, family.table
        for table in ("report_debtor", "report_dirty", "report_state", "report_delivery"):
            tenants = set((await session.execute(text(
                f"SELECT DISTINCT tenant_id FROM {table}"))).scalars())
            assert tenants <= {first.id}, table
        # and cannot write into another tenant's aggregates
        with pytest.raises(Exception, match="row-level security"):
            await session.execute(text(
                "INSERT INTO report_placement (tenant_id, month, segment, arm, band, debts,"
                " amount) VALUES (:t, current_date, 'x', 'none', '0-30', 1, 1)"),
                {"t": second.id})
