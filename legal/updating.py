"""A debt's balance updated to a date, with its "memória de cálculo".

balance = principal + monetary correction + late interest + late fee + collection fee

- Correction: the principal times the product of (1 + index) over the months from the
  due date's month to the month before the reference date's month (whole months, no
  pro rata die), by the contract's index (policy `correction_index`, default IPCA).
- Late interest: simple interest on the corrected principal from the day after the due
  date to the reference date, day by day within each month (days / days in the month).
  The contract's monthly rate when the policy sets one; otherwise the legal rate: up to
  29/08/2024, 1% a month (Civil Code art. 406 as read with CTN art. 161 §1, the rule
  courts applied before Lei 14.905/2024); from 30/08/2024, the month's Selic minus its
  IPCA, floored at zero (Civil Code art. 406 §§1-3 as amended by Lei 14.905/2024).
- Late fee: a percentage of the corrected principal, once; at most 2% for consumers
  (CDC art. 52 §1) — a debtor with a CPF is treated as a consumer.
- Collection fee: a percentage of the updated balance without fees (corrected principal
  + interest + late fee, and the correction, interest and fee the ledger already
  carries), only when the agency's fee contract with the creditor allows charging it to
  the debtor (`legal.fees`, `debtor_fee_pct`).

A month missing from the index table (not published yet, or not loaded) takes the last
known value before it, and the memória says so. Amounts are Decimal throughout with 28
significant digits; each bucket is rounded to the cent once, at the end (half-even
unless the policy says half-up). Charges the ledger already carries other than the
accruals written by agreements (the creditor's own interest, payments, discounts) are
added as they stand; earlier accruals are replaced by this calculation.
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal, localcontext

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.formatting import brl, date_br
from core.models import Bucket, Debt, EntryKind, LedgerEntry
from legal.models import IndexValue

LEGAL_RATE_SINCE = dt.date(2024, 8, 30)  # Lei 14.905/2024 in force
OLD_LEGAL_RATE = Decimal("1")  # % a month, before it
CONSUMER_FINE_CAP = Decimal("2")  # CDC art. 52 §1
CENT = Decimal("0.01")
ZERO = Decimal("0")
HUNDRED = Decimal("100")
ROUNDINGS = {"half_even": ROUND_HALF_EVEN, "half_up": ROUND_HALF_UP}
MONTHS = ("jan", "fev", "mar", "abr", "mai", "jun", "jul", "ago", "set", "out", "nov", "dez")


def month_label(month: dt.date) -> str:
    return f"{MONTHS[month.month - 1]}/{month.year}"


def number(value: Decimal, places: int) -> str:
    """`value` with `places` decimals and a decimal comma, for the memória (display only:
    the calculation keeps every digit)."""
    shown = value.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_EVEN)
    whole, _, decimals = f"{shown:,.{places}f}".partition(".")
    return whole.replace(",", ".") + ("," + decimals if decimals else "")


def pct(value: Decimal, places: int = 4) -> str:
    return number(value, places) + "%"


def exact(value: Decimal) -> str:
    """An intermediate amount as the memória shows it: six decimals, not yet rounded."""
    return "R$ " + number(value, 6)


@dataclass(frozen=True)
class Terms:
    """How one debt is updated: the policy's figures, and whether the debtor is a consumer."""

    correction_index: str = "IPCA"  # or "none"
    contract_interest_pct: Decimal | None = None  # % a month; None: the legal rate
    late_fee_pct: Decimal = Decimal("2")
    debtor_fee_pct: Decimal | None = None  # None: the fee may not be charged to the debtor
    rounding: str = "half_even"
    consumer: bool = True


class IndexTable:
    """Monthly values of IPCA and SELIC (percent), loaded once per calculation."""

    def __init__(self, values: dict[tuple[str, dt.date], Decimal]) -> None:
        self.values = values
        self.months: dict[str, list[dt.date]] = {}
        for name, month in sorted(values):
            self.months.setdefault(name, []).append(month)

    @classmethod
    async def load(cls, session: AsyncSession) -> IndexTable:
        rows = await session.execute(select(IndexValue.index_name, IndexValue.month,
                                            IndexValue.value))
        return cls({(name, month): value for name, month, value in rows})

    def get(self, name: str, month: dt.date) -> tuple[Decimal, str | None]:
        """The value for `month`, or the last known before it with a note saying so."""
        found = self.values.get((name, month))
        if found is not None:
            return found, None
        earlier = [m for m in self.months.get(name, []) if m < month]
        if not earlier:
            return ZERO, (f"{name} de {month_label(month)} não consta da tabela e não há valor"
                          " anterior: considerado 0%")
        last = earlier[-1]
        return self.values[(name, last)], (
            f"{name} de {month_label(month)} não consta da tabela (ainda não publicado ou"
            f" não carregado): usado o último valor conhecido, de {month_label(last)}")


