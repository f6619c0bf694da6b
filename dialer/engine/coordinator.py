"""The coordinator: paces campaigns and drives a pool of line-worker processes.

Every `tick` it asks each active campaign's pacing policy how many lines to dial now,
leases that many entries (the compliance guard first: `campaigns.claim`) and hands each
call to a worker with a free line. Worker events come back over each worker's
connection; an answered call takes the agent ready the longest (atomically in the
database, so several dialer processes share agents) and the worker bridges it. A worker
that dies loses only its own calls: they are recorded as failed with the reason, and a
new worker takes its place (same ports).

Pacing is `dialer/pacing.py`, the functions the simulator measures: the campaign's mode
picks the policy (`predictive` by default, `progressive`; `preview` campaigns are not
auto-dialed: their calls are placed when the agent asks, `campaigns.preview_dial`), and
the policy reads a `pacing.Snapshot` built here from this process's lines, the
campaign's agents in the database and the campaign's `pacing.Measurements`, which start
from today's call records (a restarted dialer keeps the day's figures) and then learn
from every call event. The campaign row is read every round, so a supervisor's change
of mode, target or ratio is paced with on the next round.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import os
import shutil
import socket
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from core.db import Scope
from core.models import Tenant
from core.storage_keys import call_recording_key
from dialer import campaigns, events, pacing
from dialer.agenda import AGENCY_ZONE
from dialer.engine import processes
from dialer.engine.sip import write_tone
from dialer.engine.worker import LINES_PER_WORKER
from dialer.models import AgentSession, AgentState, CallOutcome, CallRecord, Campaign

log = logging.getLogger("regua.dialer")


# ---- pacing ----------------------------------------------------------------------------

PACED_STATES = {AgentState.READY: pacing.AgentState.READY,
                AgentState.TALKING: pacing.AgentState.TALKING,
                AgentState.WRAP_UP: pacing.AgentState.WRAP_UP,
                AgentState.PAUSED: pacing.AgentState.PAUSED}


def paced_agent(state: str, elapsed_s: float, wrap_up_seconds: int) -> pacing.Agent:
    """An agent as a policy sees it: talking with its talk time so far, in wrap-up with
    the campaign's wrap-up time left."""
    paced = PACED_STATES[AgentState(state)]
    if paced is pacing.AgentState.TALKING:
        return pacing.Agent(paced, talk_elapsed_s=max(0.0, elapsed_s))
    if paced is pacing.AgentState.WRAP_UP:
        return pacing.Agent(paced, wrap_remaining_s=max(0.0, wrap_up_seconds - elapsed_s))
    return pacing.Agent(paced)


def replay(records: list[CallRecord], shift: dt.timedelta, ring_timeout_s: float
           ) -> pacing.Measurements:
    """The campaign's measurements from its call records (times back on the engine's
    clock): what a dialer that restarts, or starts the day, knows."""
    measured = pacing.Measurements(ring_timeout_s=ring_timeout_s)
    offset = shift.total_seconds()

    def clock(moment: dt.datetime) -> float:
        return moment.timestamp() - offset

    for record in records:
        measured.dialed(clock(record.dialed_at))
        if record.ended_at is None:
            continue
        if record.answered_at is not None:
            measured.answered(clock(record.answered_at),
                              (record.answered_at - record.dialed_at).total_seconds())
        else:
            measured.not_answered(clock(record.ended_at))
        if record.outcome == CallOutcome.ABANDONED:
            measured.abandoned(clock(record.ended_at))
        if record.bridged_at is not None:
            measured.talk_ended((record.ended_at - record.bridged_at).total_seconds())
    return measured


# ---- configuration ---------------------------------------------------------------------

