"""HTML pages: login, home, and the agency admin's tenant screens.

Pages call the domain services; no business rule lives here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any

from litestar import Request, get, post
from litestar.enums import RequestEncodingType
from litestar.exceptions import NotAuthorizedException
from litestar.params import Body, FromPath, FromQuery
from litestar.response import Redirect, Template

from core.addresses import UF_CODES
from core.auth import service
from core.auth.controllers import RateLimited, login
from core.auth.principal import Principal
from core.auth.roles import ROLE_LABELS, Role
from core.auth.web import SESSION_COOKIE, requires
from core.errors import DomainError
from core.runtime import get_db
from core.settings import get_settings
from tenants import onboarding, users
from tenants.intake.service import open_debt_figures

Req = Request[Principal, str, Any]
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]

NAV = [
    ("/inicio", "Início", None),
    ("/devedores", "Devedores", None),
    ("/admin/credores", "Credores", {Role.ADMIN}),
    ("/carteiras", "Carteiras", {Role.ADMIN, Role.SUPERVISOR, Role.CREDITOR_ADMIN,
                                 Role.CREDITOR_VIEWER}),
    ("/usuarios", "Usuários", {Role.ADMIN, Role.CREDITOR_ADMIN}),
    ("/auditoria", "Auditoria", {Role.ADMIN, Role.CREDITOR_ADMIN}),
    ("/score", "Score", {Role.ADMIN, Role.SUPERVISOR}),
]


def base_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What every page's layout needs: the user, their navigation, role names."""
    principal = request.scope.get("user")
    if not isinstance(principal, Principal):
        principal = None
    nav = [(href, label) for href, label, roles in NAV
           if principal and (roles is None or principal.role in roles)]
    return {"user": principal, "nav": nav, "path": request.url.path,
            "role_labels": ROLE_LABELS}


def page(request: Req, name: str, status_code: int = 200, **context: Any) -> Template:
    return Template(name, context={**base_context(request), **context},
                    status_code=status_code)


def _safe_next(target: str | None) -> str:
    safe = target and target.startswith("/") and not target.startswith("//")
    return target if safe and target else "/inicio"


@get("/", exclude_from_auth=True)
async def index(request: Req, next: FromQuery[str | None] = None) -> Template | Redirect:
    token = request.cookies.get(SESSION_COOKIE)
    if token and await service.resolve_token(get_db(), token, "session"):
        return Redirect(_safe_next(next))
    return page(request, "login.html", next=next or "", email="")


@post("/login", exclude_from_auth=True)
async def login_form(request: Req, data: Form) -> Template | Redirect:
    email, next_url = data.get("email", ""), data.get("next", "")
    try:
        principal = await login(request, email, data.get("password", ""))
    except (NotAuthorizedException, RateLimited) as exc:
        status = 429 if isinstance(exc, RateLimited) else 401
        message = str(exc) if isinstance(exc, RateLimited) else exc.detail
        return page(request, "login.html", status_code=status, error=message, email=email,
                    next=next_url)
    ttl = dt.timedelta(hours=get_settings().session_ttl_hours)
    issued = await service.issue_token(get_db(), principal, "session", ttl)
    response = Redirect(_safe_next(next_url))
    response.set_cookie(SESSION_COOKIE, issued.token, max_age=int(ttl.total_seconds()),
                        httponly=True, samesite="lax", secure=get_settings().env == "production")
    return response


@post("/logout", guards=[requires()])
async def logout(request: Req) -> Redirect:
    await service.revoke_token(get_db(), request.cookies.get(SESSION_COOKIE, ""))
    response = Redirect("/")
    response.delete_cookie(SESSION_COOKIE)
    return response


@get("/inicio", guards=[requires()])
async def home(request: Req) -> Template:
    async with get_db().transaction(request.user.scope) as session:
        tenants = await onboarding.list_tenants(session)
        figures = await open_debt_figures(session)
    return page(request, "home.html", tenants=tenants, figures=figures)


