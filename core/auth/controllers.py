"""/api/v1/auth: bearer tokens for API clients."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

import msgspec
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotAuthorizedException
from litestar.params import JSONBody

from core.auth import service
from core.auth.principal import Principal
from core.auth.roles import Role
from core.auth.web import BEARER, client_ip, requires
from core.runtime import get_db
from core.settings import get_settings


class TokenRequest(msgspec.Struct):
    email: str
    password: str


class TokenOut(msgspec.Struct):
    access_token: str
    token_type: str
    expires_at: dt.datetime


class MeOut(msgspec.Struct):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    tenant_id: uuid.UUID | None
    tenant_ids: list[uuid.UUID]


async def login(request: Request[Any, Any, Any], email: str,
                password: str) -> Principal:
    """Shared by the API and the login page: authenticate or raise a 401/429."""
    settings = get_settings()
    try:
        return await service.authenticate(
            get_db(), email, password, client_ip(request),
            policy=service.ThrottlePolicy(
                max_failures=settings.login_max_failures,
                window=dt.timedelta(minutes=settings.login_window_minutes),
                max_delay=dt.timedelta(seconds=settings.login_max_delay_seconds),
            ),
        )
    except service.LoginRateLimited as exc:
        raise RateLimited(str(exc), exc.retry_after_seconds) from exc
    except service.LoginError as exc:
        raise NotAuthorizedException(str(exc)) from exc


class RateLimited(Exception):
    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class AuthController(Controller):
    """Bearer tokens for API clients."""

    path = "/api/v1/auth"
    tags = ["auth"]

    @post("/token", status_code=200, exclude_from_auth=True)
    async def token(self, request: Request[Any, Any, Any],
                    data: JSONBody[TokenRequest]) -> TokenOut:
        """Exchange an e-mail and password for a bearer token (`Authorization: Bearer …`)."""
        principal = await login(request, data.email, data.password)
        issued = await service.issue_token(
            get_db(), principal, "bearer",
            dt.timedelta(hours=get_settings().token_ttl_hours),
        )
        return TokenOut(issued.token, "bearer", issued.expires_at)

    @get("/me", guards=[requires()], security=BEARER)
    async def me(self, request: Request[Principal, str, Any]) -> MeOut:
        """The caller: role, own tenant and the tenants it works."""
        p = request.user
        return MeOut(p.user_id, p.email, p.full_name, p.role, p.tenant_id,
                     sorted(p.tenant_ids))

    @post("/logout", guards=[requires()], status_code=204, security=BEARER)
    async def logout(self, request: Request[Principal, str, Any]) -> Response[None]:
        """Revoke the token of this request."""
        await service.revoke_token(get_db(), request.auth)
        return Response(None, status_code=204)


def rate_limited_response(request: Request[Any, Any, Any],
                          exc: RateLimited) -> Response[dict[str, str]]:
    return Response({"detail": str(exc)}, status_code=429,
                    headers={"Retry-After": str(exc.retry_after)})

