"""Loading published index values (`regua indexes load FILE`).

The file has the shipped series' format (legal/data/indices.csv): lines starting with
`#` are comments, then `index,month,value,source` with the index (IPCA or SELIC), the
month as YYYY-MM, the month's rate in percent with a dot, and where it was published.
A month already loaded is replaced: the latest publication wins. The table is
agency-wide, so the schema owner writes it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from decimal import Decimal, InvalidOperation

from sqlalchemy.dialects.postgresql import insert

from core.db import owner_engine
from core.errors import ValidationFailed
from core.settings import get_settings
from legal.models import IndexValue

NAMES = ("IPCA", "SELIC")


def parse(text: str) -> list[dict[str, object]]:
    body = "\n".join(line for line in text.splitlines() if not line.startswith("#"))
    rows = []
    for n, row in enumerate(csv.DictReader(io.StringIO(body)), 2):
        try:
            name = (row.get("index") or "").strip().upper()
            if name not in NAMES:
                raise ValueError(f"índice '{name}' desconhecido (use IPCA ou SELIC)")
            month = dt.date.fromisoformat((row.get("month") or "").strip() + "-01")
            value = Decimal((row.get("value") or "").strip())
            if not value.is_finite() or abs(value) >= 100:
                raise ValueError("valor fora do intervalo")
        except (ValueError, InvalidOperation) as exc:
            raise ValidationFailed({"file": f"linha {n}: {exc or 'valor inválido'}"}) from None
        rows.append({"index_name": name, "month": month, "value": value,
                     "source": (row.get("source") or "arquivo carregado").strip()[:200]})
    if not rows:
        raise ValidationFailed({"file": "nenhum valor no arquivo"})
    return rows


async def load(text: str) -> dict[str, object]:
    rows = parse(text)
    engine = owner_engine(get_settings())
    try:
        async with engine.begin() as conn:
            statement = insert(IndexValue).values(rows)
            await conn.execute(statement.on_conflict_do_update(
                index_elements=["index_name", "month"],
                set_={"value": statement.excluded.value, "source": statement.excluded.source,
                      "loaded_at": dt.datetime.now(dt.UTC)}))
    finally:
        await engine.dispose()
    last = {name: max(str(r["month"])[:7] for r in rows if r["index_name"] == name)
            for name in NAMES if any(r["index_name"] == name for r in rows)}
    return {"loaded": len(rows), "last_month": last}
