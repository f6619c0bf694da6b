"""Intake jobs, sent by name (core.jobs), and their schedules.

The database is the source of truth: `intake.resume` finds imports whose message was
lost (a worker or the in-process broker died) and sends them again; the import itself
is idempotent, so a duplicate message is harmless.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import logging
import uuid
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

from core.access import access_tenant, transaction
from core.auth.principal import Principal
from core.db import Scope, owner_engine
from core.errors import NotFound
from core.formatting import date_br, decimal_br
from core.jobs import actor, periodic
from core.models import Tenant
from core.runtime import get_storage
from core.settings import MAINTENANCE_DB_ROLE, get_settings
from core.storage_keys import return_report_key
from tenants.intake import pipeline, service

log = logging.getLogger("regua.intake")


@actor("intake.import_portfolio", max_retries=3, time_limit_ms=4 * 60 * 60 * 1000)
def import_portfolio(tenant_id: str, portfolio_id: str) -> None:
    try:
        pipeline.run_import(uuid.UUID(tenant_id), uuid.UUID(portfolio_id))
    except pipeline.PortfolioGone as gone:
        log.warning("dropping import job: %s", gone)  # retrying cannot bring it back


async def _across_tenants(sql: str, **params: object) -> list[Any]:
    """Rows of every tenant, read under the maintenance role (it bypasses RLS)."""
    engine = owner_engine(get_settings())
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"SET LOCAL ROLE {MAINTENANCE_DB_ROLE}"))
            return list(await conn.execute(text(sql), params))
    finally:
        await engine.dispose()


async def _pending() -> list[tuple[uuid.UUID, uuid.UUID]]:
    rows = await _across_tenants("SELECT tenant_id, id FROM portfolio"
                                 " WHERE status IN ('queued', 'running') ORDER BY created_at")
    return [(r[0], r[1]) for r in rows]


@actor("intake.resume", max_retries=1)
async def resume_pending() -> None:
    for tenant_id, portfolio_id in await _pending():
        import_portfolio.send(str(tenant_id), str(portfolio_id))


RETURN_HEADER = ["Contrato", "Parcela", "CPF/CNPJ", "Nome", "Vencimento", "Valor original",
                 "Saldo", "Carteira"]


@actor("intake.return_expired", max_retries=3)
async def return_expired(tenant: str) -> None:
    """Close a tenant's debts whose placement term ended and give the creditor a return
    file (daily, in the small hours of the tenant's day: see the schedule below)."""
    principal = Principal.system(Scope.tenant(uuid.UUID(tenant)))
    async with transaction(principal) as session:
        try:
            tenant_id = await access_tenant(session, principal, uuid.UUID(tenant))
        except NotFound:
            return  # the tenant is gone
        zone = (await session.execute(
            select(Tenant.timezone).where(Tenant.id == tenant_id))).scalar_one()
        today = dt.datetime.now(ZoneInfo(zone)).date()
        ids = await service.expire_placements(session, tenant_id, today)
        if ids:
            rows = (await session.execute(text(
                "SELECT x.portfolio_id, x.contract, x.installment, d.document, d.name,"
                " x.due_date, x.original_amount, x.current_balance"
                " FROM debt x JOIN debtor d ON d.tenant_id = x.tenant_id AND d.id = x.debtor_id"
                " WHERE x.tenant_id = :t AND x.id = ANY(:ids)"
                " ORDER BY x.portfolio_id, x.contract, x.installment"),
                {"t": tenant_id, "ids": ids})).all()
            by_portfolio: dict[uuid.UUID, list[list[str]]] = {}
            for r in rows:
                by_portfolio.setdefault(r[0], []).append(
                    [r[1], str(r[2]), r[3], r[4], date_br(r[5]),
                     decimal_br(r[6], thousands=False), decimal_br(r[7], thousands=False),
                     str(r[0])])
            for portfolio_id, lines in by_portfolio.items():
                buffer = io.StringIO()
                out = csv.writer(buffer, delimiter=";")  # CRLF line ends, as Excel writes
                out.writerow(RETURN_HEADER)
                out.writerows(lines)
                key = return_report_key(tenant_id, portfolio_id, today)
                get_storage().put(key, ("\ufeff" + buffer.getvalue()).encode("utf-8"),
                                  "text/csv")
                await session.execute(text(
                    "UPDATE portfolio SET return_report_key = :k, returned_at = now()"
                    " WHERE tenant_id = :t AND id = :p"),
                    {"k": key, "t": tenant_id, "p": portfolio_id})
            log.info("tenant %s: %d debts returned at the end of their term", tenant_id, len(ids))


async def _tenants_with_stale_uploads() -> list[uuid.UUID]:
    rows = await _across_tenants(
        "SELECT DISTINCT tenant_id FROM portfolio WHERE status = 'uploading'"
        " AND created_at < now() - make_interval(secs => :secs)",
        secs=service.ABANDON_AFTER.total_seconds())
    return [r[0] for r in rows]


@actor("intake.expire_uploads", max_retries=3)
async def expire_uploads() -> None:
    """Uploads whose file never came end as abandoned, so the history does not keep them
    waiting forever."""
    now = dt.datetime.now(dt.UTC)
    for tenant_id in await _tenants_with_stale_uploads():
        async with transaction(Principal.system(Scope.tenant(tenant_id))) as session:
            ended = await service.expire_uploads(session, tenant_id, now)
        log.info("tenant %s: %d abandoned uploads expired", tenant_id, ended)


# The import of a file left behind is found within five minutes; debts whose term ended
# yesterday go back to the creditor in the small hours of the creditor's own day.
periodic("intake.resume", every=dt.timedelta(minutes=5))
periodic("intake.return_expired", daily_at=dt.time(2, 30), per_tenant=True)
periodic("intake.expire_uploads", every=dt.timedelta(hours=1))
