"""Access helper for agreements (see core.access): the typed id every agreement service,
the slips and the self-service pages take."""

from __future__ import annotations

import uuid
from typing import NewType

from sqlalchemy.ext.asyncio import AsyncSession

from core.access import tenant_of
from core.auth.principal import Principal
from legal.models import Agreement

AgreementId = NewType("AgreementId", uuid.UUID)


async def access_agreement(session: AsyncSession, principal: Principal,
                           agreement_id: uuid.UUID) -> AgreementId:
    await tenant_of(session, Agreement, agreement_id, principal, "acordo")
    return AgreementId(agreement_id)
