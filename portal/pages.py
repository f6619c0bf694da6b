"""HTML pages: login, home, the tenant and user screens, the audit log.

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

from core import audit
from core.access import transaction
from core.addresses import UF_CODES
from core.auth import service
from core.auth.controllers import RateLimited, login
from core.auth.principal import Principal
from core.auth.roles import ROLE_LABELS, Role
from core.auth.web import SESSION_COOKIE, requires
from core.errors import DomainError, NotFound, ValidationFailed
from core.runtime import get_db
from core.settings import get_settings
from core.zones import zone_label
from legal import agreements
from tenants import onboarding, users
from tenants.intake.service import open_debt_figures

Req = Request[Principal, str, Any]
Form = Annotated[dict[str, str], Body(media_type=RequestEncodingType.URL_ENCODED)]
# A form with checkboxes: a name sent more than once arrives as a list.
MultiForm = Annotated[dict[str, str | list[str]],
                      Body(media_type=RequestEncodingType.URL_ENCODED)]

STAFF = {Role.ADMIN, Role.SUPERVISOR}
CREDITOR = {Role.CREDITOR_ADMIN, Role.CREDITOR_VIEWER}
# The main navigation, in groups: a group with one page for the role is a plain link,
# with more it is a menu (the full list no longer fits one bar for the agency's staff).
NAV: list[tuple[str, list[tuple[str, str, set[Role] | None]]]] = [
    ("Início", [("/inicio", "Início", None)]),
    ("Cobrança", [
        ("/devedores", "Devedores", None),
        ("/carteiras", "Carteiras", STAFF | CREDITOR),
        ("/cadencias", "Réguas", STAFF),
        ("/politica-de-contato", "Política de contato", STAFF | {Role.CREDITOR_ADMIN}),
        ("/cartas", "Cartas", STAFF | CREDITOR),
        ("/score", "Score", STAFF),
        ("/sandbox", "Mensagens (sandbox)", STAFF | CREDITOR),
    ]),
    ("Negociação", [
        ("/acordos", "Acordos", None),
        ("/aprovacoes", "Aprovações", STAFF | {Role.AGENT, Role.LEGAL, Role.CREDITOR_ADMIN}),
        ("/prestacao-de-contas", "Prestação de contas", {Role.ADMIN} | CREDITOR),
    ]),
    ("Atendimento", [
        ("/atendimento", "Atendimento", STAFF | {Role.AGENT}),
        ("/atendimento/supervisao", "Supervisão", STAFF),
    ]),
    ("Jurídico", [
        ("/escalonamentos", "Escalonamentos", STAFF | {Role.LEGAL} | CREDITOR),
        ("/juridico", "Fila do jurídico", STAFF | {Role.LEGAL} | CREDITOR),
    ]),
    ("Relatórios", [("/relatorios", "Relatórios", STAFF | CREDITOR)]),
    ("Administração", [
        ("/admin/credores", "Credores", {Role.ADMIN}),
        ("/usuarios", "Usuários", {Role.ADMIN, Role.CREDITOR_ADMIN}),
        ("/auditoria", "Auditoria", {Role.ADMIN, Role.CREDITOR_ADMIN}),
    ]),
]
# Where a role lands after login when no page was asked for (the rest: /inicio).
HOMES = {Role.LEGAL: "/juridico", Role.AGENT: "/atendimento"}


def base_context(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """What every page's layout needs: the user, their navigation, role names."""
    principal = request.scope.get("user")
    if not isinstance(principal, Principal):
        principal = None
    groups = [(title, [(href, label) for href, label, roles in pages
                       if principal and (roles is None or principal.role in roles)])
              for title, pages in NAV]
    groups = [(title, pages) for title, pages in groups if pages]
    zone = request.state.get("zone") or get_settings().default_timezone
    path = request.url.path
    # The longest matching entry is the current one (/atendimento/supervisao is not
    # also /atendimento).
    current = max((href for _, pages in groups for href, _ in pages if path.startswith(href)),
                  key=len, default=None)
    return {"user": principal, "nav": groups, "path": path, "current_nav": current,
            "role_labels": ROLE_LABELS, "zone": zone, "zone_label": zone_label(zone)}


async def load_viewer_zone(request: Req) -> None:
    """Before a page: the zone its times are shown in (the viewer's tenant's)."""
    principal = request.scope.get("user")
    if isinstance(principal, Principal):
        async with transaction(principal) as session:
            request.state["zone"] = await onboarding.viewer_timezone(session, principal)


