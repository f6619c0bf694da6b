"""The models and the migrations describe one schema: a model changed without a
migration (or the reverse) fails here, before it fails on someone's database."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

import core.models  # noqa: F401 - every model on the metadata
from core.db import Base, sync_url

# Tables only the database uses: the audit trigger's chain heads (first migration).
DATABASE_ONLY = {"audit_chain_head"}


def _ours(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    return not (type_ == "table" and name in DATABASE_ONLY)


def test_the_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_engine(sync_url(database_url))
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"include_object": _ours})
            diff = compare_metadata(context, Base.metadata)
    finally:
        engine.dispose()
    assert diff == []
