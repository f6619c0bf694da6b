"""Portfolio import benchmark: Régua's import against two baselines in the same run.

    uv run python bench/import_bench.py --rows 1000000

1. (baseline a) a bare COPY of the file into an unlogged, unindexed table of text
   columns (median of three runs): the physical limit of getting these bytes into PostgreSQL;
2. the full import (parse, validate, deduplicate, write debtors, debts and contacts
   into the indexed tenant tables), in a child process whose peak memory is measured;
3. (floor c) the rows that import wrote, written again into the same indexed tables for
   another tenant in one INSERT ... SELECT per table, already parsed and validated,
   under the same role and row-level security: what the schema itself costs;
   and (d) the import's reading and validation alone, no database: its CPU time;
4. (baseline b) an ORM row-by-row insert of a 20,000-row sample, extrapolated;
5. the same file again (recognised as a repeat), and an incremental re-import of a copy
   with 1% of the amounts changed (which must report exactly those as updated).

It uses the PostgreSQL at REGUA_DATABASE_URL, else 127.0.0.1:5432, else an embedded
one, always in a fresh database; S3 is the embedded server unless configured.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _reachable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


class Environment:
    """A fresh database on an existing server (dropped afterwards) or the embedded one,
    and the embedded servers to stop at the end."""

    def __init__(self, state: Path) -> None:
        os.environ["REGUA_STATE_DIR"] = str(state)
        os.environ.setdefault("REGUA_LOG_LEVEL", "WARNING")
        server = os.environ.get("REGUA_DATABASE_URL")
        if server is None and _reachable(5432):
            server = "postgresql://postgres@127.0.0.1:5432/postgres"
        self.admin_url: str | None = None
        self.name = f"regua_bench_{uuid.uuid4().hex[:8]}"
        if server is not None:
            from sqlalchemy.engine import make_url

            admin = make_url(server).set(drivername="postgresql")
            self.admin_url = admin.render_as_string(False)
            self._admin(f'CREATE DATABASE "{self.name}"')
            os.environ["REGUA_DATABASE_URL"] = admin.set(database=self.name).render_as_string(
                False)
        from core.runtime import Services, get_storage, migrate
        from core.settings import get_settings

        get_settings.cache_clear()
        self.services = Services(get_settings())
        settings = self.services.start()
        migrate(settings)
        get_storage().ensure_bucket()
        self.url = settings.database_url or ""

    def _admin(self, sql: str) -> None:
        import psycopg

        assert self.admin_url is not None
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(sql)

    def close(self) -> None:
        self.services.stop()
        if self.admin_url is not None:
            self._admin(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')


@contextmanager
def scratch() -> Iterator[tuple[Path, Environment]]:
    """A scratch folder and a fresh environment in it, both gone afterwards."""
    with tempfile.TemporaryDirectory(prefix="regua-bench-") as tmp:
        folder = Path(tmp)
        env = Environment(folder / "state")
        try:
            yield folder, env
        finally:
            env.close()


def save(result: dict[str, object], out: Path) -> None:
    """Print a run's figures and keep them in `out` (bench/out/, for the README)."""
    print(json.dumps(result, indent=2))
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))


def bare_copy(url: str, path: Path) -> float:
    import psycopg
    from sqlalchemy.engine import make_url

    plain = make_url(url).set(drivername="postgresql").render_as_string(False)
    columns = ", ".join(f"c{i} text" for i in range(15))
    with psycopg.connect(plain) as conn:
        conn.execute(f"CREATE UNLOGGED TABLE bench_copy ({columns})")
        started = time.perf_counter()
        with conn.cursor().copy("COPY bench_copy FROM STDIN WITH (FORMAT csv, DELIMITER ';',"
                                " HEADER true, ENCODING 'WIN1252')") as copy, path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                copy.write(chunk)
        conn.commit()
        elapsed = time.perf_counter() - started
        conn.execute("DROP TABLE bench_copy")
        conn.commit()
    return elapsed


# What an import writes per row: the ledger's placement entries came with issue 15.
TENANT_TABLES = ("debtor", "debt", "contact_point", "ledger_entry")


