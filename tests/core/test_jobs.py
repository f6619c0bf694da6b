"""Jobs: sent after commit, carrying their tenant, effects applied once."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from core.db import Scope
from core.jobs import actor, current_scope, enqueue_after_commit, run_once, scoped
from tests.jobs import drain

SEEN: list[tuple[str, frozenset[uuid.UUID]]] = []
EFFECTS: list[str] = []


@actor("test.record_scope", max_retries=0)
def record_scope(label: str) -> None:
    SEEN.append((label, current_scope().tenant_ids))


@actor("test.apply_once", max_retries=3)
async def apply_once(key: str, fail_first: bool) -> None:
    from core.runtime import get_db

    async with get_db().transaction(current_scope()) as session:
        if not await run_once(session, key):
            return
        EFFECTS.append(key)
        if fail_first and EFFECTS.count(key) == 1:
            raise RuntimeError("the worker died before committing")


async def test_a_job_runs_after_commit_with_the_enqueuers_tenant(db, factory, worker):
    tenant = await factory.tenant()
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        await session.execute(text("SELECT 1"))
        enqueue_after_commit(session, "test.record_scope", "committed")
        assert SEEN == [] or "committed" not in [s for s, _ in SEEN]
    await drain(worker, record_scope.queue_name)
    assert ("committed", frozenset({tenant.id})) in SEEN


async def test_a_job_asked_for_in_a_rolled_back_transaction_never_runs(db, factory, worker):
    tenant = await factory.tenant()
    try:
        async with db.transaction(Scope.tenant(tenant.id)) as session:
            enqueue_after_commit(session, "test.record_scope", "rolled-back")
            raise ValueError("the request failed")
    except ValueError:
        pass
    await drain(worker, record_scope.queue_name)
    assert "rolled-back" not in [label for label, _ in SEEN]


async def test_a_retried_job_applies_its_effect_once(db, factory, worker):
    tenant = await factory.tenant()
    key = f"test:{uuid.uuid4()}"
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        enqueue_after_commit(session, "test.apply_once", key, True)
    worker.join(apply_once.queue_name, timeout=30_000)
    # First attempt: effect then crash (rolled back, claim released); the retry applies it
    # and commits; nothing later can apply it again.
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        claimed = (await session.execute(text("SELECT count(*) FROM job_once WHERE key = :k"),
                                          {"k": key})).scalar_one()
    assert claimed == 1
    with scoped(Scope.tenant(tenant.id)):
        apply_once.send(key, False)  # a duplicate message, as after a broker redelivery
    worker.join(apply_once.queue_name, timeout=10_000)
    assert EFFECTS.count(key) == 2  # one rolled back attempt, one committed


async def test_a_job_is_enqueued_by_name_and_an_unknown_name_fails_at_once(db, factory,
                                                                            worker):
    import pytest

    from core.jobs import UnknownJob, send

    tenant = await factory.tenant()
    with scoped(Scope.tenant(tenant.id)):
        send("test.record_scope", "by-name")
    await drain(worker, record_scope.queue_name)
    assert ("by-name", frozenset({tenant.id})) in SEEN
    with pytest.raises(UnknownJob, match=r"intake\.no_such_job"):
        async with db.transaction(Scope.tenant(tenant.id)) as session:
            enqueue_after_commit(session, "intake.no_such_job")


def test_every_declared_periodic_job_names_a_registered_actor():
    from core.jobs import PERIODIC, lookup
    from portal.jobs import load_tasks

    load_tasks()
    assert {"auth.purge_expired", "audit.verify", "intake.resume",
            "intake.return_expired"} <= set(PERIODIC)
    for name in PERIODIC:
        lookup(name)


def test_a_daily_tenant_job_fans_out_per_tenant_at_the_tenants_local_hour():
    import datetime as dt

    from core.jobs import Periodic
    from core.maintenance import runs

    declared = [Periodic("intake.return_expired", daily_at=dt.time(2, 30), per_tenant=True),
                Periodic("audit.verify", daily_at=dt.time(3, 15)),
                Periodic("intake.resume", every=dt.timedelta(minutes=5))]
    sao_paulo, manaus, noronha = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    tenants = [(sao_paulo, "America/Sao_Paulo"), (manaus, "America/Manaus"),
               (noronha, "America/Noronha")]
    planned = runs(declared, tenants)
    assert [r.id for r in planned] == [
        f"intake.return_expired:{sao_paulo}", f"intake.return_expired:{manaus}",
        f"intake.return_expired:{noronha}", "audit.verify", "intake.resume"]
    now = dt.datetime(2026, 12, 5, 12, 0, tzinfo=dt.UTC)
    fires = {r.tenant_id: r.trigger.get_next_fire_time(None, now) for r in planned}
    # 02:30 in each tenant's zone: UTC-3, UTC-4 and UTC-2.
    assert fires[sao_paulo] == dt.datetime(2026, 12, 6, 5, 30, tzinfo=dt.UTC)
    assert fires[manaus] == dt.datetime(2026, 12, 6, 6, 30, tzinfo=dt.UTC)
    assert fires[noronha] == dt.datetime(2026, 12, 6, 4, 30, tzinfo=dt.UTC)
    assert fires[None] is not None  # the agency's jobs run once, not per tenant
    assert sum(r.tenant_id is None for r in planned) == 2


async def test_the_scheduler_sends_a_tenant_job_with_the_tenant_in_the_message(worker):
    import datetime as dt

    from apscheduler.schedulers.background import BackgroundScheduler

    from core import jobs
    from core.maintenance import schedule

    tenant = uuid.uuid4()
    jobs.periodic("test.record_scope", daily_at=dt.time(1, 0), per_tenant=True)
    try:
        scheduler = BackgroundScheduler(timezone="UTC")
        schedule(scheduler, [(tenant, "America/Sao_Paulo")])
        entry = scheduler.get_job(f"test.record_scope:{tenant}")
        assert entry is not None
        entry.func(*entry.args)  # what the scheduler does when the entry fires
        await drain(worker, record_scope.queue_name)
        assert (str(tenant), frozenset({tenant})) in SEEN
        # A tenant gone from the list loses its entry on the next refresh.
        schedule(scheduler, [])
        assert scheduler.get_job(f"test.record_scope:{tenant}") is None
    finally:
        del jobs.PERIODIC["test.record_scope"]
