"""Every ORM model, imported here so Alembic and the app see one metadata."""

from core.models.audit import AuditLog
from core.models.collection import (
    DEBT_STATUS_LABELS,
    ColumnLayout,
    ContactKind,
    ContactPoint,
    ContactQuality,
    Debt,
    Debtor,
    DebtStatus,
    ImportMode,
    Portfolio,
    PortfolioStatus,
)
from core.models.jobs import JobOnce
from core.models.tenancy import ApiToken, LoginAttempt, Tenant, TenantStatus, User, UserTenant

__all__ = [
    "DEBT_STATUS_LABELS",
    "ApiToken",
    "AuditLog",
    "ColumnLayout",
    "ContactKind",
    "ContactPoint",
    "ContactQuality",
    "Debt",
    "DebtStatus",
    "Debtor",
    "ImportMode",
    "JobOnce",
    "LoginAttempt",
    "Portfolio",
    "PortfolioStatus",
    "Tenant",
    "TenantStatus",
    "User",
    "UserTenant",
]
