"""Run one portfolio import from its file in S3 to its final counts and reports.

The stages overlap: a reader thread parses and validates the file in batches while this
thread merges the previous batch into the tenant's tables. Progress goes to the
portfolio row on a separate autocommit connection, so pages see it while the import's
own transaction is still open. That transaction commits the rows, the counts and the
audit entry together: a crash at any point leaves the portfolio to be run again from the
start, reaching the same final state.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import json
import logging
import queue
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import botocore.exceptions
import polars as pl
import psycopg
import psycopg.errors

from core import jobs, storage_keys
from core.db import Scope, apply_scope_sync, connect_sync
from core.formatting import date_br, datetime_br, decimal_br
from core.ids import uuid7
from core.models import ImportMode, PortfolioStatus
from core.runtime import get_storage
from core.settings import get_settings
from core.storage import MissingObject
from tenants.intake import counters, limits
from tenants.intake.formats import confined, parsing, reader
from tenants.intake.load.file_keys import SpillingKeys
from tenants.intake.load.store import MergeCounts, PortfolioWriter, PreparedBatch

log = logging.getLogger("regua.intake")
T = TypeVar("T")

PROGRESS_EVERY = 0.5  # seconds between progress writes
# Accepted rows per merge into the tenant tables: about one parse batch. Measured at 1M
# rows: the same time as 40,000, and a peak about 70 MB lower (three merges' frames and
# COPY data are alive at once: being written, queued, being prepared).
WRITE_ROWS = 20_000
KEYS_IN_MEMORY = 1_000_000  # contract keys held in memory before they go to the database


# Failures that running the import again can get past: the database or S3 unreachable
# or restarting, a lost connection, a full disk.
TRANSIENT = (OSError, psycopg.OperationalError, psycopg.errors.TransactionRollback,
             botocore.exceptions.ConnectionError)


class PortfolioGone(LookupError):
    """The job names a portfolio that does not exist (any more) for that tenant."""


class UploadFailed(Exception):
    """The file read from this machine did not reach S3: the import must not commit."""


@dataclass
class Outcome:
    status: str
    duplicate_of: uuid.UUID | None = None


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


class Progress:
    """Writes the portfolio's phase and counters, at most every PROGRESS_EVERY seconds."""

    def __init__(self, conn: Any, tenant_id: uuid.UUID, portfolio_id: uuid.UUID) -> None:
        self.conn, self.tenant_id, self.portfolio_id = conn, tenant_id, portfolio_id
        self._last = 0.0

    def update(self, force: bool = False, **fields: Any) -> None:
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_EVERY:
            return
        self._last = now
        assignments = ", ".join(f"{k} = %({k})s" for k in fields)
        self.conn.execute(
            f"UPDATE portfolio SET {assignments} WHERE tenant_id = %(t)s AND id = %(p)s",
            {**fields, "t": self.tenant_id, "p": self.portfolio_id},
        )


def _load(conn: Any, tenant_id: uuid.UUID, portfolio_id: uuid.UUID) -> dict[str, Any] | None:
    cur = conn.execute(
        "SELECT * FROM portfolio WHERE tenant_id = %s AND id = %s", (tenant_id, portfolio_id)
    )
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip([c.name for c in cur.description], row, strict=True))


def _threaded(batches: Iterator[T], depth: int = 1) -> Iterator[T]:
    """Run the parser in its own thread so parsing overlaps the database's work.

    If the consumer stops early (a database error), the parser stops too instead of
    waiting forever for room in the queue.
    """
    slots: queue.Queue[Any] = queue.Queue(maxsize=depth)
    stop = threading.Event()
    done = object()

    def put(item: Any) -> None:
        while not stop.is_set():
            try:
                slots.put(item, timeout=0.5)
                return
            except queue.Full:
                continue

    def produce() -> None:
        try:
            for batch in batches:
                if stop.is_set():
                    return
                put(batch)
            put(done)
        except BaseException as exc:  # handed to the consumer, raised there
            put(exc)

    threading.Thread(target=produce, name="intake-parse", daemon=True).start()
    try:
        while True:
            item = slots.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()


