"""The demo's past (`regua up --demo`): about ten months of each demo creditor's life with
the agency, so that its reports (`/relatorios`, `/relatorios/agencia`) open with figures
and curves instead of one placement month and zeros.

Made through the services, at past dates:

- placements: the demo portfolio is sent as the files of five placements through the
  import service, oldest first; right after each import its rows are dated to the day of
  the month the file "arrived" (`_backdate_placement`);
- the most recent agreements (`BY_SERVICE`): simulated, proposed and accepted by the demo
  operator through `legal.agreements` at the negotiation's date (`at`), installments paid
  through `pay_installment` on their dates, the unpaid ones broken by the daily breach
  check; those services stamp acceptance, settlement and breach with the moment they
  run, so the moments are set back to the days they stand for (`_backdate_agreements`);
- payments to the creditor directly: its settlement ("baixa") file through the import
  service (`_settlements`);
- the history's campaign through `dialer.campaigns`.

Written here as rows, set-based or in bulk, because no service records the past or the
service is too slow for the demo's start: the older agreements with their installments,
payments and ledger entries, as the agreement services leave them (`_write_agreements`:
the services take about a tenth of a second each, the demo makes a few hundred); the
cadence's enrolments and the messages it sent on the days it ran (the engine plans and
sends only today; running it for three hundred days would send thousands of sandbox
messages); the dialer's calls and the operator's sessions (the dialer records only calls
it places); the operator's promises (a disposition is dated, but its agenda item opens
now and would wait on today's agenda). These rows follow the figures' definitions
(README, Reports) and are drawn from hashes of each debtor's document or contract, so a
fresh start makes the same history.

Three rewrites need the schema owner, as `portal.demo._analyze` does for its statistics:
a debtor's `created_at`, a ledger entry and a debtor's timeline event are never changed
by the application (append-only for its role), but a placement of March must be dated in
March. They run under the demo tenant's row-level-security setting and touch only its
rows.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import logging
import random
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

from sqlalchemy import Table, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.access import TenantId, transaction
from core.auth.principal import Principal
from core.cadence.engine import POLICY_CTE, enrolment_sql
from core.collection import ledger
from core.compliance.business_days import next_business_day
from core.db import Scope, owner_engine
from core.errors import ValidationFailed
from core.formatting import brl
from core.ids import uuid7
from core.models import Bucket, DebtorEvent, LedgerEntry, Payment
from core.settings import get_settings
from dialer import campaigns
from legal import agreements, simulator
from legal.models import Agreement, AgreementDebt, ApprovalLevel, Installment
from legal.policy import band_for, policy_for

log = logging.getLogger("regua.demo")

HISTORY_MONTHS = 10  # the history spans nine past months and this one
PLACED_MONTHS_BACK = (9, 6, 3, 1)  # the months before this one that placed a file
# Share of the portfolio's contracts (by first due date, oldest first) each file places:
# the first brings the back book, then a steady flow, and today's the newest debts.
FIRST_SHARE = 0.22
CURRENT_SHARE = 0.10
PLACEMENT_TERM_DAYS = 365  # the history's placements run a year: all still in force
HISTORY_CAMPAIGN = "Recuperação da carteira (encerrada)"
# Days from placement to an agreement: most debtors who settle do so in the first months,
# the rest over the following year (the vintage curves keep rising, more slowly).
NEGOTIATION_MEAN_DAYS = (45, 160)
EARLY_SHARE = 0.6
AGREEMENT_SHARE = {"champion": 0.26, "challenger": 0.36}  # eventual share of debtors
# How readily each demo creditor's debtors settle (by its seed): the creditors differ.
PROPENSITY = {1: 1.0, 2: 0.8}
KEEP_VISTA = 0.88  # a one-payment agreement is paid
KEEP_EACH = 0.90  # each installment of a plan is paid, given the ones before were
BY_SERVICE = 3  # the most recent agreements go through the services (see the docstring)


# ---- placements ------------------------------------------------------------------------

def placement_days(today: dt.date) -> list[dt.date]:
    """The day each file arrived: the 5th (or the next weekday) of the months
    `PLACED_MONTHS_BACK`, and today (each import has a fixed cost: a file every month
    would add seconds to the demo's start)."""
    out = []
    month = today.replace(day=1)
    for back in range(1, HISTORY_MONTHS):
        month = (month - dt.timedelta(days=1)).replace(day=1)
        if back in PLACED_MONTHS_BACK:
            out.append(_weekday(month.replace(day=5)))
    return [*reversed(out), today]


def split_by_placement(rows: Sequence[list[str]], files: int) -> list[list[list[str]]]:
    """The rows in `files` groups of whole contracts, by each contract's first due date:
    the oldest `FIRST_SHARE` first, the newest `CURRENT_SHARE` last, the rest evenly."""
    contracts: dict[str, list[list[str]]] = defaultdict(list)
    for row in rows:
        contracts[row[2]].append(row)

    def first_due(group: list[list[str]]) -> dt.date:
        days = []
        for row in group:
            try:
                days.append(dt.datetime.strptime(row[4], "%d/%m/%Y").date())
            except ValueError:
                pass  # the sample's deliberately bad dates
        return min(days, default=dt.date.max)

    ordered = sorted(contracts.values(), key=lambda g: (first_due(g), g[0][2]))
    n = len(ordered)
    cuts = [0, round(n * FIRST_SHARE)]
    middle = n - round(n * CURRENT_SHARE) - cuts[1]
    for k in range(1, files - 1):
        cuts.append(cuts[1] + round(middle * k / (files - 2)))
    cuts.append(n)
    return [[row for group in ordered[a:b] for row in group]
            for a, b in itertools.pairwise(cuts)]


async def place(tenant_id: uuid.UUID, slug: str, rows: Sequence[list[str]],
                write: Callable[[Path, Sequence[list[str]]], None], import_file: Any,
                zone: str) -> None:
    """Import the portfolio as the files of its placements, oldest first, each dated to
    its month."""
    import tempfile

    today = dt.datetime.now(ZoneInfo(zone)).date()
    days = placement_days(today)
    groups = split_by_placement(rows, len(days))
    engine = owner_engine(get_settings())
    try:
        with tempfile.TemporaryDirectory(prefix="regua-demo-") as tmp:
            for day, group in zip(days, groups, strict=True):
                path = Path(tmp) / f"carteira-{slug}-{day:%Y-%m}.csv"
                await asyncio.to_thread(write, path, group)
                portfolio = await import_file(path)
                if day != today:
                    at = dt.datetime.combine(day, dt.time(10, 0), ZoneInfo(zone))
                    await _backdate_placement(tenant_id, portfolio.id, at, engine)
    finally:
        await engine.dispose()


async def _as_owner(tenant_id: uuid.UUID, statements: list[tuple[str, dict[str, Any]]],
                    engine: AsyncEngine | None = None) -> None:
    """Statements as the schema owner, under the tenant's row-level-security setting."""
    own = engine or owner_engine(get_settings())
    try:
        async with own.begin() as conn:
            await conn.execute(text("SELECT set_config('app.tenant_ids', :t, true),"
                                    " set_config('app.agency', 'off', true)"),
                               {"t": "{" + str(tenant_id) + "}"})
            for sql, params in statements:
                await conn.execute(text(sql), {"t": tenant_id, **params})
    finally:
        if engine is None:
            await own.dispose()


async def analyze(*tables: str) -> None:
    """Fresh statistics for tables just filled in bulk, before the next statement plans
    a join over them (see `portal.demo._analyze`)."""
    engine = owner_engine(get_settings())
    try:
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            for table in tables:
                await conn.execute(text(f"ANALYZE {table}"))
    finally:
        await engine.dispose()


async def _backdate_placement(tenant_id: uuid.UUID, portfolio_id: uuid.UUID,
                              at: dt.datetime, engine: AsyncEngine) -> None:
    """Date a portfolio's import, its debts, the debtors it brought and their placement
    entries to `at`; its placement term runs a year from then."""
    params = {"p": portfolio_id, "at": at, "day": at.date(),
              "until": at.date() + dt.timedelta(days=PLACEMENT_TERM_DAYS)}
    await _as_owner(tenant_id, [(sql, params) for sql in (
        """UPDATE portfolio SET created_at = CAST(:at AS timestamptz),
               started_at = CAST(:at AS timestamptz),
               finished_at = CAST(:at AS timestamptz) + interval '40 seconds',
               placement_days = 365, placed_until = :until
           WHERE tenant_id = :t AND id = :p""",
        """UPDATE debt SET created_at = :at, updated_at = :at, placed_until = :until
           WHERE tenant_id = :t AND portfolio_id = :p""",
        """UPDATE debtor SET created_at = :at, updated_at = :at
           WHERE tenant_id = :t AND first_portfolio_id = :p""",
        """UPDATE contact_point c SET created_at = :at, updated_at = :at FROM debtor d
           WHERE c.tenant_id = :t AND d.tenant_id = :t AND d.id = c.debtor_id
             AND d.first_portfolio_id = :p""",
        """UPDATE ledger_entry SET posted_on = :day
           WHERE tenant_id = :t AND source = 'portfolio' AND source_id = :p""",
    )], engine)


# ---- the rows no service writes --------------------------------------------------------

def _rand(key: str, salt: str) -> str:
    """A number in [0, 1) drawn from `key` (SQL text), the same on every run."""
    return f"(('x' || substr(md5('{salt}:' || {key}), 1, 7))::bit(28)::int / 268435456.0)"


# Each debtor placed before this month follows a cadence from the morning after its
# placement, on the side the engine would give it (the same expression).
ENROL = f"""
WITH {POLICY_CTE.strip()}
INSERT INTO cadence_enrolment (tenant_id, id, debtor_id, version_id, arm, enrolled_at)
SELECT :t, regua_uuid7(), d.id, {enrolment_sql("d.id")}, d.created_at + interval '1 day'
FROM debtor d CROSS JOIN pol
WHERE d.tenant_id = :t AND d.created_at < :month_start AND pol.champion_v IS NOT NULL
  AND NOT EXISTS (SELECT 1 FROM cadence_enrolment e
                  WHERE e.tenant_id = :t AND e.debtor_id = d.id)
ON CONFLICT DO NOTHING"""

# The written steps each enrolled debtor reached before today, from its placement on:
# one action per debtor, step and day (the debts it reached listed), with what became of
# the message, and the attempt on the debtor's timeline. A debtor whose debts were all
# settled before the day gets nothing.
_STATE = _rand("b.document || r.day::text || r.channel", "msg")
MESSAGES = f"""
WITH reached AS (
    SELECT x.debtor_id, s.id AS step_id, s.version_id, s.day AS step_day, ch AS channel,
           coalesce(s.templates ->> ch, 'padrao') AS template, e.arm,
           x.due_date + s.day AS day, array_agg(x.id ORDER BY x.id) AS debt_ids
    FROM debt x
    JOIN cadence_enrolment e ON e.tenant_id = x.tenant_id AND e.debtor_id = x.debtor_id
    JOIN cadence_step s ON s.tenant_id = x.tenant_id AND s.version_id = e.version_id
    CROSS JOIN LATERAL unnest(s.channels) ch
    LEFT JOIN debtor_score sc ON sc.tenant_id = x.tenant_id AND sc.debtor_id = x.debtor_id
    WHERE x.tenant_id = :t AND ch IN ('email', 'sms', 'whatsapp')
      AND x.due_date + s.day >= (x.created_at AT TIME ZONE :tz)::date
      AND x.due_date + s.day >= (e.enrolled_at AT TIME ZONE :tz)::date
      AND x.due_date + s.day < :today
      AND (x.closed_at IS NULL OR x.due_date + s.day < (x.closed_at AT TIME ZONE :tz)::date)
      AND (s.score_min IS NULL OR sc.score >= s.score_min)
      AND (s.score_max IS NULL OR sc.score <= s.score_max)
    GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
), drawn AS (
    SELECT r.*, regua_uuid7() AS id, regua_uuid7() AS interaction_id, {_STATE} AS u,
           (r.day + time '09:00' + (({_STATE} * 7200)::int * interval '1 second'))
               AT TIME ZONE :tz AS at
    FROM reached r JOIN debtor b ON b.tenant_id = :t AND b.id = r.debtor_id
), stated AS (
    SELECT d.*, CASE d.channel
        WHEN 'email' THEN CASE WHEN u < 0.05 THEN 'failed' WHEN u < 0.55 THEN 'sent'
                               WHEN u < 0.80 THEN 'delivered' ELSE 'read' END
        WHEN 'sms' THEN CASE WHEN u < 0.07 THEN 'failed' WHEN u < 0.15 THEN 'sent'
                             ELSE 'delivered' END
        ELSE CASE WHEN u < 0.05 THEN 'failed' WHEN u < 0.12 THEN 'blocked'
                  WHEN u < 0.22 THEN 'sent' WHEN u < 0.45 THEN 'delivered'
                  ELSE 'read' END END AS state
    FROM drawn d
), interactions AS (
    INSERT INTO interaction (tenant_id, id, debtor_id, channel, direction, outcome,
                             started_at, ended_at, process, cause_kind, cause_id, details,
                             created_at)
    SELECT :t, interaction_id, debtor_id, channel, 'outbound', state, at, at, 'cadence',
           'cadence_step', id, jsonb_build_object('step_day', step_day, 'history', true), at
    FROM stated
)
INSERT INTO cadence_action (tenant_id, id, day, debtor_id, step_id, version_id, step_day,
                            step_channel, channel, template, arm, debt_ids, state,
                            send_after, interaction_id, created_at, updated_at)
SELECT :t, id, day, debtor_id, step_id, version_id, step_day, channel, channel, template,
       arm, debt_ids, state, at, interaction_id, at, at
FROM stated"""

# The history campaign's calls: up to five attempts for three in four debtors placed before
# this month, from a month after their placement, on the campaign's weekly day (the
# operator worked it on Wednesday mornings). Who answered was bridged to the operator (or
# abandoned); each attempt is on the debtor's timeline.
_CALL = _rand("b.document || n::text", "call")
CALLS = f"""
WITH picked AS (
    SELECT b.id AS debtor_id, b.document, cp.id AS phone, cp.value AS number, n,
           greatest((b.created_at AT TIME ZONE :tz)::date + 30 + n * 9
                    + (({_CALL}) * 20)::int, :first_day) AS day, {_CALL} AS u,
           {_rand("b.document || n::text", "outcome")} AS v
    FROM debtor b
    JOIN LATERAL (SELECT id, value FROM contact_point c
                  WHERE c.tenant_id = b.tenant_id AND c.debtor_id = b.id
                    AND c.kind = 'phone' ORDER BY c.created_at, c.id LIMIT 1) cp ON TRUE
    CROSS JOIN generate_series(0, 4) n
    WHERE b.tenant_id = :t AND b.created_at < :month_start
      AND {_rand("b.document", "dialed")} < 0.75 - 0.12 * n
), dated AS (
    SELECT p.*, p.day + ((10 - extract(isodow FROM p.day)::int) % 7) AS weekday
    FROM picked p
), calls AS (
    SELECT d.*, regua_uuid7() AS id, regua_uuid7() AS interaction_id,
           (d.weekday + time '09:00' + ((d.u * 3 * 3600)::int * interval '1 second'))
               AT TIME ZONE :tz AS dialed_at,
           CASE WHEN v < 0.27 THEN 'answered' WHEN v < 0.274 THEN 'abandoned'
                WHEN v < 0.72 THEN 'no_answer' WHEN v < 0.87 THEN 'busy'
                WHEN v < 0.93 THEN 'invalid' ELSE 'failed' END AS outcome,
           (45 + d.u * 2000)::int % 420 + 40 AS talk
    FROM dated d WHERE d.weekday < :today
), interactions AS (
    INSERT INTO interaction (tenant_id, id, debtor_id, channel, direction, contact_point_id,
                             outcome, started_at, answered_at, ended_at, user_id, process,
                             cause_kind, cause_id, details, created_at)
    SELECT :t, interaction_id, debtor_id, 'call', 'outbound', phone,
           CASE outcome WHEN 'abandoned' THEN 'answered' WHEN 'invalid' THEN 'invalid'
                        WHEN 'failed' THEN 'failed' ELSE outcome END,
           dialed_at, CASE WHEN outcome IN ('answered', 'abandoned')
                           THEN dialed_at + interval '8 seconds' END,
           dialed_at + CASE WHEN outcome = 'answered' THEN (talk + 8) * interval '1 second'
                            ELSE interval '25 seconds' END,
           CASE WHEN outcome = 'answered' THEN CAST(:operator AS uuid) END, 'dialer', 'campaign',
           :campaign, jsonb_build_object('call_record_id', id, 'dial_outcome', outcome,
                                         'number', number, 'history', true), dialed_at
    FROM calls
)
INSERT INTO call_record (tenant_id, id, campaign_id, debtor_id, contact_point_id, number,
                         dialed_at, ringing_at, answered_at, bridged_at, ended_at, sip_code,
                         outcome, agent_user_id, answer_to_bridge_ms, dialer_id, worker_id,
                         interaction_id)
SELECT :t, id, :campaign, debtor_id, phone, number, dialed_at,
       dialed_at + interval '1 second',
       CASE WHEN outcome IN ('answered', 'abandoned') THEN dialed_at + interval '8 seconds' END,
       CASE WHEN outcome = 'answered' THEN dialed_at + interval '9 seconds' END,
       dialed_at + CASE WHEN outcome = 'answered' THEN (talk + 9) * interval '1 second'
                        ELSE interval '25 seconds' END,
       CASE outcome WHEN 'answered' THEN 200 WHEN 'abandoned' THEN 200 WHEN 'busy' THEN 486
                    WHEN 'no_answer' THEN 408 WHEN 'invalid' THEN 404 ELSE 503 END,
       outcome, CASE WHEN outcome = 'answered' THEN CAST(:operator AS uuid) END,
       CASE WHEN outcome = 'answered' THEN 900 END, 'historico', 0, interaction_id
FROM calls"""

# The operator's sessions on the days the history campaign called: logged in from the
# first call of the day to the last, plus a quarter of an hour either side.
SESSIONS = """
INSERT INTO agent_session (tenant_id, id, user_id, campaign_ids, sip_uri, state, state_since,
                           logged_in_at, logged_out_at)
SELECT :t, regua_uuid7(), :operator, jsonb_build_array(CAST(:campaign_text AS text)),
       'sip:operador@127.0.0.1', 'logged_out', max(ended_at) + interval '15 minutes',
       min(dialed_at) - interval '15 minutes', max(ended_at) + interval '15 minutes'
FROM call_record
WHERE tenant_id = :t AND campaign_id = :campaign
GROUP BY (dialed_at AT TIME ZONE :tz)::date"""

# Promises the operator took on answered history calls: some debtors with an agreement
# promised its first installment a few days before paying it (kept); some answered
# debtors without one promised and never paid (broken). Closed long ago, so they are off
# today's agenda.
PROMISES = f"""
WITH kept AS (
    SELECT a.debtor_id, i.amount, i.due_date AS promised_on,
           a.accepted_at - interval '2 days' AS at
    FROM agreement a JOIN installment i ON i.tenant_id = a.tenant_id
                                        AND i.agreement_id = a.id AND i.number = 1
    JOIN debtor b ON b.tenant_id = a.tenant_id AND b.id = a.debtor_id
    WHERE a.tenant_id = :t AND i.status = 'paid' AND a.accepted_at < :month_start
      AND {_rand("b.document", "promise")} < 0.35
), broken AS (
    SELECT DISTINCT ON (cr.debtor_id) cr.debtor_id,
           round((80 + {_rand("b.document", "amount")} * 600)::numeric, 2) AS amount,
           (cr.dialed_at AT TIME ZONE :tz)::date + 7 AS promised_on, cr.ended_at AS at
    FROM call_record cr JOIN debtor b ON b.tenant_id = cr.tenant_id AND b.id = cr.debtor_id
    WHERE cr.tenant_id = :t AND cr.campaign_id = :campaign AND cr.outcome = 'answered'
      AND cr.dialed_at < CAST(:today_ts AS timestamptz) - interval '10 days'
      AND NOT EXISTS (SELECT 1 FROM agreement a WHERE a.tenant_id = :t
                      AND a.debtor_id = cr.debtor_id)
      AND {_rand("b.document", "promise")} < 0.30
    ORDER BY cr.debtor_id, cr.dialed_at
), made AS (
    SELECT * FROM kept UNION ALL SELECT * FROM broken
)
INSERT INTO agenda_item (tenant_id, id, debtor_id, kind, due_at, state, amount, promised_on,
                         disposition, created_by, created_at, closed_at)
SELECT :t, regua_uuid7(), debtor_id, 'promise',
       (promised_on + 3 + time '09:00') AT TIME ZONE :tz, 'done', amount, promised_on,
       'promise', :operator, at, (promised_on + 3 + time '09:00') AT TIME ZONE :tz
FROM made"""


# ---- agreements --------------------------------------------------------------------------

async def _negotiable(system: Principal, tenant_id: uuid.UUID, zone: str, today: dt.date
                      ) -> list[tuple[uuid.UUID, str, dt.date, str]]:
    """(debtor, document, placement day, side) of the debtors placed before this month,
    with no escalation, no cadence action today and no agreement, by document."""
    async with transaction(system) as session:
        rows = await session.execute(text("""
            SELECT b.id, b.document, (b.created_at AT TIME ZONE :tz)::date AS placed, e.arm
            FROM debtor b JOIN cadence_enrolment e ON e.tenant_id = b.tenant_id
                                                  AND e.debtor_id = b.id
            WHERE b.tenant_id = :t AND b.created_at < :month_start
              AND EXISTS (SELECT 1 FROM debt x WHERE x.tenant_id = :t
                          AND x.debtor_id = b.id AND x.status = 'open')
              AND NOT EXISTS (SELECT 1 FROM escalation s JOIN debt x
                              ON x.tenant_id = s.tenant_id AND x.id = s.debt_id
                              WHERE s.tenant_id = :t AND x.debtor_id = b.id)
              AND NOT EXISTS (SELECT 1 FROM cadence_action c WHERE c.tenant_id = :t
                              AND c.debtor_id = b.id AND c.day = :today)
              AND NOT EXISTS (SELECT 1 FROM agreement a WHERE a.tenant_id = :t
                              AND a.debtor_id = b.id)
            ORDER BY b.document"""),
            {"t": tenant_id, "tz": zone, "today": today,
             "month_start": dt.datetime.combine(today.replace(day=1), dt.time(),
                                                ZoneInfo(zone))})
        return [(r.id, r.document, r.placed, r.arm) for r in rows]


def _weekday(day: dt.date) -> dt.date:
    while day.weekday() >= 5:
        day += dt.timedelta(days=1)
    return day


async def _agreements(tenant_id: uuid.UUID, operator: Principal, seed: int, zone: str,
                      today: dt.date) -> dict[str, int]:
    """The operator's agreements at past dates, paid or broken as drawn: the most recent
    `BY_SERVICE` through the services, the rest written in bulk (`_write_agreements`)."""
    system = Principal.system(Scope.tenant(tenant_id))
    rng = random.Random(seed * 7919)  # noqa: S311 - demo data, not secrets
    drawn: list[tuple[uuid.UUID, dt.date, random.Random]] = []
    for debtor_id, document, placed, arm in await _negotiable(system, tenant_id, zone, today):
        mean = NEGOTIATION_MEAN_DAYS[0 if rng.random() < EARLY_SHARE else 1]
        gap = 4 + int(rng.expovariate(1 / mean))
        day = _weekday(placed + dt.timedelta(days=gap))
        share = AGREEMENT_SHARE.get(arm, 0.3) * PROPENSITY.get(seed, 1.0)
        if rng.random() < share and day < today - dt.timedelta(days=2):
            # Each agreement draws from its own generator: the same fate on every run.
            drawn.append((debtor_id, day, random.Random(f"{seed}:{document}")))  # noqa: S311
    drawn.sort(key=lambda d: d[1])
    recent = drawn[-BY_SERVICE:]
    counts: dict[str, int] = defaultdict(int)
    counts["made"] = await _write_agreements(tenant_id, operator, drawn[:-BY_SERVICE], zone,
                                             today)
    dated: dict[uuid.UUID, dt.datetime] = {}
    for debtor_id, day, own in recent:
        made = await _by_service(operator, debtor_id, day, own, today)
        if made is not None:
            dated[made] = dt.datetime.combine(
                day, dt.time(10 + own.randint(0, 6), own.randint(0, 59)), ZoneInfo(zone))
    counts["made"] += len(dated)
    counts["broken_now"] = len(await agreements.break_overdue(tenant_id, today))
    await _backdate_agreements(tenant_id, dated, zone)
    return dict(counts)


async def _by_service(operator: Principal, debtor_id: uuid.UUID, day: dt.date,
                      rng: random.Random, today: dt.date) -> uuid.UUID | None:
    """One agreement as the operator makes it on the negotiation screen, accepted on the
    call; its installments paid on their dates as drawn."""
    try:
        options = (await simulator.simulate(operator, debtor_id, at=day)).options
    except ValidationFailed:
        return None
    mine = [o for o in options if o.approval is ApprovalLevel.AGENT]
    if not mine:
        return None
    vista = [o for o in mine if o.installments == 1]
    plans = [o for o in mine if o.installments > 1]
    option = vista[0] if vista and (not plans or rng.random() < 0.45) else rng.choice(plans)
    made = await agreements.create(operator, debtor_id, option.option, at=day)
    await agreements.accept_by_agent(operator, made.agreement_id,
                                     f"{day:%Y%m%d}-{debtor_id.hex[:8]}")
    keep = KEEP_VISTA if option.installments == 1 else KEEP_EACH
    async with transaction(operator) as session:
        due = list((await session.execute(select(Installment).where(
            Installment.agreement_id == made.agreement_id)
            .order_by(Installment.number))).scalars())
        for inst in due:
            if inst.due_date >= today or rng.random() >= keep:
                break
            paid_on = max(day, inst.due_date - dt.timedelta(days=rng.randint(0, 2)))
            await agreements.pay_installment(session, operator, inst.id, inst.amount,
                                             paid_on, reference=f"pix:{inst.id.hex[:12]}")
    return made.agreement_id


# ---- the older agreements, in bulk -------------------------------------------------------

MONTHLY_INTEREST = Decimal("0.01")  # the policy's default contract interest, simple
LATE_FEE = Decimal("0.02")
AGENT_DISCOUNT = Decimal("0.30")  # the operator's authority (policy default)
CENT = Decimal("0.01")


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT)


