"""The figure families: for each aggregate table, the statement that computes its rows
for a range of months from the base tables.

The refresh runs these into the aggregate tables for the months that changed; the
benchmark and the tests run them into temporary tables for a whole period, which is the
same figures computed by scanning the base tables. Either way the dashboard then reads
the rows the same way (`reports.dashboard`).

Every statement takes `:tenant`, `:tz` (the tenant's zone: months are the tenant's),
the range as moments (`:start_ts`, `:end_ts`) and as days (`:start_day`, `:end_day`),
`:today` (the tenant's date, and `:current_month` its month) and `:now`. Months are
`date_trunc('month', …)` of the moment in the tenant's zone, or of the date.

Dimensions: a debt-level figure (placement, recovery, escalation) takes the portfolio of
the debt; the others the debtor's first portfolio. Segment and cadence come from the
debtor's row in `report_debtor` (see `reports.models.ReportDebtor`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import TenantId
from legal import statement

ZERO = Decimal("0")

# The dimensions every debtor-level row carries; `rd` is the debtor's report_debtor row.
DEBTOR_DIMS = ("rd.portfolio_id, coalesce(rd.segment, 'sem_segmento') AS segment, "
               "rd.cadence_id, coalesce(rd.arm, 'none') AS arm")
DEBT_DIMS = ("d.portfolio_id, coalesce(rd.segment, 'sem_segmento') AS segment, "
             "rd.cadence_id, coalesce(rd.arm, 'none') AS arm")
DIM_COLUMNS = ("tenant_id", "month", "portfolio_id", "segment", "cadence_id", "arm")
JOIN_RD = ("LEFT JOIN report_debtor rd ON rd.tenant_id = {t}.tenant_id"
           " AND rd.id = {t}.debtor_id")


def _month(column: str) -> str:
    return f"date_trunc('month', {column} AT TIME ZONE :tz)::date"


def _in_range(column: str) -> str:
    return f"{column} >= :start_ts AND {column} < :end_ts"


# Days overdue when placed, in bands (the same count the statement's fee bands use).
BANDS = ("a_vencer", "0-30", "31-60", "61-90", "91-180", "181-360", "361+")
BAND_LABELS = {"a_vencer": "a vencer", "0-30": "0 a 30 dias", "31-60": "31 a 60 dias",
               "61-90": "61 a 90 dias", "91-180": "91 a 180 dias", "181-360": "181 a 360 dias",
               "361+": "mais de 360 dias"}
BAND_SQL = """CASE WHEN od.days < 0 THEN 'a_vencer' WHEN od.days <= 30 THEN '0-30'
    WHEN od.days <= 60 THEN '31-60' WHEN od.days <= 90 THEN '61-90'
    WHEN od.days <= 180 THEN '91-180' WHEN od.days <= 360 THEN '181-360' ELSE '361+' END"""

# What an outbound attempt's outcome says: it reached someone (a contact), or the
# debtor in person (right-party contact). A third party who answered (disposition "not
# the debtor") and an abandoned call are contacts, not right-party ones.
CONTACT_OUTCOMES = ("answered", "wrong_party", "delivered", "read", "replied")
RPC_OUTCOMES = ("answered", "read", "replied")


def sql_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


PLACEMENT = f"""
SELECT d.tenant_id, {_month("d.created_at")} AS month, {DEBT_DIMS}, {BAND_SQL} AS band,
       count(*) AS debts, sum(coalesce(pl.amount, d.original_amount)) AS amount
FROM debt d
{JOIN_RD.format(t="d")}
CROSS JOIN LATERAL (SELECT (d.created_at AT TIME ZONE :tz)::date - d.due_date AS days) od
LEFT JOIN LATERAL (
    SELECT sum(e.amount) AS amount FROM ledger_entry e
    WHERE e.tenant_id = d.tenant_id AND e.debt_id = d.id AND e.source = 'portfolio'
      AND e.source_id = d.portfolio_id AND e.kind IN ('placement', 'creditor_update')) pl ON true
