"""The creditor uploads a portfolio in the browser and watches it import."""

from __future__ import annotations

import pytest
from playwright.async_api import expect

from tenants.intake.formats.sample import write as write_sample
from tests.e2e.conftest import go_to, login, shot

pytestmark = pytest.mark.e2e


async def test_upload_map_import_and_see_the_counts(page, live_server, factory, tmp_path):
    tenant = await factory.tenant()
    path = tmp_path / "carteira-marco.csv"
    write_sample(path, 2000, seed=5, bad_ratio=0.03)
    await login(page, live_server, tenant.admin.email, tenant.admin.password)
    await page.wait_for_url("**/inicio")
    await go_to(page, "Carteiras")
    await page.wait_for_url("**/carteiras")
    await shot(page, "portfolios-empty")
    await page.set_input_files("#file", str(path))
    await page.locator("#mapping-card").wait_for(state="visible")
    assert "cp1252" in await page.locator("#format-info").inner_text()
    document = page.locator(".mapping-field[data-field=document] select")
    assert await document.input_value() == "CPF/CNPJ"
    phones = page.locator(".mapping-field[data-field=phone] input:checked")
    assert await phones.evaluate_all("boxes => boxes.map(b => b.value)") == [
        "Telefone 1", "Telefone 2"]
    assert await page.locator("#preview tbody tr").count() == 5
    # Each preview column says which field it feeds; unchosen columns stay extra fields.
    targets = page.locator("#preview thead tr.target th")
    assert (await targets.all_inner_texts())[:3] == ["→ CPF/CNPJ", "→ Nome", "→ Contrato"]
    assert "campo extra" in await targets.all_inner_texts()
    await page.fill("#layout-name", "Exportação do ERP")
    await shot(page, "portfolios-mapping")
    await page.click("#start")
    try:
        await page.locator("#result").wait_for(state="visible", timeout=60_000)
    finally:
        await shot(page, "portfolios-after-start")
    await shot(page, "portfolios-done")
    assert await page.locator("#progress-title").inner_text() == "Importação concluída"
    stats = await page.locator("#stats").inner_text()
    assert "2.000" in stats  # rows read, formatted for Brazil
    assert "1.940" in stats  # accepted
    assert "Linhas recusadas" in stats
    link = page.locator("#report-links a", has_text="relatório de erros")
    assert await link.count() == 1
    async with page.expect_download() as download:
        await link.click()
    history = page.locator("table.portfolios tbody tr").first  # refreshed without a reload
    await expect(history).to_contain_text("carteira-marco.csv")
    await expect(history).to_contain_text("Concluída")
    report = await (await download.value).path()
    text = report.read_text(encoding="utf-8-sig")
    assert text.startswith("Linha original;") and "Motivo da recusa" in text
    await page.reload()
    history = page.locator("table.portfolios tbody tr").first
    assert "carteira-marco.csv" in await history.inner_text()
    assert "Concluída" in await history.inner_text()
    # The saved layout is offered once the page's script has fetched the layouts.
    await expect(page.locator("#layout option", has_text="Exportação do ERP")).to_have_count(1)
    # The home page now shows the tenant's open portfolio.
    await go_to(page, "Início")
    card = await page.locator(".tenant-card").inner_text()
    assert "1.940 títulos" in card and "R$" in card
    await shot(page, "home-creditor")


async def upload_as_admin(page, live_server, tenant, path) -> None:
    """The tenant's admin logs in and drops `path` on the portfolios page."""
    await login(page, live_server, tenant.admin.email, tenant.admin.password)
    await page.wait_for_url("**/inicio")
    await page.goto(live_server + "/carteiras")
    await page.set_input_files("#file", str(path))


async def test_a_file_without_required_columns_asks_for_them(page, live_server, factory,
                                                             tmp_path):
    tenant = await factory.tenant()
    path = tmp_path / "estranho.csv"
    path.write_text("Clientes em atraso\nDocumento;Cliente;Total\n52998224725;Ana;10,00\n",
                    encoding="utf-8")
    await upload_as_admin(page, live_server, tenant, path)
    await page.locator("#mapping-error").wait_for(state="visible")
    message = await page.locator("#mapping-error").inner_text()
    assert "Contrato" in message and "Vencimento" in message
    assert await page.locator("#start").is_disabled()
    # The title line above the header is passed over, and the page says so.
    assert "Cabeçalho na linha 2" in await page.locator("#format-info").inner_text()
    assert await page.locator("#preview thead th").first.inner_text() == "DOCUMENTO"
    await shot(page, "portfolios-missing")
    # Choosing a column for a missing field updates the message and the preview.
    await page.select_option(".mapping-field[data-field=contract] select", "Documento")
    message = await page.locator("#mapping-error").inner_text()
    assert "Contrato" not in message and "Vencimento" in message
    assert "→ CPF/CNPJ, Contrato" in await page.locator("#preview thead tr.target").inner_text()


