"""Migration 0023 on a database that holds data of the revision before it: each tenant's
debtor fee moves from its negotiation policy to its fee contract (a new contract gets the
default 10% bands, so the tenant's statement does not change), earlier agreements' steps
become timeline events, answers already given count as seen; and back down."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import psycopg
import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

from core.runtime import ROOT

BEFORE = "0015"


@pytest.fixture
def scratch(postgres_server: str, database_url: str) -> Iterator[tuple[str, Config]]:
    # After database_url: the server's roles exist, so the first migration here does not
    # race another worker's to create them.
    name = f"regua_mig_{uuid.uuid4().hex[:10]}"
    admin = make_url(postgres_server).set(drivername="postgresql")
    with psycopg.connect(admin.render_as_string(False), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = admin.set(database=name).render_as_string(False)
    cfg = Config(str(ROOT / "alembic.ini"))
    cfg.set_main_option("script_location", str(ROOT / "migrations"))
    cfg.attributes["database_url"] = url
    try:
        yield url, cfg
    finally:
        with psycopg.connect(admin.render_as_string(False), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


POLICY = """INSERT INTO negotiation_policy (tenant_id, id, discount_bands, installment_plans,
    max_installments, min_installment, min_down_payment_pct, installment_interest_pct,
    max_first_due_days, agent_discount_pct, agent_max_installments, supervisor_discount_pct,
    supervisor_max_installments, breach_tolerance_days, reinstatement_allowed,
    discount_revocation, correction_index, late_fee_pct, rounding, debtor_fee_pct)
    VALUES (%s, gen_random_uuid(), '[]', '[3]', 12, 50, 10, 1, 10, 30, 6, 50, 12, 5, true,
            'proportional', 'IPCA', 2, 'half_even', %s)"""


def _tenant(conn: psycopg.Connection, slug: str) -> uuid.UUID:
    tenant_id = uuid.uuid4()
    conn.execute("INSERT INTO tenant (id, slug, legal_name, trade_name, cnpj, timezone, state,"
                 " status) VALUES (%s, %s, %s, %s, %s, 'America/Sao_Paulo', 'SP', 'active')",
                 (tenant_id, slug, slug, slug, str(uuid.uuid4().int)[:14]))
    return tenant_id


def test_0023_moves_the_debtor_fee_and_writes_earlier_agreements_steps(scratch) -> None:
    url, cfg = scratch
    command.upgrade(cfg, BEFORE)
    with psycopg.connect(url) as conn:
        alone, contracted = _tenant(conn, "alone"), _tenant(conn, "contracted")
        conn.execute(POLICY, (alone, "7.5"))
        conn.execute(POLICY, (contracted, "5"))
        conn.execute("INSERT INTO fee_contract (tenant_id, id, direct_payments_earn)"
                     " VALUES (%s, gen_random_uuid(), true)", (contracted,))
        conn.execute("INSERT INTO fee_band (tenant_id, id, min_days, bucket, commission_pct)"
                     " VALUES (%s, gen_random_uuid(), 0, 'principal', 20)", (contracted,))
        debtor, agreement, agent = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        conn.execute("INSERT INTO debtor (tenant_id, id, document, document_kind, name)"
                     " VALUES (%s, %s, '52998224725', 'cpf', 'José')", (alone, debtor))
        conn.execute("""INSERT INTO agreement (tenant_id, id, debtor_id, status, reference_date,
            terms, calculation, option_label, updated_balance, discount_total,
            installment_interest, total, down_payment, installment_count, installment_amount,
            approval_level, created_by, created_at, accepted_via, call_recording_ref,
            accepted_by, accepted_at, settled_at)
            VALUES (%s, %s, %s, 'settled', '2026-11-02', 'Termos.', '{}', 'À vista', 500, 50,
                    0, 450, 450, 1, 450, 'supervisor', %s, '2026-11-02 10:00Z', 'agent',
                    'GRAV-7', %s, '2026-11-02 12:00Z', '2026-11-03 09:00Z')""",
                     (alone, agreement, debtor, agent, agent))
        conn.execute("""INSERT INTO approval_request (tenant_id, id, agreement_id, level, status,
            why, reason, requested_by, decided_at) VALUES
            (%s, gen_random_uuid(), %s, 'supervisor', 'accepted', 'desconto', 'ok', %s,
             '2026-11-02 11:00Z'),
            (%s, gen_random_uuid(), %s, 'supervisor', 'pending', 'desconto', NULL, %s, NULL)""",
                     (alone, agreement, agent, alone, agreement, agent))
        conn.execute("""INSERT INTO installment (tenant_id, id, agreement_id, number, due_date,
            amount, status, paid_at, paid_amount) VALUES
            (%s, gen_random_uuid(), %s, 1, '2026-11-05', 450, 'paid', '2026-11-03 09:00Z', 450)""",
                     (alone, agreement))
    command.upgrade(cfg, "head")
    with psycopg.connect(url) as conn:
        fee = {t: (str(pct), earns) for t, pct, earns in conn.execute(
            "SELECT tenant_id, debtor_fee_pct, direct_payments_earn FROM fee_contract")}
        assert fee == {alone: ("7.5000", False), contracted: ("5.0000", True)}
        bands = conn.execute("SELECT tenant_id, bucket, commission_pct FROM fee_band"
                             " ORDER BY tenant_id, bucket").fetchall()
        assert sorted((b, str(p)) for t, b, p in bands if t == alone) == sorted(
            (b, "10.0000") for b in ("principal", "correction", "interest", "fine", "fees"))
        assert [(b, str(p)) for t, b, p in bands if t == contracted] == [
            ("principal", "20.0000")]
        columns = {c for (c,) in conn.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'negotiation_policy'")}
        assert "debtor_fee_pct" not in columns and "allocation_order" in columns
        order = conn.execute("SELECT allocation_order FROM negotiation_policy LIMIT 1").fetchone()
        assert order == (["fees", "fine", "interest", "correction", "principal"],)
        seen = conn.execute("SELECT status, answer_seen_at IS NOT NULL FROM approval_request"
                            " ORDER BY status").fetchall()
        assert seen == [("accepted", True), ("pending", False)]
        events = conn.execute("SELECT kind, title, detail, user_id, link FROM debtor_event"
                              " WHERE debtor_id = %s ORDER BY at", (debtor,)).fetchall()
    link = f"/acordos/{agreement}"
    assert events == [
        ("agreement.proposed", "Proposta de acordo", "À vista", agent, link),
        ("agreement.approved", "Acordo aprovado pelo supervisor", "motivo: ok", None, link),
        ("agreement.accepted", "Aceite do acordo", "na ligação, gravação GRAV-7", agent, link),
        ("agreement.installment_paid", "Pagamento da parcela 1 de 1 do acordo",
         "pago em 03/11/2026", None, link),
        ("agreement.settled", "Quitação do acordo", "todas as parcelas pagas; títulos quitados",
         None, link)]
    command.downgrade(cfg, BEFORE)
    with psycopg.connect(url) as conn:
        back = dict(conn.execute("SELECT tenant_id, debtor_fee_pct FROM negotiation_policy"
                                 ).fetchall())
    assert (str(back[alone]), str(back[contracted])) == ("7.5000", "5.0000")
