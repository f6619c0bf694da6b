"""The debtor's self-service page (public): identify, see debts, accept an option, pay.

Outside the staff login: the pages prove identity themselves (`legal.selfservice`), and
their paths are in `core.auth.web.PUBLIC_PATHS`. Thin: parse, call one service, render.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect, Template

from core.auth.web import client_ip
from core.errors import NotFound, ValidationFailed
from core.settings import get_settings
from legal import selfservice as service
from portal.pages import Form

Req = Request[Any, Any, Any]


def _page(request: Req, name: str, status_code: int = 200, **context: Any) -> Template:
    return Template(name, context={"request": request, **context}, status_code=status_code)


@get("/pagar/{slug:str}", exclude_from_auth=True)
async def start_page(request: Req, slug: FromPath[str]) -> Template:
    creditor = await service.creditor_name(slug)
    return _page(request, "selfservice.html", step="document", slug=slug, creditor=creditor)


@post("/pagar/{slug:str}", exclude_from_auth=True)
async def start_form(request: Req, slug: FromPath[str], data: Form) -> Template:
    creditor = await service.creditor_name(slug)
    try:
        challenge = await service.start(slug, data.get("documento", ""), client_ip(request))
    except ValidationFailed as exc:
        return _page(request, "selfservice.html", 422, step="document", slug=slug,
                     creditor=creditor, errors=exc.detail)
    except service.RateLimited as exc:
        return _page(request, "selfservice.html", 429, step="document", slug=slug,
                     creditor=creditor, errors={"documento": str(exc)})
    return _page(request, "selfservice.html", step="code", slug=slug, creditor=creditor,
                 challenge=challenge)


@post("/pagar/{slug:str}/codigo", exclude_from_auth=True)
async def code_form(request: Req, slug: FromPath[str], data: Form) -> Template | Redirect:
    creditor = await service.creditor_name(slug)
    challenge = data.get("desafio", "")
    try:
        token = await service.verify(slug, challenge, data.get("codigo", ""), client_ip(request))
    except (ValidationFailed, service.RateLimited) as exc:
        errors = exc.detail if isinstance(exc, ValidationFailed) else {"codigo": str(exc)}
        return _page(request, "selfservice.html", 422, step="code", slug=slug,
                     creditor=creditor, challenge=challenge, errors=errors)
    response = Redirect(f"/pagar/{slug}/debitos")
    response.set_cookie(service.COOKIE, token, max_age=int(service.SESSION_TTL.total_seconds()),
                        path=f"/pagar/{slug}", httponly=True, samesite="strict",
                        secure=get_settings().env == "production")
    return response


async def _identified(request: Req, slug: str) -> tuple[Any, Any]:
    return service.read_session(await service.tenant_by_slug(slug),
                                request.cookies.get(service.COOKIE))


@get("/pagar/{slug:str}/debitos", exclude_from_auth=True)
async def debts_page(request: Req, slug: FromPath[str]) -> Template | Redirect:
    try:
        tenant_id, debtor_id = await _identified(request, slug)
    except NotFound:
        return Redirect(f"/pagar/{slug}")
    view = await service.overview(tenant_id, debtor_id)
    return _page(request, "selfservice.html", step="debts", slug=slug, creditor=view.creditor,
                 view=view)


@post("/pagar/{slug:str}/aceitar", exclude_from_auth=True)
async def accept_form(request: Req, slug: FromPath[str], data: Form) -> Redirect:
    try:
        tenant_id, debtor_id = await _identified(request, slug)
    except NotFound:
        return Redirect(f"/pagar/{slug}")
    try:
        option = int(data.get("opcao", "0"))
    except ValueError:
        option = 0
    await service.accept(tenant_id, debtor_id, option, client_ip(request),
                         request.headers.get("user-agent"))
    return Redirect(f"/pagar/{slug}/debitos")


@get("/pagar/{slug:str}/boleto.pdf", exclude_from_auth=True)
async def slip_download(request: Req, slug: FromPath[str]) -> Response[bytes]:
    tenant_id, debtor_id = await _identified(request, slug)
    body = await service.slip_pdf(tenant_id, debtor_id)
    return Response(body, media_type="application/pdf",
                    headers={"Content-Disposition": 'attachment; filename="boleto-e-pix.pdf"'})


@post("/pagar/{slug:str}/sair", exclude_from_auth=True)
async def leave(slug: FromPath[str]) -> Redirect:
    response = Redirect(f"/pagar/{slug}")
    response.delete_cookie(service.COOKIE, path=f"/pagar/{slug}")
    return response


handlers = [start_page, start_form, code_form, debts_page, accept_form, slip_download, leave]