@dataclass
class EngineConfig:
    trunk: str  # host:port where debtor calls go (sip:<number>@trunk)
    trunks: list[str] = field(default_factory=list)  # per worker (demo peers), else trunk
    workers: int = 2
    sip_port: int = 5260
    rtp_port: int = 30000
    bind: str = "127.0.0.1"
    trunk_user: str | None = None
    trunk_password: str | None = None
    register: bool = False
    caller_id: str = "regua"
    codecs: tuple[str, ...] = ("PCMA/8000", "PCMU/8000")
    agency_name: str = "Régua Assessoria de Cobrança"
    state_dir: Path = Path(".regua")
    tick_s: float = 0.25
    # Tests run the dialer at a moment when calling windows are open: every time it
    # writes and every moment it asks the guard about is shifted by this much.
    time_shift: dt.timedelta = dt.timedelta(0)
    record: bool = True
    upload: bool = True
    dialer_id: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")

    @classmethod
    def from_settings(cls, settings: Any, *, trunk: str | None = None) -> EngineConfig:
        target = trunk or urlsplit(settings.sip_trunk_uri).netloc
        host = target.split(":")[0]
        return cls(
            trunk=target, workers=settings.dialer_workers, sip_port=settings.dialer_sip_port,
            rtp_port=settings.dialer_rtp_port,
            bind="127.0.0.1" if host in ("127.0.0.1", "localhost") else "0.0.0.0",  # noqa: S104
            trunk_user=settings.sip_trunk_user,
            trunk_password=(settings.sip_trunk_password.get_secret_value()
                            if settings.sip_trunk_password else None),
            register=settings.sip_trunk_register, caller_id=settings.sip_caller_id,
            codecs=tuple(c.strip() for c in settings.sip_codecs.split(",") if c.strip()),
            agency_name=settings.agency_name, state_dir=settings.state_dir.resolve())


# ---- the abandon message ---------------------------------------------------------------

def abandon_text(agency: str, creditor: str, callback: str | None) -> str:
    """What the debtor hears when no agent is free: who calls, for whom, that we will
    call back, and the number to call us first (digit by digit)."""
    return (f"Olá. Aqui é {agency}, em nome de {creditor}. "
            "Neste momento todos os nossos atendentes estão ocupados. "
            "Vamos retornar a sua ligação em breve. "
            + (f"Se preferir, ligue para {' '.join(callback)}. " if callback else "")
            + "Obrigado.")


def abandon_message(folder: Path, text: str) -> Path:
    """The message as a WAV, spoken in Brazilian Portuguese by espeak-ng, cached per
    text. Without espeak-ng a two-tone signal stands in, and the log says so."""
    path = folder / f"abandon-{uuid.uuid5(uuid.NAMESPACE_OID, text)}.wav"
    if path.exists():
        return path
    folder.mkdir(parents=True, exist_ok=True)
    espeak = shutil.which("espeak-ng")
    if espeak is not None:
        subprocess.run([espeak, "-v", "pt-br", "-s", "150", "-w", str(path), text],
                       check=True, capture_output=True, timeout=30)
        return path
    log.warning("dialer: espeak-ng is not installed: the abandon message is a tone")
    return write_tone(path, 3.0, 440.0, 620.0)


# ---- the pool --------------------------------------------------------------------------

@dataclass
class WorkerHandle:
    index: int
    process: subprocess.Popen[bytes]
    conn: Connection
    calls: set[uuid.UUID] = field(default_factory=set)
    ready: bool = False

    @property
    def free(self) -> int:
        return LINES_PER_WORKER - len(self.calls) if self.ready else 0


@dataclass
class Live:
    """A call this process placed and has not closed yet."""

    dial: campaigns.Dial
    worker: int
    dialed: float
    ringing: float | None = None
    answered: float | None = None
    bridged: float | None = None
    latency_ms: int | None = None
    agent: campaigns.Agent | None = None
    abandoning: bool = False
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


Outgoing = tuple[campaigns.Dial, campaigns.Agent | None, str]  # call, agent, message
Lease = Callable[[Any], Awaitable[list[Outgoing]]]

CLAIM_CHUNK = 10  # entries leased per transaction
CLAIM_PARALLEL = 8  # transactions leasing at once (the pool holds 2 x REGUA_DATABASE_POOL_SIZE)


def _split(total: int, size: int) -> list[int]:
    return [min(size, total - start) for start in range(0, total, size)]