def page(request: Req, name: str, status_code: int = 200, **context: Any) -> Template:
    return Template(name, context={**base_context(request), **context},
                    status_code=status_code)


def _safe_next(target: str | None, role: Role | None = None) -> str:
    safe = target and target.startswith("/") and not target.startswith("//")
    return target if safe and target else HOMES.get(role, "/inicio") if role else "/inicio"


@get("/", exclude_from_auth=True)
async def index(request: Req, next: FromQuery[str | None] = None) -> Template | Redirect:
    token = request.cookies.get(SESSION_COOKIE)
    if token and (who := await service.resolve_token(get_db(), token, "session")):
        return Redirect(_safe_next(next, who.role))
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
    response = Redirect(_safe_next(next_url, principal.role))
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
    async with transaction(request.user) as session:
        tenants = await onboarding.list_tenants(session)
        figures = await open_debt_figures(session)
    # What waits for this user's decision (supervisors, admins, creditors' admins).
    awaiting = sum(1 for item in await agreements.queue(request.user) if item.may_decide)
    return page(request, "home.html", tenants=tenants, figures=figures, awaiting=awaiting)


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


UF_OPTIONS = [(uf, uf) for uf in sorted(UF_CODES)]


def tenants_form(request: Req, tenants: list[Any], form: dict[str, str],
                 errors: dict[str, str], status_code: int = 200) -> Template:
    return page(request, "tenants.html", status_code=status_code, tenants=tenants, form=form,
                errors=errors, ufs_options=UF_OPTIONS, zones=BRAZIL_ZONES,
                default_zone=get_settings().default_timezone)


@get("/admin/credores", guards=[requires(Role.ADMIN)])
async def tenants_page(request: Req) -> Template:
    async with transaction(request.user) as session:
        tenants = await onboarding.list_tenants(session)
    return tenants_form(request, tenants, {}, {})


@post("/admin/credores", guards=[requires(Role.ADMIN)])
async def create_tenant_form(request: Req, data: Form) -> Template | Redirect:
    try:
        async with transaction(request.user) as session:
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
        async with transaction(request.user) as session:
            tenants = await onboarding.list_tenants(session)
        errors = exc.detail if isinstance(exc.detail, dict) else {"_": exc.detail}
        return tenants_form(request, tenants, data, errors, exc.status_code)
    return Redirect(f"/admin/credores?criado={tenant.slug}")


@post("/admin/credores/{tenant_id:uuid}/desativar", guards=[requires(Role.ADMIN)])
async def deactivate_tenant_form(request: Req, tenant_id: FromPath[uuid.UUID],
                                 data: Form) -> Redirect:
    async with transaction(request.user) as session:
        await onboarding.deactivate_tenant(session, request.user, tenant_id)
    # Back to the page the button was on: the list, or the tenant's own page.
    return Redirect(_safe_next(data.get("next") or "/admin/credores"))


def _form_errors(exc: DomainError) -> dict[str, str]:
    return exc.detail if isinstance(exc.detail, dict) else {"_": exc.detail}


NOTICES = {
    "criado": "Usuário criado.", "salvo": "Alterações salvas.",
    "desativado": "Usuário desativado: as sessões dele foram encerradas.",
    "reativado": "Usuário reativado: ele pode entrar de novo.",
    "senha": "Senha redefinida: todas as sessões do usuário foram encerradas.",
    "credor-salvo": "Dados do credor salvos.",
    "credor-reativado": "Credor reativado: os usuários ativos dele podem entrar de novo.",
}


def _notice(code: str | None) -> str | None:
    return NOTICES.get(code or "")


@get("/admin/credores/{tenant_id:uuid}", guards=[requires(Role.ADMIN)])
async def tenant_page(request: Req, tenant_id: FromPath[uuid.UUID],
                      ok: FromQuery[str | None] = None) -> Template:
    async with transaction(request.user) as session:
        tenant = await onboarding.get_tenant(session, request.user, tenant_id)
    return tenant_edit(request, tenant, {}, {}, notice=_notice(ok))


