"""The engine's pacing without SIP: the coordinator builds its snapshot from the
database and its measurements from the day's call records, asks the campaign's policy
(predictive by default), and follows a supervisor's change of mode, target or ratio on
the next round; the supervisor's change is validated in Portuguese and audited."""

from __future__ import annotations

import datetime as dt
import time
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.access import transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.errors import NotFound, ValidationFailed
from core.ids import uuid7
from core.models import AuditLog
from dialer import campaigns, desktop, pacing
from dialer.engine.coordinator import Coordinator, EngineConfig, abandon_text, replay
from dialer.models import CampaignMode
from tests.interop.conftest import scenario, seed_history


def supervisor(tenant_id) -> Principal:
    return Principal(user_id=uuid7(), email="sup@regua.test", full_name="Sup",
                     role=Role.SUPERVISOR, tenant_id=None, tenant_ids=frozenset({tenant_id}))


async def lines_now(coordinator: Coordinator, sc) -> int | None:
    """What one round of the coordinator would dial for the campaign (None: the campaign
    is not auto-dialed)."""
    now = time.time()
    async with transaction(sc.boss) as session:
        agents = await campaigns.logged_in_agents(session)
        for campaign in await campaigns.active_campaigns(session):
            if campaign.id == sc.campaign_id:
                await coordinator._measure(session, campaign, now)
                others = await campaigns.others_lines(session, campaign,
                                                      coordinator.config.dialer_id)
                return coordinator._wanted(campaign, agents, now, others)
    return None


async def test_the_engine_paces_by_the_campaign_and_follows_the_supervisor(
        factory, services, tmp_path):
    sc = await scenario(factory, ["+5511910000010", "+5511910000021"],
                        ["sip:a@127.0.0.1:9", "sip:b@127.0.0.1:9"])
    await seed_history(sc, dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5),
                       attempts=300, every=20)
    coordinator = Coordinator(EngineConfig(trunk="127.0.0.1:9", state_dir=tmp_path))
    # Predictive by default: a 6% answer rate measured today, two ready agents, the
    # campaign's cap of 3 lines each.
    assert await lines_now(coordinator, sc) == 6
    measured = coordinator.measurements[sc.campaign_id][1].stats(time.time())
    assert (measured.attempts, len(measured.answered_ring_s), measured.talks) == (300, 15, 15)
    # Another dialer process has two of the campaign's lines ringing: they count too.
    async with transaction(sc.boss) as session:
        for _ in range(2):
            session.add(campaigns.CallRecord(
                tenant_id=sc.tenant_id, id=uuid7(), campaign_id=sc.campaign_id,
                debtor_id=next(iter(sc.debtors.values())), number="+5511910000099",
                dialed_at=dt.datetime.now(dt.UTC), dialer_id="other-host:1", worker_id=0))
    assert await lines_now(coordinator, sc) == 4

    boss = supervisor(sc.tenant_id)
    await desktop.set_pacing(boss, sc.campaign_id, "predictive", "2,5", "2,5")
    assert await lines_now(coordinator, sc) == 3  # the cap moved: 2.5 lines per agent
    await desktop.set_pacing(boss, sc.campaign_id, "progressive", "2,5", "2,5")
    assert await lines_now(coordinator, sc) == 0  # one line per ready agent: both out
    await desktop.set_pacing(boss, sc.campaign_id, "preview", "3", "1")
    assert await lines_now(coordinator, sc) is None  # placed by the agents, not paced
    async with transaction(sc.boss) as session:
        logged = list((await session.execute(select(AuditLog).where(
            AuditLog.action == "campaign.pacing_set").order_by(AuditLog.id))).scalars())
        row = (await session.execute(select(campaigns.Campaign))).scalar_one()
    assert [e.after["mode"] for e in logged] == ["predictive", "progressive", "preview"]
    assert logged[0].before == {"mode": "predictive", "abandon_target": "0.0300",
                                "max_lines_per_agent": "3.00"}
    assert logged[0].after == {"mode": "predictive", "abandon_target": "0.0250",
                               "max_lines_per_agent": "2.50"}
    assert (row.mode, row.abandon_target, row.max_lines_per_agent) == (
        CampaignMode.PREVIEW, Decimal("0.0300"), Decimal("1.00"))