@dataclass
class _Book:
    """The rows of the bulk agreements, inserted table by table at the end."""

    agreements: list[dict[str, Any]] = field(default_factory=list)
    agreement_debts: list[dict[str, Any]] = field(default_factory=list)
    installments: list[dict[str, Any]] = field(default_factory=list)
    payments: list[dict[str, Any]] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)
    debts: dict[uuid.UUID, tuple[str, str, dt.datetime | None]] = field(default_factory=dict)

    def entry(self, tenant_id: uuid.UUID, debt_id: uuid.UUID, day: dt.date, bucket: str,
              kind: str, amount: Decimal, source: str, source_id: uuid.UUID,
              note: str | None, by: uuid.UUID | None) -> None:
        if amount:
            self.entries.append({
                "tenant_id": tenant_id, "id": uuid7(), "debt_id": debt_id, "posted_on": day,
                "bucket": bucket, "kind": kind, "amount": amount, "source": source,
                "source_id": source_id, "note": note, "created_by": by})

    def event(self, tenant_id: uuid.UUID, agreement: dict[str, Any], at: dt.datetime,
              what: str, title: str, amount: Decimal, detail: str | None = None,
              by_label: str | None = None, user: uuid.UUID | None = None) -> None:
        self.events.append({
            "tenant_id": tenant_id, "id": uuid7(), "debtor_id": agreement["debtor_id"],
            "at": at, "kind": f"agreement.{what}", "title": title, "detail": detail,
            "amount": amount, "user_id": user, "by_label": by_label,
            "source_id": agreement["id"], "link": f"/acordos/{agreement['id']}"})


