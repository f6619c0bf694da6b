"""CPF and CNPJ check digits over a whole column at once (polars expressions).

The scalar form, for one document, is core.documents; a test checks both agree.
"""

from __future__ import annotations

import polars as pl

REPEATED_CPF = [int(str(d) * 11) for d in range(10)]
REPEATED_CNPJ = [int(str(d) * 14) for d in range(10)]
CNPJ_W1 = (5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)
CNPJ_W2 = (6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2)


def _check_digit(total: pl.Expr) -> pl.Expr:
    r = total % 11
    return pl.when(r < 2).then(0).otherwise(11 - r)


def _digits_of(number: pl.Expr, width: int) -> list[pl.Expr]:
    """The decimal digits of an integer column, most significant first, zero-padded."""
    return [(number // (10 ** (width - 1 - i))) % 10 for i in range(width)]


def mod11_ok(values: list[pl.Expr], w1: tuple[int, ...], w2: tuple[int, ...]) -> pl.Expr:
    n = len(values)
    dv1 = _check_digit(pl.sum_horizontal([v * w for v, w in zip(values[: n - 2], w1,
                                                                 strict=True)]))
    dv2 = _check_digit(pl.sum_horizontal([v * w for v, w in zip(values[: n - 1], w2,
                                                                 strict=True)]))
    return (dv1 == values[n - 2]) & (dv2 == values[n - 1])




def document_stages(document: pl.Expr, has_letters: bool) -> list[dict[str, pl.Expr]]:
    """Stages that write `document` (digits only, or the alphanumeric CNPJ) and
    `document_kind` ('cpf' or 'cnpj'), both null when the check digits do not match.
    `has_letters`: the batch holds letters, so the alphanumeric CNPJ is checked too."""
    documents: list[dict[str, pl.Expr]] = [
        {"_doc": document.str.strip_chars().str.replace(r"^(\d+)\.0+$", "${1}")
         .str.replace_all(r"[\s./\-]", "").str.to_uppercase()},
        {"_dlen": pl.col("_doc").str.len_chars(),
         "_dnum": pl.col("_doc").cast(pl.Int64, strict=False)},
        {"_cpfn": pl.when(pl.col("_dlen").is_between(9, 11)).then(pl.col("_dnum")),
         "_cnpjn": pl.when(pl.col("_dlen").is_between(12, 14)).then(pl.col("_dnum"))},
        {"_cpf_ok": mod11_ok(_digits_of(pl.col("_cpfn"), 11), tuple(range(10, 1, -1)),
                              tuple(range(11, 1, -1)))
            & ~pl.col("_cpfn").is_in(REPEATED_CPF),
         "_cnpj_ok": mod11_ok(_digits_of(pl.col("_cnpjn"), 14), CNPJ_W1, CNPJ_W2)
            & ~pl.col("_cnpjn").is_in(REPEATED_CNPJ)},
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
        documents[3]["_alnum_ok"] = alnum & mod11_ok(values, CNPJ_W1, CNPJ_W2)
        documents.append({
            "document": pl.when(pl.col("_alnum_ok")).then(pl.col("_doc"))
            .otherwise(pl.col("document")),
            "document_kind": pl.when(pl.col("_alnum_ok")).then(pl.lit("cnpj"))
            .otherwise(pl.col("document_kind")),
        })
    return documents
