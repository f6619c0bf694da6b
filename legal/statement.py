"""The monthly statement ("prestação de contas"): every payment of the month, its
commission under the tenant's fee contract (`legal.fees`), and what is due to the
creditor.

The statement reads the `payment` table (both sources) and the ledger's payment entries
of each payment (to know the buckets it paid); it keeps no figures of its own, so its
totals are the table's to the cent. Commission: the contract's percentage for the bucket
and for the days the debt was overdue when placed, on each bucket a payment reached,
rounded half-even once per payment. Payments made directly to the creditor earn it only
when the contract says so; the creditor then owes it to the agency.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import uuid
from dataclasses import dataclass, field
from decimal import ROUND_HALF_EVEN, Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import TenantId
from core.auth.principal import Principal
from core.errors import ValidationFailed
from core.formatting import brl, date_br
from core.masking import mask_document
from core.models import (
    Bucket,
    Debt,
    Debtor,
    EntryKind,
    LedgerEntry,
    Payment,
    PaymentSource,
    Tenant,
)
from core.models.ledger import PAYMENT_SOURCE_LABELS
from core.pdf import FONT, new_pdf
from legal.fees import Contract, contract_of
from legal.models import AgreementDebt

ZERO = Decimal("0.00")
CENT = Decimal("0.01")


@dataclass(frozen=True)
class StatementLine:
    payment_id: uuid.UUID
    paid_on: dt.date | None
    source: str
    debtor_name: str
    debtor_document: str
    contract: str
    installment: int
    agreement_id: uuid.UUID | None
    amount: Decimal
    commission: Decimal
    net_to_creditor: Decimal  # agency: amount less commission; direct: minus the commission
    buckets: dict[str, Decimal]


@dataclass
class Totals:
    amount: Decimal = ZERO
    commission: Decimal = ZERO
    net_to_creditor: Decimal = ZERO
    count: int = 0


@dataclass
class Statement:
    tenant_id: uuid.UUID
    creditor: str
    month: dt.date  # the month's first day
    contract: Contract
    lines: list[StatementLine] = field(default_factory=list)
    by_source: dict[str, Totals] = field(default_factory=dict)

    @property
    def net_due(self) -> Decimal:
        """What the agency transfers to the creditor for the month (negative: the creditor
        owes the agency the commission on direct payments beyond what was collected)."""
        return sum((t.net_to_creditor for t in self.by_source.values()), ZERO)


def month_of(text: str | None, today: dt.date | None = None) -> dt.date:
    if not text:
        today = today or dt.date.today()
        return today.replace(day=1)
    try:
        year, month = text.split("-")
        return dt.date(int(year), int(month), 1)
    except ValueError:
        raise ValidationFailed({"mes": "mês inválido; use AAAA-MM"}) from None


def _next_month(month: dt.date) -> dt.date:
    return (month.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


async def build(session: AsyncSession, tenant_id: TenantId, month: dt.date) -> Statement:
    tenant = (await session.execute(select(Tenant).where(Tenant.id == tenant_id))).scalar_one()
    contract = await contract_of(session, tenant_id)
    rows = (await session.execute(
        select(Payment, Debt, Debtor)
        .join(Debt, (Debt.id == Payment.debt_id) & (Debt.tenant_id == Payment.tenant_id))
        .join(Debtor, (Debtor.id == Debt.debtor_id) & (Debtor.tenant_id == Debt.tenant_id))
        .where(Payment.tenant_id == tenant_id, Payment.paid_on >= month,
               Payment.paid_on < _next_month(month))
        .order_by(Payment.paid_on, Payment.created_at, Payment.id))).all()
    payment_ids = [p.id for p, _, _ in rows]
    split: dict[uuid.UUID, dict[str, Decimal]] = {}
    for entry in (await session.execute(select(LedgerEntry).where(
            LedgerEntry.tenant_id == tenant_id, LedgerEntry.source == "payment",
            LedgerEntry.kind == EntryKind.PAYMENT,
            LedgerEntry.source_id.in_(payment_ids)))).scalars():
        assert entry.source_id is not None
        parts = split.setdefault(entry.source_id, {})
        parts[entry.bucket] = parts.get(entry.bucket, ZERO) - entry.amount
    agreements = dict((await session.execute(
        select(AgreementDebt.debt_id, AgreementDebt.agreement_id)
        .where(AgreementDebt.tenant_id == tenant_id,
               AgreementDebt.debt_id.in_([d.id for _, d, _ in rows]))
        .order_by(AgreementDebt.id))).all())
    statement = Statement(tenant_id, tenant.trade_name, month, contract)
    for source in PaymentSource:
        statement.by_source[source.value] = Totals()
    for payment, debt, debtor in rows:
        # A payment the ledger did not split (a creditor's settlement file) is principal.
        buckets = split.get(payment.id) or {Bucket.PRINCIPAL.value: payment.amount}
        days = max((debt.created_at.date() - debt.due_date).days, 0)
        earns = payment.source == PaymentSource.AGENCY or contract.direct_payments_earn
        raw = sum((value * contract.pct(Bucket(bucket), days) / 100
                   for bucket, value in buckets.items()), ZERO) if earns else ZERO
        commission = raw.quantize(CENT, rounding=ROUND_HALF_EVEN)
        net = (payment.amount - commission if payment.source == PaymentSource.AGENCY
               else -commission)
        statement.lines.append(StatementLine(
            payment.id, payment.paid_on, payment.source, debtor.name,
            mask_document(debtor.document_kind, debtor.document), debt.contract,
            debt.installment, agreements.get(debt.id), payment.amount, commission, net, buckets))
        totals = statement.by_source[payment.source]
        totals.amount += payment.amount
        totals.commission += commission
        totals.net_to_creditor += net
        totals.count += 1
    return statement


CSV_HEADER = ["Data do pagamento", "Origem", "Devedor", "Documento", "Contrato", "Parcela",
              "Acordo", "Valor pago", "Comissão", "Líquido ao credor"]


def _money(value: Decimal) -> str:
    return f"{value:.2f}".replace(".", ",")


def to_csv(statement: Statement) -> bytes:
    """Semicolon-separated, decimal comma, CRLF, UTF-8 with BOM (opens in Excel pt-BR)."""
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for line in statement.lines:
        writer.writerow([date_br(line.paid_on), PAYMENT_SOURCE_LABELS[PaymentSource(line.source)],
                         line.debtor_name, line.debtor_document, line.contract,
                         line.installment, str(line.agreement_id or ""), _money(line.amount),
                         _money(line.commission), _money(line.net_to_creditor)])
    for source, totals in statement.by_source.items():
        writer.writerow([f"Total {PAYMENT_SOURCE_LABELS[PaymentSource(source)]}", "", "", "",
                         "", "", "", _money(totals.amount), _money(totals.commission),
                         _money(totals.net_to_creditor)])
    writer.writerow(["Saldo a repassar ao credor", "", "", "", "", "", "", "", "",
                     _money(statement.net_due)])
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def to_pdf(statement: Statement, agency_name: str) -> bytes:
    pdf = new_pdf(format="A4", orientation="landscape")
    pdf.add_page()
    pdf.set_font(FONT, "B", 14)
    pdf.cell(0, 8, f"Prestação de contas: {statement.creditor}, {statement.month:%m/%Y}",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, size=9)
    pdf.cell(0, 5, f"Emitida por {agency_name}. Valores em R$.", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    widths = (22, 32, 55, 30, 35, 14, 0, 28, 24, 30)
    headers = ["Data", "Origem", "Devedor", "Documento", "Contrato", "Parc.", "",
               "Valor pago", "Comissão", "Líquido"]
    pdf.set_font(FONT, "B", 8)
    for w, h in zip(widths, headers, strict=True):
        if w:
            pdf.cell(w, 6, h, border=1)
    pdf.ln()
    pdf.set_font(FONT, size=8)
    for line in statement.lines:
        values = [date_br(line.paid_on), PAYMENT_SOURCE_LABELS[PaymentSource(line.source)],
                  line.debtor_name[:32], line.debtor_document, line.contract[:20],
                  str(line.installment), "", brl(line.amount), brl(line.commission),
                  brl(line.net_to_creditor)]
        for w, v in zip(widths, values, strict=True):
            if w:
                pdf.cell(w, 5.5, v, border=1)
        pdf.ln()
    pdf.ln(4)
    pdf.set_font(FONT, size=10)
    for source, totals in statement.by_source.items():
        label = PAYMENT_SOURCE_LABELS[PaymentSource(source)]
        pdf.cell(0, 6, f"{label}: {totals.count} pagamento(s), {brl(totals.amount)};"
                       f" comissão {brl(totals.commission)}; líquido ao credor "
                       f"{brl(totals.net_to_creditor)}", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "B", 11)
    pdf.cell(0, 8, f"Saldo a repassar ao credor: {brl(statement.net_due)}",
             new_x="LMARGIN", new_y="NEXT")
    return bytes(pdf.output())


async def for_viewer(principal: Principal, tenant_id: uuid.UUID | None, month: dt.date
                     ) -> tuple[Statement | None, list[tuple[uuid.UUID, str]]]:
    """The statement a user asked for (their own tenant by default), and the tenants they
    may choose among. Another tenant's statement is "not found"."""
    from core.access import access_tenant, transaction

    async with transaction(principal) as session:
        choices = [(t.id, t.trade_name) for t in (await session.execute(
            select(Tenant).where(Tenant.id.in_(principal.tenant_ids))
            .order_by(Tenant.trade_name))).scalars()]
        wanted = tenant_id or principal.tenant_id
        if wanted is None:
            return None, choices
        checked = await access_tenant(session, principal, wanted)
        return await build(session, checked, month), choices
