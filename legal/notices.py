"""What the proposer and the debtor are told when an approval request is answered.

- The debtor: a message through the channels (the platform's `aviso` template) by
  e-mail and by SMS, on each channel with a usable contact point. An approved proposal
  carries the one-time acceptance link; a refused one says it was not approved and
  invites another negotiation. The decider's reason is not sent: it is written for the
  agent. A channel whose window is closed now (night, Sunday, a holiday) gets the message
  when it next opens, and the answer says when; one that never opens is recorded as
  blocked on the debtor's timeline, and the answer says so, so the agent knows to call.
- The proposer: the answer waits on the agent desktop until it is marked as seen.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import ContactPointId, DebtId, DebtorId, TenantId, transaction
from core.auth.principal import Principal
from core.channels import service as channels
from core.channels.base import Notice
from core.channels.templates import NOTICE_NAME
from core.collection import contacts
from core.compliance import guard
from core.compliance import policy as contact_policy
from core.errors import NotFound
from core.formatting import brl, date_br, datetime_br
from core.models import CauseKind, Channel, Debtor, DispatchStatus, Tenant
from legal.models import (
    APPROVAL_LEVEL_LABELS,
    Agreement,
    AgreementDebt,
    ApprovalLevel,
    ApprovalRequest,
    ApprovalStatus,
)

CHANNELS = ((Channel.EMAIL, "e-mail"), (Channel.SMS, "SMS"))


def approved_notice(creditor: str, agreement: Agreement, link: str,
                    expires: dt.datetime) -> Notice:
    plan = (f"{agreement.installment_count} parcelas, entrada de {brl(agreement.down_payment)}"
            if agreement.installment_count > 1 else "pagamento à vista")
    return Notice(
        title="proposta de acordo aprovada",
        text=(f"A proposta de acordo com {creditor} foi aprovada: total de"
              f" {brl(agreement.total)} ({plan}). Para ler o termo e aceitar, acesse o link"
              f" abaixo até {date_br(expires.date())}. Ele vale para um único aceite."),
        short=(f"sua proposta de acordo com {creditor} foi aprovada (total"
               f" {brl(agreement.total)}). Leia o termo e aceite até"
               f" {date_br(expires.date())} em:"),
        link=link)


def refused_notice(creditor: str, agreement: Agreement) -> Notice:
    return Notice(
        title="proposta de acordo não aprovada",
        text=(f"A proposta de acordo com {creditor} (total de {brl(agreement.total)}) não foi"
              " aprovada. Podemos negociar outra proposta: fale conosco."),
        short=(f"sua proposta de acordo com {creditor} não foi aprovada. Podemos negociar"
               " outra: fale conosco."))


async def _tenant_zone(session: AsyncSession, tenant_id: uuid.UUID) -> str:
    return (await session.execute(select(Tenant.timezone).where(
        Tenant.id == tenant_id))).scalar_one()


async def tell_debtor(session: AsyncSession, agreement: Agreement, notice: Notice,
                      now: dt.datetime | None = None) -> str:
    """Send `notice` to the agreement's debtor; what happened, in a sentence."""
    debtor = (await session.execute(select(Debtor).where(
        Debtor.id == agreement.debtor_id))).scalar_one()
    debt_ids = tuple(DebtId(d) for d in (await session.execute(
        select(AgreementDebt.debt_id).where(AgreementDebt.agreement_id == agreement.id)
        .order_by(AgreementDebt.id))).scalars())
    tenant_policy = await contact_policy.policy_of(session, TenantId(debtor.tenant_id))
    now = now or dt.datetime.now(dt.UTC)
    sent: list[str] = []
    held: list[str] = []
    zone = ZoneInfo(await _tenant_zone(session, debtor.tenant_id))
    for channel, label in CHANNELS:
        points = await contacts.usable(session, DebtorId(debtor.id), channel)
        if not points:
            continue
        verdict = guard.check_calendar(channel, now, state=debtor.state, zone=debtor.timezone,
                                       tenant=tenant_policy)
        if not verdict.allowed and verdict.next_allowed_at is None:
            await guard.record_blocked(session, DebtorId(debtor.id), channel, verdict,
                                       cause_kind=CauseKind.SYSTEM, process=channels.PROCESS,
                                       contact_point_id=points[0].id, cause_id=agreement.id,
                                       at=now)
            held.append(f"{label} não enviado ({verdict.reason})")
            continue
        dispatch = await channels.enqueue(session, channels.OutboundMessage(
            channel=channel, debtor_id=DebtorId(debtor.id), debt_ids=debt_ids,
            template=NOTICE_NAME, contact_point_id=ContactPointId(points[0].id), notice=notice,
            cause_kind=CauseKind.SYSTEM, cause_id=agreement.id),
            not_before=verdict.next_allowed_at)
        if dispatch.status == DispatchStatus.FAILED:
            held.append(f"{label} não enviado ({dispatch.status_reason})")
        elif verdict.next_allowed_at is not None:
            held.append(f"{label} agendado para {datetime_br(verdict.next_allowed_at, zone)}"
                        f" ({verdict.reason})")
        else:
            sent.append(label)
    what = "link de aceite enviado" if notice.link else "resposta enviada"
    parts = [f"{what} ao devedor por {' e '.join(sent)}"] if sent else []
    parts += held
    if not sent and not held:
        parts.append("devedor sem e-mail ou celular utilizável: avise-o por telefone")
    text = "; ".join(parts)
    return (text[:1].upper() + text[1:])[:300]


