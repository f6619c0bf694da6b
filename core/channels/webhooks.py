"""Provider callbacks: delivery status and the debtor's answers, for Zenvia and WhatsApp.

A callback names a provider's message or a phone, never a tenant: the tenant comes from
`regua_dispatch_tenant` / `regua_phone_tenants` (SECURITY DEFINER functions that answer
only that), and the work runs in a transaction scoped to it. A status for a message the
database does not show yet (the sending transaction has not committed) is answered
"not yet" so the provider retries."""

from __future__ import annotations

import datetime as dt
import hmac
import json
import logging
from dataclasses import dataclass
from typing import Any

from core.access import transaction
from core.auth.principal import Principal
from core.channels import service, sms, whatsapp
from core.db import NO_SCOPE, Scope
from core.models import Channel, DispatchStatus
from core.runtime import get_db
from core.settings import Settings

log = logging.getLogger("regua.channels.webhooks")


class Unauthenticated(Exception):
    """The callback's token or signature is missing or wrong."""


class Malformed(Exception):
    """The body is not the provider's format."""


@dataclass
class Handled:
    statuses: int = 0
    unknown: int = 0  # statuses for messages not (yet) known: the provider should retry
    opt_outs: int = 0


async def _status(provider: str, message_id: str, status: DispatchStatus, reason: str | None,
                  at: dt.datetime | None, handled: Handled) -> None:
    async with get_db().transaction(NO_SCOPE) as session:
        tenant_id = await service.dispatch_tenant(session, provider, message_id)
    if tenant_id is None:
        handled.unknown += 1
        return
    async with transaction(Principal.system(Scope.tenant(tenant_id))) as session:
        await service.apply_status(session, provider, message_id, status, reason, at)
    handled.statuses += 1


async def _inbound(phone: str, text: str, channel: Channel, handled: Handled) -> None:
    if not service.is_stop(text):
        return
    async with get_db().transaction(NO_SCOPE) as session:
        tenants = await service.phone_tenants(session, phone)
    if not tenants:
        return
    async with transaction(Principal.system(Scope(frozenset(tenants)))) as session:
        handled.opt_outs += await service.inbound_stop(session, phone, channel)


def _parse(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        raise Malformed("JSON inválido") from None


def _time(value: Any) -> dt.datetime | None:
    if isinstance(value, str) and value:
        try:
            if value.isdigit():
                return dt.datetime.fromtimestamp(int(value), dt.UTC)
            return dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


async def zenvia(body: bytes, token: str | None, settings: Settings) -> Handled:
    """A Zenvia subscription event (MESSAGE_STATUS or an inbound MESSAGE)."""
    expected = settings.resolved_zenvia_webhook_token()
    if token is None or not hmac.compare_digest(token.encode(), expected.encode()):
        raise Unauthenticated("token do webhook inválido")
    event = _parse(body)
    handled = Handled()
    if not isinstance(event, dict):
        raise Malformed("evento inválido")
    if event.get("type") == "MESSAGE_STATUS":
        status = event.get("messageStatus") or {}
        code = status.get("code")
        if code not in sms.STATUS or not event.get("messageId"):
            return handled
        causes = status.get("causes") or []
        reason = "; ".join(str(c.get("details") or c.get("reason")) for c in causes) or (
            None if code in ("SENT", "DELIVERED", "READ") else status.get("description"))
        await _status(sms.PROVIDER, str(event["messageId"]), sms.STATUS[code], reason,
                      _time(status.get("timestamp")), handled)
    elif event.get("type") == "MESSAGE":
        message = event.get("message") or {}
        if message.get("direction") == "IN":
            text = " ".join(str(c.get("text", "")) for c in message.get("contents") or []
                            if c.get("type") == "text")
            await _inbound("+" + str(message.get("from", "")).lstrip("+"), text, Channel.SMS,
                           handled)
    return handled


async def whatsapp_event(body: bytes, signature: str | None, settings: Settings) -> Handled:
    """A WhatsApp Cloud API webhook: statuses of our messages and the debtor's messages."""
    if not whatsapp.signature_valid(body, signature, settings.resolved_whatsapp_app_secret()):
        raise Unauthenticated("assinatura X-Hub-Signature-256 inválida")
    event = _parse(body)
    handled = Handled()
    if not isinstance(event, dict) or event.get("object") != "whatsapp_business_account":
        raise Malformed("evento inválido")
    for entry in event.get("entry") or []:
        for change in entry.get("changes") or []:
            value = change.get("value") or {}
            for status in value.get("statuses") or []:
                code = status.get("status")
                if code not in whatsapp.STATUS or not status.get("id"):
                    continue
                errors = status.get("errors") or []
                reason = "; ".join(f"{e.get('code')} {e.get('title')}" for e in errors) or None
                await _status(whatsapp.PROVIDER, str(status["id"]), whatsapp.STATUS[code],
                              reason, _time(status.get("timestamp")), handled)
            for message in value.get("messages") or []:
                if message.get("type") == "text":
                    text = str((message.get("text") or {}).get("body", ""))
                elif message.get("type") == "button":
                    text = str((message.get("button") or {}).get("text", ""))
                else:
                    continue
                await _inbound("+" + str(message.get("from", "")).lstrip("+"), text,
                               Channel.WHATSAPP, handled)
    return handled


def verify_subscription(mode: str | None, token: str | None, challenge: str | None,
                        settings: Settings) -> str | None:
    """Meta's subscription check: echo the challenge when the verify token matches."""
    expected = settings.resolved_whatsapp_verify_token()
    if mode == "subscribe" and token is not None and challenge is not None \
            and hmac.compare_digest(token.encode(), expected.encode()):
        return challenge
    return None
