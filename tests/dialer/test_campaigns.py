"""Campaigns: lists from filters with workable debts and callable phones, leases that two
dialer processes never share, the guard before every dial, retries by outcome, agents
taken once, and the tenant wall."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import uuid
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, text

from core.access import TenantId, transaction
from core.auth.principal import Principal
from core.collection import holds
from core.db import Scope
from core.errors import NotFound, ValidationFailed
from core.models import ContactPoint, Interaction
from dialer import campaigns
from dialer.models import AgentState, CallOutcome, CallRecord, CampaignEntry, EntryState
from tests.core.test_collection_model import creditor, place

SP = ZoneInfo("America/Sao_Paulo")
MONDAY_10H = dt.datetime(2026, 12, 7, 10, 0, tzinfo=SP)


def random_cpf() -> str:
    """A valid CPF of its own: the agency-wide caps count attempts by document, across
    tests too."""
    digits = [random.randint(0, 9) for _ in range(9)]
    for size in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(size + 1, 1, -1), strict=False))
        digits.append(0 if total % 11 < 2 else 11 - total % 11)
    return "".join(map(str, digits))


def system(*tenant_ids: uuid.UUID) -> Principal:
    return Principal.system(Scope(frozenset(tenant_ids), agency=True))


async def campaign_with(tenant_id: uuid.UUID, amounts: list[str], **kwargs: object):
    staff = creditor(tenant_id)
    placed = [await place(staff, tenant_id, document=random_cpf(), amount=amount,
                          due_dates=(dt.date(2026, 6, 1),))
              for amount in amounts]
    boss = system(tenant_id)
    async with transaction(boss) as session:
        row = await campaigns.create_campaign(
            session, boss, TenantId(tenant_id),
            campaigns.NewCampaign(name=f"C {uuid.uuid4().hex[:6]}", **kwargs))  # type: ignore[arg-type]
        cid = campaigns.CampaignId(row.id)
        added = await campaigns.build_list(session, boss, cid)
    return boss, cid, placed, added


async def test_the_list_takes_workable_debtors_with_a_phone_by_filters(factory, services):
    tenant = await factory.tenant()
    boss, cid, placed, added = await campaign_with(
        tenant.id, ["50.00", "300.00", "900.00", "120.00"],
        filters={"amount_min": "100", "days_overdue_min": 30})
    assert added == 3  # 50.00 is below the minimum
    # A held debtor and one whose only phone is invalid stay off a rebuilt list.
    async with transaction(boss) as session:
        await session.execute(text("DELETE FROM campaign_entry"))
        await holds.set_hold(session, boss, placed[1].debtor_id, "dispute", "contesta")
        phone = (await session.execute(select(ContactPoint).where(
            ContactPoint.id == placed[2].phone_id))).scalar_one()
        phone.quality = "invalid"
        await session.flush()
        await campaigns.build_list(session, boss, cid)
        entries = (await session.execute(select(CampaignEntry))).scalars().all()
        assert [e.debtor_id for e in entries] == [placed[3].debtor_id]


async def test_the_list_filters_by_score_band_and_segment(factory, services):
    tenant = await factory.tenant()
    staff = creditor(tenant.id)
    placed = [await place(staff, tenant.id, document=random_cpf(), amount="300.00",
                          due_dates=(dt.date(2026, 6, 1),)) for _ in range(3)]
    boss = system(tenant.id)
    async with transaction(boss) as session:
        # Scored A and "saldo alto", scored D and "primeiro atraso", and not scored yet.
        for one, band, segments in ((placed[0], "A", ["saldo_alto"]),
                                    (placed[1], "D", ["primeiro_atraso", "novo"])):
            await session.execute(text(
                "INSERT INTO debtor_score (tenant_id, debtor_id, score, band, segments, inputs,"
                " reasons, method, scored_at) VALUES (:t, :d, :score, :band, :segments,"
                " '{}', '[]', 'rules', now())"),
                {"t": tenant.id, "d": one.debtor_id, "score": 900 if band == "A" else 100,
                 "band": band, "segments": segments})
        found = {}
        for name, filters in (("A ou B", {"bands": ["A", "B"]}),
                              ("primeiro atraso", {"segments": ["primeiro_atraso"]}),
                              ("D e saldo alto", {"bands": ["D"], "segments": ["saldo_alto"]})):
            row = await campaigns.create_campaign(session, boss, TenantId(tenant.id),
                                                  campaigns.NewCampaign(name=name,
                                                                        filters=filters))
            await campaigns.build_list(session, boss, campaigns.CampaignId(row.id))
            found[name] = set((await session.execute(select(CampaignEntry.debtor_id).where(
                CampaignEntry.campaign_id == row.id))).scalars())
        with pytest.raises(ValidationFailed, match="faixas de score"):
            await campaigns.create_campaign(session, boss, TenantId(tenant.id),
                                            campaigns.NewCampaign(name="Z", filters={
                                                "bands": ["Z"]}))
    assert found == {"A ou B": {placed[0].debtor_id}, "primeiro atraso": {placed[1].debtor_id},
                     "D e saldo alto": set()}


async def test_two_dialers_never_lease_the_same_entry_and_the_guard_comes_first(
        factory, services):
    tenant = await factory.tenant()
    boss, cid, _, _ = await campaign_with(tenant.id, ["100.00", "200.00", "300.00"])
    async with transaction(boss) as session:
        campaign = await session.get(campaigns.Campaign, (tenant.id, cid))

    async def lease(name: str) -> list[campaigns.Dial]:
        async with transaction(boss) as session:
            got = await campaigns.claim(session, campaign, 2, dialer_id=name, worker_id=0,
                                        at=MONDAY_10H)
            await asyncio.sleep(0.2)  # hold the row locks while the other one claims
            return got

    a, b = await asyncio.gather(lease("a"), lease("b"))
    debtors = [d.debtor_id for d in a + b]
    assert len(debtors) == len(set(debtors)) == 3
    # At 21:00 in São Paulo the window is closed: nothing dialed, the refusal recorded.
    async with transaction(boss) as session:
        await session.execute(text("UPDATE campaign_entry SET state = 'pending'"))
        late = dt.datetime(2026, 12, 7, 21, 0, tzinfo=SP)
        assert await campaigns.claim(session, campaign, 3, dialer_id="a", worker_id=0,
                                     at=late) == []
        blocked = (await session.execute(select(Interaction).where(
            Interaction.outcome == "blocked"))).scalars().all()
        assert {i.details["reason"] for i in blocked} == {"outside_hours"}
        entries = (await session.execute(select(CampaignEntry))).scalars().all()
        assert {e.next_attempt_at for e in entries} == {dt.datetime(2026, 12, 8, 8, 0,
                                                                    tzinfo=SP)}


async def test_results_close_the_record_grade_the_phone_and_schedule_retries(
        factory, services):
    tenant = await factory.tenant()
    boss, cid, _, _ = await campaign_with(
        tenant.id, ["100.00"], retry_rules={"busy": {"delay_seconds": 600, "max_attempts": 2}})
    async with transaction(boss) as session:
        campaign = await session.get(campaigns.Campaign, (tenant.id, cid))
    for attempt in (1, 2):
        at = MONDAY_10H + dt.timedelta(minutes=20 * attempt)
        async with transaction(boss) as session:
            [dial] = await campaigns.claim(session, campaign, 1, dialer_id="a", worker_id=0,
                                           at=at)
            await campaigns.finish(session, campaigns.Result(
                dial.call_id, CallOutcome.BUSY, sip_code=486, ended_at=at))
            entry = (await session.execute(select(CampaignEntry))).scalar_one()
            assert entry.attempts == attempt
            if attempt == 1:
                assert (entry.state, entry.next_attempt_at) == (
                    EntryState.PENDING, at + dt.timedelta(seconds=600))
            else:
                assert entry.state == EntryState.EXHAUSTED
    async with transaction(boss) as session:
        calls = (await session.execute(select(CallRecord))).scalars().all()
        assert {(c.outcome, c.sip_code) for c in calls} == {("busy", 486)}
        timeline = (await session.execute(select(Interaction))).scalars().all()
        assert {(i.outcome, i.cause_kind, i.cause_id) for i in timeline} == {
            ("busy", "campaign", cid)}


async def test_an_agent_is_taken_once_and_wraps_up(factory, services):
    tenant = await factory.tenant()
    boss, cid, _, _ = await campaign_with(tenant.id, ["100.00"], wrap_up_seconds=0)
    agent = await factory.user("agent", tenant_ids=[tenant.id])
    principal = Principal(user_id=agent.user_id, email=agent.email, full_name="Op",
                          role=campaigns.Role.AGENT, tenant_id=None,
                          tenant_ids=frozenset({tenant.id}))
    async with transaction(principal) as session:
        await campaigns.login(session, principal, [cid], "sip:op1@127.0.0.1:5999")

    async def take() -> campaigns.Agent | None:
        async with transaction(boss) as session:
            got = await campaigns.take_agent(session, cid, uuid.uuid4())
            await asyncio.sleep(0.1)
            return got

    got = await asyncio.gather(take(), take(), take())
    taken = [g for g in got if g is not None]
    assert len(taken) == 1 and taken[0].sip_uri == "sip:op1@127.0.0.1:5999"
    call_id = (await _agent(boss)).call_id
    async with transaction(boss) as session:
        # Taken: no other call gets this agent, not even reserved for a new line.
        assert await campaigns.reserve_agent(session, cid, uuid.uuid4()) is None
        await campaigns.release_agent(session, taken[0], call_id, wrap_up=True)
    async with transaction(boss) as session:
        ready = await campaigns.end_wrap_ups(session)
        assert [r.state for r in ready] == [AgentState.READY]


async def _agent(principal: Principal) -> campaigns.AgentSession:
    async with transaction(principal) as session:
        return (await session.execute(select(campaigns.AgentSession))).scalar_one()


async def test_a_second_tenant_sees_no_campaign_entry_or_call(factory, services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    boss, cid, _, _ = await campaign_with(alfa.id, ["100.00"])
    async with transaction(boss) as session:
        campaign = await session.get(campaigns.Campaign, (alfa.id, cid))
        [dial] = await campaigns.claim(session, campaign, 1, dialer_id="a", worker_id=0,
                                       at=MONDAY_10H)
    other = creditor(beta.id)
    async with transaction(other) as session:
        try:
            await campaigns.access_campaign(session, other, cid)
            raise AssertionError("tenant B reached tenant A's campaign")
        except NotFound:
            pass
        for table in ("campaign", "campaign_entry", "call_record", "agent_session"):
            rows = (await session.execute(text(f"SELECT count(*) FROM {table}"))).scalar()
            assert rows == 0, table
    assert dial.tenant_id == alfa.id
