"""polars frames into PostgreSQL tables with COPY, the one way intake sends rows in bulk."""

from __future__ import annotations

import io
from typing import Any

import polars as pl


def csv_bytes(frame: pl.DataFrame) -> memoryview:
    """A frame as COPY data (CSV, no header, `\\N` for null)."""
    buffer = io.BytesIO()
    frame.write_csv(buffer, include_header=False, null_value="\\N", quote_style="necessary")
    return buffer.getbuffer()


def copy_into(conn: Any, table: str, columns: list[str], data: memoryview) -> None:
    sql = f"COPY {table} ({', '.join(columns)}) FROM STDIN WITH (FORMAT csv, NULL '\\N')"
    with conn.cursor().copy(sql) as copy:
        copy.write(data)
