"""SMS through Zenvia's API v2 (a provider Brazilian agencies use).

    POST {api}/v2/channels/sms/messages   header X-API-TOKEN
    {"from": sender, "to": "5511987654321", "contents": [{"type": "text", "text": ...}]}
    -> 200 {"id": ..., "from", "to", "direction": "OUT", "channel": "sms", "contents", ...}

Delivery status and inbound messages come back to `/webhooks/zenvia` as Zenvia's
subscription events (`MESSAGE_STATUS`, `MESSAGE`). Zenvia does not sign them: the
subscription is created with a header of our own (`X-Regua-Webhook-Token`), which the
webhook checks in constant time."""

from __future__ import annotations

import httpx

from core.channels.base import Delivery, Outgoing
from core.models import DispatchStatus
from core.settings import Settings

PROVIDER = "zenvia"
TOKEN_HEADER = "X-Regua-Webhook-Token"  # noqa: S105 - a header name


def api_base(settings: Settings) -> tuple[str, str] | None:
    """The API's base URL and token: Zenvia's, else the local sandbox's."""
    if settings.zenvia_api_token is not None:
        return settings.zenvia_api_url, settings.zenvia_api_token.get_secret_value()
    if settings.sandbox_url is not None:
        return f"{settings.sandbox_url}/zenvia", "sandbox"
    return None


def payload(message: Outgoing, settings: Settings) -> dict[str, object]:
    return {"from": settings.zenvia_sender, "to": message.recipient.lstrip("+"),
            "contents": [{"type": "text", "text": message.body}]}


async def send(message: Outgoing, settings: Settings) -> Delivery:
    base = api_base(settings)
    if base is None:
        return Delivery(DispatchStatus.FAILED, None,
                        "nenhum provedor de SMS configurado (REGUA_ZENVIA_API_TOKEN)")
    url, token = base
    try:
        async with httpx.AsyncClient(timeout=20) as client:
            response = await client.post(f"{url}/v2/channels/sms/messages",
                                         json=payload(message, settings),
                                         headers={"X-API-TOKEN": token})
    except httpx.HTTPError as exc:
        return Delivery(DispatchStatus.FAILED, None, f"provedor de SMS indisponível: {exc}")
    if response.status_code >= 400:
        return Delivery(DispatchStatus.FAILED, None,
                        f"provedor de SMS recusou ({response.status_code}): "
                        f"{response.text[:300]}")
    return Delivery(DispatchStatus.SENT, str(response.json()["id"]), None)


# Zenvia's status codes, as the timeline records them.
STATUS = {"SENT": DispatchStatus.SENT, "DELIVERED": DispatchStatus.DELIVERED,
          "READ": DispatchStatus.READ, "NOT_DELIVERED": DispatchStatus.FAILED,
          "REJECTED": DispatchStatus.FAILED}
