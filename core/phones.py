"""Brazilian phone numbers in E.164 (+55, a valid DDD; mobiles have 9 digits starting 9).

Two forms of the same rules: one number at a time (`normalize_phone`), and a whole
column at once as polars expressions (`phone_stages`, for imports); a test checks that
they agree."""

from __future__ import annotations

import re

import polars as pl

# Area codes (DDD) in service, by Anatel's national numbering plan.
DDDS = frozenset({
    11, 12, 13, 14, 15, 16, 17, 18, 19, 21, 22, 24, 27, 28, 31, 32, 33, 34, 35, 37, 38,
    41, 42, 43, 44, 45, 46, 47, 48, 49, 51, 53, 54, 55, 61, 62, 63, 64, 65, 66, 67, 68,
    69, 71, 73, 74, 75, 77, 79, 81, 82, 83, 84, 85, 86, 87, 88, 89, 91, 92, 93, 94, 95,
    96, 97, 98, 99,
})
DDD_STRINGS = sorted(str(d) for d in DDDS)

_NON_DIGITS = re.compile(r"\D")
_SPREADSHEET_NUMBER = re.compile(r"\.0+$")


def national_digits(raw: str) -> str:
    """Digits without the country code or the long-distance prefix: the trunk 0 alone
    ("011 ...") or with a carrier's code ("0 21 11 ...")."""
    digits = _NON_DIGITS.sub("", _SPREADSHEET_NUMBER.sub("", raw.strip()))
    if digits.startswith("55") and len(digits) in (12, 13):
        digits = digits[2:]
    if digits.startswith("0") and len(digits) in (11, 12):
        digits = digits[1:]
    elif digits.startswith("0") and len(digits) in (13, 14):
        digits = digits[3:]
    return digits


def normalize_phone(raw: str) -> str | None:
    """'(11) 98765-4321' -> '+5511987654321'; None when it is not a Brazilian number.

    A mobile written before 2016, when mobiles had 8 digits ("(11) 8765-4321"), gets the
    9 Anatel put in front of every mobile number."""
    digits = national_digits(raw)
    if len(digits) == 10 and digits[2] in "6789":
        digits = digits[:2] + "9" + digits[2:]
    if len(digits) not in (10, 11) or int(digits[:2]) not in DDDS:
        return None
    if len(digits) == 11 and digits[2] != "9":
        return None
    if len(digits) == 10 and digits[2] not in "2345":
        return None
    return "+55" + digits


def phone_stages(src: pl.Expr, out: str) -> list[dict[str, pl.Expr]]:
    """`normalize_phone` over a column, as stages of `with_columns`: E.164 (+55...) or null
    in column `out`."""
    a, b, c, d = f"{out}_a", f"{out}_b", f"{out}_c", f"{out}_d"
    return [
        # (spaces after a spreadsheet's ".0" are allowed here, as the scalar form strips
        # the cell first; stripping the column too would cost memory on every batch)
        {a: src.str.replace(r"\.0+\s*$", "").str.replace_all(r"\D", "")},
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
