"""The letters page: each day's print file of a tenant's letters (PDF) and its manifest
for the print house, with the count, to download."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath, FromQuery
from litestar.response import Template

from core.auth.principal import Principal
from core.auth.roles import Role
from core.auth.web import requires
from core.channels import letters
from core.runtime import get_storage
from portal.cadence_pages import _chosen, _tenants
from portal.pages import page

Req = Request[Principal, str, Any]
READERS = requires(Role.ADMIN, Role.SUPERVISOR, Role.CREDITOR_ADMIN, Role.CREDITOR_VIEWER)


@get("/cartas", guards=[READERS])
async def letters_page(request: Req, credor: FromQuery[str | None] = None) -> Template:
    tenants = await _tenants(request.user)
    tenant = _chosen(tenants, credor)
    found = await letters.batches(request.user, tenant.id)
    return page(request, "letters.html", tenants=tenants, tenant=tenant, batches=found)


@get("/cartas/{batch_id:uuid}/{kind:str}", guards=[READERS])
async def letters_file(request: Req, batch_id: FromPath[uuid.UUID],
                       kind: FromPath[str]) -> Response[bytes]:
    name, media, body = await letters.batch_file(request.user, get_storage(), batch_id, kind)
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


handlers = [letters_page, letters_file]
