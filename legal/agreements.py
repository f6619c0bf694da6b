"""Agreements ("acordos"): creation from a simulated option, approval, acceptance by the
agent or by the debtor on a one-time link, installment payments, breach, reinstatement.

On acceptance the agreement becomes the debts' truth: the updated charges are written to
the ledger as `accrual` entries (with the installment interest, shared among the debts),
the discounts as `discount` entries, and the debts move to `in_agreement` (the cadence,
the dialer and `workable` skip them). A breach writes the reverse: the discounts revoked
as the policy says (by default the share still unpaid), the unpaid installment interest
taken back, the debts open again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import DebtId, DebtorId, access_debtor, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.collection import events as debtor_events
from core.collection import ledger
from core.db import Scope
from core.documents import format_document
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.formatting import brl, date_br
from core.ids import uuid7
from core.models import Bucket, Debt, Debtor, DebtStatus, EntryKind, PaymentSource, Tenant
from core.settings import get_settings
from legal import notices
from legal.access import access_agreement
from legal.models import (
    AGREEMENT_STATUS_LABELS,
    APPROVAL_LEVEL_LABELS,
    APPROVAL_STATUS_LABELS,
    INSTALLMENT_STATUS_LABELS,
    RUNNING,
    AcceptanceChannel,
    Agreement,
    AgreementDebt,
    AgreementStatus,
    ApprovalLevel,
    ApprovalRequest,
    ApprovalStatus,
    DiscountRevocation,
    Installment,
    InstallmentStatus,
)
from legal.policy import allocation_of, policy_for
from legal.simulator import (
    Option,
    Screen,
    Simulation,
    build_screen,
    cents,
    local_today,
    schedule,
    simulate_in,
)

ZERO = Decimal("0.00")
LINK_DAYS = 7
# Who negotiates: agency staff and the creditor's admin; a creditor's viewer only reads.
NEGOTIATING_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.LEGAL,
                               Role.CREDITOR_ADMIN})
# How far each role may grant on its own.
AUTHORITY = {Role.AGENT: ApprovalLevel.AGENT, Role.LEGAL: ApprovalLevel.AGENT,
             Role.SUPERVISOR: ApprovalLevel.SUPERVISOR, Role.ADMIN: ApprovalLevel.SUPERVISOR,
             Role.CREDITOR_ADMIN: ApprovalLevel.CREDITOR}
RANK = {ApprovalLevel.AGENT: 0, ApprovalLevel.SUPERVISOR: 1, ApprovalLevel.CREDITOR: 2}
# Who decides each queue: supervisors (and the agency admin) the supervisor's, the
# creditor's own admin the creditor's.
DECIDERS = {ApprovalLevel.SUPERVISOR: frozenset({Role.SUPERVISOR, Role.ADMIN}),
            ApprovalLevel.CREDITOR: frozenset({Role.CREDITOR_ADMIN})}
BUCKET_COLUMNS = {b: b.value for b in Bucket}


def _may_negotiate(principal: Principal) -> None:
    if principal.role not in NEGOTIATING_ROLES:
        raise Forbidden("seu perfil não pode negociar acordos")


async def _event(session: AsyncSession, principal: Principal, agreement: Agreement, what: str,
                 title: str, *, detail: str | None = None, amount: Decimal | None = None,
                 by_label: str | None = None) -> None:
    """The step on the debtor's timeline (`agreement.<what>`), by the user who took it or,
    for a job or the debtor, by `by_label`."""
    await debtor_events.record(
        session, debtor_id=agreement.debtor_id, kind=f"agreement.{what}", title=title,
        detail=detail, amount=amount,
        user_id=None if principal.is_system else principal.user_id,
        by_label=by_label if principal.is_system else None, source_id=agreement.id,
        link=f"/acordos/{agreement.id}")


# ---- terms -----------------------------------------------------------------------------

def terms_text(creditor: Tenant, debtor: Debtor, sim: Simulation, option: Option,
               tolerance_days: int, revocation: str) -> str:
    """The agreement's terms in Portuguese, as the debtor reads and accepts them."""
    debts = "\n".join(f"  - {u.label}, vencido em {date_br(u.due_date)}: saldo atualizado"
                      f" {brl(u.total)}" for u in sim.updates)
    rows = "\n".join(f"  {i.number}. {date_br(i.due_date)}: {brl(i.amount)}"
                     + (" (entrada)" if i.number == 1 and option.installments > 1 else "")
                     for i in option.schedule)
    revoked = {DiscountRevocation.PROPORTIONAL.value: "os descontos concedidos são revogados"
               " na proporção do valor não pago", DiscountRevocation.FULL.value:
               "os descontos concedidos são revogados integralmente",
               DiscountRevocation.NONE.value: "os descontos concedidos são mantidos"}[revocation]
    document = (("CPF " if debtor.document_kind == "cpf" else "CNPJ ")
                + format_document(debtor.document_kind, debtor.document))
    return (
        f"TERMO DE ACORDO EXTRAJUDICIAL\n\n"
        f"Credor: {creditor.legal_name}, CNPJ {format_document('cnpj', creditor.cnpj)}"
        + (f", {creditor.address}" if creditor.address else "") + ".\n"
        f"Devedor(a): {debtor.name}, {document}.\n\n"
        f"1. O(A) devedor(a) reconhece a dívida abaixo, atualizada em {date_br(sim.at)}"
        f" (memória de cálculo anexa):\n{debts}\n"
        f"   Total atualizado: {brl(option.updated_balance)}.\n"
        f"2. O credor concede desconto de {brl(option.discount_total)}. O valor do acordo é"
        f" {brl(option.total)}"
        + (f", incluídos {brl(option.installment_interest)} de juros do parcelamento"
           if option.installment_interest else "") + ", pago assim:\n" + rows + "\n"
        f"3. Os pagamentos são feitos pelos boletos ou códigos PIX enviados ao(à) devedor(a).\n"
        f"4. Enquanto o acordo for cumprido, os títulos ficam suspensos de cobrança.\n"
        f"5. Quebra: uma parcela não paga até {tolerance_days} dias após o vencimento"
        f" rompe o acordo; o saldo não pago volta a ser cobrado, {revoked}, e a cobrança dos"
        f" títulos é retomada.\n"
        f"6. Pago o acordo, os títulos são quitados.\n")


