"""The negotiation simulator: for a debtor's selected debts, the options the policy allows.

- "À vista": one payment with the band's largest discount on every bucket.
- Installment plans (the policy's list, e.g. 3, 6, 10, 12, up to `max_installments`):
  installment 1 is the down payment (at least `min_down_payment_pct` of the amount and at
  least an equal share), the rest equal installments with the policy's monthly interest
  (price table) on what is financed. A plan gives a smaller discount the longer it runs:
  the band's discount × (1 − N / (max_installments + 1)). A plan whose installment would
  fall below `min_installment` is not offered.
- Due dates: the first on the first business day from 3 days after the reference date
  (no later than `max_first_due_days`), the rest monthly on the same day; a weekend or a
  national or state holiday (the tenant's state) moves a date to the next business day.
- Approval: by the share of the updated balance given as discount and by the number of
  installments: within the agent's limits the agent grants it, within the supervisor's
  a supervisor, beyond them the creditor.
- Order: by expected recovery, total × the probability the plan is kept. The
  probability comes from the tenant's own agreements with the same number of
  installments (kept = settled, broken = ever broken), smoothed towards a prior with the
  weight of 10 agreements; the prior is 85% for one payment, 4 points less for each
  further installment, never below 30%. Scoring bands join the estimate when scores
  exist; until then every debtor shares the tenant's figures.
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import DebtorId, access_debtor, transaction
from core.auth.principal import Principal
from core.compliance.business_days import next_business_day, non_business, previous_business_day
from core.errors import ValidationFailed
from core.formatting import brl, date_br
from core.models import Bucket, Debt, Debtor, DebtStatus, Tenant
from legal.fees import contract_of
from legal.models import Agreement, AgreementStatus, ApprovalLevel, NegotiationPolicy
from legal.policy import band_for, policy_for, terms_for
from legal.updating import DebtUpdate, IndexTable, pct, update_debts

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
HUNDRED = Decimal("100")
FIRST_DUE_OFFSET = 3  # days after the reference date
PRIOR_WEIGHT = 10  # agreements' worth of belief in the prior


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_EVEN)


# ---- calendar --------------------------------------------------------------------------

def add_months(day: dt.date, months: int, anchor_day: int) -> dt.date:
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    return dt.date(year, month, min(anchor_day, calendar.monthrange(year, month)[1]))


def schedule(at: dt.date, count: int, state: str | None, max_first_due_days: int
             ) -> list[tuple[dt.date, str | None]]:
    """Due dates of `count` installments, each with why it was moved (None: not moved)."""
    latest = at + dt.timedelta(days=max_first_due_days)
    wanted = at + dt.timedelta(days=min(FIRST_DUE_OFFSET, max_first_due_days))
    first = next_business_day(wanted, state)
    if first > latest:
        first = previous_business_day(latest, state)
    out = [(first, _moved(wanted, first, state))]
    for n in range(1, count):
        nominal = add_months(first, n, first.day)
        due = next_business_day(nominal, state)
        out.append((due, _moved(nominal, due, state)))
    return out


def _moved(nominal: dt.date, due: dt.date, state: str | None) -> str | None:
    if nominal == due:
        return None
    return f"{date_br(nominal)} cai em {non_business(nominal, state)}: vence em {date_br(due)}"


# ---- options ---------------------------------------------------------------------------

@dataclass
class Installment:
    number: int
    due_date: dt.date
    amount: Decimal
    moved: str | None = None


@dataclass
class Option:
    option: int
    label: str
    installments: int
    updated_balance: Decimal
    discounts: dict[uuid.UUID, dict[Bucket, Decimal]]
    discount_total: Decimal
    discount_pct: Decimal
    installment_interest: Decimal
    total: Decimal
    down_payment: Decimal
    installment_amount: Decimal
    schedule: list[Installment]
    approval: ApprovalLevel
    approval_why: str
    probability: Decimal
    probability_basis: str
    expected_recovery: Decimal
    memoria: list[str] = field(default_factory=list)
    reason: str | None = None  # why this option comes first

    def as_json(self) -> dict[str, object]:
        return {
            "option": self.option, "label": self.label, "installments": self.installments,
            "updated_balance": str(self.updated_balance),
            "discount_total": str(self.discount_total),
            "discount_pct": str(self.discount_pct.quantize(Decimal("0.01"))),
            "installment_interest": str(self.installment_interest), "total": str(self.total),
            "down_payment": str(self.down_payment),
            "installment_amount": str(self.installment_amount),
            "due_dates": [i.due_date.isoformat() for i in self.schedule],
            "schedule": [{"number": i.number, "due_date": i.due_date.isoformat(),
                          "amount": str(i.amount), "moved": i.moved} for i in self.schedule],
            "approval": self.approval.value, "approval_why": self.approval_why,
            "probability": str(self.probability.quantize(Decimal("0.01"))),
            "probability_basis": self.probability_basis,
            "expected_recovery": str(self.expected_recovery), "reason": self.reason,
            "memoria": self.memoria,
        }


@dataclass
class Simulation:
    tenant_id: uuid.UUID
    debtor_id: uuid.UUID
    debtor_name: str
    at: dt.date
    updates: list[DebtUpdate]
    options: list[Option]
    notes: list[str]

    @property
    def updated_balance(self) -> Decimal:
        return sum((u.total for u in self.updates), ZERO)

    def as_json(self) -> dict[str, object]:
        return {"debtor_id": str(self.debtor_id), "at": self.at.isoformat(),
                "updated_balance": str(self.updated_balance),
                "debts": [u.as_json() for u in self.updates],
                "options": [o.as_json() for o in self.options], "notes": self.notes}


def plan_words(installments: int) -> str:
    return "pagamento único" if installments == 1 else f"{installments} parcelas"


def prior(installments: int) -> Decimal:
    return max(Decimal("0.85") - Decimal("0.04") * (installments - 1), Decimal("0.30"))


def approval_for(policy: NegotiationPolicy, discount_pct: Decimal,
                 installments: int) -> tuple[ApprovalLevel, str]:
    shown = f"desconto de {pct(discount_pct, 2)} do saldo atualizado, {plan_words(installments)}"
    if (discount_pct <= policy.agent_discount_pct
            and installments <= policy.agent_max_installments):
        return ApprovalLevel.AGENT, f"{shown}: dentro do limite do operador"
    if (discount_pct <= policy.supervisor_discount_pct
            and installments <= policy.supervisor_max_installments):
        return ApprovalLevel.SUPERVISOR, (
            f"{shown}: acima do limite do operador ({pct(policy.agent_discount_pct, 2)},"
            f" {policy.agent_max_installments} parcelas), exige supervisor")
    return ApprovalLevel.CREDITOR, (
        f"{shown}: acima do limite do supervisor ({pct(policy.supervisor_discount_pct, 2)},"
        f" {policy.supervisor_max_installments} parcelas), exige aprovação do credor")


def build_options(policy: NegotiationPolicy, updates: list[DebtUpdate], at: dt.date,
                  state: str | None, history: dict[int, tuple[int, int]]) -> list[Option]:
    """Every option the policy allows for `updates`, ordered by expected recovery."""
    balance = sum((u.total for u in updates), ZERO)
    if balance <= 0:
        return []
    plans = [1] + [n for n in policy.installment_plans if 1 < n <= policy.max_installments]
    options = []
    for n in plans:
        scale = Decimal(1) if n == 1 else 1 - Decimal(n) / (policy.max_installments + 1)
        option = _option(policy, updates, balance, n, scale, at, state, history)
        if option is not None:
            options.append(option)
    options.sort(key=lambda o: (-o.expected_recovery, o.installments))
    for i, o in enumerate(options, 1):
        o.option = i
    if options:
        first = options[0]
        runner = options[1] if len(options) > 1 else None
        first.reason = (
            f"Primeira por maior recuperação esperada: {brl(first.total)} ×"
            f" {pct(first.probability * HUNDRED, 0)} de chance de cumprimento ="
            f" {brl(first.expected_recovery)} ({first.probability_basis})"
            + (f"; a seguinte, {runner.label}, espera {brl(runner.expected_recovery)}."
               if runner else "."))
    return options


def _option(policy: NegotiationPolicy, updates: list[DebtUpdate], balance: Decimal, n: int,
            scale: Decimal, at: dt.date, state: str | None,
            history: dict[int, tuple[int, int]]) -> Option | None:
    memo: list[str] = [f"Saldo atualizado dos títulos escolhidos: {brl(balance)}."]
    discounts: dict[uuid.UUID, dict[Bucket, Decimal]] = {}
    for u in updates:
        band = band_for(policy, u.days_overdue)
        per: dict[Bucket, Decimal] = {}
        for b in Bucket:
            limit = Decimal(str(band.get(b.value, "0"))) * scale
            value = cents(u.bucket(b) * limit / HUNDRED) if u.bucket(b) > 0 else ZERO
            if value > 0:
                per[b] = value
        discounts[u.debt_id] = per
        if per:
            memo.append(f"Desconto em {u.label} ({u.days_overdue} dias de atraso, faixa a partir"
                        f" de {band['min_days']} dias" + ("" if n == 1 else
                                                         f", × {pct(scale * HUNDRED, 2)} por"
                                                         f" ser em {n} parcelas") + "): "
                        + "; ".join(f"{b.value} {brl(v)}" for b, v in per.items()) + ".")
    discount_total = sum((v for per in discounts.values() for v in per.values()), ZERO)
    net = balance - discount_total
    discount_pct = discount_total * HUNDRED / balance
    if n == 1:
        down = installment = total = net
        interest = ZERO
        memo.append(f"À vista: {brl(balance)} − desconto {brl(discount_total)} = {brl(net)}.")
    else:
        down = max(cents(net * policy.min_down_payment_pct / HUNDRED), cents(net / n))
        financed = net - down
        rate = policy.installment_interest_pct / HUNDRED
        if rate > 0:
            installment = cents(financed * rate / (1 - (1 + rate) ** -(n - 1)))
        else:
            installment = cents(financed / (n - 1))
        total = down + installment * (n - 1)
        interest = total - net
        memo.append(
            f"{n} parcelas: {brl(balance)} − desconto {brl(discount_total)} = {brl(net)};"
            f" entrada {brl(down)} (maior entre {pct(policy.min_down_payment_pct, 2)} e 1/{n});"
            f" financiado {brl(financed)} em {n - 1} parcelas a"
            f" {pct(policy.installment_interest_pct, 2)} ao mês (tabela Price) ="
            f" {brl(installment)} cada; total {brl(total)} (juros do parcelamento"
            f" {brl(interest)}).")
        if installment < policy.min_installment or down <= 0:
            return None
    dates = schedule(at, n, state, policy.max_first_due_days)
    plan = [Installment(1, dates[0][0], down, dates[0][1])] + [
        Installment(i + 1, d, installment, why) for i, (d, why) in enumerate(dates[1:], 1)]
    level, why = approval_for(policy, discount_pct, n)
    kept, broken = history.get(n, (0, 0))
    p0 = prior(n)
    probability = (Decimal(kept) + p0 * PRIOR_WEIGHT) / (kept + broken + PRIOR_WEIGHT)
    basis = (f"estimativa inicial de {pct(p0 * HUNDRED, 0)} para {plan_words(n)}, sem histórico"
             " do credor" if kept + broken == 0 else
             f"{kept} cumprido(s) e {broken} quebrado(s) entre os acordos do credor com"
             f" {plan_words(n)}, ponderados com a estimativa inicial de {pct(p0 * HUNDRED, 0)}")
    return Option(
        option=0, label="À vista" if n == 1 else f"{n} parcelas", installments=n,
        updated_balance=balance, discounts=discounts, discount_total=discount_total,
        discount_pct=discount_pct, installment_interest=interest, total=total,
        down_payment=down, installment_amount=installment, schedule=plan, approval=level,
        approval_why=why, probability=probability, probability_basis=basis,
        expected_recovery=cents(total * probability), memoria=memo)


async def history(session: AsyncSession, tenant_id: uuid.UUID) -> dict[int, tuple[int, int]]:
    """(kept, broken) agreements of the tenant by number of installments."""
    rows = await session.execute(
        select(Agreement.installment_count, Agreement.status,
               Agreement.broken_at.is_not(None), func.count())
        .where(Agreement.tenant_id == tenant_id)
        .group_by(Agreement.installment_count, Agreement.status, Agreement.broken_at.is_not(None)))
    out: dict[int, tuple[int, int]] = {}
    for n, status, ever_broken, count in rows:
        kept, broken = out.get(n, (0, 0))
        if ever_broken:
            broken += count
        elif status == AgreementStatus.SETTLED:
            kept += count
        out[n] = (kept, broken)
    return out


async def open_debts(session: AsyncSession, debtor_id: uuid.UUID,
                     debt_ids: list[uuid.UUID] | None) -> list[Debt]:
    debts = list((await session.execute(
        select(Debt).where(Debt.debtor_id == debtor_id, Debt.status == DebtStatus.OPEN)
        .order_by(Debt.due_date, Debt.contract, Debt.installment))).scalars())
    if debt_ids:
        wanted = set(debt_ids)
        chosen = [d for d in debts if d.id in wanted]
        if len(chosen) != len(wanted):
            raise ValidationFailed({"debt_ids": "escolha títulos em aberto deste devedor"})
        debts = chosen
    if not debts:
        raise ValidationFailed({"debt_ids": "o devedor não tem títulos em aberto para negociar"})
    return debts


async def local_today(session: AsyncSession, tenant_id: uuid.UUID) -> dt.date:
    zone = (await session.execute(select(Tenant.timezone).where(Tenant.id == tenant_id))
            ).scalar_one()
    return dt.datetime.now(ZoneInfo(zone)).date()


async def simulate_in(session: AsyncSession, debtor_id: DebtorId,
                      debt_ids: list[uuid.UUID] | None, at: dt.date | None) -> Simulation:
    debtor = (await session.execute(select(Debtor).where(Debtor.id == debtor_id))).scalar_one()
    tenant = (await session.execute(select(Tenant).where(Tenant.id == debtor.tenant_id))
              ).scalar_one()
    day = at or await local_today(session, tenant.id)
    policy = await policy_for(session, tenant.id)
    debts = await open_debts(session, debtor.id, debt_ids)
    table = await IndexTable.load(session)
    contract = await contract_of(session, tenant.id)
    updates = await update_debts(session, debts, day, terms_for(policy, contract, debtor),
                                 table)
    options = build_options(policy, updates, day, tenant.state, await history(session, tenant.id))
    notes = sorted({n for u in updates for n in u.notes})
    if not options:
        notes.append("Nenhuma opção: o saldo atualizado é zero.")
    return Simulation(tenant_id=tenant.id, debtor_id=debtor.id, debtor_name=debtor.name,
                      at=day, updates=updates, options=options, notes=notes)


async def simulate(principal: Principal, debtor_id: uuid.UUID,
                   debt_ids: list[uuid.UUID] | None = None,
                   at: dt.date | None = None) -> Simulation:
    async with transaction(principal) as session:
        checked = await access_debtor(session, principal, debtor_id)
        return await simulate_in(session, checked, debt_ids, at)


@dataclass
class DebtChoice:
    id: uuid.UUID
    label: str
    due_date: dt.date
    balance: Decimal
    selected: bool


@dataclass
class Screen:
    """What the negotiation screen shows: the debtor's open debts to choose from and the
    simulation of the chosen ones (or why there is none)."""

    tenant_id: uuid.UUID
    debtor_id: uuid.UUID
    debtor_name: str
    at: dt.date
    debts: list[DebtChoice]
    simulation: Simulation | None
    error: str | None
    agreements: list[Any] = field(default_factory=list)  # legal.agreements.AgreementView


async def build_screen(session: AsyncSession, debtor_id: DebtorId,
                       debt_ids: list[uuid.UUID] | None, at: dt.date | None) -> Screen:
    debtor = (await session.execute(select(Debtor).where(Debtor.id == debtor_id))).scalar_one()
    debts = list((await session.execute(
        select(Debt).where(Debt.debtor_id == debtor_id, Debt.status == DebtStatus.OPEN)
        .order_by(Debt.due_date, Debt.contract, Debt.installment))).scalars())
    chosen = set(debt_ids or [d.id for d in debts])
    sim, error = None, None
    try:
        sim = await simulate_in(session, debtor_id, list(chosen) or None, at)
    except ValidationFailed as exc:
        error = "; ".join(exc.detail.values()) if isinstance(exc.detail, dict) else exc.detail
    return Screen(tenant_id=debtor.tenant_id, debtor_id=debtor.id, debtor_name=debtor.name,
                  at=sim.at if sim else at or await local_today(session, debtor.tenant_id),
                  debts=[DebtChoice(d.id, f"{d.contract} / {d.installment}", d.due_date,
                                    d.current_balance, d.id in chosen) for d in debts],
                  simulation=sim, error=error)
