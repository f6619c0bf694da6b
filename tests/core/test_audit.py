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
