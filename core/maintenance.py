"""Agency-wide maintenance: the operator's scope, periodic jobs and the scheduler.

The scheduler only enqueues; workers do the work. It sends every job declared with
core.jobs.periodic (each area's tasks.py, imported first): interval jobs and agency-wide
daily jobs once, and a daily job of a tenant once per active tenant at the hour it names
in that tenant's time zone (a tenant created or moved later is picked up within
TENANT_REFRESH).

Reading across tenants happens under the maintenance role (`SET ROLE regua_maint`,
which bypasses RLS) on the owner's connection, never by widening a policy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from botocore.exceptions import ClientError
from sqlalchemy import text

from core import audit, jobs
from core.auth.principal import Principal
from core.auth.service import purge_expired
from core.db import Scope, owner_engine
from core.jobs import Periodic, actor, periodic
from core.runtime import get_db, get_storage
from core.settings import MAINTENANCE_DB_ROLE, get_settings

log = logging.getLogger("regua.maintenance")


async def tenants_where(query: str) -> list[uuid.UUID]:
    """The tenant ids a query across every tenant returns (its first column), read under
    the maintenance role: how a sweep finds the tenants it has work in."""
    engine = owner_engine(get_settings())
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"SET LOCAL ROLE {MAINTENANCE_DB_ROLE}"))
            return [r[0] for r in await conn.execute(text(query))]
    finally:
        await engine.dispose()


async def all_tenant_ids() -> list[uuid.UUID]:
    return await tenants_where("SELECT id FROM tenant")


async def operator_scope() -> Scope:
    """The scope of the agency operator at the command line: every tenant."""
    return Scope(frozenset(await all_tenant_ids()), agency=True)


async def operator() -> Principal:
    """The agency operator at the command line, for `transaction` and the access helpers."""
    return Principal.system(await operator_scope())


async def verify_chains(
    only: list[uuid.UUID | None] | None = None,
) -> list[audit.ChainReport]:
    """Verify the given chains (None: the agency's), or every chain when `only` is None,
    against the database and against the heads published outside it."""
    anchors = await asyncio.to_thread(load_anchors)
    engine = owner_engine(get_settings())
    try:
        if only is None:
            async with engine.begin() as conn:
                chains = await audit.chains(conn)
        else:
            chains = only
        reports = []
        for chain in chains:
            async with engine.begin() as conn:
                reports.append(await audit.verify_chain(
                    conn, chain, anchors.get(audit.chain_name(chain), [])))
        return reports
    finally:
        await engine.dispose()


async def active_tenant_zones() -> list[tuple[uuid.UUID, str]]:
    """Each active tenant's id and time zone (for the scheduler's daily jobs)."""
    engine = owner_engine(get_settings())
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"SET LOCAL ROLE {MAINTENANCE_DB_ROLE}"))
            rows = await conn.execute(text(
                "SELECT id, timezone FROM tenant WHERE status = 'active' ORDER BY id"))
            return [(r[0], r[1]) for r in rows]
    finally:
        await engine.dispose()


# ---- anchors: each day's chain heads, published outside the database -----------------

ANCHOR_PREFIX = "anchors/"


class AnchorExists(RuntimeError):
    """An anchor is written once; a second one for the same day is refused."""


def _anchor_key(day: dt.date) -> str:
    return f"{ANCHOR_PREFIX}{day.isoformat()}.json"


async def publish_anchor(day: dt.date) -> str:
    """Write the chain heads as they are now to S3 under `anchors/DAY.json`, once.

    Never overwritten: an existing object is refused, and the write itself is
    conditional (If-None-Match), so two schedulers cannot both write it. In production
    the bucket (or the `anchors/` prefix) should also have S3 Object Lock in compliance
    mode, so not even the S3 account's owner can delete an anchor early."""
    key = _anchor_key(day)
    storage = get_storage()
    if await asyncio.to_thread(_exists, key):
        raise AnchorExists(f"anchor {key} already published; not overwritten")
    engine = owner_engine(get_settings())
    try:
        async with engine.begin() as conn:
            heads = await audit.chain_heads(conn)
    finally:
        await engine.dispose()
    body = json.dumps({
        "day": day.isoformat(),
        "published_at": dt.datetime.now(dt.UTC).isoformat(),
        "chains": {chain: {"seq": seq, "hash": digest}
                   for chain, (seq, digest) in sorted(heads.items())},
    }, indent=1).encode()
    try:
        await asyncio.to_thread(
            storage.client.put_object, Bucket=storage.bucket, Key=key, Body=body,
            ContentType="application/json", IfNoneMatch="*",
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("PreconditionFailed", "412"):
            raise AnchorExists(f"anchor {key} already published; not overwritten") from exc
        raise
    log.info("published audit anchor %s (%d chains)", key, len(heads))
    return key


def _exists(key: str) -> bool:
    storage = get_storage()
    try:
        storage.client.head_object(Bucket=storage.bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
            return False
        raise
    return True


def load_anchors() -> dict[str, list[audit.Anchor]]:
    """Every published anchor, by chain."""
    storage = get_storage()
    found: dict[str, list[audit.Anchor]] = {}
    paginator = storage.client.get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=storage.bucket, Prefix=ANCHOR_PREFIX):
        for item in page.get("Contents", []):
            document = json.loads(storage.get(item["Key"]))
            for chain, head in document["chains"].items():
                found.setdefault(chain, []).append(
                    audit.Anchor(document["day"], int(head["seq"]), str(head["hash"])))
    return found


@actor("auth.purge_expired", max_retries=3)
async def purge_expired_tokens() -> None:
    window = dt.timedelta(minutes=get_settings().login_window_minutes)
    removed = await purge_expired(get_db(), window)
    log.info("purged %d expired tokens", removed)


@actor("audit.verify", max_retries=1)
async def verify_audit() -> None:
    for report in await verify_chains():
        if not report.ok:
            log.error("audit chain %s broken at entry %s: %s",
                      report.chain, report.broken_at_seq, report.reason)


periodic("auth.purge_expired", every=dt.timedelta(hours=1))
periodic("audit.anchor", daily_at=dt.time(0, 5))
periodic("audit.verify", daily_at=dt.time(3, 15))

TENANT_REFRESH = dt.timedelta(minutes=10)


@dataclass(frozen=True)
class Run:
    """One scheduled entry: a job, when it fires, and the tenant it is sent for."""

    id: str
    job: str
    trigger: BaseTrigger
    tenant_id: uuid.UUID | None = None


def _zone(name: str) -> dt.tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        log.warning("unknown time zone %r: daily jobs run at %s", name,
                    get_settings().default_timezone)
        return ZoneInfo(get_settings().default_timezone)


def runs(declared: list[Periodic], tenants: list[tuple[uuid.UUID, str]]) -> list[Run]:
    """What the scheduler holds for these declarations and these tenants (id, zone)."""
    out: list[Run] = []
    for p in declared:
        if p.every is not None:
            out.append(Run(p.job, p.job, IntervalTrigger(seconds=p.every.total_seconds())))
            continue
        assert p.daily_at is not None
        at = {"hour": p.daily_at.hour, "minute": p.daily_at.minute}
        if not p.per_tenant:
            out.append(Run(p.job, p.job, CronTrigger(**at, timezone=dt.UTC)))
            continue
        out += [Run(f"{p.job}:{tenant}", p.job, CronTrigger(**at, timezone=_zone(zone)), tenant)
                for tenant, zone in tenants]
    return out


def _send(job: str, tenant_id: str | None) -> None:
    if tenant_id is None:
        jobs.send(job)
        return
    with jobs.scoped(Scope.tenant(uuid.UUID(tenant_id))):
        jobs.send(job, tenant_id)


def schedule(scheduler: BaseScheduler, tenants: list[tuple[uuid.UUID, str]]) -> None:
    """Put every declared periodic job on `scheduler`, and drop the entries of tenants
    that are gone or inactive."""
    wanted = runs(list(jobs.PERIODIC.values()), tenants)
    for run in wanted:
        tenant = str(run.tenant_id) if run.tenant_id else None
        scheduler.add_job(_send, run.trigger, args=(run.job, tenant), id=run.id,
                          replace_existing=True, coalesce=True, misfire_grace_time=3600)
    keep = {run.id for run in wanted} | {_REFRESH_ID}
    for job in scheduler.get_jobs():
        if job.id not in keep:
            job.remove()


_REFRESH_ID = "scheduler.tenants"


def start_scheduler(scheduler: BaseScheduler) -> None:
    """Schedule the periodic jobs (their areas' tasks modules imported) and start."""

    def refresh() -> None:
        schedule(scheduler, asyncio.run(active_tenant_zones()))

    refresh()
    scheduler.add_job(refresh, IntervalTrigger(seconds=TENANT_REFRESH.total_seconds()),
                      id=_REFRESH_ID, replace_existing=True)
    log.info("scheduler: %d periodic jobs", len(scheduler.get_jobs()))
    scheduler.start()


@actor("audit.anchor", max_retries=5)
async def anchor_audit() -> None:
    """Publish the heads at the end of the day that just ended (UTC)."""
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    try:
        await publish_anchor(day)
    except AnchorExists as exc:
        log.warning("%s", exc)
