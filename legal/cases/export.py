"""Sending a case to an outside law firm: a download of its ZIP, or a webhook.

Each tenant may have one law-firm endpoint (`case_webhook`: URL and a secret Régua
generates). A delivery POSTs JSON describing the case and a link to its ZIP that works
without a login until it expires (LINK_HOURS): `/exportacoes/<token>`, where the token
names the tenant, the export and the expiry, signed with the platform's secret key.
The body is signed with the tenant's secret:

    X-Regua-Timestamp: <unix seconds>
    X-Regua-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

so the firm checks both the sender and that the message is fresh.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import access_tenant, transaction
from core.auth.principal import Principal
from core.db import Scope
from core.documents import format_document
from core.errors import Conflict, NotFound, ValidationFailed
from core.ids import uuid7
from core.models import Debt, Debtor, Tenant
from core.settings import get_settings
from legal.cases import cnj
from legal.cases.documents import Download, current_file, stream
from legal.cases.models import (
    CASE_STATE_LABELS,
    CaseDocument,
    CaseEscalation,
    CaseExport,
    CaseState,
    CaseWebhook,
    DocumentKind,
    LegalCase,
)
from legal.cases.service import (
    DOSSIER_ROLES,
    EDITING_ROLES,
    access_case,
    add_event,
    audit_case,
    lock_case,
    require,
)

LINK_HOURS = 72
TIMEOUT_SECONDS = 15
EVENT = "case.exported"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def _link_mac(payload: str) -> str:
    key = get_settings().resolved_secret_key().encode()
    return hmac.new(key, f"case-export:{payload}".encode(), hashlib.sha256).hexdigest()


def link_token(tenant_id: uuid.UUID, export_id: uuid.UUID, expires_at: dt.datetime) -> str:
    payload = f"{tenant_id.hex}.{export_id.hex}.{int(expires_at.timestamp())}"
    return f"{payload}.{_link_mac(payload)}"


def _parse(token: str) -> tuple[uuid.UUID, uuid.UUID]:
    try:
        tenant_hex, export_hex, expires, mac = token.split(".")
        if not hmac.compare_digest(mac, _link_mac(f"{tenant_hex}.{export_hex}.{expires}")):
            raise ValueError
        if int(expires) < time.time():
            raise ValueError
        return uuid.UUID(hex=tenant_hex), uuid.UUID(hex=export_hex)
    except ValueError:
        raise NotFound("link (expirado ou inválido)") from None


# ---- the tenant's endpoint ---------------------------------------------------------------

@dataclass
class WebhookView:
    tenant_id: uuid.UUID
    url: str
    secret: str
    active: bool
    updated_by: str
    updated_at: dt.datetime


async def get_webhook(principal: Principal, tenant_id: uuid.UUID) -> WebhookView | None:
    require(principal, EDITING_ROLES, "ver o webhook do escritório")
    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        row = (await session.execute(select(CaseWebhook).where(
            CaseWebhook.tenant_id == checked))).scalar_one_or_none()
        return _webhook(row) if row else None


def _webhook(row: CaseWebhook) -> WebhookView:
    return WebhookView(row.tenant_id, row.url, row.secret, row.active, row.updated_by_email,
                       row.updated_at)


async def save_webhook(principal: Principal, tenant_id: uuid.UUID, url: str | None,
                       active: bool = True, new_secret: bool = False) -> WebhookView:
    """Set the law firm's URL; the secret is generated the first time (and again when
    asked), never typed, so it is long and random."""
    require(principal, EDITING_ROLES, "configurar o webhook do escritório")
    address = (url or "").strip()
    parts = urlsplit(address)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationFailed({"url": "informe um endereço http:// ou https://"})
    if len(address) > 500:
        raise ValidationFailed({"url": "use no máximo 500 caracteres"})
    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        row = (await session.execute(select(CaseWebhook).where(
            CaseWebhook.tenant_id == checked).with_for_update())).scalar_one_or_none()
        now = dt.datetime.now(dt.UTC)
        if row is None:
            row = CaseWebhook(tenant_id=checked, id=uuid7(), url=address,
                              secret=secrets.token_hex(32), active=active,
                              updated_by_email=principal.email, updated_at=now)
            session.add(row)
        else:
            row.url, row.active, row.updated_by_email, row.updated_at = (
                address, active, principal.email, now)
            if new_secret:
                row.secret = secrets.token_hex(32)
        await session.flush()
        await audit.record(session, principal.actor, "case_webhook.saved", tenant_id=checked,
                           entity="tenant", entity_id=checked,
                           after={"url": address, "active": active, "new_secret": new_secret})
        return _webhook(row)


# ---- exports -----------------------------------------------------------------------------

async def download_zip(principal: Principal, case_id: uuid.UUID) -> Download:
    """The current ZIP, for a person to hand to a firm; recorded as an export."""
    require(principal, DOSSIER_ROLES, "exportar casos")
    async with transaction(principal) as session:
        checked = await access_case(session, principal, case_id)
        case = (await session.execute(select(LegalCase).where(LegalCase.id == checked))
                ).scalar_one()
        row = await current_file(session, case.id, DocumentKind.DOSSIER_ZIP)
        session.add(CaseExport(
            tenant_id=case.tenant_id, id=uuid7(), case_id=case.id, kind="download",
            dossier_version=case.dossier_version, zip_key=row.key, status="downloaded",
            created_by_email=principal.email))
        add_event(session, principal, case, "export", None,
               f"ZIP v{case.dossier_version} baixado")
        return Download(row.file_name, row.content_type, row.size, stream(row.key))


@dataclass
class Sent:
    export_id: uuid.UUID
    status: str
    http_status: int | None
    error: str | None
    link: str


async def send_webhook(principal: Principal, case_id: uuid.UUID, base_url: str) -> Sent:
    """POST the case to the tenant's law firm with a signed link to its ZIP. One try:
    the answer is recorded and shown; sending again makes a new export (and link)."""
    require(principal, EDITING_ROLES, "exportar casos")
    async with transaction(principal) as session:
        case = await lock_case(session, await access_case(session, principal, case_id))
        hook = (await session.execute(select(CaseWebhook).where(
            CaseWebhook.tenant_id == case.tenant_id,
            CaseWebhook.active.is_(True)))).scalar_one_or_none()
        if hook is None:
            raise Conflict({"webhook": "configure o webhook do escritório deste credor antes"})
        archive = await current_file(session, case.id, DocumentKind.DOSSIER_ZIP)
        now = dt.datetime.now(dt.UTC)
        expires = now + dt.timedelta(hours=LINK_HOURS)
        export = CaseExport(
            tenant_id=case.tenant_id, id=uuid7(), case_id=case.id, kind="webhook",
            dossier_version=case.dossier_version, zip_key=archive.key, url=hook.url,
            expires_at=expires, status="sending", created_by_email=principal.email)
        session.add(export)
        token = link_token(case.tenant_id, export.id, expires)
        link = f"{base_url.rstrip('/')}/exportacoes/{token}"
        body = await _payload(session, case, archive, link, expires, now)
        url, secret = hook.url, hook.secret
        add_event(session, principal, case, "export", None, f"webhook para {url}"[:200])
        await audit_case(session, principal, case, "exported", None,
                     {"url": url, "version": case.dossier_version, "expires_at": expires})
    timestamp = str(int(time.time()))
    status, http_status, error = "failed", None, None
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            answer = await client.post(url, content=body, headers={
                "Content-Type": "application/json", "X-Regua-Event": EVENT,
                "X-Regua-Timestamp": timestamp,
                "X-Regua-Signature": signature(secret, timestamp, body)})
        http_status = answer.status_code
        if answer.is_success:
            status = "sent"
        else:
            error = f"o escritório respondeu HTTP {answer.status_code}"
    except httpx.HTTPError as exc:
        error = f"não foi possível falar com o escritório: {type(exc).__name__}"
    async with transaction(principal) as session:
        row = (await session.execute(select(CaseExport).where(CaseExport.id == export.id)
                                     .with_for_update())).scalar_one()
        row.status, row.http_status, row.error = status, http_status, error
    return Sent(export.id, status, http_status, error, link)


async def _payload(session: AsyncSession, case: LegalCase, archive: CaseDocument, link: str,
                   expires: dt.datetime, now: dt.datetime) -> bytes:
    tenant = (await session.execute(select(Tenant).where(Tenant.id == case.tenant_id))
              ).scalar_one()
    debtor = (await session.execute(select(Debtor).where(Debtor.id == case.debtor_id))
              ).scalar_one()
    debts = (await session.execute(
        select(Debt).join(CaseEscalation, (CaseEscalation.tenant_id == Debt.tenant_id)
                          & (CaseEscalation.debt_id == Debt.id))
        .where(CaseEscalation.case_id == case.id).order_by(Debt.due_date))).scalars()
    document = {
        "event": EVENT, "sent_at": now.isoformat(),
        "creditor": {"name": tenant.legal_name, "cnpj": tenant.cnpj},
        "case": {
            "id": str(case.id), "code": case.code, "state": case.state,
            "state_label": CASE_STATE_LABELS[CaseState(case.state)],
            "court_number": cnj.formatted(case.court_number) or None,
            "court_name": case.court_name,
            "filed_on": case.filed_on.isoformat() if case.filed_on else None,
            "amount": str(case.amount),
            "debtor": {"name": debtor.name, "document_kind": debtor.document_kind,
                       "document": format_document(debtor.document_kind, debtor.document)},
            "debts": [{"contract": d.contract, "installment": d.installment,
                       "due_date": d.due_date.isoformat(),
                       "original_amount": str(d.original_amount)} for d in debts],
        },
        "dossier": {"version": case.dossier_version, "zip_url": link,
                    "expires_at": expires.isoformat(), "sha256": archive.sha256,
                    "size": archive.size, "file_name": archive.file_name},
    }
    return json.dumps(document, ensure_ascii=False).encode("utf-8")


async def fetch(token: str) -> Download:
    """The ZIP behind a signed link (no login: the link is the credential)."""
    tenant_id, export_id = _parse(token)
    principal = Principal.system(Scope.tenant(tenant_id))
    async with transaction(principal) as session:
        row = (await session.execute(select(CaseExport).where(
            CaseExport.id == export_id, CaseExport.kind == "webhook").with_for_update())
               ).scalar_one_or_none()
        if row is None or row.expires_at is None or row.expires_at < dt.datetime.now(dt.UTC):
            raise NotFound("link (expirado ou inválido)")
        row.fetch_count += 1
        row.last_fetched_at = dt.datetime.now(dt.UTC)
        archive = (await session.execute(select(CaseDocument).where(
            CaseDocument.key == row.zip_key, CaseDocument.case_id == row.case_id))).scalar_one()
        return Download(archive.file_name, archive.content_type, archive.size,
                        stream(archive.key))
