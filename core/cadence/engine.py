"""The cadence engine: one day's plan for a whole tenant in set-based SQL.

`run(session, tenant_id, day)`, in one statement:
1. enrols the debtors a step reaches today and who follow no version yet (the champion's
   current version, or the challenger's for the debtors a hash of their id with the
   tenant's salt puts on its side);
2. `INSERT ... SELECT ... ON CONFLICT DO NOTHING` writes one action per debtor, step,
   step channel and day: the debtor's workable debts (`regua_debt_blocker`, the one rule,
   judged once per debt) whose due date is `day - step.day`, with the step's conditions,
   grouped per debtor so one message lists them all; the channel's contact point decides
   `planned` (on the channel, or on its fallback) or `blocked` (opted out, no usable
   contact). A rerun of the day finds every row present and adds nothing;
3. the calendar part of the compliance guard (windows and holidays) per group of
   (state, zone, channel) — a handful per tenant, not a loop over debtors: a closed day
   blocks the group's actions with the guard's code, a window that opens later that day
   sets `send_after`;
4. the sends are the `cadence.dispatch` job's (after commit): the per-attempt guard
   (caps, opt-outs now, holds now) runs in each `cadence.send`.

A run leaves a mark for the tenant's day (`cadence_plan_mark`): the database snapshot it
started from. A rerun of the day, with the cadences unchanged since, selects only the
debtors with a row written by a transaction that snapshot could not see (by row version,
`xmin`, so every writer counts, whichever code path it took): a debt due on
a step's offset (an import, a payment, a debt reopened), the debtor, its score, its
enrolment or a hold (one ended). Nothing else can change what the day's plan holds (the
plan judges the day at its noon), so a rerun with nothing new adds nothing and costs a
small fraction of the first run, and one after a change plans what the change made due.

`preview(...)` runs the same selection without writing (the dry-run).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import TenantId
from core.compliance import guard, policy
from core.models import Channel, StepChannel, Tenant
from core.zones import DEFAULT_ZONE, ZONE_BY_UF

# Channels whose contact point kind is what a step's channel needs.
KIND_SQL = ("CASE {ch} WHEN 'email' THEN 'email' WHEN 'letter' THEN 'address' "
            "ELSE 'phone' END")
UNUSABLE_SQL = "('wrong_party', 'invalid', 'bounced')"  # core.collection.contacts.UNUSABLE
# The calendar holds these; a task is internal work.
CALENDAR_CHANNELS = (StepChannel.EMAIL, StepChannel.SMS, StepChannel.WHATSAPP,
                     StepChannel.LETTER, StepChannel.CALL)

# A debtor's side of the champion/challenger split, 0..99: stable, and the same in
# Python (`side`) for tests and reports.
SIDE_SQL = "(('x' || substr(md5(pol.salt || {debtor}::text), 1, 7))::bit(28)::int % 100)"


def enrolment_sql(debtor: str) -> str:
    """The version and arm (two columns) a debtor is enrolled on, given the `pol` row."""
    on_challenger = (f"pol.challenger_v IS NOT NULL AND {SIDE_SQL.format(debtor=debtor)}"
                     " < pol.challenger_percent")
    return (f"CASE WHEN {on_challenger} THEN pol.challenger_v ELSE pol.champion_v END,"
            f" CASE WHEN {on_challenger} THEN 'challenger' ELSE 'champion' END")


def side(salt: str, debtor_id: uuid.UUID) -> int:
    import hashlib

    digest = hashlib.md5((salt + str(debtor_id)).encode(), usedforsecurity=False).hexdigest()
    return int(digest[:7], 16) % 100


def _usable(channel: str) -> str:
    """SQL: the debtor `g.debtor_id` has a contact point that may carry `channel` now."""
    return f"""({channel} = 'task' OR EXISTS (
        SELECT 1 FROM contact_point cp
        WHERE cp.tenant_id = :t AND cp.debtor_id = g.debtor_id
          AND cp.kind = {KIND_SQL.format(ch=channel)}
          AND cp.quality NOT IN {UNUSABLE_SQL}
          AND NOT EXISTS (SELECT 1 FROM contact_opt_out o
                          WHERE o.tenant_id = :t AND o.contact_point_id = cp.id
                            AND o.channel = {channel} AND o.revoked_at IS NULL)))"""


def _opted_out(channel: str) -> str:
    return f"""EXISTS (
        SELECT 1 FROM contact_opt_out o JOIN contact_point cp
          ON cp.tenant_id = o.tenant_id AND cp.id = o.contact_point_id
        WHERE o.tenant_id = :t AND cp.debtor_id = g.debtor_id AND o.channel = {channel}
          AND o.revoked_at IS NULL)"""


POLICY_CTE = """
pol AS MATERIALIZED (
    SELECT p.salt, p.challenger_percent,
           (SELECT v.id FROM cadence_version v JOIN cadence c
              ON c.tenant_id = v.tenant_id AND c.id = v.cadence_id
             AND v.version = c.current_version
            WHERE c.tenant_id = :t AND c.id = p.champion_id) AS champion_v,
           (SELECT v.id FROM cadence_version v JOIN cadence c
              ON c.tenant_id = v.tenant_id AND c.id = v.cadence_id
             AND v.version = c.current_version
            WHERE c.tenant_id = :t AND c.id = p.challenger_id) AS challenger_v
    FROM cadence_policy p WHERE p.tenant_id = :t
),
offsets AS (SELECT DISTINCT CAST(:d AS date) - s.day AS due FROM cadence_step s
            WHERE s.tenant_id = :t)"""


def _changed(xmin: str) -> str:
    """SQL: the row version `xmin` was written by a transaction the marked run could not
    see (one that started after it, or was running when it began), other than that run
    itself. Row versions older than about two billion transactions may count as changed:
    a wasted look, never a missed change."""
    return (f"({xmin} <> CAST(:own AS xid) AND (age({xmin}) <= age(CAST(:unseen AS xid))"
            f" OR {xmin} = ANY (CAST(:running AS xid[]))))")


DUE = "x.tenant_id = :t AND x.status = 'open' AND x.due_date IN (SELECT due FROM offsets)"

# The open debts due on a step's offset (`due_debts`, rows of `debt`) and the debtors
# they reach today (`reached`, enrolled if they follow no version yet): the whole day's.
WHOLE_DAY = f""",
due_debts AS MATERIALIZED (SELECT * FROM debt x WHERE {DUE}),
reached AS (SELECT DISTINCT debtor_id FROM due_debts)"""

# A rerun's (see the module's docstring): the debtors reached by a debt written since the
# mark, the debtors touched since (those, and any whose own row, score, enrolment or hold
# changed), and the due debts of the touched debtors, looked up debtor by debtor (the
# fence, OFFSET 0, keeps the planner from reading every due debt first).
SINCE_MARK = f""",
reached AS MATERIALIZED (
    SELECT DISTINCT x.debtor_id FROM debt x WHERE {DUE} AND {_changed("x.xmin")}
),
touched AS (
    SELECT debtor_id FROM reached
    UNION SELECT b.id FROM debtor b WHERE b.tenant_id = :t AND {_changed("b.xmin")}
    UNION SELECT sc.debtor_id FROM debtor_score sc
          WHERE sc.tenant_id = :t AND {_changed("sc.xmin")}
    UNION SELECT e.debtor_id FROM cadence_enrolment e
          WHERE e.tenant_id = :t AND {_changed("e.xmin")}
    UNION SELECT h.debtor_id FROM hold h WHERE h.tenant_id = :t AND {_changed("h.xmin")}
),
due_debts AS MATERIALIZED (
    SELECT x.* FROM touched t CROSS JOIN LATERAL (
        SELECT * FROM debt x WHERE {DUE} AND x.debtor_id = t.debtor_id OFFSET 0) x
)"""

# What a rerun cannot narrow to debtors: the tenant (its zone), its cadences and policy.
CONFIG_CHANGED = f"""
SELECT EXISTS (SELECT 1 FROM tenant WHERE id = :t AND {_changed("xmin")})
    OR EXISTS (SELECT 1 FROM cadence_policy WHERE tenant_id = :t AND {_changed("xmin")})
    OR EXISTS (SELECT 1 FROM cadence WHERE tenant_id = :t AND {_changed("xmin")})
    OR EXISTS (SELECT 1 FROM cadence_version WHERE tenant_id = :t AND {_changed("xmin")})
    OR EXISTS (SELECT 1 FROM cadence_step WHERE tenant_id = :t AND {_changed("xmin")})
