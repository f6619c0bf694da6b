"""Dialer events for pages: PostgreSQL NOTIFY on one channel, JSON payloads.

The web process LISTENs on `regua_dialer` and forwards each event to the pages of the
payload's tenant (server-sent events). A notification sent inside a transaction is
delivered when it commits, so a page never hears of a row it cannot read yet.

Kinds: `agent_state` (user_id, state, since, reason), `screen_pop` (user_id, call_id,
debtor_id, campaign_id), `call` (call_id, campaign_id, debtor_id, status: dialing,
ringing, answered, bridged, abandoning, ended; outcome and sip_code when ended).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

CHANNEL = "regua_dialer"
# Requests to the dialer processes: {"dialer_id", "call_id"}; the one holding it acts.
HANGUP_CHANNEL = "regua_dialer_hangup"


def _plain(value: Any) -> Any:
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime):
        return value.isoformat()
    return value


async def publish(session: AsyncSession, tenant_id: uuid.UUID, kind: str,
                  **data: Any) -> None:
    payload = {"tenant_id": str(tenant_id), "kind": kind,
               **{k: _plain(v) for k, v in data.items()}}
    await session.execute(text("SELECT pg_notify(:channel, :payload)"),
                          {"channel": CHANNEL, "payload": json.dumps(payload)})


async def request_hangup(session: AsyncSession, dialer_id: str, call_id: uuid.UUID) -> None:
    payload = {"dialer_id": dialer_id, "call_id": str(call_id)}
    await session.execute(text("SELECT pg_notify(:channel, :payload)"),
                          {"channel": HANGUP_CHANNEL, "payload": json.dumps(payload)})


async def listen(tenant_ids: frozenset[uuid.UUID], user_id: uuid.UUID | None = None
                 ) -> AsyncIterator[dict[str, Any]]:
    """Dialer events of `tenant_ids` as they are published; with `user_id`, only the
    events about that agent (its state, its screen pops). One connection per listener,
    held while the page is open."""
    from core.runtime import get_db

    queue: asyncio.Queue[str] = asyncio.Queue()
    tenants = {str(t) for t in tenant_ids}
    async with get_db().app_engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        assert raw is not None

        def heard(_conn: Any, _pid: int, _channel: str, payload: str) -> None:
            queue.put_nowait(payload)

        await raw.add_listener(CHANNEL, heard)
        try:
            while True:
                event = json.loads(await queue.get())
                if event.get("tenant_id") not in tenants:
                    continue
                if user_id is not None and event.get("user_id") != str(user_id):
                    continue
                yield event
        finally:
            await raw.remove_listener(CHANNEL, heard)
