"""The audit log: chained per tenant, append-only, and `regua audit verify` finds tampering."""

from __future__ import annotations

import itertools
import os
import subprocess

import psycopg
from sqlalchemy import text
from sqlalchemy.engine import make_url

from core.db import Scope
from core.settings import get_settings


def owner() -> psycopg.Connection:
    url = make_url(get_settings().database_url).set(drivername="postgresql")
    return psycopg.connect(url.render_as_string(False), autocommit=True)


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["uv", "run", "--no-sync", "regua", "audit", "verify", *args],
                          capture_output=True, text=True, env=os.environ, timeout=120)


async def entries(db, tenant_id):
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        return (await session.execute(text(
            "SELECT id, seq, prev_hash, hash FROM audit_log WHERE tenant_id = :t ORDER BY seq"),
            {"t": tenant_id})).all()


async def test_entries_chain_within_each_tenant(db, factory, services):
    alfa = await factory.tenant()
    await factory.user("creditor_viewer", tenant_id=alfa.id)
    rows = await entries(db, alfa.id)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert rows[0].prev_hash == ""
    for previous, current in itertools.pairwise(rows):
        assert current.prev_hash == previous.hash


async def test_verify_passes_then_names_a_changed_entry(db, factory, services):
    alfa = await factory.tenant()
    await factory.user("creditor_viewer", tenant_id=alfa.id)
    ok = verify("--tenant", alfa.slug)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "ok" in ok.stdout
    target = (await entries(db, alfa.id))[0]
    with owner() as conn:
        conn.execute("SET session_replication_role = replica")  # past the append-only trigger
        conn.execute("UPDATE audit_log SET after = '{\"slug\": \"forged\"}' WHERE id = %s",
                     (target.id,))
    broken = verify("--tenant", alfa.slug)
    assert broken.returncode == 1
    assert "BROKEN" in broken.stdout and f"entry {target.seq}" in broken.stdout
    assert str(target.id) in broken.stdout


async def test_verify_detects_a_removed_last_entry(db, factory, services):
    alfa = await factory.tenant()
    await factory.user("creditor_viewer", tenant_id=alfa.id)
    last = (await entries(db, alfa.id))[-1]
    with owner() as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("DELETE FROM audit_log WHERE id = %s", (last.id,))
    broken = verify("--tenant", alfa.slug)
    assert broken.returncode == 1 and "removed" in broken.stdout


async def test_verify_checks_only_the_named_tenant(db, factory, services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    target = (await entries(db, beta.id))[0]
    with owner() as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE audit_log SET action = 'x' WHERE id = %s", (target.id,))
    assert verify("--tenant", alfa.slug).returncode == 0
    assert verify("--tenant", beta.slug).returncode == 1


def rehash_from(conn: psycopg.Connection, tenant_id, seq: int) -> None:
    """What a superuser would do to hide a change: relink and rehash every later entry
    with the database's own function, and move the chain head."""
    rows = conn.execute("SELECT id, seq FROM audit_log WHERE tenant_id = %s AND seq >= %s"
                        " ORDER BY seq", (tenant_id, seq)).fetchall()
    previous = conn.execute("SELECT coalesce(max(hash) FILTER (WHERE seq = %s), '')"
                            " FROM audit_log WHERE tenant_id = %s",
                            (seq - 1, tenant_id)).fetchone()[0]
    for entry_id, _ in rows:
        conn.execute("UPDATE audit_log SET prev_hash = %s WHERE id = %s", (previous, entry_id))
        previous = conn.execute("UPDATE audit_log a SET hash = regua_audit_hash(a)"
                                " WHERE id = %s RETURNING hash", (entry_id,)).fetchone()[0]
    conn.execute("UPDATE audit_chain_head SET hash = %s WHERE chain = %s",
                 (previous, str(tenant_id)))


def unique_day():
    import datetime as dt
    import random

    return dt.date(2100, 1, 1) + dt.timedelta(days=random.randint(0, 300_000))


async def test_verify_finds_a_chain_whose_head_row_was_deleted(db, factory, services):
    alfa = await factory.tenant()
    await factory.user("creditor_viewer", tenant_id=alfa.id)
    target = (await entries(db, alfa.id))[0]
    with owner() as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("DELETE FROM audit_chain_head WHERE chain = %s", (str(alfa.id),))
        conn.execute("UPDATE audit_log SET action = 'forjado' WHERE id = %s", (target.id,))
    broken = verify()
    assert broken.returncode == 1
    assert f"BROKEN  {alfa.id}: at entry {target.seq}" in broken.stdout, broken.stdout


async def test_a_rehashed_rewrite_is_caught_by_the_published_anchor(db, factory, services):
    from core.maintenance import publish_anchor

    alfa = await factory.tenant()
    await factory.user("creditor_viewer", tenant_id=alfa.id)
    await factory.user("creditor_viewer", tenant_id=alfa.id)
    await publish_anchor(unique_day())
    anchored_last = (await entries(db, alfa.id))[-1]
    await factory.user("creditor_viewer", tenant_id=alfa.id)  # written after the anchor
    target = (await entries(db, alfa.id))[0]
    with owner() as conn:
        conn.execute("SET session_replication_role = replica")
        conn.execute("UPDATE audit_log SET after = '{\"email\": \"outro@x.test\"}'"
                     " WHERE id = %s", (target.id,))
        rehash_from(conn, alfa.id, target.seq)
    # The database alone is consistent again...
    async with db.transaction(Scope.tenant(alfa.id)) as session:
        mismatched = (await session.execute(text(
            "SELECT count(*) FROM audit_log a WHERE tenant_id = :t"
            " AND hash <> regua_audit_hash(a)"), {"t": alfa.id})).scalar()
    assert mismatched == 0
    # ...but not with what was published outside it.
    broken = verify("--tenant", alfa.slug)
    assert broken.returncode == 1, broken.stdout
    assert f"BROKEN  {alfa.id}: at entry {anchored_last.seq}" in broken.stdout
    assert "rewritten" in broken.stdout


async def test_an_anchor_is_written_once(services):
    import pytest

    from core.maintenance import AnchorExists, publish_anchor
    from core.runtime import get_storage

    day = unique_day()
    key = await publish_anchor(day)
    first = get_storage().get(key)
    with pytest.raises(AnchorExists):
        await publish_anchor(day)
    assert get_storage().get(key) == first


def test_the_scheduler_publishes_anchors_every_night(services):
    from apscheduler.schedulers.background import BackgroundScheduler

    from core.maintenance import schedule

    scheduler = BackgroundScheduler(timezone="UTC")
    schedule(scheduler, [])
    job = scheduler.get_job("audit.anchor")
    assert job is not None and "hour='0'" in str(job.trigger)
