"""Money received for installments: PIX notifications and bank return files.

Both arrive without a tenant; the txid or "nosso número" finds it
(`regua_installment_tenant`), and the work runs in a transaction scoped to that tenant.
Each notification is stored once (`slip_payment`, unique by end-to-end id, or by nosso
número and date for a bank line), so repeating a webhook or a file changes nothing.

What a payment does: paid at least the installment's amount, the installment is paid,
the amount is recorded as payments (source: agency) on the agreement's debts, oldest
first, through the ledger; when the last installment is paid the agreement is settled,
what the discounts left on its debts is written off as discount, and the debts are paid.
Less than the amount (partial) settles nothing; more (overpaid) settles the installment
for its amount and leaves the excess to a person. Neither is guessed at.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import DebtId, transaction
from core.auth.principal import Principal
from core.collection import ledger
from core.db import NO_SCOPE, Scope
from core.ids import uuid7
from core.models import Debt, DebtStatus, EntryKind, PaymentSource
from core.runtime import get_db
from core.settings import Settings
from legal import cnab
from legal.models import (
    Agreement,
    AgreementDebt,
    AgreementStatus,
    Installment,
    InstallmentStatus,
)
from legal.payment_models import SlipKind, SlipOutcome, SlipPayment

log = logging.getLogger("regua.payments")
ZERO = Decimal("0.00")
SIGNATURE_HEADER = "x-regua-pix-signature"


@dataclass
class Line:
    """What became of one notified payment, for the caller's report."""

    reference: str  # txid or nosso número
    amount_paid: str
    paid_on: str
    result: str  # settled, partial, overpaid, duplicate, unknown, not_payable
    expected: str | None = None
    excess: str | None = None
    agreement_id: str | None = None
    installment: int | None = None
    agreement_settled: bool = False


@dataclass
class Report:
    lines: list[Line] = field(default_factory=list)

    def count(self, result: str) -> int:
        return sum(1 for line in self.lines if line.result == result)

    def as_json(self) -> dict[str, Any]:
        groups: dict[str, list[dict[str, Any]]] = {}
        for line in self.lines:
            groups.setdefault(line.result, []).append(asdict(line))
        return {"counts": {k: len(v) for k, v in groups.items()},
                **{k: groups.get(k, []) for k in ("settled", "partial", "overpaid", "duplicate",
                                                  "unknown", "not_payable")}}


async def _allocate(session: AsyncSession, principal: Principal, agreement: Agreement,
                    amount: Decimal, paid_on: dt.date, reference: str) -> None:
    """Record `amount` as agency payments on the agreement's debts, oldest due first,
    each up to its balance; what is left (never expected) goes on the last debt."""
    debts = list((await session.execute(select(Debt).join(
        AgreementDebt, (AgreementDebt.debt_id == Debt.id)
        & (AgreementDebt.tenant_id == Debt.tenant_id))
        .where(AgreementDebt.agreement_id == agreement.id)
        .order_by(Debt.due_date, Debt.id))).scalars())
    left = amount
    for index, debt in enumerate(debts):
        last = index == len(debts) - 1
        take = left if last else min(left, max(debt.current_balance, ZERO))
        if take > 0:
            await ledger.record_payment(session, principal, DebtId(debt.id), take,
                                        paid_on=paid_on, source=PaymentSource.AGENCY,
                                        reference=reference)
            left -= take
        if left <= 0:
            break


async def _settle_agreement(session: AsyncSession, principal: Principal,
                            agreement: Agreement) -> None:
    debts = list((await session.execute(select(Debt).join(
        AgreementDebt, (AgreementDebt.debt_id == Debt.id)
        & (AgreementDebt.tenant_id == Debt.tenant_id))
        .where(AgreementDebt.agreement_id == agreement.id).with_for_update(of=Debt))).scalars())
    balances = await ledger.balances(session, [d.id for d in debts])
    now = dt.datetime.now(dt.UTC)
    for debt in debts:
        # The agreement is kept: what it forgave becomes final.
        lines = [(bucket, EntryKind.DISCOUNT, -value)
                 for bucket, value in balances.get(debt.id, {}).items() if value > 0]
        if lines:
            await ledger.post(session, principal, DebtId(debt.id), lines, source="agreement",
                              source_id=agreement.id, note="desconto do acordo cumprido")
        debt.status, debt.closed_at, debt.updated_at = DebtStatus.PAID, now, now
        debt.status_reason = "acordo quitado"
    agreement.status, agreement.settled_at, agreement.updated_at = (
        AgreementStatus.SETTLED, now, now)
    await audit.record(session, principal.actor, "agreement.settled",
                       tenant_id=agreement.tenant_id, entity="agreement", entity_id=agreement.id,
                       after={"debts": [str(d.id) for d in debts]})