async def _write_agreements(tenant_id: uuid.UUID, operator: Principal,
                            drawn: list[tuple[uuid.UUID, dt.date, random.Random]], zone: str,
                            today: dt.date) -> int:
    """Agreements of the months before, written as the services would have left them:
    the charges accrued to the negotiation's day (the policy's default interest and late
    fee), the discount of the policy's band for the days overdue (within the operator's
    authority), one payment or a down payment and equal monthly installments, each paid
    or not as drawn (a break revokes the unpaid share of the discount, the policy's
    default), the payments on the debts in the agreement, the debts' states, and the
    steps on the debtor's timeline. The services take a tenth of a second each; the
    demo makes a few hundred of these."""
    if not drawn:
        return 0
    tz = ZoneInfo(zone)
    book = _Book()
    by = operator.user_id
    async with transaction(Principal.system(Scope.tenant(tenant_id))) as session:
        policy = await policy_for(session, tenant_id)
        state = (await session.execute(text("SELECT state FROM tenant WHERE id = :t"),
                                       {"t": tenant_id})).scalar_one()
        rows = await session.execute(text("""
            SELECT x.id, x.debtor_id, x.due_date, x.current_balance, x.contract, x.installment
            FROM debt x WHERE x.tenant_id = :t AND x.status = 'open'
              AND x.debtor_id = ANY(:ids)
            ORDER BY x.debtor_id, x.due_date, x.contract, x.installment"""),
            {"t": tenant_id, "ids": [d for d, _, _ in drawn]})
        debts: dict[uuid.UUID, list[Any]] = defaultdict(list)
        for row in rows:
            debts[row.debtor_id].append(row)
        for debtor_id, day, rng in drawn:
            owed = [d for d in debts.get(debtor_id, []) if d.current_balance > 0]
            if owed:
                _one_agreement(book, tenant_id, by, debtor_id, day, rng, owed, policy, state,
                               tz, today)
        for model, rows_of in ((Agreement, book.agreements),
                               (AgreementDebt, book.agreement_debts),
                               (Installment, book.installments), (Payment, book.payments),
                               (LedgerEntry, book.entries), (DebtorEvent, book.events)):
            if rows_of:  # Core's executemany: the ORM's bulk path is several times slower
                await session.execute(insert(cast(Table, model.__table__)), rows_of)
        ids = list(book.debts)
        await session.execute(text("""
            UPDATE debt x SET status = v.status, status_reason = v.reason,
                closed_at = v.closed_at, updated_at = coalesce(v.closed_at, x.updated_at),
                current_balance = x.current_balance + coalesce((
                    SELECT sum(e.amount) FROM ledger_entry e
                    WHERE e.tenant_id = x.tenant_id AND e.debt_id = x.id
                      AND e.source IN ('agreement', 'payment')), 0)
            FROM unnest(CAST(:ids AS uuid[]), CAST(:states AS text[]), CAST(:reasons AS text[]),
                        CAST(:closed AS timestamptz[])) v(id, status, reason, closed_at)
            WHERE x.tenant_id = :t AND x.id = v.id"""),
            {"t": tenant_id, "ids": ids, "states": [book.debts[i][0] for i in ids],
             "reasons": [book.debts[i][1] for i in ids],
             "closed": [book.debts[i][2] for i in ids]})
    return len(book.agreements)


