"""Judicial cases: what the legal team works once a file is handed to court.

`legal_case` is one judicial handoff: the escalations it holds (`case_escalation`, at
most one case per escalation), the debtor, its state in court, the lawyer in charge, the
process number and the current dossier. Deadlines, notes, documents (the creditor's
uploads and the generated dossiers, every version kept), the history of the case and
its exports to outside law firms hang from it. `case_webhook` is a tenant's law-firm
endpoint.
"""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
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

CASE_KEY = ["legal_case.tenant_id", "legal_case.id"]


class CaseState(StrEnum):
    RECEIVED = "received"  # handed off; the dossier is built
    IN_ANALYSIS = "in_analysis"  # a lawyer studies the file
    FILED = "filed"  # the action is filed: it has a process number
    HEARING = "hearing"
    JUDGMENT = "judgment"
    SETTLED = "settled"  # a court agreement or payment ended the dispute
    CLOSED = "closed"


CASE_STATE_LABELS = {
    CaseState.RECEIVED: "recebido", CaseState.IN_ANALYSIS: "em análise",
    CaseState.FILED: "ajuizado", CaseState.HEARING: "em audiência",
    CaseState.JUDGMENT: "sentenciado", CaseState.SETTLED: "acordo ou quitação",
    CaseState.CLOSED: "encerrado",
}

# The one definition of where a case may go from each state. A case moves forward; it
# can be settled or closed from any open state (a payment or a withdrawal ends it early).
TRANSITIONS: dict[CaseState, frozenset[CaseState]] = {
    CaseState.RECEIVED: frozenset({CaseState.IN_ANALYSIS, CaseState.SETTLED, CaseState.CLOSED}),
    CaseState.IN_ANALYSIS: frozenset({CaseState.FILED, CaseState.SETTLED, CaseState.CLOSED}),
    CaseState.FILED: frozenset({CaseState.HEARING, CaseState.JUDGMENT, CaseState.SETTLED,
                                CaseState.CLOSED}),
    CaseState.HEARING: frozenset({CaseState.JUDGMENT, CaseState.SETTLED, CaseState.CLOSED}),
    CaseState.JUDGMENT: frozenset({CaseState.SETTLED, CaseState.CLOSED}),
    CaseState.SETTLED: frozenset({CaseState.CLOSED}),
    CaseState.CLOSED: frozenset(),
}
# States that need the process number and the filing date.
IN_COURT = frozenset({CaseState.FILED, CaseState.HEARING, CaseState.JUDGMENT})


class DocumentKind(StrEnum):
    CONTRACT = "contract"
    INVOICE = "invoice"
    STATEMENT = "statement"  # account statement, ledger printout
    PROOF = "proof"  # proof of delivery, signature, acceptance
    OTHER = "other"
    DOSSIER_PDF = "dossier_pdf"  # generated
    DOSSIER_ZIP = "dossier_zip"  # generated


DOCUMENT_KIND_LABELS = {
    DocumentKind.CONTRACT: "contrato", DocumentKind.INVOICE: "nota fiscal ou fatura",
    DocumentKind.STATEMENT: "extrato", DocumentKind.PROOF: "comprovante",
    DocumentKind.OTHER: "outro", DocumentKind.DOSSIER_PDF: "dossiê (PDF)",
    DocumentKind.DOSSIER_ZIP: "dossiê com originais (ZIP)",
}
UPLOADED_KINDS = (DocumentKind.CONTRACT, DocumentKind.INVOICE, DocumentKind.STATEMENT,
                  DocumentKind.PROOF, DocumentKind.OTHER)


class DocumentOrigin(StrEnum):
    CREDITOR = "creditor"  # uploaded by the creditor's staff
    AGENCY = "agency"  # uploaded by the agency's staff
    GENERATED = "generated"  # made by Régua