# ---- creation --------------------------------------------------------------------------

@dataclass
class Created:
    agreement_id: uuid.UUID
    status: str
    approval_level: str
    approval_request_id: uuid.UUID | None


async def create(principal: Principal, debtor_id: uuid.UUID, option_number: int,
                 debt_ids: list[uuid.UUID] | None = None, at: dt.date | None = None, *,
                 by_label: str | None = None) -> Created:
    """An agreement on the simulated option `option_number` (the simulation is run again
    here: the figures are never taken from the client). `by_label` names, on the debtor's
    timeline, who proposed it when no user did (the debtor on the self-service page)."""
    _may_negotiate(principal)
    async with transaction(principal) as session:
        checked = await access_debtor(session, principal, debtor_id)
        sim = await simulate_in(session, checked, debt_ids, at)
        chosen = [o for o in sim.options if o.option == option_number]
        if not chosen:
            raise ValidationFailed({"option": f"escolha uma das opções de 1 a {len(sim.options)}"})
        return await _create(session, principal, sim, chosen[0], by_label)


async def _create(session: AsyncSession, principal: Principal, sim: Simulation,
                  option: Option, by_label: str | None = None) -> Created:
    debtor = (await session.execute(select(Debtor).where(Debtor.id == sim.debtor_id))
              ).scalar_one()
    creditor = (await session.execute(select(Tenant).where(Tenant.id == sim.tenant_id))
                ).scalar_one()
    policy = await policy_for(session, sim.tenant_id)
    authority = AUTHORITY[principal.role] if not principal.is_system else ApprovalLevel.AGENT
    needs = option.approval
    approved_here = RANK[authority] >= RANK[needs]
    now = dt.datetime.now(dt.UTC)
    by = None if principal.is_system else principal.user_id
    agreement = Agreement(
        tenant_id=sim.tenant_id, id=uuid7(), debtor_id=sim.debtor_id,
        status=AgreementStatus.PROPOSED if approved_here else AgreementStatus.PENDING_APPROVAL,
        reference_date=sim.at,
        terms=terms_text(creditor, debtor, sim, option, policy.breach_tolerance_days,
                         policy.discount_revocation),
        calculation={"debts": [u.as_json() for u in sim.updates], "option": option.as_json(),
                     "notes": sim.notes,
                     "interest_by_debt": _share_interest(sim, option)},
        option_label=option.label, updated_balance=option.updated_balance,
        discount_total=option.discount_total, installment_interest=option.installment_interest,
        total=option.total, down_payment=option.down_payment,
        installment_count=option.installments, installment_amount=option.installment_amount,
        approval_level=needs,
        approved_by=by if approved_here and needs != ApprovalLevel.AGENT else None,
        approved_at=now if approved_here and needs != ApprovalLevel.AGENT else None,
        created_by=by)
    session.add(agreement)
    await session.flush()
    for u in sim.updates:
        d = option.discounts.get(u.debt_id, {})
        session.add(AgreementDebt(
            tenant_id=sim.tenant_id, id=uuid7(), agreement_id=agreement.id, debt_id=u.debt_id,
            principal=u.principal, correction=u.correction, interest=u.interest, fine=u.fine,
            fees=u.fees, **{f"discount_{b.value}": d.get(b, ZERO) for b in Bucket}))
    for inst in option.schedule:
        session.add(Installment(tenant_id=sim.tenant_id, id=uuid7(), agreement_id=agreement.id,
                                number=inst.number, due_date=inst.due_date, amount=inst.amount,
                                status=InstallmentStatus.OPEN))
    request_id = None
    if not approved_here:
        request = ApprovalRequest(
            tenant_id=sim.tenant_id, id=uuid7(), agreement_id=agreement.id,
            level=needs.value, status=ApprovalStatus.PENDING, why=option.approval_why[:500],
            requested_by=by)
        session.add(request)
        request_id = request.id
    await session.flush()
    await audit.record(session, principal.actor, "agreement.created", tenant_id=sim.tenant_id,
                       entity="agreement", entity_id=agreement.id,
                       after={"debtor_id": sim.debtor_id, "option": option.label,
                              "total": option.total, "discount": option.discount_total,
                              "installments": option.installments, "approval": needs.value,
                              "status": agreement.status})
    await _event(session, principal, agreement, "proposed", "Proposta de acordo",
                 detail=option.label + ("" if approved_here else
                                        f"; aguarda aprovação do {APPROVAL_LEVEL_LABELS[needs]}"),
                 amount=option.total, by_label=by_label)
    return Created(agreement.id, agreement.status, needs.value, request_id)


def _share_interest(sim: Simulation, option: Option) -> dict[str, str]:
    """The installment interest split among the debts by their net amount (the last
    debt takes the rounding remainder)."""
    if not option.installment_interest:
        return {}
    nets = [(u.debt_id, u.total - sum(option.discounts.get(u.debt_id, {}).values(), ZERO))
            for u in sim.updates]
    base = sum((n for _, n in nets), ZERO)
    out: dict[str, str] = {}
    left = option.installment_interest
    for i, (debt_id, net) in enumerate(nets):
        share = left if i == len(nets) - 1 else cents(option.installment_interest * net / base)
        left -= share
        out[str(debt_id)] = str(share)
    return out


