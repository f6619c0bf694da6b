"""National and state holidays, from the maintained `holidays` package (subdiv = UF).

The package names holidays through gettext: a calendar object reads its Portuguese
catalogue (a `.mo` file inside the installed package) when it is built. Building one
per state and year on first use read package files at any moment of a process's life,
so a long run whose environment was re-synced under it (`uv sync` after a merge, a
deploy replacing the package) failed on the first state or year it had not asked for
yet: "No translation file found for domain 'BR'" (the 1,000,000-debt benchmark did,
minutes in). So each state's calendar is built once, when this module is imported, and
grows year by year from the catalogue it already holds: the package's files are read
when the process starts, or it does not start.
"""

from __future__ import annotations

import datetime as dt
import threading

import holidays as holiday_calendars
from holidays.countries.brazil import Brazil
from holidays.holiday_base import HolidayBase

STATES = frozenset(s for s in Brazil.subdivisions if len(s) == 2)

# The national calendar under None; each adds the years it is asked for (`expand`).
_CALENDARS: dict[str | None, HolidayBase] = {
    state: holiday_calendars.country_holidays("BR", subdiv=state, language="pt_BR")
    for state in (None, *sorted(STATES))
}
_GROWING = threading.Lock()  # adding a year writes the calendar's dict


def holiday(state: str | None, day: dt.date) -> str | None:
    """The holiday's name when `day` is a national holiday or one of `state`'s."""
    calendar = _CALENDARS[state if state in STATES else None]
    with _GROWING:
        name = calendar.get(day)
    return name if isinstance(name, str) else None
