"""CPF/CNPJ and phones: the one-at-a-time form and the column form give the same answers."""

from __future__ import annotations

import random

import polars as pl

from core.documents import (
    _CNPJ_WEIGHTS_1,
    _CNPJ_WEIGHTS_2,
    _CPF_WEIGHTS_1,
    _CPF_WEIGHTS_2,
    _mod11_digit,
    document_stages,
    format_document,
    normalize_document,
)
from core.phones import normalize_phone, phone_stages

ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _cpf(rng: random.Random) -> str:
    values = [rng.randrange(10) for _ in range(9)]
    values.append(_mod11_digit(values, _CPF_WEIGHTS_1))
    values.append(_mod11_digit(values, _CPF_WEIGHTS_2))
    return "".join(map(str, values))


def _cnpj(rng: random.Random, letters: bool) -> str:
    chars = [rng.choice(ALNUM if letters else ALNUM[:10]) for _ in range(12)]
    values = [ord(c) - 48 for c in chars]
    for weights in (_CNPJ_WEIGHTS_1, _CNPJ_WEIGHTS_2):
        digit = _mod11_digit(values, weights)
        values.append(digit)
        chars.append(str(digit))
    return "".join(chars)


def _spoiled(rng: random.Random, document: str) -> str:
    """The same document with one check digit or one other character changed."""
    at = rng.randrange(len(document))
    pool = ALNUM if not document.isdigit() and at < 12 else ALNUM[:10]
    return document[:at] + rng.choice(pool.replace(document[at], "")) + document[at + 1:]


def _written(rng: random.Random, document: str) -> str:
    """As a spreadsheet may hold it: punctuated, lower case, or missing a leading zero."""
    kind = "cpf" if len(document) == 11 else "cnpj"
    one_zero = document.isdigit() and document[0] == "0" and document[1] != "0"
    lost_zero = document[1:] if one_zero else document
    return rng.choice([document, format_document(kind, document), document.lower(),
                       lost_zero, f" {document} "])


def _column_form(values: list[str]) -> list[tuple[str | None, str | None]]:
    frame = pl.DataFrame({"raw": values}).lazy()
    for stage in document_stages(pl.col("raw"), has_letters=True):
        frame = frame.with_columns(**stage)
    out = frame.select("document_kind", "document").collect()
    return list(out.iter_rows())


def test_the_column_form_agrees_with_the_scalar_form_on_many_documents():
    rng = random.Random(20261205)
    documents = ([_cpf(rng) for _ in range(1500)] + [_cnpj(rng, False) for _ in range(1500)]
                 + [_cnpj(rng, True) for _ in range(1500)])
    values = [_written(rng, d) for d in documents]
    values += [_spoiled(rng, d) for d in documents]
    values += ["", "abc", "00000000000", "11111111111111", "123", "1234567890123456",
               "12.ABC.345/01DE-35", "AB.CDE.FGH/IJKL-00"]
    scalar = [normalize_document(v) for v in values]
    column = _column_form(values)
    disagreements = [(v, s, c) for v, s, c in zip(values, scalar, column, strict=True)
                     if (tuple(map(str, s)) if s else (None, None)) != c]
    assert disagreements == []
    # The sample holds both answers in numbers: every written document is valid, and
    # a changed character is caught almost always (mod 11 lets a few letters through).
    assert all(s is not None for s in scalar[:len(documents)])
    assert sum(1 for s in scalar[len(documents):2 * len(documents)] if s is None) > 4300


def test_the_column_form_agrees_with_the_scalar_form_on_phones():
    rng = random.Random(55)
    values = []
    for _ in range(3000):
        ddd = rng.choice(["11", "21", "20", "61", "99", "00", "47"])
        first = rng.choice("0123456789")
        rest = "".join(rng.choice("0123456789") for _ in range(rng.choice([6, 7, 8, 9])))
        number = ddd + first + rest
        values.append(rng.choice([number, f"({ddd}) {first}{rest}", f"+55 {number}",
                                  f"0{number}", f"0 21 {number}", f"{number}.0", f" {number} "]))
    frame = pl.DataFrame({"raw": values}).lazy()
    for stage in phone_stages(pl.col("raw"), "e164"):
        frame = frame.with_columns(**stage)
    column = frame.collect().get_column("e164").to_list()
    scalar = [normalize_phone(v) for v in values]
    assert [(v, s, c) for v, s, c in zip(values, scalar, column, strict=True) if s != c] == []
    assert 300 < sum(s is not None for s in scalar) < 2900
