"""Money received for installments: PIX notifications and bank return files.

Both arrive without a tenant; the txid or "nosso número" finds it
(`regua_installment_tenant`), and the work runs in a transaction scoped to that tenant.
Each notification is stored once (`slip_payment`, unique by end-to-end id, or by nosso
número and date for a bank line), so repeating a webhook or a file changes nothing.

What a payment does: paid at least the installment's amount, the installment is paid
through `legal.agreements.pay_installment` (payments with source agency on the
agreement's debts through the ledger; the last one settles the agreement and its
debts). Less than the amount (partial) settles nothing; more (overpaid) settles the
installment for its amount and leaves the excess to a person. Neither is guessed at.
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
from core.access import transaction
from core.auth.principal import Principal
from core.db import NO_SCOPE, Scope
from core.ids import uuid7
from core.models import PaymentSource
from core.runtime import get_db
from core.settings import Settings
from legal import cnab
from legal.agreements import pay_installment
from legal.models import (
    Agreement,
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
        # The installment's amount is booked; an excess stays on the slip payment for a
        # person to refund or apply.
        await pay_installment(session, principal, installment.id, installment.amount, paid_on,
                              source=PaymentSource.AGENCY, reference=f"{kind.value}:{reference}")
        installment.paid_amount = amount_paid
        line.agreement_settled = agreement.status == AgreementStatus.SETTLED
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
