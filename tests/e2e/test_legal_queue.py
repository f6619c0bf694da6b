"""The legal queue in a browser: the legal team lands on its queue, takes a received case
to analysis and then to filed with its CNJ number, downloads the dossier and reads its
first page in Chromium's PDF viewer."""

from __future__ import annotations

import datetime as dt

import pytest

from legal.cases import service
from tests.e2e.conftest import SHOTS, login, shot
from tests.legal.test_cases import REAL_CNJ, book, escalate, smtp_settings, the_case  # noqa: F401
from tests.pdftext import pages

pytestmark = pytest.mark.e2e


async def test_a_received_case_is_filed_and_its_dossier_read(page, browser, live_server,
                                                             book, tmp_path):  # noqa: F811
    await escalate(book["alfa"].id, book["debts"])
    await service.open_handed_off(book["alfa"].id)
    case = await the_case(book["alfa"].id)
    today = dt.date.today()
    await service.add_deadline(book["p_legal"], case.id, "Juntar procuração",
                               today - dt.timedelta(days=1))
    await service.add_deadline(book["p_legal"], case.id, "Protocolar a inicial",
                               today + dt.timedelta(days=2))

    await login(page, live_server, book["legal"].email, book["legal"].password)
    await page.wait_for_url("**/juridico")
    row = page.locator("#casos tr", has_text=case.code)
    assert "recebido" in await row.inner_text()
    yesterday = today - dt.timedelta(days=1)
    assert await row.locator(".deadline.overdue").inner_text() == f"{yesterday:%d/%m/%Y}"
    assert "1 prazo vencido" in await page.locator("#alertas").inner_text()
    await shot(page, "legal-queue")
    await row.locator("a").click()
    await page.wait_for_selector(f"h1:has-text('{case.code}')")

    await page.select_option("#novo-estado", "in_analysis")
    await page.fill("input[name=note]", "petição inicial em preparo")
    await page.click("button:has-text('Mudar situação')")
    await page.wait_for_selector("#situacao:has-text('em análise')")

    await page.select_option("#novo-estado", "filed")
    await page.fill("input[name=court_number]", REAL_CNJ.replace("-77.", "-78."))
    await page.fill("input[name=court_name]", "2ª Vara Cível de Campinas")
    await page.fill("input[name=filed_on]", "2026-01-05")
    await page.click("button:has-text('Mudar situação')")
    await page.wait_for_selector("text=dígito verificador não confere")
    await page.select_option("#novo-estado", "filed")
    await page.fill("input[name=court_number]", REAL_CNJ)
    await page.fill("input[name=court_name]", "2ª Vara Cível de Campinas")
    await page.fill("input[name=filed_on]", "2026-01-05")
    await page.click("button:has-text('Mudar situação')")
    await page.wait_for_selector("#situacao:has-text('ajuizado')")
    assert await page.locator("#processo-numero").inner_text() == REAL_CNJ
    await shot(page, "legal-case-filed")

    async with page.expect_download() as waiting:
        await page.click("#baixar-dossie")
    download = await waiting.value
    saved = tmp_path / download.suggested_filename
    await download.save_as(saved)
    first = pages(saved.read_bytes())[0]
    assert "Dossiê para cobrança judicial" in first and "José da Conceição" in first

    viewer = await page.context.new_page()
    await viewer.goto(saved.as_uri())
    await viewer.wait_for_timeout(2500)  # the PDF viewer draws the page
    SHOTS.mkdir(parents=True, exist_ok=True)
    await viewer.screenshot(path=str(SHOTS / "legal-dossier-first-page.png"))

    await page.goto(f"{live_server}/juridico")
    assert "ajuizado" in await page.locator("#casos tr", has_text=case.code).inner_text()
