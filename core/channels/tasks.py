"""Channel jobs: one per message sent, the sweep of messages whose moment has come, and
the day's print file of letters."""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.access import transaction
from core.auth.principal import Principal
from core.channels import letters, service
from core.db import Scope
from core.jobs import actor, enqueue_after_commit, periodic
from core.maintenance import tenants_where
from core.models import Tenant
from core.runtime import get_storage

log = logging.getLogger("regua.channels")


@actor("channels.deliver", max_retries=3)
async def deliver_message(tenant_id: str, dispatch_id: str) -> None:
    """Send one prepared message (idempotent: a message already handled is skipped)."""
    principal = Principal.system(Scope.tenant(uuid.UUID(tenant_id)))
    async with transaction(principal) as session:
        await service.deliver(session, uuid.UUID(dispatch_id))


@actor("channels.send_due", max_retries=3)
async def send_due() -> None:
    """Every few minutes: send the waiting messages whose moment has come (their delayed
    job may have been lost with a process)."""
    for tenant_id in await tenants_where(
            "SELECT DISTINCT tenant_id FROM message_dispatch WHERE status = 'queued'"
            " AND interaction_id IS NULL AND not_before IS NOT NULL AND not_before <= now()"):
        async with transaction(Principal.system(Scope.tenant(tenant_id))) as session:
            for dispatch_id in await service.due(session, dt.datetime.now(dt.UTC)):
                enqueue_after_commit(session, "channels.deliver", str(tenant_id),
                                     str(dispatch_id))


@actor("channels.print_letters", max_retries=3)
async def print_letters(tenant_id: str, day: str | None = None) -> None:
    """The tenant's print file and manifest for `day` (YYYY-MM-DD; by default yesterday
    in the tenant's zone, whose letters are all sent); safe to rerun."""
    tenant = uuid.UUID(tenant_id)
    principal = Principal.system(Scope.tenant(tenant))
    async with transaction(principal) as session:
        if day is None:
            zone = (await session.execute(select(Tenant.timezone).where(
                Tenant.id == tenant))).scalar_one()
            when = dt.datetime.now(ZoneInfo(zone)).date() - dt.timedelta(days=1)
        else:
            when = dt.date.fromisoformat(day)
        batch = await letters.batch_day(session, get_storage(), tenant, when)
    log.info("tenant %s: print file of %s: %d letters", tenant, when, batch.letters)


periodic("channels.send_due", every=dt.timedelta(minutes=10))
# Just after midnight in each tenant's zone: the day before is complete.
periodic("channels.print_letters", daily_at=dt.time(0, 30), per_tenant=True)