def _one_agreement(book: _Book, tenant_id: uuid.UUID, by: uuid.UUID | None,
                   debtor_id: uuid.UUID, day: dt.date, rng: random.Random, owed: list[Any],
                   policy: Any, state: str | None, tz: ZoneInfo, today: dt.date) -> None:
    at = dt.datetime.combine(day, dt.time(10 + rng.randint(0, 6), rng.randint(0, 59)), tz)
    agreement_id = uuid7()
    lines = []
    for d in owed:
        late = max((day - d.due_date).days, 0)
        buckets = {"principal": d.current_balance, "correction": Decimal(0),
                   "interest": _money(d.current_balance * MONTHLY_INTEREST * late / 30),
                   "fine": _money(d.current_balance * LATE_FEE) if late else Decimal(0),
                   "fees": Decimal(0)}
        band = band_for(policy, late)
        off = {b: _money(v * Decimal(str(band.get(b, "0"))) / 100) for b, v in buckets.items()}
        lines.append((d, buckets, off))
    updated = sum((sum(b.values(), Decimal(0)) for _, b, _ in lines), Decimal(0))
    discount = sum((sum(o.values(), Decimal(0)) for _, _, o in lines), Decimal(0))
    if discount > updated * AGENT_DISCOUNT:  # within the operator's authority
        scale = updated * AGENT_DISCOUNT / discount
        lines = [(d, b, {k: _money(v * scale) for k, v in o.items()}) for d, b, o in lines]
        discount = sum((sum(o.values(), Decimal(0)) for _, _, o in lines), Decimal(0))
    total = updated - discount
    count = 1 if rng.random() < 0.45 else rng.choice((3, 6))
    share = _money(total / count)
    amounts = [share] * (count - 1) + [total - share * (count - 1)]
    first = next_business_day(day + dt.timedelta(days=3), state)
    dues = [first] + [next_business_day(simulator.add_months(first, k, first.day), state)
                      for k in range(1, count)]
    agreement: dict[str, Any] = {
        "tenant_id": tenant_id, "id": agreement_id, "debtor_id": debtor_id,
        "status": "active", "reference_date": day,
        "terms": (f"TERMO DE ACORDO EXTRAJUDICIAL\n\nAcordo de {simulator.plan_words(count)}"
                  f" sobre {len(owed)} título(s), saldo atualizado {brl(updated)}, desconto"
                  f" {brl(discount)}, total {brl(total)}, aceito na ligação gravada.\n"),
        "calculation": {"debts": [], "option": {"label": simulator.plan_words(count)},
                        "notes": ["histórico da demonstração"], "interest_by_debt": {}},
        "option_label": simulator.plan_words(count).capitalize(), "updated_balance": updated,
        "discount_total": discount, "installment_interest": Decimal(0), "total": total,
        "down_payment": amounts[0], "installment_count": count,
        "installment_amount": amounts[-1], "approval_level": "agent",
        "accepted_via": "agent", "accepted_at": at + dt.timedelta(minutes=20),
        "accepted_by": by, "call_recording_ref": f"{day:%Y%m%d}-{debtor_id.hex[:8]}",
        "created_by": by, "created_at": at, "updated_at": at + dt.timedelta(minutes=20),
        "settled_at": None, "broken_at": None, "broken_reason": None}
    book.agreements.append(agreement)
    book.event(tenant_id, agreement, at, "proposed", "Proposta de acordo",
               amount=total, detail=agreement["option_label"], user=by)
    book.event(tenant_id, agreement, at + dt.timedelta(minutes=20), "accepted",
               "Aceite do acordo", amount=total,
               detail=f"na ligação, gravação {agreement['call_recording_ref']}", user=by)
    left = {d.id: dict(b) for d, b, _ in lines}
    for d, b, o in lines:
        book.agreement_debts.append({
            "tenant_id": tenant_id, "id": uuid7(), "agreement_id": agreement_id,
            "debt_id": d.id, **b, **{f"discount_{k}": v for k, v in o.items()}})
        for bucket in ("interest", "fine"):
            book.entry(tenant_id, d.id, day, bucket, "accrual", b[bucket], "agreement",
                       agreement_id, f"acordo {agreement['option_label']}", by)
        for bucket, value in o.items():
            book.entry(tenant_id, d.id, day, bucket, "discount", -value, "agreement",
                       agreement_id, f"acordo {agreement['option_label']}", by)
            left[d.id][bucket] -= value
    keep = KEEP_VISTA if count == 1 else KEEP_EACH
    paid = Decimal(0)
    last_paid: dt.datetime | None = None
    broken_on: dt.date | None = None
    tolerance = dt.timedelta(days=policy.breach_tolerance_days)
    for number, (due, amount) in enumerate(zip(dues, amounts, strict=True), start=1):
        row = {"tenant_id": tenant_id, "id": uuid7(), "agreement_id": agreement_id,
               "number": number, "due_date": due, "amount": amount, "status": "open",
               "paid_at": None, "paid_amount": None, "created_at": at, "updated_at": at}
        book.installments.append(row)
        if broken_on is not None:
            row["status"] = "cancelled"
        elif due < today and rng.random() < keep:
            paid_on = max(day, due - dt.timedelta(days=rng.randint(0, 2)))
            last_paid = dt.datetime.combine(paid_on, dt.time(12), dt.UTC)
            row.update(status="paid", paid_at=last_paid, paid_amount=amount,
                       updated_at=last_paid)
            _pay(book, tenant_id, by, agreement_id, lines, left, amount, paid_on)
            paid += amount
            book.event(tenant_id, agreement, last_paid, "installment_paid",
                       f"Pagamento da parcela {number} de {count} do acordo", amount=amount,
                       detail=f"pago em {paid_on:%d/%m/%Y}",
                       by_label="pagamento recebido (PIX ou boleto)")
        elif due + tolerance < today:
            broken_on = due + tolerance + dt.timedelta(days=1)
            row["status"] = "cancelled"
        elif due < today:
            row["status"] = "overdue"
    status, reason, closed = "in_agreement", f"acordo {agreement_id}", None
    if broken_on is not None:
        broken_at = dt.datetime.combine(broken_on, dt.time(7), tz)
        unpaid = total - paid
        factor = unpaid / total
        for d, _, o in lines:
            for bucket, value in o.items():
                book.entry(tenant_id, d.id, broken_on, bucket, "discount",
                           _money(value * factor), "agreement", agreement_id,
                           "quebra do acordo: desconto revogado", None)
        agreement.update(status="broken", broken_at=broken_at, updated_at=broken_at,
                         broken_reason="parcela não paga até"
                                       f" {policy.breach_tolerance_days} dias após o vencimento")
        book.event(tenant_id, agreement, broken_at, "broken", "Quebra do acordo",
                   amount=unpaid, detail="o saldo não pago volta à cobrança",
                   by_label="verificação diária dos acordos")
        status, reason = "open", f"acordo {agreement_id} quebrado"
    elif paid == total and last_paid is not None:
        agreement.update(status="settled", settled_at=last_paid, updated_at=last_paid)
        book.event(tenant_id, agreement, last_paid, "settled", "Quitação do acordo",
                   amount=total, detail="todas as parcelas pagas; títulos quitados",
                   by_label="pagamento recebido (PIX ou boleto)")
        status, reason, closed = "paid", f"acordo {agreement_id} quitado", last_paid
    for d, _, _ in lines:
        book.debts[d.id] = (status, reason, closed)


