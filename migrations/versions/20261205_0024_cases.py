"""cases: judicial handoff and the legal queue (cases, their escalations, deadlines,
notes, documents, history, law-firm webhooks and exports)

Revision ID: 0024
Revises: 0018
Create Date: 2026-12-05 14:15:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import tenant_owned

revision: str = "0024"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table("case_webhook",
    sa.Column("url", sa.String(length=500), nullable=False),
    sa.Column("secret", sa.String(length=100), nullable=False),
    sa.Column("active", sa.Boolean(), nullable=False),
    sa.Column("updated_by_email", sa.String(length=254), nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_case_webhook"))
    )
    op.create_index("uq_case_webhook_tenant", "case_webhook", ["tenant_id"], unique=True)
    op.create_table("legal_case",
    sa.Column("debtor_id", sa.Uuid(), nullable=False),
    sa.Column("state", sa.String(length=16), nullable=False),
    sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=False),
    sa.Column("lawyer_id", sa.Uuid(), nullable=True),
    sa.Column("court_number", sa.String(length=20), nullable=True),
    sa.Column("court_name", sa.String(length=200), nullable=True),
    sa.Column("filed_on", sa.Date(), nullable=True),
    sa.Column("reason", sa.String(length=1000), nullable=True),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("opened_by", sa.Uuid(), nullable=True),
    sa.Column("state_changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("dossier_version", sa.Integer(), nullable=False),
    sa.Column("dossier_pdf_key", sa.String(length=500), nullable=True),
    sa.Column("dossier_zip_key", sa.String(length=500), nullable=True),
    sa.Column("updated_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.CheckConstraint("court_number IS NULL OR court_number ~ '^[0-9]{20}$'", name=op.f("ck_legal_case_court_number_digits")),
    sa.CheckConstraint("state IN ('received', 'in_analysis', 'filed', 'hearing', 'judgment', 'settled', 'closed')", name=op.f("ck_legal_case_state")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_legal_case"))
    )
    op.create_index("ix_legal_case_debtor", "legal_case", ["tenant_id", "debtor_id"], unique=False)
    op.create_index("ix_legal_case_state", "legal_case", ["tenant_id", "state"], unique=False)
    op.create_index("uq_legal_case_court_number", "legal_case", ["tenant_id", "court_number"], unique=True, postgresql_where=sa.text("court_number IS NOT NULL"))
    op.create_table("case_deadline",
    sa.Column("case_id", sa.Uuid(), nullable=False),
    sa.Column("what", sa.String(length=300), nullable=False),
    sa.Column("due_on", sa.Date(), nullable=False),
    sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("done_by_email", sa.String(length=254), nullable=True),
    sa.Column("created_by_email", sa.String(length=254), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(["tenant_id", "case_id"], ["legal_case.tenant_id", "legal_case.id"], name=op.f("fk_case_deadline_tenant_id_case_id_legal_case")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_case_deadline"))
    )
    op.create_index("ix_case_deadline_open", "case_deadline", ["tenant_id", "case_id", "due_on"], unique=False, postgresql_where=sa.text("done_at IS NULL"))
    op.create_table("case_document",
    sa.Column("case_id", sa.Uuid(), nullable=False),
    sa.Column("origin", sa.String(length=16), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("version", sa.Integer(), nullable=True),
    sa.Column("file_name", sa.String(length=255), nullable=False),
    sa.Column("content_type", sa.String(length=100), nullable=False),
    sa.Column("size", sa.BigInteger(), nullable=False),
    sa.Column("sha256", sa.String(length=64), nullable=False),
    sa.Column("key", sa.String(length=500), nullable=False),
    sa.Column("description", sa.String(length=300), nullable=True),
    sa.Column("uploaded_by", sa.Uuid(), nullable=True),
    sa.Column("uploaded_by_email", sa.String(length=254), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.CheckConstraint("kind IN ('contract', 'invoice', 'statement', 'proof', 'other', 'dossier_pdf', 'dossier_zip')", name=op.f("ck_case_document_kind")),
    sa.CheckConstraint("origin IN ('creditor', 'agency', 'generated')", name=op.f("ck_case_document_origin")),
    sa.CheckConstraint("size >= 0", name=op.f("ck_case_document_size_nonnegative")),
    sa.ForeignKeyConstraint(["tenant_id", "case_id"], ["legal_case.tenant_id", "legal_case.id"], name=op.f("fk_case_document_tenant_id_case_id_legal_case")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_case_document"))
    )
    op.create_index("ix_case_document_case", "case_document", ["tenant_id", "case_id", "created_at"], unique=False)
    op.create_index("uq_case_document_version", "case_document", ["tenant_id", "case_id", "kind", "version"], unique=True, postgresql_where=sa.text("version IS NOT NULL"))
    op.create_table("case_event",
    sa.Column("case_id", sa.Uuid(), nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("from_value", sa.String(length=200), nullable=True),
    sa.Column("to_value", sa.String(length=200), nullable=True),
    sa.Column("actor_id", sa.Uuid(), nullable=True),
    sa.Column("actor_email", sa.String(length=254), nullable=True),
    sa.Column("note", sa.Text(), nullable=True),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(["tenant_id", "case_id"], ["legal_case.tenant_id", "legal_case.id"], name=op.f("fk_case_event_tenant_id_case_id_legal_case")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_case_event"))
    )
    op.create_index("ix_case_event_case", "case_event", ["tenant_id", "case_id", "at"], unique=False)
    op.create_table("case_export",
    sa.Column("case_id", sa.Uuid(), nullable=False),
    sa.Column("kind", sa.String(length=16), nullable=False),
    sa.Column("dossier_version", sa.Integer(), nullable=False),
    sa.Column("zip_key", sa.String(length=500), nullable=False),
    sa.Column("url", sa.String(length=500), nullable=True),
    sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("status", sa.String(length=16), nullable=False),
    sa.Column("http_status", sa.Integer(), nullable=True),
    sa.Column("error", sa.String(length=500), nullable=True),
    sa.Column("fetch_count", sa.Integer(), nullable=False),
    sa.Column("last_fetched_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("created_by_email", sa.String(length=254), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.CheckConstraint("kind IN ('download', 'webhook')", name=op.f("ck_case_export_kind")),
    sa.CheckConstraint("status IN ('downloaded', 'sending', 'sent', 'failed')", name=op.f("ck_case_export_status")),
    sa.ForeignKeyConstraint(["tenant_id", "case_id"], ["legal_case.tenant_id", "legal_case.id"], name=op.f("fk_case_export_tenant_id_case_id_legal_case")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_case_export"))
    )
    op.create_index("ix_case_export_case", "case_export", ["tenant_id", "case_id", "created_at"], unique=False)
    op.create_table("case_note",
    sa.Column("case_id", sa.Uuid(), nullable=False),
    sa.Column("body", sa.String(length=4000), nullable=False),
    sa.Column("author_id", sa.Uuid(), nullable=True),
    sa.Column("author_email", sa.String(length=254), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(["tenant_id", "case_id"], ["legal_case.tenant_id", "legal_case.id"], name=op.f("fk_case_note_tenant_id_case_id_legal_case")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_case_note"))
    )
    op.create_index("ix_case_note_case", "case_note", ["tenant_id", "case_id", "created_at"], unique=False)
    op.create_table("case_escalation",
    sa.Column("case_id", sa.Uuid(), nullable=False),
    sa.Column("escalation_id", sa.Uuid(), nullable=False),
    sa.Column("debt_id", sa.Uuid(), nullable=False),
    sa.Column("tenant_id", sa.Uuid(), nullable=False),
    sa.Column("id", sa.Uuid(), nullable=False),
    sa.ForeignKeyConstraint(["tenant_id", "case_id"], ["legal_case.tenant_id", "legal_case.id"], name=op.f("fk_case_escalation_tenant_id_case_id_legal_case")),
    sa.ForeignKeyConstraint(["tenant_id", "escalation_id"], ["escalation.tenant_id", "escalation.id"], name=op.f("fk_case_escalation_tenant_id_escalation_id_escalation")),
    sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_case_escalation"))
    )
    op.create_index("ix_case_escalation_case", "case_escalation", ["tenant_id", "case_id"], unique=False)
    op.create_index("uq_case_escalation", "case_escalation", ["tenant_id", "escalation_id"], unique=True)
    for table in ("legal_case", "case_escalation", "case_deadline", "case_document",
                  "case_webhook", "case_export"):
        tenant_owned(table)
    # Notes and the history are insert-only for the application.
    tenant_owned("case_note", "SELECT, INSERT")
    tenant_owned("case_event", "SELECT, INSERT")


def downgrade() -> None:
    op.drop_index("uq_case_escalation", table_name="case_escalation")
    op.drop_index("ix_case_escalation_case", table_name="case_escalation")
    op.drop_table("case_escalation")
    op.drop_index("ix_case_note_case", table_name="case_note")
    op.drop_table("case_note")
    op.drop_index("ix_case_export_case", table_name="case_export")
    op.drop_table("case_export")
    op.drop_index("ix_case_event_case", table_name="case_event")
    op.drop_table("case_event")
    op.drop_index("uq_case_document_version", table_name="case_document", postgresql_where=sa.text("version IS NOT NULL"))
    op.drop_index("ix_case_document_case", table_name="case_document")
    op.drop_table("case_document")
    op.drop_index("ix_case_deadline_open", table_name="case_deadline", postgresql_where=sa.text("done_at IS NULL"))
    op.drop_table("case_deadline")
    op.drop_index("uq_legal_case_court_number", table_name="legal_case", postgresql_where=sa.text("court_number IS NOT NULL"))
    op.drop_index("ix_legal_case_state", table_name="legal_case")
    op.drop_index("ix_legal_case_debtor", table_name="legal_case")
    op.drop_table("legal_case")
    op.drop_index("uq_case_webhook_tenant", table_name="case_webhook")
    op.drop_table("case_webhook")
