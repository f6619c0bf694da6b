"""Channel jobs: one per message sent, and the day's print file of letters."""

from __future__ import annotations

import datetime as dt
import uuid

from core.access import transaction
from core.auth.principal import Principal
from core.channels import letters, service
from core.db import Scope
from core.jobs import actor
from core.runtime import get_storage


@actor("channels.deliver", max_retries=3)
async def deliver_message(tenant_id: str, dispatch_id: str) -> None:
    """Send one prepared message (idempotent: a message already handled is skipped)."""
    principal = Principal.system(Scope.tenant(uuid.UUID(tenant_id)))
    async with transaction(principal) as session:
        await service.deliver(session, uuid.UUID(dispatch_id))


@actor("channels.print_letters", max_retries=3)
async def print_letters(tenant_id: str, day: str) -> None:
    """The tenant's print file and manifest for `day` (YYYY-MM-DD); safe to rerun."""
    principal = Principal.system(Scope.tenant(uuid.UUID(tenant_id)))
    async with transaction(principal) as session:
        await letters.batch_day(session, get_storage(), uuid.UUID(tenant_id),
                                dt.date.fromisoformat(day))
