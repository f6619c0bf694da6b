"""What the `regua` command does as the agency operator (service calls, no rules)."""

from __future__ import annotations

from typing import Any

from core import audit
from core.auth.roles import Role
from core.errors import NotFound
from core.maintenance import operator_scope, verify_chains
from core.runtime import get_db
from tenants import onboarding, users
from tenants.onboarding import tenant_summary

CLI_ACTOR = audit.Actor(id=None, email="cli")


async def create_tenant(name: str, cnpj: str, state: str, trade_name: str | None,
                        timezone: str, slug: str | None) -> dict[str, Any]:
    db = get_db()
    try:
        async with db.transaction(await operator_scope()) as session:
            tenant, _ = await onboarding.create_tenant(
                session, CLI_ACTOR,
                onboarding.NewTenant(legal_name=name, cnpj=cnpj, state=state,
                                     trade_name=trade_name, timezone=timezone, slug=slug),
            )
            return {"id": str(tenant.id), **tenant_summary(tenant)}
    finally:
        await db.dispose()


async def list_tenants() -> list[dict[str, Any]]:
    db = get_db()
    try:
        async with db.transaction(await operator_scope()) as session:
            return [{"id": str(t.id), **tenant_summary(t)}
                    for t in await onboarding.list_tenants(session)]
    finally:
        await db.dispose()


async def create_user(email: str, role: str, tenant_slugs: str | None, name: str,
                      password: str) -> dict[str, Any]:
    db = get_db()
    parsed = Role(role)
    try:
        async with db.transaction(await operator_scope()) as session:
            tenant_ids = [
                (await onboarding.get_tenant_by_slug(session, slug.strip())).id
                for slug in (tenant_slugs or "").split(",") if slug.strip()
            ]
            home = None
            if not parsed.is_agency:
                if len(tenant_ids) != 1:
                    raise NotFound("tenant (use --tenant SLUG)")
                home, tenant_ids = tenant_ids[0], []
            created = await users.add_user(
                session, CLI_ACTOR,
                users.NewUser(email=email, password=password, full_name=name,
                              tenant_ids=tenant_ids),
                tenant_id=home, role=parsed,
            )
            return {"id": str(created.id), **users.user_summary(created)}
    finally:
        await db.dispose()


async def verify_audit(tenant_slug: str | None) -> list[audit.ChainReport]:
    if tenant_slug is None:
        return await verify_chains()
    db = get_db()
    try:
        async with db.transaction(await operator_scope()) as session:
            tenant = await onboarding.get_tenant_by_slug(session, tenant_slug)
    finally:
        await db.dispose()
    return await verify_chains([tenant.id])
