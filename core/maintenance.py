"""Agency-wide maintenance: the operator's scope, periodic jobs and the scheduler.

Reading across tenants happens under the maintenance role (`SET ROLE regua_maint`,
which bypasses RLS) on the owner's connection, never by widening a policy.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
import uuid

from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from botocore.exceptions import ClientError
from sqlalchemy import text

from core import audit
from core.auth.service import purge_expired
from core.db import Scope, owner_engine
from core.jobs import actor
from core.runtime import get_db, get_storage
from core.settings import MAINTENANCE_DB_ROLE, get_settings

log = logging.getLogger("regua.maintenance")


async def all_tenant_ids() -> list[uuid.UUID]:
    engine = owner_engine(get_settings())
    try:
        async with engine.begin() as conn:
            await conn.execute(text(f"SET LOCAL ROLE {MAINTENANCE_DB_ROLE}"))
            return [r[0] for r in await conn.execute(text("SELECT id FROM tenant"))]
    finally:
        await engine.dispose()


async def operator_scope() -> Scope:
    """The scope of the agency operator at the command line: every tenant."""
    return Scope(frozenset(await all_tenant_ids()), agency=True)


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


@actor("audit.anchor", max_retries=5)
async def anchor_audit() -> None:
    """Publish the heads at the end of the day that just ended (UTC)."""
    day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
    try:
        await publish_anchor(day)
    except AnchorExists as exc:
        log.warning("%s", exc)


def schedule(scheduler: BaseScheduler) -> None:
    """Periodic jobs. The scheduler only enqueues; workers do the work."""
    scheduler.add_job(purge_expired_tokens.send, IntervalTrigger(hours=1),
                      id="auth.purge_expired", replace_existing=True)
    scheduler.add_job(anchor_audit.send, CronTrigger(hour=0, minute=5, timezone="UTC"),
                      id="audit.anchor", replace_existing=True)
    scheduler.add_job(verify_audit.send, CronTrigger(hour=3, minute=15),
                      id="audit.verify", replace_existing=True)
