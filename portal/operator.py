"""What the `regua` command does as the agency operator (service calls, no rules)."""

from __future__ import annotations

from typing import Any

from core import audit
from core.access import transaction
from core.auth.roles import Role
from core.errors import NotFound
from core.maintenance import operator, verify_chains
from core.runtime import get_db
from core.settings import get_settings
from tenants import onboarding, users
from tenants.onboarding import tenant_summary

CLI_ACTOR = audit.Actor(id=None, email="cli")


async def create_tenant(name: str, cnpj: str, state: str, trade_name: str | None,
                        timezone: str, slug: str | None) -> dict[str, Any]:
    db = get_db()
    try:
        op = await operator()
        async with transaction(op) as session:
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
        op = await operator()
        async with transaction(op) as session:
            return [{"id": str(t.id), **tenant_summary(t)}
                    for t in await onboarding.list_tenants(session)]
    finally:
        await db.dispose()


async def create_user(email: str, role: str, tenant_slugs: str | None, name: str,
                      password: str) -> dict[str, Any]:
    db = get_db()
    parsed = Role(role)
    try:
        op = await operator()
        async with transaction(op) as session:
            tenant_ids = [
                (await onboarding.get_tenant_by_slug(session, op, slug.strip())).id
                for slug in (tenant_slugs or "").split(",") if slug.strip()
            ]
            home = None
            if not parsed.is_agency:
                if len(tenant_ids) != 1:
                    raise NotFound("credor (informe --tenant SLUG)")
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
        op = await operator()
        async with transaction(op) as session:
            tenant = await onboarding.get_tenant_by_slug(session, op, tenant_slug)
    finally:
        await db.dispose()
    return await verify_chains([tenant.id])


async def import_portfolio(tenant_slug: str, path: str, layout: str | None, mode: str,
                           sheet: str | None) -> dict[str, Any]:
    """Import a local file for the tenant `tenant_slug` and wait for the outcome."""
    from pathlib import Path

    from tenants.intake import service

    db = get_db()
    try:
        op = await operator()
        async with transaction(op) as session:
            tenant = await onboarding.get_tenant_by_slug(session, op, tenant_slug)
        portfolio = await service.import_file(CLI_ACTOR, tenant.id, Path(path), mode=mode,
                                              layout_name=layout, sheet=sheet)
        return portfolio_summary(portfolio)
    finally:
        await db.dispose()


def portfolio_summary(p: Any) -> dict[str, Any]:
    from tenants.intake import counters

    return {
        "portfolio_id": str(p.id), "tenant_id": str(p.tenant_id), "file_name": p.file_name,
        "mode": p.mode, "status": p.status, "error": p.error, **counters.counters_of(p),
        "duplicate_of": str(p.duplicate_of) if p.duplicate_of else None,
        "has_error_report": p.error_report_key is not None,
        "has_warning_report": p.warning_report_key is not None,
    }


async def portfolio_report(portfolio_id: str, kind: str) -> bytes:
    import uuid as _uuid

    from tenants.intake import service

    try:
        wanted = _uuid.UUID(portfolio_id)
    except ValueError:
        raise NotFound(f"carteira {portfolio_id!r}") from None
    db = get_db()
    try:
        op = await operator()
        async with transaction(op) as session:
            checked = await service.access_portfolio(session, op, wanted)
            portfolio = await service.get_portfolio(session, checked)
        return service.read_report(portfolio, kind)
    finally:
        await db.dispose()


async def score_tenant(tenant_slug: str) -> dict[str, Any]:
    """Compute one tenant's segments and scores now, as its nightly job does."""
    from core.auth.principal import Principal
    from core.db import Scope
    from core.scoring.service import refresh_tenant

    db = get_db()
    try:
        op = await operator()
        async with transaction(op) as session:
            tenant = await onboarding.get_tenant_by_slug(session, op, tenant_slug)
        summary = await refresh_tenant(Principal.system(Scope.tenant(tenant.id)), tenant.id)
        return {"tenant": tenant.slug, **summary.as_json()}
    finally:
        await db.dispose()


async def _debtor_by_document(tenant_slug: str, document: str) -> tuple[Any, Any]:
    """(operator principal for the tenant, debtor id) for a debtor's CPF/CNPJ."""
    import re

    from sqlalchemy import select

    from core.auth.principal import Principal
    from core.db import Scope
    from core.models import Debtor

    op = await operator()
    async with transaction(op) as session:
        tenant = await onboarding.get_tenant_by_slug(session, op, tenant_slug)
    principal = Principal.system(Scope.tenant(tenant.id))
    wanted = re.sub(r"[^0-9A-Za-z]", "", document).upper()
    async with transaction(principal) as session:
        debtor_id = (await session.execute(select(Debtor.id).where(
            Debtor.document == wanted))).scalar_one_or_none()
    if debtor_id is None:
        raise NotFound("devedor")
    return principal, debtor_id


async def simulate_agreement(tenant_slug: str, document: str, at: Any) -> dict[str, Any]:
    from legal import simulator

    db = get_db()
    try:
        principal, debtor_id = await _debtor_by_document(tenant_slug, document)
        return (await simulator.simulate(principal, debtor_id, None, at)).as_json()
    finally:
        await db.dispose()


