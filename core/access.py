"""Access helpers: the one way a request, job or command reaches a tenant's resource.

`access_<thing>(session, principal, id)` checks existence and permission together and
answers "não encontrado" for both, so nobody learns that another tenant's resource
exists. It returns a typed id (`NewType`) that the services taking that resource
require: an id that did not pass through a helper does not type-check. Row-level
security stays underneath as the last wall.

`transaction(principal)` is the one way to get a tenant-scoped session for a principal:
a request's user, `Principal.system(scope)` in a job or a command.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any, NewType

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.auth.principal import Principal
from core.errors import NotFound
from core.models import ContactPoint, Debt, Debtor, Hold, Tenant, User
from core.runtime import get_db

TenantId = NewType("TenantId", uuid.UUID)
DebtorId = NewType("DebtorId", uuid.UUID)
DebtId = NewType("DebtId", uuid.UUID)
ContactPointId = NewType("ContactPointId", uuid.UUID)
HoldId = NewType("HoldId", uuid.UUID)
UserId = NewType("UserId", uuid.UUID)


@asynccontextmanager
async def transaction(principal: Principal) -> AsyncIterator[AsyncSession]:
    """One transaction seeing exactly what `principal` may see; commits on success."""
    async with get_db().transaction(principal.scope) as session:
        session.info["principal"] = principal
        yield session


async def tenant_of(session: AsyncSession, model: Any, row_id: uuid.UUID,
                    principal: Principal, what: str) -> uuid.UUID:
    """The tenant of `model`'s row `row_id` when `principal` may work it; else NotFound
    (`what` names the thing): the one check behind every `access_<thing>` helper."""
    tenant_id = (await session.execute(
        select(model.tenant_id).where(model.id == row_id).limit(1)
    )).scalar_one_or_none()
    if tenant_id is None or not principal.may_work(tenant_id):
        raise NotFound(what)
    return tenant_id  # type: ignore[no-any-return]


async def access_tenant(session: AsyncSession, principal: Principal,
                        tenant_id: uuid.UUID) -> TenantId:
    # A tenant row is its own tenant: it has an id, no tenant_id.
    found = (await session.execute(
        select(Tenant.id).where(Tenant.id == tenant_id))).scalar_one_or_none()
    if found is None or not principal.may_work(tenant_id):
        raise NotFound("credor")
    return TenantId(tenant_id)


async def access_tenant_slug(session: AsyncSession, principal: Principal,
                             slug: str) -> TenantId:
    """`access_tenant` for a tenant named by its slug (an operator's command argument)."""
    found = (await session.execute(
        select(Tenant.id).where(Tenant.slug == slug))).scalar_one_or_none()
    if found is None:
        raise NotFound("credor")
    return await access_tenant(session, principal, found)


async def access_user(session: AsyncSession, principal: Principal,
                      user_id: uuid.UUID) -> UserId:
    # A creditor's user belongs to its tenant; agency staff (no tenant) are seen by
    # agency staff only.
    row = (await session.execute(select(User.tenant_id).where(User.id == user_id))).first()
    if row is None or not (principal.role.is_agency if row.tenant_id is None
                           else principal.may_work(row.tenant_id)):
        raise NotFound("usuário")
    return UserId(user_id)


async def access_debtor(session: AsyncSession, principal: Principal,
                        debtor_id: uuid.UUID) -> DebtorId:
    await tenant_of(session, Debtor, debtor_id, principal, "devedor")
    return DebtorId(debtor_id)


async def access_debt(session: AsyncSession, principal: Principal,
                      debt_id: uuid.UUID) -> DebtId:
    await tenant_of(session, Debt, debt_id, principal, "título")
    return DebtId(debt_id)


async def access_contact_point(session: AsyncSession, principal: Principal,
                               contact_point_id: uuid.UUID) -> ContactPointId:
    await tenant_of(session, ContactPoint, contact_point_id, principal, "contato")
    return ContactPointId(contact_point_id)


async def access_hold(session: AsyncSession, principal: Principal,
                      hold_id: uuid.UUID) -> HoldId:
    await tenant_of(session, Hold, hold_id, principal, "bloqueio")
    return HoldId(hold_id)
