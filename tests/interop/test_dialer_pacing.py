"""Pacing in the live engine over real SIP: a predictive campaign dials ahead of its free
agents when the measured answer rate is low, what it abandons is counted (in the call
records, the engine's measurements and the supervisor's board), the debtor hears the
spoken message and gets a callback on the agenda, and the engine backs off. A preview
campaign dials nothing until the agent, having read the file, clicks "Ligar"."""

from __future__ import annotations

import array
import collections
import datetime as dt
import time
import wave
from pathlib import Path

import pytest
from sqlalchemy import select

from core.access import transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.errors import NotFound, ValidationFailed
from core.ids import uuid7
from core.models import AuditLog
from dialer import agenda, desktop, pacing
from dialer.models import AgendaItem, CallRecord, CampaignEntry, EntryState
from tests.interop.conftest import (
    engine,
    finished_calls,
    open_window_shift,
    peer,
    run_until,
    scenario,
    seed_history,
)

pytestmark = [pytest.mark.interop, pytest.mark.timeout(120)]

FPS = 50  # energy frames a second (20 ms, a packet's worth)


def envelope(path: str | Path) -> list[float]:
    """Energy (RMS) of each 20 ms frame of a mono 16-bit WAV."""
    with wave.open(str(path)) as wav:
        rate = wav.getframerate()
        samples = array.array("h", wav.readframes(wav.getnframes()))
    size = rate // FPS
    frames = [samples[i:i + size] for i in range(0, len(samples) - size + 1, size)]
    return [(sum(s * s for s in f) / size) ** 0.5 for f in frames]


def best_match(heard: list[float], sent: list[float]) -> tuple[float, int]:
    """The lag (in frames) where the energy of what was heard follows the energy of what
    was sent best, and the correlation there."""
    def corr(a: list[float], b: list[float]) -> float:
        ma, mb = sum(a) / len(a), sum(b) / len(b)
        cov = sum((x - ma) * (y - mb) for x, y in zip(a, b, strict=True))
        va = sum((x - ma) ** 2 for x in a) ** 0.5
        vb = sum((y - mb) ** 2 for y in b) ** 0.5
        return cov / (va * vb) if va and vb else 0.0

    n = len(sent)
    scores = [(corr(heard[lag:lag + n], sent), lag) for lag in range(len(heard) - n + 1)]
    return max(scores)


async def test_predictive_dials_ahead_of_free_agents_and_counts_what_it_abandons(
        factory, services, tones, tmp_path):
    heard_dir = tmp_path / "heard"
    heard_dir.mkdir()
    # A peer holds 4 calls: two trunks for the 6 lines of 3 workers.
    trunks = [peer("trunk", ring_s=0.3, record_dir=str(heard_dir)) for _ in range(2)]
    # Agents' phones talk 20 s: both agents are busy long after the other lines answer.
    phones = peer("agent", tone=str(tones["agent"]), talk_s=20)
    numbers = ["+5511970000010", "+5511970000021", "+5511970000032", "+5511970000043",
               "+5511970000050", "+5511970000061"]  # all answer (last digits 0-3)
    try:
        sc = await scenario(factory, numbers, [phones.uri("op-a"), phones.uri("op-b")])
        shift = open_window_shift()
        # Earlier today: 300 calls, 1 in 20 answered: a measured answer rate near 6%.
        await seed_history(sc, dt.datetime.now(dt.UTC) + shift - dt.timedelta(hours=1),
                           attempts=300, every=20)
        dialer = engine(tmp_path, sc, trunk_port=trunks[0].sip_port, workers=3, shift=shift)
        dialer.config.trunks = [f"127.0.0.1:{t.sip_port}" for t in trunks]

        async def all_done() -> bool:
            return len(await finished_calls(sc)) == len(numbers)

        await run_until(dialer, all_done, limit=80)
        stats = [c for t in trunks for c in t.stats()]
    finally:
        for started in (*trunks, phones):
            started.stop()

    calls = await finished_calls(sc)
    # The first round dialed three lines per free agent (the campaign's ratio), not one.
    first = calls[0].dialed_at
    burst = [c for c in calls if (c.dialed_at - first).total_seconds() < 1]
    assert len(burst) == 6 > 2
    outcomes = collections.Counter(c.outcome for c in calls)
    assert outcomes == {"answered": 2, "abandoned": 4}
    abandoned = [c for c in calls if c.outcome == "abandoned"]
    # Counted by the engine's measurements, which also carry the day's history ...
    measured = dialer.measurements[sc.campaign_id][1].stats(time.time())
    assert (measured.day_dialed, measured.day_answered, measured.day_abandoned) == (
        306, 15 + 6, 4)
    assert (measured.window_answered, measured.window_abandoned) == (6, 4)
    # ... so the policy now backs off to progressive: one line per ready agent.
    ready = tuple(pacing.Agent(pacing.AgentState.READY) for _ in range(2))
    after = pacing.Snapshot(now=time.time(), agents=ready, ringing=(), waiting=(),
                            stats=measured)
    assert pacing.predictive(after) == pacing.progressive(after) == 2
    # ... and by the supervisor's board.
    boss = Principal(user_id=uuid7(), email="sup@regua.test", full_name="Sup",
                     role=Role.SUPERVISOR, tenant_id=None,
                     tenant_ids=frozenset({sc.tenant_id}))
    [board] = await desktop.boards(boss)
    assert board.abandoned_today == 4 and board.over_target

    # Each abandoned debtor heard the spoken message, 2 s after answering: the energy
    # of what its phone received follows the energy of the message's WAV.
    prompts = list((tmp_path / "dialer" / "prompts").glob("abandon-*.wav"))
    assert len(prompts) == 1
    sent = envelope(prompts[0])
    assert len(sent) / FPS > 6  # speech, not the 3 s tone that stands in without espeak
    for call in abandoned:
        [received] = [c for c in stats if c["user"] == call.number]
        heard = envelope(received["recording"])
        voiced = sum(1 for e in heard if e > 300) / FPS
        assert voiced > 3, f"{call.number} heard {voiced:.1f} s of sound"
        score, lag = best_match(heard, sent)
        assert score > 0.8, f"{call.number}: correlation {score:.2f}"
        # 2 s after the answer on an idle machine; a loaded one delays the worker's loop
        # and the peer's recorder by a second or more.
        assert 1.0 <= lag / FPS <= 6.0, f"{call.number}: the message began at {lag / FPS} s"
        assert (call.ended_at - call.answered_at).total_seconds() >= 2 + len(sent) / FPS

    # The message promised a call back: each is on the agenda, and its list entry ends.
    async with transaction(sc.boss) as session:
        items = list((await session.execute(select(AgendaItem))).scalars())
        entries = {e.debtor_id: e for e in (await session.execute(
            select(CampaignEntry))).scalars()}
    assert sorted(i.debtor_id for i in items) == sorted(sc.debtors[c.number]
                                                        for c in abandoned)
    for item in items:
        assert item.kind == "callback" and item.state == "open"
        assert item.assigned_to is None and item.created_by is None
        source = next(c for c in abandoned if c.id == item.source_id)
        assert item.due_at == source.ended_at + agenda.ABANDON_CALLBACK_AFTER
    assert all(entries[sc.debtors[n]].state == EntryState.DONE for n in numbers)