# ---- approvals -------------------------------------------------------------------------

async def decide(principal: Principal, request_id: uuid.UUID, accept: bool | None,
                 reason: str | None, *, at: dt.datetime | None = None) -> uuid.UUID:
    """A supervisor or the creditor answers a request (at `at`, now by default); the
    agreement then awaits acceptance, or is cancelled with the reason."""
    async with transaction(principal) as session:
        request = (await session.execute(select(ApprovalRequest).where(
            ApprovalRequest.id == request_id).with_for_update())).scalar_one_or_none()
        if request is None or not principal.may_work(request.tenant_id):
            raise NotFound("pedido de aprovação")
        if principal.role not in DECIDERS[ApprovalLevel(request.level)]:
            raise Forbidden("este pedido é decidido pelo "
                            + APPROVAL_LEVEL_LABELS[ApprovalLevel(request.level)])
        if request.status != ApprovalStatus.PENDING:
            raise Conflict({"request": "este pedido já foi decidido"})
        if accept is None:
            raise ValidationFailed({"accept": "informe se aprova ou recusa"})
        text = (reason or "").strip()
        if not accept and not text:
            raise ValidationFailed({"reason": "informe o motivo da recusa"})
        if len(text) > 1000:
            raise ValidationFailed({"reason": "no máximo 1000 caracteres"})
        agreement = (await session.execute(select(Agreement).where(
            Agreement.id == request.agreement_id).with_for_update())).scalar_one()
        creditor = (await session.execute(select(Tenant.trade_name).where(
            Tenant.id == agreement.tenant_id))).scalar_one()
        now = at or dt.datetime.now(dt.UTC)
        request.status = ApprovalStatus.ACCEPTED if accept else ApprovalStatus.REFUSED
        request.reason = text or None
        request.decided_by = principal.user_id
        request.decided_at = now
        level = APPROVAL_LEVEL_LABELS[ApprovalLevel(request.level)]
        if accept:
            agreement.status = AgreementStatus.PROPOSED
            agreement.approved_by, agreement.approved_at = principal.user_id, now
            link = get_settings().public_base_url() + _new_link(agreement)
            assert agreement.link_expires_at is not None
            notice = notices.approved_notice(creditor, agreement, link,
                                             agreement.link_expires_at)
        else:
            agreement.status = AgreementStatus.CANCELLED
            agreement.cancelled_at = now
            for inst in (await session.execute(select(Installment).where(
                    Installment.agreement_id == agreement.id))).scalars():
                inst.status = InstallmentStatus.CANCELLED
            agreement.cancel_reason = f"recusado pelo {level}: {text}"[:500]
            notice = notices.refused_notice(creditor, agreement)
        agreement.updated_at = now
        request.debtor_notice = await notices.tell_debtor(session, agreement, notice, now)
        await audit.record(session, principal.actor,
                           "agreement.approved" if accept else "agreement.refused",
                           tenant_id=agreement.tenant_id, entity="agreement",
                           entity_id=agreement.id,
                           after={"level": request.level, "reason": text or None,
                                  "debtor_notice": request.debtor_notice})
        await _event(session, principal, agreement, "approved" if accept else "refused",
                     f"Acordo {'aprovado' if accept else 'recusado'} pelo {level}",
                     detail=" · ".join(p for p in (text and f"motivo: {text}",
                                                   request.debtor_notice) if p))
        return agreement.id


@dataclass
class QueueItem:
    request_id: uuid.UUID
    agreement_id: uuid.UUID
    tenant_id: uuid.UUID
    debtor_id: uuid.UUID
    debtor_name: str
    level: str
    level_label: str
    status: str
    status_label: str
    why: str
    reason: str | None
    option_label: str
    total: Decimal
    discount_total: Decimal
    created_at: dt.datetime
    decided_at: dt.datetime | None
    may_decide: bool
    debtor_notice: str | None  # what the debtor was sent with the answer


async def queue(principal: Principal, include_decided: bool = False) -> list[QueueItem]:
    """The approval requests this principal's role decides (agents see their own)."""
    levels = [lvl for lvl, roles in DECIDERS.items() if principal.role in roles]
    async with transaction(principal) as session:
        query = (select(ApprovalRequest, Agreement, Debtor.name)
                 .join(Agreement, (Agreement.tenant_id == ApprovalRequest.tenant_id)
                       & (Agreement.id == ApprovalRequest.agreement_id))
                 .join(Debtor, (Debtor.tenant_id == Agreement.tenant_id)
                       & (Debtor.id == Agreement.debtor_id))
                 .order_by(ApprovalRequest.created_at.desc()).limit(200))
        if levels:
            query = query.where(ApprovalRequest.level.in_([lvl.value for lvl in levels]))
        else:
            query = query.where(ApprovalRequest.requested_by == principal.user_id)
        if not include_decided:
            query = query.where(ApprovalRequest.status == ApprovalStatus.PENDING)
        rows = (await session.execute(query)).all()
        return [QueueItem(
            request_id=r.id, agreement_id=a.id, tenant_id=a.tenant_id, debtor_id=a.debtor_id,
            debtor_name=name, level=r.level,
            level_label=APPROVAL_LEVEL_LABELS[ApprovalLevel(r.level)], status=r.status,
            status_label=APPROVAL_STATUS_LABELS[ApprovalStatus(r.status)], why=r.why,
            reason=r.reason, option_label=a.option_label, total=a.total,
            discount_total=a.discount_total, created_at=r.created_at, decided_at=r.decided_at,
            may_decide=r.status == ApprovalStatus.PENDING and ApprovalLevel(r.level) in levels,
            debtor_notice=r.debtor_notice)
            for r, a, name in rows]


# ---- acceptance ------------------------------------------------------------------------