async def _tenant_id(slug: str) -> Any:
    db = get_db()
    try:
        op = await operator()
        async with transaction(op) as session:
            return (await onboarding.get_tenant_by_slug(session, op, slug)).id
    finally:
        await db.dispose()


async def create_agreement(tenant_slug: str, document: str, option: int,
                           at: Any) -> dict[str, Any]:
    from legal import agreements

    db = get_db()
    try:
        principal, debtor_id = await _debtor_by_document(tenant_slug, document)
        created = await agreements.create(principal, debtor_id, option, None, at)
        return {"agreement_id": str(created.agreement_id), "status": created.status,
                "approval": created.approval_level}
    finally:
        await db.dispose()


async def load_cadence(tenant_slug: str, path: str, activate: bool) -> dict[str, Any]:
    import asyncio
    from pathlib import Path

    from core.access import TenantId
    from core.auth.principal import Principal
    from core.cadence import service
    from core.db import Scope

    tenant_id = await _tenant_id(tenant_slug)
    principal = Principal.system(Scope.tenant(tenant_id))
    source = await asyncio.to_thread(Path(path).read_text, encoding="utf-8")
    try:
        async with transaction(principal) as session:
            loaded = await service.load(session, principal, TenantId(tenant_id), source,
                                        activate=activate)
        return loaded.as_json()
    finally:
        await get_db().dispose()


async def export_cadence(tenant_slug: str, name: str | None) -> str:
    from core.access import TenantId
    from core.auth.principal import Principal
    from core.cadence import service
    from core.db import Scope

    tenant_id = await _tenant_id(tenant_slug)
    try:
        async with transaction(Principal.system(Scope.tenant(tenant_id))) as session:
            return await service.export(session, TenantId(tenant_id), name)
    finally:
        await get_db().dispose()


async def run_cadence(tenant_slug: str, day: Any, dry_run: bool) -> dict[str, Any]:
    from core.auth.principal import Principal
    from core.cadence import service
    from core.db import Scope
    from portal.jobs import load_tasks

    load_tasks()  # the run sends `cadence.dispatch` after commit
    tenant_id = await _tenant_id(tenant_slug)
    try:
        summary = await service.run_day(Principal.system(Scope.tenant(tenant_id)), tenant_id,
                                        day, dry_run=dry_run)
        return summary.as_json()
    finally:
        await get_db().dispose()


async def load_indexes(text: str) -> dict[str, Any]:
    from legal import indexes

    return await indexes.load(text)


async def run_escalation(tenant_slug: str, day: Any) -> dict[str, Any]:
    """The tenant's escalation day. With no bureau or message providers configured, the
    local sandboxes answer for the duration of the command (what they received stays in
    the state folder, where `regua up`'s pages read it)."""
    from core.channels import sandbox as channel_sandbox
    from legal.escalation import bureau_sandbox, service
    from portal.jobs import load_tasks

    load_tasks()
    tenant_id = await _tenant_id(tenant_slug)
    settings = get_settings()
    started: list[Any] = []
    if settings.bureau_url is None and settings.bureau_sandbox_url is None:
        started.append(bureau_sandbox.start(settings))
    if settings.sandbox_url is None and settings.sandbox_smtp_port is None:
        started.append(channel_sandbox.start(
            settings, settings.public_url or f"http://{settings.host}:{settings.port}"))
    try:
        return await service.run(tenant_id, day)
    finally:
        for running in started:
            if running is not None:
                running.stop()
        await get_db().dispose()


async def recording_retention(tenant_slug: str, days: int | None,
                              purge: bool) -> dict[str, Any]:
    """A tenant's call-recording period: shown, set (`days`), and applied now (`purge`)."""
    from core.access import access_tenant
    from core.auth.principal import Principal
    from core.db import Scope
    from dialer import recordings

    db = get_db()
    try:
        op = await operator()
        async with transaction(op) as session:
            tenant = await onboarding.get_tenant_by_slug(session, op, tenant_slug)
        principal = Principal.system(Scope.tenant(tenant.id))
        async with transaction(principal) as session:
            checked = await access_tenant(session, principal, tenant.id)
            if days is not None:
                await recordings.set_retention(session, principal, checked, days)
            kept = await recordings.retention_days(session, tenant.id)
            deleted = await recordings.purge(session, tenant.id) if purge else None
        return {"tenant": tenant.slug, "retention_days": kept, "deleted": deleted}
    finally:
        await db.dispose()


async def fee_contract(tenant_slug: str, changes: dict[str, Any] | None) -> dict[str, Any]:
    """The tenant's fee contract; with `changes`, those fields replaced first (`bands`
    replaces every band)."""
    from core.auth.principal import Principal
    from core.db import Scope
    from legal import fees

    tenant_id = await _tenant_id(tenant_slug)
    principal = Principal.system(Scope.tenant(tenant_id))
    try:
        current = await fees.read(principal, tenant_id)
        if changes:
            current = await fees.save(principal, tenant_id, {**current, **changes})
        return {"tenant": tenant_slug, **current}
    finally:
        await get_db().dispose()
