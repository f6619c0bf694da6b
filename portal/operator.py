"""What the `regua` command does as the agency operator (service calls, no rules)."""

from __future__ import annotations

from typing import Any

from core import audit
from core.auth.roles import Role
from core.db import Scope
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


async def import_portfolio(tenant_slug: str, path: str, layout: str | None, mode: str,
                           sheet: str | None, wait_seconds: float = 4 * 3600) -> dict[str, Any]:
    """Upload a local file and run its import to completion (the CLI's code path).

    With the in-process broker the import runs here; with a real broker it is enqueued
    and this waits for a worker to finish it.
    """
    import asyncio
    from concurrent.futures import ThreadPoolExecutor
    from functools import partial
    from pathlib import Path

    from sqlalchemy import select

    from core.jobs import enqueue_after_commit
    from core.models import Portfolio, PortfolioStatus
    from core.runtime import get_storage
    from core.settings import get_settings
    from tenants.intake import pipeline, service
    from tenants.intake.tasks import import_portfolio as import_actor

    file = Path(path)  # click checked that it exists
    db = get_db()
    try:
        async with db.transaction(await operator_scope()) as session:
            tenant = await onboarding.get_tenant_by_slug(session, tenant_slug)
        digest = await asyncio.to_thread(pipeline.sha256_of, file)
        async with db.transaction(Scope.tenant(tenant.id)) as session:
            earlier = (await session.execute(
                select(Portfolio.id).where(
                    Portfolio.tenant_id == tenant.id, Portfolio.file_sha256 == digest,
                    Portfolio.status.in_(("queued", "running", "done")))
            )).scalar_one_or_none()
            portfolio = await service.create_upload(
                session, CLI_ACTOR, tenant.id, file.name, mode=mode, layout_name=layout,
                sheet=sheet,
            )
            if earlier is not None:
                # Recognised before any upload: the same file changes nothing.
                portfolio.status, portfolio.phase = PortfolioStatus.DUPLICATE, "done"
                portfolio.duplicate_of, portfolio.file_sha256 = earlier, digest
        if earlier is None:
            upload = partial(get_storage().upload_file, portfolio.file_key, str(file))
            if get_settings().embedded_broker:
                # The file goes to S3 while the import reads it here, and the import waits
                # for the upload before it commits: a placed portfolio always has its file.
                with ThreadPoolExecutor(1, thread_name_prefix="portfolio-upload") as pool:
                    uploaded = pool.submit(upload)
                    await asyncio.to_thread(pipeline.run_import, tenant.id, portfolio.id, file,
                                            digest, uploaded.result)
            else:
                await asyncio.to_thread(upload)
                async with db.transaction(Scope.tenant(tenant.id)) as session:
                    fresh = await service.get_portfolio(session, portfolio.id, for_update=True)
                    fresh.status, fresh.phase = PortfolioStatus.QUEUED, "queued"
                    enqueue_after_commit(session, import_actor, str(tenant.id), str(fresh.id))
            deadline = asyncio.get_running_loop().time() + wait_seconds
            while True:
                async with db.transaction(Scope.tenant(tenant.id)) as session:
                    portfolio = await service.get_portfolio(session, portfolio.id)
                if portfolio.status not in ("queued", "running"):
                    break
                if asyncio.get_running_loop().time() > deadline:
                    break
                await asyncio.sleep(1)
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
        async with db.transaction(await operator_scope()) as session:
            portfolio = await service.get_portfolio(session, wanted)
        return service.read_report(portfolio, kind)
    finally:
        await db.dispose()


async def score_tenant(tenant_slug: str) -> dict[str, Any]:
    """Compute one tenant's segments and scores now, as its nightly job does."""
    from core.auth.principal import Principal
    from core.scoring.service import refresh_tenant

    db = get_db()
    try:
        async with db.transaction(await operator_scope()) as session:
            tenant = await onboarding.get_tenant_by_slug(session, tenant_slug)
        summary = await refresh_tenant(Principal.system(Scope.tenant(tenant.id)), tenant.id)
        return {"tenant": tenant.slug, **summary.as_json()}
    finally:
        await db.dispose()