async def test_erp_headers_are_recognised_and_a_ddd_column_is_shown_joined(
        page, live_server, factory, tmp_path):
    tenant = await factory.tenant()
    path = tmp_path / "erp.csv"
    path.write_text("NR_DOC;NOME_DEVEDOR;NUM_CONTRATO;DT_VENC;VL_ORIGINAL;DDD;FONE;BAIRRO\n"
                    "52998224725;Ana;C1;10/01/2025;10,00;11;3333-4444;Centro\n",
                    encoding="utf-8")
    await upload_as_admin(page, live_server, tenant, path)
    await page.locator("#mapping-card").wait_for(state="visible")
    assert not await page.locator("#start").is_disabled()
    for field, header in (("document", "NR_DOC"), ("name", "NOME_DEVEDOR"),
                          ("contract", "NUM_CONTRATO"), ("due_date", "DT_VENC"),
                          ("amount", "VL_ORIGINAL")):
        assert await page.locator(
            f".mapping-field[data-field={field}] select").input_value() == header
    targets = await page.locator("#preview thead tr.target th").all_inner_texts()
    assert targets[5:] == ["→ DDD de “FONE”", "→ Telefones", "campo extra"]
    await shot(page, "portfolios-erp-headers")


async def test_an_xlsx_sheet_is_previewed_and_imported(page, live_server, factory, tmp_path):
    """An Excel export as creditors send it: a title above the header, the table moved
    one column right, typed dates and amounts, a second sheet before the data."""
    import datetime as dt

    openpyxl = pytest.importorskip("openpyxl")
    tenant = await factory.tenant()
    book = openpyxl.Workbook()
    book.active.title = "Carteira"
    ws = book.active
    ws["B1"] = "Títulos em aberto — março/2026"
    ws.append([])
    ws.append([None, "CPF", "Nome do Cliente", "Contrato", "Parcela", "Vencimento", "Valor"])
    for i in range(1500):
        ws.append([None, "529.982.247-25" if i % 2 else 11144477735, f"Cliente {i}",
                   f"CT-{i:05d}", 1, dt.datetime(2026, 1, 1) + dt.timedelta(days=i % 90),
                   100 + i / 100])
    ws.append([None, "TOTAL", None, None, None, None, 99999])
    path = tmp_path / "carteira-marco.xlsx"
    book.save(path)
    await upload_as_admin(page, live_server, tenant, path)
    await page.locator("#mapping-card").wait_for(state="visible")
    info = await page.locator("#format-info").inner_text()
    assert "Planilha XLSX, aba “Carteira”, 6 colunas" in info and "linha 3" in info
    first = await page.locator("#preview tbody tr").first.locator("td").all_inner_texts()
    # Typed cells as the creditor's Excel shows them.
    assert first == ["11144477735", "Cliente 0", "CT-00000", "1", "01/01/2026", "100"]
    await shot(page, "portfolios-xlsx-mapping")
    await page.click("#start")
    await page.locator("#result").wait_for(state="visible", timeout=60_000)
    await shot(page, "portfolios-xlsx-done")
    stats = await page.locator("#stats").inner_text()
    assert "1.501" in stats and "1.500" in stats  # read (with the totals line), accepted
    errors = page.locator("#report-links a", has_text="relatório de erros")
    assert await errors.inner_text() == "Baixar relatório de erros (1 linha)"


async def test_an_empty_file_is_refused_at_once_without_a_green_bar(page, live_server, factory,
                                                                    tmp_path):
    tenant = await factory.tenant()
    path = tmp_path / "vazio.csv"
    path.write_bytes(b"")
    await upload_as_admin(page, live_server, tenant, path)
    error = page.locator("#upload-error")
    await expect(error).to_be_visible()
    assert "vazio" in await error.inner_text()
    assert await page.locator("#upload-progress").is_hidden()  # no bar claims success
    assert await page.locator("#mapping-card").is_hidden()
    await shot(page, "portfolios-empty-file")


