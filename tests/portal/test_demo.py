"""`regua up --demo`: its own tenants only, and a login for every role."""

from __future__ import annotations

import os
from decimal import Decimal

from sqlalchemy import func, select, text

from core.access import TenantId
from core.auth.roles import Role
from core.db import Scope
from core.maintenance import operator_scope
from core.models import CadenceAction, CadencePolicy, Portfolio, Tenant, User
from core.settings import get_settings
from legal.escalation import bureau_sandbox
from reports import dashboard
from reports.refresh import tenant_clock


async def test_the_demo_seeds_its_own_tenants_and_a_user_of_every_role(db, factory, services):
    from portal.demo import seed
    from portal.jobs import load_tasks

    load_tasks()  # the demo's plan sends its `cadence.dispatch` job
    mine = await factory.tenant("Credor do usuário")  # created before the demo runs
    bureau = bureau_sandbox.start(get_settings())  # as `regua up` starts it
    try:
        logins = await seed()
    finally:
        assert bureau is not None
        bureau.stop()
        os.environ.pop("REGUA_BUREAU_SANDBOX_URL", None)
        get_settings.cache_clear()
    async with db.transaction(Scope.tenant(mine.id)) as session:
        imported = (await session.execute(select(func.count()).select_from(Portfolio).where(
            Portfolio.tenant_id == mine.id))).scalar()
    assert imported == 0
    emails = [email for _, email, _ in logins]
    async with db.transaction(await operator_scope()) as session:
        roles = dict((await session.execute(
            select(User.email, User.role).where(User.email.in_(emails)))).all())
    # (A tenant of an earlier test run may hold a demo CNPJ: the demo then skips that
    # creditor rather than touch it.)
    assert set(roles.values()) >= set(Role) - {Role.CREDITOR_VIEWER}
    assert len(emails) == len(set(emails)) >= 5
    # Running it again (a second start) creates nothing new and prints the same logins.
    assert await seed() == logins

    # Each demo creditor runs the gentle cadence and the accelerated one as its challenger,
    # has scored debtors, and today's plan shows on both sides and on several channels.
    async with db.transaction(await operator_scope()) as session:
        demo = (await session.execute(select(Tenant.id).where(
            Tenant.slug.in_(["banco-exemplo", "varejo-modelo"])))).scalars().all()
    assert demo
    for tenant_id in demo:
        async with db.transaction(Scope.tenant(tenant_id)) as session:
            policy = (await session.execute(select(CadencePolicy))).scalar_one()
            planned = (await session.execute(select(
                CadenceAction.arm, CadenceAction.channel, func.count()).group_by(
                CadenceAction.arm, CadenceAction.channel))).all()
        # Files at every stage of escalation: a notice waiting its period, a listing, a
        # protest queued and a judicial file with the legal team.
        async with db.transaction(Scope.tenant(tenant_id)) as session:
            states = {r[0] for r in await session.execute(text(
                "SELECT DISTINCT state FROM escalation"))}
        assert {"notice_sent", "listed", "queued", "handed_off"} <= states, states
        assert policy.challenger_id is not None and policy.challenger_percent == 50
        assert {arm for arm, _, _ in planned} == {"champion", "challenger"}
        assert len({channel for _, channel, _ in planned}) >= 2
        # The reports' figures are computed, and this month's report went to the users.
        async with db.transaction(Scope.tenant(tenant_id)) as session:
            placed = (await session.execute(text(
                "SELECT sum(debts) FROM report_placement"))).scalar()
            mailed = (await session.execute(text(
                "SELECT count(*) FROM report_delivery"))).scalar()
        assert placed and placed > 1000 and mailed and mailed >= 1
        # The reports show a history: placements in several months, money recovered in
        # several, agreements paid and broken, calls answered by the operator, and both
        # sides of the cadence test with payers.
        async with db.transaction(Scope.tenant(tenant_id)) as session:
            _, today, _ = await tenant_clock(session, tenant_id)
            board = await dashboard.build(session, TenantId(tenant_id),
                                          dashboard.parse_filters(today))
        placed_months = [c for c in board.cohorts if c.debts]
        assert len(placed_months) >= 4, [c.month for c in board.cohorts]
        assert sum(1 for c in board.cohorts if c.recovered > 0) >= 2
        assert board.liquidity is not None and Decimal("0.05") < board.liquidity < Decimal("0.3")
        oldest = placed_months[0]
        assert len(oldest.curve) >= 6 and oldest.curve[-1] and oldest.curve[-1] > oldest.curve[1]
        assert board.money.recovered > 0 and board.money.payments > 0
        assert board.money.commission > 0 and board.money.direct > 0
        assert board.agreements.counts.get("settled", 0) > 0
        assert board.agreements.counts.get("broken", 0) > 0
        assert board.promises.kept > 0 and board.promises.broken > 0
        assert sum(d.answered for d in board.dialer) > 0
        assert any(a.calls and a.agreements for a in board.agents)
        calls = next(c for c in board.channels if c.channel == "call")
        assert calls.rpc > 0
        assert {c.channel for c in board.channels} >= {"email", "sms", "whatsapp", "call"}
        arms = board.experiment
        assert arms.champion and arms.challenger
        assert arms.champion.payers > 0 and arms.challenger.payers > 0

    # Protest: one title of the first demo creditor sent, one returned by the cartório.
    from legal.escalation.models import Escalation

    async with db.transaction(await operator_scope()) as session:
        bank = (await session.execute(select(Tenant.id).where(
            Tenant.slug == "banco-exemplo"))).scalar_one()
    async with db.transaction(Scope.tenant(bank)) as session:
        states = (await session.execute(select(Escalation.state).where(
            Escalation.path == "protest", Escalation.rule_name == "demonstração"))).scalars()
    assert sorted(states) == ["returned", "sent"]
    # A case in the legal queue, with its dossier and the demo's lawyer (once: seeded twice).
    from legal.cases.models import LegalCase

    async with db.transaction(await operator_scope()) as session:
        cases = (await session.execute(
            select(LegalCase.dossier_version, LegalCase.lawyer_id)
            .join(Tenant, Tenant.id == LegalCase.tenant_id)
            .where(Tenant.slug == "banco-exemplo"))).all()
    assert len(cases) == 1 and cases[0].dossier_version == 1 and cases[0].lawyer_id is not None

    # The desks have work: an active campaign with its list, the operator's agenda with
    # callbacks and promises (one broken), and a proposal waiting for the supervisor.
    from dialer.models import AgendaItem, Campaign, CampaignEntry
    from legal.models import ApprovalRequest
    from portal.demo_desk import CAMPAIGN

    for tenant_id in demo:
        async with db.transaction(Scope.tenant(tenant_id)) as session:
            campaign = (await session.execute(select(Campaign).where(
                Campaign.name == CAMPAIGN))).scalar_one()
            listed = (await session.execute(select(func.count()).select_from(CampaignEntry)
                                            )).scalar()
            kinds = sorted((await session.execute(select(AgendaItem.kind).where(
                AgendaItem.state == "open"))).scalars())
            waiting = (await session.execute(select(ApprovalRequest.level).where(
                ApprovalRequest.status == "pending"))).scalars().all()
        assert campaign.status == "active" and listed and listed > 100
        assert kinds.count("callback") == 2 and kinds.count("promise") == 2, kinds
        assert sorted(waiting) == ["creditor", "supervisor"], waiting
