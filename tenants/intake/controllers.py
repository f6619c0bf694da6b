"""/api/v1/portfolios: uploads, imports, status, reports, layouts and recalls.

Creditor staff act on their own tenant; agency staff may import for any tenant they
work (`tenant_id` in the body). Another tenant's portfolio is a 404.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post, put
from litestar.params import FromPath, FromQuery, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import TenantId, access_tenant, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.auth.web import requires
from core.errors import NotFound, ValidationFailed
from core.models import ColumnLayout, Portfolio
from core.storage import Storage
from core.storage_keys import safe_file_name
from tenants.intake import counters, limits, service

Req = Request[Principal, str, Any]

IMPORTERS = (Role.ADMIN, Role.SUPERVISOR, Role.CREDITOR_ADMIN)
READERS = (*IMPORTERS, Role.CREDITOR_VIEWER)


class UploadCreate(msgspec.Struct, kw_only=True):
    file_name: str
    file_size: int  # bytes: the upload URL takes exactly these, and no more than the limit
    mode: str = "incremental"
    tenant_id: uuid.UUID | None = None
    layout: str | None = None
    mapping: dict[str, Any] | None = None
    sheet: str | None = None


class ImportStart(msgspec.Struct, kw_only=True):
    mapping: dict[str, Any] | None = None
    sheet: str | None = None


class PortfolioOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    tenant_id: uuid.UUID
    file_name: str
    mode: str
    status: str
    phase: str | None
    error: str | None
    duplicate_of: uuid.UUID | None
    bytes_total: int | None
    bytes_read: int
    rows_total: int
    rows_accepted: int
    rows_rejected: int
    rows_with_warnings: int
    debtors_created: int
    debtors_updated: int
    debts_created: int
    debts_updated: int
    debts_unchanged: int
    debts_closed: int
    amount_placed: str
    placed_until: dt.date | None
    has_error_report: bool
    has_warning_report: bool
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    upload_url: str | None = None
    # Headers the PUT to `upload_url` must carry (they are signed into it).
    upload_headers: dict[str, str] | None = None


class LayoutIn(msgspec.Struct, kw_only=True):
    name: str
    mapping: dict[str, Any]
    mode: str = "incremental"
    sheet: str | None = None
    tenant_id: uuid.UUID | None = None


class LayoutOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str
    mode: str
    mapping: dict[str, Any]
    sheet: str | None


class IntakeLimitsIn(msgspec.Struct, kw_only=True):
    """A tenant's own limits; a field left out (or null) takes the default."""

    file_mb: int | None = None
    unpacked_mb: int | None = None
    ratio: int | None = None
    rows: int | None = None
    columns: int | None = None
    cell_chars: int | None = None
    memory_mb: int | None = None


class RecallItem(msgspec.Struct):
    contract: str
    installment: int = 1


class RecallIn(msgspec.Struct, kw_only=True):
    items: list[RecallItem]
    tenant_id: uuid.UUID | None = None


def portfolio_out(p: Portfolio, upload_url: str | None = None,
                  upload_headers: dict[str, str] | None = None) -> PortfolioOut:
    return PortfolioOut(
        id=p.id, tenant_id=p.tenant_id, file_name=p.file_name, mode=p.mode, status=p.status,
        phase=p.phase, error=p.error, duplicate_of=p.duplicate_of, bytes_total=p.bytes_total,
        bytes_read=p.bytes_read, **counters.counters_of(p), placed_until=p.placed_until,
        has_error_report=p.error_report_key is not None,
        has_warning_report=p.warning_report_key is not None,
        created_at=p.created_at, started_at=p.started_at, finished_at=p.finished_at,
        upload_url=upload_url, upload_headers=upload_headers,
    )


