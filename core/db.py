"""Engines, sessions and the declarative base.

Two connection roles: the schema owner (migrations, maintenance) and the application
role, which owns nothing and is subject to forced row-level security. Every application
transaction first sets the tenants it may see (`app.tenant_ids`, transaction-local).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from sqlalchemy import DateTime, MetaData, Uuid, event, func, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from core.ids import uuid7
from core.settings import APP_DB_ROLE, Settings

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dt.datetime: DateTime(timezone=True), uuid.UUID: Uuid()}


class TenantOwned:
    """Columns every tenant-owned table shares: `(tenant_id, id)` leads the primary key."""

    tenant_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)


def created_at_column() -> Mapped[dt.datetime]:
    return mapped_column(server_default=func.now())


def sync_url(url: str) -> str:
    """A psycopg (sync) SQLAlchemy URL for Alembic and COPY."""
    return make_url(url).set(drivername="postgresql+psycopg").render_as_string(False)


def async_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql+asyncpg").render_as_string(False)


def app_url(settings: Settings) -> str:
    if settings.database_app_url:
        return settings.database_app_url
    if settings.database_url is None:
        raise RuntimeError("database URL is not resolved yet (embedded PostgreSQL not started)")
    parts = urlsplit(settings.database_url)
    host = parts.hostname or ""
    netloc = f"{APP_DB_ROLE}:{settings.resolved_app_password()}@{host}"
    if parts.port:
        netloc += f":{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))


@dataclass(frozen=True)
class Scope:
    """What one transaction may see: a set of tenants, and agency-level rows or not."""

    tenant_ids: frozenset[uuid.UUID] = field(default_factory=frozenset)
    agency: bool = False

    @classmethod
    def tenant(cls, tenant_id: uuid.UUID) -> Scope:
        return cls(frozenset({tenant_id}))

    def pg_array(self) -> str:
        return "{" + ",".join(sorted(str(t) for t in self.tenant_ids)) + "}"


NO_SCOPE = Scope()


@event.listens_for(Session, "after_begin")
def _apply_scope(session: Session, transaction: Any, connection: Any) -> None:
    scope: Scope | None = session.info.get("scope")
    if scope is None:
        return
    connection.execute(
        text(
            "SELECT set_config('app.tenant_ids', :tenants, true),"
            " set_config('app.agency', :agency, true)"
        ),
        {"tenants": scope.pg_array(), "agency": "on" if scope.agency else "off"},
    )


async def include_in_scope(session: AsyncSession, tenant_id: uuid.UUID) -> None:
    """Add a tenant just created in this transaction to the transaction's scope."""
    scope: Scope = session.info.get("scope", NO_SCOPE)
    widened = Scope(scope.tenant_ids | {tenant_id}, scope.agency)
    session.info["scope"] = widened
    await session.execute(
        text("SELECT set_config('app.tenant_ids', :tenants, true)"),
        {"tenants": widened.pg_array()},
    )


class Database:
    """The application's engines: `app` under RLS, `owner` for migrations and maintenance."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.app_engine: AsyncEngine = create_async_engine(
            async_url(app_url(settings)),
            pool_size=settings.database_pool_size,
            max_overflow=settings.database_pool_size,
            pool_pre_ping=True,
        )
        self._sessions = async_sessionmaker(self.app_engine, expire_on_commit=False)

    def session(self, scope: Scope) -> AsyncSession:
        """A session whose every transaction sees exactly `scope`."""
        session = self._sessions()
        session.info["scope"] = scope
        return session

    @asynccontextmanager
    async def transaction(self, scope: Scope) -> AsyncIterator[AsyncSession]:
        async with self.session(scope) as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.app_engine.dispose()


def connect_sync(settings: Settings, scope: Scope, *, autocommit: bool = False) -> Any:
    """A psycopg connection as the application role, for bulk paths (COPY) in threads.

    With autocommit off, each transaction must start with `apply_scope_sync`.
    """
    import psycopg

    url = make_url(app_url(settings)).set(drivername="postgresql").render_as_string(False)
    conn = psycopg.connect(url, autocommit=autocommit)
    if autocommit:
        apply_scope_sync(conn, scope, local=False)
    return conn


def apply_scope_sync(conn: Any, scope: Scope, *, local: bool = True) -> None:
    conn.execute(
        "SELECT set_config('app.tenant_ids', %s, %s), set_config('app.agency', %s, %s)",
        (scope.pg_array(), local, "on" if scope.agency else "off", local),
    )


def owner_engine(settings: Settings) -> AsyncEngine:
    if settings.database_url is None:
        raise RuntimeError("database URL is not resolved yet (embedded PostgreSQL not started)")
    return create_async_engine(async_url(settings.database_url), pool_size=2)
