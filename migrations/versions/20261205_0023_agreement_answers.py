"""agreement answers: debtor events on the timeline, approval answers to the proposer and
the debtor, the payment allocation order, the debtor fee in the fee contract

Revision ID: 0023
Revises: 0021
Create Date: 2026-12-05 15:00:00

- `debtor_event`: what another package did on a debtor's file (an agreement proposed,
  approved, accepted, paid, broken, reinstated, settled), for the timeline. The events of
  agreements made before this revision are written from their rows (a break undone by
  a reinstatement and broken again keeps only its last break: the row kept no more).
- `approval_request.answer_seen_at`, `.debtor_notice`: the answer waits on the agent
  desktop until seen; what the debtor was sent.
- `negotiation_policy.allocation_order`: the buckets a payment settles, in order.
- The collection fee charged to the debtor moves from the negotiation policy to the fee
  contract (one place for it): a tenant whose policy had one gets it on its contract; a
  tenant without a contract gets one with the default commission (10% of every bucket,
  what the statement applied without a contract) so its statement does not change.
- The shipped index series (legal/data/indices.csv) is loaded again: months already in
  the table are left alone, the months filled since revision 0013 are added.
"""

import csv
import datetime as dt
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import tenant_owned

revision: str = "0023"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

INDICES = Path(__file__).resolve().parents[2] / "legal" / "data" / "indices.csv"
DEFAULT_ORDER = '["fees", "fine", "interest", "correction", "principal"]'
BUCKETS = ("principal", "correction", "interest", "fine", "fees")
LEVEL = "CASE r.level WHEN 'supervisor' THEN 'supervisor' ELSE 'credor' END"


