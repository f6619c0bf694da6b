"""Legal escalation against the real database, S3, the channels' sandbox (SMTP, SMS) and
the bureau sandbox on loopback: the rules and holds, the notice and its waiting period,
the listing in the PEFIN layout, removals after payment within 5 business days, the
five-year limit, and prescription."""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select, text, update

from core.access import DebtorId, transaction
from core.channels import sandbox as channel_sandbox
from core.collection import holds
from core.collection.workable import add_years
from core.compliance.business_days import add_business_days
from core.models import Debt, HoldKind, MessageDispatch
from core.settings import get_settings
from legal.escalation import bureau, bureau_sandbox, journal, pefin, rules, service
from legal.escalation.bureau_models import BureauRemessa, EscalationPolicy
from legal.escalation.models import Escalation, EscalationEvent, EscalationRule
from tenants.intake.service import recall_debts
from tests.legal.escalation_helpers import place, system, years_ago

pytestmark = pytest.mark.usefixtures("services")


@pytest.fixture(scope="module")
def sandboxes(services: None) -> Iterator[bureau_sandbox.BureauSandbox]:
    """The channels' sandbox (notice e-mails and SMS) and the bureau's, as `regua up` runs
    them; their addresses are published to the settings for this module only."""
    channels = channel_sandbox.start(get_settings(), "http://127.0.0.1:9")
    running = bureau_sandbox.start(get_settings())
    assert running is not None
    yield running
    running.stop()
    if channels is not None:
        channels.stop()
    for name in ("REGUA_BUREAU_SANDBOX_URL", "REGUA_SANDBOX_URL", "REGUA_SANDBOX_SMTP_PORT"):
        os.environ.pop(name, None)
    get_settings.cache_clear()


async def add_rule(tenant_id: uuid.UUID, **values: Any) -> EscalationRule:
    async with transaction(system(tenant_id)) as session:
        clean = rules.validate({"priority": 10, "min_days_overdue": 30, **values})
        rule = EscalationRule(tenant_id=tenant_id, **clean)
        session.add(rule)
    return rule


async def escalations(tenant_id: uuid.UUID) -> dict[uuid.UUID, Escalation]:
    async with transaction(system(tenant_id)) as session:
        rows = (await session.execute(select(Escalation).where(
            Escalation.tenant_id == tenant_id))).scalars()
        return {e.debt_id: e for e in rows}


async def events(tenant_id: uuid.UUID, escalation_id: uuid.UUID) -> list[EscalationEvent]:
    async with transaction(system(tenant_id)) as session:
        return list((await session.execute(select(EscalationEvent).where(
            EscalationEvent.escalation_id == escalation_id).order_by(
            EscalationEvent.at, EscalationEvent.id))).scalars())


def day(offset: int) -> dt.date:
    return dt.date.today() + dt.timedelta(days=offset)


