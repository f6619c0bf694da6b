"""The collection model's rules: holds and resumption, prescription, the ledger, opt-outs
per channel, contact attempts, the agency-wide counter, and the access helpers."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from dataclasses import dataclass
from decimal import Decimal

import psycopg
import pytest
from sqlalchemy import select, text, update

from core.access import (
    DebtId,
    DebtorId,
    access_contact_point,
    access_debt,
    access_debtor,
    access_hold,
    transaction,
)
from core.auth.principal import Principal
from core.auth.roles import Role
from core.collection import agency_counts, contacts, holds, interactions, ledger
from core.collection.workable import DebtFacts, blocker, blocker_label, prescribes_on
from core.db import Scope
from core.errors import NotFound, ValidationFailed
from core.ids import uuid7
from core.models import (
    Bucket,
    CauseKind,
    Channel,
    ContactPoint,
    Debt,
    Debtor,
    EntryKind,
    Hold,
    HoldKind,
    Outcome,
    PaymentSource,
)
from tests.core.test_isolation import app_connection

UTC = dt.UTC
T0 = dt.datetime(2026, 6, 1, 15, 0, tzinfo=UTC)


def creditor(tenant_id: uuid.UUID, role: Role = Role.CREDITOR_ADMIN) -> Principal:
    return Principal(user_id=uuid7(), email="staff@credor.test", full_name="Staff", role=role,
                     tenant_id=tenant_id, tenant_ids=frozenset({tenant_id}))


@dataclass
class Placed:
    debtor_id: DebtorId
    debt_ids: list[DebtId]
    phone_id: uuid.UUID


async def place(principal: Principal, tenant_id: uuid.UUID, *, document: str = "52998224725",
                due_dates: tuple[dt.date, ...] = (dt.date(2026, 1, 10),),
                amount: str = "100.00", state: str | None = "SP",
                timezone: str = "America/Sao_Paulo") -> Placed:
    """A debtor with a phone and debts placed through the ledger, as an import leaves them."""
    async with transaction(principal) as session:
        debtor = Debtor(tenant_id=tenant_id, id=uuid7(), document=document, document_kind="cpf",
                        name="Ana Souza", state=state, timezone=timezone)
        phone = ContactPoint(tenant_id=tenant_id, id=uuid7(), debtor_id=debtor.id, kind="phone",
                             value="+5511987654321", source="portfolio")
        session.add_all([debtor, phone])
        debt_ids = []
        for n, due in enumerate(due_dates, start=1):
            debt = Debt(tenant_id=tenant_id, id=uuid7(), debtor_id=debtor.id,
                        portfolio_id=uuid7(), last_portfolio_id=uuid7(), contract=f"C-{document}",
                        installment=n, original_amount=Decimal(amount),
                        current_balance=Decimal("0"), due_date=due)
            session.add(debt)
            await session.flush()
            await ledger.post(session, principal, DebtId(debt.id),
                              [(Bucket.PRINCIPAL, EntryKind.PLACEMENT, Decimal(amount))],
                              source="portfolio")
            debt_ids.append(DebtId(debt.id))
        return Placed(DebtorId(debtor.id), debt_ids, phone.id)


async def sql_blocker(principal: Principal, debt_id: uuid.UUID, at: dt.datetime) -> str | None:
    async with transaction(principal) as session:
        return (await session.execute(
            text("SELECT regua_debt_blocker(d, :at) FROM debt d WHERE d.id = :id"),
            {"at": at, "id": debt_id})).scalar_one()


async def py_blocker(principal: Principal, debt_id: uuid.UUID, at: dt.datetime) -> str | None:
    async with transaction(principal) as session:
        debt = (await session.execute(select(Debt).where(Debt.id == debt_id))).scalar_one()
        debtor = (await session.execute(
            select(Debtor).where(Debtor.id == debt.debtor_id))).scalar_one()
        found = (await session.execute(
            select(Hold).where(Hold.debtor_id == debt.debtor_id))).scalars().all()
        return blocker(DebtFacts(debt.id, debt.status, debt.due_date), found, at,
                       debtor.timezone)


# ---- holds, prescription and "may this debt be worked" ------------------------------------

async def test_a_hold_stops_its_debt_and_its_end_resumes_it_where_the_calendar_is(
        factory, services):
    tenant = await factory.tenant()
    staff = creditor(tenant.id)
    placed = await place(staff, tenant.id, due_dates=(dt.date(2026, 1, 10), dt.date(2026, 2, 10)))
    first, second = placed.debt_ids
    async with transaction(staff) as session:
        hold = await holds.set_hold(session, staff, placed.debtor_id, HoldKind.DISPUTE,
                                    "devedor contesta o valor", debt_id=first, at=T0)
    during = T0 + dt.timedelta(days=3)
    assert await sql_blocker(staff, first, during) == "hold:dispute"
    assert await sql_blocker(staff, second, during) is None  # the hold names one debt
    assert blocker_label("hold:dispute") == "bloqueado: contestação"
    async with transaction(staff) as session:
        await holds.end_hold(session, staff, await access_hold(session, staff, hold.id),
                             "credor confirmou o valor", at=T0 + dt.timedelta(days=10))
    # Before the end it was held; after it, the debt is worked again, from that day on.
    assert await sql_blocker(staff, first, T0 + dt.timedelta(days=9)) == "hold:dispute"
    assert await sql_blocker(staff, first, T0 + dt.timedelta(days=10)) is None
    async with transaction(staff) as session:
        with pytest.raises(Exception, match="já foi encerrado"):
            await holds.end_hold(session, staff, await access_hold(session, staff, hold.id),
                                 "de novo")


async def test_a_deceased_hold_covers_every_debt_and_marks_the_debtor(factory, services):
    tenant = await factory.tenant()
    staff = creditor(tenant.id)
    placed = await place(staff, tenant.id, due_dates=(dt.date(2026, 1, 10), dt.date(2026, 2, 10)))
    async with transaction(staff) as session:
        hold = await holds.set_hold(session, staff, placed.debtor_id, HoldKind.DECEASED,
                                    "certidão de óbito recebida", at=T0)
        debtor = await session.get(Debtor, (tenant.id, placed.debtor_id))
        assert debtor is not None and debtor.deceased_on == T0.date()
    for debt_id in placed.debt_ids:
        assert await sql_blocker(staff, debt_id, T0 + dt.timedelta(hours=1)) == "hold:deceased"
    async with transaction(staff) as session:
        await holds.end_hold(session, staff, await access_hold(session, staff, hold.id),
                             "óbito registrado por engano")
    async with transaction(staff) as session:
        debtor = await session.get(Debtor, (tenant.id, placed.debtor_id))
        assert debtor is not None and debtor.deceased_on is None


async def test_a_hold_needs_a_reason_and_a_known_kind(factory, services):
    tenant = await factory.tenant()
    staff = creditor(tenant.id)
    placed = await place(staff, tenant.id)
    async with transaction(staff) as session:
        with pytest.raises(ValidationFailed) as missing:
            await holds.set_hold(session, staff, placed.debtor_id, HoldKind.DISPUTE, "  ")
    assert missing.value.detail == {"reason": "informe o motivo"}
    with pytest.raises(ValidationFailed, match="tipo de bloqueio desconhecido"):
        holds.parse_kind("vacation")


def test_prescription_is_five_years_after_the_due_date():
    assert prescribes_on(dt.date(2021, 3, 10)) == dt.date(2026, 3, 11)
    # 29 February counts to the 28th, as PostgreSQL's interval arithmetic does.
    assert prescribes_on(dt.date(2020, 2, 29)) == dt.date(2025, 3, 1)


async def test_a_prescribed_debt_is_not_worked_counted_in_the_debtors_own_zone(
        factory, services):
    tenant = await factory.tenant()
    staff = creditor(tenant.id)
    placed = await place(staff, tenant.id, due_dates=(dt.date(2021, 6, 1),), state="AM",
                         timezone="America/Manaus")
    (debt_id,) = placed.debt_ids
    # 02 June 2026 03:30 UTC is still 01 June in Manaus (UTC-4): the last day to collect.
    last_day = dt.datetime(2026, 6, 2, 3, 30, tzinfo=UTC)
    assert await sql_blocker(staff, debt_id, last_day) is None
    assert await py_blocker(staff, debt_id, last_day) is None
    next_day = dt.datetime(2026, 6, 2, 4, 30, tzinfo=UTC)
    assert await sql_blocker(staff, debt_id, next_day) == "prescribed"
    assert "prescrito" in (blocker_label("prescribed") or "")


async def test_the_sql_and_python_forms_of_the_rule_agree(factory, services):
    """Every combination of lifecycle, due date near prescription, debt and debtor holds,
    open and ended, at moments around their edges."""
    tenant = await factory.tenant()
    staff = creditor(tenant.id)
    cases = []
    statuses = ["open", "in_agreement", "paid", "returned"]
    due_dates = [dt.date(2021, 6, 1), dt.date(2020, 2, 29), dt.date(2025, 12, 31)]
    hold_shapes = ["none", "debt", "debtor", "ended", "future"]
    for n, (status, due, shape) in enumerate(itertools.product(statuses, due_dates,
                                                                hold_shapes)):
        placed = await place(staff, tenant.id, document=f"{n:011d}", due_dates=(due,),
                             state="AC", timezone="America/Rio_Branco")
        (debt_id,) = placed.debt_ids
        async with transaction(staff) as session:
            await session.execute(update(Debt).where(Debt.id == debt_id).values(status=status))
            if shape != "none":
                start = T0 + (dt.timedelta(days=30) if shape == "future" else dt.timedelta(0))
                hold = await holds.set_hold(
                    session, staff, placed.debtor_id, HoldKind.LEGAL, "análise jurídica",
                    debt_id=debt_id if shape == "debt" else None, at=start)
                if shape == "ended":
                    await holds.end_hold(session, staff, await access_hold(session, staff,
                                                                          hold.id),
                                         "liberado", at=T0 + dt.timedelta(days=1))
        cases.append(debt_id)
    moments = [T0 - dt.timedelta(hours=1), T0, T0 + dt.timedelta(hours=23),
               T0 + dt.timedelta(days=1), T0 + dt.timedelta(days=40),
               dt.datetime(2026, 6, 2, 4, 59, tzinfo=UTC),
               dt.datetime(2026, 6, 2, 5, 0, tzinfo=UTC),
               dt.datetime(2025, 3, 1, 5, 0, tzinfo=UTC),
               dt.datetime(2025, 3, 1, 4, 0, tzinfo=UTC)]
    seen = set()
    for debt_id in cases:
        for at in moments:
            expected = await py_blocker(staff, debt_id, at)
            assert await sql_blocker(staff, debt_id, at) == expected, (debt_id, at)
            seen.add((expected or "").split(":")[0])
    assert seen == {"", "status", "prescribed", "hold"}  # every branch was exercised


# ---- the ledger --------------------------------------------------------------------------

async def test_a_payment_is_allocated_charges_first_and_the_balance_is_the_ledgers_sum(
        factory, services, db):
    tenant = await factory.tenant()
    staff = creditor(tenant.id)
    placed = await place(staff, tenant.id, amount="1000.00")
    (debt_id,) = placed.debt_ids
    async with transaction(staff) as session:
        await ledger.post(session, staff, debt_id, [
            (Bucket.INTEREST, EntryKind.CREDITOR_UPDATE, Decimal("50.00")),
            (Bucket.FINE, EntryKind.CREDITOR_UPDATE, Decimal("20.00"))], source="portfolio")
        payment = await ledger.record_payment(session, staff, debt_id, Decimal("100.00"),
                                              paid_on=dt.date(2026, 6, 1),
                                              source=PaymentSource.AGENCY, reference="PIX-1")
        assert payment.debtor_id == placed.debtor_id
    async with transaction(staff) as session:
        by_bucket = (await ledger.balances(session, [debt_id]))[debt_id]
        debt = (await session.execute(select(Debt).where(Debt.id == debt_id))).scalar_one()
    # 100 paid: the fine (20) and the interest (50) first, 30 of the principal.
    assert by_bucket == {Bucket.PRINCIPAL: Decimal("970.00"), Bucket.INTEREST: Decimal("0.00"),
                         Bucket.FINE: Decimal("0.00")}
    assert debt.current_balance == Decimal("970.00") == sum(by_bucket.values())
    async with transaction(staff) as session:
        kinds = [(e.bucket, e.kind, e.amount) for e in await ledger.entries(session, [debt_id])]
    assert (Bucket.FINE, EntryKind.PAYMENT, Decimal("-20.00")) in kinds
    assert (Bucket.PRINCIPAL, EntryKind.PAYMENT, Decimal("-30.00")) in kinds


def test_an_overpayment_goes_to_the_principal():
    split = ledger.allocate({Bucket.PRINCIPAL: Decimal("10"), Bucket.FEES: Decimal("5")},
                            Decimal("20"))
    assert split == {Bucket.FEES: Decimal("5"), Bucket.PRINCIPAL: Decimal("15")}


async def test_ledger_entries_cannot_be_edited_or_deleted_by_the_application(
        factory, services):
    tenant = await factory.tenant()
    staff = creditor(tenant.id)
    await place(staff, tenant.id)
    with app_connection() as conn:
        conn.execute("SELECT set_config('app.tenant_ids', %s, false)", (f"{{{tenant.id}}}",))
        for statement in ("UPDATE ledger_entry SET amount = 1", "DELETE FROM ledger_entry",
                          "DELETE FROM payment"):
            with pytest.raises(psycopg.errors.InsufficientPrivilege):
                conn.execute(statement)
            conn.rollback()
            conn.execute("SELECT set_config('app.tenant_ids', %s, false)",
                         (f"{{{tenant.id}}}",))


# ---- contact points, attempts, opt-outs ------------------------------------------------------

async def test_an_sms_opt_out_leaves_calls_and_whatsapp_alone(factory, services):
    tenant = await factory.tenant()
    staff = creditor(tenant.id)
    placed = await place(staff, tenant.id)
    async with transaction(staff) as session:
        phone = await access_contact_point(session, staff, placed.phone_id)
        await contacts.opt_out(session, staff, phone, "sms", source="debtor",
                               note="pediu por telefone")
        with pytest.raises(ValidationFailed, match="canal inválido"):
            await contacts.opt_out(session, staff, phone, "email")
    async with transaction(staff) as session:
        assert await contacts.usable(session, placed.debtor_id, Channel.SMS) == []
        for channel in (Channel.CALL, Channel.WHATSAPP):
            assert [p.id for p in await contacts.usable(session, placed.debtor_id, channel)] \
                == [placed.phone_id]
        await contacts.revoke_opt_out(session, staff, phone, "sms")
    async with transaction(staff) as session:
        assert len(await contacts.usable(session, placed.debtor_id, Channel.SMS)) == 1


async def test_attempt_outcomes_grade_the_contact_point_and_an_opt_out_is_honoured_at_once(
        factory, services):
    tenant = await factory.tenant()
    staff = creditor(tenant.id)
    placed = await place(staff, tenant.id)
    async with transaction(staff) as session:
        await interactions.record(
            session, debtor_id=placed.debtor_id, channel=Channel.WHATSAPP,
            outcome=Outcome.OPTED_OUT, cause_kind=CauseKind.CADENCE_STEP, process="cadence",
            contact_point_id=placed.phone_id, direction=interactions.Direction.INBOUND)
    async with transaction(staff) as session:
        assert await contacts.usable(session, placed.debtor_id, Channel.WHATSAPP) == []
        await interactions.record(
            session, debtor_id=placed.debtor_id, channel=Channel.CALL,
            outcome=Outcome.WRONG_PARTY, cause_kind=CauseKind.AGENT, user_id=staff.user_id,
            contact_point_id=placed.phone_id)
    async with transaction(staff) as session:
        point = (await session.execute(
            select(ContactPoint).where(ContactPoint.id == placed.phone_id))).scalar_one()
        assert (point.quality, point.last_outcome) == ("wrong_party", "wrong_party")
        # A number that reaches someone else is used on no channel.
        assert await contacts.usable(session, placed.debtor_id, Channel.CALL) == []


# ---- across creditors, without reading across the wall ----------------------------------------

async def test_attempts_are_counted_across_creditors_and_readable_only_as_counts(
        factory, services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    document = "11144477735"
    for tenant in (alfa, beta):
        staff = creditor(tenant.id)
        placed = await place(staff, tenant.id, document=document)
        async with transaction(staff) as session:
            await interactions.record(
                session, debtor_id=placed.debtor_id, channel=Channel.CALL,
                outcome=Outcome.ANSWERED if tenant is alfa else Outcome.NO_ANSWER,
                cause_kind=CauseKind.CAMPAIGN, process="dialer",
                contact_point_id=placed.phone_id, started_at=T0)
    async with transaction(creditor(beta.id)) as session:
        counted = await agency_counts.counts(session, document, T0.date())
        other = await agency_counts.counts(session, "52998224725", T0.date())
    assert counted == {Channel.CALL: agency_counts.DayCount(attempts=2, answered=1)}
    assert other == {}
    with app_connection() as conn:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT * FROM agency_contact_count")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("DELETE FROM agency_contact_count")
    # What is stored names nobody: a keyed hash, not the CPF.
    assert agency_counts.debtor_key(document) != document.encode()
    assert len(agency_counts.debtor_key(document)) == 32


# ---- access helpers ------------------------------------------------------------------------

async def test_access_helpers_answer_not_found_for_another_tenants_rows(factory, services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    staff_a, staff_b = creditor(alfa.id), creditor(beta.id)
    theirs = await place(staff_b, beta.id)
    async with transaction(staff_b) as session:
        hold = await holds.set_hold(session, staff_b, theirs.debtor_id, HoldKind.LEGAL, "x")
    helpers = [(access_debtor, theirs.debtor_id, "devedor"), (access_debt, theirs.debt_ids[0],
               "título"), (access_contact_point, theirs.phone_id, "contato"),
               (access_hold, hold.id, "bloqueio")]
    async with transaction(staff_a) as session:
        for helper, row_id, noun in helpers:
            with pytest.raises(NotFound) as crossed:
                await helper(session, staff_a, row_id)
            with pytest.raises(NotFound) as missing:
                await helper(session, staff_a, uuid7())
            assert crossed.value.detail == missing.value.detail
            assert noun in str(crossed.value.detail)
    # An agency user working only Beta cannot reach Alfa's rows either, even if a
    # transaction's scope were wider than the user's tenants.
    ours = await place(staff_a, alfa.id, document="11144477735")
    agent = Principal(user_id=uuid7(), email="agent@regua.test", full_name="A",
                      role=Role.AGENT, tenant_id=None, tenant_ids=frozenset({beta.id}))
    async with transaction(Principal.system(Scope(frozenset({alfa.id, beta.id})))) as session:
        with pytest.raises(NotFound):
            await access_debtor(session, agent, ours.debtor_id)
        assert await access_debtor(session, agent, theirs.debtor_id) == theirs.debtor_id