async def test_the_supervisors_pacing_is_checked_in_portuguese(factory, services):
    sc = await scenario(factory, ["+5511910000030"], [])
    other = await scenario(factory, ["+5511910000040"], [])
    boss = supervisor(sc.tenant_id)
    with pytest.raises(ValidationFailed) as refused:
        await desktop.set_pacing(boss, sc.campaign_id, "turbo", "5", "0")
    assert refused.value.detail == {
        "mode": "modo de discagem inválido: escolha prévia, progressivo ou preditivo",
        "abandon_target": "a meta de abandono deve ser maior que 0% e no máximo 3% das "
                          "ligações atendidas",
        "max_lines_per_agent": "o máximo de linhas por operador vai de 1 a 10 (ex.: 2,5)"}
    with pytest.raises(ValidationFailed) as refused:
        await desktop.set_pacing(boss, sc.campaign_id, "predictive", "três", "")
    assert set(refused.value.detail) == {"abandon_target", "max_lines_per_agent"}
    with pytest.raises(ValidationFailed):
        await desktop.set_pacing(boss, sc.campaign_id, "predictive", "0", "2")
    # Another tenant's campaign is not found, whatever the values.
    with pytest.raises(NotFound):
        await desktop.set_pacing(boss, other.campaign_id, "predictive", "2", "2")
    agent = Principal(user_id=uuid7(), email="op@regua.test", full_name="Op",
                      role=Role.AGENT, tenant_id=None, tenant_ids=frozenset({sc.tenant_id}))
    with pytest.raises(Exception, match="supervisores"):
        await desktop.set_pacing(agent, sc.campaign_id, "predictive", "2", "2")


def test_replayed_records_give_the_measurements_the_live_events_would():
    start = dt.datetime(2026, 12, 7, 13, 0, tzinfo=dt.UTC)
    records = []
    for i, outcome in enumerate(["answered", "busy", "abandoned", "no_answer"]):
        dialed = start + dt.timedelta(seconds=10 * i)
        answered = dialed + dt.timedelta(seconds=4) if outcome in ("answered",
                                                                   "abandoned") else None
        bridged = answered + dt.timedelta(seconds=0.2) if outcome == "answered" else None
        ended = dialed + dt.timedelta(seconds=9)
        records.append(campaigns.CallRecord(dialed_at=dialed, answered_at=answered,
                                            bridged_at=bridged, ended_at=ended,
                                            outcome=outcome))
    records.append(campaigns.CallRecord(dialed_at=start + dt.timedelta(seconds=50)))
    shift = dt.timedelta(days=2)
    stats = replay(records, shift, 25.0).stats(start.timestamp() - shift.total_seconds() + 60)
    assert (stats.day_dialed, stats.day_answered, stats.day_abandoned) == (5, 2, 1)
    assert stats.attempts == 4 and stats.answered_ring_s == (4.0, 4.0)
    assert stats.talks == 1 and stats.window_abandoned == 1
    assert stats.answer_rate == pytest.approx((2 + 0.2 * 20) / (4 + 20))


def test_the_abandon_message_names_the_agency_the_creditor_and_the_callback():
    text = abandon_text("Régua Cobranças", "Varejo Modelo", "08001234567")
    assert "Aqui é Régua Cobranças, em nome de Varejo Modelo" in text
    assert "Vamos retornar a sua ligação em breve" in text
    assert "0 8 0 0 1 2 3 4 5 6 7" in text
    assert "ligue para" not in abandon_text("A", "B", None)
    assert pacing.DEFAULT_ABANDON_TARGET == float(campaigns.MAX_ABANDON_TARGET)
