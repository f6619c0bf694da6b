"""Tenants (creditor clients), users and their memberships, API tokens, login throttles."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.auth.roles import Role
from core.db import Base, created_at_column
from core.ids import uuid7


class TenantStatus(StrEnum):
    ACTIVE = "active"
    INACTIVE = "inactive"


class Tenant(Base):
    """A creditor company served by the agency. Under RLS: visible when in scope.

    Citus: a reference table (small, read by every node's joins)."""

    __tablename__ = "tenant"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    slug: Mapped[str] = mapped_column(String(63), unique=True)
    legal_name: Mapped[str] = mapped_column(String(200))
    trade_name: Mapped[str] = mapped_column(String(200))
    cnpj: Mapped[str] = mapped_column(String(14), unique=True)
    timezone: Mapped[str] = mapped_column(String(64), default="America/Sao_Paulo")
    state: Mapped[str] = mapped_column(String(2))
    address: Mapped[str | None] = mapped_column(String(300))
    status: Mapped[TenantStatus] = mapped_column(String(16), default=TenantStatus.ACTIVE)
    # The tenant's own contact windows, narrower than the law's (core.compliance.policy).
    contact_policy: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    # The tenant's own limits on uploaded files, within the platform's (tenants.intake.limits).
    intake_limits: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    created_at: Mapped[dt.datetime] = created_at_column()
    deactivated_at: Mapped[dt.datetime | None]

    __table_args__ = (
        CheckConstraint("status IN ('active', 'inactive')", name="status"),
        CheckConstraint("slug ~ '^[a-z0-9][a-z0-9-]*$'", name="slug"),
    )


class User(Base):
    """A person who logs in: agency staff (no tenant) or a creditor's staff (one tenant).

    Agency-wide. Citus: a reference table (agency staff have no tenant to distribute by)."""

    __tablename__ = "user"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    email: Mapped[str] = mapped_column(String(254))
    full_name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[Role] = mapped_column(String(32))
    tenant_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("tenant.id"))
    is_active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[dt.datetime] = created_at_column()
    last_login_at: Mapped[dt.datetime | None]

    __table_args__ = (
        Index("uq_user_email", func.lower(email), unique=True),
        CheckConstraint(
            "(role IN ('admin','supervisor','agent','legal') AND tenant_id IS NULL)"
            " OR (role IN ('creditor_admin','creditor_viewer') AND tenant_id IS NOT NULL)",
            name="role_tenant",
        ),
    )


class UserTenant(Base):
    """Which tenants an agency user (supervisor, agent, legal) may work.

    Citus: a reference table, beside `user`."""

    __tablename__ = "user_tenant"

    tenant_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("tenant.id"), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id"), primary_key=True)
    created_at: Mapped[dt.datetime] = created_at_column()


class ApiToken(Base):
    """A bearer token or a browser session; only the SHA-256 of the secret is stored.

    Agency-wide. Citus: distributed by `token_hash` (looked up by it alone)."""

    __tablename__ = "api_token"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("user.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = created_at_column()
    expires_at: Mapped[dt.datetime]

    __table_args__ = (
        CheckConstraint("kind IN ('session', 'bearer')", name="kind"),
        Index("ix_api_token_user", "user_id"),
    )


class LoginThrottle(Base):
    """Failed-login counters, one row per key: an (e-mail, address) pair, an address, an
    account. A login locks its rows, so counting and checking are one atomic step.

    Agency-wide. Citus: a local table on the coordinator (short-lived, read at login)."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(400), primary_key=True)
    failures: Mapped[int] = mapped_column(server_default="0")
    last_failure_at: Mapped[dt.datetime | None]
    # No attempt under this key is judged before this moment (the growing delay).
    blocked_until: Mapped[dt.datetime | None]

    __table_args__ = (Index("ix_login_throttle_last_failure_at", "last_failure_at"),)