def _pay(book: _Book, tenant_id: uuid.UUID, by: uuid.UUID | None, agreement_id: uuid.UUID,
         lines: list[Any], left: dict[uuid.UUID, dict[str, Decimal]], amount: Decimal,
         paid_on: dt.date) -> None:
    """One installment paid: split among the debts by what each still owes, each part
    allocated to its buckets (charges first), as `pay_installment` does."""
    owed = [(d.id, sum(left[d.id].values(), Decimal(0))) for d, _, _ in lines]
    base = sum((o for _, o in owed if o > 0), Decimal(0))
    rest = amount
    for i, (debt_id, owe) in enumerate(owed):
        if owe <= 0 and i < len(owed) - 1:
            continue
        part = rest if i == len(owed) - 1 else min(_money(amount * owe / base), rest)
        if part <= 0:
            continue
        rest -= part
        payment_id = uuid7()
        debtor_id = next(d.debtor_id for d, _, _ in lines if d.id == debt_id)
        book.payments.append({
            "tenant_id": tenant_id, "id": payment_id, "debt_id": debt_id,
            "debtor_id": debtor_id, "amount": part, "paid_on": paid_on, "source": "agency",
            "reference": f"pix:{payment_id.hex[:12]}", "recorded_by": by})
        for bucket, value in ledger.allocate(
                {Bucket(k): v for k, v in left[debt_id].items()}, part).items():
            book.entry(tenant_id, debt_id, paid_on, bucket.value, "payment", -value,
                       "payment", payment_id, None, by)
            left[debt_id][bucket.value] -= value


