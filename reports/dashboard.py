"""The dashboard's figures for one tenant and a period, read from the aggregate tables.

Each figure is a sum over aggregate rows filtered by month and by the dimensions chosen
(portfolio, segment, cadence), and the rates are ratios of those sums, computed here in
Decimal. The same code reads the temporary tables that `scan` fills straight from the
base tables: the benchmark's baseline, and the tests' proof that the aggregates hold the
same figures. The README's "Reports" section defines every figure.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import TenantId, access_tenant, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.errors import ValidationFailed
from core.models import Cadence, Portfolio, Tenant, User
from core.scoring.rules import SEGMENT_LABELS
from dialer.models import Campaign
from reports.families import FAMILIES, Range, fill, months, next_month
from reports.refresh import tenant_clock

ZERO = Decimal("0")
Z95 = Decimal("1.96")
REPORT_ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.CREDITOR_ADMIN, Role.CREDITOR_VIEWER)
# Money the agency earns and transfers: the statement's readers (not supervisors).
FEE_ROLES = (Role.ADMIN, Role.CREDITOR_ADMIN, Role.CREDITOR_VIEWER)
SEGMENTS = {**SEGMENT_LABELS, "sem_segmento": "sem segmento"}
NO_CADENCE = "none"
ARM_LABELS = {"champion": "campeã", "challenger": "desafiante"}
EVENT_LABELS = {"made": "feitos", "settled": "quitados", "broken": "quebrados"}


def ratio(num: Decimal | int, den: Decimal | int) -> Decimal | None:
    """num / den, or None when nothing was counted (shown as "—", not as 0%)."""
    return Decimal(num) / Decimal(den) if den else None


@dataclass(frozen=True)
class Filters:
    """A period of whole months (`start` to `end`, both first days, inclusive) and the
    dimensions: a portfolio, a segment code, a cadence id (or "none": debtors in none)."""

    start: dt.date
    end: dt.date
    portfolio_id: uuid.UUID | None = None
    segment: str | None = None
    cadence: str | None = None

    def dims_sql(self) -> tuple[str, dict[str, Any]]:
        clauses: list[str] = []
        params: dict[str, Any] = {}
        if self.portfolio_id is not None:
            clauses.append("portfolio_id = :portfolio")
            params["portfolio"] = self.portfolio_id
        if self.segment:
            clauses.append("segment = :segment")
            params["segment"] = self.segment
        if self.cadence == NO_CADENCE:
            clauses.append("cadence_id IS NULL")
        elif self.cadence:
            clauses.append("cadence_id = :cadence")
            params["cadence"] = uuid.UUID(self.cadence)
        return "".join(f" AND {c}" for c in clauses), params

    @property
    def end_exclusive(self) -> dt.date:
        return next_month(self.end)

    @property
    def months(self) -> list[dt.date]:
        return months(self.start, self.end_exclusive)

    def as_query(self) -> dict[str, str]:
        out = {"de": f"{self.start:%Y-%m}", "ate": f"{self.end:%Y-%m}"}
        if self.portfolio_id:
            out["carteira"] = str(self.portfolio_id)
        if self.segment:
            out["segmento"] = self.segment
        if self.cadence:
            out["cadencia"] = self.cadence
        return out


def parse_month(value: str | None, field_name: str) -> dt.date | None:
    if not value:
        return None
    try:
        year, month = value.split("-")
        return dt.date(int(year), int(month), 1)
    except ValueError:
        raise ValidationFailed({field_name: "mês inválido; use AAAA-MM"}) from None


def parse_filters(today: dt.date, de: str | None = None, ate: str | None = None,
                  carteira: str | None = None, segmento: str | None = None,
                  cadencia: str | None = None) -> Filters:
    """The page's query as filters; by default the twelve months up to this one."""
    end = parse_month(ate, "ate") or today.replace(day=1)
    start = parse_month(de, "de")
    if start is None:
        start = end
        for _ in range(11):
            start = (start - dt.timedelta(days=1)).replace(day=1)
    if start > end:
        raise ValidationFailed({"de": "o mês inicial vem depois do final"})
    if len(months(start, next_month(end))) > 36:
        raise ValidationFailed({"de": "escolha no máximo 36 meses"})
    portfolio = None
    if carteira:
        try:
            portfolio = uuid.UUID(carteira)
        except ValueError:
            raise ValidationFailed({"carteira": "carteira inválida"}) from None
    if segmento and segmento not in SEGMENTS:
        raise ValidationFailed({"segmento": f"segmento desconhecido: {segmento}"})
    if cadencia and cadencia != NO_CADENCE:
        try:
            uuid.UUID(cadencia)
        except ValueError:
            raise ValidationFailed({"cadencia": "régua inválida"}) from None
    return Filters(start, end, portfolio, segmento or None, cadencia or None)


