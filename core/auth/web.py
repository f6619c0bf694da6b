"""Web authentication and authorization for Litestar.

A request is authenticated by a bearer token (API) or the session cookie (pages). Every
route declares the roles it admits with `requires(...)`; a route without it is refused
by a test that walks the app. A denied role gets 403; another tenant's resource is 404.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
from typing import Any

from litestar.connection import ASGIConnection
from litestar.datastructures import MutableScopeHeaders
from litestar.exceptions import NotAuthorizedException, PermissionDeniedException
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult
from litestar.types import Message, Receive, Scope, Send

from core.auth.principal import Principal
from core.auth.roles import ALL_ROLES, Role
from core.auth.service import resolve_token
from core.runtime import get_db
from core.settings import get_settings

SESSION_COOKIE = "regua_session"
API_CSRF_COOKIE = "regua_api_csrf"  # API calls riding the session: see api_csrf_token
_API_CSRF_STATE = "regua_api_csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The OpenAPI security scheme every API route that needs a token declares.
BEARER_SCHEME = "bearer"
BEARER: list[dict[str, list[str]]] = [{BEARER_SCHEME: []}]
PUBLIC_PATHS = [
    r"^/$", r"^/login$", r"^/health$", r"^/ready$", r"^/static/", r"^/schema",
    r"^/api/v1/auth/token$", r"^/favicon.ico$", r"^/webhooks/",
    r"^/acordo$",  # a debtor's one-time acceptance link: the signed token is the credential
    r"^/exportacoes/[^/]+$",  # a case's ZIP for an outside law firm: a signed, expiring link
    # The debtor self-service page proves identity itself (document + one-time code).
    r"^/pagar/[^/]+(/(codigo|debitos|aceitar|boleto\.pdf|sair))?$",
]


def client_ip(connection: ASGIConnection[Any, Any, Any, Any]) -> str:
    """The client's address: the peer's, unless the peer is a trusted proxy
    (`REGUA_TRUSTED_PROXIES`); then the nearest address in X-Forwarded-For that is not
    one of the trusted proxies (addresses further left are the client's to forge)."""
    peer = connection.client.host if connection.client else "unknown"
    trusted = get_settings().trusted_proxy_networks
    if not trusted or not _within(peer, trusted):
        return peer
    hops = [hop.strip() for hop in connection.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed(hops):
        try:
            ipaddress.ip_address(hop)
        except ValueError:
            return peer  # a malformed header is not believed at all
        if not _within(hop, trusted):
            return hop
    return peer


def _within(address: str, networks: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]
            ) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def api_csrf_token(session_token: str) -> str:
    """The CSRF token of API calls riding a session: bound to that session by the secret
    key, so a cookie planted by another site or subdomain cannot stand in for it."""
    key = get_settings().resolved_secret_key().encode()
    digest = hashlib.sha256(session_token.encode()).hexdigest()
    return hmac.new(key, f"api-csrf:{digest}".encode(), hashlib.sha256).hexdigest()


class AuthMiddleware(AbstractAuthenticationMiddleware):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_api_csrf(message: Message) -> None:
            # Pages' scripts read the session's API CSRF token from a cookie.
            expected = scope.get("state", {}).get(_API_CSRF_STATE)
            if message["type"] == "http.response.start" and expected:
                headers = MutableScopeHeaders.from_message(message)
                secure = "; Secure" if get_settings().env == "production" else ""
                headers.add("set-cookie",
                            f"{API_CSRF_COOKIE}={expected}; Path=/; SameSite=Strict{secure}")
            await send(message)

        await super().__call__(scope, receive, send_with_api_csrf)

    async def authenticate_request(
        self, connection: ASGIConnection[Any, Any, Any, Any]
    ) -> AuthenticationResult:
        header = connection.headers.get("authorization", "")
        session_csrf = None
        if header.lower().startswith("bearer "):
            token, kind = header[7:].strip(), "bearer"
        else:
            token, kind = connection.cookies.get(SESSION_COOKIE, ""), "session"
            if token:
                session_csrf = api_csrf_token(token)
                # Pages' forms are covered by the CSRF middleware; API calls that ride on
                # the session cookie must send the session's own token in a header.
                if (connection.scope.get("method", "GET") not in SAFE_METHODS
                        and connection.url.path.startswith("/api/")
                        and not hmac.compare_digest(
                            connection.headers.get("x-csrftoken", ""), session_csrf)):
                    raise PermissionDeniedException("token CSRF ausente ou inválido")
        if not token:
            raise NotAuthorizedException("autenticação necessária")
        principal = await resolve_token(get_db(), token, kind, client_ip(connection))
        if principal is None:
            raise NotAuthorizedException("sessão expirada ou inválida")
        if session_csrf and connection.cookies.get(API_CSRF_COOKIE) != session_csrf:
            connection.scope.setdefault("state", {})[_API_CSRF_STATE] = session_csrf
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
