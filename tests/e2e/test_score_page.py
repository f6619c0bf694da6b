"""The Score page in a browser: a supervisor sees the bands of a tenant's debtors as a
chart, its segments, recalculates, and finds the score with its reasons on a file."""

from __future__ import annotations

import pytest

from tests.core.test_scoring import add_debtor, days_ago
from tests.e2e.conftest import go_to, login, shot

pytestmark = pytest.mark.e2e


async def test_supervisor_reads_the_score_page_and_a_scored_file(page, live_server, factory,
                                                                  db):
    tenant = await factory.tenant("Varejo Exemplo")
    other = await factory.tenant("Outro Credor")
    for days in (3, 8, 20, 45, 90, 150, 240, 400, 700):
        await add_debtor(db, tenant.id, debts=[{"due": days_ago(days)}],
                         contacts=[("phone", "+5511955556666", "good")])
    late = await add_debtor(db, tenant.id, debts=[{"due": days_ago(500), "balance": "8000.00"},
                                                  {"due": days_ago(480)},
                                                  {"due": days_ago(460)}], contacts=[])
    await add_debtor(db, other.id, debts=[{"due": days_ago(10)}])
    supervisor = await factory.user("supervisor", tenant_ids=[tenant.id])

    await login(page, live_server, supervisor.email, supervisor.password)
    await page.wait_for_url("**/inicio")
    await go_to(page, "Score")
    await page.wait_for_selector("h1:has-text('Score de cobrança')")
    body = await page.locator("main").inner_text()
    assert "Varejo Exemplo" in body and "Outro Credor" not in body
    assert "Nenhum devedor com nota ainda" in body

    await page.click("text=Varejo Exemplo")
    await page.click("button:has-text('Recalcular agora')")
    await page.wait_for_selector(".alert.ok:has-text('recalculados')")
    assert await page.locator("svg.band-chart rect, .band-chart svg rect").count() == 4
    assert "10 devedores em cobrança com nota" in await page.locator("main").inner_text()
    segments = await page.locator("table.dense").first.inner_text()
    assert "sem contato válido" in segments and "vários títulos" in segments
    assert "Nenhum modelo treinado ainda" in await page.locator("main").inner_text()
    await shot(page, "score-page")

    await page.goto(f"{live_server}/devedores/{late}")
    await page.wait_for_selector("#segmentos")
    card = await page.locator("#segmentos").inner_text()
    assert "faixa D" in card and "dias de atraso" in card and "reduz a nota" in card
    assert "sem contato válido" in card and "LGPD" in card
    await shot(page, "debtor-file-score")
