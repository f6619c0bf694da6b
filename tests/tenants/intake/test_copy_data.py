"""Frames reach PostgreSQL through binary COPY with every value as it was."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import polars as pl
import psycopg
from sqlalchemy.engine import make_url

from core.settings import get_settings
from tenants.intake.load.copy_data import binary_copy_data, copy_into, temp_table

COLUMNS = {"n": "int4", "big": "int8", "id": "uuid", "name": "text", "due": "date",
           "amount": "numeric(14,2)", "extra": "jsonb", "seen": "bool"}


def test_every_declared_type_and_null_arrives_unchanged(services) -> None:
    ids = [str(uuid.uuid4()), None, str(uuid.uuid4())]
    frame = pl.DataFrame({
        "seen": [True, None, False],  # out of order: the declaration sets the order
        "n": [1, None, -7], "big": [2**40, None, 0], "id": ids,
        "name": ["José da Conceição; \"Zé\"\n2ª linha", None, ""],
        "due": [dt.date(2025, 1, 10), None, dt.date(1999, 12, 31)],
        "amount": ["0.01", None, "999999999999.99"],  # the frames carry amounts as text
        "extra": ['{"produto": "cartão", "loja": {"uf": "SP"}}', None, "{}"],
        "unused": ["x", "y", "z"],
    })
    url = make_url(get_settings().database_url or "").set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(False)) as conn:
        conn.execute(temp_table("landed", COLUMNS))
        copy_into(conn, "landed", COLUMNS, binary_copy_data(frame, COLUMNS))
        rows = conn.execute(f"SELECT {', '.join(COLUMNS)} FROM landed").fetchall()
    assert rows == [
        (1, 2**40, uuid.UUID(ids[0]), "José da Conceição; \"Zé\"\n2ª linha",
         dt.date(2025, 1, 10), Decimal("0.01"), {"produto": "cartão", "loja": {"uf": "SP"}},
         True),
        (None,) * 8,
        (-7, 0, uuid.UUID(ids[2]), "", dt.date(1999, 12, 31), Decimal("999999999999.99"), {},
         False),
    ]
