"""The supervisor's cadence pages: the list, the editor (a timeline from D-5 to D+120,
templates rendered for a real debtor) and the dry-run (tomorrow or the next 30 days)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from core.access import transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.auth.web import requires
from core.cadence import definition as cdef
from core.cadence import service
from core.cadence.views import reason_label, step_label, when_label
from core.errors import NotFound, ValidationFailed
from core.models import STEP_CHANNEL_LABELS, Tenant
from portal.pages import page

Req = Request[Principal, str, Any]
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
SUPERVISORS = requires(Role.ADMIN, Role.SUPERVISOR)
LABELS = {"channels": {k.value: v for k, v in STEP_CHANNEL_LABELS.items()},
          "step": step_label, "reason": reason_label, "when": when_label,
          "span": (cdef.TIMELINE_FROM, cdef.TIMELINE_TO)}


async def _tenants(principal: Principal) -> list[Tenant]:
    from sqlalchemy import select

    async with transaction(principal) as session:
        return list((await session.execute(select(Tenant).where(
            Tenant.id.in_(principal.tenant_ids)).order_by(Tenant.trade_name))).scalars())


def _chosen(tenants: list[Tenant], raw: str | None) -> Tenant:
    if raw:
        for t in tenants:
            if str(t.id) == raw:
                return t
        raise NotFound("credor")
    if not tenants:
        raise NotFound("credor")
    return tenants[0]


@get("/cadencias", guards=[SUPERVISORS])
async def cadence_list(request: Req, credor: FromQuery[str | None] = None) -> Template:
    tenants = await _tenants(request.user)
    tenant = _chosen(tenants, credor)
    async with transaction(request.user) as session:
        cadences = await service.list_cadences(session, tenant.id)  # type: ignore[arg-type]
    return page(request, "cadences.html", tenants=tenants, tenant=tenant, cadences=cadences,
                labels=LABELS)


@get("/cadencias/{cadence_id:uuid}", guards=[SUPERVISORS])
async def cadence_edit(request: Req, cadence_id: FromPath[uuid.UUID]) -> Template:
    edited = await service.editor(request.user, cadence_id)
    return page(request, "cadence_edit.html", editor=edited, source=edited.source,
                errors={}, labels=LABELS)


@post("/cadencias/{cadence_id:uuid}", guards=[SUPERVISORS])
async def cadence_save(request: Req, cadence_id: FromPath[uuid.UUID],
                       data: Form) -> Template | Redirect:
    try:
        saved = await service.save_version(request.user, cadence_id, data.get("source") or "")
    except ValidationFailed as exc:
        edited = await service.editor(request.user, cadence_id)
        errors = exc.detail if isinstance(exc.detail, dict) else {"arquivo": str(exc.detail)}
        return page(request, "cadence_edit.html", status_code=422, editor=edited,
                    source=data.get("source") or "", errors=errors, labels=LABELS)
    return Redirect(f"/cadencias/{cadence_id}?versao={saved.version}")


@get("/cadencias/simulacao", guards=[SUPERVISORS])
async def cadence_dry_run(request: Req, credor: FromQuery[str | None] = None,
                          dias: FromQuery[int] = 1) -> Template:
    tenants = await _tenants(request.user)
    tenant = _chosen(tenants, credor)
    days = 30 if dias >= 30 else 1
    start = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    forecast = await service.forecast(request.user, tenant.id, start, days)
    return page(request, "cadence_dry_run.html", tenants=tenants, tenant=tenant, days=days,
                start=start, forecast=forecast, labels=LABELS)


handlers = [cadence_list, cadence_dry_run, cadence_edit, cadence_save]
