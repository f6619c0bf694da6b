"""Escalation jobs: each tenant's daily run (rules, notices, listings, removals)."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from core.jobs import actor, periodic
from legal.escalation import service

log = logging.getLogger("regua.escalation")


@actor("escalation.run", max_retries=3)
async def run(tenant: str) -> None:
    """Idempotent: a retry finds the day's escalations opened and notices sent, and sends
    again only the remessas the bureau has not answered (under the same numbers)."""
    result = await service.run(uuid.UUID(tenant))
    log.info("escalation run of tenant %s: %s", tenant, result)


# At 09:00 in the tenant's zone: after the breach check (03:00) has reopened the debts of
# broken agreements, and inside the contact window for the notice's SMS.
periodic("escalation.run", daily_at=dt.time(9, 0), per_tenant=True)
