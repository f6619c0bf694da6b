"""National and state holidays, from the maintained `holidays` package (subdiv = UF)."""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

import holidays as holiday_calendars
from holidays.countries.brazil import Brazil

STATES = frozenset(s for s in Brazil.subdivisions if len(s) == 2)


@lru_cache(maxsize=512)
def _year(state: str | None, year: int) -> dict[dt.date, str]:
    calendar = holiday_calendars.country_holidays(
        "BR", subdiv=state if state in STATES else None, years=year, language="pt_BR")
    return dict(calendar.items())


def holiday(state: str | None, day: dt.date) -> str | None:
    """The holiday's name when `day` is a national holiday or one of `state`'s."""
    return _year(state, day.year).get(day)
