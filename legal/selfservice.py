"""The debtor's self-service: prove identity, see open debts, accept an option, get slips.

Proof: the document, then a 6-digit code sent to a contact point on file (e-mail first,
else a phone by SMS). Someone who cannot prove identity learns nothing: an unknown
creditor, an unknown document and a debtor with no usable contact point all get the same
answer and a challenge that no code opens. Every document and every code attempt goes
through the login throttle (`core.auth.service.admit_attempt`). After the code, a signed
cookie (HMAC with the secret key) names tenant, debtor and expiry; nothing else is kept.

The code is sent by the channels' provider adapters, not as a collection message: it is
an authentication message the debtor asked for, so it neither renders the collection
template nor counts against contact caps.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import logging
import secrets
import urllib.parse
import uuid
from dataclasses import dataclass
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import DebtorId, transaction
from core.auth import service as auth
from core.auth.principal import Principal
from core.channels import email, sms
from core.channels.base import Outgoing
from core.db import NO_SCOPE, Scope
from core.documents import normalize_document
from core.errors import NotFound, ValidationFailed
from core.ids import uuid7
from core.models import ContactKind, ContactOptOut, ContactPoint, Debtor, DispatchStatus, Tenant
from core.runtime import get_db
from core.settings import Settings, get_settings
from legal import agreements, pix, slips
from legal.access import access_agreement
from legal.models import Agreement, ApprovalLevel
from legal.payment_models import AccessCode
from legal.simulator import Option, open_debts, simulate_in

log = logging.getLogger("regua.selfservice")

CODE_TTL = dt.timedelta(minutes=10)
SESSION_TTL = dt.timedelta(minutes=30)
MAX_CODE_ATTEMPTS = 5
COOKIE = "regua_devedor"


class RateLimited(Exception):
    def __init__(self, seconds: int) -> None:
        super().__init__(f"muitas tentativas; aguarde {seconds} s")
        self.seconds = seconds


def _policy(settings: Settings) -> auth.ThrottlePolicy:
    return auth.ThrottlePolicy(
        max_failures=settings.login_max_failures,
        window=dt.timedelta(minutes=settings.login_window_minutes),
        max_delay=dt.timedelta(seconds=settings.login_max_delay_seconds))


async def _throttle(subject: str, ip: str, settings: Settings) -> None:
    try:
        await auth.admit_attempt(get_db(), subject, ip, _policy(settings))
    except auth.LoginRateLimited as exc:
        raise RateLimited(exc.retry_after_seconds) from exc


async def tenant_by_slug(slug: str) -> uuid.UUID | None:
    async with get_db().transaction(NO_SCOPE) as session:
        value = (await session.execute(select(func.regua_tenant_by_slug(slug[:63])))).scalar_one()
    return value if isinstance(value, uuid.UUID) else None


async def creditor_name(slug: str) -> str:
    tenant_id = await tenant_by_slug(slug)
    if tenant_id is None:
        raise NotFound("página não encontrada")
    async with transaction(Principal.system(Scope.tenant(tenant_id))) as session:
        return (await session.execute(select(Tenant.trade_name).where(
            Tenant.id == tenant_id))).scalar_one()


def _hash(code: str, challenge: str) -> str:
    key = get_settings().resolved_secret_key().encode()
    return hmac.new(key, f"selfservice:{challenge}:{code}".encode(), hashlib.sha256).hexdigest()


async def _send_code(point: ContactPoint, code: str, creditor: str,
                     settings: Settings) -> bool:
    text = (f"Seu código de acesso para consultar e pagar seus débitos com {creditor} é "
            f"{code}. Ele vale por 10 minutos. Se não foi você, ignore esta mensagem. "
            f"{settings.agency_name}")
    if point.kind == ContactKind.EMAIL:
        result = await email.send(Outgoing(recipient=point.value, body=text,
                                           subject=f"Código de acesso: {creditor}"), settings)
    else:
        result = await sms.send(Outgoing(recipient=point.value, body=text), settings)
    return result.status != DispatchStatus.FAILED


async def start(slug: str, document: str, ip: str) -> str:
    """A challenge for the document; a code goes to the debtor when there is one."""
    settings = get_settings()
    digits = "".join(ch for ch in document.upper() if ch.isalnum())[:14]
    if not digits:
        raise ValidationFailed({"documento": "informe o CPF ou CNPJ"})
    await _throttle(f"selfservice:{slug[:63]}:{digits}", ip, settings)
    challenge = secrets.token_urlsafe(24)
    tenant_id = await tenant_by_slug(slug)
    try:
        normalized = normalize_document(digits)
    except ValueError:
        normalized = None
    if tenant_id is None or normalized is None:
        return challenge
    principal = Principal.system(Scope.tenant(tenant_id))
    code = f"{secrets.randbelow(10**6):06d}"
    async with transaction(principal) as session:
        debtor = (await session.execute(select(Debtor).where(
            Debtor.document == normalized[1]))).scalar_one_or_none()
        if debtor is None:
            return challenge
        point = await _contact_point(session, debtor.id)
        if point is None:
            return challenge
        creditor = (await session.execute(select(Tenant.trade_name).where(
            Tenant.id == tenant_id))).scalar_one()
        session.add(AccessCode(tenant_id=tenant_id, id=uuid7(), challenge=challenge,
                               debtor_id=debtor.id, contact_point_id=point.id,
                               code_hash=_hash(code, challenge), attempts=0,
                               expires_at=dt.datetime.now(dt.UTC) + CODE_TTL))
        await audit.record(session, principal.actor, "selfservice.code_sent",
                           tenant_id=tenant_id, entity="debtor", entity_id=debtor.id,
                           after={"contact_point": str(point.id), "ip": ip})
    if not await _send_code(point, code, creditor, settings):
        log.warning("self-service code for debtor %s could not be sent", debtor.id)
    return challenge


async def _contact_point(session: AsyncSession, debtor_id: uuid.UUID) -> ContactPoint | None:
    rows = list((await session.execute(select(ContactPoint).where(
        ContactPoint.debtor_id == debtor_id,
        ContactPoint.kind.in_([ContactKind.EMAIL, ContactKind.PHONE]),
        ContactPoint.quality.not_in(["invalid", "wrong_party", "bounced"]))
        .order_by(ContactPoint.kind.desc(), ContactPoint.created_at))).scalars())
    for point in rows:  # e-mail sorts before phone in descending order
        channel = "email" if point.kind == ContactKind.EMAIL else "sms"
        opted = (await session.execute(select(ContactOptOut.id).where(
            ContactOptOut.contact_point_id == point.id, ContactOptOut.channel == channel,
            ContactOptOut.revoked_at.is_(None)))).first()
        if opted is None:
            return point
    return None


def _sign(payload: str) -> str:
    key = get_settings().resolved_secret_key().encode()
    return hmac.new(key, f"selfservice-session:{payload}".encode(), hashlib.sha256).hexdigest()


def session_token(tenant_id: uuid.UUID, debtor_id: uuid.UUID, now: dt.datetime) -> str:
    payload = f"{tenant_id.hex}.{debtor_id.hex}.{int((now + SESSION_TTL).timestamp())}"
    return base64.urlsafe_b64encode(f"{payload}.{_sign(payload)}".encode()).decode()


def read_session(slug_tenant: uuid.UUID | None, token: str | None
                 ) -> tuple[uuid.UUID, uuid.UUID]:
    """(tenant, debtor) of a valid cookie for this creditor's page, else "not found"."""
    try:
        text = base64.urlsafe_b64decode((token or "").encode()).decode()
        tenant_hex, debtor_hex, expires, signature = text.split(".")
        payload = f"{tenant_hex}.{debtor_hex}.{expires}"
        valid = (hmac.compare_digest(signature, _sign(payload))
                 and int(expires) > dt.datetime.now(dt.UTC).timestamp()
                 and slug_tenant is not None and uuid.UUID(hex=tenant_hex) == slug_tenant)
        if valid:
            return uuid.UUID(hex=tenant_hex), uuid.UUID(hex=debtor_hex)
    except (ValueError, UnicodeDecodeError):
        pass
    raise NotFound("sessão expirada; identifique-se novamente")


