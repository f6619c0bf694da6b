"""The dashboard page, its downloads (CSV, XLSX, PDF with what they hold), the debts behind
a figure, the agency's side-by-side page, roles, and another tenant's 404 everywhere."""

from __future__ import annotations

import csv
import io
import re
from urllib.parse import urlencode

from openpyxl import load_workbook

from tests.pdftext import flat, fonts
from tests.reports.conftest import Reported


def _csv(content: bytes) -> list[list[str]]:
    assert content.startswith("\ufeff".encode())
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig")), delimiter=";"))


def pdf_text(content: bytes) -> str:
    """The text a PDF shows, as a reader extracts it."""
    assert content.startswith(b"%PDF")
    return flat(content)


def _period(reported: Reported) -> dict[str, str]:
    m = reported.built.months
    return {"credor": str(reported.tenant.id), "de": f"{m.a:%Y-%m}", "ate": f"{m.c:%Y-%m}"}


async def test_the_dashboard_page_shows_the_figures_and_their_charts(client, reported) -> None:  # type: ignore[no-untyped-def]
    admin = reported.tenant.admin
    page = await client.get("/relatorios?" + urlencode(_period(reported)), headers=admin.headers)
    assert page.status_code == 200, page.text
    text = page.text
    for expected in ("Carteira colocada por faixa de atraso", "R$ 4.300,00", "R$ 1.400,00",
                     "Índice de liquidez", "32,6%", "Curvas de safra", "Contato por canal",
                     "71,4%", "Campanha K1", "33,3%", "Régua campeã × desafiante",
                     "-50,0 p.p.", "de -100,0 p.p. a +19,3 p.p.", "sem diferença significativa",
                     "Honorários da assessoria", "R$ 140,00", "R$ 1.260,00"):
        assert expected in text, expected
    assert text.count("<svg") >= 5  # bands, cohorts, vintage, contact, messages
    assert "/relatorios/detalhe?" in text and "figura=faixa" in text
    # default period: the twelve months up to now
    default = await client.get("/relatorios", headers=admin.headers)
    assert default.status_code == 200 and "R$ 4.300,00" in default.text
    bad = await client.get("/relatorios?de=2026-13", headers=admin.headers)
    assert bad.status_code == 422 and "mês inválido" in bad.text


async def test_the_downloads_hold_the_dashboard(client, reported) -> None:  # type: ignore[no-untyped-def]
    admin, query = reported.tenant.admin, urlencode(_period(reported))
    rows = _csv((await client.get(f"/relatorios.csv?{query}", headers=admin.headers)).content)
    assert rows[0][0].startswith("Relatório de cobrança: Credor Relatórios")
    summary = {r[0]: r[1] for r in rows[rows.index(["Resumo do período"]) + 2:][:12]}
    assert summary["Valor colocado no período"] == "4300,00"
    assert summary["Títulos colocados"] == "5"
    assert summary["Índice de liquidez"] == "32,6%"
    assert summary["Líquido devido ao credor"] == "1260,00"
    bands = rows[rows.index(["Carteira colocada por faixa de atraso"]) + 2:][:7]
    assert ["181 a 360 dias", "1", "2500,00", "58,1%"] in bands

    response = await client.get(f"/relatorios.xlsx?{query}", headers=admin.headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = load_workbook(io.BytesIO(response.content))
    assert "Contato por canal" in book.sheetnames
    sheet = book["Carteira colocada por faixa de at"[:28].strip()]
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=4)]
    assert ["181 a 360 dias", 1, 2500, 0.5814] in values
    assert sheet.cell(row=4, column=3).number_format == '"R$" #,##0.00'

    pdf = await client.get(f"/relatorios.pdf?{query}", headers=admin.headers)
    shown = pdf_text(pdf.content)
    for expected in ("Resumo do período", "R$ 4.300,00", "Carteira colocada por faixa",
                     "Curvas de safra", "Honorários e repasse ao credor", "Gráficos"):
        assert expected in shown, expected
    # Only the embedded font, in the three styles the report uses (charts included).
    assert fonts(pdf.content) == {"DejaVuSansBook": True, "DejaVuSansBold": True,
                                  "DejaVuSansOblique": True}