WHERE d.tenant_id = :tenant AND {_in_range("d.created_at")}
GROUP BY 1, 2, 3, 4, 5, 6, 7"""

# One row per payment with its keys: the recovery figures group these, and the agency's
# commission (from the statement) is added to the same keys.
RECOVERY_PAYMENTS = f"""
SELECT p.id AS payment_id, p.tenant_id, date_trunc('month', p.paid_on)::date AS month,
       {DEBT_DIMS}, date_trunc('month', d.created_at AT TIME ZONE :tz)::date AS cohort,
       p.source, p.amount,
       (p.source = 'agency' AND NOT EXISTS (
           SELECT 1 FROM payment q
           WHERE q.tenant_id = p.tenant_id AND q.debt_id = p.debt_id AND q.source = 'agency'
             AND q.paid_on IS NOT NULL
             AND (q.paid_on, q.created_at, q.id) < (p.paid_on, p.created_at, p.id))) AS first,
       greatest(p.paid_on - (d.created_at AT TIME ZONE :tz)::date, 0) AS days
FROM payment p
JOIN debt d ON d.tenant_id = p.tenant_id AND d.id = p.debt_id
{JOIN_RD.format(t="d")}
WHERE p.tenant_id = :tenant AND p.paid_on >= :start_day AND p.paid_on < :end_day"""

CONTACT = f"""
SELECT i.tenant_id, {_month("i.started_at")} AS month, {DEBTOR_DIMS}, i.channel,
       count(*) FILTER (WHERE i.direction = 'outbound' AND i.outcome <> 'blocked') AS attempts,
       count(*) FILTER (WHERE i.direction = 'outbound'
                        AND i.outcome IN {sql_list(CONTACT_OUTCOMES)}) AS contacts,
       count(*) FILTER (WHERE i.direction = 'outbound' AND i.outcome IN {sql_list(RPC_OUTCOMES)}
                        AND coalesce(i.details->>'disposition', '') <> 'not_debtor'
                        AND coalesce(i.details->>'dial_outcome', '') <> 'abandoned') AS rpc,
       count(*) FILTER (WHERE i.direction = 'inbound') AS inbound
FROM interaction i
{JOIN_RD.format(t="i")}
WHERE i.tenant_id = :tenant AND {_in_range("i.started_at")}
GROUP BY 1, 2, 3, 4, 5, 6, 7"""

MESSAGE = f"""
SELECT a.tenant_id, date_trunc('month', a.day)::date AS month, {DEBTOR_DIMS}, a.channel,
       a.step_day, count(*) AS planned,
       count(*) FILTER (WHERE a.state IN ('sent', 'delivered', 'read')) AS sent,
       count(*) FILTER (WHERE a.state IN ('delivered', 'read')) AS delivered,
       count(*) FILTER (WHERE a.state = 'read') AS read,
       count(*) FILTER (WHERE a.state = 'failed') AS failed,
       count(*) FILTER (WHERE a.state IN ('blocked', 'expired')) AS blocked
FROM cadence_action a
{JOIN_RD.format(t="a")}
WHERE a.tenant_id = :tenant AND a.day >= :start_day AND a.day < :end_day
  AND a.channel IN ('email', 'sms', 'whatsapp', 'letter')
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"""

# Kept: the debtor paid the agency at least the promised amount between the day the
# promise was made and the promised day. Broken: the promised day has passed unkept.
PROMISE = f"""
SELECT ai.tenant_id, {_month("ai.created_at")} AS month, {DEBTOR_DIMS},
       count(*) AS made, coalesce(sum(ai.amount), 0) AS made_amount,
       count(*) FILTER (WHERE k.kept) AS kept,
       coalesce(sum(ai.amount) FILTER (WHERE k.kept), 0) AS kept_amount,
       count(*) FILTER (WHERE NOT k.kept AND ai.promised_on < :today) AS broken
