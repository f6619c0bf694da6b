"""Keeping a tenant's aggregates fresh: recompute the months that changed.

Triggers on the base tables queue (family, month) pairs in `report_dirty` as their rows
change (migration 0019). `refresh_tenant` takes the tenant's queue, settles the
reporting dimensions of new debtors (`classify`), and replaces each queued month of each
family with rows computed from the base tables (`reports.families`), in one transaction:
a dashboard reads the month before or after, never half of it. A retried refresh does
the same again (the queue rows it took come back on rollback), and two refreshes of one
tenant never overlap (a transaction advisory lock: the second skips, and the next run
takes what arrived since).

`rebuild` (nightly, and `regua report refresh --full`) recomputes every month: promises
become broken by the passing of their day, which no row change announces, and a rebuild
heals whatever a bulk write made without the triggers.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import TenantId, transaction
from core.auth.principal import Principal
from core.db import Scope
from reports.families import FAMILIES, Range, fill, months, next_month

log = logging.getLogger("regua.reports")

PENDING_DAYS = 7  # a debtor not scored or not enrolled by then is reported without them
LOCK_NAMESPACE = 0x52454752  # "REGR": the advisory lock's first key

# A debtor's primary segment: the first of its segments in this order.
SEGMENT_ORDER = ("acordo_quebrado", "sem_contato", "devedor_viciado", "primeiro_atraso",
                 "varios_titulos", "saldo_alto", "novo")
PRIMARY_SEGMENT = "CASE " + " ".join(
    f"WHEN s.segments @> ARRAY['{code}']::varchar[] THEN '{code}'" for code in SEGMENT_ORDER
) + " ELSE 'sem_segmento' END"


@dataclass
class Summary:
    tenant_id: uuid.UUID
    skipped: bool = False
    slices: dict[str, list[dt.date]] = field(default_factory=dict)
    classified: int = 0
    seconds: float = 0.0

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.slices.values())


def system(tenant_id: uuid.UUID) -> Principal:
    return Principal.system(Scope.tenant(tenant_id))


async def tenant_clock(session: AsyncSession, tenant_id: uuid.UUID
                       ) -> tuple[str, dt.date, dt.datetime]:
    """The tenant's zone, its date now, and now."""
    tz = (await session.execute(text("SELECT timezone FROM tenant WHERE id = :t"),
                                {"t": tenant_id})).scalar_one()
    now = dt.datetime.now(dt.UTC)
    return tz, now.astimezone(ZoneInfo(tz)).date(), now


def spans(tenant_id: uuid.UUID, tz: str, wanted: list[dt.date], today: dt.date,
          now: dt.datetime) -> list[Range]:
    """Consecutive months as ranges, so a run of months is one statement."""
    out: list[Range] = []
    for month in sorted(set(wanted)):
        if out and out[-1].end == month:
            last = out.pop()
            out.append(Range(tenant_id, tz, last.start, next_month(month), today, now))
        else:
            out.append(Range(tenant_id, tz, month, next_month(month), today, now))
    return out


async def classify(session: AsyncSession, tenant_id: uuid.UUID, tz: str,
                   placed: list[Range] | None) -> tuple[int, dt.date | None]:
    """Add the debtors of debts placed in `placed` (None: every debtor) to
    `report_debtor`, and fill in the segment and cadence of pending ones. Answers how many
    rows changed and the earliest placement month among them: from that month on, every
    family's rows may count those debtors under other dimensions."""
    params = {"tenant": tenant_id, "tz": tz, "days": PENDING_DAYS}
    if placed is None:
        added = await session.execute(text("""
            INSERT INTO report_debtor (tenant_id, id, portfolio_id, placed_month)
            SELECT db.tenant_id, db.id, db.first_portfolio_id,
                   date_trunc('month', db.created_at AT TIME ZONE :tz)::date
            FROM debtor db WHERE db.tenant_id = :tenant
            ON CONFLICT DO NOTHING RETURNING placed_month"""), params)
        earliest = [r[0] for r in added]
    else:
        earliest = []
        for span in placed:
            added = await session.execute(text("""
                INSERT INTO report_debtor (tenant_id, id, portfolio_id, placed_month)
                SELECT DISTINCT db.tenant_id, db.id, db.first_portfolio_id,
                       date_trunc('month', db.created_at AT TIME ZONE :tz)::date
                FROM debt d JOIN debtor db ON db.tenant_id = d.tenant_id AND db.id = d.debtor_id
                WHERE d.tenant_id = :tenant AND d.created_at >= :start_ts
                  AND d.created_at < :end_ts
                  AND NOT EXISTS (SELECT 1 FROM report_debtor r
                                  WHERE r.tenant_id = d.tenant_id AND r.id = d.debtor_id)
                ON CONFLICT DO NOTHING RETURNING placed_month"""), span.params())
            earliest += [r[0] for r in added]
    # Row by row through the keys (no join of report_debtor with itself: right after a
    # large import its statistics say it is empty, and a planner that believes it may
    # loop over the pending rows once per pending row).
    found = await session.execute(text(f"""
        UPDATE report_debtor rd SET
            segment = coalesce(rd.segment, (
                SELECT {PRIMARY_SEGMENT} FROM debtor_score s
                WHERE s.tenant_id = rd.tenant_id AND s.debtor_id = rd.id)),
            (cadence_id, arm, enrolled_on) = (
                SELECT coalesce(rd.cadence_id, cv.cadence_id), coalesce(rd.arm, ce.arm),
                       coalesce(rd.enrolled_on, (ce.enrolled_at AT TIME ZONE :tz)::date)
                FROM (SELECT 1) one
                LEFT JOIN cadence_enrolment ce ON ce.tenant_id = rd.tenant_id
                                              AND ce.debtor_id = rd.id
                LEFT JOIN cadence_version cv ON cv.tenant_id = ce.tenant_id
                                            AND cv.id = ce.version_id)
        WHERE rd.tenant_id = :tenant AND rd.pending
          AND ((rd.segment IS NULL AND EXISTS (
                    SELECT 1 FROM debtor_score s
                    WHERE s.tenant_id = rd.tenant_id AND s.debtor_id = rd.id))
               OR (rd.arm IS NULL AND EXISTS (
                    SELECT 1 FROM cadence_enrolment ce
                    WHERE ce.tenant_id = rd.tenant_id AND ce.debtor_id = rd.id)))
        RETURNING rd.placed_month"""), params)
    earliest += [r[0] for r in found]
    settled = await session.execute(text("""
        UPDATE report_debtor SET pending = false,
            segment = coalesce(segment, 'sem_segmento'), arm = coalesce(arm, 'none')
        WHERE tenant_id = :tenant AND pending
          AND ((segment IS NOT NULL AND arm IS NOT NULL)
               OR created_at <= now() - make_interval(days => :days))
        RETURNING placed_month"""), params)
    earliest += [r[0] for r in settled]
    return len(earliest), min(earliest, default=None)


