"""Updating a debt: worked examples computed by hand, with their memória de cálculo."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from pathlib import Path

from core.models import Bucket
from legal import indexes
from legal.updating import IndexTable, Terms, update

D = Decimal


def table(**series: dict[str, str]) -> IndexTable:
    values = {}
    for name, months in series.items():
        for month, value in months.items():
            values[(name, dt.date.fromisoformat(month + "-01"))] = D(value)
    return IndexTable(values)


# The published figures of 2024 (legal/data/indices.csv) the example needs.
IPCA_2024 = {"2024-06": "0.21", "2024-07": "0.38", "2024-08": "-0.02", "2024-09": "0.44",
             "2024-10": "0.56"}
SELIC_2024 = {"2024-08": "0.87", "2024-09": "0.84", "2024-10": "0.93"}


def test_a_consumer_debt_across_the_change_of_the_legal_rate():
    """R$ 1.000,00 due 10/06/2024, updated to 10/10/2024, IPCA and the legal rate, 2% fee.

    By hand:
    - correction, June to September: 1.0021 × 1.0038 × 0.9998 × 1.0044 = 1.0101319083...
      → 1000 × that − 1000 = 10.1319083... → R$ 10,13
    - interest on 1010.1319083...: 11/06–30/06 20/30 × 1% + July 1% + 01/08–29/08
      29/31 × 1%, then (old rule ends) 30/08–31/08 2/31 × (0.87 + 0.02 = 0.89%),
      September 0.84 − 0.44 = 0.40%, 01/10–10/10 10/31 × (0.93 − 0.56 = 0.37%)
      = 3.17892473...% → 32.1113330... → R$ 32,11
    - fee 2% of 1010.1319083... = 20.2026... → R$ 20,20
    - total 1000 + 10.13 + 32.11 + 20.20 = R$ 1.062,44
    """
    result = update(debt_id=uuid.uuid4(), label="CT-1 / 1", due_date=dt.date(2024, 6, 10),
                    at=dt.date(2024, 10, 10), principal=D("1000.00"), carried={},
                    terms=Terms(), table=table(IPCA=IPCA_2024, SELIC=SELIC_2024))
    assert (result.principal, result.correction, result.interest, result.fine, result.fees) == (
        D("1000.00"), D("10.13"), D("32.11"), D("20.20"), D("0.00"))
    assert result.total == D("1062.44")
    assert result.days_overdue == 122
    assert result.notes == []
    text = "\n".join(result.memoria)
    for step in ("jun/2024 0,21%", "set/2024 0,44%", "fator acumulado 1,01013191",
                 "R$ 10,131908", "11/06/2024 a 30/06/2024: 20/30 dias × 1,00% a.m.",
                 "01/08/2024 a 29/08/2024: 29/31 dias",
                 "30/08/2024 a 31/08/2024: 2/31 dias × (Selic 0,87% − IPCA -0,02% = 0,89%)",
                 "Taxa somada 3,1789%", "R$ 32,111333", "× 2,00% = R$ 20,202638",
                 "não permite cobrá-los do devedor", "meio-par (half-even)",
                 "Saldo atualizado em 10/10/2024: R$ 1.062,44"):
        assert step in text, step


def test_rounding_happens_once_at_the_end_half_even_or_as_the_contract_says():
    # No index, no interest: the fee alone, 2% of 100.25 = 2.005 exactly.
    terms = Terms(correction_index="none", contract_interest_pct=D("0"))
    args = dict(debt_id=uuid.uuid4(), label="X / 1", due_date=dt.date(2025, 1, 10),
                at=dt.date(2025, 2, 10), principal=D("100.25"), carried={}, table=table())
    assert update(terms=terms, **args).fine == D("2.00")  # type: ignore[arg-type]
    half_up = Terms(correction_index="none", contract_interest_pct=D("0"), rounding="half_up")
    assert update(terms=half_up, **args).fine == D("2.01")  # type: ignore[arg-type]


def test_the_consumer_fee_is_capped_at_two_percent_and_a_company_pays_the_contract():
    args = dict(debt_id=uuid.uuid4(), label="X / 1", due_date=dt.date(2025, 1, 10),
                at=dt.date(2025, 2, 10), principal=D("1000.00"), carried={}, table=table())
    consumer = update(terms=Terms(correction_index="none", contract_interest_pct=D("0"),
                                  late_fee_pct=D("10")), **args)  # type: ignore[arg-type]
    assert consumer.fine == D("20.00")
    assert any("limitada a 2%" in n for n in consumer.notes)
    company = update(terms=Terms(correction_index="none", contract_interest_pct=D("0"),
                                 late_fee_pct=D("10"), consumer=False),
                     **args)  # type: ignore[arg-type]
    assert company.fine == D("100.00")


def test_the_legal_rate_is_floored_at_zero_and_the_contract_rate_wins():
    # February 2025: Selic 0.99% < IPCA 1.31%: no interest that month.
    tab = table(IPCA={"2025-01": "0.16", "2025-02": "1.31"},
                SELIC={"2025-01": "1.01", "2025-02": "0.99"})
    args = dict(debt_id=uuid.uuid4(), label="X / 1", due_date=dt.date(2025, 1, 31),
                at=dt.date(2025, 2, 28), principal=D("1000.00"), carried={}, table=tab)
    legal = update(terms=Terms(correction_index="none", late_fee_pct=D("0")),
                   **args)  # type: ignore[arg-type]
    assert legal.interest == D("0.00")
    assert "[piso 0]" in "\n".join(legal.memoria)
    # 1% a month for 28/28 days of February on 1000: R$ 10,00.
    contract = update(terms=Terms(correction_index="none", late_fee_pct=D("0"),
                                  contract_interest_pct=D("1")), **args)  # type: ignore[arg-type]
    assert contract.interest == D("10.00")


def test_a_month_not_yet_published_uses_the_last_known_value_and_says_so():
    # Correction for January and February 2025 with only January published: 0.16% twice.
    tab = table(IPCA={"2025-01": "0.16"})
    result = update(debt_id=uuid.uuid4(), label="X / 1", due_date=dt.date(2025, 1, 10),
                    at=dt.date(2025, 3, 10), principal=D("1000.00"), carried={},
                    terms=Terms(contract_interest_pct=D("0"), late_fee_pct=D("0")), table=tab)
    # 1000 × 1.0016² − 1000 = 3.2025600 → R$ 3,20
    assert result.correction == D("3.20")
    assert result.notes == ["IPCA de fev/2025 não consta da tabela (ainda não publicado ou não"
                            " carregado): usado o último valor conhecido, de jan/2025"]


def test_charges_the_ledger_already_carries_are_added_and_the_fee_when_the_contract_allows():
    # The creditor's own interest of 15.00 stays; the debtor fee of 10% is on the updated
    # balance without fees: principal 1000 + fine 2% (20) + the carried interest 15 = 1035
    # → 103.50, on its own line of the memória.
    result = update(debt_id=uuid.uuid4(), label="X / 1", due_date=dt.date(2025, 1, 10),
                    at=dt.date(2025, 1, 20), principal=D("1000.00"),
                    carried={Bucket.PRINCIPAL: D("1000.00"), Bucket.INTEREST: D("15.00")},
                    terms=Terms(correction_index="none", contract_interest_pct=D("0"),
                                debtor_fee_pct=D("10")), table=table())
    assert (result.interest, result.fine, result.fees) == (D("15.00"), D("20.00"), D("103.50"))
    assert result.total == D("1138.50")
    assert ("5. Honorários de cobrança sobre o saldo atualizado: (R$ 1.000,000000 + R$ 0,000000"
            " + R$ 20,000000 + R$ 15,00 já lançados) × 10,00% = R$ 103,500000.") in result.memoria


SHIPPED = Path(__file__).resolve().parents[2] / "legal" / "data" / "indices.csv"


def _months(first: dt.date, last: dt.date) -> list[dt.date]:
    out = [first]
    while out[-1] < last:
        out.append((out[-1].replace(day=28) + dt.timedelta(days=4)).replace(day=1))
    return out


def test_the_shipped_series_have_no_gap_from_their_first_month_to_their_last():
    rows = indexes.parse(SHIPPED.read_text(encoding="utf-8"))
    for name in indexes.NAMES:
        months = sorted(r["month"] for r in rows if r["index_name"] == name)  # type: ignore[type-var]
        assert len(months) == len(set(months)), f"{name}: a month twice"
        assert months == _months(months[0], months[-1]), f"{name}: a month missing"
        assert months[0] == dt.date(2019, 1, 1)
    last = {name: max(r["month"] for r in rows if r["index_name"] == name)  # type: ignore[type-var]
            for name in indexes.NAMES}
    # The last months that could be checked against a publication (README, "Indexes").
    assert last == {"IPCA": dt.date(2026, 2, 1), "SELIC": dt.date(2025, 12, 1)}


async def test_the_shipped_series_is_in_the_database_and_a_later_date_uses_the_last_value(
        db, services):
    from core.db import NO_SCOPE

    async with db.transaction(NO_SCOPE) as session:
        loaded = await IndexTable.load(session)
    assert loaded.get("IPCA", dt.date(2024, 6, 1)) == (D("0.2100"), None)
    assert loaded.get("SELIC", dt.date(2024, 10, 1)) == (D("0.9300"), None)
    # Months once missing from the file (SELIC 12/2020 to 09/2022, 04/2025 on; IPCA 05 to
    # 07/2025 and 11/2025 on) as published.
    assert loaded.get("SELIC", dt.date(2021, 6, 1)) == (D("0.3100"), None)
    assert loaded.get("SELIC", dt.date(2025, 12, 1)) == (D("1.2200"), None)
    assert loaded.get("IPCA", dt.date(2025, 6, 1)) == (D("0.2400"), None)
    assert loaded.get("IPCA", dt.date(2026, 2, 1)) == (D("0.7000"), None)
    # Past the last month: the last value, and the memória says which.
    result = update(debt_id=uuid.uuid4(), label="X / 1", due_date=dt.date(2026, 1, 10),
                    at=dt.date(2026, 5, 10), principal=D("1000.00"), carried={},
                    terms=Terms(late_fee_pct=D("0")), table=loaded)
    assert ("IPCA de mar/2026 não consta da tabela (ainda não publicado ou não carregado):"
            " usado o último valor conhecido, de fev/2026") in result.notes
    assert ("SELIC de jan/2026 não consta da tabela (ainda não publicado ou não carregado):"
            " usado o último valor conhecido, de dez/2025") in result.notes
    # Correction jan to apr/2026: 0.33, 0.70, then 0.70 twice (fev/2026 carried forward):
    # 1000 × 1.0033 × 1.0070³ − 1000 = 24.5171... → R$ 24,52
    assert result.correction == D("24.52")