# ---- the figures ------------------------------------------------------------------------


@dataclass
class BandRow:
    band: str
    debts: int
    amount: Decimal


@dataclass
class Cohort:
    month: dt.date
    debts: int
    placed: Decimal
    recovered: Decimal
    direct: Decimal
    # cumulative recovered / placed by months since placement (0, 1, ...), up to now
    curve: list[Decimal | None]

    @property
    def rate(self) -> Decimal | None:
        return ratio(self.recovered, self.placed)


@dataclass
class ChannelRow:
    channel: str
    attempts: int
    contacts: int
    rpc: int
    inbound: int

    @property
    def contact_rate(self) -> Decimal | None:
        return ratio(self.contacts, self.attempts)

    @property
    def rpc_rate(self) -> Decimal | None:
        return ratio(self.rpc, self.attempts)


@dataclass
class MessageRow:
    channel: str
    step_day: int
    planned: int
    sent: int
    delivered: int
    read: int
    failed: int
    blocked: int


@dataclass
class Promises:
    made: int = 0
    made_amount: Decimal = ZERO
    kept: int = 0
    kept_amount: Decimal = ZERO
    broken: int = 0

    @property
    def pending(self) -> int:
        return self.made - self.kept - self.broken

    @property
    def kept_rate(self) -> Decimal | None:
        return ratio(self.kept, self.kept + self.broken)


@dataclass
class Agreements:
    counts: dict[str, int] = field(default_factory=dict)  # made, settled, broken
    amounts: dict[str, Decimal] = field(default_factory=dict)
    running: int | None = None  # now; None when the period is over
    outstanding: Decimal | None = None


@dataclass
class EscalationRow:
    path: str
    state: str
    escalations: int
    amount: Decimal


@dataclass
class AgentRow:
    user_id: uuid.UUID
    name: str
    calls: int
    talk_seconds: int
    logged_seconds: int
    agreements: int
    agreed_amount: Decimal

    @property
    def calls_per_hour(self) -> Decimal | None:
        return ratio(self.calls * 3600, self.logged_seconds)

    @property
    def talk_share(self) -> Decimal | None:
        return ratio(self.talk_seconds, self.logged_seconds)


@dataclass
class DialerRow:
    campaign_id: uuid.UUID
    name: str
    abandon_target: Decimal
    dialed: int
    answered: int
    abandoned: int
    talk_seconds: int
    wrap_seconds: int

    @property
    def answer_rate(self) -> Decimal | None:
        return ratio(self.answered, self.dialed)

    @property
    def abandon_rate(self) -> Decimal | None:
        return ratio(self.abandoned, self.answered)

    @property
    def over_target(self) -> bool:
        rate = self.abandon_rate
        return rate is not None and rate > self.abandon_target


@dataclass
class Arm:
    arm: str
    debtors: int
    payers: int
    recovered: Decimal
    recovered_sq: Decimal

    @property
    def payer_rate(self) -> Decimal | None:
        return ratio(self.payers, self.debtors)

    @property
    def mean(self) -> Decimal | None:
        return ratio(self.recovered, self.debtors)

    @property
    def variance(self) -> Decimal | None:
        if self.debtors < 2:
            return None
        mean = self.recovered / self.debtors
        return max((self.recovered_sq - self.debtors * mean * mean) / (self.debtors - 1), ZERO)


