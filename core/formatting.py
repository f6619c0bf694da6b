"""Brazilian (pt-BR) formats for what users read: money, numbers and dates.

One home for them, used by the pages' filters, the reports (CSV) and the CLI.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def int_br(value: int | None) -> str:
    """1234567 -> '1.234.567'."""
    return f"{int(value or 0):,}".replace(",", ".")


def decimal_br(value: Decimal | int | str | None, *, thousands: bool = True) -> str:
    """Decimal('1234.5') -> '1.234,50' (or '1234,50' without the thousands dot, as a
    spreadsheet's number cell takes it)."""
    amount = Decimal(value or 0).quantize(CENT, rounding=ROUND_HALF_UP)  # as imports round
    whole, cents = f"{amount:,.2f}".split(".")
    return f"{whole.replace(',', '.' if thousands else '')},{cents}"


def brl(value: Decimal | int | str | None) -> str:
    """Decimal('1234.56') -> 'R$ 1.234,56'."""
    return f"R$ {decimal_br(value)}"


def date_br(value: dt.date | None) -> str:
    """dd/mm/aaaa; '' for no date."""
    return value.strftime("%d/%m/%Y") if value else ""


def datetime_br(value: dt.datetime | None, zone: dt.tzinfo) -> str:
    """dd/mm/aaaa hh:mm in `zone`; '' for no time."""
    return value.astimezone(zone).strftime("%d/%m/%Y %H:%M") if value else ""
