"""The sandbox page in a browser: a tenant's e-mail, SMS and WhatsApp as the local
servers received them, marked as sandbox."""

from __future__ import annotations

import pytest

from core.access import transaction
from core.channels import OutboundMessage, sandbox, send
from core.models import Channel
from core.settings import get_settings
from tests.core.test_channels import place, wait_for
from tests.e2e.conftest import login, shot

pytestmark = pytest.mark.e2e


async def test_the_sandbox_page_shows_what_each_channel_received(page, live_server, factory,
                                                                 database_url):
    running = sandbox.Sandbox(get_settings(), live_server)
    running.start_smtp()
    running.start_http()
    try:
        settings = get_settings().model_copy(update={"sandbox_url": running.url,
                                                     "sandbox_smtp_port": running.smtp_port})
        tenant = await factory.tenant("Banco Sandbox")
        placed = await place(factory, database_url, tenant=tenant)
        async with transaction(placed.principal) as session:
            for channel in (Channel.EMAIL, Channel.SMS, Channel.WHATSAPP):
                await send(session, OutboundMessage(channel, placed.debtor_id),
                           settings=settings)

        await login(page, live_server, tenant.admin.email, tenant.admin.password)

        async def settled() -> bool:
            await page.goto(live_server + "/sandbox")
            return await page.locator("text=enviada").count() == 1  # e-mail stays "sent"

        assert await wait_for(settled)
        assert await page.locator(".sandbox-banner").is_visible()
        assert await page.locator("tbody tr").count() == 3
        await shot(page, "sandbox-list")
        await page.locator("tbody tr a").last.click()
        await page.wait_for_selector("pre.message")
        assert "O que o sandbox recebeu" in await page.content()
        await shot(page, "sandbox-email")
        await page.goto(live_server + "/sandbox")
        await page.locator("tbody tr a").first.click()
        await page.wait_for_selector("ol.params")
        await shot(page, "sandbox-whatsapp")
    finally:
        running.stop()
