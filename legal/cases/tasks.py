"""Case jobs: open a case for every judicial escalation handed off without one."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from sqlalchemy import text

from core.db import owner_engine
from core.jobs import actor, periodic
from core.settings import MAINTENANCE_DB_ROLE, get_settings
from legal.cases import service

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