async def acting_tenant(session: AsyncSession, principal: Principal,
                        requested: uuid.UUID | None) -> TenantId:
    """The tenant a request acts on: a creditor's own, or one an agency user works."""
    if not principal.role.is_agency:
        if requested is not None and requested != principal.tenant_id:
            raise NotFound("credor")
        assert principal.tenant_id is not None
        return await access_tenant(session, principal, principal.tenant_id)
    if requested is None:
        if len(principal.tenant_ids) != 1:
            raise ValidationFailed({"tenant_id": "informe o credor"})
        requested = next(iter(principal.tenant_ids))
    return await access_tenant(session, principal, requested)


class PortfolioController(Controller):
    path = "/api/v1/portfolios"
    tags = ["portfolios"]

    @post("/", guards=[requires(*IMPORTERS)], opt={"columns": Portfolio})
    async def create_upload(self, request: Req, data: JSONBody[UploadCreate]) -> PortfolioOut:
        """Create a portfolio and a presigned URL to PUT its file to: exactly `file_size`
        bytes, with `upload_headers`, once, within ten minutes."""
        async with transaction(request.user) as session:
            tenant_id = await acting_tenant(session, request.user, data.tenant_id)
            portfolio = await service.create_upload(
                session, request.user.actor, tenant_id, data.file_name,
                file_size=data.file_size, mode=data.mode, layout_name=data.layout,
                mapping=data.mapping, sheet=data.sheet,
            )
        return portfolio_out(portfolio, service.upload_url(portfolio, data.file_size),
                             dict(Storage.UPLOAD_HEADERS))

    @get("/", guards=[requires(*READERS)])
    async def list_portfolios(self, request: Req,
                              tenant_id: FromQuery[uuid.UUID | None] = None,
                              limit: FromQuery[int] = 50) -> list[PortfolioOut]:
        async with transaction(request.user) as session:
            rows = await service.list_portfolios(session, tenant_id, min(limit, 500))
        return [portfolio_out(p) for p in rows]

    @get("/{portfolio_id:uuid}", guards=[requires(*READERS)])
    async def get_portfolio(self, request: Req,
                            portfolio_id: FromPath[uuid.UUID]) -> PortfolioOut:
        async with transaction(request.user) as session:
            found = await service.access_portfolio(session, request.user, portfolio_id)
            return portfolio_out(await service.get_portfolio(session, found))

    @post("/{portfolio_id:uuid}/start", guards=[requires(*IMPORTERS)], status_code=202)
    async def start(self, request: Req, portfolio_id: FromPath[uuid.UUID],
                    data: JSONBody[ImportStart | None] = None) -> PortfolioOut:
        """Queue the import of an uploaded file; poll the portfolio for progress."""
        async with transaction(request.user) as session:
            found = await service.access_portfolio(session, request.user, portfolio_id)
            portfolio = await service.start_import(
                session, request.user.actor, found,
                mapping=data.mapping if data else None, sheet=data.sheet if data else None,
            )
        return portfolio_out(portfolio)

    @post("/{portfolio_id:uuid}/received", guards=[requires(*IMPORTERS)], status_code=200)
    async def received(self, request: Req, portfolio_id: FromPath[uuid.UUID]) -> PortfolioOut:
        """Say the file is uploaded: an empty or unreadable file is refused at once (422),
        and a file imported before ends the portfolio as a duplicate (`duplicate_of`)."""
        return portfolio_out(await service.receive_upload(request.user, portfolio_id))

    @post("/{portfolio_id:uuid}/preview", guards=[requires(*IMPORTERS)], status_code=200)
    async def preview(self, request: Req, portfolio_id: FromPath[uuid.UUID],
                      data: JSONBody[ImportStart | None] = None) -> dict[str, Any]:
        """The uploaded file's format, headers, suggested mapping and first rows."""
        async with transaction(request.user) as session:
            found = await service.access_portfolio(session, request.user, portfolio_id)
            portfolio = await service.get_portfolio(session, found)
            tenant_limits = await service.tenant_limits(session, portfolio.tenant_id)
        return await asyncio.to_thread(service.preview, portfolio,
                                       data.mapping if data else None, tenant_limits)

    @get("/{portfolio_id:uuid}/reports/{kind:str}", guards=[requires(*READERS)])
    async def report(self, request: Req, portfolio_id: FromPath[uuid.UUID],
                     kind: FromPath[str]) -> Response[bytes]:
        """A report as CSV: `errors`, `warnings`, `return` or `acknowledgement` (receipt)."""
        if kind not in service.REPORT_LABELS:
            raise NotFound("relatório")
        async with transaction(request.user) as session:
            found = await service.access_portfolio(session, request.user, portfolio_id)
            portfolio = await service.get_portfolio(session, found)
        body = service.read_report(portfolio, kind)
        stem = portfolio.file_name.rsplit(".", 1)[0]
        label = service.REPORT_LABELS[kind]
        # Litestar adds the charset to a text type itself.
        return Response(body, media_type="text/csv", headers={
            "Content-Disposition": f'attachment; filename="{safe_file_name(stem)}-{label}.csv"'
        })


