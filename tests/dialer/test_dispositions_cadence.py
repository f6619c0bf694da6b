"""Dispositions feed the debtor's cadence through what core reads (holds and contact
points): a promise pauses the cadence's messages and calls until the promised day plus
the tolerance, and the agenda calls when it ends; a new promise replaces the old one; a
refusal ends it; a wrong number takes the phone off every step and puts the dialer's
list entry back for the debtor's next phone."""

from __future__ import annotations

import datetime as dt
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.access import DebtorId, TenantId, transaction
from core.cadence import actions
from core.collection import contacts
from core.compliance import guard
from core.ids import uuid7
from core.models import Channel, ContactPoint, Hold
from dialer import campaigns, dispositions
from dialer.models import AgendaItem, CallOutcome, CampaignEntry, EntryState
from tests.core.test_cadence import DAY, actions_of, debtor, load, run, system
from tests.dialer.test_agenda import agent

SP = ZoneInfo("America/Sao_Paulo")
AT_10H = dt.datetime.combine(DAY, dt.time(10), tzinfo=SP)
YAML = """
name: Régua com ligação
steps:
  - day: 5
    channels: [sms]
  - day: 6
    channels: [call]
  - day: 10
    channels: [sms]
"""


async def phone_of(tenant_id: uuid.UUID, debtor_id: uuid.UUID) -> uuid.UUID:
    async with transaction(system(tenant_id)) as session:
        return (await session.execute(select(ContactPoint.id).where(
            ContactPoint.debtor_id == debtor_id, ContactPoint.kind == "phone"))).scalar_one()


async def promise_holds(tenant_id: uuid.UUID, debtor_id: uuid.UUID,
                        at: dt.datetime) -> list[Hold]:
    async with transaction(system(tenant_id)) as session:
        return list((await session.execute(select(Hold).where(
            Hold.debtor_id == debtor_id, Hold.kind == "promise", Hold.starts_at <= at,
            (Hold.ends_at.is_(None)) | (Hold.ends_at > at)))).scalars())


async def sms_verdict(tenant_id: uuid.UUID, debtor_id: uuid.UUID,
                      at: dt.datetime) -> guard.Verdict:
    async with transaction(system(tenant_id)) as session:
        return await guard.check(session, DebtorId(debtor_id), Channel.SMS, at)


async def test_a_promise_pauses_the_cadence_until_the_promised_day_and_its_tolerance(
        factory, services):
    tenant = await factory.tenant()
    await load(tenant.id, YAML)
    ana = await debtor(tenant.id, [DAY - dt.timedelta(days=5)])
    await run(tenant.id, DAY)  # today's SMS is planned, before the call
    [planned] = await actions_of(tenant.id, ana)
    op = agent(tenant.id)
    promised = DAY + dt.timedelta(days=2)
    await dispositions.dispose(op, ana, dispositions.Form(
        "promise", promise_date=promised.isoformat(), promise_amount="250,00"),
        contact_point_id=await phone_of(tenant.id, ana), at=AT_10H)

    ends = dt.datetime.combine(promised + dt.timedelta(days=3), dt.time(0), tzinfo=SP)
    [hold] = await promise_holds(tenant.id, ana, AT_10H)
    assert hold.ends_at == ends and hold.debt_id is None
    assert hold.reason == f"Promessa de pagamento de R$ 250,00 para {promised:%d/%m/%Y}"
    # The planned SMS is refused at its send, with the promise as the reason ...
    async with transaction(system(tenant.id)) as session:
        await actions.send(session, planned.id, now=AT_10H + dt.timedelta(minutes=5))
    [blocked] = await actions_of(tenant.id, ana)
    assert (blocked.state, blocked.reason) == ("blocked", "hold:promise")
    # ... tomorrow's call step is not planned, nor anything through the tolerance ...
    await run(tenant.id, DAY + dt.timedelta(days=1))
    assert [a.step_day for a in await actions_of(tenant.id, ana)] == [5]
    verdict = await sms_verdict(tenant.id, ana, AT_10H + dt.timedelta(days=1))
    assert verdict.code == "hold:promise"
    assert verdict.next_allowed_at == ends.replace(hour=8)  # the window opens at 8h
    # ... and the day after the tolerance the cadence goes on, and the agenda calls.
    await run(tenant.id, DAY + dt.timedelta(days=5))
    assert [(a.step_day, a.state) for a in await actions_of(tenant.id, ana)] == [
        (5, "blocked"), (10, "planned")]
    async with transaction(system(tenant.id)) as session:
        item = (await session.execute(select(AgendaItem).where(
            AgendaItem.debtor_id == ana))).scalar_one()
    assert (item.kind, item.due_at) == ("promise", ends.replace(hour=9))


