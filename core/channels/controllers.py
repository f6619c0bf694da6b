"""The channels' HTTP surface: providers' webhooks (public, authenticated by the
provider's token or signature) and the tenants' message templates API."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.params import FromPath, FromQuery, JSONBody

from core.access import TenantId, access_tenant, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.auth.web import requires
from core.channels import templates, webhooks
from core.errors import ValidationFailed
from core.models import MessageTemplate
from core.settings import get_settings


def _answer(handled: webhooks.Handled) -> Response[Any]:
    body = {"statuses": handled.statuses, "opt_outs": handled.opt_outs}
    if handled.unknown:
        # The sending transaction may not have committed yet: ask the provider to retry.
        return Response({**body, "detail": "mensagem ainda não registrada"}, status_code=409)
    return Response(body, status_code=200)


async def _guarded(work: Any) -> Response[Any]:
    try:
        return _answer(await work)
    except webhooks.Unauthenticated as exc:
        return Response({"detail": str(exc)}, status_code=403)
    except webhooks.Malformed as exc:
        return Response({"detail": str(exc)}, status_code=400)


@post("/webhooks/zenvia", exclude_from_auth=True, exclude_from_csrf=True,
      include_in_schema=False)
async def zenvia_webhook(request: Request[Any, Any, Any]) -> Response[Any]:
    """Zenvia's subscription events: SMS delivery status and inbound SMS."""
    body = await request.body()
    return await _guarded(webhooks.zenvia(body, request.headers.get("x-regua-webhook-token"),
                                          get_settings()))


@post("/webhooks/whatsapp", exclude_from_auth=True, exclude_from_csrf=True,
      include_in_schema=False)
async def whatsapp_webhook(request: Request[Any, Any, Any]) -> Response[Any]:
    """WhatsApp Cloud API events, signed with the app secret."""
    body = await request.body()
    return await _guarded(webhooks.whatsapp_event(
        body, request.headers.get("x-hub-signature-256"), get_settings()))


@get("/webhooks/whatsapp", exclude_from_auth=True, include_in_schema=False)
async def whatsapp_verify(request: Request[Any, Any, Any]) -> Response[str]:
    """Meta's subscription check (hub.mode, hub.verify_token, hub.challenge)."""
    query = request.query_params
    challenge = webhooks.verify_subscription(query.get("hub.mode"), query.get("hub.verify_token"),
                                             query.get("hub.challenge"), get_settings())
    if challenge is None:
        return Response("token de verificação inválido", status_code=403,
                        media_type="text/plain")
    return Response(challenge, media_type="text/plain")


class TemplateOut(msgspec.Struct):
    id: uuid.UUID
    tenant_id: uuid.UUID
    channel: str
    name: str
    version: int
    subject: str | None
    body: str
    params: list[str] | None
    active: bool
    created_at: dt.datetime


class TemplateIn(msgspec.Struct):
    channel: str
    name: str
    body: str
    subject: str | None = None
    params: list[str] | None = None
    tenant_id: uuid.UUID | None = None


def _out(row: MessageTemplate) -> TemplateOut:
    return TemplateOut(row.id, row.tenant_id, row.channel, row.name, row.version, row.subject,
                       row.body, row.params, row.active, row.created_at)


def _tenant_of(principal: Principal, given: uuid.UUID | None) -> uuid.UUID:
    if given is not None:
        return given
    if principal.tenant_id is not None:
        return principal.tenant_id
    raise ValidationFailed({"tenant_id": "informe o credor"})


class MessageTemplateController(Controller):
    path = "/api/v1/message-templates"
    tags = ["message-templates"]

    @get("/", guards=[requires(Role.ADMIN, Role.SUPERVISOR, Role.CREDITOR_ADMIN,
                               Role.CREDITOR_VIEWER)])
    async def list_templates(self, request: Request[Principal, str, Any],
                             tenant_id: FromQuery[uuid.UUID | None] = None,
                             ) -> list[TemplateOut]:
        """The tenant's active templates (channels without one use the platform's default)."""
        async with transaction(request.user) as session:
            tenant = await access_tenant(session, request.user,
                                         _tenant_of(request.user, tenant_id))
            return [_out(r) for r in await templates.list_templates(session, tenant)]

    @get("/{template_id:uuid}", guards=[requires(Role.ADMIN, Role.SUPERVISOR,
                                                 Role.CREDITOR_ADMIN, Role.CREDITOR_VIEWER)])
    async def get_template(self, request: Request[Principal, str, Any],
                           template_id: FromPath[uuid.UUID]) -> TemplateOut:
        async with transaction(request.user) as session:
            return _out(await templates.access_template(session, request.user, template_id))

    @post("/", guards=[requires(Role.ADMIN, Role.SUPERVISOR, Role.CREDITOR_ADMIN)],
          opt={"columns": MessageTemplate})
    async def save_template(self, request: Request[Principal, str, Any],
                            data: JSONBody[TemplateIn]) -> TemplateOut:
        """Save a new version; refused (422, naming the field) when it breaks a rule."""
        async with transaction(request.user) as session:
            tenant = await access_tenant(session, request.user,
                                         _tenant_of(request.user, data.tenant_id))
            row = await templates.save(session, request.user, TenantId(tenant),
                                       channel=data.channel, name=data.name, body=data.body,
                                       subject=data.subject, params=data.params,
                                       settings=get_settings())
            return _out(row)


# Providers call these without a login: each checks the provider's own signature or token.
webhook_handlers: list[Any] = [zenvia_webhook, whatsapp_webhook, whatsapp_verify]
