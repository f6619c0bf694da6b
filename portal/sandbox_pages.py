"""The sandbox page: what the local SMTP server and provider sandbox received, per tenant."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, get
from litestar.params import FromPath
from litestar.response import Template

from core.access import transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.auth.web import requires
from core.channels import service
from core.models import CHANNEL_LABELS, DISPATCH_STATUS_LABELS
from portal.pages import page
from reports import monthly

ROLES = (Role.ADMIN, Role.SUPERVISOR, Role.CREDITOR_ADMIN, Role.CREDITOR_VIEWER)


@get("/sandbox", guards=[requires(*ROLES)])
async def sandbox_page(request: Request[Principal, str, Any]) -> Template:
    async with transaction(request.user) as session:
        entries = await service.sandbox_messages(session)
        reports = await monthly.deliveries(session)
    return page(request, "sandbox.html", entries=entries, entry=None, reports=reports,
                channel_labels=CHANNEL_LABELS, status_labels=DISPATCH_STATUS_LABELS)


@get("/sandbox/{message_id:uuid}", guards=[requires(*ROLES)])
async def sandbox_message_page(request: Request[Principal, str, Any],
                               message_id: FromPath[uuid.UUID]) -> Template:
    async with transaction(request.user) as session:
        entry = await service.sandbox_message(session, request.user, message_id)
    return page(request, "sandbox.html", entries=[], entry=entry,
                channel_labels=CHANNEL_LABELS, status_labels=DISPATCH_STATUS_LABELS)


handlers = [sandbox_page, sandbox_message_page]
