"""Alembic runs as the schema owner; its URL comes from settings (or the caller)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

import dialer.models  # noqa: F401 - the dialer's tables (core may not import dialer)
import legal.cases.models
import legal.escalation.models
import legal.models
import legal.payment_models
import legal.protest.models  # noqa: F401 - protest files and their titles
import reports.models  # noqa: F401 - the reports' aggregates and base-table indexes
from core.db import Base, sync_url
from core.models import *  # noqa: F403 - registers every table on Base.metadata

config = context.config


def _url() -> str:
    url = config.attributes.get("database_url")
    if url is None:
        from core.settings import get_settings

        url = get_settings().database_url
    if url is None:
        raise SystemExit("REGUA_DATABASE_URL is not set; use `regua migrate` for embedded mode")
    return sync_url(url)


def _include(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # Tables that migrations manage with raw SQL, invisible to the ORM.
    return not (type_ == "table" and name in {"audit_chain_head"})


def run_migrations_online() -> None:
    engine = create_engine(_url(), poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=Base.metadata,
            transaction_per_migration=True,
            include_object=_include,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations_online()
