"""The negotiation screen in a browser: from the debtor file to the options with their
memória de cálculo, an agreement accepted on a recorded call, the creditor's queue, the
answer on the agent's desktop and the steps on the debtor's timeline; the admin's fee
contract page."""

from __future__ import annotations

import re

import pytest

from tests.e2e.conftest import go_to, login, shot
from tests.legal.helpers import JOSE, load, set_address

pytestmark = pytest.mark.e2e

# The SMS goes now, or when the debtor's window next opens (the tests run at any hour).
SENT = re.compile(r"Resposta enviada ao devedor por e-mail( e SMS|; SMS agendado para"
                  r" \d\d/\d\d/\d{4} \d\d:\d\d)")


async def test_agent_negotiates_and_the_creditor_decides(page, browser, live_server, factory,
                                                         tmp_path, database_url):
    tenant = await factory.tenant("Loja Exemplo")
    set_address(database_url, tenant.id)
    await load(tmp_path, tenant, [
        f"{JOSE};José da Conceição;CT-1;1;10/06/2024;1000,00;(11) 98765-4321;jose@ex.com",
        f"{JOSE};José da Conceição;CT-1;2;10/08/2024;500,00;(11) 98765-4321;jose@ex.com"])
    agent = await factory.user("agent", tenant_ids=[tenant.id])
    await login(page, live_server, agent.email, agent.password)
    await page.wait_for_url("**/atendimento")
    await go_to(page, "Devedores")
    await page.fill("input[name=q]", "conceicao")
    await page.click("button:has-text('Buscar')")
    await page.click("text=José da Conceição")
    await page.click("#negociar")
    await page.wait_for_selector("h1:has-text('Negociação')")
    await page.fill("input[name=data]", "2024-10-10")
    await page.click("button:has-text('Simular')")
    await page.wait_for_selector("#opcoes")
    assert "Primeira por maior recuperação esperada" in await page.locator("#por-que").inner_text()
    assert await page.locator(".option").count() == 5
    await page.click("#saldo details summary")
    memoria = await page.locator("#saldo details").inner_text()
    assert "Saldo atualizado em 10/10/2024: R$ 1.062,44" in memoria
    await shot(page, "negotiation-options")

    # Only the first debt, then the agent's own kind of option.
    await page.uncheck("input[name=titulos] >> nth=1")
    await page.click("button:has-text('Simular')")
    await page.wait_for_selector("#opcoes")
    assert "R$ 1.062,44" in await page.locator("#saldo h2").inner_text()
    await page.locator(".option:has(.status.done) button:has-text('Criar acordo')").first.click()
    await page.wait_for_selector(".alert.ok:has-text('Acordo criado')")
    await page.click("button:has-text('Registrar aceite')")  # required field: the browser stops
    await page.fill("input[name=call_recording_ref]", "GRAV-2024-0042")
    await page.click("button:has-text('Registrar aceite')")
    await page.wait_for_selector(".alert.ok:has-text('Aceite registrado')")
    assert "ativo" in await page.locator("#situacao").inner_text()
    assert "TERMO DE ACORDO EXTRAJUDICIAL" in await page.locator("#termos").inner_text()
    await shot(page, "agreement-accepted")

    # The second debt, with every discount beyond the agent: to the creditor.
    await page.goto(live_server + "/devedores")
    await page.fill("input[name=q]", "conceicao")
    await page.click("button:has-text('Buscar')")
    await page.click("text=José da Conceição")
    assert "em acordo" in await page.locator("#titulos").inner_text()
    await shot(page, "debtor-file-in-agreement")

    creditor = await factory.user("creditor_admin", tenant_id=tenant.id)
    context = await browser.new_context(viewport={"width": 1280, "height": 860}, locale="pt-BR")
    tab = await context.new_page()
    await login(tab, live_server, creditor.email, creditor.password)
    await tab.wait_for_url("**/inicio")
    await tab.goto(f"{live_server}/credores/{tenant.id}/negociacao")
    await tab.fill("input[name=agent_discount_pct]", "0")
    await tab.fill("input[name=supervisor_discount_pct]", "0")
    await tab.click("button:has-text('Salvar política')")
    await tab.wait_for_selector(".alert.ok:has-text('Política de negociação salva')")
    await shot(tab, "negotiation-policy")

    await page.click("#negociar")
    await page.fill("input[name=data]", "2024-10-10")
    await page.click("button:has-text('Simular')")
    await page.locator(".option button:has-text('Pedir aprovação')").first.click()
    await page.wait_for_selector(".alert.ok:has-text('Acordo criado')")
    assert "aguardando aprovação" in await page.locator("#situacao").inner_text()

    await go_to(tab, "Aprovações")
    await tab.wait_for_selector("#fila")
    await shot(tab, "approvals-queue")
    await tab.click("#fila button:has-text('Recusar')")
    await tab.wait_for_selector(".field-error:has-text('informe o motivo da recusa')")
    await tab.fill("#fila input[name=reason]", "Desconto acima do que aceitamos.")
    await tab.click("#fila button:has-text('Recusar')")
    await tab.wait_for_selector(".alert.ok:has-text('Decisão registrada')")
    queue = await tab.locator("#fila").inner_text()
    assert "recusado" in queue
    assert SENT.search(queue), queue
    await context.close()

    await page.reload()
    assert "cancelado" in await page.locator("#situacao").inner_text()
    assert "Desconto acima do que aceitamos." in await page.locator("body").inner_text()
    await shot(page, "agreement-refused")

    # The answer waits on the agent's desktop, with what the debtor was sent.
    await go_to(page, "Atendimento")
    answers = page.locator("#respostas")
    await answers.wait_for()
    text = await answers.inner_text()
    assert "Recusado" in text and "José da Conceição" in text
    assert "Desconto acima do que aceitamos." in text
    assert SENT.search(text), text
    await shot(page, "desktop-approval-answer")
    await page.click("#respostas button:has-text('Ciente')")
    await page.wait_for_selector(".alert.ok:has-text('Resposta marcada como vista')")
    assert await page.locator("#respostas").count() == 0

    # Every step of both agreements is on the debtor's timeline.
    await page.goto(live_server + "/devedores")
    await page.fill("input[name=q]", "conceicao")
    await page.click("button:has-text('Buscar')")
    await page.click("text=José da Conceição")
    timeline = await page.locator(".timeline").inner_text()
    for step in ("Proposta de acordo", "Aceite do acordo", "Acordo recusado pelo credor"):
        assert step in timeline, step
    await page.locator(".timeline .event.agreement").first.scroll_into_view_if_needed()
    await shot(page, "debtor-timeline-agreements")