async def apply(session: AsyncSession, principal: Principal, *, kind: SlipKind, reference: str,
                external_id: str, amount_paid: Decimal, paid_on: dt.date,
                bank_fee: Decimal = ZERO, source_file: str | None = None,
                raw: dict[str, Any] | None = None) -> Line:
    """One notified payment, in a transaction scoped to the installment's tenant."""
    line = Line(reference, f"{amount_paid:.2f}", paid_on.isoformat(), "unknown")
    column = Installment.txid if kind is SlipKind.PIX else Installment.nosso_numero
    installment = (await session.execute(select(Installment).where(
        column == reference).with_for_update())).scalar_one_or_none()
    if installment is None:
        return line
    agreement = (await session.execute(select(Agreement).where(
        Agreement.id == installment.agreement_id).with_for_update())).scalar_one()
    line.agreement_id, line.installment = str(agreement.id), installment.number
    line.expected = f"{installment.amount:.2f}"
    seen = (await session.execute(select(SlipPayment.id).where(
        SlipPayment.kind == kind, SlipPayment.external_id == external_id))).first()
    if seen is not None:
        line.result = "duplicate"
        return line
    payable = installment.status in (InstallmentStatus.OPEN, InstallmentStatus.OVERDUE)
    if not payable and installment.status != InstallmentStatus.PAID:
        line.result = "not_payable"  # cancelled with a broken agreement: a person decides
        return line
    if installment.status == InstallmentStatus.PAID:
        outcome, excess = SlipOutcome.OVERPAID, amount_paid
    elif amount_paid < installment.amount:
        outcome, excess = SlipOutcome.PARTIAL, ZERO
    else:
        excess = amount_paid - installment.amount
        outcome = SlipOutcome.OVERPAID if excess > 0 else SlipOutcome.SETTLED
    session.add(SlipPayment(
        tenant_id=installment.tenant_id, id=uuid7(), kind=kind, external_id=external_id,
        agreement_id=agreement.id, installment_id=installment.id, expected=installment.amount,
        amount_paid=amount_paid, bank_fee=bank_fee, paid_on=paid_on, outcome=outcome,
        source_file=source_file, raw=raw))
    line.result = outcome.value
    if excess:
        line.excess = f"{excess:.2f}"
    if payable and outcome is not SlipOutcome.PARTIAL:
        now = dt.datetime.now(dt.UTC)
        await _allocate(session, principal, agreement, installment.amount, paid_on,
                        f"{kind.value}:{reference}")
        installment.status, installment.paid_at = InstallmentStatus.PAID, now
        installment.paid_amount, installment.updated_at = amount_paid, now
        open_left = (await session.execute(select(func.count()).where(
            Installment.agreement_id == agreement.id,
            Installment.status.in_([InstallmentStatus.OPEN, InstallmentStatus.OVERDUE])
        ))).scalar_one()
        if open_left == 0 and agreement.status in (AgreementStatus.ACTIVE,
                                                   AgreementStatus.REINSTATED):
            await _settle_agreement(session, principal, agreement)
            line.agreement_settled = True
    await session.flush()
    await audit.record(session, principal.actor, f"installment.payment_{outcome.value}",
                       tenant_id=installment.tenant_id, entity="installment",
                       entity_id=installment.id,
                       after={"kind": kind, "reference": reference, "amount_paid": amount_paid,
                              "expected": installment.amount, "paid_on": paid_on})
    return line


