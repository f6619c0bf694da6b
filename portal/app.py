"""The one place that assembles the web application."""

from __future__ import annotations

import logging
import re
from http import HTTPStatus
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response, Router
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    NotFoundException,
    SerializationException,
    ValidationException,
)
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.openapi.spec import Components, SecurityScheme, Tag
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from core.auth import service
from core.auth.controllers import AuthController, RateLimited, rate_limited_response
from core.auth.web import BEARER, BEARER_SCHEME, PUBLIC_PATHS, SESSION_COOKIE, AuthMiddleware
from core.channels import controllers as channel_controllers
from core.debtors.controllers import DebtorController
from core.errors import DomainError
from core.runtime import get_db
from core.system import AuditController, health, ready
from legal import payment_controllers
from legal.cases import controllers as case_controllers
from legal.controllers import AgreementController
from legal.escalation import controllers as escalation_controllers
from legal.protest.controllers import ProtestController
from portal import (
    cadence_pages,
    case_pages,
    contact_policy_pages,
    debtor_pages,
    desktop_pages,
    escalation_pages,
    letter_pages,
    negotiation_pages,
    pages,
    portfolio_pages,
    report_pages,
    sandbox_pages,
    scoring_pages,
    selfservice_pages,
    statement_pages,
)
from portal.filters import FILTERS
from portal.jobs import load_tasks
from tenants.controllers import TenantController, UserController
from tenants.intake.controllers import LayoutController, PortfolioController, RecallController

HERE = Path(__file__).parent
log = logging.getLogger("regua.web")


