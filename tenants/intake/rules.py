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
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import polars as pl

from core.addresses import UF_BY_NAME, UF_CODES
from core.models import ImportMode
from core.phones import DDD_STRINGS
from tenants.intake.fields import ColumnMapping
from tenants.intake.file_keys import FileKeys, MemoryKeys

_EMAIL = (r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
          r"(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")
# Cells often hold several phones or e-mails ("(11) 98765-4321 / (11) 3333-4444",
# "a@x.com; b@y.com"): each is read on its own.
_PHONE_PART = r"[\d(+][\dxX\s().\-]*\d"
_EXTENSION = r"(?i)[\s,;/-]*(?:ramal|ram\.|r\.|ext\.?|extens[aã]o)\s*:?\s*\d+\s*$"
_EMAIL_PART = r"[^\s,;/<>()\[\]]*@[^\s,;/<>()\[\]]*"
# A name before an address in angle brackets, as mail programs export it ("Ana <a@x.com>").
_DISPLAY_NAME = r"[^,;<>]*<"
_EMAIL_SEPARATORS = r"[\s,;/<>()\[\]\"']"
DATE_LIKE = r"^\d{1,2}/\d{1,2}/\d{2,4}$"
# A long number Excel showed in scientific notation and saved that way ("1,23457E+11"):
# its last digits are gone, and different contracts or CPFs would become the same.
SCIENTIFIC = r"(?i)^\d+(?:[.,]\d+)?E\+?\d+$"
ROUNDED_BY_EXCEL = ("o Excel arredondou o número (notação científica, como 1,23457E+11):"
                    " formate a coluna como texto e gere o arquivo de novo")
INSTALLMENT_AS_DATE = ("parcela inválida: veio como data (o Excel converte “1/3” em 01/03);"
                       " formate a coluna Parcela como texto e gere o arquivo de novo")
_BAD_PHONE = "telefone inválido descartado (DDD ou número fora do padrão)"
_BAD_EMAIL = "e-mail inválido descartado"
_NOT_EMAIL = "texto que não é e-mail descartado (os e-mails válidos da célula foram guardados)"
_REPEATED_CPF = [int(str(d) * 11) for d in range(10)]
_REPEATED_CNPJ = [int(str(d) * 14) for d in range(10)]
_CNPJ_W1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_W2 = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


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


def _check_digit(total: pl.Expr) -> pl.Expr:
    r = total % 11
    return pl.when(r < 2).then(0).otherwise(11 - r)


