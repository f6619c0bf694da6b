"""Scoring jobs: a tenant's refresh (after each import, and nightly for every tenant) and
its weekly training. Each is idempotent: a rerun computes the same scores again."""

from __future__ import annotations

import logging
import uuid

from core.auth.principal import Principal
from core.db import Scope
from core.jobs import actor
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


async def _tenants() -> list[uuid.UUID]:
    from core.maintenance import all_tenant_ids  # maintenance schedules these jobs

    return await all_tenant_ids()


@actor("scoring.refresh_all", max_retries=1)
async def refresh_all() -> None:
    for tenant_id in await _tenants():
        refresh_tenant.send(str(tenant_id))


@actor("scoring.train_all", max_retries=1)
async def train_all() -> None:
    for tenant_id in await _tenants():
        train_tenant.send(str(tenant_id))