async def test_a_file_imported_before_is_recognised_at_once_with_a_link(
        page, live_server, factory, tmp_path):
    from tenants.intake import service

    tenant = await factory.tenant()
    path = tmp_path / "carteira-abril.csv"
    write_sample(path, 200, seed=9)
    await service.import_file(service.SYSTEM, tenant.id, path)
    await upload_as_admin(page, live_server, tenant, path)
    notice = page.locator("#upload-duplicate")
    await expect(notice).to_be_visible()
    assert "já foi importado" in await notice.inner_text()
    assert await page.locator("#mapping-card").is_hidden()  # no column matching
    assert await page.locator("#progress-card").is_hidden()  # no 0% bar, no zeros
    label = await page.locator("#upload-progress .label").first.inner_text()
    assert "já importado" in label
    await shot(page, "portfolios-duplicate")
    await page.click("#duplicate-link")
    earlier = page.locator("table.portfolios tbody tr:target")
    await expect(earlier).to_contain_text("Concluída")
    await shot(page, "portfolios-duplicate-link")


async def test_a_long_file_name_is_cut_with_the_whole_name_in_its_title(
        page, live_server, factory, tmp_path):
    from tenants.intake import service

    tenant = await factory.tenant()
    name = "carteira-" + "muito-longa-" * 19 + "fim.csv"  # 244 characters, no spaces
    path = tmp_path / name
    write_sample(path, 20, seed=4)
    await service.import_file(service.SYSTEM, tenant.id, path)
    await login(page, live_server, tenant.admin.email, tenant.admin.password)
    await page.wait_for_url("**/inicio")
    await page.goto(live_server + "/carteiras")
    cell = page.locator("table.portfolios tbody tr").first.locator("td.file-name")
    assert await cell.get_attribute("title") == name
    await shot(page, "portfolios-long-name")
    table = await page.locator("table.portfolios").bounding_box()
    card = await page.locator("#history").bounding_box()
    assert table["width"] <= card["width"]  # the table stays inside its card
    assert (await cell.bounding_box())["width"] < 400
    await shot(page, "portfolios-long-name")


async def test_the_progress_label_reads_on_the_empty_track(page, live_server, factory):
    tenant = await factory.tenant()
    await login(page, live_server, tenant.admin.email, tenant.admin.password)
    await page.wait_for_url("**/inicio")
    await page.goto(live_server + "/carteiras")
    # The bar as the import shows it at 0%, then at 100%.
    track = page.locator("#upload-progress")
    await page.evaluate("""() => {
        const el = document.getElementById("upload-progress");
        el.hidden = false;
        el.querySelector(".bar").style.width = "0%";
        el.style.setProperty("--p", "0%");
        for (const s of el.querySelectorAll(".label")) s.textContent = "0% · 0 linhas lidas";
    }""")
    colours = await track.evaluate("""el => {
        const label = getComputedStyle(el.querySelector(".label:not(.on-bar)")).color;
        const onBar = el.querySelector(".label.on-bar");
        return {label, track: getComputedStyle(el).backgroundColor,
                onBarClip: getComputedStyle(onBar).clipPath};
    }""")
    assert contrast(colours["label"], colours["track"]) >= 4.5
    assert "100%" in colours["onBarClip"]  # the white twin shows nowhere at 0%
    await shot(page, "portfolios-progress-zero")


def contrast(a: str, b: str) -> float:
    """WCAG contrast ratio of two `rgb(...)` colours."""
    def luminance(colour: str) -> float:
        parts = [int(x) / 255 for x in colour[colour.index("(") + 1:-1].split(",")[:3]]
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in parts]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]
    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


async def test_a_file_refused_on_arrival_turns_the_bar_red_and_is_listed_apart(
        page, live_server, factory, tmp_path):
    tenant = await factory.tenant()
    path = tmp_path / "foto-da-planilha.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40)
    await upload_as_admin(page, live_server, tenant, path)
    error = page.locator("#upload-error")
    await expect(error).to_be_visible()
    bar = page.locator("#upload-progress")
    await expect(bar).to_have_class("progress failed")
    assert "recusado" in await bar.locator(".label").first.inner_text()
    assert await page.locator("#mapping-card").is_hidden()
    apart = page.locator("details.never-started")
    await expect(apart).to_contain_text("Envios que não chegaram a ser importados (1)")
    await apart.locator("summary").click()
    await expect(apart).to_contain_text("Recusado")
    await expect(page.locator("table.portfolios").first).to_contain_text(
        "Nenhuma carteira importada ainda.")
    await shot(page, "portfolios-refused-on-arrival")
