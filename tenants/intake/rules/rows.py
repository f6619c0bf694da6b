"""Vectorised row rules: turn a batch of raw records into accepted rows, rejects, warnings.

A row is accepted with a valid CPF/CNPJ, a name, a contract, a valid due date and an
amount above zero. Contacts are optional: an invalid phone, e-mail, CEP, UF or birth
date is dropped with a warning and the row stays. The same contract and installment
twice: the first valid occurrence counts, later ones are rejected naming it.

The rules are polars expressions computed in stages (each stage reads the columns the
previous one wrote), so every intermediate value is computed once per batch; Python
only loops over the few rejected and warned rows to word their messages.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field

import polars as pl

from core.addresses import UF_BY_NAME, UF_CODES
from core.documents import document_stages
from core.models import ImportMode
from core.phones import phone_stages
from tenants.intake.load.file_keys import FileKeys, MemoryKeys
from tenants.intake.rules.columns import ColumnMapping
from tenants.intake.rules.contacts import (
    BAD_EMAIL,
    BAD_PHONE,
    DISPLAY_NAME,
    EMAIL,
    EMAIL_PART,
    EMAIL_SEPARATORS,
    NOT_EMAIL,
    PHONE_PART,
    joined,
    phone_cell,
    several_emails,
    several_phones,
    with_area_code,
)
from tenants.intake.rules.values import (
    DATE_LIKE,
    EARLIEST_DUE_DATE,
    INSTALLMENT_AS_DATE,
    ROUNDED_BY_EXCEL,
    SCIENTIFIC,
    cents_text,
    decimal_point,
    digit_lost,
    installment,
    money_stages,
    month_first,
    parse_dates,
)


@dataclass
class Batch:
    """One validated batch: accepted rows (canonical columns), rejected rows (original
    cells plus the reason) and warnings (row, column, value, message)."""

    accepted: pl.DataFrame
    rejected: pl.DataFrame
    warnings: pl.DataFrame
    rows: int = 0
    bytes_read: int = 0
    # The contract and installment of the rejected rows that still name one: a `full`
    # import must not withdraw a debt whose row is in the file but was rejected (a typo in
    # the CPF, a bad date): the file did not leave it out.
    rejected_keys: pl.DataFrame = field(default_factory=lambda: pl.DataFrame(
        schema={"contract": pl.String, "installment": pl.Int32}))

    @property
    def warned_rows(self) -> int:
        return self.warnings.get_column("linha").n_unique() if self.warnings.height else 0


WARNING_SCHEMA = {"linha": pl.Int64, "coluna": pl.String, "valor": pl.String,
                  "aviso": pl.String}


def _merge_stages(*plans: list[dict[str, pl.Expr]]) -> list[dict[str, pl.Expr]]:
    """Run independent stage lists side by side: stage k of each in one with_columns."""
    merged: list[dict[str, pl.Expr]] = []
    for plan in plans:
        for k, stage in enumerate(plan):
            if k == len(merged):
                merged.append({})
            merged[k].update(stage)
    return merged


@dataclass
class Plan:
    stages: list[dict[str, pl.Expr]]
    checks: list[tuple[int, pl.Expr]]  # (column index, reason or null)
    warns: list[tuple[int, pl.Expr]]
    out: dict[str, pl.Expr]
    # Cells holding several phones or e-mails: their rows are read again value by value.
    several: list[pl.Expr] = field(default_factory=list)


class RowRules:
    """Applies the rules batch after batch, remembering contract keys across batches
    (in memory unless `keys` says where)."""

    def __init__(self, mapping: ColumnMapping, mode: ImportMode,
                 keys: FileKeys | None = None) -> None:
        self.mapping = mapping
        self.width = len(mapping.headers)
        self.closing = mode in (ImportMode.SETTLEMENT, ImportMode.RECALL)
        self.keys = keys if keys is not None else MemoryKeys()
        self.email_warnings: list[int] = []  # each e-mail column's place among warnings
        # Per date column, once a batch shows it: whether the month comes first.
        self.month_first: dict[int, bool] = {}
        self.decimal_point: dict[int, bool] = {}  # per amount column, the same way

    def _month_first(self, frame: pl.DataFrame, idx: int) -> bool:
        """A file's dates are day first, as in Brazil, unless a column shows otherwise."""
        return self._column_shows(self.month_first, month_first, frame, idx)

    def _decimal_point(self, frame: pl.DataFrame, idx: int) -> bool:
        """A file's amounts use the decimal comma, as in Brazil, unless a column shows
        otherwise ("1234.56"); then "1.500" is one and a half, not a thousand and a half."""
        return self._column_shows(self.decimal_point, decimal_point, frame, idx)

    @staticmethod
    def _column_shows(known: dict[int, bool], detect: Callable[[pl.Series], bool | None],
                      frame: pl.DataFrame, idx: int) -> bool:
        """What `detect` tells of column `idx` (False until a batch shows it either way);
        the first batch that shows it decides for the rest of the file."""
        if idx not in known:
            found = detect(frame.get_column(f"c{idx}"))
            if found is None:
                return False
            known[idx] = found
        return known[idx]

    def _idx(self, name: str) -> int | None:
        cols = self.mapping.columns.get(name)
        return cols[0] if cols else None

    def _required(self, name: str) -> int:
        """The column of a required field (match_headers stopped the file without it)."""
        idx = self._idx(name)
        if idx is None:
            raise LookupError(f"required field {name!r} has no column")
        return idx

    def apply(self, frame: pl.DataFrame, bytes_read: int) -> Batch:
        """`frame` has `row`, `c0..cN` (strings, '' for empty) and `_wide`."""
        self.dates: dict[str, int] = {}
        plan = self._closing_plan() if self.closing else self._placement_plan(frame)
        frame = frame.with_columns(
            parse_dates(frame.get_column(f"c{idx}"), self._month_first(frame, idx)).alias(name)
            for name, idx in self.dates.items())
        lazy = frame.lazy()
        for stage in plan.stages:
            lazy = lazy.with_columns(**stage)
        lazy = lazy.with_columns(
            **{f"_e{i}": e for i, (_, e) in enumerate(plan.checks)},
            **{f"_w{i}": w for i, (_, w) in enumerate(plan.warns)},
            **plan.out,
            _several=pl.any_horizontal(plan.several) if plan.several else pl.lit(False),
        )
        errors = [pl.col(f"_e{i}").is_not_null() for i in range(len(plan.checks))]
        checked = lazy.with_columns(_valid=~pl.any_horizontal([*errors,
                                                                pl.col("_wide").is_not_null()])
                                    ).collect()
        checked = self._several_values(checked)
        checked = self._duplicates(checked)
        headers = self.mapping.headers
        cells = [f"c{i}" for i in range(self.width)]
        contract = self._required("contract")

        def quoted(idx: int) -> pl.Expr:
            return pl.when(pl.col(f"c{idx}") != "").then(
                pl.concat_str([pl.lit(" ('"), pl.col(f"c{idx}"), pl.lit("')")]))

        reasons = [pl.concat_str([pl.lit(f"{headers[idx]}: "), pl.col(f"_e{i}"),
                                  quoted(idx).fill_null("")])
                   for i, (idx, _) in enumerate(plan.checks)]
        reasons.append(pl.when(pl.col("_wide").is_not_null()).then(pl.concat_str([pl.lit(
            f"linha com mais colunas preenchidas que o cabeçalho ({self.width}); além dele: "),
            pl.col("_wide")])))
        reasons.append(pl.when(pl.col("_valid")).then(pl.concat_str([
            pl.lit(f"{headers[contract]}: contrato e parcela repetidos no arquivo; vale a "
                   "primeira ocorrência, na linha "), pl.col("_dup_of").cast(pl.String)])))
        refused = checked.filter(~pl.col("_valid") | pl.col("_dup_of").is_not_null()
                                 ).with_columns(_not_debt=self._not_a_debt())
        rejected = refused.select("row", *cells, pl.coalesce(pl.col("_not_debt"), pl.concat_str(
            reasons, separator="; ", ignore_nulls=True)).alias("motivo"))
        good = checked.filter(pl.col("_valid") & pl.col("_dup_of").is_null())
        rejected_keys = refused.filter(
            ~pl.col("_valid") & (pl.col("contract") != "") & pl.col("installment").is_not_null()
            & pl.col("_not_debt").is_null()
        ).select("contract", "installment")
        warnings = pl.concat([
            good.filter(pl.col(f"_w{i}").is_not_null()).select(
                pl.col("row").alias("linha"), pl.lit(headers[idx]).alias("coluna"),
                pl.col(f"c{idx}").alias("valor"), pl.col(f"_w{i}").alias("aviso"))
            for i, (idx, _) in enumerate(plan.warns)
        ]).sort("linha", maintain_order=True) if plan.warns else pl.DataFrame(
            schema=WARNING_SCHEMA)
        # The accepted rows keep their cells for the error report, should the database
        # refuse one (see store.PortfolioWriter.write).
        return Batch(accepted=good.select(["row", *plan.out.keys(), *cells]), rejected=rejected,
                     warnings=warnings, rows=frame.height, bytes_read=bytes_read,
                     rejected_keys=rejected_keys)

    def _not_a_debt(self) -> pl.Expr:
        """One plain reason for a line that is no debt at all, instead of every empty field.

        Exports joined one after another repeat their header mid-file, and spreadsheets
        end with a totals line. Both stay rejected rows (counted and in the error report),
        so nothing is passed over unseen.
        """
        named = [(i, h.strip().casefold()) for i, h in enumerate(self.mapping.headers) if h]
        cell = [pl.col(f"c{i}").str.strip_chars().str.to_lowercase() for i in range(self.width)]
        header_again = pl.all_horizontal([cell[i] == h for i, h in named])
        first = pl.coalesce([pl.when(c != "").then(c) for c in cell])
        contract, due = cell[self._required("contract")], self._idx("due_date")
        no_due = pl.lit(True) if due is None else cell[due] == ""
        totals = ((first.str.contains(r"^(sub)?tota(l|is)\b|^soma\b") & (contract == "") & no_due)
                  | contract.str.contains(r"^(sub)?tota(l|is)\b"))
        return (pl.when(header_again)
                .then(pl.lit("cabeçalho repetido no meio do arquivo (arquivos juntados?): não é"
                             " um débito"))
                .when(totals).then(pl.lit("linha de totais: não é um débito")))

    # -- placement files ----------------------------------------------------------------

    def _placement_plan(self, frame: pl.DataFrame) -> Plan:
        m = self.mapping.columns
        doc, name = self._required("document"), self._required("name")
        # CPF and CNPJ may come in columns of their own: the row's is the one filled.
        document = pl.coalesce([pl.when(pl.col(f"c{i}").str.strip_chars() != "")
                                .then(pl.col(f"c{i}"))
                                for i in m["document"] + m.get("document_2", [])])
        contract, due = self._required("contract"), self._required("due_date")
        amount, inst = self._required("amount"), self._idx("installment")
        has_letters = bool(frame.select(document.str.contains("[A-Za-z]").any()).item())

        documents = document_stages(document, has_letters)
        phones = m.get("phone", [])
        self.dates = {"_due": due}
        balance = self._idx("balance")
        plans = [documents,
                 money_stages(f"c{amount}", "_cents", self._decimal_point(frame, amount)),
                 [{"_inst": installment(f"c{inst}") if inst is not None else pl.lit(1)}]]
        if balance is not None:
            plans.append(money_stages(f"c{balance}", "_bal",
                                       self._decimal_point(frame, balance)))
        plans += [phone_stages(self._phone_number(phone_cell(idx), idx), f"_p{idx}")
                  for idx in phones]
        blank = {i: pl.col(f"c{i}").str.strip_chars() == "" for i in range(self.width)}
        clean_name = pl.col(f"c{name}").str.strip_chars().str.replace_all(r"\s+", " ")
        contract_text = pl.col(f"c{contract}").str.strip_chars()
        checks: list[tuple[int, pl.Expr]] = [
            (doc, pl.when(document.is_null()).then(pl.lit("CPF/CNPJ vazio"))
             .when(pl.col("document").is_null() & document.str.strip_chars().str.contains(
                 SCIENTIFIC)).then(pl.lit(ROUNDED_BY_EXCEL))
             .when(pl.col("document").is_null())
             .then(pl.lit("CPF/CNPJ inválido (dígitos verificadores não conferem)"))),
            (name, pl.when(blank[name]).then(pl.lit("nome vazio"))),
            (contract, pl.when(blank[contract]).then(pl.lit("contrato vazio"))
             .when(contract_text.str.contains(SCIENTIFIC)).then(pl.lit(ROUNDED_BY_EXCEL))
             .when(contract_text.str.len_chars() > 64)
             .then(pl.lit("contrato com mais de 64 caracteres"))),
            (due, pl.when(blank[due]).then(pl.lit("vencimento vazio"))
             .when(pl.col("_due").is_null())
             .then(pl.lit("data de vencimento inválida (use dd/mm/aaaa)"))
             .when(pl.col("_due") < EARLIEST_DUE_DATE)
             .then(pl.lit("data de vencimento implausível (antes de 1950): parece a data"
                          " padrão de um sistema, não a do título"))),
            (amount, pl.when(blank[amount] & pl.col("_cents").is_null()).then(pl.lit("valor vazio"))
             .when(pl.col("_cents").is_null()).then(pl.lit("valor inválido"))
             .when(pl.col("_cents") <= 0).then(pl.lit("o valor deve ser maior que zero"))),
        ]
        if inst is not None:
            checks.append((inst, pl.when(pl.col("_inst").is_null() | (pl.col("_inst") < 1))
                           .then(pl.when(pl.col(f"c{inst}").str.contains(DATE_LIKE)).then(
                               pl.lit(INSTALLMENT_AS_DATE))
                               .otherwise(pl.lit("parcela inválida (use um número, ex.: 1 ou"
                                                 " 1/12)")))))
        if balance is not None:  # empty: the amount is what is owed
            checks.append((balance, pl.when(blank[balance]).then(None)
                           .when(pl.col("_bal").is_null()).then(pl.lit("saldo devedor inválido"))
                           .when(pl.col("_bal") <= 0).then(pl.lit(
                               "o saldo devedor deve ser maior que zero (título pago? envie-o"
                               " num arquivo de baixa)"))))
        # The phones' warnings come first, in column order (`_several_values` relies on
        # it); a cell with several numbers is judged there.
        several = [several_phones(idx) for idx in phones]
        warns: list[tuple[int, pl.Expr]] = [
            (idx, pl.when(~blank[idx] & pl.col(f"_p{idx}").is_null() & ~many)
             .then(pl.lit(BAD_PHONE))) for idx, many in zip(phones, several, strict=True)]
        warns.append((amount, digit_lost("_cents")))
        warns.append((name, pl.when(clean_name.str.len_chars() > 200).then(pl.lit(
            "nome com mais de 200 caracteres: guardado até o 200º"))))
        if balance is not None:
            warns.append((balance, digit_lost("_bal")))
        out: dict[str, pl.Expr] = {
            "document": pl.col("document"), "document_kind": pl.col("document_kind"),
            "name": clean_name.str.slice(0, 200), "contract": contract_text,
            "installment": pl.col("_inst").cast(pl.Int32), "due_date": pl.col("_due"),
            "amount": cents_text(pl.col("_cents")),
            "balance": cents_text(pl.col("_bal")) if balance is not None
            else pl.lit(None, dtype=pl.String),
            # A PostgreSQL array literal, ready for COPY (E.164 needs no quoting).
            "phones": pl.concat_str(
                [pl.lit("{"), pl.concat_str([pl.col(f"_p{i}") for i in phones],
                                            separator=",", ignore_nulls=True), pl.lit("}")])
            if phones else pl.lit("{}"),
        }

        def optional(fname: str, value: pl.Expr, message: str,
                     dtype: pl.DataType | type[pl.DataType] = pl.String) -> None:
            idx = self._idx(fname)
            if idx is None:
                out[fname] = pl.lit(None, dtype=dtype)
                return
            out[fname] = value.cast(dtype)
            warns.append((idx, pl.when(~blank[idx] & value.is_null()).then(pl.lit(message))))

        def col(fname: str) -> pl.Expr:
            return pl.col(f"c{self._idx(fname)}").str.strip_chars()

        emails = m.get("email", [])
        self.email_warnings = []
        addresses = []
        for idx in emails:
            # A cell with more than one plain address is judged by `_several_values`.
            email = pl.col(f"c{idx}").str.strip_chars().str.to_lowercase()
            plain = email.str.contains(EMAIL)
            addresses.append(pl.when(plain).then(email))
            several.append(several_emails(email, plain))
            self.email_warnings.append(len(warns))
            warns.append((idx, pl.when(~blank[idx] & ~plain & ~several[-1])
                          .then(pl.lit(BAD_EMAIL))))
        out["email"] = joined(addresses)
        if self._idx("zip") is not None:
            digits = col("zip").str.replace_all(r"\D", "")
            # 7 digits: a CEP from 0xxxx-xxx (São Paulo) that a spreadsheet took for a number.
            optional("zip", pl.when(digits.str.len_chars() == 8).then(digits)
                     .when((digits.str.len_chars() == 7) & ~digits.str.starts_with("0"))
                     .then("0" + digits),
                     "CEP inválido descartado (precisa de 8 dígitos)")
        else:
            out["zip"] = pl.lit(None, dtype=pl.String)
        if self._idx("state") is not None:
            uf = col("state").str.to_uppercase()
            codes = sorted(UF_CODES)
            if frame.select((~uf.is_in(codes) & (uf != "")).any()).item():
                # "S.P." or the state's name ("São Paulo"): rare, and folding accents
                # costs a second of CPU per million rows, so only batches that need it.
                letters = uf.str.normalize("NFKD").str.replace_all(r"\p{Mn}|[^A-Z]", "")
                uf = pl.when(letters.is_in(codes)).then(letters).otherwise(
                    letters.replace_strict(UF_BY_NAME, default=None, return_dtype=pl.String))
            optional("state", pl.when(uf.is_in(codes)).then(uf), "UF inválida descartada")
        else:
            out["state"] = pl.lit(None, dtype=pl.String)
        if self._idx("birth_date") is not None:
            self.dates["_birth"] = self._required("birth_date")
            born, today = pl.col("_birth"), dt.date.today()
            # "10/10/49" reads as 2049: a birth date with a two-digit year is the latest
            # one not in the future.
            two_digit_year = col("birth_date").str.contains(r"^\d{1,2}[/.-]\d{1,2}[/.-]\d{2}\b")
            born = pl.when((born > today) & two_digit_year).then(born.dt.offset_by("-100y")
                                                                 ).otherwise(born)
            optional("birth_date", pl.when(born <= today).then(born),
                     "data de nascimento inválida descartada", pl.Date)
        else:
            out["birth_date"] = pl.lit(None, dtype=pl.Date)
        for fname in ("address", "city"):
            if self._idx(fname) is not None:
                text = col(fname)
                if fname == "address":
                    text = self._street_line(text, col)
                out[fname] = pl.when(text != "").then(text.str.slice(0, 300))
            else:
                out[fname] = pl.lit(None, dtype=pl.String)
        headers = self.mapping.headers
        if self.mapping.extra:
            out["extra"] = pl.struct([
                pl.col(f"c{i}").str.strip_chars().alias(headers[i] or f"coluna_{i + 1}")
                for i in self.mapping.extra
            ]).struct.json_encode()
        else:
            out["extra"] = pl.lit(None, dtype=pl.String)
        stages = _merge_stages(*plans)
        if balance is not None:  # no amount but a balance: what is owed is the amount
            stages.append({"_cents": pl.when(blank[amount]).then(pl.col("_bal"))
                           .otherwise(pl.col("_cents"))})
        return Plan(stages, checks, warns, out, several)

    def _phone_number(self, number: pl.Expr, idx: int) -> pl.Expr:
        """The phone cell, with the DDD from a column of its own when it has one."""
        area_code = self.mapping.area_codes.get(idx)
        return number if area_code is None else with_area_code(number, pl.col(f"c{area_code}"))

    def _several_values(self, checked: pl.DataFrame) -> pl.DataFrame:
        """Rows with a cell holding several phones ("(11) 98765-4321 / (11) 3333-4444")
        or an e-mail cell that is not one plain address ("a@x.com; b@y.com",
        "Ana <a@x.com>"), rare in a file, are read again value by value:
        every valid one is kept (e-mails joined by commas, which an address cannot hold),
        and the cell is warned about when one of its values is not valid."""
        rows = checked.filter(pl.col("_several"))
        if rows.is_empty():
            return checked
        phones, emails = self.mapping.columns.get("phone", []), self.mapping.columns.get(
            "email", [])
        patch = self._phones_one_by_one(rows, phones)
        if emails:
            patch = patch.join(self._emails_one_by_one(rows, emails), on="row", how="left")
        return checked.update(patch, on="row", include_nulls=True)

    def _phones_one_by_one(self, rows: pl.DataFrame, phones: list[int]) -> pl.DataFrame:
        if not phones:
            return rows.select("row")
        area_codes = self.mapping.area_codes
        lazy = pl.concat([rows.lazy().select(
            "row", pl.lit(k).alias("_k"),
            (pl.col(f"c{idx}").str.strip_chars() == "").alias("_blank"),
            phone_cell(idx).str.extract_all(PHONE_PART).alias("_part"),
            (pl.col(f"c{area_codes[idx]}") if idx in area_codes else pl.lit(None, pl.String))
            .alias("_ddd"))
            for k, idx in enumerate(phones)]).explode("_part", empty_as_null=True)
        for stage in phone_stages(with_area_code(pl.col("_part"), pl.col("_ddd")), "_e"):
            lazy = lazy.with_columns(**stage)
        numbers = lazy.collect()
        patch = numbers.group_by("row", maintain_order=True).agg(
            pl.concat_str([pl.lit("{"), pl.col("_e").drop_nulls().str.join(","), pl.lit("}")])
            .alias("phones"))
        bad = numbers.group_by("row", "_k").agg(
            (~pl.col("_blank").first()
             & ((pl.col("_part").is_not_null() & pl.col("_e").is_null()).any()
                | pl.col("_part").is_null().all())).alias("_bad"))
        for k in range(len(phones)):
            patch = patch.join(bad.filter(pl.col("_k") == k).select(
                "row", pl.when(pl.col("_bad")).then(pl.lit(BAD_PHONE)).alias(f"_w{k}")),
                on="row", how="left")
        return patch

    def _emails_one_by_one(self, rows: pl.DataFrame, columns: list[int]) -> pl.DataFrame:
        kept_by_column, warnings = [], []
        for idx, warning in zip(columns, self.email_warnings, strict=True):
            cell = pl.col(f"c{idx}").str.strip_chars().str.to_lowercase()
            found = cell.str.extract_all(EMAIL_PART)
            valid = found.list.eval(pl.element().filter(pl.element().str.contains(EMAIL)))
            # What the cell holds besides its addresses and the names in front of them.
            rest = (cell.str.replace_all(DISPLAY_NAME, "").str.replace_all(EMAIL_PART, "")
                    .str.replace_all(EMAIL_SEPARATORS, ""))
            kept = valid.list.len()
            kept_by_column.append(pl.when(kept > 0).then(valid.list.join(",")))
            warnings.append(pl.when(cell == "").then(None)
                            .when((kept == 0) | (kept < found.list.len()))
                            .then(pl.lit(BAD_EMAIL))
                            .when(rest != "").then(pl.lit(NOT_EMAIL)).alias(f"_w{warning}"))
        return rows.select("row", joined(kept_by_column).alias("email"), *warnings)

    def _street_line(self, street: pl.Expr, col: Callable[[str], pl.Expr]) -> pl.Expr:
        """The street with the number, complement and district of their own columns, as
        a letter is addressed: "Rua A, 120, apto 3 - Centro"."""
        parts = [street] + [pl.when(col(f) != "").then(col(f))
                            for f in ("address_number", "complement")
                            if self._idx(f) is not None]
        line = pl.concat_str(parts, separator=", ", ignore_nulls=True)
        if self._idx("district") is not None:
            district = col("district")
            line = pl.when(district != "").then(pl.concat_str([line, pl.lit(" - "), district])
                                                ).otherwise(line)
        return pl.when(street != "").then(line).otherwise(street)

    # -- settlement and recall files -----------------------------------------------------

    def _closing_plan(self) -> Plan:
        contract, inst = self._required("contract"), self._idx("installment")
        paid, paid_on = self._idx("amount_paid"), self._idx("paid_on")
        blank = {i: pl.col(f"c{i}").str.strip_chars() == "" for i in range(self.width)}
        # No installment (no column, or an empty cell): every installment of the contract.
        plans: list[list[dict[str, pl.Expr]]] = [
            [{"_inst": installment(f"c{inst}", empty=None) if inst is not None
              else pl.lit(None, dtype=pl.Int32)}]]
        checks: list[tuple[int, pl.Expr]] = [
            (contract, pl.when(blank[contract]).then(pl.lit("contrato vazio"))
             .when(pl.col(f"c{contract}").str.strip_chars().str.contains(SCIENTIFIC))
             .then(pl.lit(ROUNDED_BY_EXCEL)))]
        if inst is not None:
            checks.append((inst, pl.when(~blank[inst] & (pl.col("_inst").is_null()
                                                         | (pl.col("_inst") < 1)))
                           .then(pl.lit("parcela inválida"))))
        out: dict[str, pl.Expr] = {
            "contract": pl.col(f"c{contract}").str.strip_chars(),
            "installment": pl.col("_inst").cast(pl.Int32),
        }
        if paid is not None:
            plans.append(money_stages(f"c{paid}", "_paid"))
            checks.append((paid, pl.when(~blank[paid] & (pl.col("_paid").is_null()
                                                          | (pl.col("_paid") < 0)))
                           .then(pl.lit("valor pago inválido"))))
            out["amount_paid"] = pl.when(pl.col("_paid").is_not_null()).then(
                cents_text(pl.col("_paid")))
        else:
            out["amount_paid"] = pl.lit(None, dtype=pl.String)
        if paid_on is not None:
            self.dates["_paid_on"] = paid_on
            checks.append((paid_on, pl.when(~blank[paid_on] & pl.col("_paid_on").is_null())
                           .then(pl.lit("data do pagamento inválida"))))
            out["paid_on"] = pl.col("_paid_on")
        else:
            out["paid_on"] = pl.lit(None, dtype=pl.Date)
        # The row's cells, for the error report if the database finds nothing to close.
        out["raw"] = pl.struct([pl.col(f"c{i}") for i in range(self.width)]).struct.json_encode()
        return Plan(_merge_stages(*plans), checks,
                    [] if paid is None else [(paid, digit_lost("_paid"))], out)

    def _duplicates(self, checked: pl.DataFrame) -> pl.DataFrame:
        """`_dup_of`: for a valid row whose contract+installment an earlier valid row (in
        this batch or a previous one) already had, that earlier row's number."""
        # A closing row without an installment names the whole contract.
        key = pl.concat_str([pl.col("contract"),
                             pl.col("installment").cast(pl.String).fill_null("*")],
                            separator="\x1f")
        checked = checked.with_columns(_key=key)
        valid = checked.filter(pl.col("_valid")).select("row", "_key")
        first_here = valid.group_by("_key").agg(pl.col("row").min().alias("_first_here"))
        earlier = self.keys.earlier(first_here)
        marks = (
            valid.join(first_here, on="_key", how="left")
            .join(earlier, on="_key", how="left")
            .select("row", pl.when(pl.col("first_row").is_not_null()).then(pl.col("first_row"))
                    .when(pl.col("row") != pl.col("_first_here")).then(pl.col("_first_here"))
                    .alias("_dup_of"))
        )
        return checked.join(marks, on="row", how="left")
