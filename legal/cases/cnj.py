"""The CNJ unified process number (Resolução CNJ 65/2008): NNNNNNN-DD.AAAA.J.TR.OOOO.

NNNNNNN is the court's sequence, DD the check digits, AAAA the year of filing, J the
branch of the judiciary (1 to 9), TR the court, OOOO the originating unit. The check
digits are ISO 7064 MOD 97-10 (the resolution's Annex VIII): DD = 98 − (N A J TR O × 100
mod 97), and a whole number is valid when N A J TR O DD mod 97 = 1.
"""

from __future__ import annotations

import datetime as dt
import re

_SHAPE = re.compile(r"^(\d{7})-?(\d{2})\.?(\d{4})\.?(\d)\.?(\d{2})\.?(\d{4})$")


def check_digits(sequence: str, year: str, branch: str, court: str, origin: str) -> str:
    return f"{98 - int(sequence + year + branch + court + origin + '00') % 97:02d}"


def normalize(value: str) -> str:
    """The 20 digits of a CNJ number written with or without its punctuation, or a
    ValueError saying in Portuguese what is wrong with it."""
    raw = value.strip().replace(" ", "")
    found = _SHAPE.match(raw)
    if not found:
        raise ValueError("use o formato NNNNNNN-DD.AAAA.J.TR.OOOO (20 dígitos)")
    sequence, digits, year, branch, court, origin = found.groups()
    if branch == "0":
        raise ValueError("o segmento da Justiça (J) vai de 1 a 9")
    if not 1990 <= int(year) <= dt.date.today().year + 1:
        raise ValueError(f"ano de ajuizamento {year} fora do esperado")
    if check_digits(sequence, year, branch, court, origin) != digits:
        raise ValueError("dígito verificador não confere: confira o número do processo")
    return sequence + digits + year + branch + court + origin


def formatted(digits: str | None) -> str:
    """20 digits as the courts print them; '' for none."""
    if not digits:
        return ""
    d = digits
    return f"{d[:7]}-{d[7:9]}.{d[9:13]}.{d[13]}.{d[14:16]}.{d[16:]}"
