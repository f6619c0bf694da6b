"""The contract+installment keys a file has shown so far, and the row that showed each.

The duplicate rule (the first valid occurrence counts, later ones are rejected naming
it) needs every key of the file. `MemoryKeys` keeps them in a polars frame: fast, but
about 55 bytes a key, 550 MB for a 10-million-row export. `DatabaseKeys` keeps them in a
temporary table of a database session of its own, which holds only keys, never tenant
data: memory stays flat, at about 5 µs a key of database work. An import uses
`SpillingKeys`: memory for the first million keys, the database beyond.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import polars as pl

from tenants.intake.load.bloom_filter import BloomFilter
from tenants.intake.load.copy_data import binary_copy_data, copy_into

FIRST_ROWS = {"_key": pl.String, "first_row": pl.Int64}
KEY_COLUMNS = {"key": "text", "first_row": "int4"}


class FileKeys(Protocol):
    def earlier(self, firsts: pl.DataFrame) -> pl.DataFrame:
        """For a batch's keys (`_key`, `_first_here`: the batch's first row with it),
        the keys an earlier batch had, with that batch's row (`_key`, `first_row`); the
        batch's new keys are remembered."""
        ...


class MemoryKeys:
    def __init__(self) -> None:
        self.seen = pl.DataFrame(schema={**FIRST_ROWS, "h": pl.UInt64})
        # Nearly every key is new: the filter says so without searching `seen`, which
        # grows to a million keys (searching it for every key of every batch made the
        # rule's work grow with the file: 1.4 s of CPU a million rows, now 0.5 s).
        self.maybe_seen = BloomFilter()

    def earlier(self, firsts: pl.DataFrame) -> pl.DataFrame:
        # A 64-bit hash makes the search fast; its rare hits are confirmed against the
        # exact keys by the join.
        hashed = firsts.with_columns(h=pl.col("_key").hash(seed=7))
        maybe = hashed.filter(self.maybe_seen.check_and_add_hashes(hashed.get_column("h")))
        found = (self.seen.filter(pl.col("h").is_in(maybe.get_column("h").implode()))
                 .join(maybe.select("_key"), on="_key", how="semi").select(list(FIRST_ROWS)))
        fresh = hashed.join(found, on="_key", how="anti") if found.height else hashed
        self.seen = pl.concat([self.seen, fresh.select(
            "_key", pl.col("_first_here").alias("first_row"), "h")])
        return found

    @property
    def count(self) -> int:
        return self.seen.height


class DatabaseKeys:
    """Keys in a temporary table of `conn`, a session used for nothing else."""

    def __init__(self, conn: Any) -> None:
        self.conn = conn
        # Each batch is a few thousand lookups into a table of up to millions of keys:
        # index lookups, byte-wise comparisons, and room to keep the table in memory
        # (temp_buffers must be set before the session's first temporary table).
        conn.execute("SET temp_buffers = '128MB'")
        conn.execute("SET enable_hashjoin = off")
        conn.execute("SET enable_mergejoin = off")
        conn.execute('CREATE TEMP TABLE file_key (key text COLLATE "C" PRIMARY KEY,'
                     " first_row int NOT NULL)")
        conn.execute('CREATE TEMP TABLE batch_key (key text COLLATE "C" NOT NULL,'
                     " first_row int NOT NULL)")

    def load(self, known: pl.DataFrame) -> None:
        """Keys already seen (`_key`, `first_row`, distinct)."""
        copy_into(self.conn, "file_key", KEY_COLUMNS,
                  binary_copy_data(known.select(key="_key", first_row="first_row"), KEY_COLUMNS))

    def earlier(self, firsts: pl.DataFrame) -> pl.DataFrame:
        if firsts.height == 0:
            return pl.DataFrame(schema=FIRST_ROWS)
        with self.conn.transaction():
            self.conn.execute("TRUNCATE batch_key")
            copy_into(self.conn, "batch_key", KEY_COLUMNS, binary_copy_data(
                firsts.select(key="_key", first_row="_first_here"), KEY_COLUMNS))
            rows = self.conn.execute(
                "SELECT b.key, k.first_row FROM batch_key b JOIN file_key k ON k.key = b.key"
            ).fetchall()
            self.conn.execute(
                "INSERT INTO file_key SELECT key, first_row FROM batch_key ON CONFLICT DO NOTHING")
        return pl.DataFrame(rows, schema=FIRST_ROWS, orient="row")


class SpillingKeys:
    """`MemoryKeys` up to `limit` keys, then `DatabaseKeys` on a session from `connect`."""

    def __init__(self, connect: Callable[[], Any], limit: int = 1_000_000) -> None:
        self.connect, self.limit = connect, limit
        self.memory: MemoryKeys | None = MemoryKeys()
        self.database: DatabaseKeys | None = None
        self.conn: Any = None

    def earlier(self, firsts: pl.DataFrame) -> pl.DataFrame:
        if self.memory is not None and self.memory.count + firsts.height > self.limit:
            self.conn = self.connect()
            self.database = DatabaseKeys(self.conn)
            self.database.load(self.memory.seen)
            self.memory = None
        if self.memory is not None:
            return self.memory.earlier(firsts)
        assert self.database is not None
        return self.database.earlier(firsts)

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