@dataclass(frozen=True)
class Difference:
    """challenger − champion, with its 95% confidence interval (normal approximation)."""

    value: Decimal
    low: Decimal
    high: Decimal

    @property
    def significant(self) -> bool:
        return self.low > 0 or self.high < 0


@dataclass
class Experiment:
    champion: Arm | None
    challenger: Arm | None

    def _pair(self) -> tuple[Arm, Arm] | None:
        if self.champion and self.challenger and self.champion.debtors \
                and self.challenger.debtors:
            return self.champion, self.challenger
        return None

    @property
    def payer_rate_diff(self) -> Difference | None:
        pair = self._pair()
        if pair is None:
            return None
        a, b = pair
        pa, pb = Decimal(a.payers) / a.debtors, Decimal(b.payers) / b.debtors
        se = (pa * (1 - pa) / a.debtors + pb * (1 - pb) / b.debtors).sqrt()
        # Two shares differ by at most one either way, whatever a small sample's bound says.
        return Difference(pb - pa, max(pb - pa - Z95 * se, Decimal(-1)),
                          min(pb - pa + Z95 * se, Decimal(1)))

    @property
    def mean_diff(self) -> Difference | None:
        pair = self._pair()
        if pair is None or pair[0].variance is None or pair[1].variance is None:
            return None
        a, b = pair
        va, vb = a.variance, b.variance
        assert va is not None and vb is not None
        ma, mb = a.recovered / a.debtors, b.recovered / b.debtors
        se = (va / a.debtors + vb / b.debtors).sqrt()
        return Difference(mb - ma, mb - ma - Z95 * se, mb - ma + Z95 * se)


@dataclass
class Money:
    """Money in the period, by payment date: recovered and the statement's figures."""

    recovered: Decimal = ZERO
    direct: Decimal = ZERO
    payments: int = 0
    first_payments: int = 0
    days_to_pay: int = 0
    commission: Decimal = ZERO
    net_due: Decimal = ZERO

    @property
    def average_days_to_pay(self) -> Decimal | None:
        return ratio(self.days_to_pay, self.first_payments)


@dataclass
class Dashboard:
    tenant_id: uuid.UUID
    tenant_name: str
    filters: Filters
    today: dt.date
    bands: list[BandRow]
    cohorts: list[Cohort]
    money: Money
    channels: list[ChannelRow]
    messages: list[MessageRow]
    promises: Promises
    agreements: Agreements
    escalations: list[EscalationRow]
    agents: list[AgentRow]
    dialer: list[DialerRow]
    experiment: Experiment
    show_fees: bool = True
    refreshed_at: dt.datetime | None = None

    @property
    def placed_debts(self) -> int:
        return sum(b.debts for b in self.bands)

    @property
    def placed_amount(self) -> Decimal:
        return sum((b.amount for b in self.bands), ZERO)

    @property
    def liquidity(self) -> Decimal | None:
        """Recovered (to date) on the debts placed in the period ÷ their placed amount."""
        return ratio(sum((c.recovered for c in self.cohorts), ZERO),
                     sum((c.placed for c in self.cohorts), ZERO))

    @property
    def occupancy(self) -> Decimal | None:
        busy = sum(d.talk_seconds + d.wrap_seconds for d in self.dialer)
        return ratio(busy, sum(a.logged_seconds for a in self.agents))

    def channel_totals(self) -> ChannelRow:
        return ChannelRow("", sum(c.attempts for c in self.channels),
                          sum(c.contacts for c in self.channels),
                          sum(c.rpc for c in self.channels), sum(c.inbound for c in self.channels))


# ---- reading -------------------------------------------------------------------------


def report_tables() -> dict[str, str]:
    return {name: family.table for name, family in FAMILIES.items()}


