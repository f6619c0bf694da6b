"""Sending one message to one debtor on one channel, and what providers say afterwards.

The cadence (or an agent) decides *when*; this module decides nothing about timing:
`send(session, message)` renders the tenant's template for the debtor's debts, sends it
through the channel's provider and records the attempt as an `interaction`;
`enqueue(session, message)` does the rendering now and the sending in a job
(`channels.deliver`) once the caller's transaction commits, or not before a given moment
(a window closed now): the delayed job sends it then, and the `channels.send_due` sweep
sends what a lost job left waiting.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import ContactPointId, DebtId, DebtorId
from core.auth.principal import Principal
from core.channels import email, letters, sms, whatsapp
from core.channels import templates as tpl
from core.channels.base import Attachment, Delivery, Notice, Outgoing
from core.collection import contacts, interactions, ledger
from core.errors import NotFound, ValidationFailed
from core.ids import uuid7
from core.models import (
    CHANNELS_BY_KIND,
    MESSAGE_CHANNELS,
    PLACED,
    CauseKind,
    Channel,
    ContactKind,
    ContactPoint,
    Debt,
    Debtor,
    Direction,
    DispatchStatus,
    Interaction,
    MessageDispatch,
    Outcome,
    Tenant,
)
from core.settings import Settings, get_settings
from core.storage import Storage
from core.storage_keys import message_attachment_key

log = logging.getLogger("regua.channels")

PROCESS = "channels"
OUTCOME = {DispatchStatus.SENT: Outcome.SENT, DispatchStatus.DELIVERED: Outcome.DELIVERED,
           DispatchStatus.READ: Outcome.READ, DispatchStatus.FAILED: Outcome.FAILED,
           DispatchStatus.BOUNCED: Outcome.BOUNCED}
# A later status never takes a message back (a late "sent" after "read" is ignored).
RANK = {DispatchStatus.QUEUED: 0, DispatchStatus.SENT: 1, DispatchStatus.DELIVERED: 2,
        DispatchStatus.READ: 3, DispatchStatus.FAILED: 4, DispatchStatus.BOUNCED: 4}


@dataclass(frozen=True)
class OutboundMessage:
    """One message the cadence or an agent wants sent.

    `debt_ids`: the debtor's debts it is about (one message per debtor lists them all;
    empty: every placed debt of the debtor). `contact_point_id`: where to send it
    (empty: the best usable contact point for the channel)."""

    channel: Channel
    debtor_id: DebtorId
    debt_ids: tuple[DebtId, ...] = ()
    template: str = tpl.DEFAULT_NAME
    contact_point_id: ContactPointId | None = None
    attachments: tuple[Attachment, ...] = ()
    cause_kind: CauseKind = CauseKind.SYSTEM
    cause_id: uuid.UUID | None = None  # the cadence action, campaign or agent (user id)
    # A text of the caller's own instead of the tenant's template (a legal notice whose
    # wording the law sets), and the variables it adds to the context.
    template_source: tpl.TemplateSource | None = None
    context_extra: Mapping[str, Any] = field(default_factory=dict)
    notice: Notice | None = None  # the template's `aviso` (templates.NOTICE_NAME)


def provider_of(channel: Channel, settings: Settings) -> tuple[str, bool]:
    """The provider a channel uses now, and whether it is the local sandbox."""
    if channel is Channel.EMAIL:
        return "smtp", settings.email_sandboxed
    if channel is Channel.SMS:
        return sms.PROVIDER, settings.sms_sandboxed
    if channel is Channel.WHATSAPP:
        return whatsapp.PROVIDER, settings.whatsapp_sandboxed
    return letters.PROVIDER, False


async def _contact_point(session: AsyncSession, message: OutboundMessage) -> ContactPoint | None:
    if message.contact_point_id is None:
        usable = await contacts.usable(session, message.debtor_id, message.channel)
        return usable[0] if usable else None
    point = (await session.execute(select(ContactPoint).where(
        ContactPoint.id == message.contact_point_id,
        ContactPoint.debtor_id == message.debtor_id))).scalar_one_or_none()
    if point is None or message.channel not in CHANNELS_BY_KIND[ContactKind(point.kind)]:
        raise ValidationFailed({"contact_point_id": "contato inválido para este canal"})
    opted = await contacts.active_opt_outs(session, [point])
    if message.channel in opted[point.id]:
        return None
    return point


async def _debts(session: AsyncSession, message: OutboundMessage) -> list[Debt]:
    query = select(Debt).where(Debt.debtor_id == message.debtor_id)
    if message.debt_ids:
        query = query.where(Debt.id.in_(message.debt_ids))
    else:
        query = query.where(Debt.status.in_(PLACED))
    found = list((await session.execute(query.order_by(Debt.due_date, Debt.contract,
                                                       Debt.installment))).scalars())
    if message.debt_ids and len(found) != len(set(message.debt_ids)):
        raise ValidationFailed({"debt_ids": "título não encontrado para este devedor"})
    return found


async def _address(session: AsyncSession, debtor_id: uuid.UUID) -> str | None:
    return (await session.execute(select(ContactPoint.value).where(
        ContactPoint.debtor_id == debtor_id, ContactPoint.kind == ContactKind.ADDRESS)
        .order_by(ContactPoint.created_at).limit(1))).scalar_one_or_none()


async def context_for(session: AsyncSession, debtor: Debtor, debts: list[Debt],
                      settings: Settings, address: str | None = None,
                      notice: Notice | None = None) -> dict[str, Any]:
    """The template context of a real debtor and debts (the editor's preview uses it)."""
    tenant = (await session.execute(
        select(Tenant).where(Tenant.id == debtor.tenant_id))).scalar_one()
    balances = await ledger.balances(session, [d.id for d in debts])
    lines = [tpl.DebtLine(d.contract, d.installment, d.due_date, d.original_amount,
                          dict(balances.get(d.id, {}))) for d in debts]
    return tpl.build_context(
        creditor_name=tenant.legal_name, creditor_cnpj=tenant.cnpj,
        creditor_address=tenant.address, debtor_name=debtor.name, debtor_state=debtor.state,
        debtor_address=address or await _address(session, debtor.id), lines=lines,
        settings=settings, notice=notice)


async def prepare(session: AsyncSession, message: OutboundMessage, *,
                  storage: Storage | None = None,
                  settings: Settings | None = None) -> MessageDispatch:
    """Render the message and write it down, queued; or failed, with the reason, when it
    cannot go (no usable contact point, the creditor's identification incomplete)."""
    settings = settings or get_settings()
    if message.channel not in MESSAGE_CHANNELS:
        raise ValidationFailed({"channel": "canal sem mensagem escrita"})
    debtor = (await session.execute(
        select(Debtor).where(Debtor.id == message.debtor_id))).scalar_one()
    debts = await _debts(session, message)
    point = await _contact_point(session, message)
    source = message.template_source or await tpl.active(
        session, debtor.tenant_id, message.channel, message.template)
    address = point.value if point is not None and point.kind == ContactKind.ADDRESS else None
    context = {**await context_for(session, debtor, debts, settings, address,
                                   message.notice),
               **message.context_extra}
    rendered = tpl.render(source, context)
    provider, sandbox = provider_of(message.channel, settings)
    status, reason = DispatchStatus.QUEUED, None
    if point is None:
        status, reason = DispatchStatus.FAILED, "sem contato utilizável neste canal"
    elif missing := tpl.identification_missing(rendered.body, context):
        # CDC art. 42-A: the message would not identify the creditor; do not send it.
        status = DispatchStatus.FAILED
        reason = "identificação incompleta (CDC art. 42-A): falta " + ", ".join(missing)
    dispatch = MessageDispatch(
        tenant_id=debtor.tenant_id, id=uuid7(), channel=message.channel, debtor_id=debtor.id,
        debt_ids=[d.id for d in debts], contact_point_id=point.id if point else None,
        recipient=point.value if point else "", template_id=source.id,
        template_name=source.name, template_version=source.version,
        subject=debtor.name if message.channel is Channel.LETTER else rendered.subject,
        body=rendered.body, params=rendered.params, provider=provider, sandbox=sandbox,
        status=status, status_reason=reason, cause_kind=message.cause_kind,
        cause_id=message.cause_id)
    if message.attachments and status is DispatchStatus.QUEUED:
        if storage is None:
            from core.runtime import get_storage

            storage = get_storage()
        stored = []
        for item in message.attachments:
            key = message_attachment_key(debtor.tenant_id, dispatch.id, item.filename)
            storage.put(key, item.data, item.content_type)
            stored.append({"filename": item.filename, "content_type": item.content_type,
                           "key": key})
        dispatch.attachments = stored
    session.add(dispatch)
    await session.flush()
    return dispatch


def _outgoing(dispatch: MessageDispatch, storage: Storage | None) -> Outgoing:
    attachments: tuple[Attachment, ...] = ()
    if dispatch.attachments:
        if storage is None:
            from core.runtime import get_storage

            storage = get_storage()
        attachments = tuple(Attachment(a["filename"], a["content_type"], storage.get(a["key"]))
                            for a in dispatch.attachments)
    html = tpl.html_of(dispatch.body) if dispatch.channel == Channel.EMAIL else None
    return Outgoing(recipient=dispatch.recipient, body=dispatch.body, subject=dispatch.subject,
                    html=html, template_name=dispatch.template_name, params=dispatch.params,
                    attachments=attachments)


async def _provider_send(dispatch: MessageDispatch, settings: Settings,
                         storage: Storage | None) -> Delivery:
    outgoing = _outgoing(dispatch, storage)
    channel = Channel(dispatch.channel)
    if channel is Channel.EMAIL:
        return await email.send(outgoing, settings)
    if channel is Channel.SMS:
        return await sms.send(outgoing, settings)
    if channel is Channel.WHATSAPP:
        return await whatsapp.send(outgoing, settings)
    # A letter is sent when it is rendered and waits for the day's print file.
    return Delivery(DispatchStatus.SENT, str(dispatch.id), None)


async def deliver(session: AsyncSession, dispatch_id: uuid.UUID, *,
                  storage: Storage | None = None, settings: Settings | None = None,
                  at: dt.datetime | None = None) -> Interaction | None:
    """Send a prepared message and record the attempt (at `at`, now by default: the
    moment the caller's guard judged). Idempotent: a message already handled is left as
    it is (and None returned when it was)."""
    settings = settings or get_settings()
    dispatch = (await session.execute(select(MessageDispatch).where(
        MessageDispatch.id == dispatch_id).with_for_update())).scalar_one()
    if dispatch.interaction_id is not None:
        return None
    now = at or dt.datetime.now(dt.UTC)
    if dispatch.not_before is not None and dispatch.status == DispatchStatus.QUEUED:
        if now < dispatch.not_before:
            return None  # early: its delayed job or the sweep comes back
        if not await _still_usable(session, dispatch):
            dispatch.status = DispatchStatus.FAILED
            dispatch.status_reason = "o contato deixou de ser utilizável antes do envio"
    if dispatch.status == DispatchStatus.QUEUED:
        result = await _provider_send(dispatch, settings, storage)
        dispatch.status, dispatch.status_reason = result.status, result.reason
        dispatch.provider_message_id = result.provider_message_id
    dispatch.updated_at = now
    if dispatch.status != DispatchStatus.FAILED or dispatch.provider_message_id:
        dispatch.sent_at = now
    interaction = await interactions.record(
        session, debtor_id=dispatch.debtor_id, channel=Channel(dispatch.channel),
        outcome=OUTCOME[DispatchStatus(dispatch.status)], cause_kind=CauseKind(dispatch.cause_kind),
        process=PROCESS,
        debt_id=dispatch.debt_ids[0] if len(dispatch.debt_ids) == 1 else None,
        contact_point_id=dispatch.contact_point_id, cause_id=dispatch.cause_id,
        started_at=now, details={
            "message_id": str(dispatch.id), "provider": dispatch.provider,
            "provider_message_id": dispatch.provider_message_id,
            "reason": dispatch.status_reason, "sandbox": dispatch.sandbox,
            "debt_ids": [str(d) for d in dispatch.debt_ids]})
    dispatch.interaction_id = interaction.id
    if dispatch.status != DispatchStatus.SENT:
        log.info("message %s on %s: %s (%s)", dispatch.id, dispatch.channel, dispatch.status,
                 dispatch.status_reason)
    return interaction


async def send(session: AsyncSession, message: OutboundMessage, *,
               storage: Storage | None = None,
               settings: Settings | None = None) -> Interaction:
    """Render, send and record one message now, in the caller's transaction."""
    dispatch = await prepare(session, message, storage=storage, settings=settings)
    interaction = await deliver(session, dispatch.id, storage=storage, settings=settings)
    assert interaction is not None
    return interaction


async def enqueue(session: AsyncSession, message: OutboundMessage, *,
                  not_before: dt.datetime | None = None) -> MessageDispatch:
    """Render and write the message now; send it in a job after the caller commits, and
    not before `not_before` when given."""
    from core.jobs import enqueue_after_commit

    dispatch = await prepare(session, message)
    delay = None
    if not_before is not None and dispatch.status == DispatchStatus.QUEUED:
        dispatch.not_before = not_before
        delay = not_before - dt.datetime.now(dt.UTC)
    enqueue_after_commit(session, "channels.deliver", str(dispatch.tenant_id), str(dispatch.id),
                         delay=delay)
    return dispatch


async def _still_usable(session: AsyncSession, dispatch: MessageDispatch) -> bool:
    """A message that waited for its window: is its contact point still usable (the
    debtor may have opted out, or the number been found wrong, meanwhile)?"""
    usable = await contacts.usable(session, DebtorId(dispatch.debtor_id),
                                   Channel(dispatch.channel))
    return any(point.id == dispatch.contact_point_id for point in usable)


async def due(session: AsyncSession, now: dt.datetime) -> list[uuid.UUID]:
    """The tenant's waiting messages whose moment has come and that are not sent yet."""
    return list((await session.execute(select(MessageDispatch.id).where(
        MessageDispatch.status == DispatchStatus.QUEUED,
        MessageDispatch.interaction_id.is_(None),
        MessageDispatch.not_before.is_not(None),
        MessageDispatch.not_before <= now).order_by(MessageDispatch.not_before))).scalars())


# ---- what providers say afterwards -------------------------------------------------------------

async def dispatch_tenant(session: AsyncSession, provider: str,
                          provider_message_id: str) -> uuid.UUID | None:
    """Which tenant sent a provider's message (a callback carries no tenant)."""
    value = (await session.execute(text("SELECT regua_dispatch_tenant(:p, :m)"),
                                   {"p": provider, "m": provider_message_id})).scalar_one()
    return value if isinstance(value, uuid.UUID) else None


async def phone_tenants(session: AsyncSession, phone: str) -> list[uuid.UUID]:
    rows = await session.execute(text("SELECT regua_phone_tenants(:p)"), {"p": phone})
    return [r[0] for r in rows]


async def apply_status(session: AsyncSession, provider: str, provider_message_id: str,
                       status: DispatchStatus, reason: str | None = None,
                       at: dt.datetime | None = None) -> MessageDispatch | None:
    """Record a provider's status for its message (in a session scoped to its tenant)."""
    dispatch = (await session.execute(select(MessageDispatch).where(
        MessageDispatch.provider == provider,
        MessageDispatch.provider_message_id == provider_message_id).with_for_update()
    )).scalar_one_or_none()
    if dispatch is None:
        return None
    current = DispatchStatus(dispatch.status)
    if RANK[status] <= RANK[current] and status != current:
        return dispatch
    if status == current:
        return dispatch
    dispatch.status, dispatch.updated_at = status, dt.datetime.now(dt.UTC)
    if reason:
        dispatch.status_reason = reason[:500]
    if dispatch.interaction_id is not None:
        await interactions.update_outcome(session, dispatch.interaction_id, OUTCOME[status],
                                          at=at, details={"reason": reason} if reason else None)
    return dispatch


STOP_WORDS = frozenset({"sair", "parar", "stop", "pare", "cancelar", "descadastrar"})


def is_stop(message_text: str) -> bool:
    words = tpl.fold(message_text).strip().strip(".!").split()
    return bool(words) and words[0] in STOP_WORDS and len(words) <= 3


async def inbound_stop(session: AsyncSession, phone: str, channel: Channel,
                       at: dt.datetime | None = None) -> int:
    """The debtor answered "SAIR": opt that phone out of `channel` for every debtor of
    the session's tenants that holds it, recorded as the debtor's own inbound contact.
    Returns how many contact points it stopped."""
    from core.audit import SYSTEM

    points = list((await session.execute(select(ContactPoint).where(
        ContactPoint.kind == ContactKind.PHONE, ContactPoint.value == phone))).scalars())
    for point in points:
        await interactions.record(
            session, debtor_id=point.debtor_id, channel=channel, outcome=Outcome.OPTED_OUT,
            cause_kind=CauseKind.DEBTOR, process=PROCESS, contact_point_id=point.id,
            direction=Direction.INBOUND, started_at=at,
            details={"reason": "o devedor respondeu pedindo para sair"})
        await audit.record(session, SYSTEM, "contact.opted_out", tenant_id=point.tenant_id,
                           entity="contact_point", entity_id=point.id,
                           after={"channel": channel, "source": "debtor",
                                  "note": "resposta SAIR ao " + channel.value})
    return len(points)


# ---- the sandbox page ---------------------------------------------------------------------------

@dataclass(frozen=True)
class SandboxEntry:
    """A message the sandbox received, beside what Régua recorded of it."""

    message: MessageDispatch
    tenant_name: str
    received: dict[str, Any] | None


def _sandbox_provider(dispatch: MessageDispatch) -> str:
    return "smtp" if dispatch.channel == Channel.EMAIL else dispatch.provider


async def _entries(session: AsyncSession, rows: list[MessageDispatch],
                   settings: Settings) -> list[SandboxEntry]:
    from core.channels import sandbox

    names: dict[uuid.UUID, str] = {}
    if rows:
        found = await session.execute(select(Tenant.id, Tenant.trade_name).where(
            Tenant.id.in_({r.tenant_id for r in rows})))
        names = {tenant_id: name for tenant_id, name in found}
    return [SandboxEntry(r, names.get(r.tenant_id, ""),
                         sandbox.received(settings, _sandbox_provider(r), r.provider_message_id))
            for r in rows]


async def sandbox_messages(session: AsyncSession, settings: Settings | None = None,
                           limit: int = 200) -> list[SandboxEntry]:
    """The sandboxed messages the session's tenants sent, newest first."""
    rows = list((await session.execute(select(MessageDispatch).where(MessageDispatch.sandbox)
                                       .order_by(MessageDispatch.created_at.desc(),
                                                 MessageDispatch.id.desc())
                                       .limit(limit))).scalars())
    return await _entries(session, rows, settings or get_settings())


async def sandbox_message(session: AsyncSession, principal: Principal, message_id: uuid.UUID,
                          settings: Settings | None = None) -> SandboxEntry:
    row = (await session.execute(select(MessageDispatch).where(
        MessageDispatch.id == message_id, MessageDispatch.sandbox))).scalar_one_or_none()
    if row is None or not principal.may_work(row.tenant_id):
        raise NotFound("mensagem")
    return (await _entries(session, [row], settings or get_settings()))[0]