"""

MARK = """
SELECT snapshot, CAST(CAST(xmin AS text) AS bigint) AS own
FROM cadence_plan_mark WHERE tenant_id = :t AND day = :d
"""
SET_MARK = """
INSERT INTO cadence_plan_mark AS m (tenant_id, id, day, snapshot, planned_at, runs)
VALUES (:t, regua_uuid7(), :d, :snapshot, now(), 1)
ON CONFLICT (tenant_id, day) DO UPDATE
    SET snapshot = excluded.snapshot, planned_at = excluded.planned_at, runs = m.runs + 1
"""

# The reached debtors who follow no version yet, enrolled. The plan in the same statement
# does not see these rows; it takes the version their side gives, which is the same.
ENROL_CTE = f""",
enrolled AS (
    INSERT INTO cadence_enrolment (tenant_id, id, debtor_id, version_id, arm, enrolled_at)
    SELECT :t, regua_uuid7(), r.debtor_id, {enrolment_sql("r.debtor_id")}, now()
    FROM reached r CROSS JOIN pol
    WHERE pol.champion_v IS NOT NULL
      AND NOT EXISTS (SELECT 1 FROM cadence_enrolment e
                      WHERE e.tenant_id = :t AND e.debtor_id = r.debtor_id)
    ON CONFLICT DO NOTHING
    RETURNING debtor_id
)"""


# The day's (debtor, step, channel) rows, for INSERT or for a dry-run's SELECT. Debtors
# not enrolled yet (a dry-run) take the version their side would get. A debtor not scored
# yet has no score and no segments: a step conditioned on them skips it.
_SIDE = SIDE_SQL.format(debtor="x.debtor_id")
PLAN = f""",
workable AS MATERIALIZED (  -- each debt judged once, not once per step
    SELECT x.id, x.debtor_id, x.due_date, x.current_balance FROM due_debts x
    WHERE regua_debt_blocker(x, CAST(:at AS timestamptz)) IS NULL
),
due AS (
    SELECT x.id AS debt_id, x.debtor_id, s.id AS step_id, s.version_id, s.day AS step_day,
           s.channels, s.templates, s.fallback, b.state AS uf, b.timezone AS zone,
           coalesce(e.arm, CASE WHEN pol.challenger_v IS NOT NULL
                                     AND {_SIDE} < pol.challenger_percent
                                THEN 'challenger' ELSE 'champion' END) AS arm
    FROM workable x
    CROSS JOIN pol
    JOIN debtor b ON b.tenant_id = :t AND b.id = x.debtor_id
    LEFT JOIN cadence_enrolment e ON e.tenant_id = :t AND e.debtor_id = x.debtor_id
    LEFT JOIN debtor_score sc ON sc.tenant_id = :t AND sc.debtor_id = x.debtor_id
    JOIN cadence_step s ON s.tenant_id = :t
         AND s.version_id = coalesce(e.version_id,
                                     CASE WHEN pol.challenger_v IS NOT NULL
                                               AND {_SIDE} < pol.challenger_percent
                                          THEN pol.challenger_v ELSE pol.champion_v END)
         AND s.day = CAST(:d AS date) - x.due_date
    WHERE (s.amount_min IS NULL OR x.current_balance >= s.amount_min)
      AND (s.amount_max IS NULL OR x.current_balance <= s.amount_max)
      AND (s.states IS NULL OR b.state = ANY (s.states))
      AND (s.score_min IS NULL OR sc.score >= s.score_min)
      AND (s.score_max IS NULL OR sc.score <= s.score_max)
      AND (s.segments IS NULL OR sc.segments && s.segments)
),
g AS (
    SELECT debtor_id, step_id, version_id, step_day, ch AS step_channel, fallback, templates,
           arm, uf, zone, array_agg(debt_id ORDER BY debt_id) AS debt_ids
    FROM due CROSS JOIN LATERAL unnest(channels) AS ch
    GROUP BY debtor_id, step_id, version_id, step_day, ch, fallback, templates, arm, uf, zone
),
u AS (
    SELECT g.*, {_usable("g.step_channel")} AS first_ok,
           (g.fallback IS NOT NULL AND {_usable("g.fallback")}) AS fallback_ok
    FROM g
),
plan AS (
    SELECT u.*,
           CASE WHEN first_ok OR NOT fallback_ok THEN step_channel ELSE fallback END AS channel,
           CASE WHEN first_ok OR fallback_ok THEN 'planned' ELSE 'blocked' END AS state,
           CASE WHEN first_ok OR fallback_ok THEN NULL
                WHEN {_opted_out("u.step_channel").replace("g.debtor_id", "u.debtor_id")}
                THEN 'opted_out' ELSE 'no_contact_point' END AS reason
    FROM u
)"""


# The calendar's answers the run computed for the usual (state, zone, channel) groups
# (`calendar_table`): a planned action of such a group is written blocked, or with the
# moment its window opens, as it is inserted.
INSERT_ACTIONS = """,
cal AS (
    SELECT * FROM unnest(CAST(:cal_uf AS text[]), CAST(:cal_zone AS text[]),
                         CAST(:cal_channel AS text[]), CAST(:cal_code AS text[]),
                         CAST(:cal_after AS timestamptz[])) AS c(uf, zone, channel, code, after)
),
timed AS (
    SELECT plan.*,
           CASE WHEN plan.state = 'planned' AND cal.code IS NOT NULL THEN 'blocked'
                ELSE plan.state END AS final_state,
           CASE WHEN plan.state = 'planned' THEN coalesce(cal.code, plan.reason)
                ELSE plan.reason END AS final_reason,
           CASE WHEN plan.state = 'planned' AND cal.code IS NULL THEN cal.after END AS after
    FROM plan LEFT JOIN cal ON cal.uf IS NOT DISTINCT FROM plan.uf AND cal.zone = plan.zone
                           AND cal.channel = plan.channel
),
ins AS (
    INSERT INTO cadence_action (tenant_id, id, day, debtor_id, step_id, version_id, step_day,
                                step_channel, channel, template, arm, debt_ids, state, reason,
                                send_after, created_at, updated_at)
    SELECT :t, regua_uuid7(), CAST(:d AS date), debtor_id, step_id, version_id, step_day,
           step_channel, channel, coalesce(templates ->> channel, 'padrao'), arm, debt_ids,
           final_state, final_reason, after, now(), now()
    FROM timed
    ON CONFLICT ON CONSTRAINT uq_cadence_action_once DO NOTHING
    RETURNING debtor_id, channel, state
)
SELECT b.state, b.timezone, ins.channel, ins.state, count(*)
FROM ins JOIN debtor b ON b.tenant_id = :t AND b.id = ins.debtor_id
GROUP BY b.state, b.timezone, ins.channel, ins.state
"""
RUN = f"WITH {POLICY_CTE}{WHOLE_DAY}{ENROL_CTE}{PLAN}{INSERT_ACTIONS}"
RERUN = f"WITH {POLICY_CTE}{SINCE_MARK}{ENROL_CTE}{PLAN}{INSERT_ACTIONS}"
PREVIEW = f"""WITH {POLICY_CTE}{WHOLE_DAY}{PLAN}
SELECT debtor_id, step_day, step_channel, channel, state, reason, uf, zone, arm,
       coalesce(templates ->> channel, 'padrao') AS template, debt_ids
