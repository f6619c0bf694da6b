"""The audit log: append-only for the application role, hash-chained per tenant.

The chain is kept by a database trigger (see the first migration), not by Python: a
writer cannot forget it, and concurrent writers are serialised on the chain's head row.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import BigInteger, Index, String, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, created_at_column
from core.ids import uuid7


class AuditLog(Base):
    """Citus: distributed by `tenant_id`, each chain on one node; entries with no tenant
    (agency actions) form the agency's own chain, which stays on the coordinator."""

    __tablename__ = "audit_log"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid7)
    tenant_id: Mapped[uuid.UUID | None]
    seq: Mapped[int] = mapped_column(BigInteger, server_default="0")
    actor_id: Mapped[uuid.UUID | None]
    actor_email: Mapped[str | None] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64))
    entity: Mapped[str | None] = mapped_column(String(64))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    before: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[dt.datetime] = created_at_column()
    prev_hash: Mapped[str] = mapped_column(String(64), server_default="")
    hash: Mapped[str] = mapped_column(String(64), server_default="")

    __table_args__ = (
        Index(
            "uq_audit_log_chain_seq",
            text("coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid)"),
            "seq",
            unique=True,
        ),
    )
