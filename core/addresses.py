"""Brazilian addresses: the 27 federative units (UF) and CEP postal codes."""

from __future__ import annotations

import re

UF_CODES = frozenset({
    "AC", "AL", "AP", "AM", "BA", "CE", "DF", "ES", "GO", "MA", "MT", "MS", "MG", "PA",
    "PB", "PR", "PE", "PI", "RJ", "RN", "RS", "RO", "RR", "SC", "SP", "SE", "TO",
})

_CEP = re.compile(r"\D")


def normalize_cep(raw: str) -> str | None:
    digits = _CEP.sub("", raw)
    return digits if len(digits) == 8 else None