async def test_rules_decide_by_priority_and_the_stop_conditions_always_apply(
        factory, database_url, sandboxes) -> None:
    tenant = await factory.tenant()
    await add_rule(tenant.id, name="Negativar acima de R$ 100", priority=1, path="bureau",
                   min_days_overdue=60, min_amount="100,00")
    await add_rule(tenant.id, name="Judicial 30 dias", priority=2, path="judicial",
                   min_days_overdue=30)
    await add_rule(tenant.id, name="Protesto score baixo", priority=0, path="protest",
                   min_days_overdue=10, max_score=300)
    await add_rule(tenant.id, name="Inativa", priority=0, path="protest", min_days_overdue=0,
                   active=False)
    listed = await place(database_url, tenant.id, days_overdue=(90,))
    young = await place(database_url, tenant.id, days_overdue=(45,))
    small = await place(database_url, tenant.id, days_overdue=(90,), amounts=("40.00",))
    fresh = await place(database_url, tenant.id, days_overdue=(5,))
    disputed = await place(database_url, tenant.id, days_overdue=(90,))
    prescribed = await place(database_url, tenant.id, due_dates=(years_ago(5, -3),))
    agreed = await place(database_url, tenant.id, days_overdue=(90,))
    scored = await place(database_url, tenant.id, days_overdue=(20,))
    async with transaction(system(tenant.id)) as session:
        await holds.set_hold(session, system(tenant.id), DebtorId(disputed.debtor_id),
                             HoldKind.DISPUTE, "o devedor contesta a cobrança")
        await session.execute(update(Debt).where(Debt.id == agreed.debt_ids[0])
                              .values(status="in_agreement"))
        await session.execute(text(
            "INSERT INTO debtor_score (tenant_id, debtor_id, score, band, segments, inputs,"
            " reasons, method, scored_at) VALUES (:t, :d, 200, 'D', '{}', '{}', '[]',"
            " 'rules', now())"), {"t": tenant.id, "d": scored.debtor_id})

    result = await service.run(tenant.id)

    found = await escalations(tenant.id)
    picked = {debt: (e.path, e.state, e.rule_name) for debt, e in found.items()}
    assert picked == {
        listed.debt_ids[0]: ("bureau", "notice_sent", "Negativar acima de R$ 100"),
        young.debt_ids[0]: ("judicial", "handed_off", "Judicial 30 dias"),
        small.debt_ids[0]: ("judicial", "handed_off", "Judicial 30 dias"),
        scored.debt_ids[0]: ("protest", "queued", "Protesto score baixo"),
    }
    assert result["opened"] == {"bureau": 1, "protest": 1, "judicial": 2}
    # Every decision names the rule that made it, in the escalation and its first event.
    bureau_row = found[listed.debt_ids[0]]
    assert bureau_row.rule_id is not None
    first = (await events(tenant.id, bureau_row.id))[0]
    assert (first.from_state, first.to_state, first.rule_name, first.actor_id) == (
        None, "notice_pending", "Negativar acima de R$ 100", None)
    # A second run of the day opens nothing more.
    again = await service.run(tenant.id)
    assert again["opened"] == {"bureau": 0, "protest": 0, "judicial": 0}
    assert len(await escalations(tenant.id)) == 4
    del fresh, disputed, prescribed, agreed


async def test_a_held_notice_does_not_advance_until_released(
        factory, database_url, sandboxes) -> None:
    tenant = await factory.tenant()
    await add_rule(tenant.id, name="Negativar", path="bureau", min_days_overdue=30)
    supervisor = await factory.user("supervisor", tenant_ids=[tenant.id])
    placed = await place(database_url, tenant.id)
    from core.auth import service as auth
    from core.runtime import get_db

    person = await auth.load_principal(get_db(), supervisor.user_id)
    assert person is not None
    async with transaction(system(tenant.id)) as session:
        opened = await rules.evaluate(session, system(tenant.id), tenant.id,
                                      dt.datetime.now(dt.UTC), 21)
    assert opened == {"bureau": 1}
    escalation = (await escalations(tenant.id))[placed.debt_ids[0]]
    await service.hold(person, escalation.id, "aguardar retorno do credor")

    await service.run(tenant.id)
    held = (await escalations(tenant.id))[placed.debt_ids[0]]
    assert (held.state, held.held_by) == ("notice_pending", supervisor.user_id)
    async with transaction(system(tenant.id)) as session:
        letters = (await session.execute(select(MessageDispatch).where(
            MessageDispatch.debtor_id == placed.debtor_id))).scalars().all()
    assert letters == []

    await service.release(person, escalation.id, "credor confirmou")
    await service.run(tenant.id)
    released = (await escalations(tenant.id))[placed.debt_ids[0]]
    assert released.state == "notice_sent" and released.held_since is None
    notes = [(e.from_state, e.to_state, e.actor_email, e.note)
             for e in await events(tenant.id, escalation.id)]
    assert notes[1] == ("notice_pending", "notice_pending", supervisor.email,
                        "retido: aguardar retorno do credor")
    assert notes[2] == ("notice_pending", "notice_pending", supervisor.email,
                        "liberado: credor confirmou")
    assert notes[3][1] == "notice_sent"


