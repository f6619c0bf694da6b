"""The cadence editor and the dry-run in a browser: a supervisor finds the tenant's
cadence, reads its timeline, saves a new version, meets an error naming the step, and
reads tomorrow's simulation."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.core.test_cadence import YAML, debtor, load
from tests.e2e.conftest import go_to, login, shot

pytestmark = pytest.mark.e2e
TIMELINE = "svg[aria-label='Passos da régua na linha do tempo']"


async def test_supervisor_edits_a_cadence_and_reads_the_dry_run(page, live_server, factory):
    tenant = await factory.tenant("Varejo Régua")
    loaded = await load(tenant.id, YAML.replace("when: {amount_min: 100, states: [SP, RJ]}",
                                                "when: {amount_min: 100, score_max: 599}"))
    tomorrow = dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)
    for _ in range(2):
        await debtor(tenant.id, [tomorrow])  # tomorrow's D0: e-mail and SMS each
    await debtor(tenant.id, [tomorrow + dt.timedelta(days=3)])  # tomorrow's D-3 reminder
    await debtor(tenant.id, [tomorrow], email=False)  # e-mail blocked: no address
    supervisor = await factory.user("supervisor", tenant_ids=[tenant.id])

    await login(page, live_server, supervisor.email, supervisor.password)
    await page.wait_for_url("**/inicio")
    await go_to(page, "Réguas")
    await page.wait_for_selector("h1:has-text('Réguas de cobrança')")
    await shot(page, "cadence-list")
    await page.click("text=Régua padrão")
    await page.wait_for_selector(TIMELINE)
    timeline = await page.locator(TIMELINE).text_content() or ""
    assert "D-3" in timeline and "D+20" in timeline
    assert "só se score até 599 · saldo a partir de R$ 100,00" in timeline
    await shot(page, "cadence-editor")

    source = await page.locator("textarea[name=source]").input_value()
    await page.fill("textarea[name=source]", source.replace("day: 5", "day: 7"))
    await page.click("button:has-text('Salvar nova versão')")
    await page.wait_for_url(f"**/cadencias/{loaded.cadence_id}?versao=2")
    assert "versão 2" in await page.locator("h1").inner_text()
    assert "D+7" in (await page.locator(TIMELINE).text_content() or "")

    await page.fill("textarea[name=source]", source.replace("[whatsapp]", "[telegrama]"))
    await page.click("button:has-text('Salvar nova versão')")
    error = await page.locator(".alert.error").inner_text()
    assert "passo 3 (dia 5), campo channels: canal desconhecido 'telegrama'" in error
    await shot(page, "cadence-editor-error")

    await page.goto(f"{live_server}/cadencias?credor={tenant.id}")
    await page.click("text=Simulação de amanhã")
    await page.wait_for_selector("h1:has-text('Simulação')")
    body = await page.locator("main").inner_text()
    assert "Nada é gravado nem enviado" in body
    assert "nenhum contato utilizável neste canal" in body
    await shot(page, "cadence-dry-run")