def _wait_closed(path: Path, patience: float = 2.0) -> None:
    """Wait for the recorder to close the WAV: pjmedia 2.14+ removes a port from the
    bridge asynchronously, so the file may close just after the call is reported. The
    header's RIFF size is written on close."""
    deadline = time.monotonic() + patience
    while time.monotonic() < deadline:
        with path.open("rb") as wav:
            head = wav.read(8)
        if len(head) == 8 and int.from_bytes(head[4:8], "little") == path.stat().st_size - 8:
            return
        time.sleep(0.02)


class Coordinator:
    def __init__(self, config: EngineConfig, *, scope: Callable[[], Any] | None = None
                 ) -> None:
        self.config = config
        self.workers: dict[int, WorkerHandle] = {}
        self.live: dict[uuid.UUID, Live] = {}
        self.recordings = config.state_dir / "dialer" / f"recordings-{os.getpid()}"
        self.prompts = config.state_dir / "dialer" / "prompts"
        self._scope_source = scope
        self._scope: Scope | None = None
        self._scope_at = 0.0
        self._tasks: set[asyncio.Task[None]] = set()
        self._prompt_of: dict[uuid.UUID, str] = {}
        self.latencies: list[int] = []  # answer to bridge, ms
        self.agent_legs: list[int] = []  # of which: agent named to bridge up, ms
        self._progress: list[tuple[Live, str]] = []  # call progress to NOTIFY next tick
        self.counts: dict[str, int] = {}
        self.restarts = 0
        # Per campaign: the local day its measurements are of, and the measurements.
        self.measurements: dict[uuid.UUID, tuple[dt.date, pacing.Measurements]] = {}
        self._policies: dict[uuid.UUID, tuple[str, pacing.Policy]] = {}
        # Agents this process put in wrap-up: (agent session, campaign) -> wrap-up began.
        self._wrapping: dict[tuple[uuid.UUID, uuid.UUID], float] = {}
        self._last_housekeeping = 0.0
        self._leasing = asyncio.Semaphore(CLAIM_PARALLEL)

    def _ts(self, value: float | None) -> dt.datetime | None:
        if value is None:
            return None
        return dt.datetime.fromtimestamp(value, dt.UTC) + self.config.time_shift

    # ---- workers ---------------------------------------------------------------------
    def _start_worker(self, index: int) -> WorkerHandle:
        c = self.config
        process, conn = processes.spawn("dialer.engine.worker", {
            "worker_id": index, "sip_port": c.sip_port + index,
            "rtp_port": c.rtp_port + 40 * index, "bind": c.bind, "codecs": list(c.codecs),
            "recordings_dir": str(self.recordings), "caller_id": c.caller_id,
            "trunk_user": c.trunk_user, "trunk_password": c.trunk_password,
            "registrar": f"sip:{c.trunk}" if c.register else None, "record": c.record})
        handle = WorkerHandle(index, process, conn)
        self.workers[index] = handle
        asyncio.get_running_loop().add_reader(conn.fileno(), self._readable, handle)
        return handle

    def _readable(self, handle: WorkerHandle) -> None:
        try:
            while handle.conn.poll():
                self._on_event(handle, handle.conn.recv())
        except (EOFError, OSError):
            self._lost(handle)

    def _lost(self, handle: WorkerHandle) -> None:
        """A worker died: its calls are failed with the reason; a new one replaces it."""
        if self.workers.get(handle.index) is not handle:
            return
        asyncio.get_running_loop().remove_reader(handle.conn.fileno())
        handle.conn.close()
        try:
            code = handle.process.wait(2)
        except subprocess.TimeoutExpired:
            handle.process.kill()
            code = handle.process.wait()
        reason = f"line worker {handle.index} died (exit code {code})"
        if not self._running and code == 0:
            # Stopped as asked: it reported every call before it exited.
            del self.workers[handle.index]
            return
        log.warning("dialer: %s with %d calls", reason, len(handle.calls))
        for call_id in list(handle.calls):
            live = self.live.get(call_id)
            if live is not None:
                self._spawn_task(self._finish(live, {
                    "outcome": "failed", "sip_code": None, "reason": reason,
                    "ringing": live.ringing, "answered": live.answered,
                    "bridged": live.bridged, "ended": time.time(), "recording": None}))
        del self.workers[handle.index]
        if self._running:
            self.restarts += 1
            self._start_worker(handle.index)

    # ---- events from workers ---------------------------------------------------------
    def _on_event(self, handle: WorkerHandle, event: dict[str, Any]) -> None:
        kind = event["ev"]
        if kind == "ready":
            handle.ready = True
            return
        call_id = uuid.UUID(event["call_id"])
        live = self.live.get(call_id)
        if live is None:
            return
        if kind == "ringing":
            live.ringing = event["at"]
            self._progress.append((live, "ringing"))
        elif kind == "answered":
            live.answered = event["at"]
            measured = self._measured(live.dial.campaign_id)
            if measured is not None:
                measured.answered(live.answered, live.answered - live.dialed)
            self._spawn_task(self._answered(live))
        elif kind == "agent_failed":
            self._spawn_task(self._agent_failed(live, event.get("reason")))
        elif kind == "bridged":
            live.bridged, live.latency_ms = event["at"], event["latency_ms"]
            self.latencies.append(event["latency_ms"])
            self.agent_legs.append(event.get("agent_leg_ms", event["latency_ms"]))
            self._spawn_task(self._bridged(live))
        elif kind == "abandoning":
            live.abandoning = True
            self._spawn_task(self._abandoning(live))
        elif kind == "ended":
            self._spawn_task(self._finish(live, event))

    def _spawn_task(self, coro: Any) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._task_done)

    def _task_done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("dialer: event handling failed", exc_info=task.exception())

    async def _scope_now(self) -> Scope:
        if self._scope is None or time.monotonic() - self._scope_at > 30:
            if self._scope_source is not None:
                self._scope = await self._scope_source()
            else:
                from core.maintenance import operator_scope

                self._scope = await operator_scope()
            self._scope_at = time.monotonic()
        assert self._scope is not None
        return self._scope

    def _db(self) -> Any:
        from core.runtime import get_db

        return get_db()

    async def _answered(self, live: Live) -> None:
        async with live.lock:
            if live.agent is not None:  # reserved at dial: the worker is calling it already
                async with self._db().transaction(await self._scope_now()) as session:
                    await campaigns.agent_talking(session, live.agent, live.dial.call_id)
                    await events.publish(session, live.agent.tenant_id, "agent_state",
                                         user_id=live.agent.user_id,
                                         state=AgentState.TALKING)
            elif not live.abandoning:
                await self._offer(live)
            self._progress.append((live, "answered"))

    async def _offer(self, live: Live) -> None:
        """Take a ready agent for an answered call and tell its worker to bridge."""
        async with self._db().transaction(await self._scope_now()) as session:
            agent = await campaigns.take_agent(session, live.dial.campaign_id,
                                               live.dial.call_id)
            if agent is not None:
                await events.publish(session, agent.tenant_id, "agent_state",
                                     user_id=agent.user_id, state=AgentState.TALKING)
        if agent is None:
            return
        live.agent = agent
        handle = self.workers.get(live.worker)
        if handle is not None:
            handle.conn.send({"op": "bridge", "call_id": str(live.dial.call_id),
                              "agent_uri": agent.sip_uri})

    async def _agent_failed(self, live: Live, reason: str | None) -> None:
        """The agent's phone did not answer: the agent is paused with the reason, and
        another agent is tried while the debtor still waits."""
        async with live.lock:
            agent, live.agent = live.agent, None
            if agent is None:
                return
            async with self._db().transaction(await self._scope_now()) as session:
                row = await session.get(AgentSession, (agent.tenant_id, agent.session_id))
                if row is not None and row.state == AgentState.TALKING:
                    row.state, row.state_since = AgentState.PAUSED, dt.datetime.now(dt.UTC)
                    row.reason, row.call_id = "o telefone do operador não atendeu", None
                    await events.publish(session, agent.tenant_id, "agent_state",
                                         user_id=agent.user_id, state=row.state,
                                         reason=row.reason)
            log.warning("dialer: agent %s did not answer (%s)", agent.sip_uri, reason)
            if live.answered is not None and not live.abandoning and live.bridged is None:
                await self._offer(live)

    async def _bridged(self, live: Live) -> None:
        async with live.lock:
            if live.agent is None:
                return
            async with self._db().transaction(await self._scope_now()) as session:
                await events.publish(session, live.dial.tenant_id, "screen_pop",
                                     user_id=live.agent.user_id, call_id=live.dial.call_id,
                                     debtor_id=live.dial.debtor_id,
                                     campaign_id=live.dial.campaign_id)
                await self._call_event(session, live, "bridged",
                                       latency_ms=live.latency_ms)

    async def _abandoning(self, live: Live) -> None:
        async with live.lock:
            agent, live.agent = live.agent, None
            async with self._db().transaction(await self._scope_now()) as session:
                if agent is not None:
                    await campaigns.release_agent(session, agent, live.dial.call_id,
                                                  wrap_up=False)
                await self._call_event(session, live, "abandoning")

    async def _finish(self, live: Live, event: dict[str, Any]) -> None:
        async with live.lock:
            if live.dial.call_id not in self.live:
                return
            del self.live[live.dial.call_id]
            handle = self.workers.get(live.worker)
            if handle is not None:
                handle.calls.discard(live.dial.call_id)
            outcome = CallOutcome(event["outcome"])
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
            self._learn(live, outcome, event.get("ended") or time.time())
            key = await self._upload(live, event.get("recording"))
            result = campaigns.Result(
                live.dial.call_id, outcome, sip_code=event.get("sip_code"),
                reason=event.get("reason"), ringing_at=self._ts(event.get("ringing")),
                answered_at=self._ts(event.get("answered")),
                bridged_at=self._ts(event.get("bridged")),
                ended_at=self._ts(event.get("ended")), answer_to_bridge_ms=live.latency_ms,
                agent_user_id=live.agent.user_id if live.agent and live.bridged else None,
                recording_key=key)
            async with self._db().transaction(await self._scope_now()) as session:
                await campaigns.finish(session, result)
                if live.agent is not None:
                    await campaigns.release_agent(session, live.agent, live.dial.call_id,
                                                  wrap_up=live.bridged is not None)
                    await events.publish(session, live.agent.tenant_id, "agent_state",
                                         user_id=live.agent.user_id,
                                         state=AgentState.WRAP_UP if live.bridged
                                         else AgentState.READY)
                await self._call_event(session, live, "ended", outcome=outcome,
                                       sip_code=event.get("sip_code"))

    def _learn(self, live: Live, outcome: CallOutcome, ended: float) -> None:
        """A finished call's lesson for the campaign's pacing."""
        measured = self._measured(live.dial.campaign_id)
        if measured is None:
            return
        if live.answered is None:
            measured.not_answered(ended)
        if outcome is CallOutcome.ABANDONED:
            measured.abandoned(ended)
        if live.bridged is not None:
            measured.talk_ended(ended - live.bridged)
            if live.agent is not None:
                self._wrapping[(live.agent.session_id, live.dial.campaign_id)] = ended

    async def _upload(self, live: Live, path: str | None) -> str | None:
        if path is None:
            return None
        key = call_recording_key(live.dial.tenant_id, dt.datetime.now(dt.UTC).date(),
                                 live.dial.call_id)
        return await asyncio.to_thread(self._store, key, Path(path))

    def _store(self, key: str, path: Path) -> str | None:
        """Put the recording in S3 and drop the local file (in a thread)."""
        if not path.exists():
            return None
        try:
            _wait_closed(path)
            if not self.config.upload:
                return None
            from core.runtime import get_storage

            get_storage().upload_file(key, str(path))
            return key
        finally:
            path.unlink(missing_ok=True)

    async def _call_event(self, session: Any, live: Live, status: str, **data: Any) -> None:
        await events.publish(session, live.dial.tenant_id, "call",
                             call_id=live.dial.call_id, campaign_id=live.dial.campaign_id,
                             debtor_id=live.dial.debtor_id, status=status, **data)

    # ---- pacing loop -----------------------------------------------------------------
    async def tick(self) -> int:
        """One round: housekeeping, waiting calls offered again, new lines dialed.
        Returns how many calls it placed."""
        scope = await self._scope_now()
        now = time.time()
        if now - self._last_housekeeping > 5:
            self._last_housekeeping = now
            await self._housekeeping(scope)
        # Calls agents asked for on preview campaigns go first: an agent is waiting.
        previewed = await self._dial(scope, self._previews)
        for live in list(self.live.values()):
            if (live.answered is not None and live.agent is None and not live.abandoning
                    and live.bridged is None and not live.lock.locked()):
                async with live.lock:
                    if live.agent is None and not live.abandoning:
                        await self._offer(live)
        async with self._db().transaction(scope) as session:
            # Ringing and answered are batched into this round's transaction: one fewer
            # transaction per event where latency matters less than the answer path.
            progress, self._progress = self._progress, []
            for live, status in progress:
                await self._call_event(session, live, status)
            for agent in await campaigns.end_wrap_ups(session):
                await events.publish(session, agent.tenant_id, "agent_state",
                                     user_id=agent.user_id, state=agent.state)
            agents = await campaigns.logged_in_agents(session)
            self._wraps_ended(agents, now)
            plans = []
            free = sum(w.free for w in self.workers.values())
            for campaign in await campaigns.active_campaigns(session):
                await self._measure(session, campaign, now)
                others = await campaigns.others_lines(session, campaign,
                                                      self.config.dialer_id)
                wanted = min(self._wanted(campaign, agents, now, others), free)
                if wanted > 0:
                    free -= wanted
                    plans.append((campaign, wanted,
                                  await self._prompt(session, campaign)))
        # Each lease asks the guard a few queries: several transactions at once keep a
        # large team's redial within a round or two.
        chunks = [self._paced(campaign, size, prompt) for campaign, wanted, prompt in plans
                  for size in _split(wanted, CLAIM_CHUNK)]
        placed = await asyncio.gather(*(self._dial(scope, chunk) for chunk in chunks))
        return previewed + sum(placed)

    async def _housekeeping(self, scope: Scope) -> None:
        async with self._db().transaction(scope) as session:
            await campaigns.renew_leases(
                session, self.config.dialer_id, [v.dial.entry_id for v in self.live.values()])
            await campaigns.expire_leases(session)
            await campaigns.release_stale_agents(session)

    def _measured(self, campaign_id: uuid.UUID) -> pacing.Measurements | None:
        found = self.measurements.get(campaign_id)
        return found[1] if found is not None else None

    async def _measure(self, session: Any, campaign: Campaign, now: float) -> None:
        """Start the campaign's measurements from today's call records, once a day."""
        today = (dt.datetime.fromtimestamp(now, dt.UTC) + self.config.time_shift
                 ).astimezone(AGENCY_ZONE).date()
        found = self.measurements.get(campaign.id)
        if found is not None and found[0] == today:
            return
        midnight = dt.datetime.combine(today, dt.time(0), tzinfo=AGENCY_ZONE)
        records = await campaigns.calls_since(session, campaign, midnight)
        self.measurements[campaign.id] = (today, replay(
            records, self.config.time_shift, float(campaign.ring_timeout_seconds)))

    def _wraps_ended(self, agents: list[AgentSession], now: float) -> None:
        """Agents this process put in wrap-up who left it: their wrap-up is measured."""
        rows = {a.id: a for a in agents}
        for (session_id, campaign_id), began in list(self._wrapping.items()):
            row = rows.get(session_id)
            if row is not None and row.state == AgentState.WRAP_UP:
                continue
            del self._wrapping[(session_id, campaign_id)]
            left = row.state_since.timestamp() if row is not None else now
            measured = self._measured(campaign_id)
            if measured is not None and (row is None or row.state != AgentState.TALKING):
                measured.wrap_ended(max(0.0, left - began))

    def _policy(self, campaign: Campaign) -> pacing.Policy:
        """The campaign's policy by its mode (made again when a supervisor changes it)."""
        found = self._policies.get(campaign.id)
        if found is None or found[0] != campaign.mode:
            found = (campaign.mode, pacing.make_policy(campaign.mode))
            self._policies[campaign.id] = found
        return found[1]

    def snapshot(self, campaign: Campaign, agents: list[AgentSession], now: float,
                 others: list[tuple[dt.datetime, dt.datetime | None]] | None = None
                 ) -> pacing.Snapshot:
        """What the policy sees: the campaign's logged-in agents, its lines ringing and
        answered-but-waiting (this process's, and `others`: those of other dialer
        processes, from their call records), and the measurements."""
        key = str(campaign.id)
        # Agents' times are the database's clock, not shifted like the call records'.
        mine = tuple(paced_agent(a.state, now - a.state_since.timestamp(),
                                 campaign.wrap_up_seconds)
                     for a in agents if key in a.campaign_ids and a.state in PACED_STATES)
        ours = [v for v in self.live.values() if v.dial.campaign_id == campaign.id]
        measured = self._measured(campaign.id)
        assert measured is not None
        shift = self.config.time_shift.total_seconds()
        ringing = [now - v.dialed for v in ours if v.answered is None]
        waiting = [now - v.answered for v in ours if v.answered is not None
                   and v.bridged is None and not v.abandoning]
        for dialed, answered in others or []:
            if answered is None:
                ringing.append(now - (dialed.timestamp() - shift))
            else:
                waiting.append(now - (answered.timestamp() - shift))
        return pacing.Snapshot(
            now=now, agents=mine, ringing=tuple(ringing), waiting=tuple(waiting),
            stats=measured.stats(now), abandon_target=float(campaign.abandon_target),
            max_ratio=float(campaign.max_lines_per_agent))

    def _wanted(self, campaign: Campaign, agents: list[AgentSession], now: float,
                others: list[tuple[dt.datetime, dt.datetime | None]]) -> int:
        snapshot = self.snapshot(campaign, agents, now, others)
        return max(0, int(self._policy(campaign)(snapshot)))

    def _paced(self, campaign: Campaign, wanted: int, prompt: str) -> Lease:
        """Up to `wanted` of the campaign's due entries, the guard first."""
        async def lease(session: Any) -> list[Outgoing]:
            dials = await campaigns.claim(
                session, campaign, wanted, dialer_id=self.config.dialer_id, worker_id=-1,
                at=dt.datetime.now(dt.UTC) + self.config.time_shift)
            # One line per ready agent is dialed for that agent (progressive); lines
            # beyond them (predictive) take whoever is ready on answer.
            return [(dial, await campaigns.reserve_agent(session, campaign.id, dial.call_id),
                     prompt) for dial in dials]
        return lease

    async def _previews(self, session: Any) -> list[Outgoing]:
        """The preview calls agents asked for, as many as there are free lines."""
        free = sum(w.free for w in self.workers.values())
        return [(taken.dial, taken.agent, await self._prompt(session, taken.campaign))
                for taken in await campaigns.take_preview_calls(
                    session, self.config.dialer_id, free)]

    async def _dial(self, scope: Scope, lease: Lease) -> int:
        """Lease calls in one transaction and, once it commits, send them to workers (a
        worker may report a call's end at once)."""
        outbox: list[tuple[WorkerHandle, dict[str, Any]]] = []
        taken: list[Live] = []
        try:
            async with self._leasing, self._db().transaction(scope) as session:
                for dial, agent, prompt in await lease(session):
                    # The line is counted on its worker before any await: the other
                    # chunks of this round choose workers meanwhile.
                    handle = max(self.workers.values(), key=lambda w: w.free)
                    live = Live(dial, handle.index, time.time(), agent=agent)
                    self.live[dial.call_id] = live
                    handle.calls.add(dial.call_id)
                    taken.append(live)
                    measured = self._measured(dial.campaign_id)
                    if measured is not None:
                        measured.dialed(live.dialed)
                    await campaigns.assign_worker(session, dial.call_id, handle.index)
                    await self._call_event(session, live, "dialing")
                    outbox.append((handle, {
                        "op": "dial", "call_id": str(dial.call_id),
                        "uri": f"sip:{dial.number}@{self._trunk(handle)}",
                        "ring_timeout": dial.ring_timeout_seconds, "abandon_wav": prompt,
                        "agent_uri": agent.sip_uri if agent else None}))
        except BaseException:
            for live in taken:
                self.live.pop(live.dial.call_id, None)
                owner = self.workers.get(live.worker)
                if owner is not None:
                    owner.calls.discard(live.dial.call_id)
            raise
        for handle, command in outbox:
            handle.conn.send(command)
        return len(outbox)

    def _trunk(self, handle: WorkerHandle) -> str:
        trunks = self.config.trunks
        return trunks[handle.index % len(trunks)] if trunks else self.config.trunk

    async def _prompt(self, session: Any, campaign: Campaign) -> str:
        found = self._prompt_of.get(campaign.id)
        if found is None:
            creditor = (await session.execute(select(Tenant.trade_name).where(
                Tenant.id == campaign.tenant_id))).scalar_one()
            text = abandon_text(self.config.agency_name, creditor, campaign.callback_number)
            path = await asyncio.to_thread(abandon_message, self.prompts, text)
            found = self._prompt_of[campaign.id] = str(path)
        return found

    # ---- life ------------------------------------------------------------------------
    _running = False
    _listener: Any = None

    async def start(self) -> None:
        self._running = True
        self.recordings.mkdir(parents=True, exist_ok=True)
        for index in range(self.config.workers):
            self._start_worker(index)
        deadline = time.monotonic() + 30
        while not all(w.ready for w in self.workers.values()):
            if time.monotonic() > deadline:
                raise RuntimeError("line workers did not start")
            await asyncio.sleep(0.05)
        await self._close_orphans()
        await self._listen()

    async def _listen(self) -> None:
        """Hang-up requests from the agent desktop (another process) come by NOTIFY."""
        import asyncpg
        from sqlalchemy.engine import make_url

        from core.db import app_url
        from core.settings import get_settings

        url = make_url(app_url(get_settings())).set(drivername="postgresql")
        self._listener = await asyncpg.connect(url.render_as_string(False))
        await self._listener.add_listener(events.HANGUP_CHANNEL, self._on_hangup_request)

    def _on_hangup_request(self, conn: Any, pid: int, channel: str, payload: str) -> None:
        request = json.loads(payload)
        if request.get("dialer_id") == self.config.dialer_id:
            self.hang_up(uuid.UUID(request["call_id"]))

    async def _close_orphans(self) -> None:
        """Calls a previous run of this dialer id left open are failed now."""
        async with self._db().transaction(await self._scope_now()) as session:
            for call_id in await campaigns.open_calls(session, self.config.dialer_id):
                await campaigns.finish(session, campaigns.Result(
                    call_id, CallOutcome.FAILED, reason="dialer restarted during the call"))

    async def run(self, stop: asyncio.Event) -> None:
        await self.start()
        log.info("dialer: %d line workers, trunk %s", len(self.workers), self.config.trunk)
        try:
            while not stop.is_set():
                try:
                    await self.tick()
                except Exception:
                    log.exception("dialer: pacing round failed")
                try:
                    await asyncio.wait_for(stop.wait(), self.config.tick_s)
                except TimeoutError:
                    pass
        finally:
            await self.stop()

    def hang_up(self, call_id: uuid.UUID) -> bool:
        """The agent ended the call from the desktop: the worker hangs up both legs."""
        live = self.live.get(call_id)
        handle = self.workers.get(live.worker) if live else None
        if handle is None:
            return False
        handle.conn.send({"op": "hangup", "call_id": str(call_id)})
        return True

    async def stop(self, grace: float = 10) -> None:
        self._running = False
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        for handle in self.workers.values():
            try:
                handle.conn.send({"op": "stop"})
            except OSError:
                pass
        deadline = time.monotonic() + grace
        # Workers hang up and report each call; their reports become tasks to wait for.
        while (self.live or self._tasks) and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        loop = asyncio.get_running_loop()
        for handle in list(self.workers.values()):
            loop.remove_reader(handle.conn.fileno())
            try:
                handle.process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                handle.process.kill()
                handle.process.wait()
            handle.conn.close()
        self.workers.clear()

    def kill_worker(self, index: int) -> int:
        """Kill a worker outright (tests and the benchmark prove recovery with it)."""
        pid = self.workers[index].process.pid
        os.kill(pid, 9)
        return pid
