"""The agenda: callbacks first, never one debtor to two agents, dispositions' required
fields and effects, the tenant wall."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from core.access import transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.errors import Forbidden, NotFound, ValidationFailed
from core.ids import uuid7
from core.models import ContactPoint, Debtor, Hold, Interaction
from dialer import agenda, dispositions
from dialer.models import AgendaItem, AgendaKind, AgendaState
from tests.core.test_collection_model import creditor, place
from tests.dialer.test_campaigns import MONDAY_10H, random_cpf, system


def agent(*tenant_ids: uuid.UUID, role: Role = Role.AGENT) -> Principal:
    return Principal(user_id=uuid7(), email="op@regua.test", full_name="Operadora",
                     role=role, tenant_id=None, tenant_ids=frozenset(tenant_ids))


async def debtors(tenant_id: uuid.UUID, n: int) -> list:
    staff = creditor(tenant_id)
    return [await place(staff, tenant_id, document=random_cpf(), amount="200.00",
                        due_dates=(dt.date(2026, 6, 1),)) for _ in range(n)]


async def callbacks(tenant_id: uuid.UUID, placed: list, due: dt.datetime) -> None:
    async with transaction(system(tenant_id)) as session:
        for p in placed:
            await agenda.add_item(session, tenant_id, p.debtor_id, AgendaKind.CALLBACK, due,
                                  created_by=None)


async def test_many_agents_pressing_next_at_once_never_share_a_debtor(factory, services):
    tenant = await factory.tenant()
    placed = await debtors(tenant.id, 8)
    await callbacks(tenant.id, placed, MONDAY_10H - dt.timedelta(minutes=5))
    team = [agent(tenant.id) for _ in range(14)]
    got = await asyncio.gather(*(agenda.take_next(a, at=MONDAY_10H) for a in team))
    taken = [item.debtor_id for item in got if item is not None]
    assert len(taken) == len(set(taken)) == 8
    assert got.count(None) == 6
    # Pressing "Próximo" again gives the held debtor back and takes the next one.
    again = await agenda.take_next(team[0], at=MONDAY_10H)
    assert again is None or again.debtor_id == got[0].debtor_id  # type: ignore[union-attr]


async def test_order_callback_then_promise_and_the_guard_first(factory, services):
    tenant = await factory.tenant()
    a, b, c = await debtors(tenant.id, 3)
    op = agent(tenant.id)
    async with transaction(system(tenant.id)) as session:
        await agenda.add_item(session, tenant.id, a.debtor_id, AgendaKind.PROMISE,
                              MONDAY_10H - dt.timedelta(hours=1), created_by=None,
                              amount=None, promised_on=MONDAY_10H.date())
        await agenda.add_item(session, tenant.id, b.debtor_id, AgendaKind.CALLBACK,
                              MONDAY_10H - dt.timedelta(minutes=1), created_by=None)
        await agenda.add_item(session, tenant.id, c.debtor_id, AgendaKind.CALLBACK,
                              MONDAY_10H + dt.timedelta(hours=1), created_by=None)
    first = await agenda.take_next(op, at=MONDAY_10H)
    assert first is not None and first.debtor_id == b.debtor_id
    await dispositions.dispose(op, b.debtor_id, dispositions.Form("refused"), at=MONDAY_10H)
    second = await agenda.take_next(op, at=MONDAY_10H)
    assert second is not None and second.debtor_id == a.debtor_id
    # At 21:00 the calling window is closed: the item waits for the next morning.
    await dispositions.dispose(op, a.debtor_id, dispositions.Form("refused"), at=MONDAY_10H)
    late = MONDAY_10H.replace(hour=21)
    assert await agenda.take_next(op, at=late) is None
    async with transaction(system(tenant.id)) as session:
        row = (await session.execute(select(AgendaItem).where(
            AgendaItem.debtor_id == c.debtor_id))).scalar_one()
        assert row.state == AgendaState.OPEN
        assert row.due_at == MONDAY_10H.replace(day=8, hour=8)


async def test_dispositions_require_their_fields_in_portuguese(factory, services):
    tenant = await factory.tenant()
    [p] = await debtors(tenant.id, 1)
    op = agent(tenant.id)
    with pytest.raises(ValidationFailed) as missing:
        await dispositions.dispose(op, p.debtor_id, dispositions.Form("promise"),
                                   at=MONDAY_10H)
    assert missing.value.detail == {"promise_date": "informe a data prometida",
                                    "promise_amount": "informe o valor prometido (ex.: 150,00)"}
    with pytest.raises(ValidationFailed) as bad:
        await dispositions.dispose(op, p.debtor_id, dispositions.Form(
            "promise", promise_date="2026-12-01", promise_amount="0"), at=MONDAY_10H)
    assert set(bad.value.detail) == {"promise_date", "promise_amount"}
    with pytest.raises(ValidationFailed) as callback:
        await dispositions.dispose(op, p.debtor_id, dispositions.Form(
            "callback", callback_date="2026-12-07"), at=MONDAY_10H)
    assert callback.value.detail == {"callback_time": "informe a hora do retorno"}
    with pytest.raises(ValidationFailed):
        await dispositions.dispose(op, p.debtor_id, dispositions.Form("sumiu"), at=MONDAY_10H)


async def test_dispositions_effects(factory, services):
    tenant = await factory.tenant()
    a, b, c, d = await debtors(tenant.id, 4)
    op = agent(tenant.id)
    saved = await dispositions.dispose(op, a.debtor_id, dispositions.Form(
        "promise", promise_date="2026-12-10", promise_amount="1.234,50", note="paga na sexta"),
        contact_point_id=a.phone_id, at=MONDAY_10H)
    await dispositions.dispose(op, b.debtor_id, dispositions.Form("wrong_number"),
                               contact_point_id=b.phone_id, at=MONDAY_10H)
    await dispositions.dispose(op, c.debtor_id, dispositions.Form("deceased"),
                               contact_point_id=c.phone_id, at=MONDAY_10H)
    await dispositions.dispose(op, d.debtor_id, dispositions.Form(
        "callback", callback_date="2026-12-08", callback_time="15:30"), at=MONDAY_10H)
    async with transaction(system(tenant.id)) as session:
        item = (await session.execute(select(AgendaItem).where(
            AgendaItem.id == saved.agenda_item_id))).scalar_one()
        assert (item.kind, str(item.amount), item.promised_on) == (
            "promise", "1234.50", dt.date(2026, 12, 10))
        good = await session.get(ContactPoint, (tenant.id, a.phone_id))
        wrong = await session.get(ContactPoint, (tenant.id, b.phone_id))
        assert (good.quality, wrong.quality) == ("good", "wrong_party")  # type: ignore[union-attr]
        hold = (await session.execute(select(Hold).where(
            Hold.debtor_id == c.debtor_id))).scalar_one()
        assert hold.kind == "deceased"
        dead = (await session.execute(select(Debtor).where(
            Debtor.id == c.debtor_id))).scalar_one()
        assert dead.deceased_on is not None
        back = (await session.execute(select(AgendaItem).where(
            AgendaItem.debtor_id == d.debtor_id))).scalar_one()
        assert back.kind == "callback" and back.assigned_to == op.user_id
        outcome = (await session.execute(select(Interaction.details).where(
            Interaction.id == saved.interaction_id))).scalar_one()
        assert outcome["promise_amount"] == "1234.50"
    # The callback is this agent's at 15:30 the next day (the guard's daily cap keeps a
    # debtor answered today off the agenda until then), not someone else's.
    at_1530 = MONDAY_10H.replace(day=8, hour=15, minute=31)
    assert await agenda.take_next(agent(tenant.id), at=at_1530) is None
    mine = await agenda.take_next(op, at=at_1530)
    assert mine is not None and mine.debtor_id == d.debtor_id


async def test_other_tenants_agenda_is_not_found_and_creditors_are_refused(factory, services):
    alfa, beta = await factory.tenant(), await factory.tenant()
    [p] = await debtors(beta.id, 1)
    await callbacks(beta.id, [p], MONDAY_10H - dt.timedelta(minutes=5))
    op = agent(alfa.id)
    assert await agenda.take_next(op, at=MONDAY_10H) is None
    assert await agenda.upcoming(op, at=MONDAY_10H) == []
    with pytest.raises(NotFound):
        await dispositions.dispose(op, p.debtor_id, dispositions.Form("refused"),
                                   at=MONDAY_10H)
    with pytest.raises(Forbidden):
        await agenda.take_next(creditor(beta.id), at=MONDAY_10H)
    with pytest.raises(Forbidden):
        await dispositions.dispose(creditor(beta.id, Role.CREDITOR_ADMIN), p.debtor_id,
                                   dispositions.Form("refused"), at=MONDAY_10H)
