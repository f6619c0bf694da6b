"""Pacing policies decide on crafted snapshots as a supervisor would expect."""

from __future__ import annotations

import math
from dataclasses import replace

from dialer.pacing import (
    Agent,
    AgentState,
    Measurements,
    Snapshot,
    Stats,
    Vicidial,
    predictive,
    progressive,
    ratio,
)

READY = Agent(AgentState.READY)
PAUSED = Agent(AgentState.PAUSED)


def talking(elapsed: float) -> Agent:
    return Agent(AgentState.TALKING, talk_elapsed_s=elapsed)


def wrapping(remaining: float) -> Agent:
    return Agent(AgentState.WRAP_UP, wrap_remaining_s=remaining)


def stats(**changes: object) -> Stats:
    """A campaign measured for hours: 25% answered after 5-25 s, talks of 150 s mean."""
    sigma = 0.8
    measured = Stats(
        answer_rate=0.25, attempts=5000, answered_ring_s=tuple(5 + i * 0.2 for i in range(101)),
        ring_timeout_s=25, talk_log_mean=math.log(150) - sigma**2 / 2, talk_log_sd=sigma,
        talks=1000, wrap_mean_s=20, window_s=1800, window_answered=500, window_abandoned=5,
        day_dialed=20000, day_answered=5000, day_abandoned=50, minute_dialed=40,
        minute_abandoned=0)
    return replace(measured, **changes)  # type: ignore[arg-type]


def snapshot(agents: list[Agent], ringing: tuple[float, ...] = (),
             waiting: tuple[float, ...] = (), **stat_changes: object) -> Snapshot:
    return Snapshot(now=3600, agents=tuple(agents), ringing=ringing, waiting=waiting,
                    stats=stats(**stat_changes))


def test_progressive_never_exceeds_ready_agents() -> None:
    team = [READY] * 3 + [talking(30)] * 5 + [PAUSED]
    assert progressive(snapshot(team)) == 3
    assert progressive(snapshot(team, ringing=(4.0, 10.0))) == 1
    assert progressive(snapshot(team, ringing=(4.0,), waiting=(1.0,) * 3)) == 0
    assert progressive(snapshot([talking(30)] * 5)) == 0


def test_ratio_keeps_r_lines_per_active_agent() -> None:
    team = [READY] * 2 + [talking(30)] * 2 + [PAUSED] * 3
    assert ratio(2.0)(snapshot(team)) == 2 * 4 - 2
    assert ratio(2.0)(snapshot(team, ringing=(1.0,) * 6)) == 0


def test_predictive_dials_ahead_of_ready_agents() -> None:
    team = [READY] * 5 + [talking(60)] * 40 + [wrapping(10)] * 5
    assert predictive(snapshot(team)) > progressive(snapshot(team))


def test_predictive_counts_agents_finishing_wrap_up() -> None:
    busy = [talking(60)] * 45
    assert predictive(snapshot(busy + [wrapping(3)] * 5)) > predictive(
        snapshot(busy + [wrapping(60)] * 5))


def test_predictive_dials_more_as_talking_agents_near_the_mean_talk_time() -> None:
    # With no wrap-up, a talking agent is the next free one: one 5 s into a call almost
    # never frees up within a ring, one closer to the mean talk time (150 s) often does.
    dials = [predictive(snapshot([READY] * 5 + [talking(elapsed)] * 45, wrap_mean_s=0))
             for elapsed in (5, 30, 60, 100)]
    assert dials == sorted(dials) and dials[-1] > dials[0] > 5


def test_predictive_dials_nothing_ahead_when_the_windowed_rate_is_over_target() -> None:
    team = [talking(150)] * 45 + [wrapping(5)] * 5
    assert predictive(snapshot(team)) > 0
    over = snapshot(team, window_answered=300, window_abandoned=12)  # 4% > 3%
    assert predictive(over) == 0
    ready_over = snapshot([READY] * 2 + team[2:], window_answered=300, window_abandoned=12)
    assert predictive(ready_over) == progressive(ready_over) == 2


def test_predictive_recovers_when_the_burst_leaves_the_window() -> None:
    # The day still carries a burst of abandons (5% of the day), the last 30 minutes do not.
    team = [talking(150)] * 45 + [wrapping(5)] * 5
    after_burst = snapshot(team, window_answered=500, window_abandoned=2, day_answered=3000,
                           day_abandoned=150)
    assert predictive(after_burst) > 0


def test_predictive_is_progressive_while_the_sample_is_small() -> None:
    team = [READY] * 3 + [talking(150)] * 40 + [wrapping(2)] * 7
    early = snapshot(team, attempts=12, talks=3, answered_ring_s=(7.0, 12.0))
    assert predictive(early) == progressive(early) == 3


def test_predictive_respects_the_lines_per_agent_cap() -> None:
    team = [READY] * 10
    capped = replace(snapshot(team), max_ratio=1.0)
    assert predictive(capped) <= 10
    assert predictive(replace(snapshot(team, ringing=(1.0,) * 10), max_ratio=1.0)) == 0


def test_predictive_is_deterministic() -> None:
    team = [READY] * 4 + [talking(float(e)) for e in range(10, 400, 10)] + [wrapping(8)] * 3
    shot = snapshot(team, ringing=(1.0, 7.5, 12.0, 20.0))
    assert len({predictive(shot) for _ in range(5)}) == 1


def test_vicidial_raises_its_level_while_agents_wait_and_caps_it() -> None:
    policy = Vicidial()
    team = [READY] * 10 + [talking(60)] * 10
    for second in range(0, 16):
        policy(replace(snapshot(team), now=float(second)))
    assert policy.level == 1.5  # 1 * (1 + 10 ready / 20 agents)
    for second in range(16, 400):
        policy(replace(snapshot(team), now=float(second)))
    assert policy.level == 3.0  # max_ratio
    assert policy(replace(snapshot(team), now=400.0)) == 3 * 20 - 10


def test_vicidial_halves_its_level_when_the_day_passes_the_drop_limit() -> None:
    policy = Vicidial(level=2.0)
    team = [talking(60)] * 20  # nobody ready: the differential keeps the level
    over = snapshot(team, day_answered=1000, day_abandoned=40)
    for second in range(0, 16):
        policy(replace(over, now=float(second)))
    assert policy.level == 1.0
    hard = Vicidial(level=3.0, mode="hard_limit")
    for second in range(0, 16):
        hard(replace(over, now=float(second)))
    assert hard.level == 1.0


def test_measurements_learn_from_events_starting_at_priors() -> None:
    m = Measurements(ring_timeout_s=25)
    prior = m.stats(0)
    assert prior.attempts == 0 and prior.answer_rate == 0.2
    for i in range(100):
        m.dialed(i)
        if i % 2:
            m.answered(i + 10, 10.0)
            m.talk_ended(100.0)
        else:
            m.not_answered(i + 25)
    m.abandoned(50)
    learned = m.stats(130)
    assert learned.answer_rate == (50 + 0.2 * 20) / (100 + 20)  # the prior weighs 20 attempts
    assert learned.answered_ring_s[0] == 10.0 and learned.talks == 50
    assert abs(math.exp(learned.talk_log_mean) - 100) < 10
    assert learned.window_answered == 50 and learned.window_abandoned == 1
    later = m.stats(130 + 1800)
    assert later.window_answered == 0 and later.day_answered == 50 and later.day_abandoned == 1