async def _route(kind: SlipKind, reference: str, **details: Any) -> Line:
    async with get_db().transaction(NO_SCOPE) as session:
        tenant_id = (await session.execute(
            select(func.regua_installment_tenant(kind.value, reference)))).scalar_one()
    if tenant_id is None:
        return Line(reference, f"{details['amount_paid']:.2f}",
                    details["paid_on"].isoformat(), "unknown")
    async with transaction(Principal.system(Scope.tenant(tenant_id))) as session:
        return await apply(session, session.info["principal"], kind=kind, reference=reference,
                           **details)


# ---- PIX webhook (BCB "API Pix": POST {webhook}/pix) -------------------------------------------

class Unauthenticated(Exception):
    """The notification's signature is missing or wrong."""


class Malformed(Exception):
    """The body is not the API Pix notification format."""


def sign(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(body: bytes, signature: str | None, settings: Settings) -> None:
    """The BCB standard authenticates the PSP by mutual TLS; PSPs add an HMAC of the body
    (e.g. Efí, Inter). Régua checks `X-Regua-Pix-Signature: sha256=<hex>` of the raw body
    with REGUA_PIX_WEBHOOK_SECRET; mTLS, where used, is the proxy's job."""
    expected = sign(body, settings.resolved_pix_webhook_secret())
    if not signature or not hmac.compare_digest(signature.strip(), expected):
        raise Unauthenticated("assinatura ausente ou inválida")


def _pix_items(body: bytes) -> list[dict[str, Any]]:
    try:
        data = json.loads(body)
    except ValueError:
        raise Malformed("JSON inválido") from None
    items = data.get("pix") if isinstance(data, dict) else None
    if not isinstance(items, list):
        raise Malformed("falta a lista 'pix'")
    for item in items:
        if not isinstance(item, dict) or not all(
                isinstance(item.get(k), str) for k in ("endToEndId", "valor", "horario")):
            raise Malformed("cada pix precisa de endToEndId, valor e horario")
    return items


async def pix_webhook(body: bytes, signature: str | None, settings: Settings) -> Report:
    verify(body, signature, settings)
    report = Report()
    for item in _pix_items(body):
        try:
            amount = Decimal(item["valor"])
            moment = dt.datetime.fromisoformat(item["horario"].replace("Z", "+00:00"))
        except (InvalidOperation, ValueError):
            raise Malformed("valor ou horario inválido") from None
        txid = item.get("txid")
        if not isinstance(txid, str) or not txid:
            report.lines.append(Line("", f"{amount:.2f}", moment.date().isoformat(), "unknown"))
            continue
        report.lines.append(await _route(
            SlipKind.PIX, txid, external_id=item["endToEndId"], amount_paid=amount,
            paid_on=moment.astimezone(dt.UTC).date(), raw=item))
    for line in report.lines:
        if line.result in ("unknown", "partial", "overpaid", "not_payable"):
            log.warning("pix %s: %s (paid %s)", line.reference or "without txid", line.result,
                        line.amount_paid)
    return report


# ---- bank return files -------------------------------------------------------------------------

async def import_return(data: bytes, file_name: str) -> tuple[cnab.ReturnFile, Report]:
    parsed = cnab.parse(data)
    report = Report()
    for paid in parsed.paid:
        report.lines.append(await _route(
            SlipKind.BOLETO, paid.nosso_numero,
            external_id=f"{paid.nosso_numero}:{paid.paid_on.isoformat()}",
            amount_paid=paid.amount_paid, paid_on=paid.paid_on, bank_fee=paid.fee,
            source_file=file_name[:255],
            raw={"line": paid.line, "occurrence": paid.occurrence, "layout": parsed.layout}))
    return parsed, report


def return_json(parsed: cnab.ReturnFile, report: Report, file_name: str) -> dict[str, Any]:
    return {"file": file_name, "layout": f"CNAB {parsed.layout}", "bank": parsed.bank,
            **report.as_json(),
            "other_occurrences": [{"line": o.line, "nosso_numero": o.nosso_numero,
                                   "occurrence": o.occurrence} for o in parsed.other]}
