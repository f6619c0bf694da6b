"""The dialer over real SIP on loopback: outcomes by SIP answer, the bridge carrying
audio both ways, the abandon message, retries after the delay, the guard's window, a
killed worker and the pool's recovery, and SIPp as the trunk."""

from __future__ import annotations

import array
import datetime as dt
import io
import shutil
import wave

import pytest
from sqlalchemy import select

from core.access import transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.errors import NotFound
from core.ids import uuid7
from core.models import Interaction
from core.runtime import get_storage
from dialer import campaigns
from dialer.models import AgentSession, CampaignEntry, EntryState
from tests.interop.conftest import (
    SP,
    engine,
    finished_calls,
    open_window_shift,
    peer,
    run_until,
    scenario,
)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

ANSWERS, BUSY, RINGS, REJECTS, MISSING, CONGESTED = (
    "+5511900000010", "+5511900000015", "+5511900000016", "+5511900000017",
    "+5511900000018", "+5511900000019")


def rms(wav_bytes: bytes) -> float:
    with wave.open(io.BytesIO(wav_bytes)) as wav:
        samples = array.array("h", wav.readframes(wav.getnframes()))
    return (sum(s * s for s in samples) / max(1, len(samples))) ** 0.5


async def test_each_sip_answer_gives_its_outcome_and_the_answered_call_is_bridged(
        factory, services, trunk, phones, tmp_path):
    sc = await scenario(factory, [ANSWERS, BUSY, REJECTS, MISSING, CONGESTED, RINGS],
                        [phones.uri("op1")])
    dialer = engine(tmp_path, sc, trunk_port=trunk.sip_port, workers=2)

    async def all_done() -> bool:
        return len(await finished_calls(sc)) == 6

    await run_until(dialer, all_done, limit=60)
    calls = {c.number: c for c in await finished_calls(sc)}
    assert {n: (c.outcome, c.sip_code) for n, c in calls.items()} == {
        ANSWERS: ("answered", 200), BUSY: ("busy", 486), REJECTS: ("rejected", 603),
        MISSING: ("invalid", 404), CONGESTED: ("congestion", 503),
        RINGS: ("no_answer", 487)}
    # Rang out at the campaign's 15 s, never sooner.
    rang = calls[RINGS]
    assert 15 <= (rang.ended_at - rang.dialed_at).total_seconds() < 18
    answered = calls[ANSWERS]
    assert answered.agent_user_id == sc.agents[0]
    assert answered.bridged_at is not None and answered.answer_to_bridge_ms < 500
    # Audio crossed the bridge both ways: each side received the other's tone.
    heard_by_debtor = [c for c in trunk.stats() if c["user"] == ANSWERS]
    heard_by_agent = [c for c in phones.stats() if c["user"] == "op1"]
    assert heard_by_debtor[-1]["rx_max"] > 10 and heard_by_agent[-1]["rx_max"] > 10
    assert heard_by_agent[-1]["auto_answer"]
    # One WAV per call, both sides, in S3 and linked from the debtor's timeline.
    recording = get_storage().get(answered.recording_key)
    assert answered.recording_key.startswith(f"tenants/{sc.tenant_id}/calls/")
    assert rms(recording) > 500
    async with transaction(sc.boss) as session:
        timeline = {i.details["number"]: i for i in (await session.execute(
            select(Interaction).where(Interaction.channel == "call"))).scalars()}
        entries = {e.debtor_id: e for e in (await session.execute(
            select(CampaignEntry))).scalars()}
        agent = (await session.execute(select(AgentSession))).scalar_one()
    assert timeline[ANSWERS].details["recording_key"] == answered.recording_key
    assert (timeline[ANSWERS].outcome, timeline[ANSWERS].user_id) == ("answered",
                                                                      sc.agents[0])
    assert timeline[BUSY].outcome == "busy" and timeline[MISSING].outcome == "invalid"
    assert timeline[ANSWERS].cause_kind == "campaign"
    assert entries[sc.debtors[ANSWERS]].state == EntryState.DONE
    assert entries[sc.debtors[BUSY]].state == EntryState.PENDING
    assert agent.state in ("ready", "wrap_up")


async def test_an_answered_call_with_no_agent_bridged_in_2s_is_abandoned_with_the_message(
        factory, services, trunk, tmp_path):
    # The only agent's phone rings and never answers: no agent is bridged.
    sc = await scenario(factory, [ANSWERS], [trunk.uri("agent-phone-6")])
    dialer = engine(tmp_path, sc, trunk_port=trunk.sip_port)

    async def done() -> bool:
        return len(await finished_calls(sc)) == 1

    await run_until(dialer, done, limit=30)
    [call] = await finished_calls(sc)
    assert call.outcome == "abandoned" and call.bridged_at is None
    # Answer, 2 s with no agent, then the 3 s message, then the hang-up.
    assert (call.ended_at - call.answered_at).total_seconds() >= 4.5
    heard = [c for c in trunk.stats() if c["user"] == ANSWERS][-1]
    assert heard["rx_max"] > 10  # the message reached the debtor
    async with transaction(sc.boss) as session:
        agent = (await session.execute(select(AgentSession))).scalar_one()
        interaction = (await session.execute(select(Interaction))).scalar_one()
    assert agent.state == "paused" and "não atendeu" in agent.reason
    assert interaction.details["dial_outcome"] == "abandoned"


