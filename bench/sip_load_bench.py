"""SIP load: the real dialer (coordinator + line-worker processes, recording on) against a
SIPp trunk and SIPp auto-answering agent phones on loopback.

    uv run python bench/sip_load_bench.py --agents 100 --hold 20 --seconds 60

SIPp's built-in UAS is the trunk (answers every call, echoes RTP); a SIPp UAS with
`bench/sipp/agent_uas.xml` is every agent's phone (answers at once, echoes RTP, hangs up
after --hold seconds, which ends the debtor leg too). Progressive pacing keeps one line
per ready agent, so the concurrent bridged calls approach the number of agents; each
worker holds two bridged calls (4 legs, the wheel's limit). The database is a fresh one
on the machine's PostgreSQL, migrated to head; recordings are written but not uploaded
(an S3 server would compete for the same two cores).

Reports: the most concurrent bridged calls sustained, failed setups (calls that did not
end answered, and agent legs that failed) over attempts, calls per second, answer-to-
bridge latency p50/p95, and CPU and memory per worker (psutil, over the steady window).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
STATE = Path(tempfile.mkdtemp(prefix="regua-sipbench-"))
# The application role is cluster-wide: its password stays the one the tests set.
os.environ.update({"REGUA_STATE_DIR": str(STATE), "REGUA_SECRET_KEY": "bench",
                   "REGUA_DATABASE_APP_PASSWORD": "regua-app-test",
                   "REGUA_DATABASE_POOL_SIZE": "20"})

import psutil  # noqa: E402
import psycopg  # noqa: E402
from sqlalchemy import text  # noqa: E402

SP = ZoneInfo("America/Sao_Paulo")
TRUNK_PORT, AGENT_PORT = 5900, 5901


def cpf(n: int) -> str:
    digits = [int(c) for c in f"{n:09d}"]
    for size in (9, 10):
        total = sum(d * w for d, w in zip(digits, range(size + 1, 1, -1), strict=False))
        digits.append(0 if total % 11 < 2 else 11 - total % 11)
    return "".join(map(str, digits))


def open_window_shift() -> dt.timedelta:
    from core.compliance.guard import check_calendar
    from core.models import Channel

    now = dt.datetime.now(SP)
    day = now.date() + dt.timedelta(days=1)
    while True:
        moment = dt.datetime.combine(day, dt.time(9), tzinfo=SP)
        if day.weekday() < 5 and check_calendar(Channel.CALL, moment, state="SP",
                                                zone="America/Sao_Paulo").allowed:
            return moment - now
        day += dt.timedelta(days=1)


def fresh_database(server: str) -> tuple[str, str]:
    name = f"regua_sipbench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + f"/{name}"
    os.environ["REGUA_DATABASE_URL"] = url
    from core.runtime import migrate
    from core.settings import get_settings

    get_settings.cache_clear()
    migrate(get_settings())
    return name, url


async def seed(debtors: int, agents: int) -> tuple[uuid.UUID, uuid.UUID]:
    """A tenant, `debtors` debtors with one phone and one open debt each (set-based), an
    active progressive campaign over them, and `agents` agents logged in."""
    from core.access import TenantId, transaction
    from core.audit import Actor
    from core.auth.principal import Principal
    from core.auth.roles import Role
    from core.db import Scope
    from core.ids import uuid7
    from core.maintenance import operator_scope
    from core.runtime import get_db
    from dialer import campaigns
    from tenants import onboarding, users

    async with get_db().transaction(await operator_scope()) as session:
        tenant, _ = await onboarding.create_tenant(
            session, Actor(None, "bench"),
            onboarding.NewTenant(legal_name="Bench Ltda.", trade_name="Credor Bench",
                                 cnpj="11222333000181", state="SP"),
            users.NewUser(email="admin@bench.test", password="senha-de-bench-123"))  # noqa: S106
    boss = Principal.system(Scope(frozenset({tenant.id}), agency=True))
    async with transaction(boss) as session:
        await session.execute(text("""
            INSERT INTO debtor (tenant_id, id, document, document_kind, name, state, timezone)
            SELECT :t, regua_uuid7(), d.doc, 'cpf', 'Devedor ' || d.n, 'SP',
                   'America/Sao_Paulo'
            FROM unnest(CAST(:docs AS text[])) WITH ORDINALITY AS d(doc, n)
        """), {"t": tenant.id, "docs": [cpf(100000 + i) for i in range(debtors)]})
        await session.execute(text("""
            INSERT INTO contact_point (tenant_id, id, debtor_id, kind, value, source)
            SELECT tenant_id, regua_uuid7(), id, 'phone',
                   '+55119' || lpad((row_number() OVER ())::text, 8, '0'), 'bench'
            FROM debtor WHERE tenant_id = :t
        """), {"t": tenant.id})
        await session.execute(text("""
            INSERT INTO debt (tenant_id, id, debtor_id, portfolio_id, last_portfolio_id,
                              contract, installment, original_amount, current_balance,
                              due_date)
            SELECT tenant_id, regua_uuid7(), id, :p, :p, 'C-' || document, 1, 100, 100,
                   DATE '2026-06-01'
            FROM debtor WHERE tenant_id = :t
        """), {"t": tenant.id, "p": uuid7()})
        row = await campaigns.create_campaign(
            session, boss, TenantId(tenant.id),
            # Progressive: every line has its agent, so the benchmark measures SIP and
            # bridging, not pacing (that is bench/pacing_bench.py's).
            campaigns.NewCampaign(name="Carga SIP", mode="progressive", wrap_up_seconds=0,
                                  max_lines_per_agent=Decimal("1")))
        cid = campaigns.CampaignId(row.id)
        await campaigns.build_list(session, boss, cid)
    for i in range(agents):
        agent = Principal(user_id=uuid7(), email=f"op{i}@bench.test", full_name="Op",
                          role=Role.AGENT, tenant_id=None, tenant_ids=frozenset({tenant.id}))
        async with transaction(agent) as session:
            await campaigns.login(session, agent, [cid],
                                  f"sip:op{i}@127.0.0.1:{AGENT_PORT}")
    async with transaction(boss) as session:
        await campaigns.set_status(session, boss, cid, "active")
    return tenant.id, cid


def start_sipp(hold_s: float) -> list[subprocess.Popen[bytes]]:
    common = ["-i", "127.0.0.1", "-rtp_echo", "-nostdin", "-max_socket", "2000"]
    trunk = subprocess.Popen(["sipp", "-sn", "uas", "-p", str(TRUNK_PORT), "-mp", "46000",
                              *common], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    agents = subprocess.Popen(["sipp", "-sf", str(ROOT / "bench/sipp/agent_uas.xml"),
                               "-p", str(AGENT_PORT), "-mp", "50000",
                               "-d", str(int(hold_s * 1000)), *common],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    return [trunk, agents]


async def run(args: argparse.Namespace) -> dict[str, object]:
    from core.db import Scope
    from dialer.engine.coordinator import Coordinator, EngineConfig

    tenant_id, _ = await seed(args.debtors, args.agents)
    workers = (args.agents + 1) // 2

    async def scope() -> Scope:
        return Scope(frozenset({tenant_id}), agency=True)

    coordinator = Coordinator(EngineConfig(
        trunk=f"127.0.0.1:{TRUNK_PORT}", workers=workers, sip_port=6400, rtp_port=20000,
        state_dir=STATE, tick_s=0.25, upload=False, time_shift=open_window_shift()),
        scope=scope)
    stop = asyncio.Event()
    started = time.monotonic()
    runner = asyncio.create_task(coordinator.run(stop))
    while not coordinator.workers or not all(  # noqa: ASYNC110 - polling another task
            w.ready for w in coordinator.workers.values()):
        await asyncio.sleep(0.1)
    ready_s = time.monotonic() - started
    samples: list[int] = []
    procs = {w.index: psutil.Process(w.process.pid) for w in coordinator.workers.values()}
    me = psutil.Process()
    steady_from = time.monotonic() + args.warmup
    cpu_started = False
    t0 = time.monotonic()
    counts0: dict[str, int] = {}
    while time.monotonic() - t0 < args.seconds:
        await asyncio.sleep(0.5)
        bridged = sum(1 for v in coordinator.live.values() if v.bridged is not None)
        if time.monotonic() >= steady_from:
            if not cpu_started:
                for p in (*procs.values(), me):
                    p.cpu_percent(None)
                cpu_started, counts0 = True, dict(coordinator.counts)
                steady_t0 = time.monotonic()
            samples.append(bridged)
    steady_s = time.monotonic() - steady_t0
    cpu = [p.cpu_percent(None) for p in procs.values() if p.is_running()]
    rss = [p.memory_info().rss / 2**20 for p in procs.values() if p.is_running()]
    coordinator_cpu = me.cpu_percent(None)
    counts = dict(coordinator.counts)
    stop.set()
    await runner
    done = {k: counts.get(k, 0) - counts0.get(k, 0) for k in counts}
    attempts = sum(counts.values())
    failed = attempts - counts.get("answered", 0)
    lat = sorted(coordinator.latencies)
    legs = sorted(coordinator.agent_legs)
    return {
        "agents": args.agents, "workers": workers, "hold_s": args.hold,
        "workers_ready_s": round(ready_s, 1),
        "bridged_max": max(samples, default=0),
        "bridged_median_steady": statistics.median(samples) if samples else 0,
        "attempts": attempts, "failed_setups": failed,
        "failed_setup_rate": round(failed / attempts, 4) if attempts else None,
        "outcomes": counts,
        "calls_per_second_steady": round(sum(done.values()) / steady_s, 2),
        "answer_to_bridge_ms_p50": lat[len(lat) // 2] if lat else None,
        "answer_to_bridge_ms_p95": lat[int(len(lat) * 0.95)] if lat else None,
        "agent_leg_ms_p50": legs[len(legs) // 2] if legs else None,
        "agent_leg_ms_p95": legs[int(len(legs) * 0.95)] if legs else None,
        "worker_cpu_percent_mean": round(statistics.mean(cpu), 2) if cpu else None,
        "worker_cpu_percent_total": round(sum(cpu), 1),
        "worker_rss_mb_mean": round(statistics.mean(rss), 1) if rss else None,
        "coordinator_cpu_percent": round(coordinator_cpu, 1),
        "machine_cpus": psutil.cpu_count(),
        "load_avg_1m_at_end": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--debtors", type=int, default=3000)
    parser.add_argument("--hold", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--server", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    random.seed(7)
    name, _ = fresh_database(args.server)
    sipp = start_sipp(args.hold)
    try:
        result = asyncio.run(run(args))
    finally:
        for process in sipp:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
        with psycopg.connect(args.server, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