async def test_the_debts_behind_a_figure(client, factory, reported) -> None:  # type: ignore[no-untyped-def]
    admin = reported.tenant.admin
    query = {**_period(reported), "figura": "faixa", "chave": "0-30"}
    page = await client.get("/relatorios/detalhe?" + urlencode(query), headers=admin.headers)
    assert page.status_code == 200
    contracts = re.findall(r"<td>(C-\d+-T\d)</td>", page.text)
    assert sorted(c[-2:] for c in contracts) == ["T4", "T5"]  # the band's 2 debts
    assert "2 título(s)" in page.text
    listed = _csv((await client.get("/relatorios/detalhe.csv?" + urlencode(query),
                                    headers=admin.headers)).content)
    assert listed[3][:3] == ["Devedor", "Documento", "Contrato"]
    assert sorted(r[2][-2:] for r in listed[4:6]) == ["T4", "T5"]
    assert listed[6] == ["2 título(s)."]
    # each figure's list has the debts its number counts
    for figure, key, expected in (("safra", f"{reported.built.months.a:%Y-%m}", {"T1"}),
                                  ("contato", "sms", {"T2", "T3"}),
                                  ("mensagem", "email:-3", {"T1"}),
                                  ("promessa", "quebrada", {"T2", "T3"}),
                                  ("acordo", "broken", {"T2"}),
                                  ("escalonamento", "protest:queued", {"T4"}),
                                  ("experimento", "champion", {"T1"}),
                                  ("honorarios", "", {"T1", "T4"})):
        found = await client.get("/relatorios/detalhe?" + urlencode(
            {**_period(reported), "figura": figure, "chave": key}), headers=admin.headers)
        assert found.status_code == 200, (figure, found.text)
        assert {c[-2:] for c in re.findall(r"<td>(C-\d+-T\d)</td>", found.text)} == expected, \
            figure
    # A creditor viewer reads the list with documents masked.
    viewer = await factory.user("creditor_viewer", tenant_id=reported.tenant.id)
    masked = await client.get("/relatorios/detalhe?" + urlencode(query), headers=viewer.headers)
    assert masked.status_code == 200 and "***." in masked.text
    assert "***." not in page.text


async def test_roles_and_another_tenant(client, factory, reported) -> None:  # type: ignore[no-untyped-def]
    other = await factory.tenant("Outro Credor")
    query = urlencode(_period(reported))
    detail = urlencode({**_period(reported), "figura": "faixa", "chave": "0-30"})
    for path in (f"/relatorios?{query}", f"/relatorios.csv?{query}", f"/relatorios.xlsx?{query}",
                 f"/relatorios.pdf?{query}", f"/relatorios/detalhe?{detail}",
                 f"/relatorios/detalhe.csv?{detail}", f"/relatorios/detalhe.xlsx?{detail}"):
        stranger = await client.get(path, headers=other.admin.headers)
        assert stranger.status_code == 404, path
    own = await client.get("/relatorios", headers=other.admin.headers)
    assert own.status_code == 200 and "R$ 4.300,00" not in own.text
    agent = await factory.user("agent", tenant_ids=[reported.tenant.id])
    assert (await client.get("/relatorios", headers=agent.headers)).status_code == 403
    assert (await client.get("/relatorios/agencia",
                             headers=reported.tenant.admin.headers)).status_code == 403
    # A supervisor reads the figures but not the agency's fees.
    supervisor = await factory.user("supervisor", tenant_ids=[reported.tenant.id])
    page = await client.get(f"/relatorios?{query}", headers=supervisor.headers)
    assert page.status_code == 200 and "R$ 4.300,00" in page.text
    assert "Honorários" not in page.text


async def test_the_agency_sees_its_tenants_side_by_side(client, factory, reported) -> None:  # type: ignore[no-untyped-def]
    other = await factory.tenant("Segundo Credor")
    # A supervisor works the tenants assigned to it (an admin works them all).
    admin = await factory.user("supervisor", tenant_ids=[reported.tenant.id, other.id])
    m = reported.built.months
    query = urlencode({"de": f"{m.a:%Y-%m}", "ate": f"{m.c:%Y-%m}"})
    page = await client.get(f"/relatorios/agencia?{query}", headers=admin.headers)
    assert page.status_code == 200
    assert "Credor Relatórios" in page.text and "Segundo Credor" in page.text
    assert page.text.count("<svg") == 2
    rows = _csv((await client.get(f"/relatorios/agencia.csv?{query}",
                                  headers=admin.headers)).content)
    header = rows[rows.index(["Credores lado a lado"]) + 1]
    assert set(header[1:]) == {"Credor Relatórios", "Segundo Credor"}
    placed = next(r for r in rows if r and r[0] == "Valor colocado no período")
    column = header.index("Credor Relatórios")
    assert placed[column] == "4300,00" and placed[3 - column] == "0,00"
    assert not any(r and r[0] == "Honorários da assessoria" for r in rows)  # not supervisors
    assert (await client.get(f"/relatorios/agencia.pdf?{query}",
                             headers=admin.headers)).content.startswith(b"%PDF")
