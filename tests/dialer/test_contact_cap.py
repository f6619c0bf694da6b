"""The agency-wide call cap holds across everything that places a call: two creditors'
campaigns and an agent's agenda deciding on the same person at the same moment never
both pass a cap that only one call fits under, and the call that passed counts once."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from sqlalchemy import select

from core.access import TenantId, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.collection import agency_counts
from core.models import Channel, Interaction
from core.settings import get_settings
from dialer import agenda, campaigns, dispositions
from dialer.models import AgendaItem, AgendaKind, CallOutcome, CallRecord, CampaignEntry
from tests.core.test_collection_model import creditor, place
from tests.dialer.test_agenda import agent
from tests.dialer.test_campaigns import MONDAY_10H, random_cpf, system

TUESDAY_8H = MONDAY_10H.replace(day=8, hour=8)


@pytest.fixture
def one_call_a_day(monkeypatch):  # type: ignore[no-untyped-def]
    """The agency allows one call a day per debtor, whichever creditor makes it."""
    monkeypatch.setenv("REGUA_CONTACT_CAPS", '{"call": {"attempts_day": 1}}')
    get_settings.cache_clear()
    yield
    monkeypatch.undo()
    get_settings.cache_clear()


async def campaign_for(tenant_id: uuid.UUID, document: str,
                       mode: str = "predictive") -> campaigns.Campaign:
    """A campaign of `tenant_id` whose list holds its debtor of CPF `document`."""
    await place(creditor(tenant_id), tenant_id, document=document, amount="200.00",
                due_dates=(dt.date(2026, 6, 1),))
    boss = system(tenant_id)
    async with transaction(boss) as session:
        row = await campaigns.create_campaign(session, boss, TenantId(tenant_id),
                                              campaigns.NewCampaign(name="Ligações", mode=mode))
        cid = campaigns.CampaignId(row.id)
        assert await campaigns.build_list(session, boss, cid) == 1
        return await campaigns.set_status(session, boss, cid, "active")


async def claim(campaign: campaigns.Campaign) -> list[campaigns.Dial]:
    async with transaction(system(campaign.tenant_id)) as session:
        return await campaigns.claim(session, campaign, 1, dialer_id="d", worker_id=0,
                                     at=MONDAY_10H)


async def timeline(tenant_id: uuid.UUID) -> list[tuple[str, str | None]]:
    async with transaction(system(tenant_id)) as session:
        rows = (await session.execute(select(Interaction).order_by(Interaction.id))).scalars()
        return [(i.outcome, (i.details or {}).get("reason")) for i in rows]


async def calls_today(tenant_id: uuid.UUID, document: str) -> int:
    async with transaction(system(tenant_id)) as session:
        counts = await agency_counts.counts(session, document, MONDAY_10H.date())
    return counts[Channel.CALL].attempts if Channel.CALL in counts else 0


async def test_two_creditors_campaigns_dialing_one_debtor_at_once_place_one_call(
        factory, services, one_call_a_day):
    document = random_cpf()
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    first, second = await campaign_for(alfa.id, document), await campaign_for(beta.id, document)
    async with transaction(system(alfa.id)) as session:
        [dial] = await campaigns.claim(session, first, 1, dialer_id="a", worker_id=0,
                                       at=MONDAY_10H)
        # Alfa's dialer has decided and not committed yet: Beta's, deciding now, does
        # not dial the same person.
        assert await claim(second) == []
    # Once Alfa's call is in, Beta's next round finds the day's call made: refused, on
    # Beta's timeline, the entry back tomorrow morning.
    assert await claim(second) == []
    assert await timeline(beta.id) == [("blocked", "cap_day")]
    async with transaction(system(beta.id)) as session:
        entry = (await session.execute(select(CampaignEntry))).scalar_one()
        assert (entry.state, entry.next_attempt_at) == ("pending", TUESDAY_8H)
        assert (await session.execute(select(CallRecord))).first() is None
    # Alfa's call fails at the trunk: still the day's one attempt, counted once.
    async with transaction(system(alfa.id)) as session:
        await campaigns.finish(session, campaigns.Result(
            dial.call_id, CallOutcome.FAILED, sip_code=503, ended_at=MONDAY_10H))
    assert await timeline(alfa.id) == [("failed", None)]
    assert await calls_today(alfa.id, document) == 1


async def test_a_campaign_and_an_agents_agenda_call_share_the_cap(
        factory, services, one_call_a_day):
    document = random_cpf()
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    campaign = await campaign_for(alfa.id, document)
    [person] = [await place(creditor(beta.id), beta.id, document=document, amount="90.00",
                            due_dates=(dt.date(2026, 6, 1),))]
    async with transaction(system(beta.id)) as session:
        await agenda.add_item(session, beta.id, person.debtor_id, AgendaKind.CALLBACK,
                              MONDAY_10H - dt.timedelta(minutes=5), created_by=None)
    operator = agent(beta.id)
    async with transaction(system(alfa.id)) as session:
        [_] = await campaigns.claim(session, campaign, 1, dialer_id="a", worker_id=0,
                                    at=MONDAY_10H)
        # The campaign is dialing: the agent pressing "Próximo" meanwhile is not given
        # the same person, and the callback stays as it was.
        assert await agenda.take_next(operator, at=MONDAY_10H) is None
        assert await timeline(beta.id) == []
    # The call is made: the callback is refused for today, recorded, due tomorrow.
    assert await agenda.take_next(operator, at=MONDAY_10H) is None
    assert await timeline(beta.id) == [("blocked", "cap_day")]
    async with transaction(system(beta.id)) as session:
        item = (await session.execute(select(AgendaItem))).scalar_one()
        assert (item.state, item.due_at) == ("open", TUESDAY_8H)


async def test_a_debtor_taken_from_the_agenda_counts_once_and_the_campaign_waits(
        factory, services, one_call_a_day):
    document = random_cpf()
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    campaign = await campaign_for(alfa.id, document)
    person = await place(creditor(beta.id), beta.id, document=document, amount="90.00",
                         due_dates=(dt.date(2026, 6, 1),))
    async with transaction(system(beta.id)) as session:
        await agenda.add_item(session, beta.id, person.debtor_id, AgendaKind.CALLBACK,
                              MONDAY_10H - dt.timedelta(minutes=5), created_by=None)
    operator = agent(beta.id)
    taken = await agenda.take_next(operator, at=MONDAY_10H)
    assert taken is not None and taken.debtor_id == person.debtor_id
    # The agent is on the phone with the debtor: the campaign does not call too.
    assert await claim(campaign) == []
    assert await timeline(alfa.id) == [("blocked", "cap_day")]
    # The agent's disposition records that one call, not a second attempt.
    await dispositions.dispose(operator, person.debtor_id, dispositions.Form("refused"),
                               contact_point_id=person.phone_id, at=MONDAY_10H)
    assert await timeline(beta.id) == [("answered", None)]
    assert await calls_today(beta.id, document) == 1


async def test_a_preview_call_counts_when_the_agent_presses_ligar(
        factory, services, one_call_a_day):
    document = random_cpf()
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    preview = await campaign_for(alfa.id, document, mode="preview")
    dialing = await campaign_for(beta.id, document)
    login = await factory.user("agent", tenant_ids=[alfa.id])
    operator = Principal(user_id=login.user_id, email=login.email, full_name="Op",
                         role=Role.AGENT, tenant_id=None, tenant_ids=frozenset({alfa.id}))
    async with transaction(operator) as session:
        await campaigns.login(session, operator, [campaigns.CampaignId(preview.id)],
                              "sip:op@127.0.0.1:5999")
    async with transaction(operator) as session:
        shown = await campaigns.preview_next(session, operator, at=MONDAY_10H)
    assert shown is not None and shown.number is not None
    # Reading the file is not a call: Beta's campaign places the day's one call meanwhile.
    assert len(await claim(dialing)) == 1
    # "Ligar" asks the guard again and is refused, on Alfa's timeline; nothing is dialed.
    async with transaction(operator) as session:
        placed = await campaigns.preview_dial(session, operator, shown.entry_id,
                                              at=MONDAY_10H)
    assert placed.call_id is None and placed.refused is not None
    assert "limite" in placed.refused
    assert await timeline(alfa.id) == [("blocked", "cap_day")]
    assert await calls_today(alfa.id, document) == 1