FROM plan
"""

# The day's actions by step, channel, state and reason, and (the empty grouping set) how
# many debtors they reach: one pass.
SUMMARY = """
SELECT step_day, channel, state, reason, count(*) AS n,
       count(DISTINCT debtor_id) FILTER (WHERE state <> 'expired') AS debtors
FROM cadence_action WHERE tenant_id = :t AND day = :d
GROUP BY GROUPING SETS ((step_day, channel, state, reason), ())
"""


@dataclass
class Summary:
    """What a day's plan holds: the CLI's JSON (`as_json`) and the dry-run page's figures."""

    day: dt.date
    added: int = 0
    debtors: int = 0
    by_step: dict[tuple[int, str], list[int]] = field(default_factory=dict)  # planned, blocked
    blocked_reasons: Counter[str] = field(default_factory=Counter)
    samples: list[dict[str, Any]] = field(default_factory=list)

    def count(self, step_day: int, channel: str, state: str, reason: str | None, n: int) -> None:
        slot = self.by_step.setdefault((step_day, channel), [0, 0])
        if state == "blocked":
            slot[1] += n
            self.blocked_reasons[reason or "blocked"] += n
        elif state != "expired":
            slot[0] += n

    @property
    def actions(self) -> int:
        return sum(p + b for p, b in self.by_step.values())

    def as_json(self) -> dict[str, Any]:
        return {"date": self.day.isoformat(), "actions": self.actions, "debtors": self.debtors,
                "added": self.added,
                "by_step": [{"day": d, "channel": c, "planned": p, "blocked": b}
                            for (d, c), (p, b) in sorted(self.by_step.items())],
                "blocked_reasons": dict(sorted(self.blocked_reasons.items()))}


