"""What the `regua report` commands do (service calls, no rules)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from core.access import TenantId, access_tenant_slug, transaction
from core.maintenance import operator
from core.runtime import get_db
from reports import monthly
from reports.dashboard import parse_month
from reports.refresh import refresh_tenant


async def _tenant(slug: str) -> TenantId:
    op = await operator()
    async with transaction(op) as session:
        return await access_tenant_slug(session, op, slug)


def _month(text: str) -> dt.date:
    month = parse_month(text, "mes")
    assert month is not None
    return month


async def monthly_pdf(slug: str, month_text: str) -> bytes:
    """The tenant's monthly report as a PDF (its figures refreshed first)."""
    month = _month(month_text)
    db = get_db()
    try:
        tenant_id = await _tenant(slug)
        await refresh_tenant(tenant_id)
        return (await monthly.render_for(tenant_id, month)).pdf
    finally:
        await db.dispose()


async def send_monthly(slug: str, month_text: str) -> list[dict[str, Any]]:
    """E-mail the month's report to the creditor's users who have not had it."""
    month = _month(month_text)
    db = get_db()
    try:
        tenant_id = await _tenant(slug)
        await refresh_tenant(tenant_id)
        return [{"recipient": s.recipient, "status": s.status, "already_sent": s.skipped}
                for s in await monthly.send(tenant_id, month)]
    finally:
        await db.dispose()


async def refresh(slug: str, full: bool) -> dict[str, Any]:
    db = get_db()
    try:
        summary = await refresh_tenant(await _tenant(slug), full=full)
        return {"tenant": slug, "months": summary.count, "debtors_classified":
                summary.classified, "seconds": round(summary.seconds, 2),
                "skipped": summary.skipped}
    finally:
        await db.dispose()
