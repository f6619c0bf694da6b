"""Jinja filters: Brazilian formats for numbers, money and dates.

Times are shown in the viewer's zone (its tenant's; agency staff: the agency's), which
the page layout puts in the template context as `zone`, and say which zone that is.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from jinja2 import pass_context
from jinja2.runtime import Context

from core import formatting
from core.documents import DocumentKind, format_document
from core.formatting import brl, date_br, int_br
from core.settings import get_settings
from core.zones import zone_label


def _zone_name(context: Context) -> str:
    zone = context.get("zone")
    return zone if isinstance(zone, str) and zone else get_settings().default_timezone


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


def datetime_in(value: dt.datetime | None, zone: str) -> str:
    """A moment as read in `zone` (the page labels it)."""
    return formatting.datetime_br(value, ZoneInfo(zone))


def cnpj(value: str) -> str:
    return format_document(DocumentKind.CNPJ, value) if value and len(value) == 14 else value


FILTERS = {"int_br": int_br, "brl": brl, "datetime_br": datetime_br, "datetime_in": datetime_in,
           "date_br": date_br, "cnpj": cnpj}