async def accept_by_agent(principal: Principal, agreement_id: uuid.UUID,
                          call_recording_ref: str | None) -> None:
    _may_negotiate(principal)
    ref = (call_recording_ref or "").strip()
    async with transaction(principal) as session:
        checked = await access_agreement(session, principal, agreement_id)
        if not ref:
            raise ValidationFailed({"call_recording_ref": "informe a referência da gravação"
                                                          " da ligação em que o devedor aceitou"})
        if len(ref) > 200:
            raise ValidationFailed({"call_recording_ref": "no máximo 200 caracteres"})
        agreement = await _locked(session, checked)
        agreement.accepted_via = AcceptanceChannel.AGENT
        agreement.accepted_by = principal.user_id
        agreement.call_recording_ref = ref
        await _activate(session, principal, agreement)


async def _locked(session: AsyncSession, agreement_id: uuid.UUID) -> Agreement:
    agreement = (await session.execute(select(Agreement).where(
        Agreement.id == agreement_id).with_for_update())).scalar_one()
    if agreement.status == AgreementStatus.PENDING_APPROVAL:
        raise Conflict({"status": "o acordo aguarda aprovação"})
    if agreement.status != AgreementStatus.PROPOSED:
        raise Conflict({"status": "o acordo não está aguardando aceite (situação: "
                                  f"{AGREEMENT_STATUS_LABELS[AgreementStatus(agreement.status)]})"})
    return agreement


async def _activate(session: AsyncSession, principal: Principal, agreement: Agreement) -> None:
    """Accepted: charges and discounts to the ledger, debts in agreement."""
    rows = list((await session.execute(select(AgreementDebt).where(
        AgreementDebt.agreement_id == agreement.id))).scalars())
    debts = {d.id: d for d in (await session.execute(select(Debt).where(
        Debt.id.in_([r.debt_id for r in rows])).with_for_update())).scalars()}
    taken = [d for d in debts.values() if d.status != DebtStatus.OPEN]
    if taken:
        raise Conflict({"debts": "título(s) não estão mais em aberto: "
                                 + ", ".join(f"{d.contract} / {d.installment}" for d in taken)})
    current = await ledger.balances(session, list(debts))
    interest = {uuid.UUID(k): Decimal(v)
                for k, v in agreement.calculation.get("interest_by_debt", {}).items()}
    day = agreement.reference_date
    for row in rows:
        lines: list[tuple[Bucket, EntryKind, Decimal]] = []
        for b in Bucket:
            if b == Bucket.PRINCIPAL:
                continue
            target = getattr(row, b.value) + (interest.get(row.debt_id, ZERO)
                                               if b == Bucket.INTEREST else ZERO)
            delta = target - current[row.debt_id].get(b, ZERO)
            if delta:
                lines.append((b, EntryKind.ACCRUAL, delta))
        for b in Bucket:
            off = getattr(row, f"discount_{b.value}")
            if off:
                lines.append((b, EntryKind.DISCOUNT, -off))
        await ledger.post(session, principal, DebtId(row.debt_id), lines, source="agreement",
                          source_id=agreement.id, posted_on=day,
                          note=f"acordo {agreement.option_label}")
        debt = debts[row.debt_id]
        debt.status = DebtStatus.IN_AGREEMENT
        debt.status_reason = f"acordo {agreement.id}"
        debt.updated_at = dt.datetime.now(dt.UTC)
    agreement.status = AgreementStatus.ACTIVE
    agreement.accepted_at = dt.datetime.now(dt.UTC)
    agreement.updated_at = agreement.accepted_at
    await session.flush()
    await audit.record(session, principal.actor, "agreement.accepted",
                       tenant_id=agreement.tenant_id, entity="agreement", entity_id=agreement.id,
                       after={"via": agreement.accepted_via, "ip": agreement.accepted_ip,
                              "user_agent": agreement.accepted_user_agent,
                              "call_recording_ref": agreement.call_recording_ref,
                              "debts": [str(r.debt_id) for r in rows]})
    by_link = agreement.accepted_via == AcceptanceChannel.DEBTOR_LINK
    await _event(session, principal, agreement, "accepted", "Aceite do acordo",
                 detail=(f"pelo devedor, no link de aceite (IP {agreement.accepted_ip or '?'})"
                         if by_link else
                         f"na ligação, gravação {agreement.call_recording_ref}"),
                 amount=agreement.total, by_label="o devedor, pelo link de aceite")


def _sign(payload: str) -> str:
    key = get_settings().resolved_secret_key().encode()
    return hmac.new(key, f"agreement-link:{payload}".encode(), hashlib.sha256).hexdigest()[:32]


async def issue_link(principal: Principal, agreement_id: uuid.UUID) -> str:
    """A one-time acceptance link for the debtor (valid LINK_DAYS days); a new link
    replaces the previous one."""
    _may_negotiate(principal)
    async with transaction(principal) as session:
        checked = await access_agreement(session, principal, agreement_id)
        agreement = await _locked(session, checked)
        path = _new_link(agreement)
        await audit.record(session, principal.actor, "agreement.link_issued",
                           tenant_id=agreement.tenant_id, entity="agreement",
                           entity_id=agreement.id,
                           after={"expires_at": agreement.link_expires_at})
        return path


def _new_link(agreement: Agreement) -> str:
    """A new one-time link's path (the previous link stops working)."""
    nonce = secrets.token_urlsafe(16)
    agreement.link_nonce = hashlib.sha256(nonce.encode()).hexdigest()
    agreement.link_expires_at = dt.datetime.now(dt.UTC) + dt.timedelta(days=LINK_DAYS)
    agreement.link_used_at = None
    payload = f"{agreement.tenant_id.hex}.{agreement.id.hex}.{nonce}"
    return f"/acordo?t={payload}.{_sign(payload)}"


