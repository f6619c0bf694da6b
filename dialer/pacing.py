"""Pacing: how many new calls to start now, as pure functions over a snapshot.

The SIP engine and the simulator (`dialer.simulator`) build the same `Snapshot` and call
the same policies, so what the simulator measures is what runs. A policy is
`Callable[[Snapshot], int]`: it answers with the number of new lines to dial now (never
negative), is deterministic given its input, and does no I/O.

What a snapshot holds
---------------------
`now` (seconds), the `abandon_target` (abandoned / answered, default 3%) and `max_ratio`
(a cap on lines ringing per non-paused agent); every logged-in agent (ready; talking, with
its elapsed talk time; in wrap-up, with its remaining time; paused); the elapsed ring time
of every line still ringing; the wait of every answered call not yet bridged to an agent;
and `Stats`, what has been *measured* on this campaign: answer rate, the ring times of
answered calls, the talk-time distribution (a lognormal fit), the mean wrap-up, the
abandoned and answered counts over a rolling window and for the day, and the sample sizes
behind each. `Measurements` turns the engine's (or simulator's) call events into `Stats`,
starting from priors, so a policy is never told the true parameters: it learns them.

Policies
--------
* `progressive`: one line per ready agent, minus lines already ringing and answered calls
  waiting. It never abandons a call unless an agent pauses, and leaves agents idle for the
  whole ring time of every call and for every unanswered one.
* `ratio(R)`: a fixed dial level: R lines per active (ready or talking) agent, counting the
  calls in progress; it is blind to the answer rate and to the abandon target.
* `Vicidial`: a re-implementation, from its public description and source (AST_VDadapt),
  of VICIdial's adaptive dial level. Once a second it samples ready agents, calls waiting
  for an agent and logged-in agents; every 15 s it averages the last 15 samples and sets
  `level *= 1 + (ready - waiting + diff_target) / agents`, clamped to [1, max_ratio]; then,
  if more than 20 calls were placed in the last minute and over half were dropped, the
  level is halved; if more than 50 calls were placed today and the day's drops / answers
  pass the target, the level is halved (`ADAPT_AVERAGE`, the default) or reset to 1
  (`ADAPT_HARD_LIMIT`); it never goes below 1. The dialer then keeps
  `round(level * active agents)` calls in progress (ringing, waiting or talking). The level
  is state carried between calls, as in VICIdial, so `Vicidial` is a small object; given
  the same snapshots in the same order it makes the same decisions.
* `predictive` (ours), described next.

The predictive model
--------------------
A new call dialed now is answered, if at all (probability `p`, the measured answer rate),
after a ring time `R` drawn from the measured ring times of answered calls. It is
abandoned when no agent is free within `MAX_WAIT_S` (2 s) of its answer. For each of a few
horizons `h` (quantiles of `R`) we count, as a mean and a variance (each term a Bernoulli):

* supply `S(h)`: agents free by `h + 2 s`: every ready agent; every agent in wrap-up whose
  remaining time is shorter; and each talking agent with probability
  `P(T <= e + h + 2 - w | T > e)`, where `T` is the talk time (lognormal, survival
  `1/2 erfc((ln t - mu) / (sigma sqrt 2))`), `e` its elapsed talk time and `w` the mean
  wrap-up it will do afterwards: the longer an agent has talked, the likelier (for the
  talk times a collection call has) that it is about to free up;
* demand `D(h)`: answered calls already waiting, plus each ringing line with the
  probability it is answered by `h` given that it has rung `r` seconds unanswered:
  `p (G(r + h) - G(r)) / (p (1 - G(r)) + (1 - p) [r < timeout])`, `G` the ring-time
  distribution of answered calls; plus `p G(h)` for each new call dialed before this one.

The k-th new call risks being abandoned, at horizon `h`, when `S(h) - D_k(h) < 1`; with a
normal approximation that probability is `Phi((1/2 - E[S - D]) / sd)`, and we take the
worst horizon (a call answered late can still take the agent a line dialed earlier was
counting on). We dial new calls while that risk stays at or below a budget `theta`;
measured in the simulator, the campaign's rate comes out near `theta` (below it on large
teams, above it on small ones), so `theta` is set by feedback on the *windowed* rate `a`
(abandoned / answered over the last `Measurements.window_s`, 30 minutes, not the day):
`theta = target * max(THETA_FLOOR, THETA_BASE - THETA_SLOPE * a / target)`, halved while
the day's rate is above the target. The window lets the controller recover after a burst
of abandons (a day-long rate would keep it timid for the rest of the day) and the day
term brings the day back under the target. It backs off to
`progressive` (which only dials for agents already free) when

* the sample is small (fewer than `MIN_ATTEMPTS` finished attempts, `MIN_ANSWERS` answers
  or `MIN_TALKS` finished talks: the estimates are still mostly priors), or
* the windowed rate is at or above the target (it is at risk);

and it never dials fewer lines than `progressive` nor more than `max_ratio` lines ringing
per non-paused agent. On a small team the same arithmetic gives a thin supply, hence a
large variance and a cautious dial: the target holds there too, at a lower occupancy.
"""

