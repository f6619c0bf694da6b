"""The debtor self-service page on a phone-sized screen: document, code, options,
acceptance, and the PIX and boleto to pay with."""

from __future__ import annotations

import uuid

import pytest

from tests.e2e.conftest import shot
from tests.legal.helpers import place_open_debt
from tests.legal.test_selfservice import code_sent_to, mailbox  # noqa: F401 - fixture

pytestmark = pytest.mark.e2e
PHONE = {"width": 390, "height": 844}


async def test_a_debtor_pays_from_a_phone(browser, live_server, factory, database_url,
                                          mailbox) -> None:  # noqa: F811
    tenant = await factory.tenant("Loja do Celular")
    email = f"bia-{uuid.uuid4().hex[:6]}@exemplo.com.br"
    await place_open_debt(database_url, tenant.id, document="11144477735", email=email)
    context = await browser.new_context(viewport=PHONE, locale="pt-BR", is_mobile=True,
                                        has_touch=True, device_scale_factor=2)
    tab = await context.new_page()
    try:
        await tab.goto(f"{live_server}/pagar/{tenant.slug}")
        await shot(tab, "selfservice-1-document")
        await tab.fill("input[name=documento]", "111.444.777-35")
        await tab.click("button[type=submit]")
        await tab.wait_for_selector("input[name=codigo]")
        await shot(tab, "selfservice-2-code")
        code = code_sent_to(email)
        assert code
        await tab.fill("input[name=codigo]", code)
        await tab.click("button[type=submit]")
        await tab.wait_for_selector("text=Escolha como pagar")
        await shot(tab, "selfservice-3-options")
        width = await tab.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], "the page scrolls sideways on a phone"
        await tab.locator("form.option button").first.click()
        await tab.wait_for_selector("text=Seu acordo: pagamento")
        await shot(tab, "selfservice-4-slips")
        assert await tab.locator("img.qr").count() >= 1
        assert await tab.locator(".pix").first.inner_text()
        width = await tab.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"]
    finally:
        await context.close()
