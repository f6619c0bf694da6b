"""pt-BR formats: what reports, the CLI and the pages show."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.formatting import brl, date_br, datetime_br, decimal_br, int_br


def test_money_numbers_and_dates_read_as_in_brazil():
    assert brl(Decimal("1234.56")) == "R$ 1.234,56"
    assert brl(Decimal("1234567.005")) == "R$ 1.234.567,01"
    assert brl(None) == "R$ 0,00" and brl(-5) == "R$ -5,00"
    assert decimal_br("1234.5") == "1.234,50"
    assert decimal_br("1234.5", thousands=False) == "1234,50"
    assert int_br(1234567) == "1.234.567"
    assert date_br(dt.date(2026, 3, 5)) == "05/03/2026" and date_br(None) == ""
    noon_utc = dt.datetime(2026, 3, 5, 12, 0, tzinfo=dt.UTC)
    assert datetime_br(noon_utc, ZoneInfo("America/Sao_Paulo")) == "05/03/2026 09:00"
    assert datetime_br(noon_utc, ZoneInfo("America/Manaus")) == "05/03/2026 08:00"
