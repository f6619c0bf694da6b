"""The monthly statement ("prestação de contas") page and its CSV and PDF downloads, and
the fee contract it applies (the agency admin's page)."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from core.auth.principal import Principal
from core.auth.roles import Role
from core.auth.web import requires
from core.errors import DomainError, NotFound
from core.models.ledger import BUCKET_LABELS, PAYMENT_SOURCE_LABELS
from core.settings import get_settings
from legal import fees
from legal import statement as service
from portal.pages import page

ROLES = (Role.ADMIN, Role.CREDITOR_ADMIN, Role.CREDITOR_VIEWER)
FEE_EDITORS = requires(*fees.EDITING_ROLES)
Req = Request[Principal, str, Any]
MultiForm = Annotated[dict[str, str | list[str]], Body(media_type=RequestEncodingType.URL_ENCODED)]


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


def _fee_page(request: Req, tenant_id: uuid.UUID, values: dict[str, Any],
              errors: dict[str, str] | None = None, status_code: int = 200,
              done: bool = False) -> Template:
    return page(request, "fee_contract.html", status_code=status_code, tenant_id=tenant_id,
                c=values, errors=errors or {}, done=done, buckets=fees.BUCKETS,
                bucket_labels=BUCKET_LABELS)


@get("/credores/{tenant_id:uuid}/honorarios", guards=[FEE_EDITORS])
async def fee_contract_page(request: Req, tenant_id: FromPath[uuid.UUID]) -> Template:
    values = await fees.read(request.user, tenant_id)
    return _fee_page(request, tenant_id, values, done=request.query_params.get("feito") == "1")


@post("/credores/{tenant_id:uuid}/honorarios", guards=[FEE_EDITORS])
async def save_fee_contract(request: Req, tenant_id: FromPath[uuid.UUID],
                            data: MultiForm) -> Template | Redirect:
    def column(name: str) -> list[str]:
        raw = data.get(f"band_{name}", [])
        return raw if isinstance(raw, list) else [raw]

    columns = {f: column(f) for f in ("min_days", "max_days", *fees.BUCKETS)}
    rows = [{f: (v[i] if i < len(v) else "") for f, v in columns.items()}
            for i in range(len(columns["min_days"]))]
    values: dict[str, Any] = {
        "bands": [r for r in rows if str(r["min_days"]).strip()],
        "debtor_fee_pct": data.get("debtor_fee_pct") or None,
        "direct_payments_earn": data.get("direct_payments_earn", "off")}
    try:
        await fees.save(request.user, tenant_id, values)
    except NotFound:
        raise
    except DomainError as exc:
        errors = exc.detail if isinstance(exc.detail, dict) else {"_": exc.detail}
        return _fee_page(request, tenant_id, {**values, "default": False}, errors,
                         exc.status_code)
    return Redirect(f"/credores/{tenant_id}/honorarios?feito=1")


handlers = [statement_page, statement_csv, statement_pdf, fee_contract_page, save_fee_contract]
