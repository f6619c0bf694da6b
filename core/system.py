"""Health, readiness and the audit log API."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.params import FromQuery
from sqlalchemy import text

from core import audit
from core.access import transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.auth.web import requires
from core.db import NO_SCOPE
from core.jobs import ping_broker
from core.runtime import get_db, get_storage


@get("/health", exclude_from_auth=True, sync_to_thread=False, include_in_schema=True)
def health() -> dict[str, str]:
    """The process is up."""
    return {"status": "ok"}


async def _check(name: str, probe: Any) -> tuple[str, str]:
    try:
        await asyncio.wait_for(probe(), timeout=5)
    except Exception as exc:
        return name, f"error: {type(exc).__name__}"
    return name, "ok"


@get("/ready", exclude_from_auth=True)
async def ready() -> Response[dict[str, Any]]:
    """Database, broker and S3 are reachable."""

    async def database() -> None:
        async with get_db().transaction(NO_SCOPE) as session:
            await session.execute(text("SELECT 1"))

    async def storage() -> None:
        await asyncio.to_thread(get_storage().ping)

    async def message_broker() -> None:
        await asyncio.to_thread(ping_broker)

    checks = dict(await asyncio.gather(
        _check("database", database), _check("storage", storage),
        _check("broker", message_broker),
    ))
    ok = all(v == "ok" for v in checks.values())
    return Response({"status": "ok" if ok else "unavailable", "checks": checks},
                    status_code=200 if ok else 503)


class AuditEntry(msgspec.Struct):
    id: uuid.UUID
    seq: int
    tenant_id: uuid.UUID | None
    actor_email: str | None
    action: str
    entity: str | None
    entity_id: str | None
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    created_at: dt.datetime


class AuditController(Controller):
    """The hash-chained audit log, newest first (the caller's tenants only)."""

    path = "/api/v1/audit"
    tags = ["audit"]

    @get("/", guards=[requires(Role.ADMIN, Role.CREDITOR_ADMIN)])
    async def list_entries(self, request: Request[Principal, str, Any],
                           limit: FromQuery[int] = 100) -> list[AuditEntry]:
        """The latest entries (at most 1000): who, which tenant, what, before and after."""
        async with transaction(request.user) as session:
            rows = await audit.recent_entries(session, limit)
            return [AuditEntry(r.id, r.seq, r.tenant_id, r.actor_email, r.action, r.entity,
                               r.entity_id, r.before, r.after, r.created_at) for r in rows]