from __future__ import annotations

import bisect
import math
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

MAX_WAIT_S = 2.0  # an answered call waiting longer than this for an agent is abandoned
DEFAULT_ABANDON_TARGET = 0.03
DEFAULT_MAX_RATIO = 3.0

MIN_ATTEMPTS = 40
MIN_ANSWERS = 10
MIN_TALKS = 10
# The abandon budget per new call, as a share of the target: BASE when the window holds
# no abandon, falling by SLOPE per unit of windowed rate / target, never below FLOOR
# while the windowed rate is under the target.
THETA_BASE = 1.2
THETA_SLOPE = 1.5
THETA_FLOOR = 0.1
HORIZON_QUANTILES = (0.1, 0.3, 0.5, 0.7, 0.9)


class AgentState(StrEnum):
    READY = "ready"
    TALKING = "talking"
    WRAP_UP = "wrap_up"
    PAUSED = "paused"


@dataclass(frozen=True)
class Agent:
    state: AgentState
    talk_elapsed_s: float = 0.0  # TALKING: talk time so far
    wrap_remaining_s: float = 0.0  # WRAP_UP: time left before the agent is ready


@dataclass(frozen=True)
class Stats:
    """What has been measured on the campaign (priors where nothing has been yet)."""

    answer_rate: float
    attempts: int  # finished attempts (answered or not) behind answer_rate
    answered_ring_s: tuple[float, ...]  # sorted ring times of recently answered calls
    ring_timeout_s: float  # the no-answer timeout the dialer uses
    talk_log_mean: float  # lognormal fit of talk times: mean of log(seconds)
    talk_log_sd: float  # ... and standard deviation of log(seconds)
    talks: int  # finished talks behind the fit
    wrap_mean_s: float
    window_s: float
    window_answered: int
    window_abandoned: int
    day_dialed: int
    day_answered: int
    day_abandoned: int
    minute_dialed: int
    minute_abandoned: int

    @property
    def window_abandon_rate(self) -> float:
        return self.window_abandoned / self.window_answered if self.window_answered else 0.0

    @property
    def day_abandon_rate(self) -> float:
        return self.day_abandoned / self.day_answered if self.day_answered else 0.0


@dataclass(frozen=True)
class Snapshot:
    now: float
    agents: tuple[Agent, ...]
    ringing: tuple[float, ...]  # elapsed ring time of each line still ringing
    waiting: tuple[float, ...]  # how long each answered call has waited for an agent
    stats: Stats
    abandon_target: float = DEFAULT_ABANDON_TARGET
    max_ratio: float = DEFAULT_MAX_RATIO

    def count(self, state: AgentState) -> int:
        return sum(1 for agent in self.agents if agent.state is state)


Policy = Callable[[Snapshot], int]


def _line_cap(snapshot: Snapshot) -> int:
    """New lines allowed by the lines-per-agent cap."""
    working = len(snapshot.agents) - snapshot.count(AgentState.PAUSED)
    return max(0, math.floor(snapshot.max_ratio * working + 1e-9) - len(snapshot.ringing))


def progressive(snapshot: Snapshot) -> int:
    """One line per ready agent, minus lines ringing and answered calls waiting."""
    ready = snapshot.count(AgentState.READY)
    return max(0, ready - len(snapshot.ringing) - len(snapshot.waiting))