def _parse_token(token: str) -> tuple[uuid.UUID, uuid.UUID, str]:
    try:
        tenant_hex, agreement_hex, nonce, signature = token.split(".")
        payload = f"{tenant_hex}.{agreement_hex}.{nonce}"
        if not hmac.compare_digest(signature, _sign(payload)):
            raise ValueError
        return uuid.UUID(hex=tenant_hex), uuid.UUID(hex=agreement_hex), nonce
    except ValueError:
        raise NotFound("link") from None


async def _by_link(session: AsyncSession, agreement_id: uuid.UUID, nonce: str) -> Agreement:
    agreement = (await session.execute(select(Agreement).where(
        Agreement.id == agreement_id).with_for_update())).scalar_one_or_none()
    valid = (agreement is not None and agreement.link_nonce is not None
             and hmac.compare_digest(agreement.link_nonce,
                                     hashlib.sha256(nonce.encode()).hexdigest())
             and agreement.link_used_at is None
             and agreement.link_expires_at is not None
             and agreement.link_expires_at > dt.datetime.now(dt.UTC)
             and agreement.status == AgreementStatus.PROPOSED)
    if not valid or agreement is None:
        raise NotFound("link (expirado, já usado ou inexistente)")
    return agreement


@dataclass
class LinkView:
    terms: str
    total: Decimal
    installments: list[tuple[int, dt.date, Decimal]]


async def view_by_link(token: str) -> LinkView:
    tenant_id, agreement_id, nonce = _parse_token(token)
    async with transaction(Principal.system(Scope.tenant(tenant_id))) as session:
        agreement = await _by_link(session, agreement_id, nonce)
        rows = (await session.execute(select(Installment).where(
            Installment.agreement_id == agreement.id).order_by(Installment.number))).scalars()
        return LinkView(agreement.terms, agreement.total,
                        [(i.number, i.due_date, i.amount) for i in rows])


async def accept_by_link(token: str, ip: str | None, user_agent: str | None) -> uuid.UUID:
    tenant_id, agreement_id, nonce = _parse_token(token)
    principal = Principal.system(Scope.tenant(tenant_id))
    async with transaction(principal) as session:
        agreement = await _by_link(session, agreement_id, nonce)
        agreement.accepted_via = AcceptanceChannel.DEBTOR_LINK
        agreement.accepted_ip = (ip or "")[:45] or None
        agreement.accepted_user_agent = (user_agent or "")[:500] or None
        agreement.link_used_at = dt.datetime.now(dt.UTC)
        await _activate(session, principal, agreement)
        return agreement.id


# ---- payments --------------------------------------------------------------------------

async def pay_installment(session: AsyncSession, principal: Principal,
                          installment_id: uuid.UUID, amount: Decimal, paid_on: dt.date, *,
                          source: PaymentSource = PaymentSource.AGENCY,
                          reference: str | None = None) -> Installment:
    """Record a payment of one installment: split among the agreement's debts by their
    share of the agreement, allocated within each debt in the tenant policy's order
    (`allocation_order`: which buckets it settles first, so the commission). The last
    installment paid settles the agreement and its debts. For the payment services
    (PIX webhook, bank returns), inside their transaction."""
    inst = (await session.execute(select(Installment).where(
        Installment.id == installment_id).with_for_update())).scalar_one_or_none()
    if inst is None or not principal.may_work(inst.tenant_id):
        raise NotFound("parcela")
    agreement = (await session.execute(select(Agreement).where(
        Agreement.id == inst.agreement_id).with_for_update())).scalar_one()
    if agreement.status not in RUNNING or inst.status in (InstallmentStatus.PAID,
                                                          InstallmentStatus.CANCELLED):
        raise Conflict({"installment": "a parcela não está em aberto"})
    if amount <= 0:
        raise ValidationFailed({"amount": "o valor pago deve ser maior que zero"})
    rows = list((await session.execute(select(AgreementDebt).where(
        AgreementDebt.agreement_id == agreement.id).order_by(AgreementDebt.id))).scalars())
    balances = await ledger.balances(session, [r.debt_id for r in rows])
    order = allocation_of(await policy_for(session, agreement.tenant_id))
    owed = [(r.debt_id, sum(balances[r.debt_id].values(), ZERO)) for r in rows]
    base = sum((o for _, o in owed if o > 0), ZERO)
    left = amount
    for i, (debt_id, owe) in enumerate(owed):
        if owe <= 0 and i < len(owed) - 1:
            continue
        part = left if i == len(owed) - 1 else min(cents(amount * owe / base), left)
        if part > 0:
            await ledger.record_payment(session, principal, DebtId(debt_id), part,
                                        paid_on=paid_on, source=source, reference=reference,
                                        order=order)
            left -= part
    inst.paid_amount = (inst.paid_amount or ZERO) + amount
    if inst.paid_amount >= inst.amount:
        inst.status = InstallmentStatus.PAID
        inst.paid_at = dt.datetime.combine(paid_on, dt.time(12), dt.UTC)
    inst.updated_at = dt.datetime.now(dt.UTC)
    await session.flush()
    await audit.record(session, principal.actor, "installment.paid", tenant_id=inst.tenant_id,
                       entity="agreement", entity_id=agreement.id,
                       after={"number": inst.number, "amount": amount, "paid_on": paid_on,
                              "reference": reference})
    received = "pagamento recebido (PIX ou boleto)"
    await _event(session, principal, agreement, "installment_paid",
                 f"Pagamento da parcela {inst.number} de {agreement.installment_count} do acordo",
                 detail=f"pago em {date_br(paid_on)}" + (f" · {reference}" if reference else ""),
                 amount=amount, by_label=received)
    remaining = (await session.execute(select(Installment.id).where(
        Installment.agreement_id == agreement.id,
        Installment.status != InstallmentStatus.PAID))).first()
    if remaining is None:
        agreement.status = AgreementStatus.SETTLED
        agreement.settled_at = dt.datetime.now(dt.UTC)
        for debt in (await session.execute(select(Debt).where(
                Debt.id.in_([r.debt_id for r in rows])))).scalars():
            debt.status = DebtStatus.PAID
            debt.closed_at = agreement.settled_at
            debt.status_reason = f"acordo {agreement.id} quitado"
        await audit.record(session, principal.actor, "agreement.settled",
                           tenant_id=agreement.tenant_id, entity="agreement",
                           entity_id=agreement.id, after={"total": agreement.total})
        await _event(session, principal, agreement, "settled", "Quitação do acordo",
                     detail="todas as parcelas pagas; títulos quitados", amount=agreement.total,
                     by_label=received)
    return inst


