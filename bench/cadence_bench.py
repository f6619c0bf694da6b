"""Cadence planning benchmark: one day for N open debts of N*0.3 debtors across 3 tenants.

    uv run python bench/cadence_bench.py --debts 1000000

A tenth of the debtors has no e-mail, another tenth no phone; one in fifty debts is paid;
one debtor in a hundred has a dispute hold. Generates the debts set-based with SQL
straight into the tables (as the schema owner: the planning needs no ledger entries),
loads a six-step cadence with conditions in each
tenant, then measures in the same run:
(a) the limit: one hand-written statement that selects and counts the same due (debtor,
    step, channel) triples with the same conditions (workability, offsets, amount and
    state conditions, usable contact point), writing nothing, through the same index;
(b) the cadence run (`engine.run`: enrolment, selection, action rows, the calendar per
    group), per tenant, summed; not the sends;
(c) the rerun of the same day with nothing new (must add nothing), then (c') one after a
    change: a hundred new debtors with a debt due today in each tenant, which it must
    plan;
(d) a Python loop over a 10,000-debt sample (per debt: its debtor, holds, steps and
    contact points read and judged in Python, an action row written), extrapolated.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_bench import create_tenant, save, scratch

DAY = dt.date(2027, 3, 10)  # a Wednesday without holidays
YAML = """
name: Régua de benchmark
steps:
  - day: -3
    channels: [email]
  - day: 0
    channels: [email, sms]
  - day: 5
    channels: [whatsapp]
    fallback: sms
  - day: 10
    channels: [sms]
    when: {amount_min: 100}
  - day: 20
    channels: [call]
    when: {amount_min: 200, states: [SP, RJ, MG]}
  - day: 45
    channels: [letter]
"""

GENERATE = """
INSERT INTO debtor (tenant_id, id, document, document_kind, name, state, timezone,
                    created_at, updated_at)
SELECT :t, regua_uuid7(), lpad(g::text, 11, '0'), 'cpf', 'Devedor ' || g,
       (ARRAY['SP','RJ','MG','BA','PE','AM','AC','RS'])[1 + g % 8],
       regua_uf_zone((ARRAY['SP','RJ','MG','BA','PE','AM','AC','RS'])[1 + g % 8]), now(), now()
FROM generate_series(1, :debtors) g;

INSERT INTO contact_point (tenant_id, id, debtor_id, kind, value, source, quality,
                           created_at, updated_at)
SELECT d.tenant_id, regua_uuid7(), d.id, k.kind,
       CASE k.kind WHEN 'email' THEN 'd' || d.document || '@exemplo.com.br'
                   WHEN 'phone' THEN '+55119' || right(d.document, 8)
                   ELSE 'Rua ' || d.document || ', São Paulo/SP' END,
       'bench', 'unverified', now(), now()
FROM debtor d CROSS JOIN (VALUES ('email'), ('phone'), ('address')) AS k(kind)
WHERE d.tenant_id = :t
  AND (k.kind <> 'email' OR right(d.document, 1) <> '7')
  AND (k.kind <> 'phone' OR right(d.document, 1) <> '3');

INSERT INTO debt (tenant_id, id, debtor_id, portfolio_id, last_portfolio_id, contract,
                  installment, original_amount, current_balance, due_date, status,
                  created_at, updated_at)
SELECT d.tenant_id, regua_uuid7(), d.id, :p, :p, 'CT' || d.document, i,
       50 + (hashtext(d.id::text || i) & 1023), 50 + (hashtext(d.id::text || i) & 1023),
       CAST(:day AS date) - (abs(hashtext(d.document || i)) % 200 - 10),
       CASE WHEN abs(hashtext(d.document || i)) % 50 = 0 THEN 'paid' ELSE 'open' END,
       now(), now()
FROM debtor d CROSS JOIN generate_series(1, 5) AS i
WHERE d.tenant_id = :t AND i <= 2 + (abs(hashtext(d.id::text)) % 3)
                              + CASE WHEN right(d.document, 1) < '4' THEN 1 ELSE 0 END;