def ratio(lines_per_agent: float) -> Policy:
    """A fixed dial level: `lines_per_agent` calls in progress per active agent."""

    def fixed_ratio(snapshot: Snapshot) -> int:
        ready = snapshot.count(AgentState.READY)
        talking = snapshot.count(AgentState.TALKING)
        goal = round(lines_per_agent * (ready + talking))
        in_progress = len(snapshot.ringing) + len(snapshot.waiting) + talking
        return max(0, goal - in_progress)

    return fixed_ratio


@dataclass
class Vicidial:
    """VICIdial's adaptive dial level (see the module docstring). Call once per decision."""

    mode: str = "average"  # "average" halves the level, "hard_limit" resets it to 1
    diff_target: float = 0.0
    level: float = 1.0
    update_every_s: float = 15.0
    _samples: deque[tuple[int, int, int]] = field(default_factory=lambda: deque(maxlen=15))
    _last_sample_s: float | None = None
    _last_update_s: float | None = None

    def __call__(self, snapshot: Snapshot) -> int:
        now = snapshot.now
        ready = snapshot.count(AgentState.READY)
        talking = snapshot.count(AgentState.TALKING)
        if self._last_sample_s is None or now - self._last_sample_s >= 1.0:
            self._samples.append((ready, len(snapshot.waiting), len(snapshot.agents)))
            self._last_sample_s = now
        if self._last_update_s is None:
            self._last_update_s = now
        elif now - self._last_update_s >= self.update_every_s:
            self._last_update_s = now
            self._adapt(snapshot)
        goal = round(self.level * (ready + talking))
        in_progress = len(snapshot.ringing) + len(snapshot.waiting) + talking
        return max(0, goal - in_progress)

    def _adapt(self, snapshot: Snapshot) -> None:
        n = len(self._samples)
        avg_ready = sum(s[0] for s in self._samples) / n
        avg_waiting = sum(s[1] for s in self._samples) / n
        avg_agents = sum(s[2] for s in self._samples) / n
        differential = avg_ready - avg_waiting + self.diff_target
        level = self.level * (1 + differential / avg_agents) if avg_agents else self.level
        level = min(max(level, 1.0), snapshot.max_ratio)
        stats = snapshot.stats
        if stats.minute_dialed > 20 and stats.minute_abandoned / stats.minute_dialed > 0.5:
            level /= 2
        if stats.day_dialed > 50 and stats.day_abandon_rate > snapshot.abandon_target:
            level = 1.0 if self.mode == "hard_limit" else level / 2
        self.level = max(level, 1.0)


def _normal_cdf(z: float) -> float:
    return 0.5 * math.erfc(-z / math.sqrt(2))


def _ecdf(sorted_samples: Sequence[float], x: float) -> float:
    return bisect.bisect_right(sorted_samples, x) / len(sorted_samples)


def _quantile(sorted_samples: Sequence[float], q: float) -> float:
    return sorted_samples[min(len(sorted_samples) - 1, int(q * len(sorted_samples)))]


def _small_sample(stats: Stats) -> bool:
    return (stats.attempts < MIN_ATTEMPTS or len(stats.answered_ring_s) < MIN_ANSWERS
            or stats.talks < MIN_TALKS)


def abandon_budget(snapshot: Snapshot) -> float:
    """The abandon probability a new call may carry (0: only dial for free agents)."""
    stats, target = snapshot.stats, snapshot.abandon_target
    if _small_sample(stats) or target <= 0:
        return 0.0
    windowed = stats.window_abandon_rate
    if windowed >= target:
        return 0.0
    theta = target * max(THETA_FLOOR, THETA_BASE - THETA_SLOPE * windowed / target)
    if stats.day_abandon_rate > target:
        theta /= 2
    return theta


