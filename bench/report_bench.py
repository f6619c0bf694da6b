"""Reports benchmark: a tenant's dashboard for a year, from the aggregates and by scanning
the base tables, and how soon an event shows in it.

    uv run python bench/report_bench.py --debts 1000000

Generates, across 3 tenants and 24 months: `--debts` debts of debts/2.5 debtors (with
their placement ledger entries, scores and cadence enrolments), 5× as many interactions,
a tenth as many agreements (three installments each), a debt in seven with an agency
payment and one in thirty with a direct one, one cadence action per debt, a promise per
twenty debts, a call record per three, an escalation per thirty, agents' sessions.
Everything is written with COPY as the schema owner (triggers off while loading), then
each tenant's aggregates are rebuilt once (`refresh_tenant(full=True)`, timed). Then, in
the same run, for the first tenant and the twelve months up to now:

(a) the dashboard from the aggregates (`reports.dashboard.build` plus the page's tables
    and charts), `--loads` times: p50 and p95; and the page itself over HTTP (a creditor
    admin's `GET /relatorios`, templating included);
(b) the same figures computed by scanning the base tables (`reports.dashboard.scan`),
    `--scans` times, and a check that (a) and (b) show the same numbers;
(c) freshness: with the refresh job running on its schedule (every 30 s), an interaction
    and a payment are written at random moments through the application's role; the time
    until the dashboard counts each is measured, and the refresh's own duration.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import io
import random
import statistics
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_bench import create_tenant, save, scratch

MONTHS = 24
SEGMENTS = ["novo", "primeiro_atraso", "varios_titulos", "saldo_alto", "devedor_viciado",
            "sem_contato", "acordo_quebrado"]
CHANNELS = ["email", "sms", "whatsapp", "call"]
OUTCOMES = {"email": (["sent", "delivered", "read", "bounced"], [0.5, 0.2, 0.25, 0.05]),
            "sms": (["sent", "delivered", "failed"], [0.2, 0.75, 0.05]),
            "whatsapp": (["sent", "delivered", "read", "failed", "blocked"],
                         [0.1, 0.3, 0.45, 0.05, 0.1]),
            "call": (["answered", "no_answer", "busy", "invalid"], [0.3, 0.5, 0.15, 0.05])}


def ids(n: int) -> np.ndarray:
    from core.ids import uuid7_block

    return uuid7_block(n).to_numpy()


def pick(rng: np.random.Generator, values: list[str], weights: list[float], n: int
         ) -> np.ndarray:
    return rng.choice(np.array(values), size=n, p=np.array(weights))


def moments(rng: np.random.Generator, start: np.ndarray, end: dt.datetime) -> np.ndarray:
    """A random moment between each `start` and `end`."""
    start = start.astype("datetime64[ms]")
    span = (np.datetime64(end.replace(tzinfo=None), "ms") - start).astype("int64")
    return start + (rng.random(len(start)) * np.maximum(span, 1)).astype("timedelta64[ms]")


_FILLERS = {"integer": 0, "bigint": 0, "smallint": 0, "numeric": 0, "boolean": False,
            "jsonb": "{}", "character varying": "", "text": ""}


def _required(conn: Any, table: str, frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with the NOT NULL columns it lacks that the models fill in Python."""
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s"
        " AND is_nullable = 'NO' AND column_default IS NULL", (table,)).fetchall()
    return frame.with_columns([pl.lit(_FILLERS.get(kind, None)).alias(name)
                               for name, kind in rows if name not in frame.columns])


def copy(conn: Any, table: str, frame: pl.DataFrame) -> None:
    frame = _required(conn, table, frame)
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, datetime_format="%Y-%m-%d %H:%M:%S")
    columns = ", ".join(frame.columns)
    with conn.cursor().copy(f"COPY {table} ({columns}) FROM STDIN (FORMAT csv)") as out:
        out.write(buffer.getvalue())


def array(values: np.ndarray) -> pl.Series:
    return pl.Series(["{" + v + "}" for v in values])


