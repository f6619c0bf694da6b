"""collection model: lifecycle apart from holds, balances as a ledger, payments,
interactions, notes, per-channel opt-outs, debtor zones, agency-wide contact counts

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05 11:40:00

A debt's status keeps its lifecycle only: 'disputed' debts become open debts with a
dispute hold, and 'prescribed' ones open debts (prescription is computed from the due
date by `regua_debt_blocker`). The creditor-reported payments of settlement files
(`debt.amount_paid`, `paid_on`) move to `payment`. Each debt's balance becomes the sum of
ledger entries; existing debts get their placement entries.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

from migrations.rls import APP, MAINT, tenant_owned

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

DEBT_STATUSES = ("open", "in_agreement", "paid", "settled_by_creditor", "withdrawn",
                 "recalled", "returned")
QUALITIES = ("unverified", "good", "wrong_party", "invalid", "bounced")
CHANNELS = ("email", "sms", "whatsapp", "letter", "call")
DEBTOR_MUTABLE = "document, document_kind, name, birth_date, state, updated_at"

# The zone of each UF and the UF of each DDD, as core/zones.py had them when this
# migration was written (a migration must not change with later code).
UF_ZONE = {
    "AC": "America/Rio_Branco", "AL": "America/Maceio", "AM": "America/Manaus",
    "AP": "America/Belem", "BA": "America/Bahia", "CE": "America/Fortaleza",
    "DF": "America/Sao_Paulo", "ES": "America/Sao_Paulo", "GO": "America/Sao_Paulo",
    "MA": "America/Fortaleza", "MG": "America/Sao_Paulo", "MS": "America/Campo_Grande",
    "MT": "America/Cuiaba", "PA": "America/Belem", "PB": "America/Fortaleza",
    "PE": "America/Recife", "PI": "America/Fortaleza", "PR": "America/Sao_Paulo",
    "RJ": "America/Sao_Paulo", "RN": "America/Fortaleza", "RO": "America/Porto_Velho",
    "RR": "America/Boa_Vista", "RS": "America/Sao_Paulo", "SC": "America/Sao_Paulo",
    "SE": "America/Maceio", "SP": "America/Sao_Paulo", "TO": "America/Araguaina",
}
DDD_UF = {
    **dict.fromkeys(("11", "12", "13", "14", "15", "16", "17", "18", "19"), "SP"),
    **dict.fromkeys(("21", "22", "24"), "RJ"), **dict.fromkeys(("27", "28"), "ES"),
    **dict.fromkeys(("31", "32", "33", "34", "35", "37", "38"), "MG"),
    **dict.fromkeys(("41", "42", "43", "44", "45", "46"), "PR"),
    **dict.fromkeys(("47", "48", "49"), "SC"), **dict.fromkeys(("51", "53", "54", "55"), "RS"),
    "61": "DF", **dict.fromkeys(("62", "64"), "GO"), "63": "TO",
    **dict.fromkeys(("65", "66"), "MT"), "67": "MS", "68": "AC", "69": "RO",
    **dict.fromkeys(("71", "73", "74", "75", "77"), "BA"), "79": "SE",
    **dict.fromkeys(("81", "87"), "PE"), "82": "AL", "83": "PB", "84": "RN",
    **dict.fromkeys(("85", "88"), "CE"), **dict.fromkeys(("86", "89"), "PI"),
    **dict.fromkeys(("91", "93", "94"), "PA"), **dict.fromkeys(("92", "97"), "AM"),
    "95": "RR", "96": "AP", **dict.fromkeys(("98", "99"), "MA"),
}


def _case(expr: str, mapping: dict[str, str]) -> str:
    return f"CASE {expr} " + " ".join(
        f"WHEN '{k}' THEN '{v}'" for k, v in sorted(mapping.items())) + " END"


FUNCTIONS = f"""
CREATE FUNCTION regua_uf_zone(uf text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT {_case("uf", UF_ZONE)}
$$;
CREATE FUNCTION regua_phone_zone(e164 text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
    SELECT regua_uf_zone({_case("substr(e164, 4, 2)", DDD_UF)})
$$;

-- Why a debt may not be worked at `at` (NULL: it may). The one SQL form of the rule;
-- core.collection.workable.blocker is the Python form and a test holds them equal.
-- Prescription: five years after the due date (Civil Code art. 206 §5 I), counted in
-- the debtor's own zone.
CREATE FUNCTION regua_debt_blocker(d debt, at timestamptz DEFAULT now()) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT CASE
        WHEN d.status <> 'open' THEN 'status:' || d.status
        WHEN (at AT TIME ZONE coalesce(
                 (SELECT b.timezone FROM debtor b
                  WHERE b.tenant_id = d.tenant_id AND b.id = d.debtor_id),
                 'America/Sao_Paulo'))::date
             > d.due_date + interval '5 years' THEN 'prescribed'
        ELSE (SELECT 'hold:' || h.kind FROM hold h
              WHERE h.tenant_id = d.tenant_id AND h.debtor_id = d.debtor_id
                AND (h.debt_id IS NULL OR h.debt_id = d.id)
                AND h.starts_at <= at AND (h.ends_at IS NULL OR h.ends_at > at)
              ORDER BY h.starts_at, h.id LIMIT 1)
    END
$$;

-- Agency-wide counts: the application adds to and reads counts by key only.
CREATE FUNCTION regua_contact_tally(k bytea, ch text, d date, n_attempts int, n_answered int)
RETURNS void LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    INSERT INTO agency_contact_count AS c (debtor_key, channel, day, attempts, answered)
    VALUES (k, ch, d, n_attempts, n_answered)
    ON CONFLICT (debtor_key, channel, day) DO UPDATE
        SET attempts = c.attempts + excluded.attempts, answered = c.answered + excluded.answered
$$;
CREATE FUNCTION regua_contact_counts(k bytea, d date)
RETURNS TABLE (channel text, attempts int, answered int)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = public, pg_temp AS $$
    SELECT c.channel, c.attempts, c.answered FROM agency_contact_count c
    WHERE c.debtor_key = k AND c.day = d
$$;
REVOKE ALL ON FUNCTION regua_contact_tally(bytea, text, date, int, int) FROM PUBLIC;
REVOKE ALL ON FUNCTION regua_contact_counts(bytea, date) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION regua_contact_tally(bytea, text, date, int, int) TO {APP};
GRANT EXECUTE ON FUNCTION regua_contact_counts(bytea, date) TO {APP};
"""


def _in(values: Sequence[str]) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _tenant_columns() -> list[sa.Column]:  # type: ignore[type-arg]
    return [sa.Column("tenant_id", sa.Uuid(), nullable=False),
            sa.Column("id", sa.Uuid(), nullable=False)]


def _now() -> sa.TextClause:
    return sa.text("now()")


def upgrade() -> None:
    # --- tables -------------------------------------------------------------------------
    op.create_table(
        "hold",
        sa.Column("debtor_id", sa.Uuid(), nullable=False),
        sa.Column("debt_id", sa.Uuid(), nullable=True),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("starts_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("set_by", sa.Uuid(), nullable=True),
        sa.Column("set_by_email", sa.String(254), nullable=False),
        sa.Column("ended_by_email", sa.String(254), nullable=True),
        sa.Column("end_reason", sa.String(1000), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.CheckConstraint("kind IN ('dispute', 'court_plan', 'deceased', 'legal', 'creditor')",
                           name=op.f("ck_hold_kind")),
        sa.CheckConstraint("ends_at IS NULL OR ends_at >= starts_at", name=op.f("ck_hold_span")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_hold")),
    )
    op.create_index("ix_hold_debtor", "hold", ["tenant_id", "debtor_id"])
    op.create_table(
        "ledger_entry",
        sa.Column("debt_id", sa.Uuid(), nullable=False),
        sa.Column("posted_on", sa.Date(), nullable=False),
        sa.Column("bucket", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("source_id", sa.Uuid(), nullable=True),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("created_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.CheckConstraint("bucket IN ('principal', 'correction', 'interest', 'fine', 'fees')",
                           name=op.f("ck_ledger_entry_bucket")),
        sa.CheckConstraint("kind IN ('placement', 'creditor_update', 'payment', 'discount',"
                           " 'write_off', 'adjustment')", name=op.f("ck_ledger_entry_kind")),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_ledger_entry_amount_nonzero")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_ledger_entry")),
    )
    op.create_index("ix_ledger_entry_debt", "ledger_entry", ["tenant_id", "debt_id"])
    op.create_table(
        "payment",
        sa.Column("debt_id", sa.Uuid(), nullable=False),
        sa.Column("debtor_id", sa.Uuid(), nullable=False),
        sa.Column("amount", sa.Numeric(14, 2), nullable=False),
        sa.Column("paid_on", sa.Date(), nullable=True),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("reference", sa.String(100), nullable=True),
        sa.Column("portfolio_id", sa.Uuid(), nullable=True),
        sa.Column("recorded_by", sa.Uuid(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.CheckConstraint("source IN ('agency', 'creditor')", name=op.f("ck_payment_source")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payment_amount_positive")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_payment")),
    )
    op.create_index("ix_payment_debt", "payment", ["tenant_id", "debt_id"])
    op.create_table(
        "interaction",
        sa.Column("debtor_id", sa.Uuid(), nullable=False),
        sa.Column("debt_id", sa.Uuid(), nullable=True),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("direction", sa.String(8), nullable=False),
        sa.Column("contact_point_id", sa.Uuid(), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("user_id", sa.Uuid(), nullable=True),
        sa.Column("process", sa.String(32), nullable=True),
        sa.Column("cause_kind", sa.String(16), nullable=False),
        sa.Column("cause_id", sa.Uuid(), nullable=True),
        sa.Column("details", postgresql.JSONB(astext_type=sa.Text()), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.CheckConstraint(f"channel IN {_in(CHANNELS)}", name=op.f("ck_interaction_channel")),
        sa.CheckConstraint("direction IN ('outbound', 'inbound')",
                           name=op.f("ck_interaction_direction")),
        sa.CheckConstraint(
            "outcome IN ('sent', 'delivered', 'read', 'replied', 'failed', 'bounced',"
            " 'answered', 'no_answer', 'busy', 'voicemail', 'wrong_party', 'invalid',"
            " 'opted_out', 'blocked')", name=op.f("ck_interaction_outcome")),
        sa.CheckConstraint("cause_kind IN ('cadence_step', 'campaign', 'agent', 'debtor',"
                           " 'system')", name=op.f("ck_interaction_cause_kind")),
        sa.CheckConstraint("user_id IS NOT NULL OR process IS NOT NULL",
                           name=op.f("ck_interaction_made_by")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_interaction")),
    )
    op.create_index("ix_interaction_debtor", "interaction",
                    ["tenant_id", "debtor_id", sa.text("started_at DESC")])
    op.create_table(
        "debtor_note",
        sa.Column("debtor_id", sa.Uuid(), nullable=False),
        sa.Column("body", sa.String(4000), nullable=False),
        sa.Column("author_id", sa.Uuid(), nullable=True),
        sa.Column("author_email", sa.String(254), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), server_default=_now(), nullable=False),
        *_tenant_columns(),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_debtor_note")),
    )
    op.create_index("ix_debtor_note_debtor", "debtor_note", ["tenant_id", "debtor_id"])
    op.create_table(
        "contact_opt_out",
        sa.Column("contact_point_id", sa.Uuid(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("opted_out_at", sa.DateTime(timezone=True), server_default=_now(),
                  nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("note", sa.String(500), nullable=True),
        sa.Column("set_by", sa.Uuid(), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_by", sa.Uuid(), nullable=True),
        *_tenant_columns(),
        sa.CheckConstraint(f"channel IN {_in(CHANNELS)}", name=op.f("ck_contact_opt_out_channel")),
        sa.PrimaryKeyConstraint("tenant_id", "id", name=op.f("pk_contact_opt_out")),
    )
    op.create_index("uq_contact_opt_out_active", "contact_opt_out",
                    ["tenant_id", "contact_point_id", "channel"], unique=True,
                    postgresql_where="revoked_at IS NULL")
    op.create_table(
        "agency_contact_count",
        sa.Column("debtor_key", sa.LargeBinary(32), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("answered", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("debtor_key", "channel", "day",
                                name=op.f("pk_agency_contact_count")),
    )
    # No grant to the application role: it goes through the two functions only.
    op.execute(f"GRANT SELECT, DELETE ON agency_contact_count TO {MAINT}")

    # Append-only money: a mistake is corrected by another entry, never by an edit.
    tenant_owned("ledger_entry", "SELECT, INSERT")
    tenant_owned("payment", "SELECT, INSERT")
    tenant_owned("debtor_note", "SELECT, INSERT")
    tenant_owned("hold", "SELECT, INSERT, UPDATE")
    tenant_owned("interaction", "SELECT, INSERT, UPDATE")
    tenant_owned("contact_opt_out", "SELECT, INSERT, UPDATE")

    # --- debtor ---------------------------------------------------------------------------
    op.add_column("debtor", sa.Column("timezone", sa.String(40),
                                      server_default="America/Sao_Paulo", nullable=False))
    op.add_column("debtor", sa.Column("deceased_on", sa.Date(), nullable=True))
    op.execute(FUNCTIONS)
    op.execute("UPDATE debtor SET timezone = regua_uf_zone(state) WHERE regua_uf_zone(state)"
               " IS DISTINCT FROM NULL")
    op.execute("""
        UPDATE debtor d SET timezone = z.zone FROM (
            SELECT DISTINCT ON (c.tenant_id, c.debtor_id) c.tenant_id, c.debtor_id,
                   regua_phone_zone(c.value) AS zone
            FROM contact_point c WHERE c.kind = 'phone' AND regua_phone_zone(c.value) IS NOT NULL
            ORDER BY c.tenant_id, c.debtor_id, c.created_at
        ) z WHERE d.state IS NULL AND d.tenant_id = z.tenant_id AND d.id = z.debtor_id
    """)
    op.execute(f"REVOKE UPDATE ({DEBTOR_MUTABLE}) ON debtor FROM {APP}")
    op.execute(f"GRANT UPDATE ({DEBTOR_MUTABLE}, timezone, deceased_on) ON debtor TO {APP}")

    # --- debt: lifecycle only; holds; payments; ledger ----------------------------------------
    op.execute("""
        INSERT INTO hold (tenant_id, id, debtor_id, debt_id, kind, reason, starts_at,
                          set_by_email)
        SELECT tenant_id, regua_uuid7(), debtor_id, id, 'dispute',
               coalesce(status_reason, 'contestação registrada antes do modelo de bloqueios'),
               updated_at, 'system'
        FROM debt WHERE status = 'disputed'
    """)
    op.execute("UPDATE debt SET status = 'open', status_reason = NULL"
               " WHERE status IN ('disputed', 'prescribed')")
    op.drop_constraint(op.f("ck_debt_status"), "debt", type_="check")
    op.create_check_constraint(op.f("ck_debt_status"), "debt", f"status IN {_in(DEBT_STATUSES)}")
    op.execute("""
        INSERT INTO payment (tenant_id, id, debt_id, debtor_id, amount, paid_on, source,
                             reference, portfolio_id)
        SELECT tenant_id, regua_uuid7(), id, debtor_id, amount_paid, paid_on, 'creditor',
               'baixa', closed_by_portfolio_id
        FROM debt WHERE amount_paid > 0
    """)
    op.drop_column("debt", "amount_paid")
    op.drop_column("debt", "paid_on")
    op.execute("""
        INSERT INTO ledger_entry (tenant_id, id, debt_id, posted_on, bucket, kind, amount,
                                  source, source_id)
        SELECT x.tenant_id, regua_uuid7(), x.id, x.created_at::date, e.bucket, e.kind,
               e.amount, 'portfolio', x.portfolio_id
        FROM debt x CROSS JOIN LATERAL (VALUES
            ('principal', 'placement', x.original_amount),
            ('interest', 'placement', greatest(x.current_balance - x.original_amount, 0)),
            ('principal', 'creditor_update', least(x.current_balance - x.original_amount, 0))
        ) e(bucket, kind, amount)
        WHERE e.amount <> 0
    """)

    # --- contact points: quality from outcomes, opt-outs per channel ---------------------------
    op.execute("""
        INSERT INTO contact_opt_out (tenant_id, id, contact_point_id, channel, source, note)
        SELECT c.tenant_id, regua_uuid7(), c.id, ch.channel, 'debtor',
               'registrado antes das exclusões por canal'
        FROM contact_point c JOIN (VALUES ('phone', 'call'), ('phone', 'sms'),
            ('phone', 'whatsapp'), ('email', 'email'), ('address', 'letter')
        ) ch(kind, channel) ON ch.kind = c.kind
        WHERE c.quality = 'opted_out'
    """)
    op.drop_constraint(op.f("ck_contact_point_quality"), "contact_point", type_="check")
    op.execute("""
        UPDATE contact_point SET quality = CASE quality
            WHEN 'verified' THEN 'good' WHEN 'wrong_number' THEN 'wrong_party'
            WHEN 'opted_out' THEN 'unverified' ELSE quality END
        WHERE quality IN ('verified', 'wrong_number', 'opted_out')
    """)
    op.create_check_constraint(op.f("ck_contact_point_quality"), "contact_point", f"quality IN {_in(QUALITIES)}")
    op.drop_column("contact_point", "is_valid")
    op.add_column("contact_point", sa.Column("last_outcome", sa.String(24), nullable=True))
    op.add_column("contact_point", sa.Column("last_outcome_at", sa.DateTime(timezone=True),
                                             nullable=True))


def downgrade() -> None:
    raise NotImplementedError("0004 moves data between tables; restore a backup instead")