@dataclass(frozen=True)
class _Outlook:
    """The parts of a snapshot the predictive model reuses at every horizon."""

    ready: int
    wrapping: tuple[float, ...]  # remaining wrap-up times
    talking: tuple[tuple[float, float], ...]  # (elapsed talk, erfc term of survival)
    ringing: tuple[tuple[float, float, float], ...]  # (rung, G(rung), P(still answerable))

    @classmethod
    def of(cls, snapshot: Snapshot) -> _Outlook:
        stats = snapshot.stats
        p, rings = stats.answer_rate, stats.answered_ring_s
        mu, scale = stats.talk_log_mean, 1 / (max(stats.talk_log_sd, 0.05) * math.sqrt(2))
        talking = []
        for agent in snapshot.agents:
            if agent.state is AgentState.TALKING:
                elapsed = agent.talk_elapsed_s
                still = math.erfc((math.log(elapsed) - mu) * scale) if elapsed > 0 else 2.0
                if still > 0:
                    talking.append((elapsed, still))
        ringing = []
        for rung in snapshot.ringing:
            g_rung = _ecdf(rings, rung)
            alive = p * (1 - g_rung) + (1 - p) * (rung < stats.ring_timeout_s)
            if alive > 0:
                ringing.append((rung, g_rung, alive))
        return cls(
            ready=snapshot.count(AgentState.READY),
            wrapping=tuple(a.wrap_remaining_s for a in snapshot.agents
                           if a.state is AgentState.WRAP_UP),
            talking=tuple(talking), ringing=tuple(ringing))

    def supply(self, stats: Stats, reach: float) -> tuple[float, float]:
        """Mean and variance of the number of agents free within `reach` seconds."""
        mean = float(self.ready + sum(1 for left in self.wrapping if left <= reach))
        var = 0.0
        after_wrap = reach - stats.wrap_mean_s
        if after_wrap > 0:
            mu, scale = stats.talk_log_mean, 1 / (max(stats.talk_log_sd, 0.05) * math.sqrt(2))
            log, erfc = math.log, math.erfc
            for elapsed, still in self.talking:
                free = 1 - erfc((log(elapsed + after_wrap) - mu) * scale) / still
                mean += free
                var += free * (1 - free)
        return mean, var

    def demand(self, stats: Stats, waiting: int, h: float) -> tuple[float, float]:
        """Mean and variance of the calls answered within `h` seconds, and those waiting."""
        p, rings = stats.answer_rate, stats.answered_ring_s
        size = len(rings)
        mean, var = float(waiting), 0.0
        for rung, g_rung, alive in self.ringing:
            answered = p * (bisect.bisect_right(rings, rung + h) / size - g_rung) / alive
            mean += answered
            var += answered * (1 - answered)
        return mean, var


def predictive(snapshot: Snapshot) -> int:
    """Dial ahead of free agents while each new call's abandon risk fits the budget."""
    floor = progressive(snapshot)
    theta = abandon_budget(snapshot)
    cap = _line_cap(snapshot)
    if theta <= 0 or cap <= floor:
        return floor
    stats = snapshot.stats
    outlook = _Outlook.of(snapshot)
    horizons = []
    for q in HORIZON_QUANTILES:
        h = _quantile(stats.answered_ring_s, q)
        supply_mean, supply_var = outlook.supply(stats, h + MAX_WAIT_S)
        demand_mean, demand_var = outlook.demand(stats, len(snapshot.waiting), h)
        per_call = stats.answer_rate * _ecdf(stats.answered_ring_s, h)
        horizons.append((supply_mean - demand_mean, supply_var + demand_var, per_call))

    n = 0
    while n < cap:
        risk = 0.0
        for margin, var, per_call in horizons:
            mean = margin - n * per_call
            sd = math.sqrt(var + n * per_call * (1 - per_call) + 0.01)
            risk = max(risk, _normal_cdf((0.5 - mean) / sd))
        if risk > theta:
            break
        n += 1
    return max(n, floor)


POLICY_NAMES = ("predictive", "progressive", "ratio", "vicidial")


def make_policy(name: str, lines_per_agent: float = 2.0) -> Policy:
    """A fresh policy by name (`Vicidial` carries its level, so each campaign gets one)."""
    if name == "predictive":
        return predictive
    if name == "progressive":
        return progressive
    if name == "ratio":
        return ratio(lines_per_agent)
    if name == "vicidial":
        return Vicidial()
    raise ValueError(f"unknown pacing policy: {name}")


