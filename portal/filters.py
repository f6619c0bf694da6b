"""Jinja filters: Brazilian formats for numbers, money and dates."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from core import formatting
from core.documents import DocumentKind, format_document
from core.formatting import brl, date_br, int_br

DISPLAY_ZONE = ZoneInfo("America/Sao_Paulo")


def datetime_br(value: dt.datetime | None) -> str:
    return formatting.datetime_br(value, DISPLAY_ZONE)


def datetime_in(value: dt.datetime | None, zone: str) -> str:
    """A moment as the viewer reads it, in `zone` (label it on the page)."""
    return formatting.datetime_br(value, ZoneInfo(zone))


def cnpj(value: str) -> str:
    return format_document(DocumentKind.CNPJ, value) if value and len(value) == 14 else value


FILTERS = {"int_br": int_br, "brl": brl, "datetime_br": datetime_br, "datetime_in": datetime_in,
           "date_br": date_br, "cnpj": cnpj}