def _grouped(batches: Iterator[parsing.Batch], writer: PortfolioWriter
             ) -> Iterator[tuple[list[parsing.Batch], PreparedBatch]]:
    """Parsed batches gathered into writes of about WRITE_ROWS accepted rows, prepared
    for COPY (in the reader thread: this runs inside `_threaded`).

    Parsing works on small batches to keep its intermediate columns small; the database
    gets fewer, larger statements.
    """
    def prepared(group: list[parsing.Batch]) -> PreparedBatch:
        return writer.prepare(pl.concat([b.accepted for b in group]),
                              pl.concat([b.rejected_keys for b in group]))

    group: list[parsing.Batch] = []
    rows = 0
    for batch in batches:
        group.append(batch)
        rows += batch.accepted.height
        if rows >= WRITE_ROWS:
            yield group, prepared(group)
            group, rows = [], 0
    if group:
        yield group, prepared(group)


def run_import(tenant_id: uuid.UUID, portfolio_id: uuid.UUID,
               local_file: Path | None = None, digest: str | None = None,
               stored: Callable[[], object] | None = None) -> Outcome:
    """Import one portfolio (idempotent: a finished portfolio is left as it is).

    `local_file` is the file already on this machine (the CLI's inline run), with its
    SHA-256 in `digest` when the caller has computed it; when it is still on its way to
    S3, `stored` waits for it (and raises if the upload failed) and runs before commit.
    """
    settings = get_settings()
    scope = Scope.tenant(tenant_id)
    confined.warm_up()  # the file reader's imports run while the file downloads
    progress_conn = connect_sync(settings, scope, autocommit=True)
    try:
        row = _load(progress_conn, tenant_id, portfolio_id)
        if row is None:
            raise PortfolioGone(f"portfolio {portfolio_id} not found for tenant {tenant_id}")
        if row["status"] in (PortfolioStatus.DONE, PortfolioStatus.FAILED,
                             PortfolioStatus.DUPLICATE):
            return Outcome(row["status"], row["duplicate_of"])
        # Another worker on the same portfolio holds this lock until its connection ends.
        locked = progress_conn.execute(
            "SELECT pg_try_advisory_lock(hashtext('regua.portfolio'), hashtext(%s))",
            (str(portfolio_id),),
        ).fetchone()[0]
        if not locked:
            log.info("portfolio %s is being imported by another worker", portfolio_id)
            return Outcome(PortfolioStatus.RUNNING)
        progress = Progress(progress_conn, tenant_id, portfolio_id)
        progress.update(force=True, status=PortfolioStatus.RUNNING, phase="download",
                        started_at=dt.datetime.now(dt.UTC), error=None)
        with tempfile.TemporaryDirectory(prefix="regua-import-") as tmp:
            path = local_file or Path(tmp) / "file"
            if local_file is None:
                try:
                    get_storage().download_file(row["file_key"], str(path))
                except MissingObject:
                    # Retrying cannot bring the file back: say so instead.
                    return _fail(progress, "o arquivo da carteira não está no armazenamento"
                                 " (envio interrompido ou arquivo removido); envie-o de novo")
            if local_file is None or digest is None:
                digest = sha256_of(path)
            try:
                return _import_file(settings, scope, row, path, digest, progress,
                                    progress_conn, Path(tmp), stored)
            except TRANSIENT:
                raise  # left running: the retry, or `intake.resume`, reruns it
            except Exception:
                # A fault of this file or of the code: running it again would fail again,
                # and a portfolio left running would turn away the same file sent again.
                log.exception("portfolio %s: the import failed", portfolio_id)
                return _fail(progress, "erro inesperado ao importar o arquivo; nada foi"
                             " importado. O erro ficou registrado para a equipe técnica")
    finally:
        progress_conn.close()


def _fail(progress: Progress, message: str) -> Outcome:
    progress.update(force=True, status=PortfolioStatus.FAILED, phase="done", error=message,
                    finished_at=dt.datetime.now(dt.UTC))
    return Outcome(PortfolioStatus.FAILED)