async def test_notice_then_waiting_period_then_listing_ten_days_or_twenty_in_sp(
        factory, database_url, sandboxes) -> None:
    tenant = await factory.tenant()
    await add_rule(tenant.id, name="Negativar", path="bureau", min_days_overdue=30)
    minas = await place(database_url, tenant.id, state="MG", days_overdue=(90, 60),
                        amounts=("500.00", "120.50"), name="José Conceição")
    paulo = await place(database_url, tenant.id, state="SP", days_overdue=(90,))

    first = await service.run(tenant.id, day(0))
    assert first["notices"] == 2 and first["listed"] == 0
    found = await escalations(tenant.id)
    assert {found[d].deadline_on for d in minas.debt_ids} == {day(10)}
    assert found[paulo.debt_ids[0]].deadline_on == day(20)

    # One letter per debtor, among the day's letters, naming the creditor, the debts and
    # the deadline; an e-mail too, which the SMTP sandbox received.
    async with transaction(system(tenant.id)) as session:
        sent = {m.channel: m for m in (await session.execute(select(MessageDispatch).where(
            MessageDispatch.debtor_id == minas.debtor_id))).scalars()}
        tenant_row = (await session.execute(text(
            "SELECT legal_name, cnpj FROM tenant WHERE id = :t"), {"t": tenant.id})).one()
        debts = {d.id: d for d in (await session.execute(select(Debt).where(
            Debt.id.in_(minas.debt_ids)))).scalars()}
    letter = sent["letter"]
    assert (letter.status, letter.provider, letter.template_name) == (
        "sent", "print", bureau.NOTICE_NAME)
    assert letter.sent_at is not None
    assert tenant_row.legal_name in letter.body
    cnpj = tenant_row.cnpj
    assert f"{cnpj[:2]}.{cnpj[2:5]}.{cnpj[5:8]}/{cnpj[8:12]}-{cnpj[12:]}" in letter.body
    for debt in debts.values():
        assert debt.contract in letter.body
        assert debt.due_date.strftime("%d/%m/%Y") in letter.body
    assert "R$ 500,00" in letter.body and "R$ 120,50" in letter.body
    assert f"até {day(10).strftime('%d/%m/%Y')}" in letter.body
    assert "Serasa Experian" in letter.body
    assert sent["email"].status == "sent"
    assert channel_sandbox.received(get_settings(), "smtp", sent["email"].provider_message_id)
    assert sent["sms"].status == "sent"

    assert (await service.run(tenant.id, day(10)))["listed"] == 0
    after_ten = await service.run(tenant.id, day(11))
    assert after_ten["listed"] == 2  # the MG debtor's two debts, in one remessa
    found = await escalations(tenant.id)
    assert {found[d].state for d in minas.debt_ids} == {"listed"}
    assert found[paulo.debt_ids[0]].state == "notice_sent"
    for debt_id in minas.debt_ids:
        assert found[debt_id].deadline_on == add_years(debts[debt_id].due_date, 5)

    # What the bureau received, field by field of the PEFIN layout.
    received = bureau_sandbox.received(get_settings(), cnpj)
    assert len(received) == 1
    lines = received[0]["file"].split("\r\n")
    assert [len(line) for line in lines if line] == [600] * 4
    head, first_detail = lines[0], lines[1]
    assert pefin.field_of(head, 1, 1) == "0"
    assert pefin.field_of(head, 2, 10) == "0" + cnpj[:8]
    assert pefin.field_of(head, 11, 18) == day(11).strftime("%Y%m%d")
    assert pefin.field_of(head, 105, 119) == "SERASA-CONVEM04"
    assert pefin.field_of(head, 126, 126) == "E"
    assert pefin.field_of(first_detail, 1, 2) == "1I"
    assert pefin.field_of(first_detail, 3, 8) == cnpj[8:]
    assert pefin.field_of(first_detail, 32, 33) == "F2"
    assert pefin.field_of(first_detail, 34, 48) == minas.document.zfill(15)
    assert pefin.field_of(first_detail, 106, 175).rstrip() == "JOSE CONCEICAO"
    amounts = {pefin.field_of(line, 424, 438) for line in lines[1:3]}
    assert amounts == {"000000000050000", "000000000012050"}
    contracts = {pefin.field_of(line, 439, 454).rstrip() for line in lines[1:3]}
    assert contracts == {d.contract for d in debts.values()}
    assert pefin.field_of(lines[3], 1, 1) == "9" and pefin.field_of(lines[3], 594, 600) == \
        "0000004"
    assert all(r["errors"] == [] for r in received[0]["records"])
    async with transaction(system(tenant.id)) as session:
        remessa = (await session.execute(select(BureauRemessa))).scalar_one()
    assert (remessa.number, remessa.operation, remessa.status, remessa.accepted) == (
        1, "include", "answered", 2)
    from core.runtime import get_storage

    assert get_storage().get(remessa.file_key).decode("latin-1") == received[0]["file"]

    assert (await service.run(tenant.id, day(20)))["listed"] == 0
    assert (await service.run(tenant.id, day(21)))["listed"] == 1
    assert (await escalations(tenant.id))[paulo.debt_ids[0]].state == "listed"