async def _rows(session: AsyncSession, sql: str, params: dict[str, Any]) -> list[Any]:
    return list((await session.execute(text(sql), params)).all())


async def build(session: AsyncSession, tenant_id: TenantId, filters: Filters, *,
                tables: dict[str, str] | None = None, show_fees: bool = True) -> Dashboard:
    """The dashboard of `tenant_id` for `filters`, read from `tables` (family -> table;
    by default the aggregate tables)."""
    t = tables or report_tables()
    _, today, _ = await tenant_clock(session, tenant_id)
    dims, dim_params = filters.dims_sql()
    base = {"tenant": tenant_id, "start": filters.start, "end": filters.end, **dim_params}
    period = "tenant_id = :tenant AND month >= :start AND month <= :end"
    where = period + dims

    bands = {b: BandRow(b, 0, ZERO) for b in
             ("a_vencer", "0-30", "31-60", "61-90", "91-180", "181-360", "361+")}
    for band, debts, amount in await _rows(session, f"""
            SELECT band, sum(debts), sum(amount) FROM {t['placement']} WHERE {where}
            GROUP BY band""", base):
        bands[band] = BandRow(band, int(debts), amount)

    placed = {m: (int(n), a) for m, n, a in await _rows(session, f"""
        SELECT month, sum(debts), sum(amount) FROM {t['placement']} WHERE {where}
        GROUP BY month""", base)}
    recovered: dict[dt.date, dict[dt.date, tuple[Decimal, Decimal]]] = defaultdict(dict)
    for cohort, month, agency, direct in await _rows(session, f"""
            SELECT cohort, month, sum(recovered), sum(recovered_direct) FROM {t['recovery']}
            WHERE tenant_id = :tenant AND cohort >= :start AND cohort <= :end {dims}
            GROUP BY cohort, month""", base):
        recovered[cohort][month] = (agency, direct)
    current = today.replace(day=1)
    cohorts = []
    for month in filters.months:
        debts, amount = placed.get(month, (0, ZERO))
        by_month = recovered.get(month, {})
        if not debts and not by_month:
            continue
        curve: list[Decimal | None] = []
        running = ZERO
        for k, paid_month in enumerate(months(month, next_month(max(current, month)))):
            running += by_month.get(paid_month, (ZERO, ZERO))[0]
            curve.append(ratio(running, amount))
            if k >= 35:
                break
        cohorts.append(Cohort(month, debts, amount,
                              sum((a for a, _ in by_month.values()), ZERO),
                              sum((d for _, d in by_month.values()), ZERO), curve))

    money = Money()
    for row in await _rows(session, f"""
            SELECT sum(recovered), sum(recovered_direct), sum(payments), sum(first_payments),
                   sum(days_to_pay), sum(commission), sum(net_due)
            FROM {t['recovery']} WHERE {where}""", base):
        if row[0] is not None:
            money = Money(row[0], row[1], int(row[2]), int(row[3]), int(row[4]), row[5],
                          row[6])

    channels = [ChannelRow(c, int(a), int(k), int(r), int(i)) for c, a, k, r, i in await _rows(
        session, f"""SELECT channel, sum(attempts), sum(contacts), sum(rpc), sum(inbound)
        FROM {t['contact']} WHERE {where} GROUP BY channel ORDER BY channel""", base)]
    messages = [MessageRow(c, s, *(int(v) for v in rest)) for c, s, *rest in await _rows(
        session, f"""SELECT channel, step_day, sum(planned), sum(sent), sum(delivered),
        sum(read), sum(failed), sum(blocked) FROM {t['message']} WHERE {where}
        GROUP BY step_day, channel ORDER BY step_day, channel""", base)]

    promises = Promises()
    for row in await _rows(session, f"""
            SELECT sum(made), sum(made_amount), sum(kept), sum(kept_amount), sum(broken)
            FROM {t['promise']} WHERE {where}""", base):
        if row[0] is not None:
            promises = Promises(int(row[0]), row[1], int(row[2]), row[3], int(row[4]))

    agreements = Agreements()
    for event, n, amount in await _rows(session, f"""
            SELECT event, sum(agreements), sum(amount) FROM {t['agreement']}
            WHERE {where} AND event <> 'running' GROUP BY event""", base):
        agreements.counts[event], agreements.amounts[event] = int(n), amount
    if filters.start <= current <= filters.end:
        stock = (await session.execute(text(f"""
            SELECT coalesce(sum(agreements), 0), coalesce(sum(amount), 0)
            FROM {t['agreement']} WHERE tenant_id = :tenant AND month = :current
            AND event = 'running' {dims}"""), {**base, "current": current})).one()
        agreements.running, agreements.outstanding = int(stock[0]), stock[1]

    escalations = [EscalationRow(p, s, int(n), a) for p, s, n, a in await _rows(session, f"""
        SELECT path, state, sum(escalations), sum(amount) FROM {t['escalation']}
        WHERE {where} GROUP BY path, state ORDER BY path, state""", base)]

    agent_rows = await _rows(session, f"""
        SELECT user_id, sum(calls), sum(talk_seconds), sum(logged_seconds), sum(agreements),
               sum(agreed_amount)
        FROM {t['agent']} WHERE {period} GROUP BY user_id""", base)
    names = await _agent_names(session, [r[0] for r in agent_rows])
    agents = sorted((AgentRow(u, names[u], int(c), int(tk), int(lg), int(ag), am)
                     for u, c, tk, lg, ag, am in agent_rows), key=lambda a: a.name)

    dialer_rows = await _rows(session, f"""
        SELECT campaign_id, max(abandon_target), sum(dialed), sum(answered), sum(abandoned),
               sum(talk_seconds), sum(wrap_seconds)
        FROM {t['dialer']} WHERE {period} GROUP BY campaign_id""", base)
    campaign_names = dict((await session.execute(select(Campaign.id, Campaign.name).where(
        Campaign.id.in_([r[0] for r in dialer_rows])))).all())
    dialer = sorted((DialerRow(c, campaign_names.get(c, "campanha"), target, int(d), int(a),
                               int(ab), int(tk), int(w))
                     for c, target, d, a, ab, tk, w in dialer_rows), key=lambda r: r.name)

    arms = {a: Arm(a, int(n), int(p), r, sq) for a, n, p, r, sq in await _rows(session, f"""
        SELECT arm, sum(debtors), sum(payers), sum(recovered), sum(recovered_sq)
        FROM {t['experiment']} WHERE {where} GROUP BY arm""", base)}

    name = (await session.execute(select(Tenant.trade_name).where(
        Tenant.id == tenant_id))).scalar_one()
    refreshed = (await session.execute(text(
        "SELECT refreshed_at FROM report_state WHERE tenant_id = :t"),
        {"t": tenant_id})).scalar_one_or_none()
    return Dashboard(tenant_id, name, filters, today, list(bands.values()), cohorts, money,
                     channels, messages, promises, agreements, escalations, agents, dialer,
                     Experiment(arms.get("champion"), arms.get("challenger")),
                     show_fees=show_fees, refreshed_at=refreshed)