FROM agenda_item ai
{JOIN_RD.format(t="ai")}
CROSS JOIN LATERAL (
    SELECT coalesce(sum(p.amount), 0) >= coalesce(ai.amount, 0.01) AS kept
    FROM debt d2 JOIN payment p ON p.tenant_id = d2.tenant_id AND p.debt_id = d2.id
    WHERE d2.tenant_id = ai.tenant_id AND d2.debtor_id = ai.debtor_id AND p.source = 'agency'
      AND p.paid_on >= (ai.created_at AT TIME ZONE :tz)::date
      AND p.paid_on <= ai.promised_on) k
WHERE ai.tenant_id = :tenant AND ai.kind = 'promise' AND {_in_range("ai.created_at")}
GROUP BY 1, 2, 3, 4, 5, 6"""

# Made (accepted), settled and broken in the month; and, in the current month's rows,
# the agreements running now with what is still to be paid on them.
AGREEMENT = f"""
WITH a AS (
    SELECT ag.*, {DEBTOR_DIMS} FROM agreement ag {JOIN_RD.format(t="ag")}
    WHERE ag.tenant_id = :tenant)
SELECT tenant_id, month, portfolio_id, segment, cadence_id, arm, event,
       count(*) AS agreements, sum(amount) AS amount
FROM (
    SELECT a.*, {_month("a.accepted_at")} AS month, 'made' AS event, a.total AS amount
    FROM a WHERE {_in_range("a.accepted_at")}
    UNION ALL
    SELECT a.*, {_month("a.settled_at")}, 'settled', a.total
    FROM a WHERE {_in_range("a.settled_at")}
    UNION ALL
    SELECT a.*, {_month("a.broken_at")}, 'broken', a.total
    FROM a WHERE {_in_range("a.broken_at")}
    UNION ALL
    SELECT a.*, CAST(:current_month AS date), 'running', o.amount
    FROM a CROSS JOIN LATERAL (
        SELECT coalesce(sum(i.amount), 0) AS amount FROM installment i
        WHERE i.tenant_id = a.tenant_id AND i.agreement_id = a.id
          AND i.status IN ('open', 'overdue')) o
    WHERE a.status IN ('active', 'reinstated')
      AND CAST(:current_month AS date) >= :start_day
      AND CAST(:current_month AS date) < :end_day
) e
GROUP BY 1, 2, 3, 4, 5, 6, 7"""

# An agent's calls on this tenant: dialer calls bridged to it (talk: bridged to hung up)
# and calls it placed itself from the agenda; its logged-in time on sessions of this
# tenant; the agreements it made (accepted in the month).
AGENT = f"""
SELECT tenant_id, month, user_id, sum(calls) AS calls, sum(talk)::bigint AS talk_seconds,
       sum(logged)::bigint AS logged_seconds, sum(agreements) AS agreements,
       sum(amount) AS agreed_amount
FROM (
    SELECT cr.tenant_id, {_month("cr.dialed_at")} AS month, cr.agent_user_id AS user_id,
           count(*) AS calls,
           coalesce(sum(extract(epoch FROM cr.ended_at - cr.bridged_at)), 0) AS talk,
           0 AS logged, 0 AS agreements, 0 AS amount
    FROM call_record cr
    WHERE cr.tenant_id = :tenant AND {_in_range("cr.dialed_at")}
      AND cr.agent_user_id IS NOT NULL AND cr.bridged_at IS NOT NULL
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT i.tenant_id, {_month("i.started_at")}, i.user_id, count(*), 0, 0, 0, 0
    FROM interaction i
    WHERE i.tenant_id = :tenant AND {_in_range("i.started_at")} AND i.channel = 'call'
      AND i.cause_kind = 'agent' AND i.user_id IS NOT NULL
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT s.tenant_id, {_month("s.logged_in_at")}, s.user_id, 0, 0,
           sum(extract(epoch FROM coalesce(s.logged_out_at, CAST(:now AS timestamptz))
                                  - s.logged_in_at)), 0, 0
    FROM agent_session s
    WHERE s.tenant_id = :tenant AND {_in_range("s.logged_in_at")}
    GROUP BY 1, 2, 3
    UNION ALL
    SELECT ag.tenant_id, {_month("ag.accepted_at")}, ag.created_by, 0, 0, 0, count(*),
           sum(ag.total)
    FROM agreement ag
    WHERE ag.tenant_id = :tenant AND {_in_range("ag.accepted_at")}
      AND ag.created_by IS NOT NULL
    GROUP BY 1, 2, 3
) x
GROUP BY 1, 2, 3"""

# Answered counts the calls a person picked up (bridged or abandoned); the abandoned
# rate is abandoned / answered, as the dialer's target reads it.
DIALER = f"""
SELECT cr.tenant_id, {_month("cr.dialed_at")} AS month, cr.campaign_id,
       max(c.abandon_target) AS abandon_target,
       count(*) FILTER (WHERE cr.outcome IS NOT NULL) AS dialed,
       count(*) FILTER (WHERE cr.outcome IN ('answered', 'abandoned')) AS answered,
       count(*) FILTER (WHERE cr.outcome = 'abandoned') AS abandoned,
       coalesce(sum(extract(epoch FROM cr.ended_at - cr.bridged_at))
                FILTER (WHERE cr.bridged_at IS NOT NULL), 0)::bigint AS talk_seconds,
       (count(*) FILTER (WHERE cr.bridged_at IS NOT NULL)
        * max(c.wrap_up_seconds))::bigint AS wrap_seconds
