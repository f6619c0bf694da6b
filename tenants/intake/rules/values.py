"""Dates, money and installment numbers as spreadsheets write them, read over a column.

Brazilian layouts first (dd/mm/aaaa, 1.234,56); a column that shows a foreign layout
(month first, decimal point) is read that way for the rest of the file.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

DATE_LIKE = r"^\d{1,2}/\d{1,2}/\d{2,4}$"
# A long number Excel showed in scientific notation and saved that way ("1,23457E+11"):
# its last digits are gone, and different contracts or CPFs would become the same.
SCIENTIFIC = r"(?i)^\d+(?:[.,]\d+)?E\+?\d+$"
ROUNDED_BY_EXCEL = ("o Excel arredondou o número (notação científica, como 1,23457E+11):"
                    " formate a coluna como texto e gere o arquivo de novo")
INSTALLMENT_AS_DATE = ("parcela inválida: veio como data (o Excel converte “1/3” em 01/03);"
                       " formate a coluna Parcela como texto e gere o arquivo de novo")


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


def money_stages(src: str, out: str, point: bool = False) -> list[dict[str, pl.Expr]]:
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


def digit_lost(out: str) -> pl.Expr:
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


def installment(src: str, empty: int | None = 1) -> pl.Expr:
    raw = pl.col(src).str.strip_chars()
    return pl.when(raw == "").then(empty).otherwise(
        # 1, 01/12, 1 de 12, and 1.0 from a spreadsheet's number
        raw.str.extract(r"(?i)^0*(\d{1,6})(?:\.0+)?(?:\s*(?:/|de)\s*\d+)?$", 1)
        .cast(pl.Int32, strict=False))