async def _agent_names(session: AsyncSession, user_ids: list[uuid.UUID]
                       ) -> dict[uuid.UUID, str]:
    """Each agent's name where the viewer may read it (agency staff read agency users);
    otherwise "Operador N": a creditor sees what its portfolio got, not who."""
    visible = dict((await session.execute(select(User.id, User.full_name).where(
        User.id.in_(user_ids)))).all()) if user_ids else {}
    out, n = {}, 0
    for user_id in sorted(user_ids):
        if visible.get(user_id):
            out[user_id] = visible[user_id]
        else:
            n += 1
            out[user_id] = f"Operador {n}"
    return out


async def scan(session: AsyncSession, tenant_id: TenantId, filters: Filters, *,
               show_fees: bool = True) -> Dashboard:
    """The same dashboard computed from the base tables: each family's rows for the
    period are written to temporary tables (dropped at commit) and read as above."""
    tz, today, now = await tenant_clock(session, tenant_id)
    wanted = Range(tenant_id, tz, filters.start, filters.end_exclusive, today, now)
    # The experiment's months are enrolment months, the recovery's vintage reads every
    # payment month of the period's cohorts: both need payments up to now.
    upto_now = Range(tenant_id, tz, filters.start, max(filters.end_exclusive,
                                                        next_month(today.replace(day=1))),
                     today, now)
    tables = {}
    for name, family in FAMILIES.items():
        temp = f"scan_{name}"
        await session.execute(text(f"CREATE TEMP TABLE IF NOT EXISTS {temp}"
                                   f" (LIKE {family.table} INCLUDING DEFAULTS) ON COMMIT DROP"))
        await session.execute(text(f"TRUNCATE {temp}"))
        await fill(session, family, temp, upto_now if name == "recovery" else wanted)
        tables[name] = temp
    return await build(session, tenant_id, filters, tables=tables, show_fees=show_fees)