@dataclass
class DebtUpdate:
    """One debt updated to `at`: buckets rounded to the cent, and how they were reached."""

    debt_id: uuid.UUID
    label: str
    due_date: dt.date
    at: dt.date
    days_overdue: int
    principal: Decimal
    correction: Decimal
    interest: Decimal
    fine: Decimal
    fees: Decimal
    memoria: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # what the reader must know (gaps)

    @property
    def total(self) -> Decimal:
        return self.principal + self.correction + self.interest + self.fine + self.fees

    def bucket(self, bucket: Bucket) -> Decimal:
        return {Bucket.PRINCIPAL: self.principal, Bucket.CORRECTION: self.correction,
                Bucket.INTEREST: self.interest, Bucket.FINE: self.fine,
                Bucket.FEES: self.fees}[bucket]

    def as_json(self) -> dict[str, object]:
        return {"debt_id": str(self.debt_id), "label": self.label,
                "due_date": self.due_date.isoformat(), "at": self.at.isoformat(),
                "days_overdue": self.days_overdue,
                **{b.value: str(self.bucket(b)) for b in Bucket}, "total": str(self.total),
                "memoria": self.memoria, "notes": self.notes}


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def _days_in_month(day: dt.date) -> int:
    return calendar.monthrange(day.year, day.month)[1]


def update(*, debt_id: uuid.UUID, label: str, due_date: dt.date, at: dt.date,
           principal: Decimal, carried: dict[Bucket, Decimal], terms: Terms,
           table: IndexTable) -> DebtUpdate:
    """The pure calculation: `principal` is the principal the ledger holds, `carried`
    what it holds on the other buckets besides earlier accruals."""
    rounding = ROUNDINGS.get(terms.rounding, ROUND_HALF_EVEN)
    out = DebtUpdate(debt_id=debt_id, label=label, due_date=due_date, at=at,
                     days_overdue=max((at - due_date).days, 0), principal=ZERO,
                     correction=ZERO, interest=ZERO, fine=ZERO, fees=ZERO)
    memo, notes = out.memoria, out.notes
    with localcontext() as ctx:
        ctx.prec = 28
        memo.append(f"Título {label}, vencimento {date_br(due_date)}, saldo calculado em"
                    f" {date_br(at)} ({out.days_overdue} dias de atraso).")
        memo.append(f"1. Principal em aberto: {brl(principal)}.")
        if at <= due_date:
            memo.append("Título não vencido na data: sem correção, juros, multa ou honorários.")
            correction = interest = fine = fees = ZERO
        else:
            correction = _correction(principal, due_date, at, terms, table, memo, notes)
            corrected = principal + correction
            interest = _interest(corrected, due_date, at, terms, table, memo, notes)
            fine_pct = terms.late_fee_pct
            if terms.consumer and fine_pct > CONSUMER_FINE_CAP:
                notes.append(f"Multa de {pct(fine_pct, 2)} limitada a 2% (CDC art. 52 §1).")
                fine_pct = CONSUMER_FINE_CAP
            fine = corrected * fine_pct / HUNDRED
            memo.append(f"4. Multa: {exact(corrected)} × {pct(fine_pct, 2)} = {exact(fine)}.")
            if terms.debtor_fee_pct is None:
                fees = ZERO
                memo.append("5. Honorários de cobrança: o contrato do credor não permite"
                            " cobrá-los do devedor.")
            else:
                # On the updated balance without fees: what this calculation added and
                # what the ledger already carries (the creditor's own charges).
                earlier = sum((carried.get(b, ZERO) for b in (
                    Bucket.CORRECTION, Bucket.INTEREST, Bucket.FINE)), ZERO)
                base = corrected + interest + fine + earlier
                fees = base * terms.debtor_fee_pct / HUNDRED
                shown = (f"{exact(corrected)} + {exact(interest)} + {exact(fine)}"
                         + (f" + {brl(earlier)} já lançados" if earlier else ""))
                memo.append(f"5. Honorários de cobrança sobre o saldo atualizado: ({shown}) ×"
                            f" {pct(terms.debtor_fee_pct, 2)} = {exact(fees)}.")

        def rounded(value: Decimal) -> Decimal:
            return value.quantize(CENT, rounding=rounding)

        out.principal = rounded(principal)
        out.correction = rounded(correction + carried.get(Bucket.CORRECTION, ZERO))
        out.interest = rounded(interest + carried.get(Bucket.INTEREST, ZERO))
        out.fine = rounded(fine + carried.get(Bucket.FINE, ZERO))
        out.fees = rounded(fees + carried.get(Bucket.FEES, ZERO))
    extra = {b: v for b, v in carried.items() if v and b != Bucket.PRINCIPAL}
    if extra:
        memo.append("6. Lançamentos já registrados no título (encargos do credor, pagamentos,"
                    " descontos), somados como estão: " + "; ".join(
                        f"{b.value} {brl(v)}" for b, v in extra.items()) + ".")
    mode = "meio-par (half-even)" if rounding == ROUND_HALF_EVEN else "meio para cima"
    memo.append(f"Arredondamento único ao centavo, {mode}: principal {brl(out.principal)},"
                f" correção {brl(out.correction)}, juros {brl(out.interest)}, multa"
                f" {brl(out.fine)}, honorários {brl(out.fees)}.")
    memo.append(f"Saldo atualizado em {date_br(at)}: {brl(out.total)}.")
    return out