async def record_payment(principal: Principal, installment_id: uuid.UUID, amount: Decimal,
                         paid_on: dt.date, reference: str | None = None) -> None:
    """Staff record a payment of an installment (e.g. a transfer the debtor proves)."""
    _may_negotiate(principal)
    async with transaction(principal) as session:
        await pay_installment(session, principal, installment_id, amount, paid_on,
                              reference=reference)


# ---- breach and reinstatement ----------------------------------------------------------

async def check_breaches(session: AsyncSession, principal: Principal, tenant_id: uuid.UUID,
                         today: dt.date) -> list[uuid.UUID]:
    """The daily check of one tenant: installments past due become overdue; one unpaid
    past the tolerance breaks its agreement. Returns the agreements broken."""
    policy = await policy_for(session, tenant_id)
    tolerance = dt.timedelta(days=policy.breach_tolerance_days)
    rows = (await session.execute(
        select(Installment, Agreement)
        .join(Agreement, (Agreement.tenant_id == Installment.tenant_id)
              & (Agreement.id == Installment.agreement_id))
        .where(Installment.tenant_id == tenant_id,
               Installment.status.in_([InstallmentStatus.OPEN, InstallmentStatus.OVERDUE]),
               Installment.due_date < today, Agreement.status.in_(list(RUNNING)))
        .order_by(Installment.due_date))).all()
    broken: list[uuid.UUID] = []
    for inst, agreement in rows:
        if agreement.id in broken:
            continue
        if inst.due_date + tolerance < today:
            await _break(session, principal, agreement, policy.discount_revocation,
                         f"parcela {inst.number} de {date_br(inst.due_date)} não paga até"
                         f" {policy.breach_tolerance_days} dias após o vencimento")
            broken.append(agreement.id)
        elif inst.status == InstallmentStatus.OPEN:
            inst.status = InstallmentStatus.OVERDUE
    await session.flush()
    return broken


async def _break(session: AsyncSession, principal: Principal, agreement: Agreement,
                 revocation: str, reason: str) -> None:
    installments = list((await session.execute(select(Installment).where(
        Installment.agreement_id == agreement.id).with_for_update())).scalars())
    paid = sum((i.paid_amount or ZERO for i in installments), ZERO)
    unpaid = max(agreement.total - paid, ZERO)
    share = unpaid / agreement.total if agreement.total else Decimal(0)
    factor = {DiscountRevocation.PROPORTIONAL.value: share,
              DiscountRevocation.FULL.value: Decimal(1),
              DiscountRevocation.NONE.value: Decimal(0)}[revocation]
    rows = list((await session.execute(select(AgreementDebt).where(
        AgreementDebt.agreement_id == agreement.id))).scalars())
    interest = {k: Decimal(v) for k, v in agreement.calculation.get("interest_by_debt", {}).items()}
    revoked: dict[str, dict[str, str]] = {}
    debts = {d.id: d for d in (await session.execute(select(Debt).where(
        Debt.id.in_([r.debt_id for r in rows])).with_for_update())).scalars()}
    for row in rows:
        lines = []
        back: dict[str, str] = {}
        for b in Bucket:
            value = (getattr(row, f"discount_{b.value}") * factor).quantize(
                Decimal("0.01"), rounding=ROUND_HALF_EVEN)
            if value:
                lines.append((b, EntryKind.DISCOUNT, value))
                back[b.value] = str(value)
        # Interest of installments never paid is not owed.
        unearned = (interest.get(str(row.debt_id), ZERO) * share).quantize(Decimal("0.01"))
        if unearned:
            lines.append((Bucket.INTEREST, EntryKind.ACCRUAL, -unearned))
            back["unearned_interest"] = str(unearned)
        revoked[str(row.debt_id)] = back
        await ledger.post(session, principal, DebtId(row.debt_id), lines, source="agreement",
                          source_id=agreement.id, note="quebra do acordo: desconto revogado")
        debt = debts[row.debt_id]
        debt.status = DebtStatus.OPEN
        debt.status_reason = f"acordo {agreement.id} quebrado"
        debt.updated_at = dt.datetime.now(dt.UTC)
    for inst in installments:
        if inst.status in (InstallmentStatus.OPEN, InstallmentStatus.OVERDUE):
            inst.status = InstallmentStatus.CANCELLED
    agreement.status = AgreementStatus.BROKEN
    agreement.broken_at = dt.datetime.now(dt.UTC)
    agreement.broken_reason = reason[:500]
    agreement.calculation = {**agreement.calculation, "revoked": revoked,
                             "unpaid_at_break": str(unpaid)}
    agreement.updated_at = agreement.broken_at
    await session.flush()
    await audit.record(session, principal.actor, "agreement.broken",
                       tenant_id=agreement.tenant_id, entity="agreement", entity_id=agreement.id,
                       after={"reason": reason, "unpaid": unpaid, "revocation": revocation,
                              "revoked": revoked})
    await _event(session, principal, agreement, "broken", "Quebra do acordo",
                 detail=f"{reason}; o saldo não pago volta à cobrança", amount=unpaid,
                 by_label="verificação diária dos acordos")


