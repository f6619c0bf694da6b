"""Dialer jobs: the nightly purge of each tenant's call recordings past its period."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from core.access import transaction
from core.auth.principal import Principal
from core.db import Scope
from core.jobs import actor, periodic
from dialer import recordings

log = logging.getLogger("regua.dialer")


@actor("dialer.purge_recordings", max_retries=3)
async def purge_recordings(tenant: str) -> None:
    """Delete the tenant's expired recordings from S3 and mark their calls; safe to rerun."""
    tenant_id = uuid.UUID(tenant)
    async with transaction(Principal.system(Scope.tenant(tenant_id))) as session:
        deleted = await recordings.purge(session, tenant_id)
    log.info("tenant %s: %d call recordings past retention deleted", tenant_id, deleted)


# At 03:00 in each tenant's zone, when no call is being recorded.
periodic("dialer.purge_recordings", daily_at=dt.time(3, 0), per_tenant=True)