async def tenant_zone(session: AsyncSession, tenant_id: uuid.UUID) -> str:
    zone = (await session.execute(select(Tenant.timezone).where(Tenant.id == tenant_id)
                                  )).scalar_one_or_none()
    return zone or "America/Sao_Paulo"


async def local_today(session: AsyncSession, tenant_id: uuid.UUID) -> dt.date:
    return dt.datetime.now(ZoneInfo(await tenant_zone(session, tenant_id))).date()


def _noon(day: dt.date, zone: str) -> dt.datetime:
    """The moment the day's workability is judged: its noon in the tenant's zone."""
    return dt.datetime.combine(day, dt.time(12), tzinfo=ZoneInfo(zone))


@dataclass(frozen=True)
class Calendar:
    """The guard's calendar answer for one (state, zone, channel) group on one day."""

    blocked: str | None  # the guard's code when the channel is closed all day
    send_after: dt.datetime | None  # when the window opens later that day


def calendar(channel: str, day: dt.date, uf: str | None, zone: str,
             tenant: policy.TenantPolicy, now: dt.datetime) -> Calendar:
    if channel not in CALENDAR_CHANNELS:
        return Calendar(None, None)
    place = ZoneInfo(zone)
    start = max(now, dt.datetime.combine(day, dt.time(0), tzinfo=place))
    if start.astimezone(place).date() != day:
        return Calendar("day_over", None)
    verdict = guard.check_calendar(Channel(channel), start, state=uf, zone=zone,
                                   tenant=tenant)
    if verdict.allowed:
        return Calendar(None, None)
    opens = verdict.next_allowed_at
    if opens is not None and opens.astimezone(place).date() == day:
        return Calendar(None, opens)
    return Calendar(verdict.code or "closed", None)