async def test_a_preview_call_is_placed_only_when_the_agent_clicks_ligar(
        factory, services, trunk, phones, tmp_path):
    skipped_number, called_number = "+5511980000010", "+5511980000020"
    sc = await scenario(factory, [skipped_number, called_number], [phones.uri("op-p")],
                        mode="preview")
    other = await scenario(factory, ["+5511980000030"], [])
    agent = Principal(user_id=sc.agents[0], email="op@regua.test", full_name="Op",
                      role=Role.AGENT, tenant_id=None, tenant_ids=frozenset({sc.tenant_id}))
    stranger = Principal(user_id=uuid7(), email="x@regua.test", full_name="X",
                         role=Role.SUPERVISOR, tenant_id=None,
                         tenant_ids=frozenset({other.tenant_id}))
    shift = open_window_shift()
    dialer = engine(tmp_path, sc, trunk_port=trunk.sip_port, shift=shift)
    seen: dict[str, object] = {}

    def now() -> dt.datetime:
        return dt.datetime.now(dt.UTC) + shift

    async def agent_works() -> None:
        if "first" not in seen:
            seen["first"], seen["at"] = await desktop.preview_next(agent, now()), time.time()
        elif "called" not in seen and time.time() - seen["at"] > 1.5:
            # Six rounds of the dialer went by with the file on screen: nothing dialed.
            async with transaction(sc.boss) as session:
                assert (await session.execute(select(CallRecord))).first() is None
            assert not [c for c in trunk.stats() if c["user"] == skipped_number]
            first = seen["first"]
            with pytest.raises(ValidationFailed, match="skip_reason"):
                await desktop.preview_skip(agent, first.entry_id, "  ", now())
            await desktop.preview_skip(agent, first.entry_id, "Devedor em tratativa por e-mail",
                                       now())
            second = await desktop.preview_next(agent, now())
            assert second.debtor_id == sc.debtors[called_number]
            assert second.number == called_number
            with pytest.raises(NotFound):
                await desktop.preview_dial(stranger, second.entry_id, now())
            seen["called"] = await desktop.preview_dial(agent, second.entry_id, now())

    async def done() -> bool:
        return len(await finished_calls(sc)) == 1

    await run_until(dialer, done, limit=40, during=agent_works)
    assert seen["first"].debtor_id == sc.debtors[skipped_number]
    [call] = await finished_calls(sc)
    assert call.id == seen["called"].call_id and call.number == called_number
    assert (call.outcome, call.agent_user_id) == ("answered", agent.user_id)
    assert call.dialer_id == dialer.config.dialer_id and call.answer_to_bridge_ms < 500
    assert [c for c in phones.stats() if c["user"] == "op-p"][-1]["rx_max"] > 10
    async with transaction(sc.boss) as session:
        entries = {e.debtor_id: e for e in (await session.execute(
            select(CampaignEntry))).scalars()}
        logged = {e.action: e for e in (await session.execute(select(AuditLog).where(
            AuditLog.action.like("campaign.preview_%")))).scalars()}
    skipped = entries[sc.debtors[skipped_number]]
    assert (skipped.state, skipped.last_outcome) == (EntryState.PENDING, "skipped")
    assert skipped.next_attempt_at > now() + dt.timedelta(hours=3)
    assert entries[sc.debtors[called_number]].state == EntryState.DONE
    assert logged["campaign.preview_skipped"].after["reason"] == (
        "Devedor em tratativa por e-mail")
    assert logged["campaign.preview_dialed"].after["call_id"] == str(call.id)