async def _backdate_agreements(tenant_id: uuid.UUID, dated: dict[uuid.UUID, dt.datetime],
                               zone: str) -> None:
    """Date each agreement's steps to the days they stand for: proposed and accepted on
    the negotiation's day, settled on its last payment, broken the day after the
    tolerance of its first unpaid installment ran out."""
    if not dated:
        return
    system = Principal.system(Scope.tenant(tenant_id))
    ids = list(dated)
    async with transaction(system) as session:
        await session.execute(text("""
            UPDATE agreement a SET created_at = v.at, accepted_at = v.at + interval '20 minutes',
                approved_at = CASE WHEN a.approved_at IS NOT NULL THEN v.at END,
                updated_at = v.at + interval '20 minutes'
            FROM unnest(CAST(:ids AS uuid[]), CAST(:ats AS timestamptz[])) v(id, at)
            WHERE a.tenant_id = :t AND a.id = v.id"""),
            {"t": tenant_id, "ids": ids, "ats": [dated[i] for i in ids]})
        await session.execute(text("""
            UPDATE agreement a SET settled_at = p.last, updated_at = p.last
            FROM (SELECT agreement_id, max(paid_at) AS last FROM installment
                  WHERE tenant_id = :t GROUP BY agreement_id) p
            WHERE a.tenant_id = :t AND a.id = p.agreement_id AND a.status = 'settled'
              AND a.id = ANY(:ids)"""), {"t": tenant_id, "ids": ids})
        await session.execute(text("""
            UPDATE agreement a SET broken_at = b.at, updated_at = b.at
            FROM (SELECT i.agreement_id,
                         (min(i.due_date) + pol.tolerance + 1 + time '07:00')
                             AT TIME ZONE :tz AS at
                  FROM installment i CROSS JOIN (
                      SELECT coalesce((SELECT breach_tolerance_days FROM negotiation_policy
                                       WHERE tenant_id = :t), 5) AS tolerance) pol
                  WHERE i.tenant_id = :t AND i.status = 'cancelled'
                  GROUP BY i.agreement_id, pol.tolerance) b
            WHERE a.tenant_id = :t AND a.id = b.agreement_id AND a.status = 'broken'
              AND a.id = ANY(:ids)"""), {"t": tenant_id, "ids": ids, "tz": zone})
        await session.execute(text("""
            UPDATE debt x SET closed_at = a.settled_at, updated_at = a.settled_at
            FROM agreement_debt ad JOIN agreement a ON a.tenant_id = ad.tenant_id
                                                   AND a.id = ad.agreement_id
            WHERE x.tenant_id = :t AND ad.tenant_id = :t AND x.id = ad.debt_id
              AND a.status = 'settled' AND a.id = ANY(:ids)"""), {"t": tenant_id, "ids": ids})
    # The debtor's timeline tells each step on its day, and a breach's ledger entries
    # carry the breach's day, not the check's (both append-only for the application).
    await _as_owner(tenant_id, [(sql, {"ids": ids, "tz": zone}) for sql in (
        """UPDATE debtor_event e SET at = CASE e.kind
                   WHEN 'agreement.proposed' THEN a.created_at
                   WHEN 'agreement.accepted' THEN a.accepted_at
                   WHEN 'agreement.settled' THEN a.settled_at
                   WHEN 'agreement.broken' THEN a.broken_at
                   ELSE e.at END
           FROM agreement a
           WHERE e.tenant_id = :t AND a.tenant_id = :t AND e.source_id = a.id
             AND a.id = ANY(:ids)""",
        """UPDATE debtor_event e SET at = i.paid_at
           FROM installment i
           WHERE e.tenant_id = :t AND i.tenant_id = :t AND e.source_id = i.agreement_id
             AND e.kind = 'agreement.installment_paid' AND i.paid_at IS NOT NULL
             AND e.title LIKE 'Pagamento da parcela ' || i.number || ' de %'
             AND i.agreement_id = ANY(:ids)""",
        """UPDATE ledger_entry l SET posted_on = (a.broken_at AT TIME ZONE :tz)::date
           FROM agreement a
           WHERE l.tenant_id = :t AND a.tenant_id = :t AND l.source = 'agreement'
             AND l.source_id = a.id AND a.status = 'broken' AND a.id = ANY(:ids)
             AND l.note LIKE 'quebra%'""")])


