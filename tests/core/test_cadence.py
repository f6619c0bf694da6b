"""The cadence: definitions and versions, the day's plan in one statement, stops and
resumption, one message per debtor, champion/challenger, reruns, dry-runs, isolation."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import pytest
from sqlalchemy import func, select, text

from core.access import TenantId, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.cadence import definition as cdef
from core.cadence import engine, service
from core.compliance import policy
from core.db import Scope
from core.errors import NotFound, ValidationFailed
from core.ids import uuid7
from core.models import (
    CadenceAction,
    CadenceEnrolment,
    CadencePlanMark,
    ContactOptOut,
    ContactPoint,
    Debt,
    Debtor,
    DebtorScore,
    Hold,
)
from core.scoring import service as scoring
from core.scoring.rules import band_of

DAY = dt.date(2027, 3, 10)  # a Wednesday, no holiday: the calendar lets everything go

YAML = """
name: Régua padrão
steps:
  - day: -3
    channels: [email]
  - day: 0
    channels: [email, sms]
  - day: 5
    channels: [whatsapp]
    fallback: sms
  - day: 20
    channels: [call]
    when: {amount_min: 100, states: [SP, RJ]}
"""


def staff(tenant_id: uuid.UUID) -> Principal:
    return Principal(user_id=uuid7(), email="supervisor@regua.test", full_name="Sup",
                     role=Role.SUPERVISOR, tenant_id=None, tenant_ids=frozenset({tenant_id}))


def system(tenant_id: uuid.UUID) -> Principal:
    return Principal.system(Scope.tenant(tenant_id))


async def debtor(tenant_id: uuid.UUID, dues: list[dt.date], *, state: str = "SP",
                 email: bool = True, phone: bool = True, amount: str = "300.00",
                 document: str | None = None) -> uuid.UUID:
    async with transaction(system(tenant_id)) as session:
        person = Debtor(tenant_id=tenant_id, id=uuid7(),
                        document=document or str(uuid.uuid4().int)[:11],
                        document_kind="cpf", name="Ana Souza", state=state)
        session.add(person)
        if email:
            session.add(ContactPoint(tenant_id=tenant_id, id=uuid7(), debtor_id=person.id,
                                     kind="email", value=f"{uuid.uuid4().hex[:8]}@ex.com.br",
                                     source="portfolio"))
        if phone:
            session.add(ContactPoint(tenant_id=tenant_id, id=uuid7(), debtor_id=person.id,
                                     kind="phone", value="+55119" + str(uuid.uuid4().int)[:8],
                                     source="portfolio"))
        for i, due in enumerate(dues):
            session.add(Debt(tenant_id=tenant_id, id=uuid7(), debtor_id=person.id,
                             portfolio_id=uuid7(), last_portfolio_id=uuid7(),
                             contract=f"C-{uuid.uuid4().hex[:10]}", installment=i + 1,
                             original_amount=Decimal(amount), current_balance=Decimal(amount),
                             due_date=due))
        return person.id


async def load(tenant_id: uuid.UUID, source: str = YAML, activate: bool = True) -> service.Loaded:
    async with transaction(staff(tenant_id)) as session:
        return await service.load(session, staff(tenant_id), TenantId(tenant_id), source,
                                  activate=activate)


async def run(tenant_id: uuid.UUID, day: dt.date = DAY) -> engine.Summary:
    async with transaction(system(tenant_id)) as session:
        return await engine.run(session, TenantId(tenant_id), day,
                                now=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))


async def actions_of(tenant_id: uuid.UUID, debtor_id: uuid.UUID) -> list[CadenceAction]:
    async with transaction(system(tenant_id)) as session:
        return list((await session.execute(select(CadenceAction).where(
            CadenceAction.debtor_id == debtor_id).order_by(CadenceAction.day,
                                                          CadenceAction.channel))).scalars())


async def test_steps_fire_before_and_after_the_due_date_and_one_message_lists_all_debts(factory):
    tenant = await factory.tenant()
    await load(tenant.id)
    before = await debtor(tenant.id, [DAY + dt.timedelta(days=3)])
    two = await debtor(tenant.id, [DAY - dt.timedelta(days=5)] * 2)
    not_today = await debtor(tenant.id, [DAY - dt.timedelta(days=4)])
    summary = await run(tenant.id)
    [reminder] = await actions_of(tenant.id, before)
    assert (reminder.step_day, reminder.channel, reminder.state) == (-3, "email", "planned")
    [whatsapp] = await actions_of(tenant.id, two)
    assert whatsapp.step_day == 5 and whatsapp.channel == "whatsapp"
    assert len(whatsapp.debt_ids) == 2  # one message for the debtor, listing both debts
    assert await actions_of(tenant.id, not_today) == []
    shown = summary.as_json()
    assert {"day": -3, "channel": "email", "planned": 1, "blocked": 0} in shown["by_step"]
    assert shown["debtors"] == 2 and shown["actions"] == 2


async def test_a_rerun_adds_nothing_and_a_dry_run_writes_nothing(factory):
    tenant = await factory.tenant()
    await load(tenant.id)
    for _ in range(3):
        await debtor(tenant.id, [DAY])
    async with transaction(system(tenant.id)) as session:
        dry, rows = await engine.preview(session, TenantId(tenant.id), DAY)
        count = (await session.execute(select(func.count()).select_from(CadenceAction)
                                       )).scalar_one()
        enrolled = (await session.execute(select(func.count()).select_from(CadenceEnrolment)
                                          )).scalar_one()
    assert dry.actions == 6 and len(rows) == 6 and count == 0 and enrolled == 0
    first = await run(tenant.id)
    second = await run(tenant.id)
    assert first.added == 6 and second.added == 0
    assert first.as_json()["by_step"] == second.as_json()["by_step"] == dry.as_json()["by_step"]


async def whole_day(tenant_id: uuid.UUID) -> dict[str, object]:
    """The day's plan as one from scratch would make it (the dry-run's selection)."""
    async with transaction(system(tenant_id)) as session:
        summary, _ = await engine.preview(session, TenantId(tenant_id), DAY,
                                          now=dt.datetime(2027, 1, 1, tzinfo=dt.UTC))
    return summary.as_json()


async def test_a_rerun_plans_what_changed_since_the_first_and_nothing_else(factory, db):
    tenant = await factory.tenant()
    await load(tenant.id)
    await debtor(tenant.id, [DAY, DAY - dt.timedelta(days=5)])
    held = await debtor(tenant.id, [DAY - dt.timedelta(days=5)])
    settled = await debtor(tenant.id, [DAY + dt.timedelta(days=3)])
    small = await debtor(tenant.id, [DAY - dt.timedelta(days=20)], amount="50.00")
    async with transaction(system(tenant.id)) as session:
        session.add(Hold(tenant_id=tenant.id, id=uuid7(), debtor_id=held, kind="dispute",
                         reason="contesta", starts_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
                         set_by_email="a@b.c"))
        await session.execute(text("UPDATE debt SET status = 'in_agreement'"
                                   " WHERE debtor_id = :d"), {"d": settled})
    # An import that began before the first run and commits after it: the first run
    # cannot see its debtor, the rerun must.
    late = uuid7()
    async with db.transaction(Scope.tenant(tenant.id)) as other:
        other.add(Debtor(tenant_id=tenant.id, id=late, document="52998224725",
                         document_kind="cpf", name="Bruno Lima", state="SP"))
        other.add(ContactPoint(tenant_id=tenant.id, id=uuid7(), debtor_id=late, kind="email",
                               value="bruno@ex.com.br", source="portfolio"))
        other.add(Debt(tenant_id=tenant.id, id=uuid7(), debtor_id=late, portfolio_id=uuid7(),
                       last_portfolio_id=uuid7(), contract="C-LATE", installment=1,
                       original_amount=Decimal("80.00"), current_balance=Decimal("80.00"),
                       due_date=DAY + dt.timedelta(days=3)))
        await other.flush()
        first = await run(tenant.id)
    assert first.added == 3  # D+0 e-mail and SMS, D+5 WhatsApp
    assert (await run(tenant.id)).added == 1  # the late import's D-3 e-mail
    assert (await run(tenant.id)).added == 0

    # The dispute ends, the agreement breaks (the debt reopens), a fee lifts the small
    # debt over the D+20 call's amount, and a new debtor arrives due in three days.
    newcomer = await debtor(tenant.id, [DAY + dt.timedelta(days=3)])
    async with transaction(system(tenant.id)) as session:
        await session.execute(text("UPDATE hold SET ends_at = :t WHERE debtor_id = :d"),
                              {"t": dt.datetime(2027, 3, 1, tzinfo=dt.UTC), "d": held})
        await session.execute(text("UPDATE debt SET status = 'open' WHERE debtor_id = :d"),
                              {"d": settled})
        await session.execute(text("UPDATE debt SET current_balance = 150"
                                   " WHERE debtor_id = :d"), {"d": small})
    rerun = await run(tenant.id)
    assert rerun.added == 4
    for person, step_day in ((late, -3), (held, 5), (settled, -3), (small, 20),
                             (newcomer, -3)):
        assert [a.step_day for a in await actions_of(tenant.id, person)] == [step_day]
    assert rerun.as_json()["by_step"] == (await whole_day(tenant.id))["by_step"]
    assert (await run(tenant.id)).added == 0


async def test_the_calendar_blocks_holidays_and_quiet_days_and_times_the_windows(factory):
    holiday = dt.date(2027, 7, 9)  # a Friday, São Paulo's Revolução Constitucionalista
    six_in_sp = dt.datetime(2027, 7, 9, 9, 0, tzinfo=dt.UTC)  # 07:00 on Noronha

    async def plan(tenant_id: uuid.UUID) -> None:
        async with transaction(system(tenant_id)) as session:
            await engine.run(session, TenantId(tenant_id), holiday, now=six_in_sp)

    async def sms_of(tenant_id: uuid.UUID, person: uuid.UUID) -> tuple[object, ...]:
        [sms] = [a for a in await actions_of(tenant_id, person) if a.channel == "sms"]
        return sms.state, sms.reason, sms.send_after

    tenant = await factory.tenant()
    await load(tenant.id)
    in_sp = await debtor(tenant.id, [holiday])  # D0: e-mail and SMS
    in_rj = await debtor(tenant.id, [holiday], state="RJ")
    on_noronha = await debtor(tenant.id, [holiday], state="PE")
    async with transaction(system(tenant.id)) as session:
        await session.execute(text("UPDATE debtor SET timezone = 'America/Noronha'"
                                   " WHERE id = :d"), {"d": on_noronha})
    await plan(tenant.id)
    assert await sms_of(tenant.id, in_sp) == ("blocked", "holiday", None)
    assert [a.state for a in await actions_of(tenant.id, in_sp) if a.channel == "email"] \
        == ["planned"]  # a mailbox knows no holiday
    assert await sms_of(tenant.id, in_rj) == ("planned", None, dt.datetime(
        2027, 7, 9, 11, 0, tzinfo=dt.UTC))  # 08:00 in Rio
    assert await sms_of(tenant.id, on_noronha) == ("planned", None, dt.datetime(
        2027, 7, 9, 10, 0, tzinfo=dt.UTC))  # 08:00 on the islands

    quiet = await factory.tenant()
    await load(quiet.id)
    async with transaction(staff(quiet.id)) as session:
        await policy.set_policy(session, staff(quiet.id), TenantId(quiet.id),
                                {"quiet_days": [holiday.isoformat()]})
    person = await debtor(quiet.id, [holiday], state="RJ")
    await plan(quiet.id)
    assert {(a.channel, a.state, a.reason) for a in await actions_of(quiet.id, person)} == {
        ("email", "blocked", "tenant_quiet_day"), ("sms", "blocked", "tenant_quiet_day")}


async def test_a_rerun_after_a_new_version_plans_the_whole_day_again(factory):
    tenant = await factory.tenant()
    await load(tenant.id)
    waiting = await debtor(tenant.id, [DAY - dt.timedelta(days=12)])
    assert (await run(tenant.id)).added == 0  # no step on D+12 yet
    await load(tenant.id, YAML + "  - day: 12\n    channels: [sms]\n")
    assert (await run(tenant.id)).added == 1
    [sms] = await actions_of(tenant.id, waiting)
    assert (sms.step_day, sms.channel) == (12, "sms")


async def test_every_stop_holds_and_a_debt_resumes_where_the_calendar_is(factory):
    tenant = await factory.tenant()
    await load(tenant.id)
    held = await debtor(tenant.id, [DAY - dt.timedelta(days=5)])
    agreed = await debtor(tenant.id, [DAY - dt.timedelta(days=5)])
    paid = await debtor(tenant.id, [DAY - dt.timedelta(days=5)])
    opted = await debtor(tenant.id, [DAY], phone=True)
    async with transaction(system(tenant.id)) as session:
        session.add(Hold(tenant_id=tenant.id, id=uuid7(), debtor_id=held, kind="dispute",
                         reason="contesta", starts_at=dt.datetime(2027, 1, 1, tzinfo=dt.UTC),
                         ends_at=dt.datetime(2027, 3, 20, tzinfo=dt.UTC),
                         set_by_email="a@b.c"))
        await session.execute(text("UPDATE debt SET status = 'in_agreement' WHERE debtor_id = :d"),
                              {"d": agreed})
        await session.execute(text("UPDATE debt SET status = 'paid' WHERE debtor_id = :d"),
                              {"d": paid})
        point = (await session.execute(select(ContactPoint).where(
            ContactPoint.debtor_id == opted, ContactPoint.kind == "phone"))).scalar_one()
        session.add(ContactOptOut(tenant_id=tenant.id, id=uuid7(), contact_point_id=point.id,
                                  channel="sms", source="debtor"))
    await run(tenant.id)
    assert await actions_of(tenant.id, held) == []
    assert await actions_of(tenant.id, agreed) == []
    assert await actions_of(tenant.id, paid) == []
    states = {(a.channel, a.state, a.reason) for a in await actions_of(tenant.id, opted)}
    assert states == {("email", "planned", None), ("sms", "blocked", "opted_out")}
    # The dispute ends on 20/03: the D+5 step (10/03) is not replayed; D+20 (25/03) comes.
    for offset in range(1, 16):
        await run(tenant.id, DAY + dt.timedelta(days=offset))
    resumed = await actions_of(tenant.id, held)
    assert [(a.day, a.step_day) for a in resumed] == [(DAY + dt.timedelta(days=15), 20)]


async def test_a_debtor_without_the_channel_gets_the_fallback_or_a_blocked_action(factory):
    tenant = await factory.tenant()
    await load(tenant.id)
    no_phone = await debtor(tenant.id, [DAY - dt.timedelta(days=5)], phone=False)
    await run(tenant.id)
    [action] = await actions_of(tenant.id, no_phone)
    assert (action.step_channel, action.state, action.reason) == ("whatsapp", "blocked",
                                                                 "no_contact_point")
    tenant2 = await factory.tenant()
    await load(tenant2.id, YAML.replace("fallback: sms", "fallback: email"))
    has_email = await debtor(tenant2.id, [DAY - dt.timedelta(days=5)], phone=False)
    await run(tenant2.id)
    [action] = await actions_of(tenant2.id, has_email)
    assert (action.step_channel, action.channel, action.state) == ("whatsapp", "email",
                                                                  "planned")


async def test_conditions_apply_in_the_statement(factory):
    tenant = await factory.tenant()
    await load(tenant.id)
    small = await debtor(tenant.id, [DAY - dt.timedelta(days=20)], amount="50.00")
    elsewhere = await debtor(tenant.id, [DAY - dt.timedelta(days=20)], state="BA")
    fits = await debtor(tenant.id, [DAY - dt.timedelta(days=20)], state="RJ")
    await run(tenant.id)
    assert await actions_of(tenant.id, small) == []
    assert await actions_of(tenant.id, elsewhere) == []
    [call] = await actions_of(tenant.id, fits)
    assert (call.channel, call.state) == ("call", "planned")


async def test_a_new_version_leaves_running_enrolments_on_theirs_until_moved(factory):
    tenant = await factory.tenant()
    first = await load(tenant.id)
    enrolled = await debtor(tenant.id, [DAY + dt.timedelta(days=3)])
    await run(tenant.id)
    second = await load(tenant.id, YAML.replace("day: 5", "day: 6"), activate=False)
    assert (first.version, second.version) == (1, 2) and first.cadence_id == second.cadence_id
    newcomer = await debtor(tenant.id, [DAY - dt.timedelta(days=5)])
    await run(tenant.id, DAY + dt.timedelta(days=1))  # the newcomer's D+6 under v2
    await run(tenant.id, DAY + dt.timedelta(days=8))  # enrolled's due + 5
    async with transaction(system(tenant.id)) as session:
        versions = {d: v for d, v in (await session.execute(select(
            CadenceEnrolment.debtor_id, CadenceEnrolment.version_id))).all()}
    assert versions[enrolled] == first.version_id
    assert [a.step_day for a in await actions_of(tenant.id, enrolled)] == [-3, 5]
    assert versions[newcomer] == second.version_id
    assert [a.step_day for a in await actions_of(tenant.id, newcomer)] == [6]
    async with transaction(staff(tenant.id)) as session:
        moved = await service.move_enrolments(session, staff(tenant.id), TenantId(tenant.id),
                                              first.cadence_id)
    assert moved == 1


async def test_champion_and_challenger_split_debtors_stably(factory):
    tenant = await factory.tenant()
    await load(tenant.id)
    other = await load(tenant.id, YAML.replace("Régua padrão", "Régua acelerada"),
                       activate=False)
    async with transaction(staff(tenant.id)) as session:
        policy = await service.set_challenger(session, staff(tenant.id), TenantId(tenant.id),
                                              other.cadence_id, 30)
        salt = policy.salt
    ids = [await debtor(tenant.id, [DAY]) for _ in range(40)]
    await run(tenant.id)
    await run(tenant.id, DAY + dt.timedelta(days=1))
    async with transaction(system(tenant.id)) as session:
        arms = {d: a for d, a in (await session.execute(select(
            CadenceAction.debtor_id, CadenceAction.arm))).all()}
    expected = {d: "challenger" if engine.side(salt, d) < 30 else "champion" for d in ids}
    assert arms == expected
    assert {"champion", "challenger"} <= set(arms.values())


def test_the_yaml_round_trips_and_its_errors_name_the_step_and_field():
    parsed = cdef.parse(YAML)
    assert cdef.parse(cdef.dump(parsed)) == parsed
    assert parsed.steps[3].when.amount_min == Decimal("100.00")
    cases = {
        "name: X\nsteps:\n  - day: 5\n    channels: [fax]\n":
            ("steps[1].channels", "passo 1 (dia 5), campo channels: canal desconhecido 'fax'"),
        "name: X\nsteps:\n  - day: 2\n    channels: [sms]\n    when: {score_max: 2000}\n":
            ("steps[1].when.score_max", "passo 1 (dia 2), campo score_max"),
        "name: X\nsteps:\n  - channels: [sms]\n": ("steps[1].day", "campo day: obrigatório"),
        "name: X\nsteps:\n  - day: 1\n    channels: [sms]\n    fallback: sms\n":
            ("steps[1].fallback", "diferente"),
        "name: X\nsteps:\n  - day: 1\n    channels: [sms]\n    when: {states: [XX]}\n":
            ("steps[1].when.states", "UF desconhecida 'XX'"),
        "name: [": ("arquivo", "YAML inválido"),
    }
    for source, (field, words) in cases.items():
        with pytest.raises(ValidationFailed) as caught:
            cdef.parse(source)
        assert isinstance(caught.value.detail, dict)
        assert field in caught.value.detail and words in caught.value.detail[field], source


async def test_an_unknown_template_is_refused_naming_the_step(factory):
    tenant = await factory.tenant()
    with pytest.raises(ValidationFailed) as caught:
        await load(tenant.id, YAML.replace("channels: [email]\n", "channels: [email]\n"
                                           "    template: lembrete\n", 1))
    assert "passo 1 (dia -3)" in str(caught.value) and "lembrete" in str(caught.value)


async def test_a_second_tenant_sees_neither_the_cadences_nor_the_actions(factory):
    alfa, beta = await factory.tenant(), await factory.tenant()
    loaded = await load(alfa.id)
    person = await debtor(alfa.id, [DAY])
    await run(alfa.id)
    async with transaction(staff(beta.id)) as session:
        with pytest.raises(NotFound):
            await service.access_cadence(session, staff(beta.id), loaded.cadence_id)
        assert await service.list_cadences(session, TenantId(beta.id)) == []
        seen = (await session.execute(select(CadenceAction).where(
            CadenceAction.debtor_id == person))).all()
        marks = (await session.execute(select(CadencePlanMark))).all()
    assert seen == [] and marks == []
    async with transaction(staff(alfa.id)) as session:
        assert [c.name for c in await service.list_cadences(session, TenantId(alfa.id))] \
            == ["Régua padrão"]
        assert [m.day for m in (await session.execute(select(CadencePlanMark))).scalars()] \
            == [DAY]


SCORED = """
name: Régua por score
steps:
  - day: 5
    channels: [email]
    when: {score_min: 600}
  - day: 5
    channels: [sms]
    when: {score_max: 599}
  - day: 10
    channels: [whatsapp]
    when: {segments: [primeiro_atraso]}