def upgrade() -> None:
    op.create_table(
        "debtor_event",
        sa.Column("debtor_id", sa.Uuid(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("kind", sa.String(48), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("detail", sa.String(1000), nullable=True),
        sa.Column("amount", sa.Numeric(14, 2), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("by_label", sa.String(80), nullable=True),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        sa.Column("link", sa.String(300), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=sa.text("now()"),
                  nullable=False),
        sa.Column("tenant_id", sa.Uuid(), nullable=False),
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.CheckConstraint("kind ~ '^[a-z_]+[.][a-z_]+$'", name=op.f("ck_debtor_event_kind")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_debtor_event")),
    )
    op.create_index("ix_debtor_event_debtor", "debtor_event",
                    ["tenant_id", "debtor_id", sa.text("at DESC")])
    tenant_owned("debtor_event", "SELECT, INSERT")

    op.add_column("approval_request", sa.Column("answer_seen_at", sa.DateTime(timezone=True),
                                                nullable=True))
    op.add_column("approval_request", sa.Column("debtor_notice", sa.String(300), nullable=True))
    # Answers given before this revision were seen where they were given.
    op.execute("UPDATE approval_request SET answer_seen_at = decided_at"
               " WHERE status <> 'pending'")

    op.add_column("negotiation_policy", sa.Column(
        "allocation_order", postgresql.JSONB(astext_type=sa.Text()),
        server_default=sa.text(f"'{DEFAULT_ORDER}'::jsonb"), nullable=False))

    op.execute("""
        INSERT INTO fee_contract (tenant_id, id, debtor_fee_pct, direct_payments_earn)
        SELECT p.tenant_id, regua_uuid7(), p.debtor_fee_pct, false
        FROM negotiation_policy p
        WHERE p.debtor_fee_pct IS NOT NULL
          AND NOT EXISTS (SELECT 1 FROM fee_contract c WHERE c.tenant_id = p.tenant_id)""")
    op.execute(f"""
        INSERT INTO fee_band (tenant_id, id, min_days, max_days, bucket, commission_pct)
        SELECT c.tenant_id, regua_uuid7(), 0, NULL, b.bucket, 10
        FROM fee_contract c CROSS JOIN unnest(ARRAY{list(BUCKETS)}) AS b(bucket)
        WHERE NOT EXISTS (SELECT 1 FROM fee_band f WHERE f.tenant_id = c.tenant_id)""")
    op.execute("""
        UPDATE fee_contract c SET debtor_fee_pct = p.debtor_fee_pct
        FROM negotiation_policy p
        WHERE p.tenant_id = c.tenant_id AND p.debtor_fee_pct IS NOT NULL
          AND c.debtor_fee_pct IS NULL""")
    op.drop_column("negotiation_policy", "debtor_fee_pct")

    _events_of_earlier_agreements()
    _load_indices()


def _events_of_earlier_agreements() -> None:
    insert = ("INSERT INTO debtor_event (tenant_id, id, debtor_id, at, kind, title, detail,"
              " amount, user_id, by_label, source_id, link)")
    link = "'/acordos/' || a.id"
    op.execute(f"""{insert}
        SELECT a.tenant_id, regua_uuid7(), a.debtor_id, a.created_at, 'agreement.proposed',
               'Proposta de acordo', a.option_label, a.total, a.created_by, NULL, a.id, {link}
        FROM agreement a""")
    op.execute(f"""{insert}
        SELECT a.tenant_id, regua_uuid7(), a.debtor_id, r.decided_at,
               'agreement.' || CASE r.status WHEN 'accepted' THEN 'approved' ELSE 'refused' END,
               'Acordo ' || CASE r.status WHEN 'accepted' THEN 'aprovado' ELSE 'recusado' END
                   || ' pelo ' || {LEVEL},
               'motivo: ' || r.reason, NULL, r.decided_by, NULL, a.id, {link}
        FROM approval_request r JOIN agreement a
          ON a.tenant_id = r.tenant_id AND a.id = r.agreement_id
        WHERE r.status <> 'pending' AND r.decided_at IS NOT NULL""")
    op.execute(f"""{insert}
        SELECT a.tenant_id, regua_uuid7(), a.debtor_id, a.accepted_at, 'agreement.accepted',
               'Aceite do acordo',
               CASE a.accepted_via WHEN 'agent' THEN 'na ligação, gravação ' || a.call_recording_ref
                    ELSE 'pelo devedor, no link de aceite (IP ' || coalesce(a.accepted_ip, '?')
                         || ')' END,
               a.total, a.accepted_by,
               CASE WHEN a.accepted_by IS NULL THEN 'o devedor, pelo link de aceite' END,
               a.id, {link}
        FROM agreement a WHERE a.accepted_at IS NOT NULL""")
    op.execute(f"""{insert}
        SELECT a.tenant_id, regua_uuid7(), a.debtor_id, i.paid_at, 'agreement.installment_paid',
               'Pagamento da parcela ' || i.number || ' de ' || a.installment_count
                   || ' do acordo',
               'pago em ' || to_char(i.paid_at, 'DD/MM/YYYY'), coalesce(i.paid_amount, i.amount),
               NULL, 'pagamento registrado', a.id, {link}
        FROM installment i JOIN agreement a
          ON a.tenant_id = i.tenant_id AND a.id = i.agreement_id
        WHERE i.status = 'paid' AND i.paid_at IS NOT NULL""")
    op.execute(f"""{insert}
        SELECT a.tenant_id, regua_uuid7(), a.debtor_id, a.broken_at, 'agreement.broken',
               'Quebra do acordo', a.broken_reason || '; o saldo não pago volta à cobrança',
               (a.calculation ->> 'unpaid_at_break')::numeric, NULL,
               'verificação diária dos acordos', a.id, {link}
        FROM agreement a WHERE a.broken_at IS NOT NULL""")
    op.execute(f"""{insert}
        SELECT a.tenant_id, regua_uuid7(), a.debtor_id, a.reinstated_at, 'agreement.reinstated',
               'Acordo restabelecido', NULL, NULL, a.reinstated_by, NULL, a.id, {link}
        FROM agreement a WHERE a.reinstated_at IS NOT NULL""")
    op.execute(f"""{insert}
        SELECT a.tenant_id, regua_uuid7(), a.debtor_id, a.settled_at, 'agreement.settled',
               'Quitação do acordo', 'todas as parcelas pagas; títulos quitados', a.total,
               NULL, 'pagamento recebido (PIX ou boleto)', a.id, {link}
        FROM agreement a WHERE a.settled_at IS NOT NULL""")


def _load_indices() -> None:
    if not INDICES.exists():
        return
    with INDICES.open(encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(line for line in f if not line.startswith("#"))
                if r.get("value")]
    for row in rows:
        op.get_bind().execute(sa.text(
            "INSERT INTO index_value (index_name, month, value, source)"
            " VALUES (:i, :m, :v, :s) ON CONFLICT DO NOTHING"),
            {"i": row["index"].strip().upper(), "m": dt.date.fromisoformat(row["month"] + "-01"),
             "v": Decimal(row["value"]), "s": row["source"].strip()})


def downgrade() -> None:
    op.add_column("negotiation_policy", sa.Column("debtor_fee_pct", sa.Numeric(7, 4),
                                                  nullable=True))
    op.execute("""
        UPDATE negotiation_policy p SET debtor_fee_pct = c.debtor_fee_pct
        FROM fee_contract c WHERE c.tenant_id = p.tenant_id""")
    op.drop_column("negotiation_policy", "allocation_order")
    op.drop_column("approval_request", "debtor_notice")
    op.drop_column("approval_request", "answer_seen_at")
    op.drop_table("debtor_event")
