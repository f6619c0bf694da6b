"""protest: the CRA files sent and read, and the titles in each

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-05 15:00:00

The CRA knows one apresentante, the agency: a remessa's continuous number and each
title's nosso número come from agency-wide sequences, so return files (which name no
creditor) find their titles whatever tenant sent them.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from migrations.rls import APP, tenant_owned

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "protest_file",
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("outgoing", sa.Boolean(), nullable=False),
        sa.Column("movement_on", sa.Date(), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=True),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("storage_key", sa.String(length=500), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("titles", sa.Integer(), nullable=False),
        sa.Column("total_amount", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("kind IN ('remessa', 'desistencia', 'autorizacao_cancelamento',"
                           " 'confirmacao', 'retorno')", name=op.f("ck_protest_file_kind")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_protest_file")),
    )
    op.create_index("uq_protest_file_outgoing", "protest_file",
                    ["tenant_id", "kind", "movement_on"], unique=True,
                    postgresql_where=sa.text("outgoing"))
    op.create_index("uq_protest_file_incoming", "protest_file", ["tenant_id", "sha256"],
                    unique=True, postgresql_where=sa.text("NOT outgoing"))
    op.create_table(
        "protest_item",
        sa.Column("file_id", sa.Uuid(), nullable=False),
        sa.Column("escalation_id", sa.Uuid(), nullable=False),
        sa.Column("debt_id", sa.Uuid(), nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("our_number", sa.String(length=15), nullable=False),
        sa.Column("title_number", sa.String(length=11), nullable=False),
        sa.Column("species", sa.String(length=3), nullable=True),
        sa.Column("amount", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("balance", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("municipality", sa.String(length=7), nullable=True),
        sa.Column("notary", sa.String(length=2), nullable=True),
        sa.Column("protocol", sa.String(length=10), nullable=True),
        sa.Column("protocol_on", sa.Date(), nullable=True),
        sa.Column("occurrence", sa.String(length=1), nullable=True),
        sa.Column("occurrence_on", sa.Date(), nullable=True),
        sa.Column("irregularities", sa.String(length=20), nullable=True),
        sa.Column("costs", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("from_state", sa.String(length=24), nullable=True),
        sa.Column("to_state", sa.String(length=24), nullable=True),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id", "file_id"],
                                ["protest_file.tenant_id", "protest_file.id"],
                                name=op.f("fk_protest_item_tenant_id_file_id_protest_file")),
        sa.ForeignKeyConstraint(
            ["tenant_id", "escalation_id"], ["escalation.tenant_id", "escalation.id"],
            name=op.f("fk_protest_item_tenant_id_escalation_id_escalation")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_protest_item")),
    )
    op.create_index("uq_protest_item_file_escalation", "protest_item",
                    ["tenant_id", "file_id", "escalation_id"], unique=True)
    op.create_index("ix_protest_item_escalation", "protest_item", ["tenant_id", "escalation_id"])
    op.create_index("ix_protest_item_our_number", "protest_item", ["our_number"])
    # Files and their items are a record of what was exchanged: never edited or removed.
    tenant_owned("protest_file", "SELECT, INSERT")
    tenant_owned("protest_item", "SELECT, INSERT")
    op.execute(f"""
CREATE SEQUENCE protest_remessa_seq AS bigint MINVALUE 1 MAXVALUE 999999;
CREATE SEQUENCE protest_our_number_seq AS bigint MINVALUE 1 MAXVALUE 999999999999;
GRANT USAGE ON SEQUENCE protest_remessa_seq TO {APP};
GRANT USAGE ON SEQUENCE protest_our_number_seq TO {APP};
""")


def downgrade() -> None:
    op.execute("DROP SEQUENCE IF EXISTS protest_our_number_seq")
    op.execute("DROP SEQUENCE IF EXISTS protest_remessa_seq")
    op.drop_index("ix_protest_item_our_number", table_name="protest_item")
    op.drop_index("ix_protest_item_escalation", table_name="protest_item")
    op.drop_index("uq_protest_item_file_escalation", table_name="protest_item")
    op.drop_table("protest_item")
    op.drop_index("uq_protest_file_incoming", table_name="protest_file",
                  postgresql_where=sa.text("NOT outgoing"))
    op.drop_index("uq_protest_file_outgoing", table_name="protest_file",
                  postgresql_where=sa.text("outgoing"))
    op.drop_table("protest_file")
