"""Real SIP on loopback: pjsua2 peers in their own processes act as the trunk (debtor
phones answering, busy, ringing out or rejecting by the number's last digit) and as the
agents' softphones; the dialer under test is the real coordinator with real workers."""

from __future__ import annotations

import asyncio
import datetime as dt
import random
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select, update

from core.access import TenantId, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.compliance.guard import check_calendar
from core.db import Scope
from core.ids import uuid7
from core.models import Channel, ContactPoint
from dialer import campaigns
from dialer.engine.coordinator import Coordinator, EngineConfig
from dialer.engine.peer import PeerProcess
from dialer.engine.sip import EndpointSpec, write_tone
from tests.core.test_collection_model import creditor, place
from tests.ports import udp_block

SP = ZoneInfo("America/Sao_Paulo")
RTP_RANGE = EndpointSpec.rtp_range  # RTP ports a pjsua2 process (peer or line worker) takes


def random_cpf() -> str:
    digits = [random.randint(0, 9) for _ in range(9)]
    for size in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(size + 1, 1, -1), strict=False))
        digits.append(0 if total % 11 < 2 else 11 - total % 11)
    return "".join(map(str, digits))


def open_window_shift(hour: int = 10) -> dt.timedelta:
    """How far ahead the next weekday at `hour` in São Paulo with calls allowed is."""
    now = dt.datetime.now(SP)
    day = now.date() + dt.timedelta(days=1)
    while True:
        moment = dt.datetime.combine(day, dt.time(hour), tzinfo=SP)
        if day.weekday() < 5 and check_calendar(Channel.CALL, moment, state="SP",
                                                zone="America/Sao_Paulo").allowed:
            return moment - now
        day += dt.timedelta(days=1)


@pytest.fixture(scope="session")
def tones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("tones")
    return {"debtor": write_tone(folder / "debtor.wav", 3, 440.0),
            "agent": write_tone(folder / "agent.wav", 3, 880.0)}


def peer(role: str, **config: object) -> PeerProcess:
    """A SIP peer on free ports (tests/ports.py): test runs and xdist workers side by side
    do not collide."""
    return PeerProcess(role, udp_block(1), udp_block(RTP_RANGE), **config)


@pytest.fixture(scope="module")
def trunk(tones: dict[str, Path]) -> Iterator[PeerProcess]:
    debtors = peer("trunk", tone=str(tones["debtor"]), ring_s=0.3)
    yield debtors
    debtors.stop()


@pytest.fixture(scope="module")
def phones(tones: dict[str, Path]) -> Iterator[PeerProcess]:
    """Agents' softphones: answer at once, send a tone, hang up after 1.5 s of talk."""
    softphones = peer("agent", tone=str(tones["agent"]), talk_s=1.5)
    yield softphones
    softphones.stop()


