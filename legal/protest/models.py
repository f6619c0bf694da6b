"""Protest files and the titles in each: what Régua sent to the CRA (remessa, desistência,
autorização de cancelamento) and what it read back (confirmação, retorno), kept per
tenant. A file that names titles of several creditors gets one row per creditor."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    CheckConstraint,
    Date,
    ForeignKeyConstraint,
    Index,
    Integer,
    String,
    Text,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from core.db import Base, TenantOwned, created_at_column
from core.models.collection import MONEY, _in


class ProtestFileKind(StrEnum):
    REMESSA = "remessa"  # titles sent to protest (layout 4.3)
    DESISTENCIA = "desistencia"  # withdrawal of titles not yet protested (layout 2.1, DP)
    AUTORIZACAO_CANCELAMENTO = "autorizacao_cancelamento"  # the creditor's anuência (AC)
    CONFIRMACAO = "confirmacao"  # protocol numbers from the cartórios (layout 4.3, CRT)
    RETORNO = "retorno"  # the titles' outcomes (layout 4.3, RTP)


FILE_KIND_LABELS = {
    ProtestFileKind.REMESSA: "remessa", ProtestFileKind.DESISTENCIA: "desistência",
    ProtestFileKind.AUTORIZACAO_CANCELAMENTO: "autorização de cancelamento",
    ProtestFileKind.CONFIRMACAO: "confirmação", ProtestFileKind.RETORNO: "retorno",
}
OUTGOING = (ProtestFileKind.REMESSA, ProtestFileKind.DESISTENCIA,
            ProtestFileKind.AUTORIZACAO_CANCELAMENTO)

# Agency-wide sequences (the CRA knows one apresentante, the agency): the remessa's
# continuous number (header field 08) and each title's nosso número.
REMESSA_SEQUENCE = "protest_remessa_seq"
OUR_NUMBER_SEQUENCE = "protest_our_number_seq"


class ProtestFile(TenantOwned, Base):
    __tablename__ = "protest_file"

    kind: Mapped[str] = mapped_column(String(32))
    outgoing: Mapped[bool]
    movement_on: Mapped[dt.date] = mapped_column(Date)  # the file's "data do movimento"
    sequence: Mapped[int | None] = mapped_column(Integer)  # a remessa's header field 08
    name: Mapped[str] = mapped_column(String(120))
    storage_key: Mapped[str] = mapped_column(String(500))
    sha256: Mapped[str] = mapped_column(String(64))
    titles: Mapped[int] = mapped_column(Integer)
    total_amount: Mapped[Decimal] = mapped_column(MONEY)
    created_by: Mapped[uuid.UUID | None]
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(f"kind IN {_in(ProtestFileKind)}", name="kind"),
        # One file of each outgoing kind per tenant and day: a second run rewrites it.
        Index("uq_protest_file_outgoing", "tenant_id", "kind", "movement_on", unique=True,
              postgresql_where=text("outgoing")),
        # A return file is read once per tenant.
        Index("uq_protest_file_incoming", "tenant_id", "sha256", unique=True,
              postgresql_where=text("NOT outgoing")),
    )


class ProtestItem(TenantOwned, Base):
    """One title in one file, with what the file said of it and what it changed."""

    __tablename__ = "protest_item"

    file_id: Mapped[uuid.UUID]
    escalation_id: Mapped[uuid.UUID]
    debt_id: Mapped[uuid.UUID]
    line: Mapped[int] = mapped_column(Integer)
    our_number: Mapped[str] = mapped_column(String(15))
    title_number: Mapped[str] = mapped_column(String(11))
    species: Mapped[str | None] = mapped_column(String(3))
    amount: Mapped[Decimal | None] = mapped_column(MONEY)
    balance: Mapped[Decimal | None] = mapped_column(MONEY)
    municipality: Mapped[str | None] = mapped_column(String(7))
    notary: Mapped[str | None] = mapped_column(String(2))
    protocol: Mapped[str | None] = mapped_column(String(10))
    protocol_on: Mapped[dt.date | None] = mapped_column(Date)
    occurrence: Mapped[str | None] = mapped_column(String(1))
    occurrence_on: Mapped[dt.date | None] = mapped_column(Date)
    irregularities: Mapped[str | None] = mapped_column(String(20))  # codes, comma-separated
    costs: Mapped[Decimal | None] = mapped_column(MONEY)  # cartório + distributor + others
    from_state: Mapped[str | None] = mapped_column(String(24))
    to_state: Mapped[str | None] = mapped_column(String(24))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "file_id"],
                             ["protest_file.tenant_id", "protest_file.id"]),
        ForeignKeyConstraint(["tenant_id", "escalation_id"],
                             ["escalation.tenant_id", "escalation.id"]),
        Index("uq_protest_item_file_escalation", "tenant_id", "file_id", "escalation_id",
              unique=True),
        Index("ix_protest_item_escalation", "tenant_id", "escalation_id"),
        # Return files name titles by nosso número only (agency-wide, from a sequence).
        Index("ix_protest_item_our_number", "our_number"),
    )