"""


async def score(tenant_id: uuid.UUID, debtor_id: uuid.UUID, value: int,
                segments: list[str]) -> None:
    async with transaction(system(tenant_id)) as session:
        session.add(DebtorScore(tenant_id=tenant_id, debtor_id=debtor_id, score=value,
                                band=band_of(value), segments=segments, inputs={}, reasons=[],
                                method="rules", scored_at=dt.datetime(2027, 3, 9, tzinfo=dt.UTC)))


async def test_score_and_segment_conditions_pick_the_debtors_the_score_names(factory):
    tenant = await factory.tenant()
    await load(tenant.id, SCORED)
    five, ten = [DAY - dt.timedelta(days=5)], [DAY - dt.timedelta(days=10)]
    high, low, edge, unscored = [await debtor(tenant.id, five) for _ in range(4)]
    first_delay, habitual = await debtor(tenant.id, ten), await debtor(tenant.id, ten)
    await score(tenant.id, high, 850, [])
    await score(tenant.id, low, 210, ["devedor_viciado"])
    await score(tenant.id, edge, 600, [])
    await score(tenant.id, first_delay, 500, ["primeiro_atraso", "saldo_alto"])
    await score(tenant.id, habitual, 500, ["devedor_viciado"])
    await run(tenant.id)
    channels = {d: [a.channel for a in await actions_of(tenant.id, d)]
                for d in (high, low, edge, unscored, first_delay, habitual)}
    assert channels == {high: ["email"], low: ["sms"], edge: ["email"], unscored: [],
                        first_delay: ["whatsapp"], habitual: []}


async def test_the_plan_follows_the_scores_the_refresh_computes(factory):
    tenant = await factory.tenant()
    await load(tenant.id, SCORED)
    people = [await debtor(tenant.id, [DAY - dt.timedelta(days=5)], amount=amount)
              for amount in ("80.00", "300.00", "4500.00", "25000.00")]
    async with transaction(system(tenant.id)) as session:
        await scoring.refresh(session, TenantId(tenant.id),
                              dt.datetime(2027, 3, 10, 9, tzinfo=dt.UTC))
        scores = dict((await session.execute(select(DebtorScore.debtor_id, DebtorScore.score)
                                             )).all())
    assert set(scores) == set(people)
    await run(tenant.id)
    for person in people:
        expected = "email" if scores[person] >= 600 else "sms"
        assert [a.channel for a in await actions_of(tenant.id, person)] == [expected]


def test_an_unknown_segment_is_refused_naming_the_known_ones():
    with pytest.raises(ValidationFailed) as caught:
        cdef.parse(SCORED.replace("primeiro_atraso", "caloteiro"))
    message = caught.value.detail["steps[3].when.segments"]  # type: ignore[index]
    assert "segmento desconhecido 'caloteiro'" in message and "primeiro_atraso" in message
