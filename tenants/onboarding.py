"""Creditor onboarding: create, edit, list, deactivate and reactivate tenants."""

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
from core.access import access_tenant, access_tenant_slug
from core.addresses import UF_CODES
from core.auth.principal import Principal
from core.auth.roles import Role
from core.db import include_in_scope
from core.documents import normalize_cnpj
from core.errors import Conflict, ValidationFailed, too_long
from core.ids import uuid7
from core.models import ApiToken, Tenant, TenantStatus, User
from core.settings import get_settings
from tenants.users import NewUser, add_user, email_taken, validate_new_user

# The first admin's fields as the tenant form and TenantCreate name them.
ADMIN_FIELDS = {"email": "admin_email", "password": "admin_password",
                "full_name": "admin_name"}


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


@dataclass(frozen=True)
class TenantChanges:
    """What an edit may change (the CNPJ and the identifier stay); None keeps a field."""

    legal_name: str | None = None
    trade_name: str | None = None
    address: str | None = None
    state: str | None = None
    timezone: str | None = None


def _check_text(errors: dict[str, str], legal_name: str | None, trade_name: str | None,
                address: str | None) -> None:
    if legal_name is not None and not legal_name.strip():
        errors["legal_name"] = "informe a razão social"
    errors.update(too_long(Tenant, {"legal_name": legal_name and legal_name.strip(),
                                    "trade_name": trade_name and trade_name.strip(),
                                    "address": address and address.strip()}))


def _check_state(errors: dict[str, str], value: str) -> str:
    state = value.strip().upper()
    if state not in UF_CODES:
        errors["state"] = f"UF inválida: {value[:40]!r}"
    return state


def _check_timezone(errors: dict[str, str], value: str) -> None:
    try:
        ZoneInfo(value)
        if not value.startswith(("America/", "Brazil/")):
            errors["timezone"] = f"fuso horário fora do Brasil: {value!r}"
    except (ZoneInfoNotFoundError, ValueError):
        errors["timezone"] = f"fuso horário desconhecido: {value[:64]!r}"


def _validate(data: NewTenant) -> tuple[dict[str, str], str | None, str]:
    errors: dict[str, str] = {}
    cnpj = normalize_cnpj(data.cnpj)
    if cnpj is None:
        errors["cnpj"] = f"CNPJ inválido: {data.cnpj[:40]!r}"
    _check_text(errors, data.legal_name, data.trade_name, data.address)
    state = _check_state(errors, data.state)
    _check_timezone(errors, data.timezone)
    if data.slug is not None and not re.fullmatch(r"[a-z0-9][a-z0-9-]{0,62}", data.slug):
        errors["slug"] = "use letras minúsculas, números e hífens (até 63)"
    return errors, cnpj, state


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
    """Create a creditor tenant (and its first creditor admin) in the caller's transaction.

    Errors name the fields as `TenantCreate` and the tenant form do: the first admin's
    are `admin_email`, `admin_password` and `admin_name`.
    """
    errors, cnpj, state = _validate(data)
    if first_admin is not None:
        admin_errors = validate_new_user(first_admin)
        errors.update({ADMIN_FIELDS.get(k, k): v for k, v in admin_errors.items()})
    if errors:
        raise ValidationFailed(errors)
    assert cnpj is not None
    who = actor.actor if isinstance(actor, Principal) else actor
    conflicts: dict[str, str] = {}
    if (await session.execute(text("SELECT regua_cnpj_taken(:c)"), {"c": cnpj})).scalar():
        conflicts["cnpj"] = "já existe um credor com este CNPJ"
    slug = data.slug or await _unique_slug(session, slugify(data.trade_name or data.legal_name))
    if data.slug and (
        await session.execute(text("SELECT regua_slug_taken(:s)"), {"s": slug})
    ).scalar():
        conflicts["slug"] = "identificador já usado"
    if first_admin is not None and await email_taken(session, first_admin.email):
        conflicts["admin_email"] = "já existe um usuário com este e-mail"
    if conflicts:
        raise Conflict(conflicts)
    tenant = Tenant(
        id=uuid7(),
        slug=slug,
        legal_name=data.legal_name.strip(),
        trade_name=(data.trade_name or data.legal_name).strip(),
        cnpj=cnpj,
        timezone=data.timezone,
        state=state,
        address=data.address.strip() if data.address else None,
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
        "address": tenant.address, "status": tenant.status,
    }


