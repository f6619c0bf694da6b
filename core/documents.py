"""Brazilian taxpayer documents: CPF (people) and CNPJ (companies, numeric or alphanumeric).

Rules from DOMAIN.md: modulo-11 check digits; from July 2026 a CNPJ's first twelve
characters may be 0-9A-Z, each worth its ASCII code minus 48, check digits stay numeric.

Two forms of the same rules: one document at a time (`normalize_document`), and a whole
column at once as polars expressions (`document_stages`, for imports of millions of
rows); tests/core/test_documents.py checks that they agree.
"""

from __future__ import annotations

import re
from enum import StrEnum

import polars as pl

_CPF_WEIGHTS_1 = tuple(range(10, 1, -1))
_CPF_WEIGHTS_2 = tuple(range(11, 1, -1))
_CNPJ_WEIGHTS_1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_CNPJ_WEIGHTS_2 = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
_STRIP = re.compile(r"[\s./\-]")
_CNPJ_SHAPE = re.compile(r"[0-9A-Z]{12}[0-9]{2}")


class DocumentKind(StrEnum):
    CPF = "cpf"
    CNPJ = "cnpj"


def _mod11_digit(values: list[int], weights: tuple[int, ...]) -> int:
    remainder = sum(v * w for v, w in zip(values, weights, strict=True)) % 11
    return 0 if remainder < 2 else 11 - remainder


def is_valid_cpf(digits: str) -> bool:
    """`digits` is 11 characters of 0-9, already stripped of punctuation."""
    if len(digits) != 11 or not digits.isdigit() or digits == digits[0] * 11:
        return False
    values = [int(c) for c in digits]
    if _mod11_digit(values[:9], _CPF_WEIGHTS_1) != values[9]:
        return False
    return _mod11_digit(values[:10], _CPF_WEIGHTS_2) == values[10]


def is_valid_cnpj(chars: str) -> bool:
    """`chars` is 14 characters, the first 12 in 0-9A-Z, the last two digits."""
    if not _CNPJ_SHAPE.fullmatch(chars) or chars == chars[0] * 14:
        return False
    values = [ord(c) - 48 for c in chars]
    if _mod11_digit(values[:12], _CNPJ_WEIGHTS_1) != values[12]:
        return False
    return _mod11_digit(values[:13], _CNPJ_WEIGHTS_2) == values[13]


def strip_document(raw: str) -> str:
    return _STRIP.sub("", raw).upper()


def normalize_document(raw: str) -> tuple[DocumentKind, str] | None:
    """Return the document's kind and normalized form, or None when it is not valid.

    Numeric documents that lost leading zeros in a spreadsheet (9-10 digits for a CPF,
    12-13 for a CNPJ) are left-padded when the padded value has valid check digits.
    """
    value = strip_document(raw)
    if value.isdigit():
        if len(value) <= 11:
            padded = value.zfill(11)
            if len(value) >= 9 and is_valid_cpf(padded):
                return DocumentKind.CPF, padded
        if 12 <= len(value) <= 14:
            padded = value.zfill(14)
            if is_valid_cnpj(padded):
                return DocumentKind.CNPJ, padded
        return None
    if len(value) == 14 and is_valid_cnpj(value):
        return DocumentKind.CNPJ, value
    return None


def normalize_cnpj(raw: str) -> str | None:
    found = normalize_document(raw)
    if found is None or found[0] is not DocumentKind.CNPJ:
        return None
    return found[1]


def format_document(kind: DocumentKind | str, value: str) -> str:
    if kind == DocumentKind.CPF:
        return f"{value[:3]}.{value[3:6]}.{value[6:9]}-{value[9:]}"
    return f"{value[:2]}.{value[2:5]}.{value[5:8]}/{value[8:12]}-{value[12:]}"


# ---- the vectorised form ---------------------------------------------------------------

_REPEATED_CPF = [int(str(d) * 11) for d in range(10)]
_REPEATED_CNPJ = [int(str(d) * 14) for d in range(10)]


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


def document_stages(document: pl.Expr, has_letters: bool) -> list[dict[str, pl.Expr]]:
    """`normalize_document` over a column, as stages of `with_columns` (each reads what the
    previous wrote): they write `document` (the normalized form) and `document_kind`
    ('cpf' or 'cnpj'), both null when the document is not valid. A spreadsheet's number
    ("12345678909.0") loses its ".0" first. `has_letters`: some values hold letters, so
    the alphanumeric CNPJ is checked too (a cost only such batches pay)."""
    documents: list[dict[str, pl.Expr]] = [
        {"_doc": document.str.strip_chars().str.replace(r"^(\d+)\.0+$", "${1}")
         .str.replace_all(r"[\s./\-]", "").str.to_uppercase()},
        {"_dlen": pl.col("_doc").str.len_chars(),
         "_dnum": pl.col("_doc").cast(pl.Int64, strict=False)},
        {"_cpfn": pl.when(pl.col("_dlen").is_between(9, 11)).then(pl.col("_dnum")),
         "_cnpjn": pl.when(pl.col("_dlen").is_between(12, 14)).then(pl.col("_dnum"))},
        {"_cpf_ok": _mod11_ok(_digits_of(pl.col("_cpfn"), 11), _CPF_WEIGHTS_1, _CPF_WEIGHTS_2)
            & ~pl.col("_cpfn").is_in(_REPEATED_CPF),
         "_cnpj_ok": _mod11_ok(_digits_of(pl.col("_cnpjn"), 14), _CNPJ_WEIGHTS_1,
                               _CNPJ_WEIGHTS_2)
            & ~pl.col("_cnpjn").is_in(_REPEATED_CNPJ)},
        {"document": pl.when(pl.col("_cpf_ok")).then(
            pl.col("_cpfn").cast(pl.String).str.zfill(11))
            .when(pl.col("_cnpj_ok")).then(pl.col("_cnpjn").cast(pl.String).str.zfill(14)),
         "document_kind": pl.when(pl.col("_cpf_ok")).then(pl.lit(DocumentKind.CPF.value))
            .when(pl.col("_cnpj_ok")).then(pl.lit(DocumentKind.CNPJ.value))},
    ]
    if has_letters:
        # Each character counts as its ASCII code minus 48; base 36 gives 0-9 and
        # A=10..Z=35, so letters add 7.
        chars = [pl.col("_doc").str.slice(i, 1).str.to_integer(base=36, strict=False)
                 for i in range(14)]
        values = [pl.when(c >= 10).then(c + 7).otherwise(c) for c in chars]
        alnum = (pl.col("_doc").str.contains(f"^{_CNPJ_SHAPE.pattern}$")
                 & pl.col("_dnum").is_null())
        documents[3]["_alnum_ok"] = alnum & _mod11_ok(values, _CNPJ_WEIGHTS_1, _CNPJ_WEIGHTS_2)
        documents.append({
            "document": pl.when(pl.col("_alnum_ok")).then(pl.col("_doc"))
            .otherwise(pl.col("document")),
            "document_kind": pl.when(pl.col("_alnum_ok")).then(pl.lit(DocumentKind.CNPJ.value))
            .otherwise(pl.col("document_kind")),
        })
    return documents