async def test_the_admin_sets_the_fee_contract(page, live_server, factory):
    tenant = await factory.tenant("Loja Contrato")
    admin = await factory.user("admin", tenant_ids=[tenant.id])
    await login(page, live_server, admin.email, admin.password)
    await page.wait_for_url("**/inicio")
    await page.goto(f"{live_server}/admin/credores/{tenant.id}")
    await page.click("#honorarios")
    await page.wait_for_selector("h1:has-text('Contrato de honorários')")
    assert "ainda não tem contrato salvo" in await page.locator("main").inner_text()
    rows = page.locator("#contrato tbody tr")
    first, empty = rows.nth(0), rows.nth(1)
    await first.locator("input[name=band_max_days]").fill("180")
    await first.locator("input[name=band_interest]").fill("30")
    await empty.locator("input[name=band_min_days]").fill("100")
    await empty.locator("input[name=band_principal]").fill("20")
    await page.fill("input[name=debtor_fee_pct]", "5")
    await page.click("button:has-text('Salvar contrato')")
    await page.wait_for_selector("#erro-faixas")
    assert "faixas sobrepostas para principal" in await page.locator("#erro-faixas").inner_text()
    await shot(page, "fee-contract-error")
    rows = page.locator("#contrato tbody tr")
    await rows.nth(1).locator("input[name=band_min_days]").fill("181")
    await page.check("input[name=direct_payments_earn]")
    await page.click("button:has-text('Salvar contrato')")
    await page.wait_for_selector(".alert.ok:has-text('Contrato de honorários salvo')")
    values = [await i.input_value() for i in await page.locator(
        "#contrato tbody tr >> nth=1 >> input").all()]
    assert values[:3] == ["181", "", "20"]
    assert await page.locator("input[name=debtor_fee_pct]").input_value() == "5"
    await shot(page, "fee-contract")
