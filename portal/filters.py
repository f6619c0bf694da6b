"""Jinja filters: Brazilian formats for numbers, money and dates."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from core.documents import DocumentKind, format_document

DISPLAY_ZONE = ZoneInfo("America/Sao_Paulo")


def int_br(value: Any) -> str:
    return f"{int(value or 0):,}".replace(",", ".")


def brl(value: Any) -> str:
    amount = Decimal(value or 0).quantize(Decimal("0.01"))
    whole, cents = f"{amount:,.2f}".split(".")
    return f"R$ {whole.replace(',', '.')},{cents}"


def datetime_br(value: dt.datetime | None) -> str:
    if value is None:
        return ""
    return value.astimezone(DISPLAY_ZONE).strftime("%d/%m/%Y %H:%M")


def datetime_in(value: dt.datetime | None, zone: str) -> str:
    """A moment as the viewer reads it, in `zone` (label it on the page)."""
    if value is None:
        return ""
    return value.astimezone(ZoneInfo(zone)).strftime("%d/%m/%Y %H:%M")


def date_br(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def cnpj(value: str) -> str:
    return format_document(DocumentKind.CNPJ, value) if value and len(value) == 14 else value


FILTERS = {"int_br": int_br, "brl": brl, "datetime_br": datetime_br, "date_br": date_br,
           "datetime_in": datetime_in,
           "cnpj": cnpj}
