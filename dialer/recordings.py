"""Call recordings' retention: each tenant keeps them for its period, then they go.

A tenant's period is `recording_policy.retention_days` (30 to 3650 days), or the
agency's default, `REGUA_CALL_RECORDING_RETENTION_DAYS` (180). `purge` deletes from S3
every recording of the tenant whose call ended longer ago than that, and marks its call
record (`recording_deleted_at`; the key stays). Deleting a missing object is no error in
S3 and the mark commits after the deletes, so a purge that dies midway is simply run
again: nothing is deleted twice, nothing is marked that was not deleted.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import TenantId
from core.auth.principal import Principal
from core.auth.roles import Role
from core.errors import Forbidden, ValidationFailed
from core.ids import uuid7
from core.settings import get_settings
from dialer.models import CallRecord, RecordingPolicy

MIN_DAYS, MAX_DAYS = 30, 3650
BATCH = 500  # recordings deleted per statement round


async def retention_days(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    own = (await session.execute(select(RecordingPolicy.retention_days).where(
        RecordingPolicy.tenant_id == tenant_id))).scalar_one_or_none()
    return own if own is not None else get_settings().call_recording_retention_days


async def set_retention(session: AsyncSession, principal: Principal, tenant_id: TenantId,
                        days: int) -> RecordingPolicy:
    """The tenant's period, set by the agency's administrators."""
    if principal.role is not Role.ADMIN and not principal.is_system:
        raise Forbidden("apenas administradores da assessoria definem a guarda das gravações")
    if not MIN_DAYS <= days <= MAX_DAYS:
        raise ValidationFailed({"retention_days": f"guarde as gravações de {MIN_DAYS} a "
                                                  f"{MAX_DAYS} dias"})
    row = (await session.execute(select(RecordingPolicy).where(
        RecordingPolicy.tenant_id == tenant_id).with_for_update())).scalar_one_or_none()
    before = {"retention_days": row.retention_days} if row else None
    if row is None:
        row = RecordingPolicy(tenant_id=tenant_id, id=uuid7(), retention_days=days)
        session.add(row)
    row.retention_days, row.set_by = days, principal.actor.id
    row.updated_at = dt.datetime.now(dt.UTC)
    await session.flush()
    await audit.record(session, principal.actor, "dialer.recording_retention_set",
                       tenant_id=tenant_id, entity="recording_policy", entity_id=row.id,
                       before=before, after={"retention_days": days})
    return row


async def purge(session: AsyncSession, tenant_id: uuid.UUID,
                now: dt.datetime | None = None) -> int:
    """Delete the tenant's recordings past its period; returns how many went."""
    from core.runtime import get_storage

    now = now or dt.datetime.now(dt.UTC)
    cutoff = now - dt.timedelta(days=await retention_days(session, tenant_id))
    storage = get_storage()
    deleted = 0
    while True:
        expired = list((await session.execute(select(CallRecord).where(
            CallRecord.tenant_id == tenant_id, CallRecord.recording_key.is_not(None),
            CallRecord.recording_deleted_at.is_(None), CallRecord.ended_at < cutoff)
            .order_by(CallRecord.ended_at).limit(BATCH)
            .with_for_update(skip_locked=True))).scalars())
        if not expired:
            return deleted
        for record in expired:
            assert record.recording_key is not None
            await asyncio.to_thread(storage.delete, record.recording_key)
            record.recording_deleted_at = now
        await session.flush()
        deleted += len(expired)
