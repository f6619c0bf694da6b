"""A small portfolio whose every figure is computed by hand (tests/reports/test_figures.py
lists them). Months: A is two months before the current one, B the previous, C the
current, all in the tenant's zone (São Paulo)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from core.access import DebtId, transaction
from core.auth.principal import Principal
from core.collection import ledger
from core.db import Scope
from core.ids import uuid7
from core.models import (
    Bucket,
    Cadence,
    CadenceAction,
    CadenceEnrolment,
    CadenceVersion,
    Debt,
    Debtor,
    DebtorScore,
    EntryKind,
    Interaction,
    PaymentSource,
    Portfolio,
)
from dialer.models import AgendaItem, AgentSession, CallRecord, Campaign
from legal.escalation.models import Escalation
from legal.models import Agreement, AgreementDebt, Installment

SP = ZoneInfo("America/Sao_Paulo")


def month_back(month: dt.date, n: int) -> dt.date:
    for _ in range(n):
        month = (month - dt.timedelta(days=1)).replace(day=1)
    return month


@dataclass
class Months:
    a: dt.date
    b: dt.date
    c: dt.date
    today: dt.date

    @classmethod
    def now(cls) -> Months:
        today = dt.datetime.now(SP).date()
        c = today.replace(day=1)
        return cls(month_back(c, 2), month_back(c, 1), c, today)

    def at(self, month: dt.date, day: int, hour: int = 10) -> dt.datetime:
        return dt.datetime(month.year, month.month, day, hour, 0, tzinfo=SP)


@dataclass
class Built:
    tenant_id: uuid.UUID
    months: Months
    portfolios: dict[str, uuid.UUID] = field(default_factory=dict)
    debtors: dict[str, uuid.UUID] = field(default_factory=dict)
    debts: dict[str, uuid.UUID] = field(default_factory=dict)
    cadences: dict[str, uuid.UUID] = field(default_factory=dict)
    agent_id: uuid.UUID = field(default_factory=uuid7)


def _cpf(seed: int) -> str:
    base = [int(c) for c in f"{seed:09d}"]
    for weights in (range(10, 1, -1), range(11, 1, -1)):
        r = sum(v * w for v, w in zip(base, weights, strict=False)) % 11
        base.append(0 if r < 2 else 11 - r)
    return "".join(map(str, base))


async def build(tenant_id: uuid.UUID, seed: int, agent_id: uuid.UUID | None = None) -> Built:
    """The hand-computed portfolio in `tenant_id` (`seed` keeps documents apart)."""
    m = Months.now()
    built = Built(tenant_id, m, agent_id=agent_id or uuid7())
    principal = Principal.system(Scope.tenant(tenant_id))
    async with transaction(principal) as s:
        for name, month, day in (("P1", m.a, 5), ("P2", m.b, 10)):
            p = Portfolio(tenant_id=tenant_id, id=uuid7(), file_name=f"{name}.csv",
                          file_key=f"k/{name}", status="done", mode="incremental",
                          created_at=m.at(month, day, 9))
            s.add(p)
            built.portfolios[name] = p.id
        for name in ("C1", "C2"):
            c = Cadence(tenant_id=tenant_id, id=uuid7(), name=f"Régua {name}",
                        created_at=m.at(m.a, 1))
            v = CadenceVersion(tenant_id=tenant_id, id=uuid7(), cadence_id=c.id, version=1,
                               source="steps: []", created_by="teste")
            s.add_all([c, v])
            built.cadences[name] = c.id
            built.cadences[f"{name}v"] = v.id
        await s.flush()

        # debtors: (name, first portfolio, created, segments or None, cadence, arm)
        for n, (name, portfolio, created, segments, cadence, arm) in enumerate((
                ("D1", "P1", m.at(m.a, 5), ["novo", "primeiro_atraso"], "C1", "champion"),
                ("D2", "P1", m.at(m.a, 5), ["saldo_alto", "varios_titulos"], "C2",
                 "challenger"),
                ("D3", "P2", m.at(m.b, 10), None, None, None),
                ("D4", "P1", m.at(m.a, 5), ["novo"], "C1", "champion"))):
            d = Debtor(tenant_id=tenant_id, id=uuid7(), document=_cpf(seed * 10 + n + 1),
                       document_kind="cpf", name=f"Devedor {name}", state="SP",
                       first_portfolio_id=built.portfolios[portfolio], created_at=created)
            s.add(d)
            built.debtors[name] = d.id
            if segments is not None:
                s.add(DebtorScore(tenant_id=tenant_id, debtor_id=d.id, score=500, band="C",
                                  segments=segments, inputs={}, reasons=[], method="rules",
                                  scored_at=created))
            if cadence is not None:
                s.add(CadenceEnrolment(tenant_id=tenant_id, id=uuid7(), debtor_id=d.id,
                                       version_id=built.cadences[f"{cadence}v"], arm=arm,
                                       enrolled_at=m.at(m.a, 6)))
        await s.flush()

        # debts: (name, debtor, portfolio, created, days overdue at placement, principal,
        # interest placed above it)
        for name, debtor, portfolio, created, overdue, amount, interest in (
                ("T1", "D1", "P1", m.at(m.a, 5), 45, "1000.00", "0"),
                ("T2", "D2", "P1", m.at(m.a, 5), 200, "2000.00", "500.00"),
                ("T3", "D2", "P1", m.at(m.a, 5), -10, "300.00", "0"),
                ("T4", "D3", "P2", m.at(m.b, 10), 10, "400.00", "0"),
                ("T5", "D4", "P1", m.at(m.a, 5), 3, "100.00", "0")):
            debt = Debt(tenant_id=tenant_id, id=uuid7(), debtor_id=built.debtors[debtor],
                        portfolio_id=built.portfolios[portfolio],
                        last_portfolio_id=built.portfolios[portfolio],
                        contract=f"C-{seed}-{name}", installment=1,
                        original_amount=Decimal(amount), current_balance=Decimal("0"),
                        due_date=created.date() - dt.timedelta(days=overdue),
                        created_at=created)
            s.add(debt)
            await s.flush()
            lines = [(Bucket.PRINCIPAL, EntryKind.PLACEMENT, Decimal(amount))]
            if Decimal(interest):
                lines.append((Bucket.INTEREST, EntryKind.PLACEMENT, Decimal(interest)))
            await ledger.post(s, principal, DebtId(debt.id), lines, source="portfolio",
                              source_id=built.portfolios[portfolio])
            built.debts[name] = debt.id

        for debt, amount, day, source in (
                ("T1", "600.00", m.a.replace(day=20), PaymentSource.AGENCY),
                ("T1", "400.00", m.b.replace(day=3), PaymentSource.AGENCY),
                ("T2", "100.00", m.b.replace(day=7), PaymentSource.CREDITOR),
                ("T4", "400.00", m.b.replace(day=25), PaymentSource.AGENCY)):
            await ledger.record_payment(s, principal, DebtId(built.debts[debt]),
                                        Decimal(amount), paid_on=day, source=source)

        def interaction(debtor: str, channel: str, outcome: str, at: dt.datetime,
                        direction: str = "outbound", details: dict[str, str] | None = None,
                        ) -> Interaction:
            return Interaction(tenant_id=tenant_id, id=uuid7(), debtor_id=built.debtors[debtor],
                               channel=channel, direction=direction, outcome=outcome,
                               started_at=at, process="teste", cause_kind="system",
                               details=details)

        s.add_all([
            interaction("D1", "email", "sent", m.at(m.a, 7)),
            interaction("D1", "email", "read", m.at(m.a, 8)),
            interaction("D1", "call", "answered", m.at(m.b, 4), details={
                "disposition": "not_debtor"}),
            interaction("D1", "call", "no_answer", m.at(m.b, 5)),
            interaction("D1", "call", "answered", m.at(m.b, 6), details={
                "dial_outcome": "abandoned"}),
            interaction("D2", "sms", "delivered", m.at(m.a, 7)),
            interaction("D2", "call", "answered", m.at(m.a, 9)),
            interaction("D2", "whatsapp", "blocked", m.at(m.a, 9)),
            interaction("D3", "whatsapp", "replied", m.at(m.b, 12), direction="inbound"),
        ])

        def action(debtor: str, channel: str, step: int, state: str, day: dt.date,
                   debts: list[str]) -> CadenceAction:
            cadence = "C2v" if debtor == "D2" else "C1v"
            return CadenceAction(tenant_id=tenant_id, id=uuid7(), day=day,
                                 debtor_id=built.debtors[debtor], step_id=uuid7(),
                                 version_id=built.cadences[cadence], step_day=step,
                                 step_channel=channel, channel=channel, template="padrao",
                                 arm="challenger" if debtor == "D2" else "champion",
                                 debt_ids=[built.debts[d] for d in debts], state=state)

        s.add_all([
            action("D1", "email", -3, "read", m.a.replace(day=7), ["T1"]),
            action("D2", "sms", 0, "delivered", m.a.replace(day=8), ["T2", "T3"]),
            action("D2", "email", 0, "failed", m.a.replace(day=8), ["T2", "T3"]),
            action("D1", "whatsapp", 5, "blocked", m.b.replace(day=2), ["T1"]),
        ])

        s.add_all([
            AgendaItem(tenant_id=tenant_id, id=uuid7(), debtor_id=built.debtors["D1"],
                       kind="promise", due_at=m.at(m.a, 25), state="done",
                       amount=Decimal("500.00"), promised_on=m.a.replace(day=25),
                       created_at=m.at(m.a, 10)),
            AgendaItem(tenant_id=tenant_id, id=uuid7(), debtor_id=built.debtors["D2"],
                       kind="promise", due_at=m.at(m.b, 5), state="open",
                       amount=Decimal("300.00"), promised_on=m.b.replace(day=5),
                       created_at=m.at(m.b, 1)),
            AgendaItem(tenant_id=tenant_id, id=uuid7(), debtor_id=built.debtors["D3"],
                       kind="promise", due_at=dt.datetime.now(SP) + dt.timedelta(days=10),
                       state="open", amount=Decimal("250.00"),
                       promised_on=m.today + dt.timedelta(days=10),
                       created_at=dt.datetime.now(SP) - dt.timedelta(minutes=5)),
        ])

        def agreement(debtor: str, debts: list[str], total: str, status: str,
                      accepted: dt.datetime, **extra: object) -> Agreement:
            row = Agreement(tenant_id=tenant_id, id=uuid7(), debtor_id=built.debtors[debtor],
                            status=status, reference_date=accepted.date(), terms="termos",
                            calculation={}, option_label="teste",
                            updated_balance=Decimal(total), discount_total=Decimal("0"),
                            installment_interest=Decimal("0"), total=Decimal(total),
                            down_payment=Decimal(total), installment_count=1,
                            installment_amount=Decimal(total), approval_level="agent",
                            accepted_at=accepted, **extra)
            s.add(row)
            s.add_all([AgreementDebt(tenant_id=tenant_id, id=uuid7(), agreement_id=row.id,
                                     debt_id=built.debts[d], principal=Decimal("0"),
                                     correction=Decimal("0"), interest=Decimal("0"),
                                     fine=Decimal("0"), fees=Decimal("0")) for d in debts])
            return row

        agreement("D2", ["T2"], "1800.00", "broken", m.at(m.a, 15),
                  broken_at=m.at(m.b, 20), created_by=built.agent_id)
        agreement("D1", ["T1"], "400.00", "settled", m.at(m.b, 2),
                  settled_at=m.at(m.b, 28), created_by=built.agent_id)
        running = agreement("D3", ["T4"], "400.00", "active",
                            dt.datetime.now(SP) - dt.timedelta(minutes=5))
        await s.flush()
        s.add_all([Installment(tenant_id=tenant_id, id=uuid7(), agreement_id=running.id,
                               number=n, due_date=m.today + dt.timedelta(days=30 * n),
                               amount=Decimal("200.00"), status="open") for n in (1, 2)])

        campaign = Campaign(tenant_id=tenant_id, id=uuid7(), name="Campanha K1",
                            mode="progressive", status="paused", abandon_target=Decimal("0.03"),
                            max_lines_per_agent=Decimal("3"), ring_timeout_seconds=25,
                            wrap_up_seconds=20, retry_rules={}, filters={})
        s.add(campaign)
        await s.flush()

        def call(outcome: str, day: int, talk: int | None) -> CallRecord:
            dialed = m.at(m.a, day)
            bridged = dialed + dt.timedelta(seconds=10) if talk is not None else None
            return CallRecord(tenant_id=tenant_id, id=uuid7(), campaign_id=campaign.id,
                              debtor_id=built.debtors["D1"], number="+5511999990000",
                              dialed_at=dialed, bridged_at=bridged,
                              ended_at=(bridged + dt.timedelta(seconds=talk)) if bridged
                              else dialed + dt.timedelta(seconds=25),
                              outcome=outcome,
                              agent_user_id=built.agent_id if talk is not None else None,
                              dialer_id="teste", worker_id=0)

        s.add_all([call("answered", 11, 120), call("answered", 12, 60),
                   call("no_answer", 13, None), call("abandoned", 14, None),
                   AgentSession(tenant_id=tenant_id, id=uuid7(), user_id=built.agent_id,
                                campaign_ids=[str(campaign.id)], sip_uri="sip:a@x",
                                state="logged_out", logged_in_at=m.at(m.a, 11, 9),
                                logged_out_at=m.at(m.a, 11, 10))])

        s.add_all([
            Escalation(tenant_id=tenant_id, id=uuid7(), debt_id=built.debts["T2"],
                       debtor_id=built.debtors["D2"], path="bureau", state="listed",
                       rule_name="regra", amount=Decimal("2500.00"), decided_at=m.at(m.b, 15),
                       state_changed_at=m.at(m.b, 16), details={}),
            Escalation(tenant_id=tenant_id, id=uuid7(), debt_id=built.debts["T4"],
                       debtor_id=built.debtors["D3"], path="protest", state="queued",
                       rule_name="regra", amount=Decimal("400.00"), decided_at=m.at(m.b, 16),
                       state_changed_at=m.at(m.b, 16), details={}),
        ])
    return built