def table_writes(url: str, source: uuid.UUID, target: uuid.UUID) -> dict[str, float]:
    """Floor (c): the source tenant's debtors, debts, contact points and ledger entries
    inserted again for the target tenant, one statement per table, as the application
    role; rolled back.

    The rows go in the order the import wrote them (their ids are time-ordered): an
    index fed in another order costs up to twice as much, which would flatter the import.
    """
    import psycopg
    from sqlalchemy.engine import make_url

    plain = make_url(url).set(drivername="postgresql").render_as_string(False)
    timings: dict[str, float] = {}
    with psycopg.connect(plain) as conn:
        conn.execute("SET ROLE regua_app")
        conn.execute("SELECT set_config('app.tenant_ids', %s, true)",
                     (f"{{{source},{target}}}",))
        for table in TENANT_TABLES:
            columns = [r[0] for r in conn.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass"
                " AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (table,))]
            select = ", ".join("%(target)s::uuid" if c == "tenant_id" else c for c in columns)
            conn.execute(f"CREATE TEMP TABLE copy_{table} AS SELECT {select} FROM {table}"
                         " WHERE tenant_id = %(source)s ORDER BY id",
                         {"source": source, "target": target})
        for table in TENANT_TABLES:
            started = time.perf_counter()
            conn.execute(f"INSERT INTO {table} SELECT * FROM copy_{table}")
            timings[table] = time.perf_counter() - started
        conn.rollback()
    return timings


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")  # the unit of /proc/<pid>/stat's CPU times


def _postgres_cpu() -> dict[int, float]:
    """CPU seconds so far of each process of a PostgreSQL server on this machine."""
    seconds: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        if stat[stat.index("(") + 1:stat.rindex(")")] in ("postgres", "postmaster"):
            fields = stat[stat.rindex(")") + 2:].split()
            seconds[int(entry.name)] = (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    return seconds


def parse_in_child(path: Path) -> dict[str, float]:
    """Time and CPU of reading and validating the file as the import does, no database:
    the part of the import's CPU that no database tuning can take away."""
    code = (
        "import json, resource, time\n"
        "from pathlib import Path\n"
        "from core.models import ImportMode\n"
        "from tenants.intake.formats import parsing\n"
        "from tenants.intake.limits import maxima\n"
        f"path = Path({str(path)!r})\n"
        "t = time.perf_counter()\n"
        "fmt = parsing.sniff(path, limits=maxima())\n"
        "mapping = parsing.match_headers(fmt.headers, None, ImportMode.INCREMENTAL)\n"
        "rows = sum(b.rows for b in parsing.read_batches(path, fmt, mapping,"
        " ImportMode.INCREMENTAL, limits=maxima()))\n"
        "u = resource.getrusage(resource.RUSAGE_SELF)\n"
        "print(json.dumps({'rows': rows, 'seconds': time.perf_counter() - t,"
        " 'cpu_s': u.ru_utime + u.ru_stime}))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=os.environ,
                          capture_output=True, text=True, check=True)
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def import_in_child(slug: str, path: Path) -> dict[str, object]:
    """Run the import in its own process to measure its time, peak memory and CPU, and
    the CPU the database server spent meanwhile (sampled, since backends exit with their
    connection; 0 when the server runs on another machine). The file is read in a process
    of the import's own (`confined`): its peak memory and CPU are reported apart."""
    code = (
        "import asyncio, json, resource, sys, tempfile, time\n"
        "from pathlib import Path\n"
        "from portal.operator import import_portfolio\n"
        "from tenants.intake.formats import confined\n"
        "from tenants.intake.limits import DEFAULTS\n"
        # The file reader's server starts once per process, as the imports above are done
        # once: started before the clock, like them (a worker starts it once for all).
        "warm = Path(tempfile.mkdtemp()) / 'w.csv'\n"
        "warm.write_text('CPF;Nome\\n1;a\\n')\n"
        "confined.sniff(warm, None, DEFAULTS)\n"
        "t = time.perf_counter()\n"
        "c = resource.getrusage(resource.RUSAGE_SELF)\n"
        f"r = asyncio.run(import_portfolio({slug!r}, {str(path)!r}, None, 'incremental', None))\n"
        "r['seconds'] = time.perf_counter() - t\n"
        "u = resource.getrusage(resource.RUSAGE_SELF)\n"
        "r['peak_rss_mb'] = u.ru_maxrss / 1024\n"
        "r['cpu_s'] = u.ru_utime + u.ru_stime - c.ru_utime - c.ru_stime\n"
        "r['reader_peak_rss_mb'] = confined.READERS.peak_rss_kb / 1024\n"
        "r['reader_cpu_s'] = confined.READERS.cpu_s\n"
        "print(json.dumps(r))\n"
    )
    before = _postgres_cpu()
    latest = dict(before)
    child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, env=os.environ,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while child.poll() is None:  # backends live as long as the import's connections
        latest.update(_postgres_cpu())
        time.sleep(0.5)
    out, err = child.communicate()
    if child.returncode:
        raise RuntimeError(f"the import failed:\n{err}")
    result: dict[str, object] = json.loads(out.strip().splitlines()[-1])
    result["database_cpu_s"] = sum(v - before.get(pid, 0.0) for pid, v in latest.items())
    return result


async def orm_row_by_row(tenant_id: uuid.UUID, path: Path, sample: int) -> float:
    """Baseline (b): the obvious ORM code, one row at a time, for `sample` rows."""
    import datetime as dt
    from decimal import Decimal

    from sqlalchemy import select

    from core.db import Scope
    from core.documents import normalize_document
    from core.ids import uuid7
    from core.models import ContactPoint, Debt, Debtor, LedgerEntry, Portfolio
    from core.phones import normalize_phone
    from core.runtime import get_db

    db = get_db()
    portfolio_id = uuid7()
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        session.add(Portfolio(tenant_id=tenant_id, id=portfolio_id, file_name="orm",
                              file_key="orm", status="running", mode="incremental"))
    with path.open(encoding="cp1252", newline="") as fh:
        rows = list(csv.reader(fh, delimiter=";"))[1: sample + 1]
    started = time.perf_counter()
    async with db.transaction(Scope.tenant(tenant_id)) as session:
        for row in rows:
            found = normalize_document(row[0])
            try:
                due = dt.datetime.strptime(row[4], "%d/%m/%Y").date()
                amount = Decimal(row[5].replace(".", "").replace(",", "."))
            except (ValueError, ArithmeticError):
                continue
            if found is None or not row[1] or amount <= 0:
                continue
            debtor = (await session.execute(select(Debtor).where(
                Debtor.tenant_id == tenant_id, Debtor.document == found[1]))).scalar_one_or_none()
            if debtor is None:
                debtor = Debtor(tenant_id=tenant_id, id=uuid7(), document=found[1],
                                document_kind=found[0], name=row[1])
                session.add(debtor)
                await session.flush()
            exists = (await session.execute(select(Debt.id).where(
                Debt.tenant_id == tenant_id, Debt.contract == row[2],
                Debt.installment == int(row[3])))).scalar_one_or_none()
            if exists is not None:
                continue
            debt_id = uuid7()
            session.add(Debt(tenant_id=tenant_id, id=debt_id, debtor_id=debtor.id,
                             portfolio_id=portfolio_id, last_portfolio_id=portfolio_id,
                             contract=row[2], installment=int(row[3]), original_amount=amount,
                             current_balance=amount, due_date=due))
            session.add(LedgerEntry(tenant_id=tenant_id, id=uuid7(), debt_id=debt_id,
                                    posted_on=dt.date.today(), bucket="principal",
                                    kind="placement", amount=amount, source="portfolio",
                                    source_id=portfolio_id))
            phone = normalize_phone(row[6])
            if phone is not None:
                known = (await session.execute(select(ContactPoint.id).where(
                    ContactPoint.tenant_id == tenant_id, ContactPoint.debtor_id == debtor.id,
                    ContactPoint.kind == "phone", ContactPoint.value == phone))
                ).scalar_one_or_none()
                if known is None:
                    session.add(ContactPoint(tenant_id=tenant_id, id=uuid7(),
                                             debtor_id=debtor.id, kind="phone", value=phone,
                                             source="orm"))
            await session.flush()
    elapsed = time.perf_counter() - started
    await db.dispose()
    return elapsed


async def create_tenant(slug: str) -> uuid.UUID:
    import random

    from core.audit import Actor
    from core.maintenance import operator_scope
    from core.runtime import get_db
    from tenants import onboarding

    digits = [random.randint(0, 9) for _ in range(8)] + [0, 0, 0, 1]
    for weights in ((5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2), (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)):
        r = sum(d * w for d, w in zip(digits, weights, strict=False)) % 11
        digits.append(0 if r < 2 else 11 - r)
    from tenants.intake import limits

    db = get_db()
    async with db.transaction(await operator_scope()) as session:
        tenant, _ = await onboarding.create_tenant(
            session, Actor(None, "bench"),
            onboarding.NewTenant(legal_name=f"Bench {slug}", cnpj="".join(map(str, digits)),
                                 state="SP", slug=slug))
        # A benchmark file may pass a tenant's default limits (3,000,000 rows).
        ceiling = limits.maxima()
        tenant.intake_limits = {"rows": ceiling.rows, "file_mb": ceiling.file_mb}
    await db.dispose()
    return tenant.id


def rejected_lines(portfolio_id: str) -> set[int]:
    from portal.operator import portfolio_report

    try:
        report = asyncio.run(portfolio_report(portfolio_id, "errors")).decode("utf-8-sig")
    except Exception:
        return set()
    return {int(r[0]) for r in list(csv.reader(report.splitlines(), delimiter=";"))[1:]}


def change_one_percent(source: Path, target: Path, skip: set[int]) -> int:
    """Change the amount on 1% of the accepted rows (line i is spreadsheet row i + 1)."""
    lines = source.read_text(encoding="cp1252").splitlines()
    changed = 0
    for i in range(1, len(lines), 100):
        if i + 1 in skip:
            continue
        cells = lines[i].split(";")
        cells[5] = "12.345,67" if cells[5] != "12.345,67" else "12.345,68"
        lines[i] = ";".join(cells)
        changed += 1
    target.write_text("\r\n".join(lines) + "\r\n", encoding="cp1252")
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--orm-sample", type=int, default=20_000)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "import.json")
    args = parser.parse_args()

    from tenants.intake.formats.sample import write

    with scratch() as (folder, env):
        url = env.url
        data = folder / "carteira.csv"
        started = time.perf_counter()
        write(data, args.rows)
        generated = time.perf_counter() - started
        size_mb = data.stat().st_size / 1e6
        print(f"generated {args.rows:,} rows ({size_mb:.0f} MB) in {generated:.1f}s")

        # The baseline is short and this machine's speed drifts: take the median of
        # three runs, so one slow or fast COPY does not swing the ratios.
        copies = sorted(bare_copy(url, data) for _ in range(3))
        copy_s = copies[1]
        print(f"(a) bare COPY into an unindexed text table: {copy_s:.2f}s (median of "
              + ", ".join(f"{c:.2f}" for c in copies) + ")")

        asyncio.run(create_tenant("bench-import"))
        first = import_in_child("bench-import", data)
        print(f"    import: {first['seconds']:.2f}s, peak memory "
              f"{first['peak_rss_mb']:.0f} MB (its file reader: "
              f"{first['reader_peak_rss_mb']:.0f} MB), {first['rows_accepted']:,} accepted, "
              f"{first['rows_rejected']:,} rejected; CPU: import process "
              f"{first['cpu_s']:.1f}s + reader {first['reader_cpu_s']:.1f}s, database server"
              f" {first['database_cpu_s']:.1f}s")
        floor = table_writes(url, uuid.UUID(str(first["tenant_id"])),
                             asyncio.run(create_tenant("bench-floor")))
        floor_s = sum(floor.values())
        print(f"(c) the same rows into the indexed tables, pre-validated: {floor_s:.2f}s ("
              + ", ".join(f"{t} {s:.2f}s" for t, s in floor.items()) + ")")
        parse = parse_in_child(data)
        print(f"(d) reading and validation alone, no database: {parse['seconds']:.2f}s, "
              f"CPU {parse['cpu_s']:.1f}s")
        second = import_in_child("bench-import", data)
        print(f"    same file again: {second['seconds']:.2f}s ({second['status']})")

        changed_path = folder / "carteira-1pct.csv"
        changed = change_one_percent(data, changed_path,
                                     rejected_lines(str(first["portfolio_id"])))
        third = import_in_child("bench-import", changed_path)
        print(f"    incremental copy with {changed:,} amounts changed: "
              f"{third['seconds']:.2f}s, {third['debts_updated']:,} updated")

        orm_tenant = asyncio.run(create_tenant("bench-orm"))
        sample = min(args.orm_sample, args.rows)
        orm_s = asyncio.run(orm_row_by_row(orm_tenant, data, sample))
        orm_full = orm_s * args.rows / sample
        print(f"(b) ORM row by row: {orm_s:.2f}s for {sample:,} rows, "
              f"{orm_full:.0f}s extrapolated")

        result = {
            "rows": args.rows, "file_mb": round(size_mb, 1),
            "bare_copy_s": round(copy_s, 2),
            "import_s": round(first["seconds"], 2),
            "import_vs_copy": round(first["seconds"] / copy_s, 2),
            "table_writes_s": round(floor_s, 2),
            "table_writes_vs_copy": round(floor_s / copy_s, 2),
            "import_vs_table_writes": round(first["seconds"] / floor_s, 2),
            "parse_alone_s": round(parse["seconds"], 2),
            "parse_alone_cpu_s": round(parse["cpu_s"], 1),
            "orm_extrapolated_s": round(orm_full, 1),
            "orm_vs_import": round(orm_full / first["seconds"], 1),
            "peak_rss_mb": round(first["peak_rss_mb"]),
            "reader_peak_rss_mb": round(first["reader_peak_rss_mb"]),
            "import_cpu_s": round(first["cpu_s"], 1),
            "reader_cpu_s": round(first["reader_cpu_s"], 1),
            "database_cpu_s": round(first["database_cpu_s"], 1),
            "database_cpu_vs_copy": round(first["database_cpu_s"] / copy_s, 2),
            "repeat_s": round(second["seconds"], 2),
            "repeat_vs_first_pct": round(100 * second["seconds"] / first["seconds"], 1),
            "changed_rows": changed, "reported_updated": third["debts_updated"],
            "incremental_s": round(third["seconds"], 2),
        }
        save(result, args.out)


if __name__ == "__main__":
    main()