async def break_overdue(tenant_id: uuid.UUID, today: dt.date | None = None) -> list[uuid.UUID]:
    """The daily job's work for one tenant."""
    principal = Principal.system(Scope.tenant(tenant_id))
    async with transaction(principal) as session:
        day = today or await local_today(session, tenant_id)
        return await check_breaches(session, principal, tenant_id, day)


async def reinstate(principal: Principal, agreement_id: uuid.UUID,
                    at: dt.date | None = None) -> None:
    """Revive a broken agreement once, when the policy allows: the revoked discounts are
    granted again, the unpaid installments get new due dates from today."""
    _may_negotiate(principal)
    async with transaction(principal) as session:
        checked = await access_agreement(session, principal, agreement_id)
        agreement = (await session.execute(select(Agreement).where(
            Agreement.id == checked).with_for_update())).scalar_one()
        policy = await policy_for(session, agreement.tenant_id)
        if agreement.status != AgreementStatus.BROKEN:
            raise Conflict({"status": "só um acordo quebrado pode ser restabelecido"})
        if agreement.reinstated_at is not None:
            raise Conflict({"status": "este acordo já foi restabelecido uma vez"})
        if not policy.reinstatement_allowed:
            raise Conflict({"status": "a política do credor não permite restabelecer acordos"})
        rows = list((await session.execute(select(AgreementDebt).where(
            AgreementDebt.agreement_id == agreement.id))).scalars())
        debts = {d.id: d for d in (await session.execute(select(Debt).where(
            Debt.id.in_([r.debt_id for r in rows])).with_for_update())).scalars()}
        taken = [d for d in debts.values() if d.status != DebtStatus.OPEN]
        if taken:
            raise Conflict({"debts": "título(s) não estão mais em aberto: "
                            + ", ".join(f"{d.contract} / {d.installment}" for d in taken)})
        revoked = agreement.calculation.get("revoked", {})
        for row in rows:
            back = revoked.get(str(row.debt_id), {})
            lines = [(Bucket(b), EntryKind.DISCOUNT, -Decimal(v)) for b, v in back.items()
                     if b != "unearned_interest"]
            if back.get("unearned_interest"):
                lines.append((Bucket.INTEREST, EntryKind.ACCRUAL,
                              Decimal(back["unearned_interest"])))
            await ledger.post(session, principal, DebtId(row.debt_id), lines,
                              source="agreement", source_id=agreement.id,
                              note="acordo restabelecido")
            debts[row.debt_id].status = DebtStatus.IN_AGREEMENT
            debts[row.debt_id].status_reason = f"acordo {agreement.id} restabelecido"
        day = at or await local_today(session, agreement.tenant_id)
        state = (await session.execute(select(Tenant.state).where(
            Tenant.id == agreement.tenant_id))).scalar_one()
        pending = list((await session.execute(select(Installment).where(
            Installment.agreement_id == agreement.id,
            Installment.status == InstallmentStatus.CANCELLED)
            .order_by(Installment.number).with_for_update())).scalars())
        dates = schedule(day, len(pending), state, policy.max_first_due_days)
        for inst, (due, _) in zip(pending, dates, strict=True):
            inst.status = InstallmentStatus.OPEN
            inst.due_date = due
            inst.updated_at = dt.datetime.now(dt.UTC)
        agreement.status = AgreementStatus.REINSTATED
        agreement.reinstated_at = dt.datetime.now(dt.UTC)
        agreement.reinstated_by = None if principal.is_system else principal.user_id
        agreement.updated_at = agreement.reinstated_at
        await session.flush()
        await audit.record(session, principal.actor, "agreement.reinstated",
                           tenant_id=agreement.tenant_id, entity="agreement",
                           entity_id=agreement.id,
                           after={"installments": [(i.number, i.due_date) for i in pending]})
        await _event(session, principal, agreement, "reinstated", "Acordo restabelecido",
                     detail=f"{len(pending)} parcela(s) com novos vencimentos, a primeira em"
                            f" {date_br(pending[0].due_date)}" if pending else None)


# ---- reading ---------------------------------------------------------------------------

@dataclass
class InstallmentView:
    id: uuid.UUID
    number: int
    due_date: dt.date
    amount: Decimal
    status: str
    status_label: str
    paid_amount: Decimal | None
    paid_at: dt.datetime | None
    nosso_numero: str | None
    txid: str | None


@dataclass
class AgreementView:
    id: uuid.UUID
    tenant_id: uuid.UUID
    debtor_id: uuid.UUID
    debtor_name: str
    status: str
    status_label: str
    option_label: str
    reference_date: dt.date
    updated_balance: Decimal
    discount_total: Decimal
    installment_interest: Decimal
    total: Decimal
    down_payment: Decimal
    installment_count: int
    installment_amount: Decimal
    approval_level: str
    approval_label: str
    terms: str
    memoria: list[str]
    accepted_via: str | None
    accepted_at: dt.datetime | None
    accepted_ip: str | None
    accepted_user_agent: str | None
    call_recording_ref: str | None
    broken_at: dt.datetime | None
    broken_reason: str | None
    reinstated_at: dt.datetime | None
    cancel_reason: str | None
    created_at: dt.datetime
    installments: list[InstallmentView]
    approvals: list[dict[str, Any]]
    debts: list[dict[str, Any]]


async def get(principal: Principal, agreement_id: uuid.UUID) -> AgreementView:
    async with transaction(principal) as session:
        checked = await access_agreement(session, principal, agreement_id)
        return (await _views(session, [checked]))[0]


