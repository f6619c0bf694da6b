"""The debtor file in a browser: search, open, note, dispute hold set and ended, SMS
opt-out, and what a creditor viewer sees."""

from __future__ import annotations

import pytest

from tests.core.test_debtor_file import JOSE, MARIA, load
from tests.e2e.conftest import go_to, login, shot

pytestmark = pytest.mark.e2e


async def test_agent_searches_opens_and_works_a_debtor_file(page, live_server, factory,
                                                           tmp_path):
    tenant = await factory.tenant("Loja Exemplo")
    await load(tmp_path, tenant, [
        f"{JOSE};José da Conceição;CT-1001;1;10/01/2025;100,00;(11) 98765-4321;jose@ex.com",
        f"{JOSE};José da Conceição;CT-1001;2;10/02/2025;1.150,50;(11) 3333-4444;",
        f"{MARIA};Maria Souza;CT-2002;1;10/03/2025;80,00;(21) 3333-4444;maria@ex.com",
    ])
    agent = await factory.user("agent", tenant_ids=[tenant.id])
    await login(page, live_server, agent.email, agent.password)
    await page.wait_for_url("**/atendimento")
    await go_to(page, "Devedores")
    await page.fill("input[name=q]", "conceicao")
    await page.click("button:has-text('Buscar')")
    row = page.locator("table.results tbody tr")
    await row.first.wait_for()
    assert await row.count() == 1
    assert "529.982.247-25" in await row.inner_text() and "Loja Exemplo" in await row.inner_text()
    await shot(page, "debtor-search")

    await page.click("text=José da Conceição")
    await page.wait_for_selector("h1:has-text('José da Conceição')")
    assert "R$ 1.250,50" in await page.locator(".file-summary").inner_text()
    assert "Pode ser cobrado hoje" in await page.locator("#situacao").inner_text()
    assert "10/01/2025" in await page.locator("#titulos").inner_text()
    await shot(page, "debtor-file")

    await page.fill("textarea[name=body]", "Devedor pediu retorno à tarde.")
    await page.click("button:has-text('Registrar anotação')")
    await page.wait_for_selector(".alert.ok:has-text('Anotação registrada')")
    assert "Devedor pediu retorno à tarde." in await page.locator(".timeline").inner_text()

    await page.select_option("select[name=kind]", "dispute")
    await page.fill(".hold-form textarea[name=reason]", "Contesta os juros cobrados.")
    await page.click("button:has-text('Suspender cobrança')")
    await page.wait_for_selector(".alert.ok:has-text('Bloqueio registrado')")
    verdict = await page.locator("#situacao").inner_text()
    assert "Não pode ser cobrado hoje" in verdict and "contestação" in verdict
    await shot(page, "debtor-file-dispute")

    await page.click(".end-hold button")  # no reason: the field says so
    await page.wait_for_load_state()
    await shot(page, "debtor-file-end-hold-error")
    await page.wait_for_selector(".end-hold .field-error", timeout=5000)
    assert "informe o motivo" in await page.locator(".end-hold .field-error").inner_text()
    await page.fill(".end-hold input[name=reason]", "Contestação improcedente.")
    await page.click(".end-hold button")
    await page.wait_for_selector(".alert.ok:has-text('Bloqueio encerrado')")
    assert "Pode ser cobrado hoje" in await page.locator("#situacao").inner_text()

    mobile = page.locator("tr[data-contact]", has_text="(11) 98765-4321")
    await mobile.locator(".channel", has_text="SMS").locator("button").click()
    await page.wait_for_selector(".alert.ok:has-text('Canal bloqueado')")
    mobile = page.locator("tr[data-contact]", has_text="(11) 98765-4321")
    assert "bloqueado desde" in await mobile.locator(".channel", has_text="SMS").inner_text()
    assert "liberado" in await mobile.locator(".channel", has_text="ligação").inner_text()
    timeline = await page.locator(".timeline").inner_text()
    assert "Contato bloqueado para SMS" in timeline and "Bloqueio encerrado" in timeline
    await shot(page, "debtor-file-worked")

    await page.click("text=Sair")
    viewer = await factory.user("creditor_viewer", tenant_id=tenant.id)
    await login(page, live_server, viewer.email, viewer.password)
    await page.wait_for_url("**/inicio")
    await page.goto(live_server + "/devedores?q=" + JOSE)
    await page.click("text=José da Conceição")
    await page.wait_for_selector("h1:has-text('José da Conceição')")
    assert await page.locator("#documento").inner_text() == "***.982.247-**"
    content = await page.content()
    assert "98765-4321" not in content and "jose@ex.com" not in content
    assert agent.email not in content and "por equipe da assessoria" in content
    assert await page.locator("form[action*='/anotacoes']").count() == 0
    await shot(page, "debtor-file-viewer")