# ---- payments made to the creditor directly --------------------------------------------

SETTLEMENT_HEADER = ["Nº Contrato", "Parcela", "Valor Pago", "Data do Pagamento"]
DIRECT_SHARE = 0.03  # of the open debts placed before this month


async def _settlements(tenant_id: uuid.UUID, slug: str, zone: str, today: dt.date,
                       import_file: Callable[[Path, str], Any]) -> int:
    """The creditor's "baixa" file: debts its debtors paid to it directly, at past dates,
    imported as a settlement through the import service; the debts are closed on the day
    they were paid."""
    import tempfile

    system = Principal.system(Scope.tenant(tenant_id))
    month_start = dt.datetime.combine(today.replace(day=1), dt.time(), ZoneInfo(zone))
    async with transaction(system) as session:
        rows = (await session.execute(text(f"""
            SELECT x.contract, x.installment, x.current_balance,
                   least((x.created_at AT TIME ZONE :tz)::date + 20
                         + ({_rand("x.contract || x.installment::text", "direct")}
                            * 4000)::int % 200, CAST(:today AS date) - 3) AS paid_on
            FROM debt x
            WHERE x.tenant_id = :t AND x.status = 'open' AND x.created_at < :month_start
              AND {_rand("x.contract || x.installment::text", "baixa")} < :share
              AND NOT EXISTS (SELECT 1 FROM escalation e WHERE e.tenant_id = :t
                              AND e.debt_id = x.id)
            ORDER BY x.contract, x.installment"""),
            {"t": tenant_id, "tz": zone, "today": today, "month_start": month_start,
             "share": DIRECT_SHARE})).all()
    if not rows:
        return 0
    with tempfile.TemporaryDirectory(prefix="regua-demo-") as tmp:
        path = Path(tmp) / f"baixas-{slug}-{today:%Y-%m}.csv"
        lines = [";".join(SETTLEMENT_HEADER)] + [
            f"{r.contract};{r.installment};{str(r.current_balance).replace('.', ',')};"
            f"{r.paid_on:%d/%m/%Y}" for r in rows]
        await asyncio.to_thread(path.write_text, "\r\n".join(lines) + "\r\n", "cp1252")
        portfolio = await import_file(path, "settlement")
    async with transaction(system) as session:
        await session.execute(text("""
            UPDATE debt x SET closed_at = (p.paid_on + time '12:00') AT TIME ZONE :tz,
                updated_at = (p.paid_on + time '12:00') AT TIME ZONE :tz
            FROM payment p
            WHERE x.tenant_id = :t AND p.tenant_id = :t AND p.debt_id = x.id
              AND p.portfolio_id = :p AND p.source = 'creditor'"""),
            {"t": tenant_id, "tz": zone, "p": portfolio.id})
    return len(rows)