def _import_file(settings: Any, scope: Scope, row: dict[str, Any], path: Path, digest: str,
                 progress: Progress, progress_conn: Any, tmp: Path,
                 stored: Callable[[], object] | None) -> Outcome:
    tenant_id, portfolio_id = row["tenant_id"], row["id"]
    earlier = progress_conn.execute(
        "SELECT id FROM portfolio WHERE tenant_id = %s AND file_sha256 = %s AND id <> %s"
        " AND status IN ('queued', 'running', 'done') ORDER BY created_at LIMIT 1",
        (tenant_id, digest, portfolio_id),
    ).fetchone()
    if earlier is not None:
        progress.update(force=True, status=PortfolioStatus.DUPLICATE, phase="done",
                        duplicate_of=earlier[0], file_sha256=digest,
                        finished_at=dt.datetime.now(dt.UTC))
        return Outcome(PortfolioStatus.DUPLICATE, earlier[0])
    size = path.stat().st_size
    progress.update(force=True, file_sha256=digest, file_size=size, bytes_total=size,
                    phase="reading")
    mode = ImportMode(row["mode"])
    kept = progress_conn.execute("SELECT intake_limits FROM tenant WHERE id = %s",
                                 (tenant_id,)).fetchone()
    tenant_limits = limits.effective(kept[0] if kept else None)
    try:
        # The file is read in a process of its own: a file built to exhaust memory
        # kills that process only, and this import fails saying so.
        fmt = confined.sniff(path, row["sheet"], tenant_limits)
        mapping = parsing.match_headers(fmt.headers, row["mapping"], mode)
    except (parsing.FileError, reader.FileError) as exc:
        return _fail(progress, str(exc))

    reports = parsing.Reports(tmp, fmt.headers)
    conn = connect_sync(settings, scope)
    # A large file's keys, for the duplicate rule, go to a session of their own that the
    # reader thread uses (see file_keys).
    file_keys = SpillingKeys(lambda: connect_sync(settings, scope, autocommit=True), KEYS_IN_MEMORY)
    try:
        with conn.transaction():
            apply_scope_sync(conn, scope)
            placed_until = dt.date.today() + dt.timedelta(days=row["placement_days"])
            writer = PortfolioWriter(conn, tenant_id, portfolio_id, mode, placed_until)
            writer.begin()
            totals = parsing.Totals()
            batches = parsing.read_batches(
                path, fmt, mapping, mode, file_keys,
                records=confined.iter_records(path, fmt, tenant_limits))
            for group, prepared in _threaded(_grouped(batches, writer)):
                refused = writer.write(prepared)
                late_warnings = writer.take_warnings()
                reports.add(group, refused, late_warnings)
                for batch in group:
                    totals.add(batch)
                totals.move_to_rejected(len(refused))
                totals.add_late_warnings(group, late_warnings)
                progress.update(bytes_read=group[-1].bytes_read, rows_total=totals.rows,
                                rows_accepted=totals.accepted, rows_rejected=totals.rejected,
                                rows_with_warnings=totals.warned)
            progress.update(force=True, phase="writing", bytes_read=size)
            if totals.rows == 0:
                raise parsing.FileError("o arquivo tem o cabeçalho, mas nenhuma linha de dados")
            if mode is ImportMode.FULL and totals.accepted == 0:
                # Nothing in the file stands for the portfolio: closing every open debt
                # as absent from it would be a mistake in the file, not the creditor's wish.
                # The counts and the error report stay, to show what went wrong.
                progress.update(force=True, rows_total=totals.rows, rows_accepted=0,
                                rows_rejected=totals.rejected,
                                rows_with_warnings=totals.warned,
                                **_upload_reports(row, reports))
                raise parsing.FileError(
                    "carteira completa sem nenhuma linha aceita: nenhum título foi encerrado."
                    " Corrija o arquivo (veja o relatório de erros) e envie de novo")
            counts = writer.finish()
            progress.update(force=True, phase="reports")
            keys = _upload_reports(row, reports)
            _upload_acknowledgement(row, totals, counts, placed_until, digest)
            if stored is not None:
                try:
                    stored()
                except Exception as exc:
                    raise UploadFailed from exc
            _finish(conn, row, totals, counts, keys, placed_until, digest, size)
    except parsing.FileError as exc:
        return _fail(progress, str(exc))
    except UploadFailed:
        log.exception("portfolio %s: its file did not reach storage", portfolio_id)
        return _fail(progress, "o arquivo não pôde ser guardado no armazenamento; nada foi"
                     " importado: envie-o de novo")
    finally:
        file_keys.close()
        conn.close()
    log.info("portfolio %s imported: %d rows, %d accepted, %d rejected",
             portfolio_id, totals.rows, totals.accepted, totals.rejected)
    try:  # the import has committed: a follow-up that cannot be sent must not undo it
        jobs.send("scoring.refresh_tenant", str(tenant_id))
    except Exception:
        log.exception("portfolio %s: scores not refreshed (the nightly run will)", portfolio_id)
    return Outcome(PortfolioStatus.DONE)


