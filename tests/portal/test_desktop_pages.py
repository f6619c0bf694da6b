"""The desktop and supervision pages: roles, the tenant wall, a disposition's errors."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from core.access import TenantId, transaction
from core.ids import uuid7
from dialer import campaigns
from dialer.models import Campaign, CampaignEntry, EntryState
from tests.core.test_collection_model import creditor, place
from tests.dialer.test_campaigns import random_cpf, system


async def setup(factory, tenant_id):
    placed = await place(creditor(tenant_id), tenant_id, document=random_cpf(),
                         amount="300.00", due_dates=(dt.date(2026, 6, 1),))
    boss = system(tenant_id)
    async with transaction(boss) as session:
        row = await campaigns.create_campaign(session, boss, TenantId(tenant_id),
                                              campaigns.NewCampaign(name="Atraso 30+"))
    return placed, row.id


async def headers_for(client, login):
    await client.get("/")
    return {**login.headers, "x-csrftoken": client.cookies.get("regua_csrf", "")}


async def test_roles_and_the_tenant_wall(client, factory, services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    await setup(factory, alfa.id)
    placed_b, campaign_b = await setup(factory, beta.id)
    agent = await factory.user("agent", tenant_ids=[alfa.id])
    boss = await factory.user("supervisor", tenant_ids=[alfa.id])
    h = await headers_for(client, agent)

    page = await client.get("/atendimento", headers=h)
    assert page.status_code == 200
    assert "Atraso 30+" in page.text and "Alfa" in page.text and "Beta" not in page.text
    for url in ("/atendimento", "/atendimento/supervisao"):
        assert (await client.get(url, headers=alfa.admin.headers)).status_code == 403
    assert (await client.get("/atendimento/supervisao", headers=h)).status_code == 403
    # Another tenant's debtor and campaign are not found.
    assert (await client.get(f"/atendimento?devedor={placed_b.debtor_id}",
                             headers=h)).status_code == 404
    answer = await client.post(f"/atendimento/devedores/{placed_b.debtor_id}/resultado",
                               headers=h, data={"disposition": "refused"})
    assert answer.status_code == 404
    hb = await headers_for(client, boss)
    answer = await client.post(f"/atendimento/campanhas/{campaign_b}/situacao", headers=hb,
                               data={"status": "stopped"})
    assert answer.status_code == 404
    board = await client.get("/atendimento/supervisao", headers=hb)
    assert board.status_code == 200 and "Atraso 30+" in board.text
    assert "Beta" not in board.text
    answer = await client.post("/atendimento/entrar", headers=h, data={
        "campaign_ids": str(campaign_b), "sip_uri": "sip:100@pabx.test"})
    assert answer.status_code == 404


async def test_a_disposition_without_its_fields_answers_in_portuguese(client, factory,
                                                                    services):
    alfa = await factory.tenant("Alfa")
    placed, campaign = await setup(factory, alfa.id)
    agent = await factory.user("agent", tenant_ids=[alfa.id])
    h = await headers_for(client, agent)
    answer = await client.post(f"/atendimento/devedores/{placed.debtor_id}/resultado",
                               headers=h, data={"disposition": "promise",
                                                "promise_amount": "abc"})
    assert answer.status_code == 422
    assert "informe a data prometida" in answer.text
    assert "informe o valor prometido" in answer.text
    answer = await client.post("/atendimento/entrar", headers=h, data={
        "campaign_ids": str(campaign), "sip_uri": "ramal 100"})
    assert answer.status_code == 422 and "informe um endereço SIP" in answer.text
    answer = await client.post("/atendimento/entrar", headers=h, data={
        "campaign_ids": str(campaign), "sip_uri": "sip:100@pabx.test"})
    assert answer.status_code == 200 and "Você entrou nas campanhas." in answer.text
    answer = await client.post("/atendimento/estado", headers=h, data={"state": "paused"})
    assert answer.status_code == 422 and "informe o motivo da pausa" in answer.text
    page = await client.get("/atendimento", headers=h)
    assert "Disponível" in page.text and "sip:100@pabx.test" in page.text


async def test_the_supervisor_sets_the_pacing_on_the_board(client, factory, services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    _, campaign = await setup(factory, alfa.id)
    _, campaign_b = await setup(factory, beta.id)
    boss = await factory.user("supervisor", tenant_ids=[alfa.id])
    agent = await factory.user("agent", tenant_ids=[alfa.id])
    h = await headers_for(client, boss)
    board = await client.get("/atendimento/supervisao", headers=h)
    assert 'name="abandon_target"' in board.text and ">Preditivo<" in board.text
    url = f"/atendimento/supervisao/campanhas/{campaign}/ritmo"
    answer = await client.post(url, headers=h, data={
        "mode": "predictive", "abandon_target": "4,5", "max_lines_per_agent": "abc"})
    assert answer.status_code == 422
    assert "no máximo 3% das ligações atendidas" in answer.text
    assert "informe o máximo de linhas por operador" in answer.text
    assert 'value="4,5"' in answer.text  # what was typed stays in the form
    answer = await client.post(url, headers=h, data={
        "mode": "progressive", "abandon_target": "2,5", "max_lines_per_agent": "2"})
    assert answer.status_code == 200 and "Ritmo de discagem salvo" in answer.text
    assert 'value="2,5"' in answer.text
    assert '<option value="progressive" selected>' in answer.text
    answer = await client.post(f"/atendimento/supervisao/campanhas/{campaign_b}/ritmo", headers=h,
                               data={"mode": "predictive", "abandon_target": "2",
                                     "max_lines_per_agent": "2"})
    assert answer.status_code == 404
    ha = await headers_for(client, agent)
    answer = await client.post(url, headers=ha, data={
        "mode": "predictive", "abandon_target": "2", "max_lines_per_agent": "2"})
    assert answer.status_code == 403


async def test_preview_files_of_another_tenant_are_not_found(client, factory, services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    await setup(factory, alfa.id)
    _, campaign_b = await setup(factory, beta.id)
    boss_b = system(beta.id)
    async with transaction(boss_b) as session:
        await campaigns.build_list(session, boss_b, campaigns.CampaignId(campaign_b))
        entry = (await session.execute(select(CampaignEntry))).scalar_one()
        # Leased to Beta's agent, reading the file.
        entry.state, entry.lease_owner = EntryState.DIALING, f"preview:{uuid7()}"
        entry.lease_until = dt.datetime.now(dt.UTC) + campaigns.PREVIEW_LEASE
    agent = await factory.user("agent", tenant_ids=[alfa.id])
    h = await headers_for(client, agent)
    for action, data in (("ligar", {}), ("pular", {"skip_reason": "não"})):
        answer = await client.post(f"/atendimento/previa/{entry.id}/{action}", headers=h,
                                   data=data)
        assert answer.status_code == 404
    answer = await client.post("/atendimento/previa/proxima", headers=alfa.admin.headers)
    assert answer.status_code == 403


async def test_a_supervisor_creates_a_campaign_and_its_list_from_the_board(client, factory,
                                                                         services):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    for days, document in ((45, random_cpf()), (10, random_cpf())):
        await place(creditor(alfa.id), alfa.id, document=document, amount="500.00",
                    due_dates=(dt.date.today() - dt.timedelta(days=days),))
    boss = await factory.user("supervisor", tenant_ids=[alfa.id])
    h = await headers_for(client, boss)
    form = {"tenant_id": str(alfa.id), "name": "Atraso 30+", "mode": "progressive",
            "days_overdue_min": "30", "states": "sp", "ring_timeout_seconds": "20",
            "wrap_up_seconds": "15", "start": "1"}

    # Each wrong field is named, in Portuguese, and nothing is created.
    wrong = await client.post("/atendimento/supervisao/campanhas", headers=h, data={
        **form, "days_overdue_max": "10", "states": "SP, XX", "amount_min": "muito",
        "ring_timeout_seconds": "5", "callback_number": "123", "bands": ["A", "Z"]})
    assert wrong.status_code == 422
    for message in ("deve ser maior ou igual ao atraso mínimo", "UF desconhecida: XX",
                    "informe um valor em reais", "entre 15 e 60 segundos", "telefone inválido",
                    "opção desconhecida", "Campanha não criada: confira os 6 campos marcados"):
        assert message in wrong.text, message
    # Another tenant is not a choice: not even by its id.
    other = await client.post("/atendimento/supervisao/campanhas", headers=h,
                              data={**form, "tenant_id": str(beta.id)})
    assert other.status_code == 422 and "escolha o credor" in other.text
    async with transaction(system(beta.id)) as session:
        assert (await session.execute(select(CampaignEntry.id))).first() is None

    made = await client.post("/atendimento/supervisao/campanhas", headers=h, data=form,
                             follow_redirects=True)
    assert made.status_code == 200
    assert "Campanha criada: 1 devedor(es) entraram na lista." in made.text
    assert "atraso de 30 dias ou mais; UF SP" in made.text and "Progressivo" in made.text
    async with transaction(system(alfa.id)) as session:
        campaign = (await session.execute(select(Campaign))).scalar_one()
    assert (campaign.status, campaign.ring_timeout_seconds, campaign.wrap_up_seconds) == (
        "active", 20, 15)
    again = await client.post("/atendimento/supervisao/campanhas", headers=h, data=form)
    assert again.status_code == 422 and "já existe uma campanha com este nome" in again.text

    # A debtor who now matches joins on "Atualizar lista"; those on it keep their place.
    await place(creditor(alfa.id), alfa.id, document=random_cpf(), amount="900.00",
                due_dates=(dt.date.today() - dt.timedelta(days=60),))
    refreshed = await client.post(f"/atendimento/campanhas/{campaign.id}/lista", headers=h,
                                  follow_redirects=True)
    assert "Lista atualizada: 1 devedor(es) entraram na lista." in refreshed.text
    assert "Lista: <strong>2</strong> devedor(es), 2 a alcançar" in refreshed.text

    # Agents do not create campaigns; another tenant's supervisor does not see this one.
    agent = await factory.user("agent", tenant_ids=[alfa.id])
    ha = await headers_for(client, agent)
    assert (await client.post("/atendimento/supervisao/campanhas", headers=ha,
                              data=form)).status_code == 403
    stranger = await factory.user("supervisor", tenant_ids=[beta.id])
    hs = await headers_for(client, stranger)
    assert (await client.post(f"/atendimento/campanhas/{campaign.id}/lista",
                              headers=hs)).status_code == 404


async def test_next_says_whether_the_agenda_is_empty_or_waiting(client, factory, services):
    from dialer import agenda
    from dialer.models import AgendaKind

    alfa = await factory.tenant("Alfa")
    placed = await place(creditor(alfa.id), alfa.id, document=random_cpf(), amount="300.00",
                         due_dates=(dt.date(2026, 6, 1),))
    agent = await factory.user("agent", tenant_ids=[alfa.id])
    h = await headers_for(client, agent)
    empty = await client.post("/atendimento/proximo", headers=h, follow_redirects=True)
    assert "Nada a fazer agora: a agenda está vazia." in empty.text
    # A callback for next week: on the agenda, not callable now.
    async with transaction(system(alfa.id)) as session:
        await agenda.add_item(session, alfa.id, placed.debtor_id, AgendaKind.CALLBACK,
                              dt.datetime.now(dt.UTC) + dt.timedelta(days=7), created_by=None)
    waiting = await client.post("/atendimento/proximo", headers=h, follow_redirects=True)
    assert "Ninguém da agenda pode ser chamado agora" in waiting.text
    assert "Ana Souza" in waiting.text  # the item stays listed, with when it comes back
