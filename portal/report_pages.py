"""Reports: the creditor's dashboard (charts, tables, the debts behind each figure,
CSV/XLSX/PDF downloads) and the agency's view of every tenant side by side. The figures
come from `reports`; these handlers parse, authorize and render."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response, get
from litestar.params import FromQuery
from litestar.response import Template

from core.auth.principal import Principal
from core.auth.roles import Role
from core.auth.web import requires
from core.errors import DomainError, NotFound
from core.settings import get_settings
from portal.pages import page
from reports import dashboard, drilldown, exports, tables
from reports.dashboard import REPORT_ROLES

Req = Request[Principal, str, Any]
AGENCY_ROLES = (Role.ADMIN, Role.SUPERVISOR)
MEDIA = {"csv": "text/csv; charset=utf-8", "pdf": "application/pdf",
         "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}


def _tenant(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return uuid.UUID(int=0)  # matches nothing: answered "not found"


def _query(de: str | None, ate: str | None, carteira: str | None, segmento: str | None,
           cadencia: str | None) -> dict[str, Any]:
    return {"de": de, "ate": ate, "carteira": carteira, "segmento": segmento,
            "cadencia": cadencia}


def _linker(tenant_id: uuid.UUID, filters: dashboard.Filters) -> tables.Link:
    base = {"credor": str(tenant_id), **filters.as_query()}

    def link(figure: str, key: str) -> str:
        return "/relatorios/detalhe?" + urlencode({**base, "figura": figure, "chave": key})

    return link


def _no_link(figure: str, key: str) -> None:
    return None  # a PDF's charts link nowhere


def _download(body: bytes, kind: str, name: str) -> Response[bytes]:
    return Response(body, media_type=MEDIA[kind],
                    headers={"Content-Disposition": f'attachment; filename="{name}.{kind}"'})


def _heading(board: dashboard.Dashboard) -> str:
    f = board.filters
    return (f"Relatório de cobrança: {board.tenant_name}, {f.start:%m/%Y} a {f.end:%m/%Y}")


@get("/relatorios", guards=[requires(*REPORT_ROLES)])
async def dashboard_page(request: Req, credor: FromQuery[str | None] = None,
                         de: FromQuery[str | None] = None, ate: FromQuery[str | None] = None,
                         carteira: FromQuery[str | None] = None,
                         segmento: FromQuery[str | None] = None,
                         cadencia: FromQuery[str | None] = None) -> Template:
    query = _query(de, ate, carteira, segmento, cadencia)
    try:
        board, options, choices = await dashboard.for_viewer(request.user, _tenant(credor),
                                                             query)
    except NotFound:
        raise
    except DomainError as exc:
        errors = exc.detail if isinstance(exc.detail, dict) else {"_": exc.detail}
        return page(request, "reports.html", status_code=exc.status_code, board=None,
                    options=None, choices=[], query=query, errors=errors, sections=[],
                    charts={}, kpis=[], export_query="")
    if board is None:
        return page(request, "reports.html", board=None, options=None, choices=choices,
                    query=query, errors={}, sections=[], charts={}, kpis=[],
                    export_query="")
    link = _linker(board.tenant_id, board.filters)
    export_query = urlencode({"credor": str(board.tenant_id), **board.filters.as_query()})
    return page(request, "reports.html", board=board, options=options, choices=choices,
                query=query, errors={}, sections=tables.build_tables(board, link),
                charts=tables.build_charts(board, link), kpis=tables.kpis(board),
                export_query=export_query,
                agency=request.user.role in AGENCY_ROLES)


async def _export(request: Req, credor: str | None, query: dict[str, Any],
                  kind: str) -> Response[bytes]:
    board, _, _ = await dashboard.for_viewer(request.user, _tenant(credor), query)
    if board is None:
        raise NotFound("escolha um credor")
    link = _linker(board.tenant_id, board.filters)
    sections = tables.build_tables(board, link)
    heading = _heading(board)
    name = f"relatorio-{board.filters.start:%Y-%m}-a-{board.filters.end:%Y-%m}"
    if kind == "csv":
        return _download(exports.tables_csv(heading, sections), kind, name)
    if kind == "xlsx":
        return _download(exports.tables_xlsx(heading, sections), kind, name)
    subtitle = "Valores em R$. Filtros: " + (", ".join(
        f"{k} {v}" for k, v in board.filters.as_query().items() if k not in ("de", "ate"))
        or "nenhum") + "."
    return _download(exports.tables_pdf(heading, subtitle, sections,
                                        tables.build_charts(board, _no_link),
                                        get_settings().agency_name), kind, name)


def _kind(request: Req) -> str:
    return request.url.path.rpartition(".")[2]


@get(["/relatorios.csv", "/relatorios.xlsx", "/relatorios.pdf"],
     guards=[requires(*REPORT_ROLES)])
async def dashboard_export(request: Req, credor: FromQuery[str | None] = None,
                           de: FromQuery[str | None] = None,
                           ate: FromQuery[str | None] = None,
                           carteira: FromQuery[str | None] = None,
                           segmento: FromQuery[str | None] = None,
                           cadencia: FromQuery[str | None] = None) -> Response[bytes]:
    return await _export(request, credor, _query(de, ate, carteira, segmento, cadencia),
                         _kind(request))


@get("/relatorios/detalhe", guards=[requires(*REPORT_ROLES)])
async def detail_page(request: Req, figura: FromQuery[str], chave: FromQuery[str] = "",
                      credor: FromQuery[str | None] = None, de: FromQuery[str | None] = None,
                      ate: FromQuery[str | None] = None,
                      carteira: FromQuery[str | None] = None,
                      segmento: FromQuery[str | None] = None,
                      cadencia: FromQuery[str | None] = None) -> Template:
    query = _query(de, ate, carteira, segmento, cadencia)
    detail = await drilldown.for_viewer(request.user, _tenant(credor), figura, chave, query)
    base = {"credor": str(detail.tenant_id), **detail.filters.as_query()}
    return page(request, "reports_detail.html", detail=detail,
                back="/relatorios?" + urlencode(base),
                export_query=urlencode({**base, "figura": figura, "chave": chave}))


@get(["/relatorios/detalhe.csv", "/relatorios/detalhe.xlsx", "/relatorios/detalhe.pdf"],
     guards=[requires(*REPORT_ROLES)])
async def detail_export(request: Req, figura: FromQuery[str],
                        chave: FromQuery[str] = "", credor: FromQuery[str | None] = None,
                        de: FromQuery[str | None] = None, ate: FromQuery[str | None] = None,
                        carteira: FromQuery[str | None] = None,
                        segmento: FromQuery[str | None] = None,
                        cadencia: FromQuery[str | None] = None) -> Response[bytes]:
    kind = _kind(request)
    detail = await drilldown.for_viewer(request.user, _tenant(credor), figura, chave,
                                        _query(de, ate, carteira, segmento, cadencia),
                                        limit=drilldown.EXPORT_LIMIT)
    table = exports.detail_table(detail)
    name = f"titulos-{figura}"
    if kind == "csv":
        return _download(exports.tables_csv(detail.title, [table]), kind, name)
    if kind == "xlsx":
        return _download(exports.tables_xlsx(detail.title, [table]), kind, name)
    return _download(exports.tables_pdf(detail.title, f"{detail.total} título(s).", [table],
                                        {}, get_settings().agency_name), kind, name)


@get("/relatorios/agencia", guards=[requires(*AGENCY_ROLES)])
async def agency_page(request: Req, de: FromQuery[str | None] = None,
                      ate: FromQuery[str | None] = None) -> Template:
    filters, boards = await dashboard.agency(request.user, {"de": de, "ate": ate})
    return page(request, "reports_agency.html", filters=filters, boards=boards,
                table=tables.agency_table(boards), charts=tables.agency_charts(boards),
                export_query=urlencode({"de": f"{filters.start:%Y-%m}",
                                        "ate": f"{filters.end:%Y-%m}"}))


@get(["/relatorios/agencia.csv", "/relatorios/agencia.xlsx", "/relatorios/agencia.pdf"],
     guards=[requires(*AGENCY_ROLES)])
async def agency_export(request: Req, de: FromQuery[str | None] = None,
                        ate: FromQuery[str | None] = None) -> Response[bytes]:
    kind = _kind(request)
    filters, boards = await dashboard.agency(request.user, {"de": de, "ate": ate})
    table = tables.agency_table(boards)
    heading = f"Credores lado a lado, {filters.start:%m/%Y} a {filters.end:%m/%Y}"
    name = f"credores-{filters.start:%Y-%m}-a-{filters.end:%Y-%m}"
    if kind == "csv":
        return _download(exports.tables_csv(heading, [table]), kind, name)
    if kind == "xlsx":
        return _download(exports.tables_xlsx(heading, [table]), kind, name)
    return _download(exports.tables_pdf(heading, "Valores em R$.", [table],
                                        tables.agency_charts(boards),
                                        get_settings().agency_name), kind, name)


handlers = [dashboard_page, dashboard_export, detail_page, detail_export, agency_page,
            agency_export]
