"""What the `regua protest` commands do (service calls, no rules)."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from core.access import TenantId, transaction
from core.maintenance import operator
from core.runtime import get_db
from legal.protest import layout, service
from tenants import onboarding


async def remessa(tenant_slug: str, day: dt.date | None, out: str) -> dict[str, Any]:
    db = get_db()
    try:
        op = await operator()
        async with transaction(op) as session:
            tenant = await onboarding.get_tenant_by_slug(session, op, tenant_slug)
        day = day or dt.datetime.now(ZoneInfo(tenant.timezone)).date()
        result = await service.write_remessa(TenantId(tenant.id), day)
        written = None
        if result.file:
            await asyncio.to_thread(Path(out).write_bytes, result.content)
            written = out
        return {**result.as_json(), "out": written}
    finally:
        await db.dispose()


async def import_return(path: str, data: bytes) -> dict[str, Any]:
    db = get_db()
    try:
        principal = await operator()
        try:
            report = await service.import_return(principal, data, Path(path).name)
        except layout.LayoutError as exc:
            return {"file": Path(path).name, "error": str(exc)}
        return report.as_json()
    finally:
        await db.dispose()
