"""The reports dashboard in a browser: the charts draw, a bar opens the debts behind it,
and the agency compares its tenants side by side."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from tests.e2e.conftest import login, shot
from tests.reports.conftest import Reported, reported  # noqa: F401 - the fixture

pytestmark = pytest.mark.e2e


async def test_the_dashboard_draws_its_charts_and_drills_down(page, live_server, factory,
                                                              reported: Reported) -> None:  # noqa: F811
    m = reported.built.months
    admin = reported.tenant.admin
    await login(page, live_server, admin.email, admin.password)
    await page.goto(f"{live_server}/relatorios?" + urlencode(
        {"de": f"{m.a:%Y-%m}", "ate": f"{m.c:%Y-%m}"}))
    await page.wait_for_selector("#faixas svg")
    await shot(page, "reports-dashboard")
    # Each chart is drawn: bars with height, the vintage lines, the contact rates.
    heights = await page.eval_on_selector_all(
        "#faixas svg rect", "rs => rs.map(r => r.getBBox().height)")
    assert len(heights) == 7 and sum(1 for h in heights if h > 0) == 4
    assert await page.locator("#curvas svg polyline").count() == 2
    assert await page.locator("#contato svg rect").count() >= 6
    box = await page.locator("#faixas svg").bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 150
    assert await page.locator("#indicadores", has_text="32,6%").count() == 1
    # The tallest bar (181 a 360 dias) opens its debts.
    await page.locator("#faixas svg a").nth(5).click()
    await page.wait_for_selector("#titulos")
    await shot(page, "reports-detail")
    assert await page.locator("#titulos tbody tr").count() == 1
    assert await page.locator("h1", has_text="181 a 360 dias").count() == 1
    # Filters narrow the figures: one segment.
    await page.goto(f"{live_server}/relatorios?" + urlencode(
        {"de": f"{m.a:%Y-%m}", "ate": f"{m.c:%Y-%m}", "segmento": "primeiro_atraso"}))
    await page.wait_for_selector("#faixas svg")
    assert await page.locator("#indicadores", has_text="R$ 1.000,00").count() == 1


async def test_the_agency_page_compares_tenants(page, live_server, factory,
                                                reported: Reported) -> None:  # noqa: F811
    other = await factory.tenant("Segundo Credor")
    supervisor = await factory.user("supervisor", tenant_ids=[reported.tenant.id, other.id])
    await login(page, live_server, supervisor.email, supervisor.password)
    m = reported.built.months
    await page.goto(f"{live_server}/relatorios/agencia?" + urlencode(
        {"de": f"{m.a:%Y-%m}", "ate": f"{m.c:%Y-%m}"}))
    await page.wait_for_selector("#lado-a-lado")
    await shot(page, "reports-agency")
    assert await page.locator("#lado-a-lado thead th").count() == 3
    assert await page.locator(".report-chart svg rect").count() == 4
