"""Contact windows: when each channel may reach a debtor, in the debtor's local time.

No federal law sets hours; state laws do, by the debtor's state (DOMAIN.md, "Contacts").
The rules are data: `DEFAULT_WINDOWS` for every state, `STATE_WINDOWS` where a state's
law says otherwise. A channel without a window is not restricted by the clock. A
tenant's own windows (`core.compliance.policy`) are intersected with these, so a tenant
can only narrow them. A channel with a window is closed all day on a national or state
holiday of the debtor's state.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from core.compliance.holidays import holiday
from core.models import Channel
from core.models.collection import CHANNEL_LABELS

Span = tuple[int, int]  # minutes after local midnight: [start, end)
Week = tuple[Span | None, ...]  # Monday to Sunday; None: closed all day
DAY_MINUTES = 24 * 60
WHOLE_DAY: Span = (0, DAY_MINUTES)
OPEN_WEEK: Week = (WHOLE_DAY,) * 7


def hours(start: str, end: str) -> Span:
    """A span from "HH:MM" to "HH:MM" ("24:00" is the end of the day)."""
    def minutes(value: str) -> int:
        hh, mm = value.split(":")
        return int(hh) * 60 + int(mm)

    span = (minutes(start), minutes(end))
    if not 0 <= span[0] < span[1] <= DAY_MINUTES:
        raise ValueError(f"invalid span {start}-{end}")
    return span


def week(weekdays: Span | None, saturday: Span | None = None,
         sunday: Span | None = None) -> Week:
    return (weekdays,) * 5 + (saturday, sunday)


# São Paulo (Lei 15.426/2014): Monday-Friday 08:00-20:00, Saturday 08:00-14:00, never on
# Sundays or holidays. The default for every state.
SP_WINDOW = week(hours("08:00", "20:00"), saturday=hours("08:00", "14:00"))
# Ceará: calls, SMS and WhatsApp Monday-Friday 08:00-18:00 only.
CE_WINDOW = week(hours("08:00", "18:00"))

# The SP window holds calls, and, as agency policy, SMS and WhatsApp too: both ring the
# debtor's phone, and CDC art. 71 forbids interfering with rest and leisure. E-mail and
# letters wait in a mailbox until read, so no window restricts them unless a state rule
# or the tenant's policy gives one.
DEFAULT_WINDOWS: Mapping[Channel, Week] = {
    Channel.CALL: SP_WINDOW, Channel.SMS: SP_WINDOW, Channel.WHATSAPP: SP_WINDOW,
}

# Per-state rules; a channel a state does not name follows DEFAULT_WINDOWS.
STATE_WINDOWS: Mapping[str, Mapping[Channel, Week]] = {
    "CE": {Channel.CALL: CE_WINDOW, Channel.SMS: CE_WINDOW, Channel.WHATSAPP: CE_WINDOW},
    # Alagoas' law puts text messages in the calls' window. The default already does;
    # the state's own rule keeps them there if the default ever narrows to calls.
    "AL": {Channel.CALL: SP_WINDOW, Channel.SMS: SP_WINDOW, Channel.WHATSAPP: SP_WINDOW},
}


def law_window(state: str | None, channel: Channel) -> Week | None:
    """The window the rules give `channel` in `state` (None: not restricted)."""
    own = STATE_WINDOWS.get(state or "", {})
    return own[channel] if channel in own else DEFAULT_WINDOWS.get(channel)


def _meet(a: Span | None, b: Span | None) -> Span | None:
    if a is None or b is None:
        return None
    start, end = max(a[0], b[0]), min(a[1], b[1])
    return (start, end) if start < end else None


def narrow(base: Week | None, own: Week | None) -> Week | None:
    """`base` as `own` narrows it: each day's span is the overlap of both."""
    if own is None:
        return base
    if base is None:
        return own
    return tuple(_meet(a, b) for a, b in zip(base, own, strict=True))


DAY_NAMES = ("segunda-feira", "terça-feira", "quarta-feira", "quinta-feira", "sexta-feira",
             "sábado", "domingo")
SHORT_NAMES = ("seg", "ter", "qua", "qui", "sex", "sáb", "dom")


def _clock(minutes: int) -> str:
    return f"{minutes // 60:02d}:{minutes % 60:02d}"


def describe(window: Week) -> str:
    """In Portuguese: "seg a sex 08:00–20:00, sáb 08:00–14:00"."""
    parts: list[str] = []
    day = 0
    while day < 7:
        span = window[day]
        last = day
        while last + 1 < 7 and window[last + 1] == span:
            last += 1
        if span is not None:
            days = SHORT_NAMES[day] if last == day else f"{SHORT_NAMES[day]} a {SHORT_NAMES[last]}"
            hours_ = ("o dia todo" if span == WHOLE_DAY
                      else f"{_clock(span[0])}–{_clock(span[1])}")
            parts.append(f"{days} {hours_}")
        day = last + 1
    return ", ".join(parts) or "nenhum horário"


@dataclass(frozen=True)
class Closed:
    """Why the clock closes a channel at a moment: a stable code and words."""

    code: str  # holiday, closed_day, outside_hours, tenant_window
    reason: str


def _bounds(day: dt.date, span: Span, zone: ZoneInfo) -> tuple[dt.datetime, dt.datetime]:
    midnight = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    return (midnight + dt.timedelta(minutes=span[0]), midnight + dt.timedelta(minutes=span[1]))


def _open(window: Week, state: str | None, local: dt.datetime) -> bool:
    span = window[local.weekday()]
    if span is None or holiday(state, local.date()) is not None:
        return False
    minute = local.hour * 60 + local.minute
    return span[0] <= minute < span[1]


def closed_at(law: Week | None, own: Week | None, state: str | None, channel: Channel,
              local: dt.datetime) -> Closed | None:
    """Why `channel` may not be used at `local` (the debtor's local time), or None."""
    window = narrow(law, own)
    if window is None or _open(window, state, local):
        return None
    label = CHANNEL_LABELS[channel]
    tenant = Closed("tenant_window", f"fora do horário de contato por {label} definido pelo "
                                     f"credor: {describe(window)} (horário local do devedor)")
    if law is not None and _open(law, state, local):
        return tenant
    name = holiday(state, local.date())
    if name is not None:
        where = f"em {state}" if state else "nacional"
        return Closed("holiday", f"feriado {where} ({name}): contato por {label} não é "
                                 "permitido em feriados")
    if law is None:
        return tenant
    if window[local.weekday()] is None:
        return Closed("closed_day", f"{DAY_NAMES[local.weekday()]}: contato por {label} não é "
                                    f"permitido neste dia (permitido: {describe(window)})")
    return Closed("outside_hours", f"fora do horário permitido para contato por {label}: "
                                   f"{describe(window)}, no horário local do devedor")


def next_open(window: Week | None, state: str | None, zone: ZoneInfo,
              at: dt.datetime) -> dt.datetime | None:
    """The first moment from `at` on when `window` is open (None: it never opens)."""
    if window is None:
        return at
    local = at.astimezone(zone)
    for offset in range(31):  # a week of windows plus any run of holidays
        day = local.date() + dt.timedelta(days=offset)
        span = window[day.weekday()]
        if span is None or holiday(state, day) is not None:
            continue
        start, end = _bounds(day, span, zone)
        if local < end:
            return max(start, local).astimezone(dt.UTC)
    return None
