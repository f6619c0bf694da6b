"""Dialer events for pages: PostgreSQL NOTIFY on one channel, JSON payloads.

The web process LISTENs on `regua_dialer` and forwards each event to the pages of the
payload's tenant (server-sent events). A notification sent inside a transaction is
delivered when it commits, so a page never hears of a row it cannot read yet.

Kinds: `agent_state` (user_id, state, since, reason), `screen_pop` (user_id, call_id,
debtor_id, campaign_id), `call` (call_id, campaign_id, debtor_id, status: dialing,
ringing, answered, bridged, abandoning, ended; outcome and sip_code when ended).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
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