async def _listed(tenant_id: uuid.UUID, database_url: str, **placing: Any) -> Any:
    await add_rule(tenant_id, name=f"Negativar {uuid.uuid4().hex[:4]}", path="bureau",
                   min_days_overdue=30)
    placed = await place(database_url, tenant_id, **placing)
    await service.run(tenant_id, day(0))
    await service.run(tenant_id, day(11))
    assert (await escalations(tenant_id))[placed.debt_ids[0]].state == "listed"
    return placed


async def test_payment_sends_the_removal_within_five_business_days(
        factory, database_url, sandboxes) -> None:
    tenant = await factory.tenant()
    placed = await _listed(tenant.id, database_url)
    # Paid on Tuesday 22/12/2026: Christmas and the weekend are not business days.
    paid_at = dt.datetime(2026, 12, 22, 15, 0, tzinfo=dt.UTC)
    async with transaction(system(tenant.id)) as session:
        await session.execute(update(Debt).where(Debt.id == placed.debt_ids[0]).values(
            status="paid", closed_at=paid_at))
    unreachable = get_settings().model_copy(update={"bureau_url": "http://127.0.0.1:9"})
    from legal.escalation.adapters import SerasaPefin

    down = await service.run(tenant.id, day(12), adapter=SerasaPefin(unreachable))
    assert down["removals_started"] == 1 and down["removed"] == 0
    assert down["bureau_errors"] and "inacessível" in down["bureau_errors"][0]
    pending = (await escalations(tenant.id))[placed.debt_ids[0]]
    assert (pending.state, pending.deadline_on) == ("removal_pending", dt.date(2026, 12, 30))
    assert add_business_days(dt.date(2026, 12, 22), 5, "SP") == dt.date(2026, 12, 30)

    # Past the deadline with the bureau still down: counted and listed as overdue.
    late = dt.date(2026, 12, 31) if dt.date.today() < dt.date(2026, 12, 31) else day(30)
    overdue = await service.run(tenant.id, late, adapter=SerasaPefin(unreachable))
    assert overdue["removals_overdue"] == 1
    admin = await factory.user("admin", tenant_ids=[tenant.id])
    from core.auth import service as auth
    from core.runtime import get_db

    person = await auth.load_principal(get_db(), admin.user_id)
    assert person is not None
    shown = await service.listing(person, service.Filters(tenant_id=tenant.id, overdue=True,
                                                              as_of=late))
    assert [r.id for r in shown.rows] == [pending.id] and shown.overdue == 1

    done = await service.run(tenant.id, late)
    assert done["removed"] == 1 and done["removals_overdue"] == 0
    removed = (await escalations(tenant.id))[placed.debt_ids[0]]
    assert removed.state == "removed" and removed.closed_at is not None
    received = bureau_sandbox.received(get_settings(), await _cnpj(tenant.id))
    exclusion = received[0]["file"].split("\r\n")[1]
    assert pefin.field_of(exclusion, 1, 2) == "1E"
    assert pefin.field_of(exclusion, 49, 50) == pefin.REASON_PAID


async def test_a_recalled_debt_comes_off_the_bureau(factory, database_url, sandboxes) -> None:
    tenant = await factory.tenant()
    placed = await _listed(tenant.id, database_url)
    principal = system(tenant.id)
    async with transaction(principal) as session:
        debt = (await session.execute(select(Debt).where(
            Debt.id == placed.debt_ids[0]))).scalar_one()
        await recall_debts(session, principal.actor, tenant.id,
                           [(debt.contract, debt.installment)])
    result = await service.run(tenant.id, day(12))
    assert (result["removals_started"], result["removed"]) == (1, 1)
    removed = (await escalations(tenant.id))[placed.debt_ids[0]]
    assert removed.state == "removed" and removed.closed_at is not None
    history = await events(tenant.id, removed.id)
    assert "título encerrado pelo credor" in (history[-2].note or "")
    received = bureau_sandbox.received(get_settings(), await _cnpj(tenant.id))
    exclusion = received[0]["file"].split("\r\n")[1]
    assert pefin.field_of(exclusion, 1, 2) == "1E"
    assert pefin.field_of(exclusion, 49, 50) == pefin.REASON_OTHER


