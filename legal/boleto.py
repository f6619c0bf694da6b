"""Boleto (FEBRABAN): barcode, linha digitável, due-date factor; both ways.

Pure functions. Layout (`/work/shared/DOMAIN.md`, "Payments"): the 44-digit barcode is
bank(3) currency "9"(1) general check digit(1) factor(4) amount in cents(10) free
field(25); the 47-digit line splits the free field over three fields with modulo-10
check digits, then the general check digit, then factor and amount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal

FACTOR_BASE = date(1997, 10, 7)
# The factor reached 9999 on 2025-02-21 and restarted at 1000 the next day; it cycles
# through 1000..9999 (9000 days) from then on.
FACTOR_RESTART = date(2025, 2, 22)
FACTOR_CYCLE = 9000
CURRENCY_REAL = "9"
AMOUNT_MAX = Decimal("99999999.99")


class BoletoError(ValueError):
    """A barcode or line that cannot be built or does not check."""


def modulo10(digits: str) -> int:
    """Check digit of a line field: weights 2,1 from the right, digits of products summed."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        product = int(ch) * (2 if i % 2 == 0 else 1)
        total += product // 10 + product % 10
    return (10 - total % 10) % 10


def modulo11_general(digits: str) -> int:
    """The barcode's general check digit: weights 2..9 from the right; 0, 10, 11 give 1."""
    total = sum(int(ch) * (2 + i % 8) for i, ch in enumerate(reversed(digits)))
    dv = 11 - total % 11
    return 1 if dv in (0, 10, 11) else dv


def modulo11_bb(digits: str) -> str:
    """Banco do Brasil's check digit of a "nosso número" (weights 9..2 from the right)."""
    total = sum(int(ch) * (9 - i % 8) for i, ch in enumerate(reversed(digits)))
    rest = total % 11
    return "X" if rest == 10 else str(rest)


def due_factor(due: date) -> int:
    """The 4-digit due-date factor, after the 2025-02-22 restart where it applies."""
    days = (due - FACTOR_BASE).days
    if days < 1000:
        raise BoletoError("due date before the first factor (1000)")
    if due < FACTOR_RESTART:
        return days
    return 1000 + (due - FACTOR_RESTART).days % FACTOR_CYCLE


def due_date_from_factor(factor: int, today: date) -> date | None:
    """The date a factor stands for: of the dates it may mean, the one nearest `today`.

    Factor 0 means "no due date" (a slip payable any day).
    """
    if factor == 0:
        return None
    if not 1000 <= factor <= 9999:
        raise BoletoError("due-date factor out of range")
    candidates = [FACTOR_BASE + timedelta(days=factor)]
    first_after = FACTOR_RESTART + timedelta(days=factor - 1000)
    for cycle in range(0, 4):
        candidates.append(first_after + timedelta(days=cycle * FACTOR_CYCLE))
    return min(candidates, key=lambda d: (abs((d - today).days), d))


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def build_barcode(bank: str, amount: Decimal, due: date | None, free_field: str) -> str:
    if not re.fullmatch(r"\d{3}", bank):
        raise BoletoError("bank code must be 3 digits")
    if not re.fullmatch(r"\d{25}", free_field):
        raise BoletoError("free field must be 25 digits")
    if amount < 0 or amount > AMOUNT_MAX:
        raise BoletoError("amount out of range")
    cents = int((amount * 100).quantize(Decimal("1")))
    factor = 0 if due is None else due_factor(due)
    body = f"{bank}{CURRENCY_REAL}{factor:04d}{cents:010d}{free_field}"
    dv = modulo11_general(body)
    return body[:4] + str(dv) + body[4:]


def line_from_barcode(barcode: str) -> str:
    """The 47-digit linha digitável of a 44-digit barcode (digits only)."""
    check_barcode(barcode)
    free = barcode[19:44]
    f1 = barcode[0:4] + free[0:5]
    f2 = free[5:15]
    f3 = free[15:25]
    return (
        f1 + str(modulo10(f1))
        + f2 + str(modulo10(f2))
        + f3 + str(modulo10(f3))
        + barcode[4]
        + barcode[5:19]
    )


