"""Write a validated portfolio into the tenant's tables, set-based, batch by batch.

Each batch of accepted rows is copied with COPY into small temporary tables and merged
into `debtor`, `debt` and `contact_point` by a handful of INSERT ... SELECT / UPDATE ...
FROM statements while the reader thread parses the next batch, so the parser and the
database work at the same time. Keys are UUIDv7 made here in blocks (`uuid7_block`).
New rows are plain inserts: the existing rows a batch touches are found first with
index lookups (forced with LATERAL, so a plan never scans a whole table per batch), and
only what is left is inserted, without ON CONFLICT.

Everything happens in one transaction holding a per-tenant advisory lock: an import
that dies leaves nothing behind, and running it again reaches the same final state.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass
from typing import Any

import polars as pl

from core.collection.ledger import placement_entries_sql
from core.ids import uuid7_block
from core.models import DEBT_STATUS_LABELS, DebtStatus, ImportMode
from tenants.intake.load.bloom_filter import BloomFilter
from tenants.intake.load.copy_data import binary_copy_data, copy_into, temp_table

log = logging.getLogger("regua.intake.store")

# Staging tables, filled by COPY batch after batch. `incoming_debtor` holds one row per
# document of the batch; `src_debtor` adds the id the debtor has (or gets) in the tenant.
STAGING = {"row": "int4", "debt_id": "uuid", "entry_id": "uuid", "entry2_id": "uuid",
           "document": "text", "contract": "text",
           "installment": "int4", "due_date": "date", "amount": "numeric(14,2)",
           "balance": "numeric(14,2)", "extra": "jsonb"}
INCOMING_DEBTOR = {"document": "text", "id": "uuid", "document_kind": "text", "name": "text",
                   "birth_date": "date", "state": "text", "seen": "bool"}
STAGING_CONTACT = {"id": "uuid", "document": "text", "kind": "text", "value": "text",
                   "details": "jsonb"}
PLACEMENT_TABLES = [
    temp_table("staging", STAGING),
    temp_table("incoming_debtor", INCOMING_DEBTOR),
    temp_table("staging_contact", STAGING_CONTACT),
    """CREATE TEMP TABLE src_debtor (
        document text PRIMARY KEY, id uuid NOT NULL, existing boolean NOT NULL,
        changed boolean NOT NULL,
        document_kind text NOT NULL, name text NOT NULL, birth_date date, state text
    ) ON COMMIT DROP""",
    """CREATE TEMP TABLE matched (
        row int PRIMARY KEY, debt_id uuid NOT NULL, old_status text NOT NULL,
        changed boolean NOT NULL
    ) ON COMMIT DROP""",
    """CREATE TEMP TABLE changed_debt (
        debt_id uuid PRIMARY KEY, debtor_id uuid NOT NULL, amount numeric(14,2) NOT NULL,
        new_balance numeric(14,2) NOT NULL, delta numeric(14,2) NOT NULL,
        due_date date NOT NULL, extra jsonb
    ) ON COMMIT DROP""",
    "CREATE TEMP TABLE updated_debtor (id uuid PRIMARY KEY) ON COMMIT DROP",
    "CREATE TEMP TABLE file_key (contract text NOT NULL, installment int NOT NULL)"
    " ON COMMIT DROP",
]
FILE_KEY = {"contract": "text", "installment": "int4"}
CLOSING = {"row": "int4", "contract": "text", "installment": "int4",
           "amount_paid": "numeric(14,2)", "paid_on": "date", "raw": "text"}
CLOSE_TABLES = [
    temp_table("staging", CLOSING),
    """CREATE TEMP TABLE closed_debt (
        id uuid PRIMARY KEY, debtor_id uuid NOT NULL, paid_on date
    ) ON COMMIT DROP""",
]

IN_AGREEMENT_WARNING = ("título em acordo: as mudanças do arquivo (valor, saldo, vencimento)"
                        " não foram aplicadas; fale com a assessoria")

HELD_BY_OTHERS = ("contrato e parcela já pertencem a outro devedor desta carteira (outro"
                  " CPF/CNPJ): corrija o arquivo ou peça a transferência à assessoria")

# Debts the creditor took back may be placed again by a later file.
REPLACEABLE = (DebtStatus.WITHDRAWN, DebtStatus.RECALLED, DebtStatus.RETURNED)


@dataclass
class MergeCounts:
    debtors_created: int = 0
    debtors_updated: int = 0
    debts_created: int = 0
    debts_updated: int = 0
    debts_unchanged: int = 0
    debts_closed: int = 0
    contacts_created: int = 0
    amount_placed: Any = 0


def contacts_of(frame: pl.DataFrame) -> pl.DataFrame:
    """A batch's phones, e-mails and addresses, one row per debtor and value.

    Exports repeat a debtor's contacts on every installment: dropping the repeats here
    leaves the database only distinct values to write. The rows come out in the order
    of the debtors' ids (a new debtor's id follows its last row in the batch) and then
    of kind and value, and take their ids in that order, so both indexes of
    `contact_point` grow at their right edge, where PostgreSQL appends without
    searching the tree (measured: three times fewer index pages touched per row).
    """
    # A debtor's place: its last row, the one whose position gives a new debtor its id.
    frame = frame.with_row_index("position").with_columns(
        pl.col("position").max().over("document"))
    phones = (frame.select("document", "position", pl.col("phones").str.strip_chars("{}")
                           .str.split(",").alias("value"))
              .explode("value").filter(pl.col("value") != "")
              .with_columns(kind=pl.lit("phone")))
    emails = (frame.select("document", "position", pl.col("email").str.split(",")
                           .alias("value"))
              .explode("value").filter(pl.col("value").is_not_null())
              .with_columns(kind=pl.lit("email")))
    addresses = (frame.filter(pl.col("address").is_not_null() | pl.col("zip").is_not_null())
                 .select("document", "position",
                         pl.concat_str(["address", "city", "state", "zip"],
                                       separator=", ", ignore_nulls=True).alias("value"),
                         pl.struct(pl.col("address").alias("street"), "city", "state", "zip")
                         .struct.json_encode().alias("details"))
                 .with_columns(kind=pl.lit("address")))
    unique = (pl.concat([phones, emails, addresses], how="diagonal")
              .unique(["document", "kind", "value"], keep="first", maintain_order=True)
              .sort("position", "kind", "value"))
    return unique.with_columns(uuid7_block(unique.height))


@dataclass
class PreparedBatch:
    """A batch as COPY data, made in the reader thread while the database is busy."""

    rows: int
    tables: list[tuple[str, dict[str, str], bytes]]
    # A `full` import's rejected rows' keys, added to `file_key` (see Batch.rejected_keys).
    kept_keys: bytes | None = None


# Plans for the statements that find a batch's rows in the tenant tables (see _lookup).
LOOKUPS_ONLY = ("SELECT set_config('enable_seqscan', 'off', true), "
                "set_config('enable_hashjoin', 'off', true), "
                "set_config('enable_mergejoin', 'off', true)")
LOOKUPS_DONE = LOOKUPS_ONLY.replace("'off'", "'on'")


class PortfolioWriter:
    """Owns the import transaction on a psycopg connection scoped to one tenant.

    `prepare` is pure computation (it runs in the reader thread); `write` and `finish`
    talk to the database.
    """

    def __init__(self, conn: Any, tenant_id: uuid.UUID, portfolio_id: uuid.UUID,
                 mode: ImportMode, placed_until: Any) -> None:
        self.conn = conn
        self.mode = mode
        self.closing = mode in (ImportMode.SETTLEMENT, ImportMode.RECALL)
        self.params = {"t": tenant_id, "p": portfolio_id, "until": placed_until,
                       "replaceable": [s.value for s in REPLACEABLE],
                       "full": mode is ImportMode.FULL}
        self.counts = MergeCounts()
        self.first = False  # the tenant's first portfolio (see begin)
        self.seen: BloomFilter | None = None
        # Rows the database found to deserve a warning (linha, coluna, valor, aviso).
        self.late_warnings: list[tuple[int, str, str, str]] = []

    def begin(self) -> None:
        # One import per tenant at a time: concurrent merges would race on new debtors.
        self.conn.execute("SELECT pg_advisory_xact_lock(hashtext('regua.import'), "
                          "hashtext(%s))", (str(self.params["t"]),))
        self.conn.execute("SET LOCAL work_mem = '64MB'")
        # Statements run once per batch on a few thousand rows: compiling them costs more
        # than it saves.
        self.conn.execute("SET LOCAL jit = off")
        for ddl in CLOSE_TABLES if self.closing else PLACEMENT_TABLES:
            self.conn.execute(ddl)
        # A tenant's first portfolio cannot match a debt placed before (the rules reject a
        # contract and installment repeated in the file), and only a document an earlier
        # batch may have written can match a debtor: the import skips the other lookups.
        self.first = not self._scalar(
            "SELECT EXISTS (SELECT 1 FROM debtor WHERE tenant_id = %(t)s)")
        if self.first:
            self.seen = BloomFilter()

    def prepare(self, frame: pl.DataFrame, rejected_keys: pl.DataFrame) -> PreparedBatch:
        """A batch of accepted rows (canonical columns) as COPY data for the staging tables."""
        if self.closing:
            return PreparedBatch(frame.height, [
                ("staging", CLOSING, binary_copy_data(frame, CLOSING))])
        # Each new debt's ledger entries take ids made here too (at most two per debt).
        entry_ids = uuid7_block(2 * frame.height, "entry")
        debts = frame.with_columns(uuid7_block(frame.height, "debt_id"),
                                   entry_id=entry_ids.gather_every(2),
                                   entry2_id=entry_ids.gather_every(2, offset=1))
        # The batch's last row for a debtor wins (and a later batch over an earlier one).
        debtors = frame.unique("document", keep="last", maintain_order=True)
        seen = (pl.lit(True) if self.seen is None
                else self.seen.check_and_add(debtors.get_column("document")))
        debtors = debtors.with_columns(uuid7_block(debtors.height), seen=seen)
        kept = (binary_copy_data(rejected_keys, FILE_KEY)
                if self.mode is ImportMode.FULL and rejected_keys.height else None)
        return PreparedBatch(frame.height, [
            ("staging", STAGING, binary_copy_data(debts, STAGING)),
            ("incoming_debtor", INCOMING_DEBTOR, binary_copy_data(debtors, INCOMING_DEBTOR)),
            ("staging_contact", STAGING_CONTACT,
             binary_copy_data(contacts_of(frame), STAGING_CONTACT)),
        ], kept)

    def write(self, batch: PreparedBatch) -> list[tuple[int, str, str]]:
        """Merge one prepared batch into the tenant's tables; the rows the database
        refused (a debt another debtor holds; a settlement or recall of a debt that is
        not here): row, raw cells as JSON (closing files), reason."""
        if batch.kept_keys is not None:
            self._copy("file_key", FILE_KEY, batch.kept_keys)
        if batch.rows == 0:
            return []
        self._run(f"TRUNCATE {', '.join(t for t, _, _ in batch.tables)}"
                  + ("" if self.closing else ", src_debtor, matched, changed_debt"))
        for table, columns, data in batch.tables:
            self._copy(table, columns, data)
        if self.closing:
            return self._close_listed()
        return self._place()

    def take_warnings(self) -> list[tuple[int, str, str, str]]:
        """The late warnings since the last call."""
        taken, self.late_warnings = self.late_warnings, []
        return taken

    def finish(self) -> MergeCounts:
        """After the last batch: what only the whole file can tell."""
        c = self.counts
        if self.mode is ImportMode.FULL:
            c.debts_closed = self._run("""
                UPDATE debt x SET status = 'withdrawn', closed_at = now(),
                    status_reason = 'ausente da carteira completa', closed_by_portfolio_id = %(p)s,
                    updated_at = now()
                WHERE x.tenant_id = %(t)s AND x.status = 'open'
                  AND NOT EXISTS (SELECT 1 FROM file_key k
                                  WHERE k.contract = x.contract AND k.installment = x.installment)
            """).rowcount
        if not self.closing:
            c.debtors_updated = self._scalar("SELECT count(*) FROM updated_debtor")
        return c

    def _copy(self, table: str, columns: dict[str, str], data: bytes) -> None:
        started = time.perf_counter()
        copy_into(self.conn, table, columns, data)
        log.debug("%.3fs COPY %s", time.perf_counter() - started, table)

    def _run(self, sql: str) -> Any:
        started = time.perf_counter()
        cursor = self.conn.execute(sql, self.params if "%(" in sql else None)
        log.debug("%.3fs %s", time.perf_counter() - started, " ".join(sql.split())[:60])
        return cursor

    def _scalar(self, sql: str) -> Any:
        return self._run(sql).fetchone()[0]

    def _lookup(self, sql: str) -> Any:
        """Run a statement that must reach the tenant tables only through their indexes.

        The tenant tables grow inside this transaction, where autovacuum cannot see them:
        their statistics still describe them as they were before, often empty, and the
        planner would then read the whole tenant once per batch row. So these statements
        run with nested loops over index scans only, reach the big table from the batch
        side (LATERAL, or `id = ANY(ARRAY(...))`), and name no `tenant_id`: the row-level
        security qualifier already limits them to this import's one tenant, and a second
        condition on that column makes the stale estimates prefer the primary key, which
        reads every row of the tenant (measured: 5 ms a lookup at 20,000 debtors).
        """
        self.conn.execute(LOOKUPS_ONLY)
        try:
            return self._run(sql)
        finally:
            self.conn.execute(LOOKUPS_DONE)

    def _place(self) -> list[tuple[int, str, str]]:
        c, run = self.counts, self._run
        self._lookup("""
            INSERT INTO src_debtor (document, id, existing, changed, document_kind, name,
                                    birth_date, state)
            SELECT s.document, coalesce(d.id, s.id), d.id IS NOT NULL,
                   d.id IS NOT NULL AND (d.name IS DISTINCT FROM s.name
                       OR (s.birth_date IS NOT NULL AND d.birth_date IS DISTINCT FROM s.birth_date)
                       OR (s.state IS NOT NULL AND d.state IS DISTINCT FROM s.state)),
                   s.document_kind, s.name, s.birth_date, s.state
            FROM incoming_debtor s
            LEFT JOIN LATERAL (SELECT id, name, birth_date, state FROM debtor d
                               WHERE s.seen AND d.document = s.document LIMIT 1) d ON true
        """)
        refused = [] if self.first else self._held_by_others()
        if self._scalar("SELECT count(*) FROM src_debtor WHERE changed"):
            # Debtors placed before by another portfolio count as updated once per import.
            self._lookup("""
                WITH changed AS (
                    UPDATE debtor d SET name = s.name,
                        birth_date = coalesce(s.birth_date, d.birth_date),
                        state = coalesce(s.state, d.state),
                        timezone = coalesce(regua_uf_zone(s.state), d.timezone),
                        updated_at = now()
                    FROM src_debtor s
                    WHERE d.id = ANY(ARRAY(SELECT id FROM src_debtor WHERE changed))
                      AND s.id = d.id
                    RETURNING d.id, d.first_portfolio_id
                )
                INSERT INTO updated_debtor SELECT id FROM changed
                WHERE first_portfolio_id IS DISTINCT FROM %(p)s ON CONFLICT DO NOTHING
            """)
        c.debtors_created += run("""
            INSERT INTO debtor (tenant_id, id, document, document_kind, name, birth_date, state,
                                timezone, first_portfolio_id)
            SELECT %(t)s, id, document, document_kind, name, birth_date, state,
                   coalesce(regua_uf_zone(state), 'America/Sao_Paulo'), %(p)s
            FROM src_debtor WHERE NOT existing
        """).rowcount
        # The rules reject a contract and installment repeated in the file, so each
        # existing debt is matched at most once per import.
        matched = not self.first and self._lookup("""
            INSERT INTO matched (row, debt_id, old_status, changed)
            SELECT s.row, x.id, x.status,
                   x.original_amount <> s.amount OR x.due_date <> s.due_date
                   OR (s.balance IS NOT NULL AND x.current_balance <> s.balance
                       AND x.status = 'open')
                   OR x.extra IS DISTINCT FROM s.extra
                   OR x.status = ANY(%(replaceable)s)
            FROM staging s
            JOIN src_debtor d ON d.document = s.document
            JOIN LATERAL (SELECT * FROM debt x WHERE x.contract = s.contract
                          AND x.installment = s.installment LIMIT 1) x ON true
        """).rowcount
        if matched:
            self._keep_agreements()
            # The new values of the changed debts first, among the batch's own tables (a
            # join the planner may hash), so the update below joins a few rows, not the
            # batch. The balance moves by a creditor update entry in the ledger.
            self._lookup("""
                INSERT INTO changed_debt (debt_id, debtor_id, amount, new_balance, delta,
                                          due_date, extra)
                SELECT m.debt_id, d.id, s.amount, b.balance, b.balance - x.current_balance,
                       s.due_date, s.extra
                FROM matched m JOIN staging s ON s.row = m.row
                JOIN src_debtor d ON d.document = s.document
                JOIN LATERAL (SELECT * FROM debt x WHERE x.id = m.debt_id LIMIT 1) x ON true
                CROSS JOIN LATERAL (SELECT CASE
                        WHEN s.balance IS NOT NULL AND (x.status = 'open'
                            OR x.status = ANY(%(replaceable)s)) THEN s.balance
                        WHEN x.status = ANY(%(replaceable)s) OR
                            x.current_balance = x.original_amount THEN s.amount
                        ELSE x.current_balance + (s.amount - x.original_amount) END
                    AS balance) b
                WHERE m.changed
            """)
            run("""
                INSERT INTO ledger_entry (tenant_id, id, debt_id, posted_on, bucket, kind,
                                          amount, source, source_id)
                SELECT %(t)s, regua_uuid7(), debt_id, current_date, 'principal',
                       'creditor_update', delta, 'portfolio', %(p)s
                FROM changed_debt WHERE delta <> 0
            """)
            c.debts_updated += self._lookup("""
                UPDATE debt x SET original_amount = s.amount, current_balance = s.new_balance,
                    due_date = s.due_date, debtor_id = s.debtor_id, extra = s.extra,
                    status = CASE WHEN x.status = ANY(%(replaceable)s) THEN 'open'
                        ELSE x.status END,
                    status_reason = CASE WHEN x.status = ANY(%(replaceable)s) THEN NULL
                        ELSE x.status_reason END,
                    closed_at = CASE WHEN x.status = ANY(%(replaceable)s) THEN NULL
                        ELSE x.closed_at END,
                    placed_until = CASE WHEN x.status = ANY(%(replaceable)s) THEN %(until)s
                        ELSE x.placed_until END,
                    last_portfolio_id = %(p)s, updated_at = now()
                FROM changed_debt s
                WHERE x.id = ANY(ARRAY(SELECT debt_id FROM changed_debt)) AND s.debt_id = x.id
            """).rowcount
            c.debts_unchanged += self._scalar("SELECT count(*) FROM matched WHERE NOT changed")
        new_debts = "NOT EXISTS (SELECT 1 FROM matched m WHERE m.row = s.row)" if matched \
            else "true"
        c.amount_placed += self._scalar(f"""
            SELECT coalesce(sum(coalesce(s.balance, s.amount)), 0) FROM staging s
            WHERE {new_debts} OR EXISTS (SELECT 1 FROM matched m WHERE m.row = s.row
                                         AND m.old_status = ANY(%(replaceable)s))
        """)
        c.debts_created += run(f"""
            INSERT INTO debt (tenant_id, id, debtor_id, portfolio_id, last_portfolio_id,
                              contract, installment, original_amount, current_balance,
                              due_date, status, placed_until, extra)
            SELECT %(t)s, s.debt_id, d.id, %(p)s, %(p)s, s.contract, s.installment,
                   s.amount, coalesce(s.balance, s.amount), s.due_date, 'open', %(until)s,
                   s.extra
            FROM staging s JOIN src_debtor d ON d.document = s.document
            WHERE {new_debts}
        """).rowcount
        run(f"""
            INSERT INTO ledger_entry (tenant_id, id, debt_id, posted_on, bucket, kind, amount,
                                      source, source_id)
            SELECT %(t)s, CASE e.n WHEN 1 THEN s.entry_id ELSE s.entry2_id END, s.debt_id,
                   current_date, e.bucket, e.kind, e.amount, 'portfolio', %(p)s
            FROM staging s JOIN src_debtor d ON d.document = s.document
            CROSS JOIN LATERAL ({placement_entries_sql("s.amount", "s.balance")}
            ) e(n, bucket, kind, amount)
            WHERE ({new_debts}) AND e.amount <> 0
        """)
        if self.mode is ImportMode.FULL:
            run("INSERT INTO file_key SELECT contract, installment FROM staging")
        # A debtor new in this batch has no contact points yet: plain inserts. One seen
        # before may have some already.
        for existing, conflict in ((False, ""), (True, "ON CONFLICT DO NOTHING")):
            c.contacts_created += run(f"""
                INSERT INTO contact_point (tenant_id, id, debtor_id, kind, value, details,
                                           source)
                SELECT %(t)s, c.id, d.id, c.kind, c.value, jsonb_strip_nulls(c.details),
                       'portfolio'
                FROM staging_contact c JOIN src_debtor d ON d.document = c.document
                WHERE {'' if existing else 'NOT '}d.existing
                {conflict}
            """).rowcount
        # A new debtor without a state takes the zone of its first phone's area code.
        self._lookup("""
            UPDATE debtor d SET timezone = z.zone
            FROM (SELECT DISTINCT ON (s.id) s.id, regua_phone_zone(c.value) AS zone
                  FROM src_debtor s JOIN staging_contact c ON c.document = s.document
                  WHERE NOT s.existing AND s.state IS NULL AND c.kind = 'phone'
                    AND regua_phone_zone(c.value) IS NOT NULL
                  ORDER BY s.id, c.id) z
            WHERE d.id = ANY(ARRAY(SELECT id FROM src_debtor
                                   WHERE NOT existing AND state IS NULL))
              AND d.id = z.id
        """)
        return refused

    def _keep_agreements(self) -> None:
        """A debt in an agreement is not rewritten by a file: the agreement fixed what
        is owed. Its changed rows count as unchanged and are reported as warnings."""
        held = self._run("""
            WITH held AS (
                UPDATE matched SET changed = false
                WHERE changed AND old_status = 'in_agreement' RETURNING row
            )
            SELECT s.row, s.contract || '/' || s.installment
            FROM held h JOIN staging s ON s.row = h.row ORDER BY s.row
        """).fetchall()
        self.late_warnings += [(row, "contrato/parcela", key, IN_AGREEMENT_WARNING)
                               for row, key in held]

    def _held_by_others(self) -> list[tuple[int, str, str]]:
        """Rows whose contract and installment another debtor of the tenant holds, taken
        out of the batch: a file must not move a debt to someone else unnoticed (a reused
        contract number, one Excel rounded to 1,23457E+11, a CPF typo). A debt the
        creditor took back may be placed again for anyone. The debtors and contacts only
        those rows brought go with them."""
        rows = self._lookup("""
            WITH gone AS (
                DELETE FROM staging s USING (
                    SELECT s.row FROM staging s JOIN src_debtor d ON d.document = s.document
                    JOIN LATERAL (SELECT debtor_id, status FROM debt x
                                  WHERE x.contract = s.contract
                                    AND x.installment = s.installment LIMIT 1) x ON true
                    WHERE x.debtor_id <> d.id AND x.status <> ALL(%(replaceable)s)
                ) other WHERE s.row = other.row
                RETURNING s.row, s.contract, s.installment
            ), present AS (  -- a full file has these rows: their debts are not absent
                INSERT INTO file_key SELECT contract, installment FROM gone WHERE %(full)s
            )
            SELECT row FROM gone ORDER BY row
        """).fetchall()
        if rows:
            self._run("DELETE FROM src_debtor d WHERE NOT EXISTS"
                      " (SELECT 1 FROM staging s WHERE s.document = d.document)")
            self._run("DELETE FROM staging_contact c WHERE NOT EXISTS"
                      " (SELECT 1 FROM src_debtor d WHERE d.document = c.document)")
        return [(row, "", HELD_BY_OTHERS) for (row,) in rows]

    def _close_listed(self) -> list[tuple[int, str, str]]:
        """Settlement ("baixa") or recall: close each listed debt that is still worked; a
        row without an installment closes every installment of its contract."""
        settled = self.mode is ImportMode.SETTLEMENT
        p = {**self.params,
             "status": DebtStatus.SETTLED_BY_CREDITOR if settled else DebtStatus.RECALLED,
             "reason": "baixa do credor" if settled else "recolhida pelo credor"}
        c = self.counts
        self.conn.execute("TRUNCATE closed_debt")
        c.debts_closed += self.conn.execute("""
            WITH closed AS (
                UPDATE debt x SET status = %(status)s, status_reason = %(reason)s,
                    closed_at = now(), closed_by_portfolio_id = %(p)s,
                    last_portfolio_id = %(p)s, updated_at = now()
                FROM staging s
                WHERE x.tenant_id = %(t)s AND x.contract = s.contract
                  AND (s.installment IS NULL OR x.installment = s.installment)
                  AND x.status IN ('open', 'in_agreement')
                RETURNING x.id, x.debtor_id, s.paid_on
            )
            INSERT INTO closed_debt SELECT DISTINCT ON (id) id, debtor_id, paid_on FROM closed
        """, p).rowcount
        if settled:
            # What the creditor was paid directly: a payment row per installment (a
            # whole contract's amount cannot be split among installments, so it stays in
            # the file alone), and the balance written off bucket by bucket.
            self.conn.execute("""
                INSERT INTO payment (tenant_id, id, debt_id, debtor_id, amount, paid_on,
                                     source, reference, portfolio_id)
                SELECT %(t)s, regua_uuid7(), k.id, k.debtor_id, s.amount_paid, s.paid_on,
                       'creditor', 'baixa', %(p)s
                FROM closed_debt k JOIN debt x ON x.tenant_id = %(t)s AND x.id = k.id
                JOIN staging s ON s.contract = x.contract AND s.installment = x.installment
                WHERE s.amount_paid > 0
            """, p)
            self.conn.execute("""
                INSERT INTO ledger_entry (tenant_id, id, debt_id, posted_on, bucket, kind,
                                          amount, source, source_id)
                SELECT %(t)s, regua_uuid7(), b.debt_id, b.posted_on, b.bucket, 'write_off',
                       -b.total, 'portfolio', %(p)s
                FROM (SELECT e.debt_id, e.bucket, coalesce(k.paid_on, current_date) posted_on,
                             sum(e.amount) total
                      FROM closed_debt k JOIN ledger_entry e
                        ON e.tenant_id = %(t)s AND e.debt_id = k.id
                      GROUP BY e.debt_id, e.bucket, k.paid_on) b
                WHERE b.total <> 0
            """, p)
            self.conn.execute("""
                UPDATE debt x SET current_balance = 0 FROM closed_debt k
                WHERE x.tenant_id = %(t)s AND x.id = k.id
            """, p)
        rows = self.conn.execute("""
            SELECT s.row, s.raw, array_remove(array_agg(DISTINCT x.status), NULL)
            FROM staging s
            LEFT JOIN debt x ON x.tenant_id = %(t)s AND x.contract = s.contract
                            AND (s.installment IS NULL OR x.installment = s.installment)
            GROUP BY s.row, s.raw
            HAVING count(*) FILTER (WHERE x.closed_by_portfolio_id = %(p)s) = 0
            ORDER BY s.row
        """, p).fetchall()
        return [(row, raw or "", _not_closed(statuses)) for row, raw, statuses in rows]


def _not_closed(statuses: list[str]) -> str:
    if not statuses:
        return "contrato/parcela não encontrado na carteira"
    labels = ", ".join(sorted(DEBT_STATUS_LABELS[DebtStatus(s)] for s in statuses))
    return f"título já encerrado ({labels})"
