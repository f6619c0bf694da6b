"""Channel jobs: one per message sent, and the day's print file of letters."""

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
from core.jobs import actor, periodic
from core.models import Tenant
from core.runtime import get_storage

log = logging.getLogger("regua.channels")


@actor("channels.deliver", max_retries=3)
async def deliver_message(tenant_id: str, dispatch_id: str) -> None:
    """Send one prepared message (idempotent: a message already handled is skipped)."""
    principal = Principal.system(Scope.tenant(uuid.UUID(tenant_id)))
    async with transaction(principal) as session:
        await service.deliver(session, uuid.UUID(dispatch_id))


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


# Just after midnight in each tenant's zone: the day before is complete.
periodic("channels.print_letters", daily_at=dt.time(0, 30), per_tenant=True)