DOCUMENT_ORIGIN_LABELS = {DocumentOrigin.CREDITOR: "enviado pelo credor",
                          DocumentOrigin.AGENCY: "enviado pela assessoria",
                          DocumentOrigin.GENERATED: "gerado pela Régua"}


class LegalCase(TenantOwned, Base):
    __tablename__ = "legal_case"

    debtor_id: Mapped[uuid.UUID]
    state: Mapped[str] = mapped_column(String(16), default=CaseState.RECEIVED)
    amount: Mapped[Decimal] = mapped_column(MONEY)  # the escalations' balances at handoff
    lawyer_id: Mapped[uuid.UUID | None]  # a user with the `legal` role (or an admin)
    court_number: Mapped[str | None] = mapped_column(String(20))  # CNJ, 20 digits
    court_name: Mapped[str | None] = mapped_column(String(200))  # court and district
    filed_on: Mapped[dt.date | None] = mapped_column(Date)
    reason: Mapped[str | None] = mapped_column(String(1000))  # why it was handed off
    opened_at: Mapped[dt.datetime]
    opened_by: Mapped[uuid.UUID | None]  # None: the job that picks handed-off escalations
    state_changed_at: Mapped[dt.datetime]
    closed_at: Mapped[dt.datetime | None]
    dossier_version: Mapped[int] = mapped_column(Integer, default=0)
    dossier_pdf_key: Mapped[str | None] = mapped_column(String(500))
    dossier_zip_key: Mapped[str | None] = mapped_column(String(500))
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        CheckConstraint(f"state IN {_in(CaseState)}", name="state"),
        CheckConstraint("court_number IS NULL OR court_number ~ '^[0-9]{20}$'",
                        name="court_number_digits"),
        Index("uq_legal_case_court_number", "tenant_id", "court_number", unique=True,
              postgresql_where=text("court_number IS NOT NULL")),
        Index("ix_legal_case_state", "tenant_id", "state"),
        Index("ix_legal_case_debtor", "tenant_id", "debtor_id"),
    )

    @property
    def code(self) -> str:
        """How people name a case: short, stable, from its id."""
        return f"JUR-{self.id.hex[-8:].upper()}"


class CaseEscalation(TenantOwned, Base):
    """An escalation a case holds. An escalation belongs to one case at most, which is
    what makes opening cases from handed-off escalations idempotent."""

    __tablename__ = "case_escalation"

    case_id: Mapped[uuid.UUID]
    escalation_id: Mapped[uuid.UUID]
    debt_id: Mapped[uuid.UUID]

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "case_id"], CASE_KEY),
        ForeignKeyConstraint(["tenant_id", "escalation_id"],
                             ["escalation.tenant_id", "escalation.id"]),
        Index("uq_case_escalation", "tenant_id", "escalation_id", unique=True),
        Index("ix_case_escalation_case", "tenant_id", "case_id"),
    )


class CaseDeadline(TenantOwned, Base):
    __tablename__ = "case_deadline"

    case_id: Mapped[uuid.UUID]
    what: Mapped[str] = mapped_column(String(300))
    due_on: Mapped[dt.date] = mapped_column(Date)
    done_at: Mapped[dt.datetime | None]
    done_by_email: Mapped[str | None] = mapped_column(String(254))
    created_by_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "case_id"], CASE_KEY),
        Index("ix_case_deadline_open", "tenant_id", "case_id", "due_on",
              postgresql_where=text("done_at IS NULL")),
    )


class CaseNote(TenantOwned, Base):
    __tablename__ = "case_note"

    case_id: Mapped[uuid.UUID]
    body: Mapped[str] = mapped_column(String(4000))
    author_id: Mapped[uuid.UUID | None]
    author_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "case_id"], CASE_KEY),
        Index("ix_case_note_case", "tenant_id", "case_id", "created_at"),
    )