INSERT INTO hold (tenant_id, id, debtor_id, kind, reason, starts_at, set_by_email, created_at)
SELECT d.tenant_id, regua_uuid7(), d.id, 'dispute', 'bench', now() - interval '1 day',
       'bench', now()
FROM debtor d WHERE d.tenant_id = :t AND right(d.document, 2) = '42';
"""

# The limit: the same triples counted by one statement, written the way the engine reads
# (each step's due date through the partial index `ix_debt_open_due`, a debt judged
# once), across the three tenants, the champion only (the version is each tenant's
# current one), writing nothing. Left to itself the planner walks every debtor first under
# row-level security (300 s at this size): the LATERAL lookup per step, fenced by
# OFFSET 0, is how a person who knows the data writes it.
LIMIT = """
WITH steps AS MATERIALIZED (
    SELECT s.tenant_id, s.id AS step_id, CAST(:d AS date) - s.day AS due, s.channels,
           s.amount_min, s.states
    FROM cadence c
    JOIN cadence_version v ON v.tenant_id = c.tenant_id AND v.cadence_id = c.id
     AND v.version = c.current_version
    JOIN cadence_step s ON s.tenant_id = v.tenant_id AND s.version_id = v.id
),
due AS (
    SELECT DISTINCT x.tenant_id, x.debtor_id, st.step_id, ch
    FROM steps st
    CROSS JOIN LATERAL (
        SELECT * FROM debt d
        WHERE d.tenant_id = st.tenant_id AND d.status = 'open' AND d.due_date = st.due
        OFFSET 0) x
    JOIN debtor b ON b.tenant_id = x.tenant_id AND b.id = x.debtor_id
    CROSS JOIN LATERAL unnest(st.channels) AS ch
    WHERE regua_debt_blocker(x, CAST(:at AS timestamptz)) IS NULL
      AND (st.amount_min IS NULL OR x.current_balance >= st.amount_min)
      AND (st.states IS NULL OR b.state = ANY (st.states))
)
SELECT count(*), count(*) FILTER (WHERE ch = 'task' OR EXISTS (
    SELECT 1 FROM contact_point cp WHERE cp.tenant_id = t.tenant_id
      AND cp.debtor_id = t.debtor_id
      AND cp.kind = CASE ch WHEN 'email' THEN 'email' WHEN 'letter' THEN 'address'
                            ELSE 'phone' END
      AND cp.quality NOT IN ('wrong_party', 'invalid', 'bounced')))
FROM due t
"""


# A change after the day's plan: new debtors with a debt due today, e-mail and phone.
ARRIVALS = """
WITH new AS (
    INSERT INTO debtor (tenant_id, id, document, document_kind, name, state, timezone,
                        created_at, updated_at)
    SELECT :t, regua_uuid7(), '9' || lpad(g::text, 10, '0'), 'cpf', 'Novo ' || g, 'SP',
           'America/Sao_Paulo', now(), now()
    FROM generate_series(1, :n) g
    RETURNING id, document
),
points AS (
    INSERT INTO contact_point (tenant_id, id, debtor_id, kind, value, source, quality,
                               created_at, updated_at)
    SELECT :t, regua_uuid7(), new.id, k.kind,
           CASE k.kind WHEN 'email' THEN 'n' || new.document || '@exemplo.com.br'
                       ELSE '+55119' || right(new.document, 8) END,
           'bench', 'unverified', now(), now()
    FROM new CROSS JOIN (VALUES ('email'), ('phone')) AS k(kind)
)
INSERT INTO debt (tenant_id, id, debtor_id, portfolio_id, last_portfolio_id, contract,
                  installment, original_amount, current_balance, due_date, status,
                  created_at, updated_at)
SELECT :t, regua_uuid7(), new.id, :p, :p, 'NV' || new.document, 1, 300, 300, :day, 'open',
       now(), now()
