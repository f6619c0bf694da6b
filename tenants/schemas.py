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


class TenantUpdate(msgspec.Struct, kw_only=True):
    """Fields left out stay as they are; the CNPJ and the slug cannot change."""

    legal_name: str | None = None
    trade_name: str | None = None
    address: str | None = None  # "" clears it
    state: str | None = None
    timezone: str | None = None


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
    address: str | None = None
    admin_user_id: uuid.UUID | None = None


class UserCreate(msgspec.Struct, kw_only=True):
    email: str
    password: str
    role: Role
    full_name: str = ""
    tenant_id: uuid.UUID | None = None
    tenant_ids: list[uuid.UUID] = msgspec.field(default_factory=list)


class UserUpdate(msgspec.Struct, kw_only=True):
    """Fields left out stay as they are. `tenant_ids`: the tenants a supervisor, agent or
    legal user works (replaces the list)."""

    email: str | None = None
    full_name: str | None = None
    role: Role | None = None
    tenant_ids: list[uuid.UUID] | None = None


class PasswordReset(msgspec.Struct, kw_only=True):
    password: str = ""  # missing: the policy's message names the field (after the lookup)


class UserOut(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    email: str
    full_name: str
    role: Role
    tenant_id: uuid.UUID | None
    is_active: bool
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    tenant_ids: list[uuid.UUID] = msgspec.field(default_factory=list)
