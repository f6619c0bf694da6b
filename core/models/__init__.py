"""Every ORM model, imported here so Alembic and the app see one metadata."""

from core.models.activity import (
    CauseKind,
    DebtorNote,
    Direction,
    Hold,
    HoldKind,
    Interaction,
    Outcome,
)
from core.models.agency import AgencyContactCount
from core.models.audit import AuditLog
from core.models.collection import (
    CHANNELS_BY_KIND,
    DEBT_STATUS_LABELS,
    PLACED,
    Channel,
    ColumnLayout,
    ContactKind,
    ContactOptOut,
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
from core.models.ledger import Bucket, EntryKind, LedgerEntry, Payment, PaymentSource
from core.models.scoring import (
    AgreementBreak,
    DebtorScore,
    DebtorScoreHistory,
    ScoringModel,
    ScoringPolicy,
)
from core.models.tenancy import ApiToken, LoginAttempt, Tenant, TenantStatus, User, UserTenant

__all__ = [
    "CHANNELS_BY_KIND",
    "DEBT_STATUS_LABELS",
    "PLACED",
    "AgencyContactCount",
    "AgreementBreak",
    "ApiToken",
    "AuditLog",
    "Bucket",
    "CauseKind",
    "Channel",
    "ColumnLayout",
    "ContactKind",
    "ContactOptOut",
    "ContactPoint",
    "ContactQuality",
    "Debt",
    "DebtStatus",
    "Debtor",
    "DebtorNote",
    "DebtorScore",
    "DebtorScoreHistory",
    "Direction",
    "EntryKind",
    "Hold",
    "HoldKind",
    "ImportMode",
    "Interaction",
    "JobOnce",
    "LedgerEntry",
    "LoginAttempt",
    "Outcome",
    "Payment",
    "PaymentSource",
    "Portfolio",
    "PortfolioStatus",
    "ScoringModel",
    "ScoringPolicy",
    "Tenant",
    "TenantStatus",
    "User",
    "UserTenant",
]
