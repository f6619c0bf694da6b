"""Start what this process needs: embedded servers when nothing external is configured.

`Services.start()` resolves every URL (starting embedded PostgreSQL / S3 as needed) and
publishes them as `REGUA_*` variables, so this process's settings and every child
process it starts connect to the same servers.
"""

from __future__ import annotations

import asyncio
import logging
import os
import weakref
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, text

from core.db import Database, sync_url
from core.embedded.lease import Lease
from core.embedded.postgres import EmbeddedPostgres
from core.embedded.s3 import EmbeddedS3
from core.settings import APP_DB_ROLE, MAINTENANCE_DB_ROLE, Settings, _state_secret, get_settings
from core.storage import Storage

log = logging.getLogger("regua.runtime")

ROOT = Path(__file__).resolve().parent.parent


class Services:
    """The servers this process uses; embedded ones are shared by every process of the
    state folder and stopped by the last of them to stop (see `core.embedded.lease`)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.postgres: EmbeddedPostgres | None = None
        self.s3: EmbeddedS3 | None = None
        self.lease = Lease(settings.state_dir.resolve())

    def start(self) -> Settings:
        s = self.settings
        if s.embedded_database or s.embedded_s3:
            with self.lease.exclusive():
                self.lease.join()
                return self._start()
        return self._start()

    def _start(self) -> Settings:
        s = self.settings
        state = s.state_dir.resolve()
        resolved: dict[str, str] = {}
        if s.embedded_database:
            self.postgres = EmbeddedPostgres(state / "postgres",
                                             _state_secret(state, "postgres_password"))
            resolved["REGUA_DATABASE_URL"] = self.postgres.start()
            log.info("database: embedded PostgreSQL (set REGUA_DATABASE_URL to use another)")
        else:
            log.info("database: external PostgreSQL")
        if s.embedded_s3:
            access = s.s3_access_key_id or "regua"
            secret = (
                s.s3_secret_access_key.get_secret_value()
                if s.s3_secret_access_key else _state_secret(state, "s3_secret_key")
            )
            self.s3 = EmbeddedS3(state, access, secret, s.s3_bucket)
            resolved |= {
                "REGUA_S3_ENDPOINT_URL": self.s3.start(),
                "REGUA_S3_ACCESS_KEY_ID": access,
                "REGUA_S3_SECRET_ACCESS_KEY": secret,
            }
            log.info("storage: embedded S3 (set REGUA_S3_ENDPOINT_URL to use another)")
        else:
            log.info("storage: external S3 at %s", s.s3_endpoint_url)
        resolved["REGUA_STATE_DIR"] = str(state)
        os.environ.update(resolved)
        get_settings.cache_clear()
        self.settings = get_settings()
        return self.settings

    def stop(self) -> None:
        if self.postgres is None and self.s3 is None:
            return
        with self.lease.exclusive():
            try:
                if self.lease.last_out():
                    self._stop_servers()
                else:
                    log.info("embedded servers left running for the other processes"
                             " that use them")
            finally:
                self.lease.leave()

    def _stop_servers(self) -> None:
        try:
            if self.s3 is not None:
                self.s3.stop()
        finally:  # whatever happened to S3, the database is not left running
            if self.postgres is not None:
                self.postgres.stop()


def migrate(settings: Settings) -> None:
    """Bring the schema to the latest migration and (re)set the app role's password."""
    assert settings.database_url is not None
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = settings.database_url
    command.upgrade(cfg, "head")
    engine = create_engine(sync_url(settings.database_url))
    with engine.begin() as conn:
        # Passwords are not schema: set here so each deployment keeps its own.
        password = settings.resolved_app_password().replace("'", "''")
        conn.execute(text(f"ALTER ROLE {APP_DB_ROLE} WITH LOGIN PASSWORD '{password}'"))
        member = conn.execute(
            text("SELECT pg_has_role(current_user, :r, 'MEMBER')"), {"r": MAINTENANCE_DB_ROLE}
        ).scalar()
        if not member:
            conn.execute(text(f"GRANT {MAINTENANCE_DB_ROLE} TO current_user"))
    engine.dispose()
    log.info("database schema is at the latest migration")


# Keyed by the loop object itself (weakly): a new loop may reuse a dead one's id().
_databases: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Database] = (
    weakref.WeakKeyDictionary())
_storage: Storage | None = None


def get_db() -> Database:
    """The application-role database for the running event loop (engines are per loop)."""
    loop = asyncio.get_running_loop()
    db = _databases.get(loop)
    if db is None:
        db = _databases[loop] = Database(get_settings())
    return db


def get_storage() -> Storage:
    global _storage
    if _storage is None:
        _storage = Storage(get_settings())
    return _storage
