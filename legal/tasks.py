"""Agreement jobs: the daily breach check of each tenant."""

from __future__ import annotations

import datetime as dt
import uuid

from core.jobs import actor, periodic
from legal import agreements


@actor("legal.check_breaches", max_retries=3)
async def check_breaches(tenant: str) -> None:
    """Mark overdue installments and break agreements past the tolerance (idempotent: a
    broken agreement is not looked at again)."""
    await agreements.break_overdue(uuid.UUID(tenant))


# Early in the tenant's own day, so that the cadence and the dialer lists of that day
# already include the debts of broken agreements.
periodic("legal.check_breaches", daily_at=dt.time(3, 0), per_tenant=True)