# ---- the proposer's notices on the agent desktop -----------------------------------

@dataclass(frozen=True)
class Answer:
    request_id: uuid.UUID
    agreement_id: uuid.UUID
    debtor_id: uuid.UUID
    debtor_name: str
    accepted: bool
    decided_by_label: str
    reason: str | None
    decided_at: dt.datetime
    debtor_notice: str | None
    option_label: str
    total: Decimal


async def answers_for(principal: Principal, limit: int = 50) -> list[Answer]:
    """The answers to this user's approval requests not yet marked as seen."""
    async with transaction(principal) as session:
        rows = (await session.execute(
            select(ApprovalRequest, Agreement, Debtor.name)
            .join(Agreement, (Agreement.tenant_id == ApprovalRequest.tenant_id)
                  & (Agreement.id == ApprovalRequest.agreement_id))
            .join(Debtor, (Debtor.tenant_id == Agreement.tenant_id)
                  & (Debtor.id == Agreement.debtor_id))
            .where(ApprovalRequest.requested_by == principal.user_id,
                   ApprovalRequest.status != ApprovalStatus.PENDING,
                   ApprovalRequest.answer_seen_at.is_(None))
            .order_by(ApprovalRequest.decided_at.desc()).limit(limit))).all()
        return [Answer(r.id, a.id, a.debtor_id, name, r.status == ApprovalStatus.ACCEPTED,
                       APPROVAL_LEVEL_LABELS[ApprovalLevel(r.level)], r.reason,
                       r.decided_at or r.created_at, r.debtor_notice, a.option_label, a.total)
                for r, a, name in rows]


async def acknowledge(principal: Principal, request_id: uuid.UUID) -> None:
    """The proposer has seen the answer (again: nothing changes)."""
    async with transaction(principal) as session:
        request = (await session.execute(select(ApprovalRequest).where(
            ApprovalRequest.id == request_id).with_for_update())).scalar_one_or_none()
        if (request is None or not principal.may_work(request.tenant_id)
                or request.requested_by != principal.user_id
                or request.status == ApprovalStatus.PENDING):
            raise NotFound("resposta de aprovação")
        if request.answer_seen_at is None:
            request.answer_seen_at = dt.datetime.now(dt.UTC)