# ---- the whole history -------------------------------------------------------------------

async def seed_history(tenant_id: uuid.UUID, slug: str, seed: int, operator: Principal | None,
                       import_file: Callable[[Path, str], Any]) -> None:
    """Once per demo tenant (after its placements and cadences): enrolments, agreements and
    payments, messages, calls, sessions and promises of the months before this one."""
    system = Principal.system(Scope.tenant(tenant_id))
    async with transaction(system) as session:
        zone = (await session.execute(text("SELECT timezone FROM tenant WHERE id = :t"),
                                      {"t": tenant_id})).scalar_one()
        done = (await session.execute(text(
            "SELECT 1 FROM campaign WHERE tenant_id = :t AND name = :n"),
            {"t": tenant_id, "n": HISTORY_CAMPAIGN})).first()
    if done or operator is None:
        return
    started = time.perf_counter()
    today = dt.datetime.now(ZoneInfo(zone)).date()
    month_start = dt.datetime.combine(today.replace(day=1), dt.time(), ZoneInfo(zone))
    # `d`: the engine's policy statement also reads the day (its step offsets).
    params = {"t": tenant_id, "tz": zone, "today": today, "d": today,
              "month_start": month_start,
              "today_ts": dt.datetime.combine(today, dt.time(), ZoneInfo(zone)),
              "first_day": placement_days(today)[0], "operator": operator.user_id}
    async with transaction(system) as session:  # first: the history's mark (see above)
        params["campaign"] = await _campaign(session, system, TenantId(tenant_id),
                                             params["first_day"], zone)
        params["campaign_text"] = str(params["campaign"])
        await session.execute(text(ENROL), params)
    await analyze("cadence_enrolment")
    made = await _agreements(tenant_id, operator, seed, zone, today)
    made["direct"] = await _settlements(tenant_id, slug, zone, today, import_file)
    await analyze("agreement", "installment", "payment", "ledger_entry")
    async with transaction(system) as session:
        await session.execute(text(MESSAGES), params)
        await session.execute(text(CALLS), params)
        await session.execute(text(SESSIONS), params)
        await session.execute(text(PROMISES), params)
    # The figures' statements and the day's plan read these tables next.
    await analyze("interaction", "cadence_action", "call_record", "agent_session",
                  "agenda_item")
    log.info("demo: tenant %s: history of %d months in %.1f s; agreements %s", tenant_id,
             HISTORY_MONTHS, time.perf_counter() - started, made)


async def _campaign(session: AsyncSession, system: Principal, tenant_id: TenantId,
                    first_day: dt.date, zone: str) -> uuid.UUID:
    """The campaign the history's calls belong to, run from the first placement and
    stopped since."""
    row = await campaigns.create_campaign(
        session, system, tenant_id,
        campaigns.NewCampaign(name=HISTORY_CAMPAIGN, filters={"days_overdue_min": 30}))
    at = dt.datetime.combine(first_day, dt.time(9), ZoneInfo(zone))
    checked = await campaigns.access_campaign(session, system, row.id)
    await campaigns.set_status(session, system, checked, "stopped")
    await session.execute(text(
        "UPDATE campaign SET created_at = :at WHERE tenant_id = :t AND id = :c"),
        {"at": at, "t": tenant_id, "c": row.id})
    return row.id
