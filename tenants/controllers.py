"""/api/v1/tenants and /api/v1/users."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post
from litestar.params import FromPath, JSONBody

from core.auth.principal import Principal
from core.auth.roles import Role
from core.auth.web import requires
from core.errors import Forbidden, NotFound
from core.models import Tenant, User
from core.runtime import get_db
from core.settings import get_settings
from tenants import onboarding, users
from tenants.schemas import TenantCreate, TenantOut, UserCreate, UserOut

Req = Request[Principal, str, Any]

AGENCY_STAFF = (Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.LEGAL)
ANY_ROLE = (*AGENCY_STAFF, Role.CREDITOR_ADMIN, Role.CREDITOR_VIEWER)


def tenant_out(tenant: Tenant, admin: User | None = None) -> TenantOut:
    return TenantOut(
        id=tenant.id, slug=tenant.slug, legal_name=tenant.legal_name,
        trade_name=tenant.trade_name, cnpj=tenant.cnpj, state=tenant.state,
        timezone=tenant.timezone, status=tenant.status, created_at=tenant.created_at,
        admin_user_id=admin.id if admin else None,
    )


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id, email=user.email, full_name=user.full_name, role=Role(user.role),
        tenant_id=user.tenant_id, is_active=user.is_active, created_at=user.created_at,
        last_login_at=user.last_login_at,
    )


class TenantController(Controller):
    path = "/api/v1/tenants"
    tags = ["tenants"]

    @get("/", guards=[requires(*ANY_ROLE)])
    async def list_tenants(self, request: Req) -> list[TenantOut]:
        async with get_db().transaction(request.user.scope) as session:
            return [tenant_out(t) for t in await onboarding.list_tenants(session)]

    @post("/", guards=[requires(Role.ADMIN)])
    async def create_tenant(self, request: Req, data: JSONBody[TenantCreate]) -> TenantOut:
        admin = None
        if data.admin_email:
            admin = users.NewUser(email=data.admin_email, password=data.admin_password or "",
                                  full_name=data.admin_name)
        async with get_db().transaction(request.user.scope) as session:
            tenant, user = await onboarding.create_tenant(
                session, request.user,
                onboarding.NewTenant(
                    legal_name=data.legal_name, cnpj=data.cnpj, state=data.state,
                    trade_name=data.trade_name, address=data.address,
                    timezone=data.timezone or get_settings().default_timezone,
                    slug=data.slug,
                ),
                admin,
            )
            return tenant_out(tenant, user)

    @get("/{tenant_id:uuid}", guards=[requires(*ANY_ROLE)])
    async def get_tenant(self, request: Req, tenant_id: FromPath[uuid.UUID]) -> TenantOut:
        async with get_db().transaction(request.user.scope) as session:
            return tenant_out(await onboarding.get_tenant(session, tenant_id))

    @post("/{tenant_id:uuid}/deactivate", guards=[requires(Role.ADMIN)], status_code=200)
    async def deactivate(self, request: Req, tenant_id: FromPath[uuid.UUID]) -> TenantOut:
        async with get_db().transaction(request.user.scope) as session:
            return tenant_out(
                await onboarding.deactivate_tenant(session, request.user, tenant_id)
            )


class UserController(Controller):
    path = "/api/v1/users"
    tags = ["users"]

    @get("/", guards=[requires(Role.ADMIN, Role.SUPERVISOR, Role.CREDITOR_ADMIN)])
    async def list_users(self, request: Req) -> list[UserOut]:
        async with get_db().transaction(request.user.scope) as session:
            return [user_out(u) for u in await users.list_users(session, request.user)]

    @post("/", guards=[requires(Role.ADMIN, Role.CREDITOR_ADMIN)])
    async def create_user(self, request: Req, data: JSONBody[UserCreate]) -> UserOut:
        principal = request.user
        tenant_id = data.tenant_id
        if principal.role is Role.CREDITOR_ADMIN:
            # A creditor admin adds staff to its own tenant only.
            if data.role not in (Role.CREDITOR_ADMIN, Role.CREDITOR_VIEWER):
                raise Forbidden("um credor só cria usuários do próprio credor")
            if tenant_id is not None and tenant_id != principal.tenant_id:
                raise NotFound("tenant")
            tenant_id = principal.tenant_id
        elif tenant_id is not None and not principal.may_work(tenant_id):
            raise NotFound("tenant")
        for work_tenant in data.tenant_ids:
            if not principal.may_work(work_tenant):
                raise NotFound("tenant")
        async with get_db().transaction(principal.scope) as session:
            user = await users.add_user(
                session, principal.actor,
                users.NewUser(email=data.email, password=data.password,
                              full_name=data.full_name, tenant_ids=data.tenant_ids),
                tenant_id=tenant_id, role=data.role,
            )
            return user_out(user)

    @get("/{user_id:uuid}", guards=[requires(Role.ADMIN, Role.SUPERVISOR, Role.CREDITOR_ADMIN)])
    async def get_user(self, request: Req, user_id: FromPath[uuid.UUID]) -> UserOut:
        async with get_db().transaction(request.user.scope) as session:
            return user_out(await users.get_user(session, request.user, user_id))

    @post("/{user_id:uuid}/deactivate", guards=[requires(Role.ADMIN, Role.CREDITOR_ADMIN)],
          status_code=200)
    async def deactivate_user(self, request: Req, user_id: FromPath[uuid.UUID]) -> UserOut:
        async with get_db().transaction(request.user.scope) as session:
            return user_out(await users.deactivate_user(session, request.user, user_id))
