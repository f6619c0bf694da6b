"""/api/v1/tenants and /api/v1/users."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, patch, post
from litestar.params import FromPath, JSONBody

from core.access import transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.auth.web import requires
from core.models import Tenant, User
from core.settings import get_settings
from tenants import onboarding, users
from tenants.schemas import (
    PasswordReset,
    TenantCreate,
    TenantOut,
    TenantUpdate,
    UserCreate,
    UserOut,
    UserUpdate,
)

Req = Request[Principal, str, Any]

AGENCY_STAFF = (Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.LEGAL)
ANY_ROLE = (*AGENCY_STAFF, Role.CREDITOR_ADMIN, Role.CREDITOR_VIEWER)
MANAGERS = (Role.ADMIN, Role.CREDITOR_ADMIN)


def tenant_out(tenant: Tenant, admin: User | None = None) -> TenantOut:
    return TenantOut(
        id=tenant.id, slug=tenant.slug, legal_name=tenant.legal_name,
        trade_name=tenant.trade_name, cnpj=tenant.cnpj, state=tenant.state,
        timezone=tenant.timezone, status=tenant.status, created_at=tenant.created_at,
        address=tenant.address, admin_user_id=admin.id if admin else None,
    )


def user_out(user: User, tenant_ids: list[uuid.UUID] | None = None) -> UserOut:
    return UserOut(
        id=user.id, email=user.email, full_name=user.full_name, role=Role(user.role),
        tenant_id=user.tenant_id, is_active=user.is_active, created_at=user.created_at,
        last_login_at=user.last_login_at, tenant_ids=sorted(tenant_ids or []),
    )


class TenantController(Controller):
    """Creditor tenants: onboarding, editing, deactivation and reactivation."""

    path = "/api/v1/tenants"
    tags = ["tenants"]

    @get("/", guards=[requires(*ANY_ROLE)])
    async def list_tenants(self, request: Req) -> list[TenantOut]:
        """The tenants the caller may see: its own (creditor staff) or those it works."""
        async with transaction(request.user) as session:
            return [tenant_out(t) for t in await onboarding.list_tenants(session)]

    @post("/", guards=[requires(Role.ADMIN)])
    async def create_tenant(self, request: Req, data: JSONBody[TenantCreate]) -> TenantOut:
        """Onboard a creditor, optionally with its first creditor admin (`admin_*`)."""
        admin = None
        if data.admin_email:
            admin = users.NewUser(email=data.admin_email, password=data.admin_password or "",
                                  full_name=data.admin_name)
        async with transaction(request.user) as session:
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
        """One tenant; another creditor's is 404."""
        async with transaction(request.user) as session:
            return tenant_out(await onboarding.get_tenant(session, request.user,
                                                          tenant_id))

    @patch("/{tenant_id:uuid}", guards=[requires(Role.ADMIN)])
    async def update_tenant(self, request: Req, tenant_id: FromPath[uuid.UUID],
                            data: JSONBody[TenantUpdate]) -> TenantOut:
        """Change the legal or trade name, address, state or time zone."""
        async with transaction(request.user) as session:
            return tenant_out(await onboarding.update_tenant(
                session, request.user, tenant_id,
                onboarding.TenantChanges(
                    legal_name=data.legal_name, trade_name=data.trade_name,
                    address=data.address, state=data.state, timezone=data.timezone),
            ))

    @post("/{tenant_id:uuid}/deactivate", guards=[requires(Role.ADMIN)], status_code=200)
    async def deactivate(self, request: Req, tenant_id: FromPath[uuid.UUID]) -> TenantOut:
        """Its users can no longer log in and their sessions end; the data is kept."""
        async with transaction(request.user) as session:
            return tenant_out(
                await onboarding.deactivate_tenant(session, request.user, tenant_id)
            )

    @post("/{tenant_id:uuid}/reactivate", guards=[requires(Role.ADMIN)], status_code=200)
    async def reactivate(self, request: Req, tenant_id: FromPath[uuid.UUID]) -> TenantOut:
        """Its active users may log in again."""
        async with transaction(request.user) as session:
            return tenant_out(
                await onboarding.reactivate_tenant(session, request.user, tenant_id)
            )


class UserController(Controller):
    """Users: the agency admin manages everyone; a creditor admin, its own tenant's staff."""

    path = "/api/v1/users"
    tags = ["users"]

    @get("/", guards=[requires(Role.ADMIN, Role.SUPERVISOR, Role.CREDITOR_ADMIN)])
    async def list_users(self, request: Req) -> list[UserOut]:
        """The users the caller may see."""
        async with transaction(request.user) as session:
            return [user_out(u) for u in await users.list_users(session, request.user)]

    @post("/", guards=[requires(*MANAGERS)])
    async def create_user(self, request: Req, data: JSONBody[UserCreate]) -> UserOut:
        """Create a user; a creditor admin creates creditor roles in its own tenant only."""
        async with transaction(request.user) as session:
            user = await users.create_user(
                session, request.user,
                users.NewUser(email=data.email, password=data.password,
                              full_name=data.full_name, tenant_ids=data.tenant_ids),
                tenant_id=data.tenant_id, role=data.role,
            )
            return user_out(user, await users.work_tenants(session, user.id))

    @get("/{user_id:uuid}", guards=[requires(Role.ADMIN, Role.SUPERVISOR, Role.CREDITOR_ADMIN)])
    async def get_user(self, request: Req, user_id: FromPath[uuid.UUID]) -> UserOut:
        """One user; another creditor's is 404."""
        async with transaction(request.user) as session:
            user = await users.get_user(session, request.user, user_id)
            return user_out(user, await users.work_tenants(session, user.id))

    @patch("/{user_id:uuid}", guards=[requires(*MANAGERS)])
    async def update_user(self, request: Req, user_id: FromPath[uuid.UUID],
                          data: JSONBody[UserUpdate]) -> UserOut:
        """Change the e-mail, name, role (within the user's side) or worked tenants."""
        async with transaction(request.user) as session:
            user = await users.update_user(
                session, request.user, user_id,
                users.UserChanges(email=data.email, full_name=data.full_name, role=data.role,
                                  tenant_ids=data.tenant_ids),
            )
            return user_out(user, await users.work_tenants(session, user.id))

    @post("/{user_id:uuid}/deactivate", guards=[requires(*MANAGERS)], status_code=200)
    async def deactivate_user(self, request: Req, user_id: FromPath[uuid.UUID]) -> UserOut:
        """The user can no longer log in; every session ends now."""
        async with transaction(request.user) as session:
            return user_out(await users.deactivate_user(session, request.user, user_id))

    @post("/{user_id:uuid}/reactivate", guards=[requires(*MANAGERS)], status_code=200)
    async def reactivate_user(self, request: Req, user_id: FromPath[uuid.UUID]) -> UserOut:
        """The user may log in again."""
        async with transaction(request.user) as session:
            return user_out(await users.reactivate_user(session, request.user, user_id))

    @post("/{user_id:uuid}/password", guards=[requires(*MANAGERS)], status_code=200)
    async def reset_password(self, request: Req, user_id: FromPath[uuid.UUID],
                             data: JSONBody[PasswordReset]) -> UserOut:
        """Set a new password for the user; all of the user's sessions end."""
        async with transaction(request.user) as session:
            return user_out(await users.reset_password(session, request.user, user_id,
                                                       data.password))