FROM call_record cr
JOIN campaign c ON c.tenant_id = cr.tenant_id AND c.id = cr.campaign_id
WHERE cr.tenant_id = :tenant AND {_in_range("cr.dialed_at")}
GROUP BY 1, 2, 3"""

# Debtors by the month they were first enrolled, on each side of the cadence test: what
# each has paid the agency since its enrolment.
EXPERIMENT = """
SELECT rd.tenant_id, date_trunc('month', rd.enrolled_on)::date AS month, rd.portfolio_id,
       coalesce(rd.segment, 'sem_segmento') AS segment, rd.cadence_id, rd.arm,
       count(*) AS debtors, count(*) FILTER (WHERE x.amount > 0) AS payers,
       sum(x.amount) AS recovered, sum(x.amount * x.amount) AS recovered_sq
FROM report_debtor rd
CROSS JOIN LATERAL (
    SELECT coalesce(sum(p.amount), 0) AS amount
    FROM debt d JOIN payment p ON p.tenant_id = d.tenant_id AND p.debt_id = d.id
    WHERE d.tenant_id = rd.tenant_id AND d.debtor_id = rd.id AND p.source = 'agency'
      AND p.paid_on >= rd.enrolled_on) x
WHERE rd.tenant_id = :tenant AND rd.enrolled_on >= :start_day AND rd.enrolled_on < :end_day
  AND rd.arm IN ('champion', 'challenger')
GROUP BY 1, 2, 3, 4, 5, 6"""

ESCALATION = f"""
SELECT e.tenant_id, {_month("e.decided_at")} AS month, {DEBT_DIMS}, e.path, e.state,
       count(*) AS escalations, sum(e.amount) AS amount
