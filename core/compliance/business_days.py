"""Business days: weekdays that are not a national holiday or a holiday of the state.
Deadlines that law or contracts count in business days (an installment's due date, a
credit-bureau removal, a protest cancellation) are all counted here."""

from __future__ import annotations

import datetime as dt

from core.compliance.holidays import holiday

WEEKDAYS = ("segunda", "terça", "quarta", "quinta", "sexta", "sábado", "domingo")


def non_business(day: dt.date, state: str | None) -> str | None:
    """Why `day` is not a business day (None: it is)."""
    if day.weekday() >= 5:
        return WEEKDAYS[day.weekday()]
    name = holiday(state, day)
    return f"feriado: {name}" if name else None


def next_business_day(day: dt.date, state: str | None) -> dt.date:
    while non_business(day, state):
        day += dt.timedelta(days=1)
    return day


def previous_business_day(day: dt.date, state: str | None) -> dt.date:
    while non_business(day, state):
        day -= dt.timedelta(days=1)
    return day


def add_business_days(day: dt.date, count: int, state: str | None) -> dt.date:
    """`count` business days after `day`."""
    while count > 0:
        day += dt.timedelta(days=1)
        if non_business(day, state) is None:
            count -= 1
    return day