def generate_tenant(conn: Any, tenant_id: uuid.UUID, debts: int, seed: int,
                    now: dt.datetime) -> dict[str, int]:
    """One tenant's rows, written with COPY."""
    rng = np.random.default_rng(seed)
    t = str(tenant_id)
    first = (now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
             - dt.timedelta(days=31 * (MONTHS - 1))).replace(day=1)
    month_starts = [np.datetime64(dt.datetime(first.year + (first.month - 1 + k) // 12,
                                              (first.month - 1 + k) % 12 + 1, 3, 12), "ms")
                    for k in range(MONTHS)]
    portfolio_ids = ids(MONTHS)
    copy(conn, "portfolio", pl.DataFrame({
        "tenant_id": [t] * MONTHS, "id": portfolio_ids,
        "file_name": [f"carteira-{k + 1:02d}.csv" for k in range(MONTHS)],
        "file_key": [f"bench/{k}" for k in range(MONTHS)], "mode": ["incremental"] * MONTHS,
        "status": ["done"] * MONTHS, "placement_days": [180] * MONTHS,
        "created_at": np.array(month_starts)}))

    n_debtors = max(int(debts / 2.5), 1)
    debtor_ids = ids(n_debtors)
    month_of = rng.integers(0, MONTHS, n_debtors)
    placed_at = np.array(month_starts)[month_of]
    copy(conn, "debtor", pl.DataFrame({
        "tenant_id": [t] * n_debtors, "id": debtor_ids,
        "document": [f"{seed:02d}{i:09d}" for i in range(n_debtors)],
        "document_kind": ["cpf"] * n_debtors, "name": [f"Devedor {i}" for i in range(n_debtors)],
        "state": ["SP"] * n_debtors, "first_portfolio_id": portfolio_ids[month_of],
        "created_at": placed_at, "updated_at": placed_at}))
    segments = [",".join(sorted(set(rng.choice(SEGMENTS, size=rng.integers(1, 3)))))
                for _ in range(n_debtors)]
    copy(conn, "debtor_score", pl.DataFrame({
        "tenant_id": [t] * n_debtors, "debtor_id": debtor_ids,
        "score": rng.integers(0, 1000, n_debtors), "band": ["C"] * n_debtors,
        "segments": array(np.array(segments)), "inputs": ["{}"] * n_debtors,
        "reasons": ["[]"] * n_debtors, "method": ["rules"] * n_debtors,
        "scored_at": placed_at}))
    cadence_ids, version_ids = ids(2), ids(2)
    copy(conn, "cadence", pl.DataFrame({
        "tenant_id": [t] * 2, "id": cadence_ids, "name": ["Régua suave", "Régua acelerada"],
        "current_version": [1, 1]}))
    copy(conn, "cadence_version", pl.DataFrame({
        "tenant_id": [t] * 2, "id": version_ids, "cadence_id": cadence_ids, "version": [1, 1],
        "source": ["steps: []"] * 2, "created_by": ["bench"] * 2}))
    challenger = rng.random(n_debtors) < 0.2
    copy(conn, "cadence_enrolment", pl.DataFrame({
        "tenant_id": [t] * n_debtors, "id": ids(n_debtors), "debtor_id": debtor_ids,
        "version_id": np.where(challenger, version_ids[1], version_ids[0]),
        "arm": np.where(challenger, "challenger", "champion"),
        "enrolled_at": placed_at + np.timedelta64(1, "D")}))

    debt_ids = ids(debts)
    owner = np.arange(debts) % n_debtors
    created = placed_at[owner]
    overdue = rng.integers(-10, 720, debts)
    amounts = np.round(rng.uniform(50, 5000, debts), 2)
    paid = rng.random(debts) < 1 / 7
    direct = (~paid) & (rng.random(debts) < 1 / 30)
    debt_frame = pl.DataFrame({
        "tenant_id": [t] * debts, "id": debt_ids, "debtor_id": debtor_ids[owner],
        "portfolio_id": portfolio_ids[month_of[owner]],
        "last_portfolio_id": portfolio_ids[month_of[owner]],
        "contract": [f"CT{seed:02d}{i:09d}" for i in range(debts)], "installment": [1] * debts,
        "original_amount": amounts, "current_balance": np.where(paid | direct, 0.0, amounts),
        "due_date": (created.astype("datetime64[D]") - overdue.astype("timedelta64[D]")),
        "status": np.where(paid, "paid", np.where(direct, "settled_by_creditor", "open")),
        "created_at": created, "updated_at": created})
    copy(conn, "debt", debt_frame.sort("created_at"))
    copy(conn, "ledger_entry", pl.DataFrame({
        "tenant_id": [t] * debts, "id": ids(debts), "debt_id": debt_ids,
        "posted_on": created.astype("datetime64[D]"), "bucket": ["principal"] * debts,
        "kind": ["placement"] * debts, "amount": amounts, "source": ["portfolio"] * debts,
        "source_id": portfolio_ids[month_of[owner]], "created_at": created}))

    payers = np.flatnonzero(paid | direct)
    paid_at = moments(rng, created[payers] + np.timedelta64(3, "D"), now)
    copy(conn, "payment", pl.DataFrame({
        "tenant_id": [t] * len(payers), "id": ids(len(payers)), "debt_id": debt_ids[payers],
        "debtor_id": debtor_ids[owner[payers]], "amount": amounts[payers],
        "paid_on": paid_at.astype("datetime64[D]"),
        "source": np.where(paid[payers], "agency", "creditor"), "created_at": paid_at,
    }).sort("paid_on"))

    n_int = debts * 5
    who = rng.integers(0, n_debtors, n_int)
    channel = pick(rng, CHANNELS, [0.3, 0.3, 0.15, 0.25], n_int)
    outcome = np.empty(n_int, dtype=object)
    for name, (values, weights) in OUTCOMES.items():
        mask = channel == name
        outcome[mask] = pick(rng, values, weights, int(mask.sum()))
    started = moments(rng, placed_at[who], now)
    copy(conn, "interaction", pl.DataFrame({
        "tenant_id": [t] * n_int, "id": ids(n_int), "debtor_id": debtor_ids[who],
        "channel": channel, "direction": ["outbound"] * n_int, "outcome": outcome.astype(str),
        "started_at": started, "process": ["bench"] * n_int, "cause_kind": ["system"] * n_int,
        "created_at": started}).sort("started_at"))

    day = moments(rng, created, now).astype("datetime64[D]")
    step = rng.choice(np.array([-3, 0, 5, 10]), debts)
    copy(conn, "cadence_action", pl.DataFrame({
        "tenant_id": [t] * debts, "id": ids(debts), "day": day, "debtor_id": debtor_ids[owner],
        "step_id": ids(debts), "version_id": np.where(challenger[owner], version_ids[1],
                                                      version_ids[0]),
        "step_day": step, "step_channel": pick(rng, ["email", "sms", "whatsapp"],
                                               [0.5, 0.3, 0.2], debts),
        "template": ["padrao"] * debts,
        "arm": np.where(challenger[owner], "challenger", "champion"),
        "debt_ids": array(debt_ids), "state": pick(
            rng, ["sent", "delivered", "read", "failed", "blocked", "expired"],
            [0.3, 0.35, 0.2, 0.05, 0.05, 0.05], debts)}).with_columns(
        pl.col("step_channel").alias("channel")).sort("day"))

    n_ag = max(debts // 10, 1)
    ag_debtor = rng.choice(n_debtors, n_ag, replace=False) if n_ag <= n_debtors else \
        rng.integers(0, n_debtors, n_ag)
    ag_ids = ids(n_ag)
    accepted = moments(rng, placed_at[ag_debtor] + np.timedelta64(5, "D"), now)
    status = pick(rng, ["active", "settled", "broken"], [0.5, 0.25, 0.25], n_ag)
    later = accepted + np.timedelta64(45, "D")
    totals = np.round(amounts[ag_debtor] * 0.8, 2)
    agents = ids(20)
    copy(conn, "agreement", pl.DataFrame({
        "tenant_id": [t] * n_ag, "id": ag_ids, "debtor_id": debtor_ids[ag_debtor],
        "status": status, "reference_date": accepted.astype("datetime64[D]"),
        "terms": ["termos"] * n_ag, "calculation": ["{}"] * n_ag,
        "option_label": ["3x"] * n_ag, "updated_balance": amounts[ag_debtor],
        "discount_total": np.round(amounts[ag_debtor] * 0.2, 2),
        "installment_interest": [0.0] * n_ag, "total": totals,
        "down_payment": np.round(totals / 3, 2), "installment_count": [3] * n_ag,
        "installment_amount": np.round(totals / 3, 2), "approval_level": ["agent"] * n_ag,
        "accepted_at": accepted, "later": later,
        "created_by": agents[rng.integers(0, 20, n_ag)], "created_at": accepted,
        "updated_at": accepted}).with_columns(
        settled_at=pl.when(pl.col("status") == "settled").then(pl.col("later")),
        broken_at=pl.when(pl.col("status") == "broken").then(pl.col("later"))).drop("later"))
    copy(conn, "agreement_debt", pl.DataFrame({
        "tenant_id": [t] * n_ag, "id": ids(n_ag), "agreement_id": ag_ids,
        "debt_id": debt_ids[ag_debtor], "principal": totals, "correction": [0.0] * n_ag,
        "interest": [0.0] * n_ag, "fine": [0.0] * n_ag, "fees": [0.0] * n_ag}))
    number = np.tile(np.array([1, 2, 3]), n_ag)
    parent = np.repeat(np.arange(n_ag), 3)
    inst_status = np.where(status[parent] == "settled", "paid",
                           np.where(status[parent] == "broken", "cancelled",
                                    np.where(number == 1, "paid", "open")))
    copy(conn, "installment", pl.DataFrame({
        "tenant_id": [t] * (3 * n_ag), "id": ids(3 * n_ag), "agreement_id": ag_ids[parent],
        "number": number, "due_date": (accepted[parent] + (number * 30).astype(
            "timedelta64[D]")).astype("datetime64[D]"),
        "amount": np.round(totals[parent] / 3, 2), "status": inst_status}))

    n_pr = max(debts // 20, 1)
    pr_debtor = rng.integers(0, n_debtors, n_pr)
    made = moments(rng, placed_at[pr_debtor], now)
    copy(conn, "agenda_item", pl.DataFrame({
        "tenant_id": [t] * n_pr, "id": ids(n_pr), "debtor_id": debtor_ids[pr_debtor],
        "kind": ["promise"] * n_pr, "due_at": made + np.timedelta64(7, "D"),
        "state": ["done"] * n_pr, "amount": np.round(rng.uniform(50, 800, n_pr), 2),
        "promised_on": (made + np.timedelta64(7, "D")).astype("datetime64[D]"),
        "created_at": made}))

    campaign_ids = ids(3)
    copy(conn, "campaign", pl.DataFrame({
        "tenant_id": [t] * 3, "id": campaign_ids, "name": [f"Campanha {k}" for k in range(3)],
        "mode": ["predictive"] * 3, "status": ["paused"] * 3, "abandon_target": [0.03] * 3,
        "max_lines_per_agent": [3.0] * 3, "ring_timeout_seconds": [25] * 3,
        "wrap_up_seconds": [20] * 3, "retry_rules": ["{}"] * 3, "filters": ["{}"] * 3}))
    n_calls = max(debts // 3, 1)
    called = rng.integers(0, n_debtors, n_calls)
    dialed = moments(rng, placed_at[called], now)
    call_outcome = pick(rng, ["answered", "no_answer", "busy", "abandoned", "failed"],
                        [0.35, 0.45, 0.1, 0.02, 0.08], n_calls)
    talk = rng.integers(30, 400, n_calls).astype("timedelta64[s]")
    copy(conn, "call_record", pl.DataFrame({
        "tenant_id": [t] * n_calls, "id": ids(n_calls), "campaign_id": campaign_ids[
            rng.integers(0, 3, n_calls)], "debtor_id": debtor_ids[called],
        "number": ["+5511999990000"] * n_calls, "dialed_at": dialed,
        "bridged_at": dialed + np.timedelta64(12, "s"),
        "ended_at": dialed + np.timedelta64(12, "s") + talk, "outcome": call_outcome,
        "agent_user_id": agents[rng.integers(0, 20, n_calls)],
        "dialer_id": ["bench"] * n_calls, "worker_id": [0] * n_calls}).with_columns(
        bridged_at=pl.when(pl.col("outcome") == "answered").then(pl.col("bridged_at")),
        agent_user_id=pl.when(pl.col("outcome") == "answered").then(pl.col("agent_user_id")),
    ).sort("dialed_at"))
    n_sessions = MONTHS * 20 * 20
    logged_in = moments(rng, np.array([np.datetime64(first.replace(tzinfo=None), "ms")]
                                      * n_sessions), now)
    copy(conn, "agent_session", pl.DataFrame({
        "tenant_id": [t] * n_sessions, "id": ids(n_sessions),
        "user_id": agents[np.arange(n_sessions) % 20],
        "campaign_ids": [f'["{campaign_ids[0]}"]'] * n_sessions, "sip_uri": ["sip:a@x"] *
        n_sessions, "state": ["logged_out"] * n_sessions, "logged_in_at": logged_in,
        "logged_out_at": logged_in + np.timedelta64(4, "h")}))

    n_esc = max(debts // 30, 1)
    escalated = rng.choice(debts, n_esc, replace=False)
    decided = moments(rng, created[escalated] + np.timedelta64(60, "D"), now)
    copy(conn, "escalation", pl.DataFrame({
        "tenant_id": [t] * n_esc, "id": ids(n_esc), "debt_id": debt_ids[escalated],
        "debtor_id": debtor_ids[owner[escalated]],
        "path": pick(rng, ["bureau", "protest", "judicial"], [0.6, 0.3, 0.1], n_esc),
        "state": pick(rng, ["notice_sent", "listed", "queued", "protested", "handed_off"],
                      [0.3, 0.3, 0.2, 0.1, 0.1], n_esc),
        "rule_name": ["regra"] * n_esc, "amount": amounts[escalated], "decided_at": decided,
        "state_changed_at": decided, "details": ["{}"] * n_esc}))
    return {"debtors": n_debtors, "debts": debts, "interactions": n_int, "agreements": n_ag,
            "payments": len(payers), "cadence_actions": debts, "promises": n_pr,
            "call_records": n_calls, "escalations": n_esc}


def generate(url: str, tenant_ids: list[uuid.UUID], debts: int) -> tuple[float, dict[str, int]]:
    import psycopg
    from sqlalchemy.engine import make_url

    started = time.perf_counter()
    plain = make_url(url).set(drivername="postgresql").render_as_string(False)
    now = dt.datetime.now(dt.UTC)
    counts: dict[str, int] = {}
    with psycopg.connect(plain) as conn:
        conn.execute("SET TimeZone = 'UTC'")
        # Loading data, not events: no triggers (the rebuild computes everything after).
        conn.execute("SET session_replication_role = replica")
        for n, tenant_id in enumerate(tenant_ids):
            share = debts // len(tenant_ids) + (1 if n < debts % len(tenant_ids) else 0)
            for key, value in generate_tenant(conn, tenant_id, share, n + 1, now).items():
                counts[key] = counts.get(key, 0) + value
            conn.commit()
            print(f"  tenant {n + 1}: {time.perf_counter() - started:.0f} s", flush=True)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return time.perf_counter() - started, counts


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> dict[str, float]:
    return {"p50_ms": round(statistics.median(values) * 1000, 1),
            "p95_ms": round(percentile(values, 0.95) * 1000, 1),
            "max_ms": round(max(values) * 1000, 1), "n": len(values)}


async def rebuild(tenant_ids: list[uuid.UUID]) -> list[float]:
    from core.access import TenantId
    from reports.refresh import refresh_tenant

    out = []
    for tenant_id in tenant_ids:
        done = await refresh_tenant(TenantId(tenant_id), full=True)
        out.append(done.seconds)
        print(f"  rebuilt tenant in {done.seconds:.1f} s ({done.count} month slices)",
              flush=True)
    return out


def _year(today: dt.date) -> Any:
    from reports.dashboard import Filters

    end = today.replace(day=1)
    start = end
    for _ in range(11):
        start = (start - dt.timedelta(days=1)).replace(day=1)
    return Filters(start, end)


async def dashboard_loads(tenant_id: uuid.UUID, loads: int, scan: bool) -> tuple[
        list[float], list[Any]]:
    from core.access import TenantId, transaction
    from reports import dashboard, tables
    from reports.refresh import system

    times, shown = [], []
    filters = _year(dt.date.today())
    for _ in range(loads):
        started = time.perf_counter()
        async with transaction(system(tenant_id)) as session:
            reader = dashboard.scan if scan else dashboard.build
            board = await reader(session, TenantId(tenant_id), filters)
        sections = tables.build_tables(board, lambda f, k: f"/x?{f}={k}")
        tables.build_charts(board, lambda f, k: f"/x?{f}={k}")
        times.append(time.perf_counter() - started)
        shown = [(t.title, [[c.text for c in row] for row in t.rows]) for t in sections]
    return times, shown


async def page_loads(tenant_id: uuid.UUID, loads: int) -> list[float]:
    from litestar.testing import AsyncTestClient

    from core.audit import Actor
    from core.auth import service
    from core.auth.roles import Role
    from core.maintenance import operator_scope
    from core.runtime import get_db
    from portal.app import create_app
    from tenants import users

    async with get_db().transaction(await operator_scope()) as session:
        user = await users.add_user(session, Actor(None, "bench"), users.NewUser(
            email=f"bench-{uuid.uuid4().hex[:6]}@credor.test", password="senha-de-bench-2026"),  # noqa: S106
            tenant_id=tenant_id, role=Role.CREDITOR_ADMIN)
    principal = await service.load_principal(get_db(), user.id)
    assert principal is not None
    token = (await service.issue_token(get_db(), principal, "bearer",
                                       dt.timedelta(hours=1))).token
    filters = _year(dt.date.today())
    times = []
    async with AsyncTestClient(app=create_app()) as client:
        for _ in range(loads):
            started = time.perf_counter()
            page = await client.get(f"/relatorios?de={filters.start:%Y-%m}"
                                    f"&ate={filters.end:%Y-%m}",
                                    headers={"Authorization": f"Bearer {token}"})
            times.append(time.perf_counter() - started)
            assert page.status_code == 200, page.text[:500]
    return times


async def attempts_now(tenant_id: uuid.UUID) -> tuple[int, Any]:
    from core.access import TenantId, transaction
    from reports import dashboard
    from reports.refresh import system

    today = dt.date.today().replace(day=1)
    async with transaction(system(tenant_id)) as session:
        board = await dashboard.build(session, TenantId(tenant_id),
                                      dashboard.Filters(today, today))
    return board.channel_totals().attempts, board.money.recovered


async def freshness(tenant_id: uuid.UUID, events: int) -> dict[str, Any]:
    """Run the refresh job on its schedule and time events until the dashboard has them."""
    from sqlalchemy import select

    from core.access import DebtId, DebtorId, transaction
    from core.collection import interactions, ledger
    from core.models import CauseKind, Channel, Debt, Outcome, PaymentSource
    from reports import tasks
    from reports.refresh import refresh_tenant, system

    runs: list[float] = []
    stop = asyncio.Event()

    async def scheduler() -> None:
        while not stop.is_set():
            started = time.perf_counter()
            for tenant in await tasks.tenants_with_changes():
                done = await refresh_tenant(tenant)  # type: ignore[arg-type]
                if done.count:
                    runs.append(done.seconds)
            elapsed = time.perf_counter() - started
            try:
                await asyncio.wait_for(stop.wait(),
                                       max(tasks.REFRESH_EVERY.total_seconds() - elapsed, 0))
            except TimeoutError:
                pass

    job = asyncio.create_task(scheduler())
    principal = system(tenant_id)
    async with transaction(principal) as session:
        debt = (await session.execute(select(Debt).where(Debt.status == "open").limit(1))
                ).scalar_one()
    latencies: dict[str, list[float]] = {"interaction": [], "payment": []}
    try:
        for n in range(events):
            await asyncio.sleep(random.uniform(3, 25))
            kind = "interaction" if n % 2 == 0 else "payment"
            before = await attempts_now(tenant_id)
            async with transaction(principal) as session:
                if kind == "interaction":
                    await interactions.record(
                        session, debtor_id=DebtorId(debt.debtor_id), channel=Channel.SMS,
                        outcome=Outcome.DELIVERED, cause_kind=CauseKind.SYSTEM,
                        process="bench")
                else:
                    await ledger.record_payment(session, principal, DebtId(debt.id),
                                                __import__("decimal").Decimal("1.00"),
                                                paid_on=dt.date.today(),
                                                source=PaymentSource.AGENCY)
            written = time.perf_counter()
            while True:
                now = await attempts_now(tenant_id)
                changed = now[0] != before[0] if kind == "interaction" else now[1] != before[1]
                if changed:
                    latencies[kind].append(time.perf_counter() - written)
                    print(f"  {kind} visible after {latencies[kind][-1]:.1f} s", flush=True)
                    break
                await asyncio.sleep(0.25)
    finally:
        stop.set()
        await job
    every = [v for vs in latencies.values() for v in vs]
    return {"schedule_s": tasks.REFRESH_EVERY.total_seconds(),
            "event_to_visible_s": {k: [round(v, 1) for v in vs] for k, vs in latencies.items()},
            "worst_s": round(max(every), 1), "mean_s": round(statistics.mean(every), 1),
            "refresh_run_s": [round(r, 2) for r in runs]}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--debts", type=int, default=1_000_000)
    parser.add_argument("--loads", type=int, default=30)
    parser.add_argument("--scans", type=int, default=3)
    parser.add_argument("--events", type=int, default=6)
    args = parser.parse_args()
    out = Path(__file__).parent / "out" / "report_bench.json"
    with scratch() as (_, env):
        tenant_ids = [asyncio.run(create_tenant(f"bench-reports-{i}")) for i in range(3)]
        generated, counts = generate(env.url, tenant_ids, args.debts)
        print(f"generated {counts} in {generated:.0f} s", flush=True)
        rebuilt = asyncio.run(rebuild(tenant_ids))

        async def measure() -> dict[str, Any]:
            from core.runtime import get_db

            first = tenant_ids[0]
            await dashboard_loads(first, 2, scan=False)  # warm the caches and the pool
            stored, shown = await dashboard_loads(first, args.loads, scan=False)
            print(f"(a) dashboard from the aggregates: {summary(stored)}", flush=True)
            http = await page_loads(first, args.loads)
            print(f"(a) page over HTTP: {summary(http)}", flush=True)
            scanned, again = await dashboard_loads(first, args.scans, scan=True)
            print(f"(b) scanning the base tables: {summary(scanned)}", flush=True)
            fresh = await freshness(first, args.events)
            print(f"(c) freshness: {fresh}", flush=True)
            await get_db().dispose()
            return {"aggregates": summary(stored), "page_http": summary(http),
                    "scan": summary(scanned), "same_figures": shown == again,
                    "speedup_p50": round(statistics.median(scanned)
                                         / statistics.median(stored), 1),
                    "freshness": fresh}

        measured = asyncio.run(measure())
        save({"tenants": 3, "months": MONTHS, **counts, "generate_s": round(generated),
              "rebuild_s": [round(r, 1) for r in rebuilt], **measured}, out)


if __name__ == "__main__":
    main()