def barcode_from_line(line: str) -> str:
    """The barcode of a linha digitável; every check digit is verified."""
    digits = _digits(line)
    if len(digits) != 47:
        raise BoletoError("a linha digitável has 47 digits")
    f1, d1 = digits[0:9], digits[9]
    f2, d2 = digits[10:20], digits[20]
    f3, d3 = digits[21:31], digits[31]
    for number, (field, dv) in enumerate(((f1, d1), (f2, d2), (f3, d3)), start=1):
        if str(modulo10(field)) != dv:
            raise BoletoError(f"check digit of field {number} does not match")
    barcode = f1[0:4] + digits[32] + digits[33:47] + f1[4:9] + f2 + f3
    check_barcode(barcode)
    return barcode


def check_barcode(barcode: str) -> None:
    if not re.fullmatch(r"\d{44}", barcode):
        raise BoletoError("a barcode has 44 digits")
    if barcode[3] != CURRENCY_REAL:
        raise BoletoError("currency is not the real")
    if str(modulo11_general(barcode[:4] + barcode[5:])) != barcode[4]:
        raise BoletoError("general check digit does not match")


@dataclass(frozen=True)
class Boleto:
    bank: str
    amount: Decimal
    due_date: date | None
    free_field: str
    barcode: str
    line: str

    @property
    def formatted_line(self) -> str:
        d = self.line
        return (
            f"{d[0:5]}.{d[5:10]} {d[10:15]}.{d[15:21]} {d[21:26]}.{d[26:32]} "
            f"{d[32]} {d[33:47]}"
        )


def parse(code: str, *, today: date) -> Boleto:
    """A barcode (44 digits) or a line (47 digits), checked and decoded."""
    digits = _digits(code)
    if len(digits) == 44:
        barcode = digits
        check_barcode(barcode)
    elif len(digits) == 47:
        barcode = barcode_from_line(digits)
    else:
        raise BoletoError("expected a 44-digit barcode or a 47-digit line")
    return Boleto(
        bank=barcode[0:3],
        amount=Decimal(int(barcode[9:19])) / 100,
        due_date=due_date_from_factor(int(barcode[5:9]), today),
        free_field=barcode[19:44],
        barcode=barcode,
        line=line_from_barcode(barcode),
    )


def generate(bank: str, amount: Decimal, due: date | None, free_field: str) -> Boleto:
    barcode = build_barcode(bank, amount, due, free_field)
    return Boleto(bank, amount.quantize(Decimal("0.01")), due, free_field, barcode,
                  line_from_barcode(barcode))


# Banco do Brasil, "convênio" of 7 digits: nosso número = convênio(7) + sequence(10),
# 17 digits without a check digit; free field = "000000" + nosso número + carteira(2).
def nosso_numero_bb(convenio: str, sequence: int) -> str:
    if not re.fullmatch(r"\d{7}", convenio):
        raise BoletoError("convênio must be 7 digits")
    if not 0 < sequence < 10**10:
        raise BoletoError("sequence out of range")
    return f"{convenio}{sequence:010d}"


def free_field_bb(nosso_numero: str, carteira: str) -> str:
    if not re.fullmatch(r"\d{17}", nosso_numero) or not re.fullmatch(r"\d{2}", carteira):
        raise BoletoError("nosso número of 17 digits and carteira of 2")
    return "000000" + nosso_numero + carteira


def interleaved_2of5(digits: str) -> list[tuple[bool, int]]:
    """Bars of an Interleaved 2 of 5 code: (is_bar, width units) from left to right.

    Narrow = 1 unit, wide = 3 units (ratio 1:3, within FEBRABAN's 1:2.25–1:3).
    """
    if len(digits) % 2 or not digits.isdigit():
        raise BoletoError("I2of5 needs an even number of digits")
    patterns = ["nnwwn", "wnnnw", "nwnnw", "wwnnn", "nnwnw",
                "wnwnn", "nwwnn", "nnnww", "wnnwn", "nwnwn"]
    runs: list[tuple[bool, int]] = [(True, 1), (False, 1), (True, 1), (False, 1)]
    for i in range(0, len(digits), 2):
        bars, spaces = patterns[int(digits[i])], patterns[int(digits[i + 1])]
        for b, s in zip(bars, spaces, strict=True):
            runs.append((True, 3 if b == "w" else 1))
            runs.append((False, 3 if s == "w" else 1))
    runs += [(True, 3), (False, 1), (True, 1)]
    return runs
