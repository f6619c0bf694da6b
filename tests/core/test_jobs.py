"""Jobs: sent after commit, carrying their tenant, effects applied once."""

from __future__ import annotations

import uuid

from sqlalchemy import text

from core.db import Scope
from core.jobs import actor, current_scope, enqueue_after_commit, run_once, scoped

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
        enqueue_after_commit(session, record_scope, "committed")
        assert SEEN == [] or "committed" not in [s for s, _ in SEEN]
    worker.join(record_scope.queue_name, timeout=10_000)
    assert ("committed", frozenset({tenant.id})) in SEEN


async def test_a_job_asked_for_in_a_rolled_back_transaction_never_runs(db, factory, worker):
    tenant = await factory.tenant()
    try:
        async with db.transaction(Scope.tenant(tenant.id)) as session:
            enqueue_after_commit(session, record_scope, "rolled-back")
            raise ValueError("the request failed")
    except ValueError:
        pass
    worker.join(record_scope.queue_name, timeout=10_000)
    assert "rolled-back" not in [label for label, _ in SEEN]


async def test_a_retried_job_applies_its_effect_once(db, factory, worker):
    tenant = await factory.tenant()
    key = f"test:{uuid.uuid4()}"
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        enqueue_after_commit(session, apply_once, key, True)
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