def _correction(principal: Decimal, due_date: dt.date, at: dt.date, terms: Terms,
                table: IndexTable, memo: list[str], notes: list[str]) -> Decimal:
    index = terms.correction_index.upper()
    if index == "NONE":
        memo.append("2. Correção monetária: o contrato não prevê índice.")
        return ZERO
    month, last = _month_start(due_date), _month_start(at)
    factor = Decimal(1)
    used = []
    while month < last:
        value, note = table.get(index, month)
        if note:
            notes.append(note)
        factor *= 1 + value / HUNDRED
        used.append(f"{month_label(month)} {pct(value, 2)}")
        month = _next_month(month)
    if not used:
        memo.append(f"2. Correção monetária ({index}): vencimento no mês da data de cálculo,"
                    " sem correção.")
        return ZERO
    correction = principal * factor - principal
    memo.append(f"2. Correção monetária ({index}, meses cheios de {used[0].split()[0]} a"
                f" {used[-1].split()[0]}): " + ", ".join(used)
                + f"; fator acumulado {number(factor, 8)};"
                f" {brl(principal)} × fator − {brl(principal)} = {exact(correction)}.")
    return correction


def _interest(corrected: Decimal, due_date: dt.date, at: dt.date, terms: Terms,
              table: IndexTable, memo: list[str], notes: list[str]) -> Decimal:
    """Simple interest over (due_date, at], month by month, pro rata of the days."""
    start = due_date + dt.timedelta(days=1)
    parts: list[str] = []
    total_rate = ZERO
    day = start
    while day <= at:
        month_end = day.replace(day=_days_in_month(day))
        end = min(month_end, at)
        if terms.contract_interest_pct is None and day < LEGAL_RATE_SINCE <= end:
            end = LEGAL_RATE_SINCE - dt.timedelta(days=1)
        days = (end - day).days + 1
        rate, label = _monthly_rate(day, terms, table, notes)
        share = rate * days / _days_in_month(day)
        total_rate += share
        parts.append(f"{date_br(day)} a {date_br(end)}: {days}/{_days_in_month(day)} dias ×"
                     f" {label} = {pct(share)}")
        day = end + dt.timedelta(days=1)
    interest = corrected * total_rate / HUNDRED
    rule = (f"taxa do contrato, {pct(terms.contract_interest_pct, 2)} ao mês"
            if terms.contract_interest_pct is not None else
            "taxa legal: 1% ao mês até 29/08/2024; desde 30/08/2024, Selic do mês − IPCA do"
            " mês, no mínimo 0 (Lei 14.905/2024)")
    memo.append(f"3. Juros de mora simples sobre o principal corrigido ({rule}): "
                + "; ".join(parts) + f". Taxa somada {pct(total_rate)}; {exact(corrected)} ×"
                f" {pct(total_rate)} = {exact(interest)}.")
    return interest


def _monthly_rate(day: dt.date, terms: Terms, table: IndexTable,
                  notes: list[str]) -> tuple[Decimal, str]:
    if terms.contract_interest_pct is not None:
        return terms.contract_interest_pct, f"{pct(terms.contract_interest_pct, 2)} a.m."
    if day < LEGAL_RATE_SINCE:
        return OLD_LEGAL_RATE, "1,00% a.m."
    month = _month_start(day)
    selic, n1 = table.get("SELIC", month)
    ipca, n2 = table.get("IPCA", month)
    for note in (n1, n2):
        if note and note not in notes:
            notes.append(note)
    rate = max(selic - ipca, ZERO)
    return rate, (f"(Selic {pct(selic, 2)} − IPCA {pct(ipca, 2)} = {pct(rate, 2)}) a.m."
                  + (" [piso 0]" if selic < ipca else ""))


async def carried_buckets(session: AsyncSession,
                          debt_ids: list[uuid.UUID]) -> dict[uuid.UUID, dict[Bucket, Decimal]]:
    """Each debt's ledger balance by bucket, leaving out earlier accruals."""
    out: dict[uuid.UUID, dict[Bucket, Decimal]] = {d: {} for d in debt_ids}
    if not debt_ids:
        return out
    rows = await session.execute(
        select(LedgerEntry.debt_id, LedgerEntry.bucket, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.debt_id.in_(debt_ids), LedgerEntry.kind != EntryKind.ACCRUAL)
        .group_by(LedgerEntry.debt_id, LedgerEntry.bucket))
    for debt_id, bucket, total in rows:
        out[debt_id][Bucket(bucket)] = total
    return out


async def update_debts(session: AsyncSession, debts: list[Debt], at: dt.date, terms: Terms,
                       table: IndexTable | None = None) -> list[DebtUpdate]:
    table = table or await IndexTable.load(session)
    carried = await carried_buckets(session, [d.id for d in debts])
    out = []
    for debt in debts:
        buckets = carried[debt.id]
        out.append(update(
            debt_id=debt.id, label=f"{debt.contract} / {debt.installment}",
            due_date=debt.due_date, at=at, principal=buckets.get(Bucket.PRINCIPAL, ZERO),
            carried=buckets, terms=terms, table=table))
    return out
