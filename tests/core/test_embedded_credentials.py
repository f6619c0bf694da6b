"""Embedded servers answer only with credentials: another user of the machine cannot log
in to the database as `postgres` or `regua_app`, nor reach SeaweedFS past its S3 gateway."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from core.embedded.postgres import EmbeddedPostgres

PASSWORD = "superuser-secret-for-test"


def refused(**kwargs: object) -> bool:
    try:
        with psycopg.connect(dbname="postgres", connect_timeout=5, **kwargs):  # type: ignore[arg-type]
            return False
    except psycopg.OperationalError:
        return True


def check_passwords_required(server: EmbeddedPostgres) -> None:
    tcp = {"host": "127.0.0.1", "port": server.port}
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute("CREATE ROLE regua_app LOGIN PASSWORD 'the-right-one'")
    assert refused(user="postgres", **tcp)
    assert refused(user="postgres", password="wrong", **tcp)
    assert refused(user="regua_app", password="a-wrong-one", **tcp)
    assert refused(user="postgres", host=str(server.socket_dir), port=server.port)
    with psycopg.connect(user="regua_app", password="the-right-one", dbname="postgres",
                         **tcp) as conn:
        assert conn.execute("SELECT current_user").fetchone() == ("regua_app",)


@pytest.mark.timeout(180)
def test_a_new_embedded_database_requires_passwords(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "postgres", PASSWORD)
    server.start()
    try:
        check_passwords_required(server)
    finally:
        server.stop()


@pytest.mark.timeout(180)
def test_a_state_folder_created_with_trust_is_upgraded_on_start(tmp_path: Path) -> None:
    server = EmbeddedPostgres(tmp_path / "postgres", PASSWORD)
    server.root.mkdir(parents=True)
    server.start()  # then made to look like a folder of the earlier releases
    with psycopg.connect(server.url(), autocommit=True) as conn:
        conn.execute("ALTER ROLE postgres PASSWORD NULL")
    server.stop()
    hba = server.pgdata / "pg_hba.conf"
    hba.write_text(hba.read_text().replace("scram-sha-256", "trust"))
    server.start()
    try:
        check_passwords_required(server)
        assert "trust" not in "".join(
            line for line in hba.read_text().splitlines() if not line.startswith("#"))
    finally:
        server.stop()