class CaseDocument(TenantOwned, Base):
    """A file of the case in S3: one the creditor or the agency uploaded, or a dossier
    Régua generated (each version kept)."""

    __tablename__ = "case_document"

    case_id: Mapped[uuid.UUID]
    origin: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))
    version: Mapped[int | None] = mapped_column(Integer)  # a dossier's version
    file_name: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(100))
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    key: Mapped[str] = mapped_column(String(500))
    description: Mapped[str | None] = mapped_column(String(300))
    uploaded_by: Mapped[uuid.UUID | None]
    uploaded_by_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "case_id"], CASE_KEY),
        CheckConstraint(f"origin IN {_in(DocumentOrigin)}", name="origin"),
        CheckConstraint(f"kind IN {_in(DocumentKind)}", name="kind"),
        CheckConstraint("size >= 0", name="size_nonnegative"),
        Index("ix_case_document_case", "tenant_id", "case_id", "created_at"),
        Index("uq_case_document_version", "tenant_id", "case_id", "kind", "version",
              unique=True, postgresql_where=text("version IS NOT NULL")),
    )


class CaseEvent(TenantOwned, Base):
    """The case's history: opened, state moves, lawyer, process number, dossiers,
    exports. Insert-only for the application."""

    __tablename__ = "case_event"

    case_id: Mapped[uuid.UUID]
    at: Mapped[dt.datetime]
    kind: Mapped[str] = mapped_column(String(16))
    from_value: Mapped[str | None] = mapped_column(String(200))
    to_value: Mapped[str | None] = mapped_column(String(200))
    actor_id: Mapped[uuid.UUID | None]  # None: a job
    actor_email: Mapped[str | None] = mapped_column(String(254))
    note: Mapped[str | None] = mapped_column(Text)

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "case_id"], CASE_KEY),
        Index("ix_case_event_case", "tenant_id", "case_id", "at"),
    )


class CaseWebhook(TenantOwned, Base):
    """Where a tenant's cases are sent to an outside law firm, and the secret that signs
    each delivery."""

    __tablename__ = "case_webhook"

    url: Mapped[str] = mapped_column(String(500))
    secret: Mapped[str] = mapped_column(String(100))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    updated_by_email: Mapped[str] = mapped_column(String(254))
    updated_at: Mapped[dt.datetime] = created_at_column()

    __table_args__ = (Index("uq_case_webhook_tenant", "tenant_id", unique=True),)


class CaseExport(TenantOwned, Base):
    """One export of a case: a download of its ZIP, or a webhook delivery with a signed
    link that expires."""

    __tablename__ = "case_export"

    case_id: Mapped[uuid.UUID]
    kind: Mapped[str] = mapped_column(String(16))  # download, webhook
    dossier_version: Mapped[int] = mapped_column(Integer)
    zip_key: Mapped[str] = mapped_column(String(500))
    url: Mapped[str | None] = mapped_column(String(500))  # the webhook's
    expires_at: Mapped[dt.datetime | None]  # the link's
    status: Mapped[str] = mapped_column(String(16))  # downloaded, sending, sent, failed
    http_status: Mapped[int | None] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(500))
    fetch_count: Mapped[int] = mapped_column(Integer, default=0)
    last_fetched_at: Mapped[dt.datetime | None]
    created_by_email: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[dt.datetime] = created_at_column()
    # A webhook's delivery: the body every attempt sends (under the export's id as the
    # idempotency key), attempts made, when the next is due, when the firm took it.
    body: Mapped[str | None] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, server_default="0", default=0)
    next_attempt_at: Mapped[dt.datetime | None]
    delivered_at: Mapped[dt.datetime | None]

    __table_args__ = (
        ForeignKeyConstraint(["tenant_id", "case_id"], CASE_KEY),
        CheckConstraint("kind IN ('download', 'webhook')", name="kind"),
        CheckConstraint("status IN ('downloaded', 'sending', 'sent', 'failed')",
                        name="status"),
        Index("ix_case_export_case", "tenant_id", "case_id", "created_at"),
        Index("ix_case_export_waiting", "next_attempt_at",
              postgresql_where=text("status = 'sending'")),
    )