class LayoutController(Controller):
    path = "/api/v1/layouts"
    tags = ["portfolios"]

    @get("/", guards=[requires(*READERS)])
    async def list_layouts(self, request: Req,
                           tenant_id: FromQuery[uuid.UUID | None] = None) -> list[LayoutOut]:
        async with transaction(request.user) as session:
            tenant = await acting_tenant(session, request.user, tenant_id)
            layouts = await service.list_layouts(session, tenant)
        return [LayoutOut(id=x.id, name=x.name, mode=x.mode, mapping=x.mapping, sheet=x.sheet)
                for x in layouts]

    @put("/", guards=[requires(*IMPORTERS)], opt={"columns": ColumnLayout})
    async def save_layout(self, request: Req, data: JSONBody[LayoutIn]) -> LayoutOut:
        async with transaction(request.user) as session:
            tenant = await acting_tenant(session, request.user, data.tenant_id)
            x = await service.save_layout(session, request.user.actor, tenant, data.name,
                                          data.mapping, mode=data.mode, sheet=data.sheet)
        return LayoutOut(id=x.id, name=x.name, mode=x.mode, mapping=x.mapping, sheet=x.sheet)


class RecallController(Controller):
    path = "/api/v1/recalls"
    tags = ["portfolios"]

    @post("/", guards=[requires(*IMPORTERS)], status_code=200)
    async def recall(self, request: Req, data: JSONBody[RecallIn]) -> dict[str, Any]:
        """Take debts back: each listed open debt closes as recalled."""
        if not data.items:
            raise ValidationFailed({"items": "informe ao menos um título"})
        async with transaction(request.user) as session:
            tenant = await acting_tenant(session, request.user, data.tenant_id)
            return await service.recall_debts(
                session, request.user.actor, tenant,
                [(i.contract.strip(), i.installment) for i in data.items],
            )


class IntakeLimitsController(Controller):
    """A tenant's limits on uploaded files (size, workbook expansion, rows, columns, cell
    length, memory to read one), within the platform's maxima."""

    path = "/api/v1/tenants/{tenant_id:uuid}/intake-limits"
    tags = ["portfolios"]

    @get("/", guards=[requires(*READERS)])
    async def show(self, request: Req, tenant_id: FromPath[uuid.UUID]) -> dict[str, Any]:
        """The limits in force, the tenant's overrides, the defaults and the maxima."""
        async with transaction(request.user) as session:
            found = await access_tenant(session, request.user, tenant_id)
            return limits.described(await service.stored_limits(session, found))

    @put("/", guards=[requires(Role.ADMIN, Role.CREDITOR_ADMIN)])
    async def replace(self, request: Req, tenant_id: FromPath[uuid.UUID],
                      data: JSONBody[IntakeLimitsIn]) -> dict[str, Any]:
        """Replace the tenant's overrides (each within its minimum and the platform's
        maximum); `{}` puts every limit back to its default."""
        chosen = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not None}
        async with transaction(request.user) as session:
            found = await access_tenant(session, request.user, tenant_id)
            return await service.set_tenant_limits(session, request.user, found, chosen)