async def test_a_new_promise_replaces_the_old_and_a_refusal_ends_it(factory, services):
    tenant = await factory.tenant()
    bia = await debtor(tenant.id, [DAY - dt.timedelta(days=5)])
    op = agent(tenant.id)
    phone = await phone_of(tenant.id, bia)
    for days in (2, 4):
        await dispositions.dispose(op, bia, dispositions.Form(
            "promise", promise_date=(DAY + dt.timedelta(days=days)).isoformat(),
            promise_amount="100"), contact_point_id=phone, at=AT_10H)
    [running] = await promise_holds(tenant.id, bia, AT_10H)
    assert running.ends_at == dt.datetime.combine(DAY + dt.timedelta(days=7), dt.time(0),
                                                  tzinfo=SP)
    later = AT_10H + dt.timedelta(hours=1)
    await dispositions.dispose(op, bia, dispositions.Form("refused"),
                               contact_point_id=phone, at=later)
    assert await promise_holds(tenant.id, bia, later) == []
    assert (await sms_verdict(tenant.id, bia, later + dt.timedelta(minutes=1))).allowed


async def test_a_wrong_number_leaves_every_step_and_the_entry_tries_the_next_phone(
        factory, services):
    tenant = await factory.tenant()
    await load(tenant.id, YAML)
    cai = await debtor(tenant.id, [DAY - dt.timedelta(days=6)])  # the call step today
    duda = await debtor(tenant.id, [DAY - dt.timedelta(days=6)])
    async with transaction(system(tenant.id)) as session:
        session.add(ContactPoint(tenant_id=tenant.id, id=uuid7(), debtor_id=duda,
                                 kind="phone", value="+5521988887777", source="portfolio"))
        boss = system(tenant.id)
        row = await campaigns.create_campaign(session, boss, TenantId(tenant.id),
                                              campaigns.NewCampaign(name="Ligações"))
        await campaigns.build_list(session, boss, campaigns.CampaignId(row.id))
        await campaigns.set_status(session, boss, campaigns.CampaignId(row.id), "active")
        dials = await campaigns.claim(session, row, 2, dialer_id="test", worker_id=0,
                                      at=AT_10H)
        for dial in dials:
            await campaigns.finish(session, campaigns.Result(
                dial.call_id, CallOutcome.ANSWERED, sip_code=200, answered_at=AT_10H,
                ended_at=AT_10H + dt.timedelta(minutes=1)))
    assert len(dials) == 2
    op = agent(tenant.id)
    for dial in dials:
        await dispositions.dispose(op, dial.debtor_id, dispositions.Form("wrong_number"),
                                   call_id=dial.call_id, at=AT_10H + dt.timedelta(minutes=2))
    async with transaction(system(tenant.id)) as session:
        entries = {e.debtor_id: e for e in (await session.execute(
            select(CampaignEntry))).scalars()}
        left = {d: [p.value for p in await contacts.usable(session, DebtorId(d),
                                                            Channel.CALL)]
                for d in (cai, duda)}
        graded = {d.debtor_id: (await session.get(ContactPoint, (
            tenant.id, d.contact_point_id))).quality for d in dials}  # type: ignore[union-attr]
    assert graded == {cai: "wrong_party", duda: "wrong_party"}
    assert left == {cai: [], duda: ["+5521988887777"]}
    # Duda's entry is due again for the other phone; Cai has none left.
    assert (entries[duda].state, entries[duda].last_outcome) == (EntryState.PENDING,
                                                                 "wrong_number")
    assert entries[cai].state == EntryState.DONE
    # The cadence's call step finds no phone for Cai and Duda's other one.
    await run(tenant.id, DAY)
    [cai_call] = await actions_of(tenant.id, cai)
    [duda_call] = await actions_of(tenant.id, duda)
    assert (cai_call.state, cai_call.reason) == ("blocked", "no_contact_point")
    assert duda_call.state == "planned"
