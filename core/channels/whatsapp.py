"""WhatsApp through the WhatsApp Business Cloud API, with approved template messages.

    POST {graph}/{version}/{phone-number-id}/messages   Authorization: Bearer <token>
    {"messaging_product": "whatsapp", "recipient_type": "individual", "to": "5511...",
     "type": "template", "template": {"name": ..., "language": {"code": "pt_BR"},
       "components": [{"type": "body", "parameters": [{"type": "text", "text": ...}]}]}}
    -> 200 {"messaging_product": "whatsapp", "contacts": [{"input", "wa_id"}],
            "messages": [{"id": "wamid...."}]}

A business may open a conversation only with a template Meta approved, so a Régua
WhatsApp template names the approved one and lists its body parameters. Status updates
and inbound messages come to `/webhooks/whatsapp`, signed with the app secret
(`X-Hub-Signature-256: sha256=<HMAC-SHA256 of the raw body>`)."""

from __future__ import annotations

import hashlib
import hmac

import httpx

from core.channels.base import Delivery, Outgoing
from core.models import DispatchStatus
from core.settings import Settings

PROVIDER = "whatsapp_cloud"
LANGUAGE = "pt_BR"


def api_base(settings: Settings) -> tuple[str, str] | None:
    if settings.whatsapp_access_token is not None:
        return settings.whatsapp_api_url, settings.whatsapp_access_token.get_secret_value()
    if settings.sandbox_url is not None:
        return f"{settings.sandbox_url}/graph", "sandbox"
    return None


def payload(message: Outgoing) -> dict[str, object]:
    return {
        "messaging_product": "whatsapp", "recipient_type": "individual",
        "to": message.recipient.lstrip("+"), "type": "template",
        "template": {
            "name": message.template_name, "language": {"code": LANGUAGE},
            "components": [{"type": "body", "parameters": [
                {"type": "text", "text": p} for p in message.params or []]}],
        },
    }


async def send(message: Outgoing, settings: Settings) -> Delivery:
    base = api_base(settings)
    if base is None:
        return Delivery(DispatchStatus.FAILED, None,
                        "WhatsApp não configurado (REGUA_WHATSAPP_ACCESS_TOKEN)")
    url, token = base
    endpoint = f"{url}/{settings.whatsapp_api_version}/{settings.whatsapp_phone_number_id}/messages"
    try:
        async with httpx.AsyncClient(timeout=20) as client:
            response = await client.post(endpoint, json=payload(message),
                                         headers={"Authorization": f"Bearer {token}"})
    except httpx.HTTPError as exc:
        return Delivery(DispatchStatus.FAILED, None, f"WhatsApp indisponível: {exc}")
    if response.status_code >= 400:
        try:
            error = response.json()["error"]
            reason = f"{error.get('code')} {error.get('message')}"
        except (ValueError, KeyError, TypeError):
            reason = response.text[:300]
        return Delivery(DispatchStatus.FAILED, None, f"WhatsApp recusou: {reason}"[:500])
    return Delivery(DispatchStatus.SENT, str(response.json()["messages"][0]["id"]), None)


def signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(body: bytes, header: str | None, secret: str) -> bool:
    return header is not None and hmac.compare_digest(signature(body, secret), header)


STATUS = {"sent": DispatchStatus.SENT, "delivered": DispatchStatus.DELIVERED,
          "read": DispatchStatus.READ, "failed": DispatchStatus.FAILED}
