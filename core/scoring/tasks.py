"""Scoring jobs: a tenant's refresh (after each import, and nightly at the tenant's hour)
and the weekly training. Each is idempotent: a rerun computes the same scores again."""

from __future__ import annotations

import datetime as dt
import logging
import uuid

from core.auth.principal import Principal
from core.db import Scope
from core.jobs import actor, periodic
from core.scoring import service

log = logging.getLogger("regua.scoring")


def _system(tenant_id: uuid.UUID) -> Principal:
    return Principal.system(Scope.tenant(tenant_id))


@actor("scoring.refresh_tenant", max_retries=3)
async def refresh_tenant(tenant_id: str) -> None:
    tid = uuid.UUID(tenant_id)
    summary = await service.refresh_tenant(_system(tid), tid)
    log.info("scored %d debtors of tenant %s (%s)", summary.debtors, tid, summary.method)


@actor("scoring.train_tenant", max_retries=1)
async def train_tenant(tenant_id: str) -> None:
    tid = uuid.UUID(tenant_id)
    result, _ = await service.train_tenant(_system(tid), tid)
    log.info("scoring model of tenant %s: %s", tid, result.note)


# Nightly for every tenant at its own hour (and after each import), weekly training.
periodic("scoring.refresh_tenant", daily_at=dt.time(5, 30), per_tenant=True)
periodic("scoring.train_all", every=dt.timedelta(days=7))


@actor("scoring.train_all", max_retries=1)
async def train_all() -> None:
    from core.maintenance import all_tenant_ids

    for tenant_id in await all_tenant_ids():
        train_tenant.send(str(tenant_id))