def _digits_of(number: pl.Expr, width: int) -> list[pl.Expr]:
    """The decimal digits of an integer column, most significant first, zero-padded."""
    return [(number // (10 ** (width - 1 - i))) % 10 for i in range(width)]


def _mod11_ok(values: list[pl.Expr], w1: tuple[int, ...], w2: tuple[int, ...]) -> pl.Expr:
    n = len(values)
    dv1 = _check_digit(pl.sum_horizontal([v * w for v, w in zip(values[: n - 2], w1,
                                                                 strict=True)]))
    dv2 = _check_digit(pl.sum_horizontal([v * w for v, w in zip(values[: n - 1], w2,
                                                                 strict=True)]))
    return (dv1 == values[n - 2]) & (dv2 == values[n - 1])


# The last two are the digits-only dates of bank and mainframe exports (20240305,
# 05032024); neither reads the other's dates inside 1900-2100.
DATE_LAYOUTS = ("%d/%m/%Y", "%Y-%m-%d", "%d/%m/%y", "%d-%m-%Y", "%d.%m.%Y", "%Y/%m/%d",
                "%Y%m%d", "%d%m%Y")
# A time after the date, as database and ERP exports write it ("10/01/2025 00:00:00",
# "2025-01-10T00:00:00.000"): the date is what counts.
TIME_OF_DAY = r"[ T]\d{1,2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?$"


def month_first(values: pl.Series) -> bool | None:
    """Whether a column's dates put the month first (03/25/2024, from a US-locale system):
    False as soon as a date's first number exceeds 12; True when none does and the second
    exceeds 12 in enough of them (see shows_layout; in such a file, every date after the
    12th: about 60%); None while the dates fit both readings. A few such dates among
    day-first ones are typos, which a Brazilian file must not be turned around by."""
    parts = values.str.extract_groups(r"^\s*(\d{1,2})[/.-](\d{1,2})[/.-]\d{2,4}\b")
    first = parts.struct.field("1").cast(pl.Int32, strict=False)
    second = parts.struct.field("2").cast(pl.Int32, strict=False)
    if (first > 12).any():
        return False
    return True if shows_layout(int((second > 12).sum()), first.count()) else None


def shows_layout(odd: int, total: int) -> bool:
    """Whether `odd` of `total` values show a column's foreign layout (month first, decimal
    point) beyond a typo: at least five and a fifth of them, or in a small file (a short
    batch of a few debts) at least two and half of them."""
    return (odd >= 5 and odd >= 0.2 * total) or (odd >= 2 and odd >= 0.5 * total)


# Systems fill a missing date with 01/01/1900 (or 1899-12-30, Excel's day 0): no debt
# that old is collected.
EARLIEST_DUE_DATE = dt.date(1950, 1, 1)


def parse_dates(values: pl.Series, month_first: bool = False) -> pl.Series:
    """dd/mm/yyyy, dd/mm/yy, yyyy-mm-dd, dd-mm-yyyy, dd.mm.yyyy, yyyy/mm/dd, yyyymmdd,
    ddmmyyyy (each with or without a time of day) and Excel day serials; null when nothing
    fits or the date is outside 1900-2100.

    A file almost always uses one layout: each layout is tried only on the values the
    previous ones could not read, so the common case costs one parse. `month_first`
    swaps day and month where the day comes first in Brazil. A wrong reading
    ('10/02/25' as year 25) falls outside 1900-2100 and the next layout takes over.
    """
    text = values.str.strip_chars()
    if text.str.contains(":", literal=True).any():
        text = text.str.replace(TIME_OF_DAY, "")
    result = pl.Series(values.name, [None] * len(values), dtype=pl.Date)
    pending = (text != "").fill_null(False).arg_true()
    low, high = dt.date(1900, 1, 1), dt.date(2100, 12, 31)
    layouts = [_day_month_swapped(layout) for layout in DATE_LAYOUTS] if month_first \
        else DATE_LAYOUTS
    for layout in layouts:
        if pending.is_empty():
            return result
        subset = text.gather(pending)
        parsed = subset.str.strptime(pl.Date, layout, strict=False, exact=True)
        ok = parsed.is_between(low, high).fill_null(False)
        result = result.scatter(pending.filter(ok), parsed.filter(ok))
        pending = pending.filter(~ok)
    if not pending.is_empty():
        serial = text.gather(pending).str.extract(r"^(\d{5})(?:\.0+)?$", 1).cast(
            pl.Int64, strict=False)
        ok = serial.is_not_null()
        days = serial.filter(ok).cast(pl.Int64)
        dates = (pl.Series([dt.date(1899, 12, 30)] * len(days), dtype=pl.Date)
                 + pl.Series(days).cast(pl.Duration("ms")) * 86_400_000).cast(pl.Date) \
            if len(days) else pl.Series([], dtype=pl.Date)
        result = result.scatter(pending.filter(ok), dates)
    return result


def _day_month_swapped(layout: str) -> str:
    return layout.replace("%d", "%_").replace("%m", "%d").replace("%_", "%m") \
        if layout.startswith("%d") else layout


def decimal_point(values: pl.Series) -> bool | None:
    """Whether a column's amounts use the decimal point: False as soon as one has a
    decimal comma; True when none does and many have a point with one or two decimals
    ("1234.56", which no thousands dot makes); None while the amounts read either way
    ("1.500", "1.234"). A few such amounts among Brazilian ones are typos."""
    text = values.str.replace_all(r"(?i)r\$|\s", "")
    if text.str.contains(r"\d,\d{1,2}\)?$").any():
        return False
    points = int(text.str.contains(r"\d\.\d{1,2}\)?$").sum())
    return True if shows_layout(points, int((text != "").sum())) else None


def _money_stages(src: str, out: str, point: bool = False) -> list[dict[str, pl.Expr]]:
    """Money text ('1.234,56', 'R$ 1.234,56', '1234.56', '1,234.56', '1.234') to integer
    cents in column `out`; half-up rounding for spreadsheet floats; sign kept. With
    `point` (a column that uses the decimal point) a dot is always the decimal one."""
    s, body, norm = f"{out}_s", f"{out}_b", f"{out}_n"
    brazilian = (pl.col(body).str.contains(r"^[\d.]*,\d*$")
                 & ~pl.col(body).str.contains(r"^\d{1,3}(,\d{3}){2,}$"))
    thousands = pl.lit(False) if point else pl.col(body).str.contains(r"^\d{1,3}(\.\d{3})+$")
    return [
        {s: pl.col(src).str.replace_all(r"(?i)r\$|\s", "")},
        {f"{out}_neg": pl.col(s).str.starts_with("-")
            | (pl.col(s).str.starts_with("(") & pl.col(s).str.ends_with(")")),
         body: pl.col(s).str.replace_all(r"^[-+(]|\)$", "")},
        {norm: pl.when(brazilian & ~pl.lit(point))
            .then(pl.col(body).str.replace_all(".", "", literal=True)
                  .str.replace(",", ".", literal=True))
            .when(thousands)
            .then(pl.col(body).str.replace_all(".", "", literal=True))
            .otherwise(pl.col(body).str.replace_all(",", "", literal=True))},
        {f"{out}_g": pl.col(norm).str.extract_groups(r"^(\d{1,12})(?:\.(\d*))?$")},
        {f"{out}_f": pl.col(f"{out}_g").struct.field("2").fill_null("").str.pad_end(3, "0"),
         f"{out}_w": pl.col(f"{out}_g").struct.field("1").cast(pl.Int64, strict=False)},
        {out: (pl.col(f"{out}_w") * 100
               + pl.col(f"{out}_f").str.slice(0, 2).cast(pl.Int64, strict=False)
               + (pl.col(f"{out}_f").str.slice(2, 1).cast(pl.Int64, strict=False) >= 5)
               .cast(pl.Int64)) * pl.when(pl.col(f"{out}_neg")).then(-1).otherwise(1)},
    ]


def _digit_lost(out: str) -> pl.Expr:
    """Money like '1,234': a decimal comma to a Brazilian, a thousands separator to an
    English-locale spreadsheet. Read as the former (the file's convention) it is rounded
    to cents and loses a digit, so the row says how it was read."""
    body = pl.col(f"{out}_b")
    return pl.when(body.str.contains(r"^\d{1,3},\d{3}$")).then(pl.lit(
        "valor com três casas após a vírgula: lido como decimal e arredondado para"
        " centavos (1,234 = 1,23); se a vírgula separa milhares, escreva 1.234,00")
    ).when(body.str.contains(r",\d{3,}$")).then(pl.lit(
        "valor com mais de duas casas decimais: arredondado para centavos"))


def cents_text(cents: pl.Expr) -> pl.Expr:
    return pl.concat_str([(cents // 100).cast(pl.String), pl.lit("."),
                          (cents % 100).cast(pl.String).str.zfill(2)])


def _phone_stages(src: pl.Expr, out: str) -> list[dict[str, pl.Expr]]:
    """E.164 (+55...) or null in `out`; the rules of core.phones.normalize_phone."""
    a, b, c, d = f"{out}_a", f"{out}_b", f"{out}_c", f"{out}_d"
    return [
        {a: src.str.replace(r"\.0+$", "").str.replace_all(r"\D", "")},
        {b: pl.when(pl.col(a).str.starts_with("55") & pl.col(a).str.len_chars().is_in([12, 13]))
            .then(pl.col(a).str.slice(2)).otherwise(pl.col(a))},
        {c: pl.when(pl.col(b).str.starts_with("0") & pl.col(b).str.len_chars().is_in([11, 12]))
            .then(pl.col(b).str.slice(1))
            .when(pl.col(b).str.starts_with("0") & pl.col(b).str.len_chars().is_in([13, 14]))
            .then(pl.col(b).str.slice(3)).otherwise(pl.col(b))},
        {d: pl.when((pl.col(c).str.len_chars() == 10)
                    & pl.col(c).str.slice(2, 1).is_in(["6", "7", "8", "9"]))
            .then(pl.concat_str([pl.col(c).str.slice(0, 2), pl.lit("9"), pl.col(c).str.slice(2)]))
            .otherwise(pl.col(c))},
        {out: pl.when(pl.col(d).str.slice(0, 2).is_in(DDD_STRINGS) & (
            ((pl.col(d).str.len_chars() == 11) & (pl.col(d).str.slice(2, 1) == "9"))
            | ((pl.col(d).str.len_chars() == 10)
               & pl.col(d).str.slice(2, 1).is_in(["2", "3", "4", "5"]))))
            .then(pl.lit("+55") + pl.col(d))},
    ]


def _phone_cell(idx: int) -> pl.Expr:
    """A phone cell without the extension some carry ("(11) 3333-4444 ramal 22"), which
    only a person dialling can use."""
    return pl.col(f"c{idx}").str.replace(_EXTENSION, "")


def _several(idx: int) -> pl.Expr:
    """The phone cell holds several numbers."""
    return _phone_cell(idx).str.count_matches(_PHONE_PART) > 1


def _several_emails(email: pl.Expr, plain: pl.Expr) -> pl.Expr:
    """The e-mail cell holds an address but is not just one: several addresses, or one
    with a name or a note ("Ana <ana@x.com>", "ana@x.com (pessoal)")."""
    return email.str.contains("@", literal=True) & ~plain


def _with_area_code(number: pl.Expr, area_code: pl.Expr) -> pl.Expr:
    """A phone whose DDD is in a column of its own: the DDD goes in front when the number
    lacks one (8 or 9 digits) and the DDD cell holds two digits ("11", "011")."""
    digits = number.str.replace_all(r"\D", "")
    ddd = area_code.str.replace_all(r"\D", "").str.strip_chars_start("0")
    return pl.when((ddd.str.len_chars() == 2) & digits.str.len_chars().is_in([8, 9])) \
        .then(ddd + digits).otherwise(number)


def _joined(values: Sequence[pl.Expr]) -> pl.Expr:
    """Several columns' values in one, comma-separated; null when none has one."""
    if not values:
        return pl.lit(None, dtype=pl.String)
    joined = pl.concat_str(values, separator=",", ignore_nulls=True)
    return pl.when(joined != "").then(joined)


def _installment(src: str, empty: int | None = 1) -> pl.Expr:
    raw = pl.col(src).str.strip_chars()
    return pl.when(raw == "").then(empty).otherwise(
        # 1, 01/12, 1 de 12, and 1.0 from a spreadsheet's number
        raw.str.extract(r"(?i)^0*(\d{1,6})(?:\.0+)?(?:\s*(?:/|de)\s*\d+)?$", 1)
        .cast(pl.Int32, strict=False))


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

        documents: list[dict[str, pl.Expr]] = [
            {"_doc": document.str.strip_chars().str.replace(r"^(\d+)\.0+$", "${1}")
             .str.replace_all(r"[\s./\-]", "").str.to_uppercase()},
            {"_dlen": pl.col("_doc").str.len_chars(),
             "_dnum": pl.col("_doc").cast(pl.Int64, strict=False)},
            {"_cpfn": pl.when(pl.col("_dlen").is_between(9, 11)).then(pl.col("_dnum")),
             "_cnpjn": pl.when(pl.col("_dlen").is_between(12, 14)).then(pl.col("_dnum"))},
            {"_cpf_ok": _mod11_ok(_digits_of(pl.col("_cpfn"), 11), tuple(range(10, 1, -1)),
                                  tuple(range(11, 1, -1)))
                & ~pl.col("_cpfn").is_in(_REPEATED_CPF),
             "_cnpj_ok": _mod11_ok(_digits_of(pl.col("_cnpjn"), 14), _CNPJ_W1, _CNPJ_W2)
                & ~pl.col("_cnpjn").is_in(_REPEATED_CNPJ)},
            {"document": pl.when(pl.col("_cpf_ok")).then(
                pl.col("_cpfn").cast(pl.String).str.zfill(11))
                .when(pl.col("_cnpj_ok")).then(pl.col("_cnpjn").cast(pl.String).str.zfill(14)),
             "document_kind": pl.when(pl.col("_cpf_ok")).then(pl.lit("cpf"))
                .when(pl.col("_cnpj_ok")).then(pl.lit("cnpj"))},
        ]
        if has_letters:
            # Alphanumeric CNPJ (IN RFB 2.229/2024): each character counts as its ASCII
            # code minus 48; base 36 gives 0-9 and A=10..Z=35, so letters add 7.
            chars = [pl.col("_doc").str.slice(i, 1).str.to_integer(base=36, strict=False)
                     for i in range(14)]
            values = [pl.when(c >= 10).then(c + 7).otherwise(c) for c in chars]
            alnum = (pl.col("_doc").str.contains(r"^[0-9A-Z]{12}[0-9]{2}$")
                     & pl.col("_dnum").is_null())
            documents[3]["_alnum_ok"] = alnum & _mod11_ok(values, _CNPJ_W1, _CNPJ_W2)
            documents.append({
                "document": pl.when(pl.col("_alnum_ok")).then(pl.col("_doc"))
                .otherwise(pl.col("document")),
                "document_kind": pl.when(pl.col("_alnum_ok")).then(pl.lit("cnpj"))
                .otherwise(pl.col("document_kind")),
            })
        phones = m.get("phone", [])
        self.dates = {"_due": due}
        balance = self._idx("balance")
        plans = [documents,
                 _money_stages(f"c{amount}", "_cents", self._decimal_point(frame, amount)),
                 [{"_inst": _installment(f"c{inst}") if inst is not None else pl.lit(1)}]]
        if balance is not None:
            plans.append(_money_stages(f"c{balance}", "_bal",
                                       self._decimal_point(frame, balance)))
        plans += [_phone_stages(self._phone_number(_phone_cell(idx), idx), f"_p{idx}")
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
        several = [_several(idx) for idx in phones]
        warns: list[tuple[int, pl.Expr]] = [
            (idx, pl.when(~blank[idx] & pl.col(f"_p{idx}").is_null() & ~many)
             .then(pl.lit(_BAD_PHONE))) for idx, many in zip(phones, several, strict=True)]
        warns.append((amount, _digit_lost("_cents")))
        warns.append((name, pl.when(clean_name.str.len_chars() > 200).then(pl.lit(
            "nome com mais de 200 caracteres: guardado até o 200º"))))
        if balance is not None:
            warns.append((balance, _digit_lost("_bal")))
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
            plain = email.str.contains(_EMAIL)
            addresses.append(pl.when(plain).then(email))
            several.append(_several_emails(email, plain))
            self.email_warnings.append(len(warns))
            warns.append((idx, pl.when(~blank[idx] & ~plain & ~several[-1])
                          .then(pl.lit(_BAD_EMAIL))))
        out["email"] = _joined(addresses)
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
        return number if area_code is None else _with_area_code(number, pl.col(f"c{area_code}"))

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
            _phone_cell(idx).str.extract_all(_PHONE_PART).alias("_part"),
            (pl.col(f"c{area_codes[idx]}") if idx in area_codes else pl.lit(None, pl.String))
            .alias("_ddd"))
            for k, idx in enumerate(phones)]).explode("_part", empty_as_null=True)
        for stage in _phone_stages(_with_area_code(pl.col("_part"), pl.col("_ddd")), "_e"):
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
                "row", pl.when(pl.col("_bad")).then(pl.lit(_BAD_PHONE)).alias(f"_w{k}")),
                on="row", how="left")
        return patch

    def _emails_one_by_one(self, rows: pl.DataFrame, columns: list[int]) -> pl.DataFrame:
        kept_by_column, warnings = [], []
        for idx, warning in zip(columns, self.email_warnings, strict=True):
            cell = pl.col(f"c{idx}").str.strip_chars().str.to_lowercase()
            found = cell.str.extract_all(_EMAIL_PART)
            valid = found.list.eval(pl.element().filter(pl.element().str.contains(_EMAIL)))
            # What the cell holds besides its addresses and the names in front of them.
            rest = (cell.str.replace_all(_DISPLAY_NAME, "").str.replace_all(_EMAIL_PART, "")
                    .str.replace_all(_EMAIL_SEPARATORS, ""))
            kept = valid.list.len()
            kept_by_column.append(pl.when(kept > 0).then(valid.list.join(",")))
            warnings.append(pl.when(cell == "").then(None)
                            .when((kept == 0) | (kept < found.list.len()))
                            .then(pl.lit(_BAD_EMAIL))
                            .when(rest != "").then(pl.lit(_NOT_EMAIL)).alias(f"_w{warning}"))
        return rows.select("row", _joined(kept_by_column).alias("email"), *warnings)

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
            [{"_inst": _installment(f"c{inst}", empty=None) if inst is not None
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
            plans.append(_money_stages(f"c{paid}", "_paid"))
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
                    [] if paid is None else [(paid, _digit_lost("_paid"))], out)

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