async def for_debtor(principal: Principal, debtor_id: uuid.UUID) -> list[AgreementView]:
    async with transaction(principal) as session:
        checked = await access_debtor(session, principal, debtor_id)
        return await debtor_views(session, checked)


async def debtor_views(session: AsyncSession, debtor_id: DebtorId) -> list[AgreementView]:
    """The debtor's agreements, newest first, inside the caller's transaction (the
    judicial dossier reads them beside everything else of the file)."""
    ids = list((await session.execute(select(Agreement.id).where(
        Agreement.debtor_id == debtor_id).order_by(Agreement.created_at.desc()))).scalars())
    return await _views(session, ids)


LIST_MAX = 300


async def listed(principal: Principal, status: str | None = None) -> list[AgreementView]:
    """The latest agreements of every tenant the principal works (a creditor: its own),
    optionally of one status; broken ones are how a creditor sees a breach."""
    if status is not None and status not in {s.value for s in AgreementStatus}:
        raise ValidationFailed({"status": "situação desconhecida"})
    async with transaction(principal) as session:
        query = select(Agreement.id).order_by(Agreement.updated_at.desc()).limit(LIST_MAX)
        if status:
            query = query.where(Agreement.status == status)
        return await _views(session, list((await session.execute(query)).scalars()))


async def negotiation_screen(principal: Principal, debtor_id: uuid.UUID,
                             debt_ids: list[uuid.UUID] | None, at: dt.date | None) -> Screen:
    """The negotiation screen: debts to choose, the options, the debtor's agreements."""
    async with transaction(principal) as session:
        checked = await access_debtor(session, principal, debtor_id)
        found = await build_screen(session, checked, debt_ids, at)
        ids = list((await session.execute(select(Agreement.id).where(
            Agreement.debtor_id == checked))).scalars())
        found.agreements = await _views(session, ids)
        return found


async def _views(session: AsyncSession, ids: Sequence[uuid.UUID]) -> list[AgreementView]:
    if not ids:
        return []
    agreements = list((await session.execute(select(Agreement).where(Agreement.id.in_(ids))
                                             .order_by(Agreement.updated_at.desc()))).scalars())
    names = {debtor_id: name for debtor_id, name in (await session.execute(
        select(Debtor.id, Debtor.name).where(Debtor.id.in_([a.debtor_id for a in agreements]))))}
    insts: dict[uuid.UUID, list[InstallmentView]] = {}
    for i in (await session.execute(select(Installment).where(
            Installment.agreement_id.in_(ids)).order_by(Installment.number))).scalars():
        insts.setdefault(i.agreement_id, []).append(InstallmentView(
            id=i.id, number=i.number, due_date=i.due_date, amount=i.amount, status=i.status,
            status_label=INSTALLMENT_STATUS_LABELS[InstallmentStatus(i.status)],
            paid_amount=i.paid_amount, paid_at=i.paid_at, nosso_numero=i.nosso_numero,
            txid=i.txid))
    approvals: dict[uuid.UUID, list[dict[str, Any]]] = {}
    for r in (await session.execute(select(ApprovalRequest).where(
            ApprovalRequest.agreement_id.in_(ids)).order_by(ApprovalRequest.created_at))).scalars():
        approvals.setdefault(r.agreement_id, []).append({
            "id": str(r.id), "level": r.level,
            "level_label": APPROVAL_LEVEL_LABELS[ApprovalLevel(r.level)], "status": r.status,
            "status_label": APPROVAL_STATUS_LABELS[ApprovalStatus(r.status)], "why": r.why,
            "reason": r.reason, "decided_at": r.decided_at})
    debt_rows: dict[uuid.UUID, list[dict[str, Any]]] = {}
    labels = {}
    for row, debt in (await session.execute(
            select(AgreementDebt, Debt).join(Debt, (Debt.tenant_id == AgreementDebt.tenant_id)
                                             & (Debt.id == AgreementDebt.debt_id))
            .where(AgreementDebt.agreement_id.in_(ids)))).all():
        labels[debt.id] = f"{debt.contract} / {debt.installment}"
        debt_rows.setdefault(row.agreement_id, []).append({
            "debt_id": str(debt.id), "label": labels[debt.id], "status": debt.status,
            **{b.value: str(getattr(row, b.value)) for b in Bucket},
            **{f"discount_{b.value}": str(getattr(row, f"discount_{b.value}")) for b in Bucket}})
    out = []
    for a in agreements:
        memoria = [line for d in a.calculation.get("debts", []) for line in d.get("memoria", [])]
        memoria += a.calculation.get("option", {}).get("memoria", [])
        out.append(AgreementView(
            id=a.id, tenant_id=a.tenant_id, debtor_id=a.debtor_id,
            debtor_name=names.get(a.debtor_id, ""), status=a.status,
            status_label=AGREEMENT_STATUS_LABELS[AgreementStatus(a.status)],
            option_label=a.option_label, reference_date=a.reference_date,
            updated_balance=a.updated_balance, discount_total=a.discount_total,
            installment_interest=a.installment_interest, total=a.total,
            down_payment=a.down_payment, installment_count=a.installment_count,
            installment_amount=a.installment_amount, approval_level=a.approval_level,
            approval_label=APPROVAL_LEVEL_LABELS[ApprovalLevel(a.approval_level)],
            terms=a.terms, memoria=memoria, accepted_via=a.accepted_via,
            accepted_at=a.accepted_at, accepted_ip=a.accepted_ip,
            accepted_user_agent=a.accepted_user_agent, call_recording_ref=a.call_recording_ref,
            broken_at=a.broken_at, broken_reason=a.broken_reason,
            reinstated_at=a.reinstated_at, cancel_reason=a.cancel_reason,
            created_at=a.created_at, installments=insts.get(a.id, []),
            approvals=approvals.get(a.id, []), debts=debt_rows.get(a.id, [])))
    return out
