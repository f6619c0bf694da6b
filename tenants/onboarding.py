"""Creditor onboarding: create, list and deactivate tenants, with their first admin."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.addresses import UF_CODES
from core.auth.principal import Principal
from core.auth.roles import Role
from core.db import include_in_scope
from core.documents import normalize_cnpj
from core.errors import Conflict, NotFound, ValidationFailed
from core.ids import uuid7
from core.models import ApiToken, Tenant, TenantStatus, User
from tenants.users import NewUser, add_user


@dataclass(frozen=True)
class NewTenant:
    legal_name: str
    cnpj: str
    state: str
    trade_name: str | None = None
    timezone: str = "America/Sao_Paulo"
    address: str | None = None
    slug: str | None = None


def slugify(name: str) -> str:
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_name.lower()).strip("-")
    return slug[:50] or "credor"


def _validate(data: NewTenant) -> tuple[str, str]:
    errors: dict[str, str] = {}
    cnpj = normalize_cnpj(data.cnpj)
    if cnpj is None:
        errors["cnpj"] = f"CNPJ inválido: {data.cnpj!r}"
    if not data.legal_name.strip():
        errors["legal_name"] = "informe a razão social"
    state = data.state.strip().upper()
    if state not in UF_CODES:
        errors["state"] = f"UF inválida: {data.state!r}"
    try:
        ZoneInfo(data.timezone)
        if not data.timezone.startswith(("America/", "Brazil/")):
            errors["timezone"] = f"fuso horário fora do Brasil: {data.timezone!r}"
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = f"fuso horário desconhecido: {data.timezone!r}"
    if data.slug is not None and not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", data.slug):
        errors["slug"] = "use letras minúsculas, números e hífens"
    if errors:
        raise ValidationFailed(errors)
    assert cnpj is not None
    return cnpj, state


async def _unique_slug(session: AsyncSession, base: str) -> str:
    # Slugs are global; an agency-scope session sees only its tenants, so ask a
    # function that answers "taken or not" without revealing anything else.
    candidate, n = base, 1
    while (await session.execute(text("SELECT regua_slug_taken(:s)"), {"s": candidate})).scalar():
        n += 1
        candidate = f"{base}-{n}"
    return candidate


async def create_tenant(
    session: AsyncSession,
    actor: Principal | audit.Actor,
    data: NewTenant,
    first_admin: NewUser | None = None,
) -> tuple[Tenant, User | None]:
    """Create a creditor tenant (and its first creditor admin) in the caller's transaction."""
    cnpj, state = _validate(data)
    who = actor.actor if isinstance(actor, Principal) else actor
    taken = (await session.execute(text("SELECT regua_cnpj_taken(:c)"), {"c": cnpj})).scalar()
    if taken:
        raise Conflict({"cnpj": "já existe um credor com este CNPJ"})
    slug = data.slug or await _unique_slug(session, slugify(data.trade_name or data.legal_name))
    if data.slug and (
        await session.execute(text("SELECT regua_slug_taken(:s)"), {"s": slug})
    ).scalar():
        raise Conflict({"slug": "identificador já usado"})
    tenant = Tenant(
        id=uuid7(),
        slug=slug,
        legal_name=data.legal_name.strip(),
        trade_name=(data.trade_name or data.legal_name).strip(),
        cnpj=cnpj,
        timezone=data.timezone,
        state=state,
        address=data.address,
        status=TenantStatus.ACTIVE,
    )
    # The new tenant joins this transaction's scope before it is written, so the row
    # (and the first rows that belong to it) pass the RLS checks.
    await include_in_scope(session, tenant.id)
    session.add(tenant)
    await session.flush()
    await audit.record(session, who, "tenant.created", tenant_id=tenant.id, entity="tenant",
                       entity_id=tenant.id, after=tenant_summary(tenant))
    user = None
    if first_admin is not None:
        user = await add_user(session, who, first_admin, tenant_id=tenant.id,
                              role=Role.CREDITOR_ADMIN)
    return tenant, user


def tenant_summary(tenant: Tenant) -> dict[str, object]:
    return {
        "slug": tenant.slug, "legal_name": tenant.legal_name, "trade_name": tenant.trade_name,
        "cnpj": tenant.cnpj, "state": tenant.state, "timezone": tenant.timezone,
        "status": tenant.status,
    }


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    """Every tenant the session's scope allows (RLS does the filtering)."""
    return list((await session.execute(select(Tenant).order_by(Tenant.trade_name))).scalars())


async def get_tenant(session: AsyncSession, tenant_id: uuid.UUID) -> Tenant:
    tenant = await session.get(Tenant, tenant_id)
    if tenant is None:
        raise NotFound("tenant")
    return tenant


async def get_tenant_by_slug(session: AsyncSession, slug: str) -> Tenant:
    tenant = (await session.execute(select(Tenant).where(Tenant.slug == slug))).scalar_one_or_none()
    if tenant is None:
        raise NotFound("tenant")
    return tenant


async def deactivate_tenant(session: AsyncSession, actor: Principal,
                            tenant_id: uuid.UUID) -> Tenant:
    """Users of the tenant can no longer log in; its data is kept."""
    tenant = await get_tenant(session, tenant_id)
    if tenant.status == TenantStatus.INACTIVE:
        return tenant
    before = tenant_summary(tenant)
    tenant.status = TenantStatus.INACTIVE
    tenant.deactivated_at = dt.datetime.now(dt.UTC)
    # End open sessions of the tenant's users now rather than at their expiry.
    users = select(User.id).where(User.tenant_id == tenant.id).scalar_subquery()
    await session.execute(delete(ApiToken).where(ApiToken.user_id.in_(users)))
    await audit.record(session, actor.actor, "tenant.deactivated", tenant_id=tenant.id,
                       entity="tenant", entity_id=tenant.id, before=before,
                       after=tenant_summary(tenant))
    return tenant
