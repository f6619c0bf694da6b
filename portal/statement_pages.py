"""The monthly statement ("prestação de contas") page and its CSV and PDF downloads."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Request, Response, get
from litestar.params import FromQuery
from litestar.response import Template

from core.auth.principal import Principal
from core.auth.roles import Role
from core.auth.web import requires
from core.models.ledger import PAYMENT_SOURCE_LABELS
from core.settings import get_settings
from legal import statement as service
from portal.pages import page

ROLES = (Role.ADMIN, Role.CREDITOR_ADMIN, Role.CREDITOR_VIEWER)
Req = Request[Principal, str, Any]


def _tenant(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return uuid.UUID(int=0)  # matches nothing: answered "not found"


@get("/prestacao-de-contas", guards=[requires(*ROLES)])
async def statement_page(request: Req, credor: FromQuery[str | None] = None,
                         mes: FromQuery[str | None] = None) -> Template:
    month = service.month_of(mes)
    statement, choices = await service.for_viewer(request.user, _tenant(credor), month)
    return page(request, "statement.html", statement=statement, choices=choices,
                month=month, source_labels=PAYMENT_SOURCE_LABELS)


async def _download(request: Req, credor: str | None, mes: str | None, kind: str
                    ) -> Response[bytes]:
    month = service.month_of(mes)
    statement, _ = await service.for_viewer(request.user, _tenant(credor), month)
    if statement is None:
        from core.errors import NotFound

        raise NotFound("escolha um credor")
    name = f"prestacao-de-contas-{month:%Y-%m}.{kind}"
    if kind == "csv":
        body, media = service.to_csv(statement), "text/csv; charset=utf-8"
    else:
        body, media = service.to_pdf(statement, get_settings().agency_name), "application/pdf"
    return Response(body, media_type=media,
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})


@get("/prestacao-de-contas.csv", guards=[requires(*ROLES)])
async def statement_csv(request: Req, credor: FromQuery[str | None] = None,
                        mes: FromQuery[str | None] = None) -> Response[bytes]:
    return await _download(request, credor, mes, "csv")


@get("/prestacao-de-contas.pdf", guards=[requires(*ROLES)])
async def statement_pdf(request: Req, credor: FromQuery[str | None] = None,
                        mes: FromQuery[str | None] = None) -> Response[bytes]:
    return await _download(request, credor, mes, "pdf")


handlers = [statement_page, statement_csv, statement_pdf]
