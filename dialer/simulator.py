"""A discrete-event simulator of an outbound campaign, for any pacing policy.

Simulated time, a heap of events and a seeded RNG: the same campaign, policy and seed
give the same figures. A dialed call is answered with probability `answer_rate`, after a
ring uniform in [ring_min, ring_max]; otherwise it rings out at `no_answer_timeout`. An
answered call goes to the ready agent who has waited longest, or waits; after
`MAX_WAIT_S` (2 s) without an agent it is abandoned. Talk time is lognormal with mean
`talk_mean` and `talk_sigma` the standard deviation of its log; wrap-up is fixed. The
policy is consulted every second and whenever an agent becomes ready, with a `Snapshot`
of the simulated state and statistics measured in the simulation
(`pacing.Measurements`): it is never told the parameters above.

`bursts` change the answer rate for a stretch of the run (a step change the controller
must recover from).
"""

from __future__ import annotations

import dataclasses
import heapq
import itertools
import math
import random
from dataclasses import dataclass, field

from dialer.pacing import (
    DEFAULT_ABANDON_TARGET,
    DEFAULT_MAX_RATIO,
    MAX_WAIT_S,
    Agent,
    AgentState,
    Measurements,
    Policy,
    Snapshot,
    make_policy,
)


@dataclass(frozen=True)
class Burst:
    start_s: float
    end_s: float
    answer_rate: float


@dataclass(frozen=True)
class Campaign:
    agents: int
    answer_rate: float
    ring_min: float
    ring_max: float
    no_answer_timeout: float
    talk_mean: float
    talk_sigma: float
    wrap: float
    hours: float
    abandon_target: float = DEFAULT_ABANDON_TARGET
    max_ratio: float = DEFAULT_MAX_RATIO
    bursts: tuple[Burst, ...] = ()

    def __post_init__(self) -> None:
        problems = []
        if self.agents < 1:
            problems.append("agents must be at least 1")
        if not 0 <= self.answer_rate <= 1:
            problems.append("answer rate must be within [0, 1]")
        if not 0 <= self.ring_min <= self.ring_max:
            problems.append("ring-min must be within [0, ring-max]")
        if self.no_answer_timeout <= 0:
            problems.append("no-answer timeout must be positive")
        if self.talk_mean <= 0 or self.talk_sigma < 0:
            problems.append("talk mean must be positive and sigma not negative")
        if self.wrap < 0 or self.hours <= 0:
            problems.append("wrap must not be negative and hours must be positive")
        if problems:
            raise ValueError("; ".join(problems))

    def answer_rate_at(self, now: float) -> float:
        for burst in self.bursts:
            if burst.start_s <= now < burst.end_s:
                return burst.answer_rate
        return self.answer_rate


@dataclass(frozen=True)
class Result:
    policy: str
    occupancy: float
    abandon_rate: float
    dialed: int
    answered: int
    abandoned: int
    agent_wait_mean_s: float
    hourly: tuple[tuple[int, int], ...] = ()  # (answered, abandoned) in each hour of the run

    def as_dict(self) -> dict[str, object]:
        return {
            "policy": self.policy, "occupancy": round(self.occupancy, 4),
            "abandon_rate": round(self.abandon_rate, 4), "dialed": self.dialed,
            "answered": self.answered, "abandoned": self.abandoned,
            "agent_wait_mean_s": round(self.agent_wait_mean_s, 2),
        }


_IDLE = {state: Agent(state) for state in (AgentState.READY, AgentState.PAUSED)}

# Event kinds, in the order they are handled when simultaneous.
_ANSWER, _RING_OUT, _TALK_END, _WRAP_END, _GIVE_UP, _TICK = range(6)


@dataclass
class _SimAgent:
    state: AgentState = AgentState.READY
    since: float = 0.0  # when the current state began
    wrap_until: float = 0.0


