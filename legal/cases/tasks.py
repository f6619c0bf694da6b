"""Case jobs: open a case for every judicial escalation handed off without one; deliver
the webhook exports to the law firms, again after a failure, and again when a message
was lost."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from sqlalchemy import text

from core.db import Scope, owner_engine
from core.jobs import actor, periodic, scoped, send
from core.settings import MAINTENANCE_DB_ROLE, get_settings
from legal.cases import export, service

log = logging.getLogger("regua.cases")


async def _tenants_with_uncased_handoffs() -> list[uuid.UUID]:
    """Tenants with a judicial escalation in `handed_off` that no case holds, read under
    the maintenance role."""
    engine = owner_engine(get_settings())
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"SET LOCAL ROLE {MAINTENANCE_DB_ROLE}"))
            rows = await conn.execute(text(
                "SELECT DISTINCT e.tenant_id FROM escalation e"
                " WHERE e.path = 'judicial' AND e.state = 'handed_off' AND e.closed_at IS NULL"
                " AND NOT EXISTS (SELECT 1 FROM case_escalation c"
                "                 WHERE c.tenant_id = e.tenant_id AND c.escalation_id = e.id)"))
            return [r[0] for r in rows]
    finally:
        await engine.dispose()


async def _open(tenant_id: uuid.UUID) -> None:
    opened = await service.open_handed_off(tenant_id)
    if opened:
        log.info("tenant %s: %d judicial case(s) opened with their dossiers", tenant_id,
                 len(opened))


@actor("cases.open_for_tenant", max_retries=5)
async def open_for_tenant(tenant: str) -> None:
    """Open the tenant's cases now (the escalation rules may send it after handing files
    off). Idempotent: an escalation a case holds is not picked again."""
    await _open(uuid.UUID(tenant))


@actor("cases.sweep", max_retries=3)
async def sweep() -> None:
    """Every few minutes: the tenants whose rules handed files to court since."""
    for tenant_id in await _tenants_with_uncased_handoffs():
        await _open(tenant_id)


periodic("cases.sweep", every=dt.timedelta(minutes=10))


@actor(export.DELIVER_JOB, max_retries=3)
async def deliver_export(tenant: str, export_id: str) -> None:
    """One attempt at a webhook export, when due; a failed attempt sends this job again
    at the export's next attempt. Idempotent: a delivered or given-up export, or one not
    due yet, is left alone. (Its own retries are for errors of Régua's, not the firm's.)"""
    await export.deliver(uuid.UUID(tenant), uuid.UUID(export_id))


# A delivery message lost with its process (the in-process broker) is found again by its
# next attempt, past due by more than this.
LOST_AFTER = dt.timedelta(minutes=2)


async def _overdue_exports() -> list[tuple[uuid.UUID, uuid.UUID]]:
    engine = owner_engine(get_settings())
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"SET LOCAL ROLE {MAINTENANCE_DB_ROLE}"))
            rows = await conn.execute(text(
                "SELECT tenant_id, id FROM case_export WHERE status = 'sending'"
                " AND next_attempt_at < now() - CAST(:lost AS interval)"), {"lost": LOST_AFTER})
            return [(r[0], r[1]) for r in rows]
    finally:
        await engine.dispose()


@actor("cases.resend_exports", max_retries=3)
async def resend_exports() -> None:
    for tenant_id, export_id in await _overdue_exports():
        with scoped(Scope.tenant(tenant_id)):
            send(export.DELIVER_JOB, str(tenant_id), str(export_id))


periodic("cases.resend_exports", every=dt.timedelta(minutes=5))