async def _replace(session: AsyncSession, family: str, span: Range) -> None:
    table = FAMILIES[family].table
    await session.execute(text(f"DELETE FROM {table} WHERE tenant_id = :tenant"
                               " AND month >= :start_day AND month < :end_day"),
                          span.params())
    await fill(session, FAMILIES[family], table, span)


async def _locked(session: AsyncSession, tenant_id: uuid.UUID) -> bool:
    return bool((await session.execute(
        text("SELECT pg_try_advisory_xact_lock(:ns, hashtext(:t))"),
        {"ns": LOCK_NAMESPACE, "t": str(tenant_id)})).scalar_one())


async def _mark(session: AsyncSession, tenant_id: uuid.UUID, summary: Summary,
                full: bool) -> None:
    await session.execute(text("""
        INSERT INTO report_state (tenant_id, id, refreshed_at, rebuilt_at, last_duration_ms,
                                  last_slices)
        VALUES (:t, :t, now(), CASE WHEN :full THEN now() END, :ms, :n)
        ON CONFLICT (tenant_id, id) DO UPDATE SET refreshed_at = now(),
            rebuilt_at = CASE WHEN :full THEN now() ELSE report_state.rebuilt_at END,
            last_duration_ms = :ms, last_slices = :n"""),
        {"t": tenant_id, "full": full, "ms": int(summary.seconds * 1000), "n": summary.count})


async def refresh_tenant(tenant_id: TenantId, *, full: bool = False) -> Summary:
    """Recompute the tenant's queued months (every month with `full`)."""
    started = time.perf_counter()
    summary = Summary(tenant_id)
    async with transaction(system(tenant_id)) as session:
        if not await _locked(session, tenant_id):
            summary.skipped = True
            return summary
        tz, today, now = await tenant_clock(session, tenant_id)
        current = today.replace(day=1)
        queued = await session.execute(text(
            "DELETE FROM report_dirty WHERE tenant_id = :t RETURNING family, month"),
            {"t": tenant_id})
        wanted: dict[str, set[dt.date]] = defaultdict(set)
        for family, month in queued:
            wanted[family].add(month)
        if full:
            summary.classified, _ = await classify(session, tenant_id, tz, None)
            first = (await session.execute(text("""
                SELECT least((SELECT min(placed_month) FROM report_debtor WHERE tenant_id = :t),
                             (SELECT date_trunc('month', min(paid_on))::date FROM payment
                              WHERE tenant_id = :t), :current)"""),
                {"t": tenant_id, "current": current})).scalar_one()
            everything = set(months(first, next_month(current)))
            for family in FAMILIES:
                await session.execute(text(
                    f"DELETE FROM {FAMILIES[family].table} WHERE tenant_id = :t"),
                    {"t": tenant_id})
                wanted[family] |= everything
        elif wanted.get("placement") or wanted.get("dims"):
            placed = spans(tenant_id, tz, sorted(wanted.get("placement", ())), today, now)
            summary.classified, since = await classify(session, tenant_id, tz, placed)
            if since is not None:
                for family in FAMILIES:
                    wanted[family] |= set(months(since, next_month(current)))
        wanted.pop("dims", None)
        for family in FAMILIES:  # in order: placement first, it adds the new debtors
            chosen = sorted(wanted.get(family, ()))
            if not chosen:
                continue
            summary.slices[family] = chosen
            for span in spans(tenant_id, tz, chosen, today, now):
                await _replace(session, family, span)
        summary.seconds = time.perf_counter() - started
        await _mark(session, tenant_id, summary, full)
    log.info("reports of tenant %s: %d month(s) refreshed%s in %.2f s", tenant_id,
             summary.count, " (full)" if full else "", summary.seconds)
    return summary
