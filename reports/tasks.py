"""Report jobs: the refresh of what changed (every 30 s, agency-wide: it finds the
tenants with queued months), the nightly rebuild of each tenant, and the monthly e-mail.
Each is idempotent: a refresh recomputes months whole, a rebuild every month, and the
e-mail is sent once per month and user."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from sqlalchemy import text

from core.access import TenantId
from core.db import owner_engine
from core.jobs import actor, periodic
from core.settings import MAINTENANCE_DB_ROLE, get_settings
from reports import monthly
from reports.refresh import refresh_tenant

log = logging.getLogger("regua.reports")

REFRESH_EVERY = dt.timedelta(seconds=30)


async def tenants_with_changes() -> list[uuid.UUID]:
    """Tenants with queued months, read under the maintenance role."""
    engine = owner_engine(get_settings())
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"SET LOCAL ROLE {MAINTENANCE_DB_ROLE}"))
            rows = await conn.execute(text("SELECT DISTINCT tenant_id FROM report_dirty"))
            return [r[0] for r in rows]
    finally:
        await engine.dispose()


@actor("reports.refresh", max_retries=3)
async def refresh() -> None:
    """Every tenant with queued months; one tenant's failure does not hold the others
    back (the job fails at the end, and its retry or the next run takes it again)."""
    failed: Exception | None = None
    for tenant_id in await tenants_with_changes():
        try:
            await refresh_tenant(TenantId(tenant_id))
        except Exception as exc:
            log.exception("reports of tenant %s: refresh failed", tenant_id)
            failed = failed or exc
    if failed is not None:
        raise failed


@actor("reports.rebuild", max_retries=3)
async def rebuild(tenant: str) -> None:
    await refresh_tenant(TenantId(uuid.UUID(tenant)), full=True)


@actor("reports.monthly", max_retries=3)
async def send_monthly(tenant: str, day: str | None = None) -> None:
    """Last month's report, on the first days of the tenant's month (`day`: as if it
    were that day, for a catch-up or a test)."""
    await monthly.send_due(uuid.UUID(tenant), dt.date.fromisoformat(day) if day else None)


# Fresh within a minute of the events; the nightly rebuild after the nightly scoring
# (05:30) and before the day's cadence (07:00); the monthly e-mail in the morning.
periodic("reports.refresh", every=REFRESH_EVERY)
periodic("reports.rebuild", daily_at=dt.time(6, 0), per_tenant=True)
periodic("reports.monthly", daily_at=dt.time(8, 0), per_tenant=True)
