"""Frequency caps per debtor and channel, per local day and week, across every creditor.

The limits are agency policy (`REGUA_CONTACT_CAPS`, defaults in `core.settings`), which a
tenant's policy may lower for its own debtors (never raise); the counts come from the
agency-wide counter (`core.collection.agency_counts`), which only ever answers counts for
a document the caller already knows. A week runs Monday to Sunday in the debtor's zone.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from core.collection import agency_counts
from core.collection.agency_counts import DayCount
from core.models import Channel
from core.models.collection import CHANNEL_LABELS
from core.settings import get_settings

Counts = Mapping[tuple[dt.date, Channel], DayCount]


@dataclass(frozen=True)
class Breach:
    code: str  # cap_day, cap_week, cap_answered_day, cap_answered_week
    reason: str
    until: dt.date  # the first local day on which this cap no longer holds


@dataclass(frozen=True)
class Limits:
    """The caps that hold for a channel: by kind (attempts_day, attempts_week,
    answered_day, ...), and the kinds where the creditor's own is the lower one."""

    values: Mapping[str, int]
    by_creditor: frozenset[str] = frozenset()


def limits(channel: Channel, own: Mapping[str, int] | None = None) -> Limits:
    """The agency's caps for `channel`, lowered where the creditor's `own` are lower."""
    agency: dict[str, int] = {}
    for name, values in get_settings().contact_caps.items():
        if name == channel.value:
            agency = {str(kind): limit for kind, limit in values.items()}
    lower = {k: v for k, v in (own or {}).items() if k in agency and v < agency[k]}
    return Limits({**agency, **lower}, frozenset(lower))


def week_of(day: dt.date) -> tuple[dt.date, dt.date]:
    monday = day - dt.timedelta(days=day.weekday())
    return monday, monday + dt.timedelta(days=6)


def _plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


def breach(channel: Channel, day: dt.date, counts: Counts, caps: Limits) -> Breach | None:
    """The first cap that `counts` reach on local `day`, or None."""
    monday, sunday = week_of(day)
    today = counts.get((day, channel), DayCount())
    week = [c for (d, ch), c in counts.items() if ch == channel and monday <= d <= sunday]
    totals = {
        "attempts_day": today.attempts, "answered_day": today.answered,
        "attempts_week": sum(c.attempts for c in week),
        "answered_week": sum(c.answered for c in week),
    }
    label = CHANNEL_LABELS[channel]
    for kind, code, period, until in (
            ("answered_day", "cap_answered_day", "hoje", day + dt.timedelta(days=1)),
            ("attempts_day", "cap_day", "hoje", day + dt.timedelta(days=1)),
            ("answered_week", "cap_answered_week", "nesta semana", sunday + dt.timedelta(days=1)),
            ("attempts_week", "cap_week", "nesta semana", sunday + dt.timedelta(days=1))):
        cap = caps.values.get(kind)
        if cap is None or totals[kind] < cap:
            continue
        what = (_plural(cap, "contato atendido", "contatos atendidos")
                if kind.startswith("answered") else _plural(cap, "tentativa", "tentativas"))
        whose = " definido pelo credor" if kind in caps.by_creditor else ""
        return Breach(code, f"limite{whose} de {what} por {label} {period} atingido para este "
                            "devedor, somando todos os credores", until)
    return None


async def load_counts(session: AsyncSession, document: str, day: dt.date) -> Counts:
    """The agency-wide counts the caps of `day`'s week and the next one read."""
    monday, _ = week_of(day)
    return await agency_counts.daily_counts(session, document, monday,
                                            monday + dt.timedelta(days=13))
