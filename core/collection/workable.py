""""May this debt be worked today": defined once, in two forms held equal by a test.

SQL: `regua_debt_blocker(debt, at)` (migration 0004), used by every query that picks
debts to work (`blocker_sql`, `workable_sql`). Python: `blocker()`, for a debt already
loaded with its holds. Both answer why not (`None`: it may be worked):
`status:<status>` when its lifecycle is not open, `prescribed` five years after the due
date in the debtor's zone, `hold:<kind>` while a hold covers it. A hold that ends lets
the debt be worked from that moment, with the calendar where it then is.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, literal_column

from core.models import DEBT_STATUS_LABELS, DebtStatus, HoldKind
from core.models.activity import HOLD_LABELS

PRESCRIPTION_YEARS = 5  # Civil Code art. 206 §5 I


class HoldSpan(Protocol):
    debt_id: uuid.UUID | None
    kind: str
    starts_at: dt.datetime
    ends_at: dt.datetime | None


@dataclass(frozen=True)
class DebtFacts:
    id: uuid.UUID
    status: str
    due_date: dt.date


def add_years(day: dt.date, years: int) -> dt.date:
    """The same day `years` later; 29 February becomes the 28th, as in PostgreSQL."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def prescribes_on(due_date: dt.date) -> dt.date:
    """The first day on which a debt due on `due_date` is prescribed."""
    return add_years(due_date, PRESCRIPTION_YEARS) + dt.timedelta(days=1)


def is_active(hold: HoldSpan, at: dt.datetime) -> bool:
    return hold.starts_at <= at and (hold.ends_at is None or hold.ends_at > at)


def blocker(debt: DebtFacts, holds: Iterable[HoldSpan], at: dt.datetime,
            zone: str) -> str | None:
    """Why `debt` may not be worked at `at` (None: it may). `holds` are its debtor's."""
    if debt.status != DebtStatus.OPEN:
        return f"status:{debt.status}"
    if at.astimezone(ZoneInfo(zone)).date() >= prescribes_on(debt.due_date):
        return "prescribed"
    covering = sorted(
        (h for h in holds if (h.debt_id is None or h.debt_id == debt.id) and is_active(h, at)),
        key=lambda h: h.starts_at)
    return f"hold:{covering[0].kind}" if covering else None


def blocker_label(code: str | None) -> str | None:
    """The reason in words, for pages and reports."""
    if code is None:
        return None
    kind, _, value = code.partition(":")
    if kind == "status":
        return DEBT_STATUS_LABELS.get(DebtStatus(value), value)
    if kind == "prescribed":
        return "prescrito (mais de 5 anos do vencimento): não pode ser cobrado"
    if kind == "hold":
        return f"bloqueado: {HOLD_LABELS.get(HoldKind(value), value)}"
    return code


def blocker_sql(debt_alias: str = "debt", at: str = "now()") -> ColumnElement[str]:
    """The SQL form, for a query whose FROM has the `debt` table as `debt_alias`."""
    return literal_column(f"regua_debt_blocker({debt_alias}, {at})")


def workable_sql(debt_alias: str = "debt", at: str = "now()") -> ColumnElement[bool]:
    return blocker_sql(debt_alias, at).is_(None)
