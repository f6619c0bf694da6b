"""The monthly statement page in a browser, as a creditor admin sees it."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import login, shot
from tests.legal.test_statement import _month_with_payments

pytestmark = pytest.mark.e2e


async def test_the_statement_page_shows_both_sources_and_the_balance(page, live_server,
                                                                     factory, database_url):
    tenant, _built, today = await _month_with_payments(factory, database_url)
    await login(page, live_server, tenant.admin.email, tenant.admin.password)
    await page.goto(f"{live_server}/prestacao-de-contas?mes={today:%Y-%m}")
    await page.wait_for_selector("text=Saldo a repassar ao credor")
    await shot(page, "statement")
    assert await page.locator("text=R$ 73,33").count() >= 1
    assert await page.locator("a", has_text="baixar CSV").count() == 1
