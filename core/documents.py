"""Brazilian taxpayer documents: CPF (people) and CNPJ (companies, numeric or alphanumeric).

Rules from DOMAIN.md: modulo-11 check digits; from July 2026 a CNPJ's first twelve
characters may be 0-9A-Z, each worth its ASCII code minus 48, check digits stay numeric.
"""

from __future__ import annotations

import re
from enum import StrEnum

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