async def verify(slug: str, challenge: str, code: str, ip: str) -> str:
    """The session cookie's value when the code opens the challenge."""
    settings = get_settings()
    await _throttle(f"selfservice-code:{challenge[:64]}", ip, settings)
    wrong = ValidationFailed({"codigo": "código inválido ou expirado"})
    tenant_id = await tenant_by_slug(slug)
    if tenant_id is None or not code.strip().isdigit():
        raise wrong
    principal = Principal.system(Scope.tenant(tenant_id))
    async with transaction(principal) as session:
        row = (await session.execute(select(AccessCode).where(
            AccessCode.challenge == challenge[:64]).with_for_update())).scalar_one_or_none()
        now = dt.datetime.now(dt.UTC)
        if row is None or row.used_at is not None or row.expires_at < now:
            raise wrong
        row.attempts += 1
        if row.attempts > MAX_CODE_ATTEMPTS or not hmac.compare_digest(
                row.code_hash, _hash(code.strip(), row.challenge)):
            await session.commit()  # the attempt counts even though the answer is "no"
            raise wrong
        row.used_at = now
        await audit.record(session, principal.actor, "selfservice.identified",
                           tenant_id=tenant_id, entity="debtor", entity_id=row.debtor_id,
                           after={"ip": ip})
        return session_token(tenant_id, row.debtor_id, now)