def tenant_edit(request: Req, tenant: Any, form: dict[str, str], errors: dict[str, str],
                status_code: int = 200, notice: str | None = None) -> Template:
    values = {"legal_name": tenant.legal_name, "trade_name": tenant.trade_name,
              "address": tenant.address or "", "state": tenant.state,
              "timezone": tenant.timezone, **form}
    zones = BRAZIL_ZONES
    if tenant.timezone not in dict(zones):
        # A zone set through the API that the list lacks stays selectable, so saving the
        # page does not change it unasked.
        zones = [*zones, (tenant.timezone, tenant.timezone)]
    return page(request, "tenant_edit.html", status_code=status_code, tenant=tenant,
                form=values, errors=errors, ufs_options=UF_OPTIONS, zones=zones,
                notice=notice)


@post("/admin/credores/{tenant_id:uuid}", guards=[requires(Role.ADMIN)])
async def update_tenant_form(request: Req, tenant_id: FromPath[uuid.UUID],
                             data: Form) -> Template | Redirect:
    # A field left blank is absent from the form data: blank means "clear" here.
    changes = onboarding.TenantChanges(
        legal_name=data.get("legal_name", ""), trade_name=data.get("trade_name", ""),
        address=data.get("address", ""), state=data.get("state", ""),
        timezone=data.get("timezone", ""))
    try:
        async with transaction(request.user) as session:
            await onboarding.update_tenant(session, request.user, tenant_id, changes)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        async with transaction(request.user) as session:
            tenant = await onboarding.get_tenant(session, request.user, tenant_id)
        return tenant_edit(request, tenant, data, _form_errors(exc), exc.status_code)
    return Redirect(f"/admin/credores/{tenant_id}?ok=credor-salvo")


@post("/admin/credores/{tenant_id:uuid}/reativar", guards=[requires(Role.ADMIN)])
async def reactivate_tenant_form(request: Req, tenant_id: FromPath[uuid.UUID]) -> Redirect:
    async with transaction(request.user) as session:
        await onboarding.reactivate_tenant(session, request.user, tenant_id)
    return Redirect(f"/admin/credores/{tenant_id}?ok=credor-reativado")


MANAGERS = (Role.ADMIN, Role.CREDITOR_ADMIN)


def _list(data: dict[str, str | list[str]], key: str) -> list[str]:
    value = data.get(key, [])
    return [value] if isinstance(value, str) else list(value)


def _text(data: dict[str, str | list[str]], key: str) -> str:
    values = _list(data, key)
    return values[-1] if values else ""


def _tenant_ids(data: dict[str, str | list[str]]) -> list[uuid.UUID]:
    try:
        return [uuid.UUID(v) for v in _list(data, "tenant_ids") if v]
    except ValueError:
        raise NotFound("credor") from None