@dataclass
class _Sim:
    campaign: Campaign
    policy: Policy
    rng: random.Random
    measurements: Measurements
    agents: list[_SimAgent] = field(default_factory=list)
    ringing: dict[int, float] = field(default_factory=dict)  # call -> dialed at
    waiting: dict[int, float] = field(default_factory=dict)  # call -> answered at
    events: list[tuple[float, int, int, int]] = field(default_factory=list)
    seq: itertools.count[int] = field(default_factory=itertools.count)
    call_ids: itertools.count[int] = field(default_factory=itertools.count)
    dialed: int = 0
    answered: int = 0
    abandoned: int = 0
    busy_s: float = 0.0
    wait_s: float = 0.0
    connections: int = 0
    hourly: dict[int, list[int]] = field(default_factory=dict)

    def push(self, at: float, kind: int, ref: int) -> None:
        heapq.heappush(self.events, (at, kind, next(self.seq), ref))

    def snapshot(self, now: float) -> Snapshot:
        agents = []
        for agent in self.agents:
            if agent.state is AgentState.TALKING:
                agents.append(Agent(AgentState.TALKING, talk_elapsed_s=now - agent.since))
            elif agent.state is AgentState.WRAP_UP:
                agents.append(Agent(AgentState.WRAP_UP,
                                    wrap_remaining_s=max(0.0, agent.wrap_until - now)))
            else:
                agents.append(_IDLE[agent.state])
        return Snapshot(
            now=now, agents=tuple(agents),
            ringing=tuple(now - at for at in self.ringing.values()),
            waiting=tuple(now - at for at in self.waiting.values()),
            stats=self.measurements.stats(now),
            abandon_target=self.campaign.abandon_target, max_ratio=self.campaign.max_ratio)

    def consult(self, now: float) -> None:
        for _ in range(max(0, int(self.policy(self.snapshot(now))))):
            self.dial(now)

    def dial(self, now: float) -> None:
        c = self.campaign
        call = next(self.call_ids)
        self.dialed += 1
        self.measurements.dialed(now)
        self.ringing[call] = now
        ring = self.rng.uniform(c.ring_min, c.ring_max)
        if self.rng.random() < c.answer_rate_at(now) and ring < c.no_answer_timeout:
            self.push(now + ring, _ANSWER, call)
        else:
            self.push(now + c.no_answer_timeout, _RING_OUT, call)

    def free_agent(self) -> int | None:
        best = None
        for i, agent in enumerate(self.agents):
            if agent.state is AgentState.READY and (
                    best is None or agent.since < self.agents[best].since):
                best = i
        return best

    def connect(self, now: float, agent_index: int) -> None:
        c = self.campaign
        agent = self.agents[agent_index]
        self.wait_s += now - agent.since
        self.connections += 1
        agent.state, agent.since = AgentState.TALKING, now
        mu = math.log(c.talk_mean) - c.talk_sigma ** 2 / 2
        self.push(now + self.rng.lognormvariate(mu, c.talk_sigma), _TALK_END, agent_index)

    def handle(self, now: float, kind: int, ref: int) -> bool:
        """Apply one event; True when the policy should be consulted."""
        if kind == _ANSWER:
            dialed_at = self.ringing.pop(ref)
            self.answered += 1
            self.hourly.setdefault(int(now // 3600), [0, 0])[0] += 1
            self.measurements.answered(now, now - dialed_at)
            free = self.free_agent()
            if free is None:
                self.waiting[ref] = now
                self.push(now + MAX_WAIT_S, _GIVE_UP, ref)
            else:
                self.connect(now, free)
            return False
        if kind == _RING_OUT:
            del self.ringing[ref]
            self.measurements.not_answered(now)
            return False
        if kind == _GIVE_UP:
            if self.waiting.pop(ref, None) is not None:
                self.abandoned += 1
                self.hourly.setdefault(int(now // 3600), [0, 0])[1] += 1
                self.measurements.abandoned(now)
            return False
        if kind == _TALK_END:
            agent = self.agents[ref]
            self.busy_s += now - agent.since
            self.measurements.talk_ended(now - agent.since)
            agent.state, agent.since = AgentState.WRAP_UP, now
            agent.wrap_until = now + self.campaign.wrap
            self.push(agent.wrap_until, _WRAP_END, ref)
            return False
        if kind == _WRAP_END:
            agent = self.agents[ref]
            self.busy_s += now - agent.since
            self.measurements.wrap_ended(now - agent.since)
            agent.state, agent.since = AgentState.READY, now
            if self.waiting:
                call = min(self.waiting, key=self.waiting.__getitem__)
                del self.waiting[call]
                self.connect(now, ref)
                return False
            return True
        self.push(now + 1.0, _TICK, 0)
        return True

    def run(self) -> Result:
        c = self.campaign
        end = c.hours * 3600
        self.agents = [_SimAgent() for _ in range(c.agents)]
        self.push(0.0, _TICK, 0)
        while self.events and self.events[0][0] < end:
            now, kind, _, ref = heapq.heappop(self.events)
            if self.handle(now, kind, ref):
                self.consult(now)
        for agent in self.agents:
            if agent.state in (AgentState.TALKING, AgentState.WRAP_UP):
                self.busy_s += end - agent.since
        name = getattr(self.policy, "name", None) or getattr(self.policy, "__name__", "policy")
        return Result(
            policy=str(name), occupancy=self.busy_s / (c.agents * end),
            abandon_rate=self.abandoned / self.answered if self.answered else 0.0,
            dialed=self.dialed, answered=self.answered, abandoned=self.abandoned,
            agent_wait_mean_s=self.wait_s / self.connections if self.connections else 0.0,
            hourly=tuple((self.hourly.get(h, [0, 0])[0], self.hourly.get(h, [0, 0])[1])
                         for h in range(math.ceil(c.hours))))


def simulate(campaign: Campaign, policy: str | Policy, seed: int,
             lines_per_agent: float = 2.0) -> Result:
    """Run `policy` (a name from `pacing.POLICY_NAMES`, or a policy) on `campaign`."""
    chosen = make_policy(policy, lines_per_agent) if isinstance(policy, str) else policy
    rng = random.Random(seed)  # noqa: S311 - a reproducible simulation, not a secret
    sim = _Sim(campaign=campaign, policy=chosen, rng=rng,
               measurements=Measurements(ring_timeout_s=campaign.no_answer_timeout))
    result = sim.run()
    if isinstance(policy, str):
        result = dataclasses.replace(result, policy=policy)
    return result
