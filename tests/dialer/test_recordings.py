"""Call recordings' retention: the nightly job (a real worker) deletes from S3 what each
tenant's period lets go, marks the call records, keeps the rest; a rerun changes
nothing; the period is checked, set by admins only, and stays behind the tenant wall."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select, text

from core.access import TenantId, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.db import Scope
from core.errors import Forbidden, ValidationFailed
from core.ids import uuid7
from core.jobs import lookup
from core.models import AuditLog
from core.runtime import get_db, get_storage
from core.storage_keys import call_recording_key
from dialer import recordings
from dialer.models import CallRecord, RecordingPolicy


async def recorded(tenant_id: uuid.UUID, days_ago: int) -> CallRecord:
    """A call that ended `days_ago` days ago, its WAV in S3."""
    ended = dt.datetime.now(dt.UTC) - dt.timedelta(days=days_ago)
    call_id = uuid7()
    key = call_recording_key(tenant_id, ended.date(), call_id)
    get_storage().put(key, b"RIFF....WAVE", "audio/wav")
    row = CallRecord(tenant_id=tenant_id, id=call_id, campaign_id=uuid7(), debtor_id=uuid7(),
                     number="+5511900000010", dialed_at=ended - dt.timedelta(minutes=3),
                     answered_at=ended - dt.timedelta(minutes=2), ended_at=ended,
                     outcome="answered", recording_key=key, dialer_id="test", worker_id=0)
    async with get_db().transaction(Scope.tenant(tenant_id)) as session:
        session.add(row)
    return row


def in_s3(key: str) -> bool:
    try:
        get_storage().get(key)
    except ClientError:
        return False
    return True


async def state_of(tenant_id: uuid.UUID, call_id: uuid.UUID) -> dt.datetime | None:
    async with get_db().transaction(Scope.tenant(tenant_id)) as session:
        return (await session.execute(select(CallRecord.recording_deleted_at).where(
            CallRecord.id == call_id))).scalar_one()


async def test_the_nightly_job_deletes_what_each_tenants_period_lets_go(factory, worker):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    admin = Principal.system(Scope.tenant(alfa.id))
    async with transaction(admin) as session:
        await recordings.set_retention(session, admin, TenantId(alfa.id), 30)
    alfa_old, alfa_new = await recorded(alfa.id, 40), await recorded(alfa.id, 10)
    # Beta keeps the agency's default (180 days).
    beta_old, beta_older = await recorded(beta.id, 40), await recorded(beta.id, 200)

    purge = lookup("dialer.purge_recordings")
    for tenant in (alfa, beta):
        purge.send(str(tenant.id))
    worker.join(purge.queue_name, timeout=30_000)

    assert not in_s3(alfa_old.recording_key) and not in_s3(beta_older.recording_key)
    assert in_s3(alfa_new.recording_key) and in_s3(beta_old.recording_key)
    assert await state_of(alfa.id, alfa_old.id) is not None
    assert await state_of(beta.id, beta_older.id) is not None
    assert await state_of(alfa.id, alfa_new.id) is None
    assert await state_of(beta.id, beta_old.id) is None
    # Run again: nothing left to delete, the marks unchanged.
    marked = await state_of(alfa.id, alfa_old.id)
    async with get_db().transaction(Scope.tenant(alfa.id)) as session:
        assert await recordings.purge(session, alfa.id) == 0
    assert await state_of(alfa.id, alfa_old.id) == marked


async def test_the_period_is_checked_set_by_admins_and_behind_the_wall(factory, services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    admin = Principal.system(Scope.tenant(alfa.id))
    async with transaction(admin) as session:
        assert await recordings.retention_days(session, alfa.id) == 180
        with pytest.raises(ValidationFailed, match="de 30 a 3650 dias"):
            await recordings.set_retention(session, admin, TenantId(alfa.id), 7)
    async with transaction(admin) as session:
        await recordings.set_retention(session, admin, TenantId(alfa.id), 90)
        await recordings.set_retention(session, admin, TenantId(alfa.id), 365)
        assert await recordings.retention_days(session, alfa.id) == 365
        logged = list((await session.execute(select(AuditLog).where(
            AuditLog.action == "dialer.recording_retention_set")
            .order_by(AuditLog.id))).scalars())
    assert [(e.before, e.after) for e in logged] == [
        (None, {"retention_days": 90}),
        ({"retention_days": 90}, {"retention_days": 365})]
    boss = Principal(user_id=uuid7(), email="sup@regua.test", full_name="Sup",
                     role=Role.SUPERVISOR, tenant_id=None, tenant_ids=frozenset({alfa.id}))
    async with transaction(boss) as session:
        with pytest.raises(Forbidden):
            await recordings.set_retention(session, boss, TenantId(alfa.id), 60)
    # Beta sees none of Alfa's policy, by a raw query under its setting.
    async with get_db().transaction(Scope.tenant(beta.id)) as session:
        assert (await session.execute(text("SELECT count(*) FROM recording_policy"))
                ).scalar_one() == 0
        assert await recordings.retention_days(session, alfa.id) == 180
        assert (await session.execute(select(RecordingPolicy))).first() is None
