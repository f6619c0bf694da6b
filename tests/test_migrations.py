"""The models and the migrations describe one schema: a model changed without a
migration (or the reverse) fails here, before it fails on someone's database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import core.models  # noqa: F401 - every model on the metadata
import dialer.models  # noqa: F401 - and the dialer's
import legal.cases.models
import legal.escalation.bureau_models
import legal.escalation.models
import legal.models
import legal.payment_models
import legal.protest.models  # noqa: F401 - protest files and their titles
import reports.models  # noqa: F401 - with its BRIN indexes on base tables
from core.db import Base, sync_url

# What only the database knows: the audit trigger's chain heads (first migration), and
# the debtor search's trigram expression index (0005), which SQLAlchemy cannot reflect.
DATABASE_ONLY = {("table", "audit_chain_head"), ("index", "ix_debtor_search")}


def _ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return (type_, name) not in DATABASE_ONLY


def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": _ours})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