def _is_api(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith("/api/")


def error_page(request: Request[Any, Any, Any], status: int, message: str) -> Template:
    return Template("error.html", context={**pages.base_context(request), "status": status,
                                           "message": message}, status_code=status)


def domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    if not _is_api(request):
        # Pages answer their forms' errors themselves; what reaches here is a page's 404/403.
        message = exc.detail if isinstance(exc.detail, str) else "; ".join(exc.detail.values())
        return error_page(request, exc.status_code, message)
    body: dict[str, Any] = {"status_code": exc.status_code}
    if isinstance(exc.detail, dict):
        body["detail"] = "dados inválidos" if exc.status_code == 422 else "conflito"
        body["errors"] = exc.detail
    else:
        body["detail"] = exc.detail
    return Response(body, status_code=exc.status_code)


# Litestar's own answers are English; people read Portuguese.
STATUS_MESSAGES = {
    400: "requisição inválida",
    401: "autenticação necessária",
    403: "acesso negado",
    404: "endereço não encontrado",
    405: "método não permitido neste endereço",
    413: "conteúdo grande demais",
    415: "tipo de conteúdo não aceito",
    429: "muitas requisições; tente novamente mais tarde",
    500: "erro interno",
    503: "serviço indisponível; tente novamente em instantes",
}
MALFORMED_BODY = "JSON inválido: o corpo da requisição não pôde ser lido"
_TYPE_NAMES = {
    "str": "texto", "int": "número inteiro", "float": "número", "number": "número",
    "bool": "verdadeiro ou falso", "array": "lista", "object": "objeto", "null": "nulo",
    "uuid": "identificador (UUID)",
}
_MISSING_FIELD = re.compile(r"Object missing required field `([^`]+)`")
_AT_PATH = re.compile(r" - at `\$\.?([A-Za-z_][\w]*)")
_EXPECTED = re.compile(r"Expected `([^`]+)`, got `([^`]+)`")


def _portuguese_detail(exc: HTTPException) -> str:
    detail = str(exc.detail or "")
    if detail.startswith(("JSON is malformed", "Input data was truncated")):
        return MALFORMED_BODY
    if detail.startswith("Validation failed"):
        return "dados inválidos"
    if "CSRF" in detail and "token CSRF" not in detail:
        return "token CSRF ausente ou inválido; recarregue a página e tente de novo"
    try:
        phrase = HTTPStatus(exc.status_code).phrase
    except ValueError:
        phrase = ""
    if detail in (phrase, ""):
        return STATUS_MESSAGES.get(exc.status_code, "erro na requisição")
    return detail


def _field_message(message: str) -> str:
    if _MISSING_FIELD.search(message):
        return "campo obrigatório"
    if expected := _EXPECTED.search(message):
        wanted = " ou ".join(_TYPE_NAMES.get(t.strip(), t.strip())
                             for t in expected.group(1).split("|"))
        return f"tipo inválido: esperado {wanted}"
    if message.startswith("Invalid UUID"):
        return "identificador (UUID) inválido"
    if message.startswith("Invalid enum value"):
        value = message.removeprefix("Invalid enum value").split(" - at ")[0].strip()
        return f"valor não aceito: {value}"
    if message.startswith("Object contains unknown field"):
        return "campo desconhecido"
    if message.startswith("Missing required"):
        return "parâmetro obrigatório"
    if "datetime" in message or "date" in message:
        return "data inválida (use o formato ISO 8601)"
    return "valor inválido"


def validation_errors(exc: ValidationException) -> dict[str, str]:
    """Litestar's validation messages as `errors`: {field name: Portuguese message}."""
    errors: dict[str, str] = {}
    for item in exc.extra if isinstance(exc.extra, list) else []:
        message = str(item.get("message", "")) if isinstance(item, dict) else str(item)
        key = str(item.get("key", "")) if isinstance(item, dict) else ""
        missing = _MISSING_FIELD.search(message)
        at_path = _AT_PATH.search(message)
        if missing:
            key = missing.group(1)
        elif at_path:
            key = at_path.group(1)
        key = key.split("[", 1)[0].split(".", 1)[0] or "data"
        if key == "data" and message.strip("'") == "data":
            errors["data"] = "corpo da requisição ausente ou vazio"
        else:
            errors[key] = _field_message(message)
    return errors


def validation_error(request: Request[Any, Any, Any], exc: ValidationException) -> Response[Any]:
    if not _is_api(request):
        return http_error(request, exc)
    return Response({"status_code": exc.status_code, "detail": "dados inválidos",
                     "errors": validation_errors(exc)}, status_code=exc.status_code)


def serialization_error(request: Request[Any, Any, Any],
                        exc: SerializationException) -> Response[Any]:
    return Response({"status_code": 400, "detail": MALFORMED_BODY}, status_code=400)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if not _is_api(request) and isinstance(exc, NotAuthorizedException):
        return Redirect(f"/?next={request.url.path}")
    detail = _portuguese_detail(exc)
    if not _is_api(request) and exc.status_code in (400, 403, 404, 405):
        if exc.status_code == 404 and detail == STATUS_MESSAGES[404]:
            detail = f"O endereço {request.url.path} não existe."
        return error_page(request, exc.status_code, detail)
    return Response(
        {"status_code": exc.status_code, "detail": detail}, status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


async def identify_for_error_page(exc: Exception, scope: Any) -> None:
    """Let an error page show the layout to a logged-in person.

    A path that matches no route never reaches the authentication middleware, so the
    error page would not know who is looking; read the session cookie here instead.
    """
    if scope.get("type") != "http" or scope.get("user") is not None:
        return
    if str(scope.get("path", "")).startswith("/api/"):
        return
    request: Request[Any, Any, Any] = Request(scope)
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        scope["user"] = await service.resolve_token(get_db(), token, "session")


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    if not _is_api(request):
        return error_page(request, 500, "erro interno; tente novamente")
    return Response({"status_code": 500, "detail": "erro interno"}, status_code=500)


async def _dispose() -> None:
    await get_db().dispose()


API_DESCRIPTION = """\
The Régua JSON API: creditor tenants, users, the audit log, portfolio intake and the
debtor file.

Authenticate with `POST /api/v1/auth/token` and send the token as
`Authorization: Bearer <token>`. Every route admits some roles only (403 otherwise);
another tenant's resource answers 404, the same as a missing one. Errors are
`{"status_code", "detail", "errors"}`, where `errors` maps each field name to a message
in Portuguese (the messages are meant for the people using the portal).
"""

API_TAGS = [
    Tag(name="auth", description="Bearer tokens for API clients."),
    Tag(name="tenants", description="Creditor tenants: onboarding, editing, deactivation."),
    Tag(name="users", description="Agency staff and each creditor's own users."),
    Tag(name="audit", description="The append-only, hash-chained audit log."),
    Tag(name="portfolios", description="Portfolio uploads, imports, reports, column layouts"
                                       " and recalls."),
    Tag(name="message-templates", description="Per-tenant message templates (e-mail, SMS,"
                                              " WhatsApp, letter), checked on save."),
    Tag(name="debtors", description="The debtor file: search, debts and balances, contacts,"
                                    " timeline, notes, holds and opt-outs."),
    Tag(name="agreements", description="Negotiation: updated balances with their memória de"
                                       " cálculo, options, agreements, approvals, policy."),
    Tag(name="escalations", description="Legal escalation: rules, escalations with their"
                                        " history, hold and release, the bureau policy."),
    Tag(name="cases", description="Judicial handoff and the legal queue: cases, deadlines,"
                                  " documents, dossiers, exports to law firms."),
]


def create_app() -> Litestar:
    load_tasks()  # services send jobs by name
    # HTML pages stay out of the OpenAPI document, and read the viewer's time zone first.
    page_router = Router(path="/", route_handlers=[
        *pages.handlers, *portfolio_pages.handlers, *debtor_pages.handlers,
        *sandbox_pages.handlers, *scoring_pages.handlers, *cadence_pages.handlers,
        *contact_policy_pages.handlers, *letter_pages.handlers,
        *negotiation_pages.handlers,
        *statement_pages.handlers, *selfservice_pages.handlers,
        *desktop_pages.handlers, *escalation_pages.handlers, *case_pages.handlers,
        *report_pages.handlers,
    ], include_in_schema=False, before_request=pages.load_viewer_zone)
    api_router = Router(path="/", route_handlers=[
        TenantController, UserController, AuditController,
        PortfolioController, LayoutController, RecallController, DebtorController,
        channel_controllers.MessageTemplateController, AgreementController,
        ProtestController,
        escalation_controllers.EscalationController, escalation_controllers.RuleController,
        escalation_controllers.PolicyController,
        case_controllers.CaseController,
    ], security=BEARER)
    return Litestar(
        route_handlers=[
            health, ready, AuthController, api_router, page_router,
            *channel_controllers.webhook_handlers, *payment_controllers.handlers,
            *case_controllers.handlers,
            create_static_files_router(path="/static", directories=[HERE / "static"]),
        ],
        middleware=[DefineMiddleware(AuthMiddleware, exclude=PUBLIC_PATHS)],
        csrf_config=CSRFConfig(
            secret=_csrf_secret(), cookie_name="regua_csrf", header_name="x-csrftoken",
            exclude=[r"^/api/"], cookie_samesite="strict",
        ),
        template_config=TemplateConfig(
            directory=HERE / "templates", engine=JinjaTemplateEngine,
            engine_callback=_register_filters,
        ),
        openapi_config=OpenAPIConfig(
            title="Régua API", version="1", path="/schema", description=API_DESCRIPTION,
            render_plugins=[SwaggerRenderPlugin()], tags=API_TAGS,
            use_handler_docstrings=True,
            components=Components(security_schemes={
                BEARER_SCHEME: SecurityScheme(
                    type="http", scheme="bearer",
                    description="A token from POST /api/v1/auth/token.",
                ),
            }),
        ),
        exception_handlers={
            DomainError: domain_error,
            RateLimited: rate_limited_response,
            ValidationException: validation_error,
            SerializationException: serialization_error,
            HTTPException: http_error,
            NotFoundException: http_error,
            Exception: internal_error,
        },
        after_exception=[identify_for_error_page],
        on_shutdown=[_dispose],
        # Keep the process's logging as `regua` set it up (one format for every line).
        logging_config=None,
    )


def _register_filters(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters.update(FILTERS)


def _csrf_secret() -> str:
    from core.settings import get_settings

    return get_settings().resolved_secret_key()