FROM new
"""


async def arrivals(tenant_ids: list[uuid.UUID], per_tenant: int) -> None:
    from sqlalchemy import text

    from core.db import owner_engine
    from core.settings import get_settings

    engine = owner_engine(get_settings())
    async with engine.begin() as conn:
        for tenant_id in tenant_ids:
            await conn.execute(text(ARRIVALS), {"t": tenant_id, "n": per_tenant,
                                                "p": uuid.uuid4(), "day": DAY})
    await engine.dispose()


async def generate(tenant_ids: list[uuid.UUID], debtors: int) -> float:
    from sqlalchemy import text

    from core.db import owner_engine
    from core.settings import get_settings

    started = time.perf_counter()
    engine = owner_engine(get_settings())
    async with engine.begin() as conn:
        for tenant_id in tenant_ids:
            for statement in GENERATE.split(";\n\n"):
                await conn.execute(text(statement), {
                    "t": tenant_id, "debtors": debtors, "p": uuid.uuid4(), "day": DAY})
        for table in ("debtor", "debt", "contact_point", "hold"):
            await conn.execute(text(f"ANALYZE {table}"))
    await engine.dispose()
    return time.perf_counter() - started


async def load_cadences(tenant_ids: list[uuid.UUID]) -> None:
    from core.access import TenantId, transaction
    from core.auth.principal import Principal
    from core.cadence import service
    from core.db import Scope

    for tenant_id in tenant_ids:
        principal = Principal.system(Scope.tenant(tenant_id))
        async with transaction(principal) as session:
            await service.load(session, principal, TenantId(tenant_id), YAML, activate=True)


async def counting_statement(tenant_ids: list[uuid.UUID]) -> tuple[float, int]:
    from sqlalchemy import text

    from core.db import Scope
    from core.runtime import get_db

    started = time.perf_counter()
    async with get_db().transaction(Scope(frozenset(tenant_ids))) as session:
        total, _usable = (await session.execute(text(LIMIT), {
            "d": DAY, "at": dt.datetime.combine(DAY, dt.time(15), tzinfo=dt.UTC)})).one()
    return time.perf_counter() - started, int(total)


async def cadence_run(tenant_ids: list[uuid.UUID]) -> tuple[float, int, int]:
    from core.access import TenantId, transaction
    from core.auth.principal import Principal
    from core.cadence import engine
    from core.db import Scope

    started = time.perf_counter()
    actions = added = 0
    for tenant_id in tenant_ids:
        async with transaction(Principal.system(Scope.tenant(tenant_id))) as session:
            summary = await engine.run(session, TenantId(tenant_id), DAY,
                                       now=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
        actions += summary.actions
        added += summary.added
    return time.perf_counter() - started, actions, added


async def python_loop(tenant_id: uuid.UUID, sample: int) -> tuple[float, int]:
    """Per debt, as a row-at-a-time engine would: read, judge in Python, write."""
    from sqlalchemy import select, text

    from core.access import transaction
    from core.auth.principal import Principal
    from core.collection.workable import DebtFacts, blocker
    from core.db import Scope
    from core.models import CadenceStep, ContactPoint, Debt, Debtor, Hold

    principal = Principal.system(Scope.tenant(tenant_id))
    async with transaction(principal) as session:
        ids = [r[0] for r in await session.execute(text(
            "SELECT id FROM debt WHERE tenant_id = :t ORDER BY id LIMIT :n"),
            {"t": tenant_id, "n": sample})]
        steps = list((await session.execute(select(CadenceStep))).scalars())
    at = dt.datetime.combine(DAY, dt.time(15), tzinfo=dt.UTC)
    kinds = {"email": "email", "letter": "address"}
    started = time.perf_counter()
    triples: set[tuple[uuid.UUID, uuid.UUID, str]] = set()
    async with transaction(principal) as session:
        for debt_id in ids:
            debt = (await session.execute(select(Debt).where(Debt.id == debt_id))).scalar_one()
            debtor = (await session.execute(select(Debtor).where(
                Debtor.id == debt.debtor_id))).scalar_one()
            holds = list((await session.execute(select(Hold).where(
                Hold.debtor_id == debtor.id))).scalars())
            if blocker(DebtFacts(debt.id, debt.status, debt.due_date), holds, at,
                       debtor.timezone) is not None:
                continue
            points = list((await session.execute(select(ContactPoint).where(
                ContactPoint.debtor_id == debtor.id))).scalars())
            for step in steps:
                if (DAY - debt.due_date).days != step.day:
                    continue
                if step.amount_min is not None and debt.current_balance < step.amount_min:
                    continue
                if step.states and debtor.state not in step.states:
                    continue
                for channel in step.channels:
                    kind = kinds.get(channel, "phone")
                    if any(p.kind == kind for p in points):
                        triples.add((debtor.id, step.id, channel))
    return time.perf_counter() - started, len(triples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--debts", type=int, default=1_000_000)
    parser.add_argument("--sample", type=int, default=10_000)
    args = parser.parse_args()
    debtors_per_tenant = int(args.debts * 0.3 / 3)
    out = Path(__file__).parent / "out" / "cadence_bench.json"
    with scratch() as (_, env):
        del env
        tenant_ids = [asyncio.run(create_tenant(f"bench-cadence-{i}")) for i in range(3)]
        generated = asyncio.run(generate(tenant_ids, debtors_per_tenant))
        asyncio.run(load_cadences(tenant_ids))
        from sqlalchemy import create_engine, text

        from core.db import sync_url
        from core.settings import get_settings

        sync = create_engine(sync_url(get_settings().database_url or ""))
        with sync.connect() as conn:
            debts = conn.execute(text("SELECT count(*) FROM debt")).scalar_one()
            open_debts = conn.execute(text(
                "SELECT count(*) FROM debt WHERE status = 'open'")).scalar_one()
            debtors = conn.execute(text("SELECT count(*) FROM debtor")).scalar_one()
        print(f"generated {debts} debts ({open_debts} open) of {debtors} debtors "
              f"in {generated:.1f}s")
        limit_s, triples = asyncio.run(counting_statement(tenant_ids))
        print(f"(a) counting statement: {limit_s:.2f}s, {triples} triples")
        run_s, actions, added = asyncio.run(cadence_run(tenant_ids))
        print(f"(b) cadence run: {run_s:.2f}s, {actions} actions ({added} new)")
        rerun_s, _, readded = asyncio.run(cadence_run(tenant_ids))
        print(f"(c) rerun: {rerun_s:.2f}s, {readded} new")
        asyncio.run(arrivals(tenant_ids, 100))
        changed_s, _, arrived = asyncio.run(cadence_run(tenant_ids))
        print(f"(c') rerun after 300 new debtors due today: {changed_s:.2f}s, {arrived} new")
        loop_s, loop_triples = asyncio.run(python_loop(tenant_ids[0], args.sample))
        per_debt = loop_s / args.sample
        print(f"(d) Python loop: {loop_s:.1f}s for {args.sample} debts "
              f"({loop_triples} triples), {per_debt * 1000:.2f} ms a debt")
        sync.dispose()
        save({
            "debts": debts, "open_debts": open_debts, "debtors": debtors, "tenants": 3,
            "generate_s": round(generated, 1),
            "counting_statement_s": round(limit_s, 2), "triples": triples,
            "cadence_run_s": round(run_s, 2), "actions": actions, "added": added,
            "run_vs_statement": round(run_s / limit_s, 2),
            "rerun_s": round(rerun_s, 2), "rerun_added": readded,
            "rerun_vs_run": round(rerun_s / run_s, 3),
            "rerun_after_change_s": round(changed_s, 2), "rerun_after_change_added": arrived,
            "python_loop_sample": args.sample, "python_loop_s": round(loop_s, 1),
            "python_loop_extrapolated_s": round(per_debt * open_debts, 0),
        }, out)


if __name__ == "__main__":
    main()
