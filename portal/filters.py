"""Jinja filters: Brazilian formats for numbers, money and dates.

Times are shown in the viewer's zone (its tenant's; agency staff: the agency's), which
the page layout puts in the template context as `zone`, and say which zone that is.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from jinja2 import pass_context
from jinja2.runtime import Context

from core.documents import DocumentKind, format_document
from core.settings import get_settings

# How Brazilians name each zone ("horário de Brasília" is the official time's name).
ZONE_NAMES = {
    "America/Sao_Paulo": "Brasília", "America/Fortaleza": "Fortaleza",
    "America/Recife": "Recife", "America/Bahia": "Salvador", "America/Maceio": "Maceió",
    "America/Belem": "Belém", "America/Araguaina": "Araguaína", "America/Manaus": "Manaus",
    "America/Cuiaba": "Cuiabá", "America/Campo_Grande": "Campo Grande",
    "America/Porto_Velho": "Porto Velho", "America/Boa_Vista": "Boa Vista",
    "America/Rio_Branco": "Rio Branco", "America/Noronha": "Fernando de Noronha",
    "America/Santarem": "Santarém", "America/Eirunepe": "Eirunepé",
}


def int_br(value: Any) -> str:
    return f"{int(value or 0):,}".replace(",", ".")


def brl(value: Any) -> str:
    amount = Decimal(value or 0).quantize(Decimal("0.01"))
    whole, cents = f"{amount:,.2f}".split(".")
    return f"R$ {whole.replace(',', '.')},{cents}"


def _zone_name(context: Context) -> str:
    zone = context.get("zone")
    return zone if isinstance(zone, str) and zone else get_settings().default_timezone


def zone_label(zone: str) -> str:
    """'horário de Brasília'; a zone without a Brazilian name shows its UTC offset."""
    if zone in ZONE_NAMES:
        return f"horário de {ZONE_NAMES[zone]}"
    offset = dt.datetime.now(ZoneInfo(zone)).strftime("%z")
    return f"UTC{offset[:3]}:{offset[3:]}"


@pass_context
def datetime_br(context: Context, value: dt.datetime | None, label: bool = True,
                seconds: bool = False) -> str:
    """'05/12/2026 14:03 (horário de Brasília)' in the viewer's zone.

    `label=False` leaves the zone out, for a table whose header names it (the layout's
    `zone_label`).
    """
    if value is None:
        return ""
    zone = _zone_name(context)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)  # the database keeps UTC
    text = value.astimezone(ZoneInfo(zone)).strftime(
        "%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")
    return f"{text} ({zone_label(zone)})" if label else text


def date_br(value: dt.date | None) -> str:
    return value.strftime("%d/%m/%Y") if value else ""


def cnpj(value: str) -> str:
    return format_document(DocumentKind.CNPJ, value) if value and len(value) == 14 else value


FILTERS = {"int_br": int_br, "brl": brl, "datetime_br": datetime_br, "date_br": date_br,
           "cnpj": cnpj}