# ---- for viewers ---------------------------------------------------------------------


@dataclass
class Options:
    """What the filter form offers for a tenant."""

    portfolios: list[tuple[uuid.UUID, str]]
    cadences: list[tuple[uuid.UUID, str]]
    segments: list[tuple[str, str]]


async def options(session: AsyncSession, tenant_id: TenantId) -> Options:
    portfolios = [(p.id, f"{p.file_name} ({p.created_at:%d/%m/%Y})") for p in (
        await session.execute(select(Portfolio).where(
            Portfolio.tenant_id == tenant_id, Portfolio.status == "done")
            .order_by(Portfolio.created_at.desc()).limit(200))).scalars()]
    cadences = [(c.id, c.name) for c in (await session.execute(select(Cadence).where(
        Cadence.tenant_id == tenant_id).order_by(Cadence.name))).scalars()]
    return Options(portfolios, cadences, sorted(SEGMENTS.items(), key=lambda s: s[1]))


async def tenants_of(session: AsyncSession, principal: Principal) -> list[tuple[uuid.UUID, str]]:
    return [(t.id, t.trade_name) for t in (await session.execute(
        select(Tenant).where(Tenant.id.in_(principal.tenant_ids))
        .order_by(Tenant.trade_name))).scalars()]


async def for_viewer(principal: Principal, tenant_id: uuid.UUID | None, query: dict[str, Any]
                     ) -> tuple[Dashboard | None, Options | None, list[tuple[uuid.UUID, str]]]:
    """The dashboard a user asked for (their own tenant by default), the filter options,
    and the tenants they may choose among. Another tenant's is "not found"."""
    async with transaction(principal) as session:
        choices = await tenants_of(session, principal)
        wanted = tenant_id or principal.tenant_id
        if wanted is None:
            return None, None, choices
        checked = await access_tenant(session, principal, wanted)
        _, today, _ = await tenant_clock(session, checked)
        filters = parse_filters(today, **query)
        board = await build(session, checked, filters,
                            show_fees=principal.role in FEE_ROLES)
        return board, await options(session, checked), choices


async def agency(principal: Principal, query: dict[str, Any]) -> tuple[Filters, list[Dashboard]]:
    """Every tenant the user works, side by side, for one period (no other filter: the
    dimensions are each tenant's own)."""
    period = {k: v for k, v in query.items() if k in ("de", "ate")}
    async with transaction(principal) as session:
        boards = []
        filters = parse_filters(dt.date.today(), **period)
        for tenant_id, _ in await tenants_of(session, principal):
            checked = await access_tenant(session, principal, tenant_id)
            _, today, _ = await tenant_clock(session, checked)
            filters = parse_filters(today, **period)
            boards.append(await build(session, checked, filters,
                                      show_fees=principal.role in FEE_ROLES))
        return filters, boards