BRAZIL_ZONES = [
    ("America/Sao_Paulo", "Brasília (SP, RJ, MG, Sul, GO, DF…)"),
    ("America/Fortaleza", "Fortaleza (CE, RN, PB, PI, MA)"),
    ("America/Recife", "Recife (PE)"), ("America/Bahia", "Salvador (BA)"),
    ("America/Maceio", "Maceió (AL, SE)"), ("America/Belem", "Belém (PA, AP)"),
    ("America/Araguaina", "Araguaína (TO)"), ("America/Manaus", "Manaus (AM)"),
    ("America/Cuiaba", "Cuiabá (MT)"), ("America/Campo_Grande", "Campo Grande (MS)"),
    ("America/Porto_Velho", "Porto Velho (RO)"), ("America/Boa_Vista", "Boa Vista (RR)"),
    ("America/Rio_Branco", "Rio Branco (AC)"), ("America/Noronha", "Fernando de Noronha"),
]


def tenants_form(request: Req, tenants: list[Any], form: dict[str, str],
                 errors: dict[str, str], status_code: int = 200) -> Template:
    return page(request, "tenants.html", status_code=status_code, tenants=tenants, form=form,
                errors=errors, ufs=sorted(UF_CODES), zones=BRAZIL_ZONES,
                default_zone=get_settings().default_timezone)


@get("/admin/credores", guards=[requires(Role.ADMIN)])
async def tenants_page(request: Req) -> Template:
    async with get_db().transaction(request.user.scope) as session:
        tenants = await onboarding.list_tenants(session)
    return tenants_form(request, tenants, {}, {})


@post("/admin/credores", guards=[requires(Role.ADMIN)])
async def create_tenant_form(request: Req, data: Form) -> Template | Redirect:
    try:
        async with get_db().transaction(request.user.scope) as session:
            tenant, _ = await onboarding.create_tenant(
                session, request.user,
                onboarding.NewTenant(
                    legal_name=data.get("legal_name", ""), cnpj=data.get("cnpj", ""),
                    state=data.get("state", ""), trade_name=data.get("trade_name") or None,
                    timezone=data.get("timezone") or get_settings().default_timezone,
                    address=data.get("address") or None,
                ),
                users.NewUser(email=data.get("admin_email", ""),
                              password=data.get("admin_password", ""),
                              full_name=data.get("admin_name", "")),
            )
    except DomainError as exc:
        async with get_db().transaction(request.user.scope) as session:
            tenants = await onboarding.list_tenants(session)
        errors = exc.detail if isinstance(exc.detail, dict) else {"_": exc.detail}
        return tenants_form(request, tenants, data, errors, exc.status_code)
    return Redirect(f"/admin/credores?criado={tenant.slug}")


@post("/admin/credores/{tenant_id:uuid}/desativar", guards=[requires(Role.ADMIN)])
async def deactivate_tenant_form(request: Req, tenant_id: FromPath[uuid.UUID]) -> Redirect:
    async with get_db().transaction(request.user.scope) as session:
        await onboarding.deactivate_tenant(session, request.user, tenant_id)
    return Redirect("/admin/credores")


@get("/usuarios", guards=[requires(Role.ADMIN, Role.CREDITOR_ADMIN)])
async def users_page(request: Req) -> Template:
    async with get_db().transaction(request.user.scope) as session:
        people = await users.list_users(session, request.user)
        tenants = {t.id: t for t in await onboarding.list_tenants(session)}
    return page(request, "users.html", people=people, tenants=tenants)


@get("/auditoria", guards=[requires(Role.ADMIN, Role.CREDITOR_ADMIN)])
async def audit_page(request: Req) -> Template:
    from sqlalchemy import select

    from core.models import AuditLog

    async with get_db().transaction(request.user.scope) as session:
        entries = list((await session.execute(
            select(AuditLog).order_by(AuditLog.created_at.desc()).limit(200)
        )).scalars())
        tenants = {t.id: t for t in await onboarding.list_tenants(session)}
    return page(request, "audit.html", entries=entries, tenants=tenants)


handlers = [index, login_form, logout, home, tenants_page, create_tenant_form,
            deactivate_tenant_form, users_page, audit_page]