# The (state, zone) pairs the statement gets the calendar for: each state in its own
# zone, and no state in the default one. A debtor elsewhere (Fernando de Noronha) gets
# it after the insert, by its group.
USUAL_PLACES = [(None, DEFAULT_ZONE), *sorted(ZONE_BY_UF.items())]


def calendar_table(day: dt.date, tenant: policy.TenantPolicy,
                   now: dt.datetime) -> dict[str, list[Any]]:
    """The calendar's answers for the usual places, as the statement's arrays."""
    table: dict[str, list[Any]] = {"cal_uf": [], "cal_zone": [], "cal_channel": [],
                                   "cal_code": [], "cal_after": []}
    for uf, zone in USUAL_PLACES:
        for channel in CALENDAR_CHANNELS:
            answer = calendar(channel, day, uf, zone, tenant, now)
            if answer.blocked is None and answer.send_after is None:
                continue
            for key, value in zip(table, (uf, zone, channel.value, answer.blocked,
                                          answer.send_after), strict=True):
                table[key].append(value)
    return table


async def _since_mark(session: AsyncSession, params: dict[str, Any]) -> dict[str, Any] | None:
    """The day's mark as the rerun's parameters, or None when the whole day is planned
    again: no mark yet, or the tenant or its cadences changed since."""
    mark = (await session.execute(text(MARK), params)).one_or_none()
    if mark is None:
        return None
    # "xmin:xmax:running,…" counts transactions in 64 bits (with their epoch), `xmin`
    # columns in 32. Running transactions are top-level ones: a change made in a
    # subtransaction (a savepoint) of one running when the mark was taken is not seen;
    # Régua's writers open none.
    _, unseen, running = mark.snapshot.split(":")
    since = {"unseen": int(unseen) % 2**32, "own": int(mark.own),
             "running": [int(x) % 2**32 for x in running.split(",") if x]}
    if (await session.execute(text(CONFIG_CHANGED), {**params, **since})).scalar_one():
        return None
    return since


