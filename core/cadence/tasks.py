"""Cadence jobs: the daily plan per tenant at its local hour, the sends, the sweep."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from core.access import TenantId, transaction
from core.auth.principal import Principal
from core.cadence import actions, engine
from core.db import Scope
from core.jobs import actor, enqueue_after_commit, periodic
from core.maintenance import tenants_where

log = logging.getLogger("regua.cadence")


def _system(tenant_id: uuid.UUID) -> Principal:
    return Principal.system(Scope.tenant(tenant_id))


@actor("cadence.run", max_retries=3)
async def run_tenant(tenant: str, day: str | None = None) -> None:
    """Plan the tenant's day (today in its zone by default); safe to rerun."""
    tenant_id = uuid.UUID(tenant)
    async with transaction(_system(tenant_id)) as session:
        when = dt.date.fromisoformat(day) if day else await engine.local_today(session,
                                                                                 tenant_id)
        summary = await engine.run(session, TenantId(tenant_id), when)
        enqueue_after_commit(session, "cadence.dispatch", tenant, when.isoformat())
    log.info("tenant %s: cadence %s: %d actions (%d new) for %d debtors", tenant_id, when,
             summary.actions, summary.added, summary.debtors)


@actor("cadence.dispatch", max_retries=3)
async def dispatch(tenant: str, day: str) -> None:
    """Send the day's planned messages whose window is open now, one job each."""
    tenant_id = uuid.UUID(tenant)
    async with transaction(_system(tenant_id)) as session:
        ids = await actions.due_for_sending(session, tenant_id, dt.date.fromisoformat(day),
                                            dt.datetime.now(dt.UTC))
        for action_id in ids:
            enqueue_after_commit(session, "cadence.send", tenant, str(action_id))


@actor("cadence.send", max_retries=3)
async def send_action(tenant: str, action_id: str) -> None:
    tenant_id = uuid.UUID(tenant)
    async with transaction(_system(tenant_id)) as session:
        for follow in await actions.send(session, uuid.UUID(action_id)):
            enqueue_after_commit(session, "cadence.send", tenant, str(follow))


async def _tenants_with_open_actions() -> list[uuid.UUID]:
    return await tenants_where(
        "SELECT DISTINCT tenant_id FROM cadence_action"
        " WHERE state IN ('planned', 'sent', 'delivered') AND day >= CAST(now() AS date) - 10")


@actor("cadence.sweep", max_retries=3)
async def sweep() -> None:
    """Every few minutes: send what became due (a window that opened, a job lost with a
    process), follow the providers' reports (fallbacks), expire what waited too long."""
    for tenant_id in await _tenants_with_open_actions():
        tenant = str(tenant_id)
        async with transaction(_system(tenant_id)) as session:
            today = await engine.local_today(session, tenant_id)
            for follow in await actions.sweep(session, tenant_id, today):
                enqueue_after_commit(session, "cadence.send", tenant, str(follow))
            enqueue_after_commit(session, "cadence.dispatch", tenant, today.isoformat())


# The day's plan at 07:00 in each tenant's zone: the messages go as each debtor's window
# opens (08:00 in most states); the sweep picks up what waits for a later opening.
periodic("cadence.run", daily_at=dt.time(7, 0), per_tenant=True)
periodic("cadence.sweep", every=dt.timedelta(minutes=10))