def _upload_reports(row: dict[str, Any], reports: parsing.Reports) -> dict[str, str | None]:
    storage = get_storage()
    keys: dict[str, str | None] = {"error_report_key": None, "warning_report_key": None}
    for name, path, key in (
            ("error_report_key", reports.close_errors(),
             storage_keys.error_report_key(row["tenant_id"], row["id"])),
            ("warning_report_key", reports.close_warnings(),
             storage_keys.warning_report_key(row["tenant_id"], row["id"]))):
        if path is not None:
            storage.upload_file(key, str(path))
            keys[name] = key
    return keys


def _upload_acknowledgement(row: dict[str, Any], totals: parsing.Totals, counts: MergeCounts,
                            placed_until: dt.date, digest: str) -> None:
    """The creditor's receipt for the placement: what came in and what it changed."""
    values = counters.summed(totals, counts)
    lines: list[tuple[str, Any]] = [
        ("Arquivo", row["file_name"]), ("SHA-256", digest), ("Tipo", row["mode"]),
        ("Importado em (UTC)", datetime_br(dt.datetime.now(dt.UTC), dt.UTC)),
        # Numbers as a spreadsheet cell reads them: no thousands dot in counts.
        *((f"{c.label} (R$)", decimal_br(values[c.name])) if c.money
          else (c.label, values[c.name]) for c in counters.COUNTERS),
        ("Colocação válida até", date_br(placed_until)),
    ]
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=";").writerows([("Item", "Valor"), *lines])
    get_storage().put(storage_keys.acknowledgement_key(row["tenant_id"], row["id"]),
                      ("\ufeff" + buffer.getvalue()).encode("utf-8"), "text/csv")


def _finish(conn: Any, row: dict[str, Any], totals: parsing.Totals, counts: MergeCounts,
            keys: dict[str, str | None], placed_until: dt.date, digest: str,
            size: int) -> None:
    values = {
        "status": PortfolioStatus.DONE, "phase": "done", "file_sha256": digest,
        "bytes_read": size, **counters.summed(totals, counts), "placed_until": placed_until,
        **keys,
    }
    assignments = ", ".join(f"{k} = %({k})s" for k in values)
    conn.execute(
        f"UPDATE portfolio SET {assignments}, finished_at = now()"
        " WHERE tenant_id = %(t)s AND id = %(p)s",
        {**values, "t": row["tenant_id"], "p": row["id"]},
    )
    summary = {k: v for k, v in values.items() if k.startswith(("rows_", "debt"))}
    summary["amount_placed"] = str(counts.amount_placed)
    conn.execute(
        "INSERT INTO audit_log (id, tenant_id, actor_id, action, entity, entity_id, after)"
        " VALUES (%s, %s, %s, 'portfolio.imported', 'portfolio', %s, %s::jsonb)",
        (uuid7(), row["tenant_id"], row["uploaded_by"], str(row["id"]), json.dumps(summary)),
    )
