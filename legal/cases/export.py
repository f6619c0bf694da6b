"""Sending a case to an outside law firm: a download of its ZIP, or a webhook.

Each tenant may have one law-firm endpoint (`case_webhook`: URL and a secret Régua
generates). A delivery POSTs JSON describing the case and a link to its ZIP that works
without a login until it expires (LINK_HOURS): `/exportacoes/<token>`, where the token
names the tenant, the export and the expiry, signed with the platform's secret key.
The body is signed with the tenant's secret:

    Idempotency-Key: <the export's id, also "export_id" in the body>
    X-Regua-Attempt: <1, 2, ...>
    X-Regua-Timestamp: <unix seconds>
    X-Regua-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>.<raw body>")>

so the firm checks both the sender and that the message is fresh, and drops a repeat.
A job delivers it (`cases.deliver_export`), retrying a firm that fails or does not
answer on Régua's schedule (RETRY_DELAYS) until MAX_ATTEMPTS; the export row keeps the
state the case page shows: attempts, the last error, the next attempt, the delivery.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import access_tenant, transaction
from core.auth.principal import Principal
from core.db import Scope
from core.documents import format_document
from core.errors import Conflict, NotFound, ValidationFailed
from core.ids import uuid7
from core.jobs import enqueue_after_commit
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

log = logging.getLogger("regua.cases")

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


# Attempts at one delivery, and the wait after each failed one: a firm down for a
# deploy gets it within minutes, one down for the night by the morning (about 13 hours
# in all, well inside the link's 72). Régua keeps its own schedule, rather than the
# broker's randomised backoff, so the case page can say when the next attempt comes.
MAX_ATTEMPTS = 8
RETRY_DELAYS = (dt.timedelta(seconds=30), dt.timedelta(minutes=2), dt.timedelta(minutes=10),
                dt.timedelta(minutes=30), dt.timedelta(hours=1), dt.timedelta(hours=3),
                dt.timedelta(hours=8))
DELIVER_JOB = "cases.deliver_export"


async def send_webhook(principal: Principal, case_id: uuid.UUID, base_url: str) -> Sent:
    """Record an export of the case to the tenant's law firm, with a signed link to its
    ZIP, and hand its delivery to a job (`deliver`) that retries until the firm takes it.
    Sending again makes a new export (and link)."""
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
        export_id = uuid7()
        token = link_token(case.tenant_id, export_id, expires)
        link = f"{base_url.rstrip('/')}/exportacoes/{token}"
        body = await _payload(session, case, archive, link, expires, now, export_id)
        session.add(CaseExport(
            tenant_id=case.tenant_id, id=export_id, case_id=case.id, kind="webhook",
            dossier_version=case.dossier_version, zip_key=archive.key, url=hook.url,
            expires_at=expires, status="sending", body=body.decode("utf-8"), attempts=0,
            next_attempt_at=now, created_by_email=principal.email))
        add_event(session, principal, case, "export", None, f"webhook para {hook.url}"[:200])
        await audit_case(session, principal, case, "exported", None,
                         {"url": hook.url, "version": case.dossier_version,
                          "expires_at": expires})
        enqueue_after_commit(session, DELIVER_JOB, str(case.tenant_id), str(export_id))
    return Sent(export_id, "sending", None, None, link)


async def deliver(tenant_id: uuid.UUID, export_id: uuid.UUID) -> str | None:
    """One attempt at a webhook export, when it is due; its status after (None: nothing
    to do: delivered, given up, not due yet, or another attempt has it).

    Every attempt POSTs the body recorded with the export, with the export's id as
    `Idempotency-Key` (the firm drops a repeat) and a fresh timestamp and signature. An
    advisory lock on the export makes a repeated or swept message wait out an attempt
    under way and then find its outcome, so each attempt is recorded once; the row itself
    stays unlocked, since the firm may fetch the ZIP (which counts on the row) before it
    answers."""
    principal = Principal.system(Scope.tenant(tenant_id))
    async with transaction(principal) as session:
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                              {"k": f"case-export:{export_id}"})
        row = (await session.execute(select(CaseExport).where(
            CaseExport.id == export_id, CaseExport.kind == "webhook"))).scalar_one_or_none()
        now = dt.datetime.now(dt.UTC)
        if (row is None or row.status != "sending" or row.body is None
                or (row.next_attempt_at is not None and row.next_attempt_at > now)):
            return None
        case = (await session.execute(select(LegalCase).where(
            LegalCase.id == row.case_id))).scalar_one()
        hook = (await session.execute(select(CaseWebhook).where(
            CaseWebhook.tenant_id == row.tenant_id, CaseWebhook.active.is_(True)))
                ).scalar_one_or_none()
        if hook is None:
            row.status, row.next_attempt_at = "failed", None
            row.error = "o webhook do escritório foi desativado antes da entrega"
            add_event(session, principal, case, "export", None, "webhook não entregue",
                      row.error)
            return row.status
        attempt, body = row.attempts + 1, row.body.encode("utf-8")
        http_status, error = await _post(hook.url, hook.secret, body, export_id, attempt)
        done = dt.datetime.now(dt.UTC)
        # The firm's current address: one corrected after a failure gets the next attempt.
        row.url, row.attempts = hook.url, attempt
        row.http_status, row.error = http_status, error
        if error is None:
            row.status, row.delivered_at, row.next_attempt_at = "sent", done, None
            add_event(session, principal, case, "export", None,
                      f"webhook entregue (tentativa {attempt})")
        elif attempt >= MAX_ATTEMPTS:
            row.status, row.next_attempt_at = "failed", None
            add_event(session, principal, case, "export", None,
                      f"webhook não entregue após {attempt} tentativas", error)
        else:
            delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS)) - 1]
            row.next_attempt_at = done + delay
            enqueue_after_commit(session, DELIVER_JOB, str(tenant_id), str(export_id),
                                 delay=delay)
        log.info("case export %s attempt %d: %s", export_id, attempt, error or "delivered")
        return row.status


async def _post(url: str, secret: str, body: bytes, export_id: uuid.UUID,
                attempt: int) -> tuple[int | None, str | None]:
    """POST one delivery; (HTTP status, the failure in Portuguese or None)."""
    timestamp = str(int(time.time()))
    try:
        async with httpx.AsyncClient(timeout=TIMEOUT_SECONDS) as client:
            answer = await client.post(url, content=body, headers={
                "Content-Type": "application/json", "X-Regua-Event": EVENT,
                "Idempotency-Key": str(export_id), "X-Regua-Attempt": str(attempt),
                "X-Regua-Timestamp": timestamp,
                "X-Regua-Signature": signature(secret, timestamp, body)})
    except httpx.TimeoutException:
        return None, "o escritório não respondeu a tempo"
    except httpx.HTTPError as exc:
        return None, f"não foi possível falar com o escritório ({type(exc).__name__})"
    if answer.is_success:
        return answer.status_code, None
    return answer.status_code, f"o escritório respondeu HTTP {answer.status_code}"


async def _payload(session: AsyncSession, case: LegalCase, archive: CaseDocument, link: str,
                   expires: dt.datetime, now: dt.datetime, export_id: uuid.UUID) -> bytes:
    tenant = (await session.execute(select(Tenant).where(Tenant.id == case.tenant_id))
              ).scalar_one()
    debtor = (await session.execute(select(Debtor).where(Debtor.id == case.debtor_id))
              ).scalar_one()
    debts = (await session.execute(
        select(Debt).join(CaseEscalation, (CaseEscalation.tenant_id == Debt.tenant_id)
                          & (CaseEscalation.debt_id == Debt.id))
        .where(CaseEscalation.case_id == case.id).order_by(Debt.due_date))).scalars()
    document = {
        "event": EVENT, "export_id": str(export_id), "sent_at": now.isoformat(),
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
