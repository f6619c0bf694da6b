"""API shapes for tenants and users."""

from __future__ import annotations

import datetime as dt
import uuid

import msgspec

from core.auth.roles import Role


class TenantCreate(msgspec.Struct, kw_only=True):
    legal_name: str
    cnpj: str
    state: str
    trade_name: str | None = None
    timezone: str | None = None  # default: REGUA_DEFAULT_TIMEZONE
    address: str | None = None
    slug: str | None = None
    admin_email: str | None = None
    admin_password: str | None = None
    admin_name: str = ""


class TenantOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    slug: str
    legal_name: str
    trade_name: str
    cnpj: str
    state: str
    timezone: str
    status: str
    created_at: dt.datetime
    admin_user_id: uuid.UUID | None = None


class UserCreate(msgspec.Struct, kw_only=True):
    email: str
    password: str
    role: Role
    full_name: str = ""
    tenant_id: uuid.UUID | None = None
    tenant_ids: list[uuid.UUID] = msgspec.field(default_factory=list)


class UserOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    tenant_id: uuid.UUID | None
    is_active: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None