FROM escalation e
JOIN debt d ON d.tenant_id = e.tenant_id AND d.id = e.debt_id
{JOIN_RD.format(t="e")}
WHERE e.tenant_id = :tenant AND {_in_range("e.decided_at")}
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8"""


@dataclass(frozen=True)
class Family:
    name: str
    table: str
    columns: tuple[str, ...]
    select: str | None  # None: computed in Python (recovery, which needs the statement)


FAMILIES = {f.name: f for f in (
    Family("placement", "report_placement", (*DIM_COLUMNS, "band", "debts", "amount"),
           PLACEMENT),
    Family("recovery", "report_recovery",
           (*DIM_COLUMNS, "cohort", "recovered", "recovered_direct", "payments",
            "first_payments", "days_to_pay", "commission", "net_due"), None),
    Family("contact", "report_contact",
           (*DIM_COLUMNS, "channel", "attempts", "contacts", "rpc", "inbound"), CONTACT),
    Family("message", "report_message",
           (*DIM_COLUMNS, "channel", "step_day", "planned", "sent", "delivered", "read",
            "failed", "blocked"), MESSAGE),
    Family("promise", "report_promise",
           (*DIM_COLUMNS, "made", "made_amount", "kept", "kept_amount", "broken"), PROMISE),
    Family("agreement", "report_agreement",
           (*DIM_COLUMNS, "event", "agreements", "amount"), AGREEMENT),
    Family("agent", "report_agent",
           ("tenant_id", "month", "user_id", "calls", "talk_seconds", "logged_seconds",
            "agreements", "agreed_amount"), AGENT),
    Family("dialer", "report_dialer",
           ("tenant_id", "month", "campaign_id", "abandon_target", "dialed", "answered",
            "abandoned", "talk_seconds", "wrap_seconds"), DIALER),
    Family("experiment", "report_experiment",
           (*DIM_COLUMNS, "debtors", "payers", "recovered", "recovered_sq"), EXPERIMENT),
    Family("escalation", "report_escalation",
           (*DIM_COLUMNS, "path", "state", "escalations", "amount"), ESCALATION),
)}


@dataclass(frozen=True)
class Range:
    """Months `start` (first day) up to `end` (first day of the month after the last)."""

    tenant_id: uuid.UUID
    tz: str
    start: dt.date
    end: dt.date
    today: dt.date
    now: dt.datetime

    def params(self) -> dict[str, Any]:
        from zoneinfo import ZoneInfo

        zone = ZoneInfo(self.tz)
        return {"tenant": self.tenant_id, "tz": self.tz,
                "start_ts": dt.datetime.combine(self.start, dt.time(), zone),
                "end_ts": dt.datetime.combine(self.end, dt.time(), zone),
                "start_day": self.start, "end_day": self.end, "today": self.today,
                "current_month": self.today.replace(day=1), "now": self.now}


async def fill(session: AsyncSession, family: Family, target: str, span: Range) -> None:
    """Write `family`'s rows for the months of `span` into the table `target`."""
    if family.select is not None:
        columns = ", ".join(family.columns)
        await session.execute(text(f"INSERT INTO {target} ({columns}) {family.select}"),
                              span.params())
        return
    rows = await recovery_rows(session, span)
    if rows:
        columns = ", ".join(family.columns)
        values = ", ".join(f":{c}" for c in family.columns)
        await session.execute(text(f"INSERT INTO {target} ({columns}) VALUES ({values})"),
                              rows)


def months(start: dt.date, end: dt.date) -> list[dt.date]:
    out, month = [], start
    while month < end:
        out.append(month)
        month = next_month(month)
    return out


def next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


async def recovery_rows(session: AsyncSession, span: Range) -> list[dict[str, Any]]:
    """Recovery rows of the months of `span`: payments grouped by month, cohort and
    dimensions, with the commission and net due of `legal.statement` on each payment."""
    payments = (await session.execute(text(RECOVERY_PAYMENTS), span.params())).mappings().all()
    fees: dict[uuid.UUID, tuple[Decimal, Decimal]] = {}
    for month in months(span.start, span.end):
        built = await statement.build(session, TenantId(span.tenant_id), month)
        fees.update({line.payment_id: (line.commission, line.net_to_creditor)
                     for line in built.lines})
    grouped: dict[tuple[Any, ...], dict[str, Any]] = defaultdict(lambda: {
        "recovered": ZERO, "recovered_direct": ZERO, "payments": 0, "first_payments": 0,
        "days_to_pay": 0, "commission": ZERO, "net_due": ZERO})
    for p in payments:
        key = (p["tenant_id"], p["month"], p["portfolio_id"], p["segment"], p["cadence_id"],
               p["arm"], p["cohort"])
        row = grouped[key]
        if p["source"] == "agency":
            row["recovered"] += p["amount"]
            row["payments"] += 1
        else:
            row["recovered_direct"] += p["amount"]
        if p["first"]:
            row["first_payments"] += 1
            row["days_to_pay"] += p["days"]
        commission, net = fees.get(p["payment_id"], (ZERO, ZERO))
        row["commission"] += commission
        row["net_due"] += net
    return [dict(zip(FAMILIES["recovery"].columns[:7], key, strict=True)) | row
            for key, row in grouped.items()]