def _tenant_id(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        raise NotFound("credor") from None


def _role(value: str) -> Role | None:
    return Role(value) if value in Role.__members__.values() else None


async def _users_page(request: Req, form: dict[str, Any], errors: dict[str, str],
                      status_code: int = 200, notice: str | None = None) -> Template:
    async with transaction(request.user) as session:
        people = await users.list_users(session, request.user)
        tenants = {t.id: t for t in await onboarding.list_tenants(session)}
    return page(request, "users.html", status_code=status_code, people=people,
                tenants=tenants, roles=users.assignable_roles(request.user),
                workers=sorted(users.TENANT_WORKERS), form=form, errors=errors, notice=notice)


@get("/usuarios", guards=[requires(*MANAGERS)])
async def users_page(request: Req, ok: FromQuery[str | None] = None) -> Template:
    return await _users_page(request, {}, {}, notice=_notice(ok))


@post("/usuarios", guards=[requires(*MANAGERS)])
async def create_user_form(request: Req, data: MultiForm) -> Template | Redirect:
    form: dict[str, Any] = {key: _text(data, key)
                            for key in ("email", "full_name", "role", "tenant_id")}
    form["tenant_ids"] = _list(data, "tenant_ids")
    role = _role(form["role"])
    try:
        if role is None:
            raise ValidationFailed({"role": "escolha o perfil"})
        async with transaction(request.user) as session:
            created = await users.create_user(
                session, request.user,
                users.NewUser(email=form["email"], password=_text(data, "password"),
                              full_name=form["full_name"], tenant_ids=_tenant_ids(data)),
                tenant_id=_tenant_id(form["tenant_id"]), role=role,
            )
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _users_page(request, form, _form_errors(exc), exc.status_code)
    return Redirect(f"/usuarios/{created.id}?ok=criado")


async def _user_page(request: Req, user_id: uuid.UUID, form: dict[str, Any],
                     errors: dict[str, str], status_code: int = 200,
                     notice: str | None = None) -> Template:
    async with transaction(request.user) as session:
        person = await users.get_managed_user(session, request.user, user_id)
        worked = await users.work_tenants(session, person.id)
        tenants = await onboarding.list_tenants(session)
    values = {"email": person.email, "full_name": person.full_name, "role": person.role,
              "tenant_ids": [str(t) for t in worked], **form}
    return page(request, "user_edit.html", status_code=status_code, person=person,
                tenants=tenants, tenant_names={t.id: t.trade_name for t in tenants},
                roles=users.assignable_roles(request.user, person),
                workers=sorted(users.TENANT_WORKERS), form=values, errors=errors,
                notice=notice, is_self=person.id == request.user.user_id)


@get("/usuarios/{user_id:uuid}", guards=[requires(*MANAGERS)])
async def user_page(request: Req, user_id: FromPath[uuid.UUID],
                    ok: FromQuery[str | None] = None) -> Template:
    return await _user_page(request, user_id, {}, {}, notice=_notice(ok))


@post("/usuarios/{user_id:uuid}", guards=[requires(*MANAGERS)])
async def update_user_form(request: Req, user_id: FromPath[uuid.UUID],
                           data: MultiForm) -> Template | Redirect:
    form: dict[str, Any] = {key: _text(data, key) for key in ("email", "full_name", "role")}
    form["tenant_ids"] = _list(data, "tenant_ids")
    try:
        async with transaction(request.user) as session:
            await users.update_user(
                session, request.user, user_id,
                users.UserChanges(
                    email=form["email"], full_name=form["full_name"],
                    role=_role(form["role"]),
                    # The checkboxes are on the form only for users who work tenants.
                    tenant_ids=_tenant_ids(data) if "tenants_shown" in data else None),
            )
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _user_page(request, user_id, form, _form_errors(exc), exc.status_code)
    return Redirect(f"/usuarios/{user_id}?ok=salvo")


@post("/usuarios/{user_id:uuid}/senha", guards=[requires(*MANAGERS)])
async def reset_password_form(request: Req, user_id: FromPath[uuid.UUID],
                              data: Form) -> Template | Redirect:
    try:
        async with transaction(request.user) as session:
            await users.reset_password(session, request.user, user_id,
                                       data.get("password", ""))
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _user_page(request, user_id, {}, _form_errors(exc), exc.status_code)
    return Redirect(f"/usuarios/{user_id}?ok=senha")


@post("/usuarios/{user_id:uuid}/desativar", guards=[requires(*MANAGERS)])
async def deactivate_user_form(request: Req, user_id: FromPath[uuid.UUID]) -> Template | Redirect:
    try:
        async with transaction(request.user) as session:
            await users.deactivate_user(session, request.user, user_id)
    except DomainError as exc:
        if isinstance(exc, NotFound):
            raise
        return await _user_page(request, user_id, {}, _form_errors(exc), exc.status_code)
    return Redirect(f"/usuarios/{user_id}?ok=desativado")


@post("/usuarios/{user_id:uuid}/reativar", guards=[requires(*MANAGERS)])
async def reactivate_user_form(request: Req, user_id: FromPath[uuid.UUID]) -> Redirect:
    async with transaction(request.user) as session:
        await users.reactivate_user(session, request.user, user_id)
    return Redirect(f"/usuarios/{user_id}?ok=reativado")


@get("/auditoria", guards=[requires(Role.ADMIN, Role.CREDITOR_ADMIN)])
async def audit_page(request: Req) -> Template:
    async with transaction(request.user) as session:
        entries = await audit.recent_entries(session, 200)
        tenants = {t.id: t for t in await onboarding.list_tenants(session)}
    return page(request, "audit.html", entries=entries, tenants=tenants,
                action_label=audit.action_label, entity_label=audit.entity_label)


handlers = [index, login_form, logout, home, tenants_page, create_tenant_form,
            deactivate_tenant_form, tenant_page, update_tenant_form, reactivate_tenant_form,
            users_page, create_user_form, user_page, update_user_form, reset_password_form,
            deactivate_user_form, reactivate_user_form, audit_page]
