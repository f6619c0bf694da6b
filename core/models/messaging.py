"""Messages to debtors: each tenant's templates, and each message sent on a channel."""

from __future__ import annotations

import datetime as dt
import uuid
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, Date, Index, String, Text, UniqueConstraint, Uuid
from sqlalchemy.dialects.postgresql import ARRAY, JSONB
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, created_at_column
from core.models.collection import Channel, _in

# Channels that carry a written message (calls go through the dialer).
MESSAGE_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.WHATSAPP, Channel.LETTER)


class MessageTemplate(TenantOwned, Base):
    """A tenant's Jinja2 template for one channel, versioned: saving a change adds a
    version and makes it the active one; sent messages name the version they used.

    For WhatsApp, `name` is the template approved at Meta and `params` the Jinja
    expressions of its body parameters, in order; `body` is the text the debtor reads."""

    __tablename__ = "message_template"

    channel: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(100))
    version: Mapped[int]
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    params: Mapped[list[str] | None] = mapped_column(JSONB)
    active: Mapped[bool] = mapped_column(default=True)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(f"channel IN {_in(Channel)}", name="channel"),
        Index("uq_message_template_version", "tenant_id", "channel", "name", "version",
              unique=True),
        Index("uq_message_template_active", "tenant_id", "channel", "name", unique=True,
              postgresql_where="active"),
    )


class DispatchStatus(StrEnum):
    QUEUED = "queued"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    BOUNCED = "bounced"


DISPATCH_STATUS_LABELS = {
    DispatchStatus.QUEUED: "na fila", DispatchStatus.SENT: "enviada",
    DispatchStatus.DELIVERED: "entregue", DispatchStatus.READ: "lida",
    DispatchStatus.FAILED: "falhou", DispatchStatus.BOUNCED: "devolvida",
}


class MessageDispatch(TenantOwned, Base):
    """One message to one debtor on one channel: what was rendered, where it went, and
    what the provider said of it. Its attempt is the `interaction` it points to."""

    __tablename__ = "message_dispatch"

    channel: Mapped[str] = mapped_column(String(16))
    debtor_id: Mapped[uuid.UUID]
    debt_ids: Mapped[list[uuid.UUID]] = mapped_column(ARRAY(Uuid()))
    contact_point_id: Mapped[uuid.UUID | None]
    recipient: Mapped[str] = mapped_column(String(500))
    template_id: Mapped[uuid.UUID | None]  # empty: the platform's default template
    template_name: Mapped[str] = mapped_column(String(100))
    template_version: Mapped[int]
    subject: Mapped[str | None] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text)
    params: Mapped[list[str] | None] = mapped_column(JSONB)
    attachments: Mapped[list[dict[str, Any]] | None] = mapped_column(JSONB)
    provider: Mapped[str] = mapped_column(String(32))
    sandbox: Mapped[bool] = mapped_column(default=False)
    provider_message_id: Mapped[str | None] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(16), default=DispatchStatus.QUEUED)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    interaction_id: Mapped[uuid.UUID | None]
    cause_kind: Mapped[str] = mapped_column(String(16))
    cause_id: Mapped[uuid.UUID | None]
    print_key: Mapped[str | None] = mapped_column(String(500))  # letters: the day's print file
    created_at: Mapped[dt.datetime] = created_at_column()
    sent_at: Mapped[dt.datetime | None]
    # Not to be sent before this moment (a window that was closed when it was written).
    not_before: Mapped[dt.datetime | None]
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(f"channel IN {_in(Channel)}", name="channel"),
        CheckConstraint(f"status IN {_in(DispatchStatus)}", name="status"),
        Index("ix_message_dispatch_waiting", "not_before",
              postgresql_where="status = 'queued' AND interaction_id IS NULL"
                               " AND not_before IS NOT NULL"),
        Index("ix_message_dispatch_provider", "provider", "provider_message_id"),
        Index("ix_message_dispatch_debtor", "tenant_id", "debtor_id"),
        Index("ix_message_dispatch_created", "tenant_id", "created_at"),
    )


class LetterBatch(TenantOwned, Base):
    """A tenant's letters of one day in one print file (PDF) and its manifest (CSV) in
    S3, for the print house; rewritten whole when the day's job runs again."""

    __tablename__ = "letter_batch"

    day: Mapped[dt.date] = mapped_column(Date)
    letters: Mapped[int]
    pages: Mapped[int]
    pdf_key: Mapped[str] = mapped_column(String(500))
    manifest_key: Mapped[str] = mapped_column(String(500))
    created_at: Mapped[dt.datetime] = created_at_column()
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (UniqueConstraint("tenant_id", "day"),)

