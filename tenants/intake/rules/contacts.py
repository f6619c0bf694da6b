"""Phones and e-mails read over a column: cells with several of them, extensions, a DDD
in a column of its own. Invalid ones are dropped with a warning; the row stays."""

from __future__ import annotations

from collections.abc import Sequence

import polars as pl

EMAIL = (r"^[a-z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-z0-9](?:[a-z0-9-]*[a-z0-9])?"
          r"(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)+$")
# Cells often hold several phones or e-mails ("(11) 98765-4321 / (11) 3333-4444",
# "a@x.com; b@y.com"): each is read on its own.
PHONE_PART = r"[\d(+][\dxX\s().\-]*\d"
EXTENSION = r"(?i)[\s,;/-]*(?:ramal|ram\.|r\.|ext\.?|extens[aã]o)\s*:?\s*\d+\s*$"
EMAIL_PART = r"[^\s,;/<>()\[\]]*@[^\s,;/<>()\[\]]*"
# A name before an address in angle brackets, as mail programs export it ("Ana <a@x.com>").
DISPLAY_NAME = r"[^,;<>]*<"
EMAIL_SEPARATORS = r"[\s,;/<>()\[\]\"']"
BAD_PHONE = "telefone inválido descartado (DDD ou número fora do padrão)"
BAD_EMAIL = "e-mail inválido descartado"
NOT_EMAIL = "texto que não é e-mail descartado (os e-mails válidos da célula foram guardados)"


def phone_cell(idx: int) -> pl.Expr:
    """A phone cell without the extension some carry ("(11) 3333-4444 ramal 22"), which
    only a person dialling can use."""
    return pl.col(f"c{idx}").str.replace(EXTENSION, "")


def several_phones(idx: int) -> pl.Expr:
    """The phone cell holds several numbers."""
    return phone_cell(idx).str.count_matches(PHONE_PART) > 1


def several_emails(email: pl.Expr, plain: pl.Expr) -> pl.Expr:
    """The e-mail cell holds an address but is not just one: several addresses, or one
    with a name or a note ("Ana <ana@x.com>", "ana@x.com (pessoal)")."""
    return email.str.contains("@", literal=True) & ~plain


def with_area_code(number: pl.Expr, area_code: pl.Expr) -> pl.Expr:
    """A phone whose DDD is in a column of its own: the DDD goes in front when the number
    lacks one (8 or 9 digits) and the DDD cell holds two digits ("11", "011")."""
    digits = number.str.replace_all(r"\D", "")
    ddd = area_code.str.replace_all(r"\D", "").str.strip_chars_start("0")
    return pl.when((ddd.str.len_chars() == 2) & digits.str.len_chars().is_in([8, 9])) \
        .then(ddd + digits).otherwise(number)


def joined(values: Sequence[pl.Expr]) -> pl.Expr:
    """Several columns' values in one, comma-separated; null when none has one."""
    if not values:
        return pl.lit(None, dtype=pl.String)
    joined = pl.concat_str(values, separator=",", ignore_nulls=True)
    return pl.when(joined != "").then(joined)
