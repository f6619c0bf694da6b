"""The letters page in a browser: a creditor's administrator finds yesterday's print file
with its count and downloads the PDF."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from core.access import transaction
from core.channels import OutboundMessage, letters, send
from core.models import Channel
from core.runtime import get_storage
from tests.core.test_channels import place
from tests.e2e.conftest import go_to, login, shot

pytestmark = pytest.mark.e2e


async def test_a_creditor_downloads_yesterdays_print_file(page, live_server, factory,
                                                           database_url):
    tenant = await factory.tenant("Varejo Cartas")
    for document in ("52998224725", "11144477735", "39053344705"):
        placed = await place(factory, database_url, tenant=tenant, document=document)
        async with transaction(placed.principal) as session:
            await send(session, OutboundMessage(Channel.LETTER, placed.debtor_id))
    yesterday = dt.datetime.now(ZoneInfo("America/Sao_Paulo")).date() - dt.timedelta(days=1)
    async with transaction(placed.principal) as session:
        await session.execute(text("UPDATE message_dispatch SET sent_at = sent_at"
                                   " - interval '1 day' WHERE channel = 'letter'"))
        await letters.batch_day(session, get_storage(), tenant.id, yesterday)

    await login(page, live_server, tenant.admin.email, tenant.admin.password)
    await page.wait_for_url("**/inicio")
    await go_to(page, "Cartas")
    await page.wait_for_selector("h1:has-text('Cartas para impressão — Varejo Cartas')")
    row = page.locator("tr", has_text=yesterday.strftime("%d/%m/%Y"))
    assert (await row.locator("td.num").first.inner_text()) == "3"
    async with page.expect_download() as waiting:
        await row.locator("text=PDF das cartas").click()
    download = await waiting.value
    assert download.suggested_filename == f"cartas-{yesterday.isoformat()}.pdf"
    await shot(page, "letters")
