"""Agency-wide maintenance: the operator's scope, periodic jobs and the scheduler.

Reading across tenants happens under the maintenance role (`SET ROLE regua_maint`,
which bypasses RLS) on the owner's connection, never by widening a policy.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy import text

from core import audit
from core.auth.service import purge_expired
from core.db import Scope, owner_engine
from core.jobs import actor
from core.runtime import get_db
from core.scoring import tasks as scoring
from core.settings import MAINTENANCE_DB_ROLE, get_settings

log = logging.getLogger("regua.maintenance")


async def all_tenant_ids() -> list[uuid.UUID]:
    engine = owner_engine(get_settings())
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"SET LOCAL ROLE {MAINTENANCE_DB_ROLE}"))
            return [r[0] for r in await conn.execute(text("SELECT id FROM tenant"))]
    finally:
        await engine.dispose()


async def operator_scope() -> Scope:
    """The scope of the agency operator at the command line: every tenant."""
    return Scope(frozenset(await all_tenant_ids()), agency=True)


async def verify_chains(
    only: list[uuid.UUID | None] | None = None,
) -> list[audit.ChainReport]:
    """Verify the given chains (None: the agency's), or every chain when `only` is None."""
    engine = owner_engine(get_settings())
    try:
        if only is None:
            async with engine.begin() as conn:
                chains = await audit.chains(conn)
        else:
            chains = only
        reports = []
        for chain in chains:
            async with engine.begin() as conn:
                reports.append(await audit.verify_chain(conn, chain))
        return reports
    finally:
        await engine.dispose()


@actor("auth.purge_expired", max_retries=3)
async def purge_expired_tokens() -> None:
    window = dt.timedelta(minutes=get_settings().login_window_minutes)
    removed = await purge_expired(get_db(), window)
    log.info("purged %d expired tokens", removed)


@actor("audit.verify", max_retries=1)
async def verify_audit() -> None:
    for report in await verify_chains():
        if not report.ok:
            log.error("audit chain %s broken at entry %s: %s",
                      report.chain, report.broken_at_seq, report.reason)


def schedule(scheduler: BaseScheduler) -> None:
    """Periodic jobs. The scheduler only enqueues; workers do the work."""
    scheduler.add_job(purge_expired_tokens.send, IntervalTrigger(hours=1),
                      id="auth.purge_expired", replace_existing=True)
    scheduler.add_job(verify_audit.send, CronTrigger(hour=3, minute=15),
                      id="audit.verify", replace_existing=True)
    # Nightly after midnight in every Brazilian zone; training weekly, then a rescore.
    scheduler.add_job(scoring.refresh_all.send, CronTrigger(hour=5, minute=30),
                      id="scoring.refresh_all", replace_existing=True)
    scheduler.add_job(scoring.train_all.send, CronTrigger(day_of_week="sun", hour=6),
                      id="scoring.train_all", replace_existing=True)
