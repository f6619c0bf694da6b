"""The one place that assembles the web application."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from litestar import Litestar, Request, Response
from litestar.config.csrf import CSRFConfig
from litestar.exceptions import HTTPException, NotAuthorizedException, NotFoundException
from litestar.middleware import DefineMiddleware
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin
from litestar.plugins.jinja import JinjaTemplateEngine
from litestar.response import Redirect, Template
from litestar.static_files import create_static_files_router
from litestar.template.config import TemplateConfig

from core.auth.controllers import AuthController, RateLimited, rate_limited_response
from core.auth.web import PUBLIC_PATHS, AuthMiddleware
from core.debtors.controllers import DebtorController
from core.errors import DomainError
from core.runtime import get_db
from core.system import AuditController, health, ready
from portal import debtor_pages, pages, portfolio_pages, scoring_pages
from portal.filters import FILTERS
from tenants.controllers import TenantController, UserController
from tenants.intake.controllers import LayoutController, PortfolioController, RecallController

HERE = Path(__file__).parent
log = logging.getLogger("regua.web")


def _is_api(request: Request[Any, Any, Any]) -> bool:
    return request.url.path.startswith("/api/")


def domain_error(request: Request[Any, Any, Any], exc: DomainError) -> Response[Any]:
    body: dict[str, Any] = {"status_code": exc.status_code}
    if isinstance(exc.detail, dict):
        body["detail"] = "dados inválidos" if exc.status_code == 422 else "conflito"
        body["errors"] = exc.detail
    else:
        body["detail"] = exc.detail
    return Response(body, status_code=exc.status_code)


def http_error(request: Request[Any, Any, Any], exc: HTTPException) -> Response[Any]:
    if not _is_api(request) and isinstance(exc, NotAuthorizedException):
        return Redirect(f"/?next={request.url.path}")
    if not _is_api(request) and exc.status_code in (403, 404):
        return Template(
            "error.html",
            context={**pages.base_context(request), "status": exc.status_code,
                     "message": exc.detail},
            status_code=exc.status_code,
        )
    return Response(
        {"status_code": exc.status_code, "detail": exc.detail}, status_code=exc.status_code,
        headers=getattr(exc, "headers", None),
    )


def internal_error(request: Request[Any, Any, Any], exc: Exception) -> Response[Any]:
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    if not _is_api(request):
        return Template("error.html", context={**pages.base_context(request), "status": 500,
                                               "message": "erro interno; tente novamente"},
                        status_code=500)
    return Response({"status_code": 500, "detail": "erro interno"}, status_code=500)


async def _dispose() -> None:
    await get_db().dispose()


def create_app() -> Litestar:
    return Litestar(
        route_handlers=[
            health, ready,
            AuthController, TenantController, UserController, AuditController,
            PortfolioController, LayoutController, RecallController, DebtorController,
            *pages.handlers, *portfolio_pages.handlers, *debtor_pages.handlers,
            *scoring_pages.handlers,
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
            title="Régua API", version="1", path="/schema",
            render_plugins=[SwaggerRenderPlugin()],
        ),
        exception_handlers={
            DomainError: domain_error,
            RateLimited: rate_limited_response,
            HTTPException: http_error,
            NotFoundException: http_error,
            Exception: internal_error,
        },
        on_shutdown=[_dispose],
        # Keep the process's logging as `regua` set it up (one format for every line).
        logging_config=None,
    )


def _register_filters(engine: JinjaTemplateEngine) -> None:
    engine.engine.filters.update(FILTERS)


def _csrf_secret() -> str:
    from core.settings import get_settings

    return get_settings().resolved_secret_key()