@dataclass
class DebtLine:
    label: str
    due_date: dt.date
    days_overdue: int
    balance: Decimal


@dataclass
class SlipLine:
    number: int
    due_date: dt.date
    amount: Decimal
    pix_payload: str
    qr_data_uri: str
    boleto_line: str
    formatted_line: str


@dataclass
class Overview:
    creditor: str
    debtor_first_name: str
    debts: list[DebtLine]
    options: list[Option]
    agreement_id: uuid.UUID | None
    slips: list[SlipLine]
    notes: list[str]


def _slip_lines(views: list[slips.SlipView]) -> list[SlipLine]:
    from legal import boleto

    out = []
    for v in views:
        if v.status not in ("open", "overdue"):
            continue
        qr = base64.b64encode(pix.qr_png(v.pix_payload, scale=5)).decode()
        out.append(SlipLine(v.number, v.due_date, v.amount, v.pix_payload,
                            f"data:image/png;base64,{qr}", v.boleto_line,
                            boleto.parse(v.boleto_line, today=v.due_date).formatted_line))
    return out


async def overview(tenant_id: uuid.UUID, debtor_id: uuid.UUID) -> Overview:
    """What the identified debtor sees: open debts and the options an agent could grant
    on their own (no approval needed), or the running agreement's slips."""
    principal = Principal.system(Scope.tenant(tenant_id))
    async with transaction(principal) as session:
        creditor = (await session.execute(select(Tenant.trade_name).where(
            Tenant.id == tenant_id))).scalar_one()
        debtor = (await session.execute(select(Debtor).where(
            Debtor.id == debtor_id))).scalar_one()
        first = debtor.name.split()[0].title() if debtor.name.split() else ""
        running = (await session.execute(select(Agreement).where(
            Agreement.debtor_id == debtor_id, Agreement.status.in_(slips.ISSUABLE))
            .order_by(Agreement.created_at.desc()).limit(1))).scalar_one_or_none()
        if running is not None:
            checked = await access_agreement(session, principal, running.id)
            views = await slips.issue(session, principal, checked)
            return Overview(creditor, first, [], [], running.id, _slip_lines(views), [])
        try:
            await open_debts(session, debtor_id, None)
        except ValidationFailed:
            return Overview(creditor, first, [], [], None, [], [])
        simulation = await simulate_in(session, DebtorId(debtor_id), None, None)
        lines = [DebtLine(u.label, u.due_date, u.days_overdue, u.total)
                 for u in simulation.updates]
        options = [o for o in simulation.options if o.approval == ApprovalLevel.AGENT]
        # A debtor needs one sentence, not a line per missing month (staff see them all).
        notes = ["Alguns índices de correção e juros do período ainda não foram publicados;"
                 " o cálculo usa o último valor conhecido."] if simulation.notes else []
        return Overview(creditor, first, lines, options, None, [], notes)


async def accept(tenant_id: uuid.UUID, debtor_id: uuid.UUID, option_number: int,
                 ip: str | None, user_agent: str | None) -> uuid.UUID:
    """The debtor accepts an option that needs no approval: the agreement is created,
    accepted by the debtor (IP, time, user agent recorded), and its slips issued and sent."""
    principal = Principal.system(Scope.tenant(tenant_id))
    view = await overview(tenant_id, debtor_id)
    if view.agreement_id is not None:
        return view.agreement_id
    if option_number not in {o.option for o in view.options}:
        raise ValidationFailed({"opcao": "escolha uma das opções apresentadas"})
    created = await agreements.create(principal, debtor_id, option_number,
                                      by_label="o devedor, no autoatendimento")
    link = await agreements.issue_link(principal, created.agreement_id)
    # The link is the debtor's own acceptance channel; its token is after "t=".
    token = urllib.parse.parse_qs(urllib.parse.urlsplit(link).query).get("t", [""])[0]
    await agreements.accept_by_link(token, ip, user_agent)
    async with transaction(principal) as session:
        checked = await access_agreement(session, principal, created.agreement_id)
        await slips.issue_and_send(session, principal, checked)
    return created.agreement_id


async def slip_pdf(tenant_id: uuid.UUID, debtor_id: uuid.UUID) -> bytes:
    principal = Principal.system(Scope.tenant(tenant_id))
    async with transaction(principal) as session:
        running = (await session.execute(select(Agreement.id).where(
            Agreement.debtor_id == debtor_id, Agreement.status.in_(slips.ISSUABLE))
            .order_by(Agreement.created_at.desc()).limit(1))).scalar_one_or_none()
        if running is None:
            raise NotFound("nenhum acordo em andamento")
        checked = await access_agreement(session, principal, running)
        return await slips.slip_pdf(session, checked)
