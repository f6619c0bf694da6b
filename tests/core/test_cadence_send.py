"""A cadence action from the plan to the debtor: `actions.send` (what `cadence.send` runs)
goes through the guard and the channels to the sandbox's SMTP server, and the action reads
`sent`; a WhatsApp the provider reports failed later gets the step's SMS from the sweep."""

from __future__ import annotations

import asyncio
import datetime as dt
import uuid

import pytest
from sqlalchemy import select, text

from core.access import transaction
from core.cadence import actions
from core.channels import sandbox
from core.models import MessageDispatch
from core.settings import get_settings
from tests.core.test_cadence import DAY, actions_of, debtor, load, run, system
from tests.core.test_channels import ADDRESS, sandbox_servers, set_address, web_url

__all__ = ["sandbox_servers", "web_url"]  # the fixtures, shared with the channel tests
NOON = dt.datetime.combine(DAY, dt.time(15), tzinfo=dt.UTC)  # 12:00 in São Paulo


@pytest.fixture
def via_sandbox(sandbox_servers, monkeypatch):  # type: ignore[no-untyped-def]
    """The process's settings point at the test's sandbox, as `regua up`'s do at its own."""
    monkeypatch.setenv("REGUA_SANDBOX_URL", sandbox_servers.url)
    monkeypatch.setenv("REGUA_SANDBOX_SMTP_PORT", str(sandbox_servers.smtp_port))
    get_settings.cache_clear()
    yield get_settings()
    monkeypatch.undo()
    get_settings.cache_clear()


async def send(tenant_id, action_id) -> list:  # type: ignore[no-untyped-def]
    async with transaction(system(tenant_id)) as session:
        return await actions.send(session, action_id, now=NOON)


async def dispatch(tenant_id, dispatch_id) -> MessageDispatch:  # type: ignore[no-untyped-def]
    async with transaction(system(tenant_id)) as session:
        return (await session.execute(select(MessageDispatch).where(
            MessageDispatch.id == dispatch_id))).scalar_one()


async def test_a_planned_email_reaches_the_smtp_server_and_reads_sent(factory, database_url,
                                                                      via_sandbox):
    tenant = await factory.tenant()
    set_address(database_url, tenant.id, ADDRESS)
    await load(tenant.id)
    person = await debtor(tenant.id, [DAY + dt.timedelta(days=3)])  # the D-3 reminder
    await run(tenant.id)
    [planned] = await actions_of(tenant.id, person)
    assert (planned.channel, planned.state) == ("email", "planned")
    assert await send(tenant.id, planned.id) == []
    [action] = await actions_of(tenant.id, person)
    assert action.state == "sent" and action.dispatch_id is not None
    message = await dispatch(tenant.id, action.dispatch_id)
    got = sandbox.received(via_sandbox, "smtp", message.provider_message_id)
    assert got is not None and "Olá, Ana Souza." in got["text"] and ADDRESS in got["text"]
    assert await send(tenant.id, action.id) == []  # a second send job changes nothing
    assert [a.state for a in await actions_of(tenant.id, person)] == ["sent"]


async def test_a_late_failure_report_gets_the_fallback_from_the_sweep(factory, database_url,
                                                                     via_sandbox):
    tenant = await factory.tenant()
    set_address(database_url, tenant.id, ADDRESS)
    await load(tenant.id)
    person = await debtor(tenant.id, [DAY - dt.timedelta(days=5)])  # D+5: WhatsApp, or SMS
    async with transaction(system(tenant.id)) as session:
        # A number the sandbox accepts, then reports undeliverable through its callback.
        await session.execute(text("UPDATE contact_point SET value = '+5511987650000'"
                                   " WHERE debtor_id = :d AND kind = 'phone'"), {"d": person})
    await run(tenant.id)
    [whatsapp] = await actions_of(tenant.id, person)
    assert (whatsapp.channel, whatsapp.state) == ("whatsapp", "planned")
    assert await send(tenant.id, whatsapp.id) == []
    [sent] = await actions_of(tenant.id, person)
    assert sent.state == "sent"
    for _ in range(100):  # the provider's callback arrives on its own time
        if (await dispatch(tenant.id, sent.dispatch_id)).status == "failed":
            break
        await asyncio.sleep(0.1)
    async with transaction(system(tenant.id)) as session:
        follow = await actions.sweep(session, tenant.id, DAY)
    assert len(follow) == 1
    assert await send(tenant.id, follow[0]) == []
    states = {(a.channel, a.state) for a in await actions_of(tenant.id, person)}
    assert states == {("whatsapp", "failed"), ("sms", "sent")}


async def test_two_creditors_sending_to_one_debtor_at_once_pass_the_cap_once(
        factory, database_url, via_sandbox):
    # The agency allows one SMS a day per debtor, whoever sends it. Two workers send the
    # day's SMS of two creditors to the same person at the same moment.
    document = str(uuid.uuid4().int)[:11]
    actions_by_tenant = {}
    for _ in range(2):
        tenant = await factory.tenant()
        set_address(database_url, tenant.id, ADDRESS)
        await load(tenant.id)
        person = await debtor(tenant.id, [DAY], document=document)  # D0: e-mail and SMS
        await run(tenant.id)
        [sms] = [a for a in await actions_of(tenant.id, person) if a.channel == "sms"]
        actions_by_tenant[tenant.id] = (person, sms.id)
    await asyncio.gather(*(send(tenant_id, action_id)
                           for tenant_id, (_, action_id) in actions_by_tenant.items()))
    outcomes = sorted([(a.state, a.reason) for tenant_id, (person, _) in actions_by_tenant.items()
                       for a in await actions_of(tenant_id, person) if a.channel == "sms"])
    assert outcomes == [("blocked", "cap_day"), ("sent", None)]