async def test_a_busy_number_is_retried_after_the_delay_and_the_rule_ends_it(
        factory, services, trunk, phones, tmp_path):
    sc = await scenario(factory, [BUSY], [phones.uri("op2")],
                        retry_rules={"busy": {"delay_seconds": 2, "max_attempts": 2}})
    dialer = engine(tmp_path, sc, trunk_port=trunk.sip_port)

    async def twice() -> bool:
        return len(await finished_calls(sc)) == 2

    await run_until(dialer, twice, limit=30)
    first, second = await finished_calls(sc)
    assert (first.outcome, second.outcome) == ("busy", "busy")
    assert (second.dialed_at - first.ended_at).total_seconds() >= 2
    async with transaction(sc.boss) as session:
        entry = (await session.execute(select(CampaignEntry))).scalar_one()
    assert (entry.state, entry.attempts) == (EntryState.EXHAUSTED, 2)


async def test_no_call_is_placed_outside_the_window(factory, services, trunk, phones,
                                                    tmp_path):
    sc = await scenario(factory, [ANSWERS], [phones.uri("op3")])
    # 21:00 in São Paulo on a weekday: the window is closed.
    shift = open_window_shift(hour=10) + dt.timedelta(hours=11)
    dialer = engine(tmp_path, sc, trunk_port=trunk.sip_port, shift=shift)

    async def blocked() -> bool:
        async with transaction(sc.boss) as session:
            return (await session.execute(select(Interaction).where(
                Interaction.outcome == "blocked"))).first() is not None

    await run_until(dialer, blocked, limit=15)
    assert await finished_calls(sc) == []
    async with transaction(sc.boss) as session:
        entry = (await session.execute(select(CampaignEntry))).scalar_one()
        refused = (await session.execute(select(Interaction))).scalar_one()
    assert refused.details["reason"] == "outside_hours"
    assert entry.next_attempt_at.astimezone(SP).hour == 8  # the next morning


async def test_a_killed_worker_loses_only_its_call_and_the_pool_recovers(
        factory, services, trunk, phones, tmp_path):
    sc = await scenario(factory, [RINGS, ANSWERS], [phones.uri("op4")])
    dialer = engine(tmp_path, sc, trunk_port=trunk.sip_port)
    killed: list[int] = []

    async def kill_when_ringing() -> None:
        ringing = [v for v in dialer.live.values() if v.ringing is not None]
        if ringing and not killed:
            killed.append(dialer.kill_worker(ringing[0].worker))

    async def both() -> bool:
        return len(await finished_calls(sc)) == 2

    await run_until(dialer, both, limit=30, during=kill_when_ringing)
    calls = {c.number: c for c in await finished_calls(sc)}
    assert calls[RINGS].outcome == "failed"
    assert "line worker 0 died" in calls[RINGS].reason
    assert calls[ANSWERS].outcome == "answered"  # placed by the replacement worker
    assert dialer.restarts == 1


@pytest.mark.skipif(shutil.which("sipp") is None, reason="SIPp (sip-tester) not installed")
async def test_sipp_as_the_trunk_answers_and_the_call_is_bridged(
        factory, services, phones, sipp_trunk, tmp_path):
    sc = await scenario(factory, [ANSWERS], [phones.uri("op5")])
    dialer = engine(tmp_path, sc, trunk_port=sipp_trunk)

    async def done() -> bool:
        return len(await finished_calls(sc)) == 1

    await run_until(dialer, done, limit=30)
    [call] = await finished_calls(sc)
    assert call.outcome == "answered" and call.answer_to_bridge_ms < 500
    # SIPp echoes RTP: the agent hears its own tone back through the bridge.
    assert [c for c in phones.stats() if c["user"] == "op5"][-1]["rx_max"] > 10


async def test_the_agent_ends_the_call_from_the_desktop_and_both_legs_hang_up(
        factory, services, trunk, tones, tmp_path):
    phone = peer("agent", tone=str(tones["agent"]))  # never hangs up
    try:
        sc = await scenario(factory, [ANSWERS], [phone.uri("op6")])
        other = await factory.tenant()
        agent = Principal(user_id=sc.agents[0], email="op6@regua.test", full_name="Op",
                          role=Role.AGENT, tenant_id=None,
                          tenant_ids=frozenset({sc.tenant_id}))
        stranger = Principal(user_id=uuid7(), email="x@regua.test", full_name="X",
                             role=Role.SUPERVISOR, tenant_id=None,
                             tenant_ids=frozenset({other.id}))
        dialer = engine(tmp_path, sc, trunk_port=trunk.sip_port)
        asked: list[bool] = []

        async def end_when_bridged() -> None:
            bridged = [v for v in dialer.live.values() if v.bridged is not None]
            if bridged and not asked:
                call_id = bridged[0].dial.call_id
                async with transaction(stranger) as session:
                    with pytest.raises(NotFound):
                        await campaigns.end_call(session, stranger, call_id)
                async with transaction(agent) as session:
                    await campaigns.end_call(session, agent, call_id)
                asked.append(True)

        async def done() -> bool:
            return len(await finished_calls(sc)) == 1

        await run_until(dialer, done, limit=20, during=end_when_bridged)
        [call] = await finished_calls(sc)
        assert (call.outcome, call.reason) == ("answered", "hung up by the agent")
        assert [c for c in trunk.stats() if c["user"] == ANSWERS][-1]["ended"]
        assert [c for c in phone.stats() if c["user"] == "op6"][-1]["ended"]
    finally:
        phone.stop()