async def list_tenants(session: AsyncSession) -> list[Tenant]:
    """Every tenant the session's scope allows (RLS does the filtering)."""
    return list((await session.execute(select(Tenant).order_by(Tenant.trade_name))).scalars())


async def get_tenant(session: AsyncSession, principal: Principal,
                     tenant_id: uuid.UUID) -> Tenant:
    checked = await access_tenant(session, principal, tenant_id)
    return (await session.execute(select(Tenant).where(Tenant.id == checked))).scalar_one()


async def get_tenant_by_slug(session: AsyncSession, principal: Principal, slug: str) -> Tenant:
    """The tenant an operator names by its slug (a command's argument)."""
    checked = await access_tenant_slug(session, principal, slug)
    return (await session.execute(select(Tenant).where(Tenant.id == checked))).scalar_one()


async def deactivate_tenant(session: AsyncSession, actor: Principal,
                            tenant_id: uuid.UUID) -> Tenant:
    """Users of the tenant can no longer log in; its data is kept."""
    tenant = await get_tenant(session, actor, tenant_id)
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


async def update_tenant(session: AsyncSession, actor: Principal, tenant_id: uuid.UUID,
                        changes: TenantChanges) -> Tenant:
    """Edit a tenant's names, address, state or time zone; audited with before/after."""
    tenant = await get_tenant(session, actor, tenant_id)
    errors: dict[str, str] = {}
    _check_text(errors, changes.legal_name, changes.trade_name, changes.address)
    state = _check_state(errors, changes.state) if changes.state is not None else tenant.state
    if changes.timezone is not None:
        _check_timezone(errors, changes.timezone)
    if errors:
        raise ValidationFailed(errors)
    before = tenant_summary(tenant)
    if changes.legal_name is not None:
        tenant.legal_name = changes.legal_name.strip()
    if changes.trade_name is not None:
        # An emptied trade name falls back to the legal name, as at creation.
        tenant.trade_name = changes.trade_name.strip() or tenant.legal_name
    if changes.address is not None:
        tenant.address = changes.address.strip() or None
    tenant.state = state
    if changes.timezone is not None:
        tenant.timezone = changes.timezone
    after = tenant_summary(tenant)
    if after != before:
        await session.flush()
        await audit.record(session, actor.actor, "tenant.updated", tenant_id=tenant.id,
                           entity="tenant", entity_id=tenant.id, before=before, after=after)
    return tenant


async def reactivate_tenant(session: AsyncSession, actor: Principal,
                            tenant_id: uuid.UUID) -> Tenant:
    """Its users (those still active) may log in again."""
    tenant = await get_tenant(session, actor, tenant_id)
    if tenant.status == TenantStatus.ACTIVE:
        return tenant
    before = tenant_summary(tenant)
    tenant.status = TenantStatus.ACTIVE
    tenant.deactivated_at = None
    await session.flush()
    await audit.record(session, actor.actor, "tenant.reactivated", tenant_id=tenant.id,
                       entity="tenant", entity_id=tenant.id, before=before,
                       after=tenant_summary(tenant))
    return tenant


async def viewer_timezone(session: AsyncSession, principal: Principal) -> str:
    """The zone a person reads times in: its tenant's, or the agency's for agency staff."""
    if principal.tenant_id is not None:
        tenant = await session.get(Tenant, principal.tenant_id)
        if tenant is not None:
            return tenant.timezone
    return get_settings().default_timezone
