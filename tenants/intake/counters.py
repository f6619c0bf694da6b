"""A portfolio's counters: which there are, how an import sums them, how they are shown.

The portfolio row keeps one column per counter (core.models.Portfolio); the API, the
import's receipt, the CLI and the portfolio page all list them from `COUNTERS`.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from core.formatting import brl, int_br


@dataclass(frozen=True)
class Counter:
    name: str  # the portfolio's column
    label: str  # what a user reads
    money: bool = False

    def shown(self, value: Any) -> str:
        return brl(value) if self.money else int_br(value)


COUNTERS = (
    Counter("rows_total", "Linhas lidas"),
    Counter("rows_accepted", "Linhas aceitas"),
    Counter("rows_rejected", "Linhas recusadas"),
    Counter("rows_with_warnings", "Linhas com avisos"),
    Counter("debtors_created", "Devedores novos"),
    Counter("debtors_updated", "Devedores atualizados"),
    Counter("debts_created", "Títulos novos"),
    Counter("debts_updated", "Títulos atualizados"),
    Counter("debts_unchanged", "Títulos sem alteração"),
    Counter("debts_closed", "Títulos encerrados"),
    Counter("amount_placed", "Valor colocado", money=True),
)


def summed(totals: Any, counts: Any) -> dict[str, Any]:
    """An import's counters: the rows from the file's totals (parsing.Totals), the rest
    from what the load changed (store.MergeCounts)."""
    return {
        "rows_total": totals.rows, "rows_accepted": totals.accepted,
        "rows_rejected": totals.rejected, "rows_with_warnings": totals.warned,
        **{c.name: getattr(counts, c.name) for c in COUNTERS[4:]},
    }


def counters_of(portfolio: Any) -> dict[str, Any]:
    """A portfolio's counters by name (money as a string, as JSON carries it exactly)."""
    values = {c.name: getattr(portfolio, c.name) for c in COUNTERS}
    values["amount_placed"] = str(Decimal(values["amount_placed"] or 0))
    return values


def shown(values: dict[str, Any]) -> list[tuple[str, str]]:
    """(label, value in pt-BR) for each counter, in order."""
    return [(c.label, c.shown(values.get(c.name))) for c in COUNTERS]


def labels() -> list[dict[str, Any]]:
    """For the page's script, which shows an import's counters as it ends."""
    return [{"name": c.name, "label": c.label, "money": c.money} for c in COUNTERS]
