"""Test harness: a real PostgreSQL, a real S3 server, Dramatiq's stub broker and worker.

PostgreSQL is the one named by REGUA_TEST_DATABASE_URL, else the machine's server on
127.0.0.1:5432 when it answers, else an embedded one. Each run gets a fresh database
built by `alembic upgrade head`, so roles, grants and policies are under test too.
"""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from pathlib import Path

_STATE = Path(tempfile.mkdtemp(prefix="regua-test-"))
# Settings are read once per process, and the broker is built on import: fix the
# environment before anything from the project is imported.
os.environ.update({
    "REGUA_ENV": "test",
    "REGUA_STATE_DIR": str(_STATE),
    "REGUA_SECRET_KEY": "test-secret-key-not-for-production",
    "REGUA_DATABASE_APP_PASSWORD": "regua-app-test",
    "REGUA_LOGIN_MAX_FAILURES": "5",
})
for name in ("REGUA_BROKER_URL", "REGUA_DATABASE_URL", "REGUA_DATABASE_APP_URL",
             "REGUA_S3_ENDPOINT_URL"):
    os.environ.pop(name, None)

import datetime as dt  # noqa: E402
from collections.abc import AsyncIterator, Iterator  # noqa: E402
from dataclasses import dataclass  # noqa: E402

import psycopg  # noqa: E402
import pytest  # noqa: E402
from litestar.testing import AsyncTestClient  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from core.settings import get_settings  # noqa: E402


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A superuser URL of a running PostgreSQL server."""
    url = os.environ.get("REGUA_TEST_DATABASE_URL")
    if url:
        yield url
        return
    if _reachable("127.0.0.1", 5432):
        yield "postgresql://postgres@127.0.0.1:5432/postgres"
        return
    from core.embedded.postgres import EmbeddedPostgres

    server = EmbeddedPostgres(_STATE / "postgres", "regua-test-superuser")
    yield server.start()
    server.stop()


MIGRATION_LOCK = 0x7265677561  # "regua": an advisory lock key of this suite's own


@pytest.fixture(scope="session")
def database_url(postgres_server: str) -> Iterator[str]:
    """A fresh database for this test run, migrated to head."""
    name = f"regua_test_{uuid.uuid4().hex[:10]}"
    admin = make_url(postgres_server).set(drivername="postgresql")
    url = admin.set(database=name).render_as_string(False)
    os.environ["REGUA_DATABASE_URL"] = url
    get_settings.cache_clear()
    from core.runtime import migrate

    with psycopg.connect(admin.render_as_string(False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
        # Roles belong to the server, not the database: xdist workers (or runs) migrating
        # at once would race to create them and to set the app role's password ("tuple
        # concurrently updated"). The lock goes with the connection.
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK,))
        migrate(get_settings())
    yield url
    with psycopg.connect(admin.render_as_string(False), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def s3_server() -> Iterator[str]:
    from core.embedded.s3 import EmbeddedS3

    server = EmbeddedS3(_STATE, "regua-test", "regua-test-secret", "regua-test")
    endpoint = server.start()
    os.environ.update({
        "REGUA_S3_ENDPOINT_URL": endpoint,
        "REGUA_S3_ACCESS_KEY_ID": "regua-test",
        "REGUA_S3_SECRET_ACCESS_KEY": "regua-test-secret",
        "REGUA_S3_BUCKET": "regua-test",
    })
    get_settings.cache_clear()
    yield endpoint
    server.stop()


@pytest.fixture(scope="session")
def services(database_url: str, s3_server: str) -> None:
    """Both real services configured in settings."""
    get_settings.cache_clear()


@pytest.fixture(scope="session")
async def db(services: None):  # type: ignore[no-untyped-def]
    from core.runtime import get_db

    database = get_db()
    yield database
    await database.dispose()


@pytest.fixture(scope="session")
async def client(services: None) -> AsyncIterator[AsyncTestClient]:  # type: ignore[type-arg]
    from portal.app import create_app

    async with AsyncTestClient(app=create_app()) as test_client:
        yield test_client


@pytest.fixture(scope="session")
def worker(services: None) -> Iterator[object]:
    """A real Dramatiq worker consuming the stub broker."""
    from core.jobs import broker, start_worker
    from portal.jobs import load_tasks

    load_tasks()
    running = start_worker(2)
    yield broker
    running.stop()


# ---- factories -----------------------------------------------------------------------

_CNPJ_WEIGHTS_1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_WEIGHTS_2 = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


def random_cnpj() -> str:
    """A valid numeric CNPJ, unique enough for a test run."""
    import random

    base = [random.randint(0, 9) for _ in range(8)] + [0, 0, 0, 1]

    def digit(values: list[int], weights: tuple[int, ...]) -> int:
        r = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
        return 0 if r < 2 else 11 - r

    base.append(digit(base, _CNPJ_WEIGHTS_1))
    base.append(digit(base, _CNPJ_WEIGHTS_2))
    return "".join(map(str, base))


@dataclass
class Login:
    """A user with a live bearer token."""

    user_id: uuid.UUID
    email: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass
class TenantFixture:
    id: uuid.UUID
    slug: str
    admin: Login


class Factory:
    def __init__(self, database: object) -> None:
        self.db = database

    async def login_for(self, user_id: uuid.UUID, email: str, password: str) -> Login:
        from core.auth import service

        principal = await service.load_principal(self.db, user_id)  # type: ignore[arg-type]
        assert principal is not None, f"{email} may not log in"
        issued = await service.issue_token(self.db, principal, "bearer",  # type: ignore[arg-type]
                                           dt.timedelta(hours=1))
        return Login(user_id, email, password, issued.token)

    async def tenant(self, name: str | None = None, state: str = "SP") -> TenantFixture:
        from core.audit import Actor
        from core.maintenance import operator_scope
        from tenants import onboarding, users

        name = name or f"Credor {uuid.uuid4().hex[:6]}"
        email = f"admin-{uuid.uuid4().hex[:8]}@credor.test"
        password = "senha-de-teste-123"
        async with self.db.transaction(await operator_scope()) as session:  # type: ignore[attr-defined]
            tenant, admin = await onboarding.create_tenant(
                session, Actor(None, "test"),
                onboarding.NewTenant(legal_name=f"{name} Ltda.", trade_name=name,
                                     cnpj=random_cnpj(), state=state),
                users.NewUser(email=email, password=password),
            )
        assert admin is not None
        admin_login = await self.login_for(admin.id, email, password)
        return TenantFixture(tenant.id, tenant.slug, admin_login)

    async def user(self, role: str, tenant_ids: list[uuid.UUID] | None = None,
                   tenant_id: uuid.UUID | None = None) -> Login:
        from core.audit import Actor
        from core.auth.roles import Role
        from core.maintenance import operator_scope
        from tenants import users

        email = f"{role}-{uuid.uuid4().hex[:8]}@regua.test"
        password = "senha-de-teste-123"
        async with self.db.transaction(await operator_scope()) as session:  # type: ignore[attr-defined]
            created = await users.add_user(
                session, Actor(None, "test"),
                users.NewUser(email=email, password=password, tenant_ids=tenant_ids or []),
                tenant_id=tenant_id, role=Role(role),
            )
        return await self.login_for(created.id, email, password)


@pytest.fixture(scope="session")
async def factory(db: object) -> Factory:
    return Factory(db)


@pytest.fixture
async def two_tenants(factory: Factory) -> tuple[TenantFixture, TenantFixture]:
    return await factory.tenant("Alfa"), await factory.tenant("Beta")