async def run(session: AsyncSession, tenant_id: TenantId, day: dt.date, *,
              now: dt.datetime | None = None) -> Summary:
    """Plan `day` for the tenant (idempotent) and return the day's summary. A rerun looks
    only at what changed since the day's mark."""
    now = now or dt.datetime.now(dt.UTC)
    # First: what this run sees is what its mark records.
    snapshot = (await session.execute(text("SELECT CAST(pg_current_snapshot() AS text)"))
                ).scalar_one()
    # The rerun's lateral lookups look costly to the planner (it cannot know how few
    # debtors changed), and JIT compilation then took seconds for milliseconds of work.
    await session.execute(text("SET LOCAL jit = off"))
    zone = await tenant_zone(session, tenant_id)
    params: dict[str, Any] = {"t": tenant_id, "d": day, "at": _noon(day, zone)}
    tenant = await policy.policy_of(session, tenant_id)
    params |= calendar_table(day, tenant, now)
    since = await _since_mark(session, params)
    if since is None:
        groups = (await session.execute(text(RUN), params)).all()
    else:
        groups = (await session.execute(text(RERUN), {**params, **since})).all()
    await session.execute(text(SET_MARK), {**params, "snapshot": snapshot})
    usual = set(USUAL_PLACES)
    for uf, tz, channel, state, _ in groups:
        if state != "planned" or (uf, tz) in usual:
            continue
        verdict = calendar(channel, day, uf, tz, tenant, now)
        if verdict.blocked is None and verdict.send_after is None:
            continue
        # One statement per unusual group: every planned action of the day in that
        # (state, zone, channel) shares the calendar's answer.
        await session.execute(text(
            "UPDATE cadence_action a SET state = CASE WHEN CAST(:code AS text) IS NULL"
            "   THEN a.state ELSE 'blocked' END,"
            " reason = coalesce(CAST(:code AS text), a.reason), send_after = :after,"
            " updated_at = now()"
            " FROM debtor b WHERE a.tenant_id = :t AND a.day = :d AND a.state = 'planned'"
            " AND a.dispatch_id IS NULL AND a.channel = :ch AND b.tenant_id = a.tenant_id"
            " AND b.id = a.debtor_id AND b.state IS NOT DISTINCT FROM CAST(:uf AS text)"
            " AND b.timezone = :tz"),
            {**params, "code": verdict.blocked, "after": verdict.send_after, "ch": channel,
             "uf": uf, "tz": tz})
    summary = await summarize(session, tenant_id, day)
    summary.added = sum(n for *_, n in groups)
    return summary


async def summarize(session: AsyncSession, tenant_id: uuid.UUID, day: dt.date) -> Summary:
    summary = Summary(day)
    params = {"t": tenant_id, "d": day}
    for step_day, channel, state, reason, n, debtors in await session.execute(
            text(SUMMARY), params):
        if step_day is None:  # the empty grouping set: the whole day
            summary.debtors = int(debtors)
        else:
            summary.count(step_day, channel, state, reason, n)
    return summary


@dataclass(frozen=True)
class PlannedRow:
    debtor_id: uuid.UUID
    step_day: int
    step_channel: str
    channel: str
    state: str
    reason: str | None
    template: str
    arm: str
    debt_ids: list[uuid.UUID]


async def preview(session: AsyncSession, tenant_id: TenantId, day: dt.date, *,
                  now: dt.datetime | None = None) -> tuple[Summary, list[PlannedRow]]:
    """What `run` would plan for `day`, written nowhere (the dry-run). Enrolments that do
    not exist yet are taken as the debtor's side would make them."""
    now = now or dt.datetime.now(dt.UTC)
    zone = await tenant_zone(session, tenant_id)
    rows = (await session.execute(text(PREVIEW),
                                  {"t": tenant_id, "d": day, "at": _noon(day, zone)})).all()
    tenant = await policy.policy_of(session, tenant_id)
    answers: dict[tuple[str | None, str, str], Calendar] = {}
    summary = Summary(day)
    planned: list[PlannedRow] = []
    debtors: set[uuid.UUID] = set()
    per_key: dict[tuple[int, str, str, str | None], int] = defaultdict(int)
    for r in rows:
        state, reason = r.state, r.reason
        if state == "planned":
            key = (r.uf, r.zone, r.channel)
            if key not in answers:
                answers[key] = calendar(r.channel, day, r.uf, r.zone, tenant, now)
            if answers[key].blocked is not None:
                state, reason = "blocked", answers[key].blocked
        per_key[(r.step_day, r.channel, state, reason)] += 1
        debtors.add(r.debtor_id)
        planned.append(PlannedRow(r.debtor_id, r.step_day, r.step_channel, r.channel, state,
                                  reason, r.template, r.arm, list(r.debt_ids)))
    for (step_day, channel, state, reason), n in per_key.items():
        summary.count(step_day, channel, state, reason, n)
    summary.debtors = len(debtors)
    return summary, planned
