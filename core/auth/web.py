"""Web authentication and authorization for Litestar.

A request is authenticated by a bearer token (API) or the session cookie (pages). Every
route declares the roles it admits with `requires(...)`; a route without it is refused
by a test that walks the app. A denied role gets 403; another tenant's resource is 404.
"""

from __future__ import annotations

from typing import Any

from litestar.connection import ASGIConnection
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult

from core.auth.principal import Principal
from core.auth.roles import ALL_ROLES, Role
from core.auth.service import resolve_token
from core.runtime import get_db

SESSION_COOKIE = "regua_session"
CSRF_COOKIE = "regua_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The OpenAPI security scheme every API route that needs a token declares.
BEARER_SCHEME = "bearer"
BEARER: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]
PUBLIC_PATHS = [
    r"^/$", r"^/login$", r"^/health$", r"^/ready$", r"^/static/", r"^/schema",
    r"^/api/v1/auth/token$", r"^/favicon.ico$", r"^/webhooks/",
]


def client_ip(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    return connection.client.host if connection.client else "unknown"


class AuthMiddleware(AbstractAuthenticationMiddleware):
    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        if header.lower().startswith("bearer "):
            token, kind = header[7:].strip(), "bearer"
        else:
            token, kind = connection.cookies.get(SESSION_COOKIE, ""), "session"
            # Pages' forms are covered by the CSRF middleware; API calls that ride on the
            # session cookie must echo the CSRF cookie in a header the same way.
            if token and connection.scope.get("method", "GET") not in SAFE_METHODS:
                csrf = connection.cookies.get(CSRF_COOKIE)
                if connection.url.path.startswith("/api/") and (
                    not csrf or connection.headers.get("x-csrftoken") != csrf
                ):
                    raise PermissionDeniedException("token CSRF ausente ou inválido")
        if not token:
            raise NotAuthorizedException("autenticação necessária")
        principal = await resolve_token(get_db(), token, kind, client_ip(connection))
        if principal is None:
            raise NotAuthorizedException("sessão expirada ou inválida")
        return AuthenticationResult(user=principal, auth=token)


def requires(*roles: Role) -> Any:
    """A guard admitting only `roles` (all roles when none are given)."""
    admitted = frozenset(roles) or ALL_ROLES

    def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = connection.user
        if not isinstance(principal, Principal):
            raise NotAuthorizedException("autenticação necessária")
        if principal.role not in admitted:
            raise PermissionDeniedException("seu perfil não tem acesso a este recurso")

    guard.admitted_roles = admitted  # type: ignore[attr-defined]
    return guard
