"""The parse-and-validate stage as the import pipeline uses it.

`sniff` reads the file's shape, `match_headers` maps its columns, `read_batches`
yields validated batches, `Reports` writes the error and warning CSVs, and `Totals`
keeps the counts. (Readers in `reader`, field names in `rules.columns`, row rules in
`rules.rows`.) These read in this process; the import and the preview read through
`confined`, in a process of its own.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from core.models import ImportMode
from tenants.intake.formats import reader
from tenants.intake.formats.reader import FileFormat
from tenants.intake.limits import DEFAULTS, Limits
from tenants.intake.load.file_keys import FileKeys
from tenants.intake.rules import columns, rows
from tenants.intake.rules.columns import (
    OWN_COLUMNS,
    REPORT_COLUMNS,
    ColumnMapping,
    MissingColumnsError,
)
from tenants.intake.rules.rows import WARNING_SCHEMA, Batch

__all__ = ["Batch", "FileError", "FileFormat", "Reports", "Totals", "match_headers",
           "read_batches", "sniff"]


class FileError(Exception):
    """The file cannot be imported at all; the message says why (pt-BR)."""


def sniff(path: Path, sheet: str | None = None, limits: Limits = DEFAULTS) -> FileFormat:
    try:
        return reader.sniff(path, sheet, limits)
    except reader.FileError as exc:
        raise FileError(str(exc)) from exc


def match_headers(headers: list[str], layout: dict[str, Any] | None,
                  mode: ImportMode) -> ColumnMapping:
    try:
        return columns.match_headers(headers, layout, mode)
    except MissingColumnsError as exc:
        raise FileError(str(exc)) from exc


def read_batches(path: Path, fmt: FileFormat, mapping: ColumnMapping,
                 mode: ImportMode, keys: FileKeys | None = None, limits: Limits = DEFAULTS,
                 records: Iterator[tuple[pl.DataFrame, int]] | None = None
                 ) -> Iterator[Batch]:
    """Validated batches of the file's records: read here, or as `records` gives them
    (`confined.iter_records`: from another process)."""
    row_rules = rows.RowRules(mapping, mode, keys)
    if records is None:
        records = reader.iter_records(path, fmt, limits)
    try:
        for frame, bytes_read in records:
            yield row_rules.apply(frame, bytes_read)
    except reader.FileError as exc:  # a file damaged past its first rows
        raise FileError(str(exc)) from exc


@dataclass
class Totals:
    rows: int = 0
    accepted: int = 0
    rejected: int = 0
    warned: int = 0

    def add(self, batch: Batch) -> None:
        self.rows += batch.rows
        self.accepted += batch.accepted.height
        self.rejected += batch.rejected.height
        self.warned += batch.warned_rows

    def move_to_rejected(self, count: int) -> None:
        """Rows the database refused after they passed the file's rules."""
        self.accepted -= count
        self.rejected += count

    def add_late_warnings(self, batches: list[Batch],
                          late: list[tuple[int, str, str, str]]) -> None:
        """Rows the database warned about; a row the file's rules warned about already
        counts once."""
        if not late:
            return
        warned = set().union(*(set(b.warnings.get_column("linha")) for b in batches
                               if b.warnings.height))
        self.warned += len({row for row, *_ in late} - warned)


WARNING_HEADER = ("Linha", "Coluna", "Valor", "Aviso")


class Reports:
    """The error report (row, original columns, reason: fix it and upload it again) and
    the warning report, as UTF-8 CSV with BOM, `;` and CRLF line ends, which Excel in
    Brazil opens."""

    def __init__(self, folder: Path, headers: list[str]) -> None:
        self.headers = headers
        # A fixed error report sent back has our columns already: write them once.
        ours = {columns.fold(c) for c in OWN_COLUMNS}
        self.kept = [i for i, h in enumerate(headers) if columns.fold(h) not in ours]
        self.errors_path = folder / "errors.csv"
        self.warnings_path = folder / "warnings.csv"
        self._errors: Any = None
        self._warnings: Any = None

    @staticmethod
    def _open(path: Path, header: list[str]) -> Any:
        handle = path.open("w", encoding="utf-8-sig", newline="")
        csv.writer(handle, delimiter=";").writerow(header)
        handle.flush()
        return handle

    def add(self, batches: list[Batch], late: list[tuple[int, str, str]],
            late_warnings: list[tuple[int, str, str, str]] | None = None) -> None:
        """Parsed batches' rejected rows and warnings, the rows the database refused
        after them (`late`: row, cells as JSON, reason): the error report in row order,
        and the warnings the database found (`late_warnings`: row, column, value, text)."""
        rejected = pl.concat([b.rejected for b in batches]
                             + [self._late(batches, late)]).sort("row")
        if rejected.height:
            if self._errors is None:
                self._errors = self._open(self.errors_path, [
                    REPORT_COLUMNS[0], *(self.headers[i] for i in self.kept), REPORT_COLUMNS[1]])
            self._write(self._errors, rejected.select(
                "row", *(f"c{i}" for i in self.kept), "motivo"))
        warned = [b.warnings for b in batches if b.warnings.height]
        if late_warnings:
            warned.append(pl.DataFrame(late_warnings, schema=WARNING_SCHEMA, orient="row"))
        for warnings in warned:
            if self._warnings is None:
                self._warnings = self._open(self.warnings_path, list(WARNING_HEADER))
            self._write(self._warnings, warnings)

    def _late(self, batches: list[Batch], rows: list[tuple[int, str, str]]) -> pl.DataFrame:
        cells = [f"c{i}" for i in range(len(self.headers))]
        refused = pl.DataFrame({"row": [r for r, _, _ in rows],
                                "motivo": [reason for _, _, reason in rows]},
                               schema={"row": pl.Int64, "motivo": pl.String})
        if rows and not rows[0][1]:  # a placement: the accepted rows have the cells
            accepted = pl.concat([b.accepted.select("row", *cells) for b in batches])
            return refused.join(accepted, on="row", how="left").select("row", *cells, "motivo")
        values = [list(json.loads(raw).values()) if raw else [] for _, raw, _ in rows]
        return refused.with_columns(
            pl.Series(c, [v[i] if i < len(v) else "" for v in values], dtype=pl.String)
            for i, c in enumerate(cells)).select("row", *cells, "motivo")

    @staticmethod
    def _write(handle: Any, frame: Any) -> None:
        handle.write(frame.write_csv(separator=";", include_header=False,
                                     quote_style="necessary", line_terminator="\r\n"))

    def close_errors(self) -> Path | None:
        if self._errors is None:
            return None
        self._errors.close()
        return self.errors_path

    def close_warnings(self) -> Path | None:
        if self._warnings is None:
            return None
        self._warnings.close()
        return self.warnings_path