async def _cnpj(tenant_id: uuid.UUID) -> str:
    async with transaction(system(tenant_id)) as session:
        return str((await session.execute(text("SELECT cnpj FROM tenant WHERE id = :t"),
                                          {"t": tenant_id})).scalar_one())


async def test_an_agreement_removes_the_listing_only_when_the_policy_says_so(
        factory, database_url, sandboxes) -> None:
    tenant = await factory.tenant()
    placed = await _listed(tenant.id, database_url)
    async with transaction(system(tenant.id)) as session:
        session.add(EscalationPolicy(tenant_id=tenant.id, notice_days=10, notice_days_sp=20,
                                     removal_business_days=5, remove_on_agreement=False,
                                     notice_email=True, notice_sms=True))
        await session.execute(update(Debt).where(Debt.id == placed.debt_ids[0]).values(
            status="in_agreement"))
    assert (await service.run(tenant.id, day(12)))["removals_started"] == 0
    async with transaction(system(tenant.id)) as session:
        await session.execute(update(EscalationPolicy).where(
            EscalationPolicy.tenant_id == tenant.id).values(remove_on_agreement=True))
    result = await service.run(tenant.id, day(13))
    assert (result["removals_started"], result["removed"]) == (1, 1)
    history = await events(tenant.id, (await escalations(tenant.id))[placed.debt_ids[0]].id)
    assert "baixa por acordo" in (history[-2].note or "")


async def test_nothing_stays_listed_past_five_years_from_the_day_after_the_due_date(
        factory, database_url, sandboxes) -> None:
    tenant = await factory.tenant()
    due = years_ago(5, 40)  # the limit falls 40 days from today
    placed = await _listed(tenant.id, database_url, due_dates=(due,))
    listed = (await escalations(tenant.id))[placed.debt_ids[0]]
    limit = add_years(due, 5)
    assert listed.deadline_on == limit == day(40)

    assert (await service.run(tenant.id, day(39)))["expired"] == 0
    result = await service.run(tenant.id, day(40))
    assert (result["removals_started"], result["expired"]) == (1, 1)
    expired = (await escalations(tenant.id))[placed.debt_ids[0]]
    assert expired.state == "expired"
    # ... and, on the next day, the debt is prescribed: nothing escalates it again.
    again = await service.run(tenant.id, day(41))
    assert again["opened"]["bureau"] == 0


async def test_a_prescribed_debt_is_never_listed(factory, database_url, sandboxes) -> None:
    tenant = await factory.tenant()
    await add_rule(tenant.id, name="Negativar", path="bureau", min_days_overdue=0)
    # Prescribed already: no rule opens it.
    old = await place(database_url, tenant.id, due_dates=(years_ago(5, -1),))
    # Prescribes during the notice period: its escalation (opened by a person before the
    # period) is cancelled, not listed.
    edge = await place(database_url, tenant.id, due_dates=(years_ago(5, 5),))
    async with transaction(system(tenant.id)) as session:
        await journal.open_escalation(session, system(tenant.id), edge.debt_ids[0],
                                      "bureau", "notice_pending", amount=Decimal("500.00"))
    first = await service.run(tenant.id, day(0))
    assert first["opened"]["bureau"] == 0 and first["notices"] == 1
    later = await service.run(tenant.id, day(11))
    assert later["listed"] == 0 and later["cancelled"] == 1
    found = await escalations(tenant.id)
    assert old.debt_ids[0] not in found
    cancelled = found[edge.debt_ids[0]]
    assert cancelled.state == "cancelled"
    assert "prescrito" in ((await events(tenant.id, cancelled.id))[-1].note or "")
    assert bureau_sandbox.received(get_settings(), await _cnpj(tenant.id)) == []

    admin = await factory.user("admin", tenant_ids=[tenant.id])
    from core.auth import service as auth
    from core.errors import Conflict
    from core.runtime import get_db

    person = await auth.load_principal(get_db(), admin.user_id)
    assert person is not None
    with pytest.raises(Conflict) as refused:
        await service.escalate(person, old.debt_ids[0], "bureau")
    assert "prescrito" in str(refused.value)