@pytest.fixture
def sipp_trunk() -> Iterator[int]:
    """SIPp's built-in UAS answering every call and echoing RTP; stopped by its pid."""
    port = udp_block(1)
    # -mp: the audio echo's port, and the video echo's two above it.
    process = subprocess.Popen(["sipp", "-sn", "uas", "-i", "127.0.0.1", "-p", str(port),
                                "-rtp_echo", "-mp", str(udp_block(4)), "-nostdin"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    yield port
    process.terminate()
    try:
        process.wait(5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@dataclass
class Scenario:
    tenant_id: uuid.UUID
    boss: Principal
    campaign_id: campaigns.CampaignId
    debtors: dict[str, uuid.UUID]  # number -> debtor
    agents: list[uuid.UUID]


async def scenario(factory, numbers: list[str], agent_uris: list[str],
                   **campaign: object) -> Scenario:
    """A tenant, one debtor per number (first number: highest priority), an active
    campaign over them and agents logged in with the given softphone URIs."""
    tenant = await factory.tenant()
    staff = creditor(tenant.id)
    debtors = {}
    for rank, number in enumerate(numbers):
        placed = await place(staff, tenant.id, document=random_cpf(),
                             amount=str(Decimal(1000 - rank)), due_dates=(dt.date(2026, 6, 1),))
        async with transaction(staff) as session:
            await session.execute(update(ContactPoint).where(
                ContactPoint.id == placed.phone_id).values(value=number))
        debtors[number] = placed.debtor_id
    boss = Principal.system(Scope(frozenset({tenant.id}), agency=True))
    async with transaction(boss) as session:
        row = await campaigns.create_campaign(session, boss, TenantId(tenant.id),
                                              campaigns.NewCampaign(
                                                  name="Interop", wrap_up_seconds=0,
                                                  ring_timeout_seconds=15,
                                                  callback_number="08001234567",
                                                  **campaign))  # type: ignore[arg-type]
        cid = campaigns.CampaignId(row.id)
        await campaigns.build_list(session, boss, cid)
    agents = []
    for uri in agent_uris:
        login = await factory.user("agent", tenant_ids=[tenant.id])
        agent = Principal(user_id=login.user_id, email=login.email, full_name="Op",
                          role=Role.AGENT, tenant_id=None, tenant_ids=frozenset({tenant.id}))
        async with transaction(agent) as session:
            await campaigns.login(session, agent, [cid], uri)
        agents.append(login.user_id)
    async with transaction(boss) as session:
        await campaigns.set_status(session, boss, cid, "active")
    return Scenario(tenant.id, boss, cid, debtors, agents)


def engine(tmp_path: Path, sc: Scenario, *, trunk_port: int, workers: int = 1,
           shift: dt.timedelta | None = None) -> Coordinator:
    """The dialer calling the trunk on `trunk_port`; its line workers on free ports."""
    async def scope() -> Scope:
        return Scope(frozenset({sc.tenant_id}), agency=True)

    config = EngineConfig(trunk=f"127.0.0.1:{trunk_port}", workers=workers,
                          sip_port=udp_block(workers), rtp_port=udp_block(RTP_RANGE * workers),
                          state_dir=tmp_path, tick_s=0.1,
                          time_shift=open_window_shift() if shift is None else shift)
    return Coordinator(config, scope=scope)


async def run_until(coordinator: Coordinator, done: Callable[[], Awaitable[bool]],
                    limit: float, during: Callable[[], Awaitable[None]] | None = None) -> None:
    """Run the dialer until `done()` holds (checked every 0.2 s) or fail after `limit` s."""
    stop = asyncio.Event()
    runner = asyncio.create_task(coordinator.run(stop))
    deadline = time.monotonic() + limit
    try:
        while not await done():
            if runner.done():
                runner.result()
            if time.monotonic() > deadline:
                raise AssertionError("the dialer did not get there in time")
            if during is not None:
                await during()
            await asyncio.sleep(0.2)
    finally:
        stop.set()
        await runner


HISTORY = "history"  # the dialer id of call records a test writes as earlier calls


async def seed_history(sc: Scenario, at: dt.datetime, *, attempts: int, every: int,
                       ring_s: float = 0.4, talk_s: float = 30.0) -> None:
    """Earlier calls of the campaign today: one in `every` answered after `ring_s` and
    talked `talk_s`, the others busy. The engine starts its measurements from them."""
    debtor = next(iter(sc.debtors.values()))
    async with transaction(sc.boss) as session:
        for i in range(attempts):
            dialed = at + dt.timedelta(seconds=i)
            answered = dialed + dt.timedelta(seconds=ring_s) if i % every == 0 else None
            bridged = answered + dt.timedelta(seconds=0.1) if answered else None
            ended = (bridged + dt.timedelta(seconds=talk_s) if bridged
                     else dialed + dt.timedelta(seconds=0.2))
            session.add(campaigns.CallRecord(
                tenant_id=sc.tenant_id, id=uuid7(), campaign_id=sc.campaign_id,
                debtor_id=debtor, number="+5511900009995", dialed_at=dialed,
                answered_at=answered, bridged_at=bridged, ended_at=ended,
                sip_code=200 if answered else 486,
                outcome="answered" if answered else "busy", dialer_id=HISTORY,
                worker_id=0))


async def finished_calls(sc: Scenario) -> list[campaigns.CallRecord]:
    """The calls the dialer under test placed and closed, in order."""
    async with transaction(sc.boss) as session:
        return list((await session.execute(select(campaigns.CallRecord).where(
            campaigns.CallRecord.ended_at.is_not(None),
            campaigns.CallRecord.dialer_id != HISTORY)
            .order_by(campaigns.CallRecord.dialed_at))).scalars())