@dataclass
class Measurements:
    """Turns call events into `Stats`: rolling windows and priors, no true parameters.

    Call the event methods as things happen (times in seconds, any monotonic origin);
    `stats(now)` gives what a policy may know at `now`.
    """

    ring_timeout_s: float
    window_s: float = 1800.0
    prior_answer_rate: float = 0.2
    prior_weight: float = 20.0
    prior_talk_mean_s: float = 120.0
    prior_talk_log_sd: float = 0.8
    prior_talk_weight: float = 10.0
    keep: int = 1000
    _outcomes: deque[bool] = field(default_factory=deque)
    _outcomes_answered: int = 0
    _rings: deque[float] = field(default_factory=deque)
    _talks: deque[float] = field(default_factory=deque)
    _talk_sums: list[float] = field(default_factory=lambda: [0.0, 0.0])  # log, log squared
    _wrap_sum: float = 0.0
    _wraps: int = 0
    _answered_at: deque[float] = field(default_factory=deque)
    _abandoned_at: deque[float] = field(default_factory=deque)
    _dialed_at: deque[float] = field(default_factory=deque)
    _minute_abandoned_at: deque[float] = field(default_factory=deque)
    _day: list[int] = field(default_factory=lambda: [0, 0, 0])
    _cached: dict[str, object] = field(default_factory=dict)

    def dialed(self, now: float) -> None:
        self._dialed_at.append(now)
        self._day[0] += 1

    def answered(self, now: float, ring_s: float) -> None:
        self._outcomes.append(True)
        self._outcomes_answered += 1
        self._rings.append(ring_s)
        self._answered_at.append(now)
        self._day[1] += 1
        self._trim()
        self._cached.pop("rings", None)

    def not_answered(self, now: float) -> None:
        self._outcomes.append(False)
        self._trim()

    def abandoned(self, now: float) -> None:
        self._abandoned_at.append(now)
        self._minute_abandoned_at.append(now)
        self._day[2] += 1

    def talk_ended(self, talk_s: float) -> None:
        log_talk = math.log(max(talk_s, 0.5))
        self._talks.append(log_talk)
        self._talk_sums[0] += log_talk
        self._talk_sums[1] += log_talk * log_talk
        if len(self._talks) > self.keep:
            dropped = self._talks.popleft()
            self._talk_sums[0] -= dropped
            self._talk_sums[1] -= dropped * dropped
        self._cached.pop("talk", None)

    def wrap_ended(self, wrap_s: float) -> None:
        self._wrap_sum += wrap_s
        self._wraps += 1

    def _trim(self) -> None:
        while len(self._outcomes) > self.keep:
            self._outcomes_answered -= self._outcomes.popleft()
        while len(self._rings) > self.keep:
            self._rings.popleft()

    def _talk_fit(self) -> tuple[float, float]:
        cached = self._cached.get("talk")
        if cached is None:
            sd0 = self.prior_talk_log_sd
            mu0 = math.log(self.prior_talk_mean_s) - sd0 * sd0 / 2
            w0, n = self.prior_talk_weight, len(self._talks)
            total, total_sq = self._talk_sums
            mu = (mu0 * w0 + total) / (w0 + n)
            squares = max(0.0, total_sq - 2 * mu * total + n * mu * mu)
            sd = math.sqrt((w0 * (sd0 * sd0 + (mu0 - mu) ** 2) + squares) / (w0 + n))
            cached = (mu, sd)
            self._cached["talk"] = cached
        return cached  # type: ignore[return-value]

    def _sorted_rings(self) -> tuple[float, ...]:
        cached = self._cached.get("rings")
        if cached is None:
            cached = tuple(sorted(self._rings))
            self._cached["rings"] = cached
        return cached  # type: ignore[return-value]

    def stats(self, now: float) -> Stats:
        since = now - self.window_s
        for times in (self._answered_at, self._abandoned_at):
            while times and times[0] < since:
                times.popleft()
        for times in (self._dialed_at, self._minute_abandoned_at):
            while times and times[0] < now - 60:
                times.popleft()
        answered = self._outcomes_answered
        attempts = len(self._outcomes)
        rate = ((answered + self.prior_answer_rate * self.prior_weight)
                / (attempts + self.prior_weight))
        mu, sd = self._talk_fit()
        return Stats(
            answer_rate=rate, attempts=attempts, answered_ring_s=self._sorted_rings(),
            ring_timeout_s=self.ring_timeout_s, talk_log_mean=mu, talk_log_sd=sd,
            talks=len(self._talks),
            wrap_mean_s=self._wrap_sum / self._wraps if self._wraps else 0.0,
            window_s=self.window_s, window_answered=len(self._answered_at),
            window_abandoned=len(self._abandoned_at), day_dialed=self._day[0],
            day_answered=self._day[1], day_abandoned=self._day[2],
            minute_dialed=len(self._dialed_at),
            minute_abandoned=len(self._minute_abandoned_at))
