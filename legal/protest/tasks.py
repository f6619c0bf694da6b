"""Protest jobs: each morning, the authorisation to cancel (or the desistência) for the
protested titles whose debts were paid."""

from __future__ import annotations

import datetime as dt
import uuid

from core.access import TenantId
from core.jobs import actor, periodic
from legal.protest import service


@actor("protest.authorize_cancellations", max_retries=3)
async def authorize_cancellations(tenant: str) -> None:
    """Idempotent: a title in `cancellation_sent` is not looked at again, and one file of
    each kind is made per tenant and day."""
    await service.authorize_cancellations(TenantId(uuid.UUID(tenant)))


# After the breach check (03:00) and the night's bank returns, before the legal team's day.
periodic("protest.authorize_cancellations", daily_at=dt.time(6, 0), per_tenant=True)
