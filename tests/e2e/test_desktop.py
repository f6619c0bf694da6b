"""The agent desktop in a browser: joining a campaign, a screen pop sent by the dialer's
NOTIFY, and a promise to pay saved from it (first refused without its fields); the
supervisor's board and its pacing form; a preview file read, then skipped with a reason."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from sqlalchemy import select

from core.access import TenantId, transaction
from core.ids import uuid7
from dialer import campaigns, events
from dialer.models import AgendaItem, CallRecord, Campaign, CampaignEntry, EntryState
from tests.core.test_collection_model import creditor, place
from tests.dialer.test_campaigns import random_cpf, system
from tests.e2e.conftest import go_to, login, shot

pytestmark = pytest.mark.e2e


async def test_a_screen_pop_opens_the_debtor_and_a_promise_is_saved(page, live_server,
                                                                     factory):
    tenant = await factory.tenant("Loja Exemplo")
    placed = await place(creditor(tenant.id), tenant.id, document=random_cpf(),
                         amount="1250.50", due_dates=(dt.date(2026, 6, 1),))
    boss = system(tenant.id)
    async with transaction(boss) as session:
        campaign = await campaigns.create_campaign(
            session, boss, TenantId(tenant.id), campaigns.NewCampaign(name="Atraso 30+"))
    agent = await factory.user("agent", tenant_ids=[tenant.id])
    await login(page, live_server, agent.email, agent.password)
    await page.wait_for_url("**/atendimento")
    await go_to(page, "Atendimento")
    await page.check("input[name=campaign_ids]")
    await page.fill("input[name=sip_uri]", "sip:agente1@127.0.0.1:5070")
    await page.click("button:has-text('Entrar')")
    await page.wait_for_selector("text=Você entrou nas campanhas.")
    assert "Disponível" in await page.locator("#situacao-operador").inner_text()
    await shot(page, "desktop-ready")

    async with transaction(boss) as session:
        call = CallRecord(tenant_id=tenant.id, id=uuid7(), campaign_id=campaign.id,
                          debtor_id=placed.debtor_id, contact_point_id=placed.phone_id,
                          number="+5511987654321", dialer_id="teste", worker_id=0,
                          answered_at=dt.datetime.now(dt.UTC))
        session.add(call)
        await session.flush()
        # What the dialer does when the debtor answers: the ready agent takes the call.
        assert await campaigns.take_agent(session, campaign.id, call.id) is not None
    await page.wait_for_timeout(1000)  # the event stream is listening
    async with transaction(boss) as session:
        await events.publish(session, tenant.id, "screen_pop", user_id=agent.user_id,
                             call_id=call.id, debtor_id=placed.debtor_id,
                             campaign_id=campaign.id)
    await page.wait_for_selector("#ficha h2:has-text('Ana Souza')", timeout=10000)
    assert "R$ 1.250,50" in await page.locator("#ficha").inner_text()
    assert "Em ligação" in await page.locator("#situacao-operador").inner_text()
    assert await page.locator("#encerrar").is_visible()
    await shot(page, "desktop-screen-pop")

    await page.select_option("#disposition", "promise")
    await page.click("button:has-text('Registrar resultado')")
    await page.wait_for_selector("text=informe a data prometida")
    assert "informe o valor prometido" in await page.locator("#resultado").inner_text()
    await shot(page, "desktop-promise-errors")

    promised = (dt.date.today() + dt.timedelta(days=5)).isoformat()
    await page.fill("input[name=promise_date]", promised)
    await page.fill("input[name=promise_amount]", "500,00")
    await page.fill("textarea[name=note]", "Paga na sexta pelo boleto")
    await page.click("button:has-text('Registrar resultado')")
    await page.wait_for_selector("text=Resultado registrado.")
    assert "Promessa de pagamento" in await page.locator("#agenda").inner_text()
    assert "R$ 500,00" in await page.locator("#agenda").inner_text()
    await shot(page, "desktop-promise-saved")
    async with transaction(boss) as session:
        item = (await session.execute(select(AgendaItem).where(
            AgendaItem.debtor_id == placed.debtor_id))).scalar_one()
        assert (item.kind, str(item.amount)) == ("promise", "500.00")

    # The supervisor sees the agent and the call on the campaign's board, and starts it.
    supervisor = await factory.user("supervisor", tenant_ids=[tenant.id])
    await page.click(".who button:has-text('Sair')")
    await login(page, live_server, supervisor.email, supervisor.password)
    await page.wait_for_url("**/inicio")
    await page.goto(live_server + "/atendimento/supervisao")
    board = page.locator(f"#campanha-{campaign.id}")
    text = await board.inner_text()
    assert agent.email in text and "Em ligação" in text and "Pausada" in text
    await page.click(f"#campanha-{campaign.id} button:has-text('Retomar')")
    await page.wait_for_selector("text=Campanha em andamento.")
    await shot(page, "supervisor-board")

    # Pacing: a target above 3% is refused in Portuguese, then progressive at 2,5% saved.
    form = page.locator(f"#ritmo-{campaign.id}")
    assert await form.locator("select[name=mode]").input_value() == "predictive"
    await form.locator("input[name=abandon_target]").fill("4")
    await form.locator("input[name=max_lines_per_agent]").fill("2,5")
    await form.locator("button:has-text('Salvar ritmo')").click()
    await page.wait_for_selector("text=no máximo 3% das ligações atendidas")
    await shot(page, "supervisor-pacing-error")
    form = page.locator(f"#ritmo-{campaign.id}")
    assert await form.locator("input[name=max_lines_per_agent]").input_value() == "2,5"
    await form.locator("select[name=mode]").select_option("progressive")
    await form.locator("input[name=abandon_target]").fill("2,5")
    await form.locator("button:has-text('Salvar ritmo')").click()
    await page.wait_for_selector("text=Ritmo de discagem salvo")
    assert "Progressivo" in await page.locator(f"#campanha-{campaign.id} h2").inner_text()
    await shot(page, "supervisor-pacing")
    async with transaction(boss) as session:
        saved = (await session.execute(select(Campaign).where(
            Campaign.id == campaign.id))).scalar_one()
    assert (saved.mode, saved.abandon_target, saved.max_lines_per_agent) == (
        "progressive", Decimal("0.0250"), Decimal("2.50"))


async def test_a_preview_file_is_read_then_skipped_with_a_reason(page, live_server, factory):
    tenant = await factory.tenant("Loja Prévia")
    placed = await place(creditor(tenant.id), tenant.id, document=random_cpf(),
                         amount="980.00", due_dates=(dt.date(2026, 6, 1),))
    boss = system(tenant.id)
    async with transaction(boss) as session:
        campaign = await campaigns.create_campaign(
            session, boss, TenantId(tenant.id),
            campaigns.NewCampaign(name="Grandes saldos", mode="preview"))
        await campaigns.build_list(session, boss, campaigns.CampaignId(campaign.id))
    agent = await factory.user("agent", tenant_ids=[tenant.id])
    await login(page, live_server, agent.email, agent.password)
    await page.wait_for_url("**/atendimento")
    await page.goto(live_server + "/atendimento")
    await page.check("input[name=campaign_ids]")
    await page.fill("input[name=sip_uri]", "sip:agente2@127.0.0.1:5070")
    await page.click("button:has-text('Entrar')")
    await page.wait_for_selector("#proxima-ficha")
    # The file the agent asked for (the guard already let it through: "Próxima ficha"
    # asks it at this hour, which a test cannot choose), leased to this agent.
    async with transaction(boss) as session:
        entry = (await session.execute(select(CampaignEntry))).scalar_one()
        entry.state, entry.lease_owner = EntryState.DIALING, f"preview:{agent.user_id}"
        entry.lease_until = dt.datetime.now(dt.UTC) + campaigns.PREVIEW_LEASE
    await page.goto(live_server + "/atendimento")
    ficha = page.locator("#ficha")
    await page.wait_for_selector("#ligar")
    text = await ficha.inner_text()
    assert "Ana Souza" in text and "R$ 980,00" in text and "nada foi discado" in text
    assert "(11) 98765-4321" in await page.locator("#ligar").inner_text()
    assert await page.locator("#resultado").count() == 0  # nothing to record before a call
    await shot(page, "desktop-preview")
    await page.click("#pular")
    await page.wait_for_selector("text=informe por que esta ficha fica para depois")
    await page.fill("input[name=skip_reason]", "Cliente negociando pelo WhatsApp")
    await page.click("#pular")
    await page.wait_for_selector("text=Ficha pulada")
    await shot(page, "desktop-preview-skipped")
    async with transaction(boss) as session:
        entry = (await session.execute(select(CampaignEntry))).scalar_one()
        assert (entry.state, entry.last_outcome) == (EntryState.PENDING, "skipped")
        assert (await session.execute(select(CallRecord))).first() is None
    assert placed.debtor_id == entry.debtor_id
