"""Files built to exhaust the server's memory are refused early, saying what and where,
and what gets past the limits is read in a process of its own that dies alone.

Each hostile file is written here in a stream (never whole in memory), and each test
checks that this process, which also runs the web app, stays about the size it was."""

from __future__ import annotations

import asyncio
import random
import uuid
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from core.db import Scope
from portal.operator import import_portfolio
from tenants.intake import service
from tenants.intake.formats import parsing, reader
from tenants.intake.formats.reader import EMPTY_FILE
from tenants.intake.limits import Limits

MB = 1024 * 1024
HEADER = "CPF/CNPJ;Nome;Contrato;Parcela;Vencimento;Valor"
ROW = "52998224725;Ana Souza;A-{n};1;10/01/2025;100,00"

XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
OOXML = "http://schemas.openxmlformats.org"
SHEETML = "application/vnd.openxmlformats-officedocument.spreadsheetml"
RELATIONSHIPS = f"{OOXML}/officeDocument/2006/relationships"
CONTENT_TYPES = (
    f'{XML}<Types xmlns="{OOXML}/package/2006/content-types">'
    '<Default Extension="rels"'
    ' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    f'<Override PartName="/xl/workbook.xml" ContentType="{SHEETML}.sheet.main+xml"/>'
    '<Override PartName="/xl/worksheets/sheet1.xml"'
    f' ContentType="{SHEETML}.worksheet+xml"/>'
    '<Override PartName="/xl/sharedStrings.xml"'
    f' ContentType="{SHEETML}.sharedStrings+xml"/>'
    "</Types>")
ROOT_RELS = (
    f'{XML}<Relationships xmlns="{OOXML}/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/officeDocument"'
    ' Target="xl/workbook.xml"/></Relationships>')
WORKBOOK = (
    f'{XML}<workbook xmlns="{OOXML}/spreadsheetml/2006/main" xmlns:r="{RELATIONSHIPS}">'
    '<sheets><sheet name="Carteira" sheetId="1" r:id="rId1"/></sheets></workbook>')
WORKBOOK_RELS = (
    f'{XML}<Relationships xmlns="{OOXML}/package/2006/relationships">'
    f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/worksheet"'
    ' Target="worksheets/sheet1.xml"/>'
    f'<Relationship Id="rId2" Type="{RELATIONSHIPS}/sharedStrings"'
    ' Target="sharedStrings.xml"/></Relationships>')
SHEET_OPEN = f'{XML}<worksheet xmlns="{OOXML}/spreadsheetml/2006/main">'


def _cells(row: int, values: list[str]) -> str:
    return f'<row r="{row}">' + "".join(
        f'<c r="{chr(65 + i)}{row}" t="inlineStr"><is><t>{v}</t></is></c>'
        for i, v in enumerate(values)) + "</row>"


def workbook(path: Path, sheet_rows: Iterator[str], shared: Iterable[bytes] = (),
             dimension: str | None = None) -> Path:
    """A minimal XLSX, its sheet and shared strings written piece by piece."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        for name, text in (("[Content_Types].xml", CONTENT_TYPES), ("_rels/.rels", ROOT_RELS),
                           ("xl/workbook.xml", WORKBOOK),
                           ("xl/_rels/workbook.xml.rels", WORKBOOK_RELS)):
            book.writestr(name, text)
        with book.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as sheet:
            sheet.write(SHEET_OPEN.encode())
            if dimension:
                sheet.write(f'<dimension ref="{dimension}"/>'.encode())
            sheet.write(b"<sheetData>")
            for row in sheet_rows:
                sheet.write(row.encode())
            sheet.write(b"</sheetData></worksheet>")
        with book.open("xl/sharedStrings.xml", "w", force_zip64=True) as strings:
            strings.write(f'{XML}<sst xmlns="{OOXML}/spreadsheetml/2006/main" count="1"'
                          ' uniqueCount="1"><si><t>'.encode())
            for piece in shared:
                strings.write(piece)
            strings.write(b"</t></si></sst>")
    return path


def one_huge_string_sheet() -> Iterator[str]:
    yield _cells(1, HEADER.split(";"))
    yield ('<row r="2"><c r="A2" t="s"><v>0</v></c>'
           + "".join(f'<c r="{c}2" t="inlineStr"><is><t>x</t></is></c>' for c in "BCDEF")
           + "</row>")


def runs_of_letters(total: int, seed: int = 1) -> Iterator[bytes]:
    """Text that compresses about 60 times: under any sane ratio limit, unlike one letter
    repeated (a thousand times)."""
    rng = random.Random(seed)
    pieces = []
    for _ in range(8):  # a few megabytes of runs, reused: each longer than zlib's window
        runs, size = [], 0
        while size < MB:
            length = rng.randint(20, 400)
            runs.append(rng.choice("abcdefghijklmnopqrstuvwxyz") * length)
            size += length
        pieces.append("".join(runs).encode())
    written = 0
    while written < total:
        piece = pieces[written // MB % len(pieces)][: total - written]
        written += len(piece)
        yield piece


def rss() -> int:
    return int(psutil.Process().memory_info().rss)


async def upload(client, headers: dict[str, str], path: Path) -> dict:
    content = await asyncio.to_thread(path.read_bytes)
    created = await client.post("/api/v1/portfolios", headers=headers, json={
        "file_name": path.name, "file_size": len(content)})
    assert created.status_code == 201, created.text
    body = created.json()
    async with httpx.AsyncClient(timeout=120) as s3:
        put = await s3.put(body["upload_url"], content=content, headers=body["upload_headers"])
    assert put.status_code == 200, put.text
    return body


async def refusal_on_arrival(client, headers, path: Path) -> str:
    body = await upload(client, headers, path)
    answer = await client.post(f"/api/v1/portfolios/{body['id']}/received", headers=headers)
    assert answer.status_code == 422, answer.text
    return answer.json()["errors"]["file"]


async def test_a_workbook_whose_one_shared_string_is_100_mb_is_refused_from_its_directory(
        client, factory, tmp_path):
    tenant = await factory.tenant()
    path = workbook(tmp_path / "carteira.xlsx", one_huge_string_sheet(),
                    (b"a" * MB for _ in range(100)))
    assert path.stat().st_size < 200 * 1024
    before = rss()
    message = await refusal_on_arrival(client, tenant.admin.headers, path)
    assert "“xl/sharedStrings.xml”" in message and "vezes ao descompactar" in message
    assert "o limite deste credor é 100 vezes" in message
    assert rss() - before < 50 * MB


async def test_a_huge_string_past_the_ratio_check_kills_only_its_reader(
        client, factory, tmp_path):
    """200 MB of text that compresses 60 times passes the ratio check; reading it needs
    more memory than the tenant allows the reader, so the reader dies, not the app."""
    tenant = await factory.tenant()
    changed = await client.put(f"/api/v1/tenants/{tenant.id}/intake-limits",
                               headers=tenant.admin.headers, json={"memory_mb": 256})
    assert changed.status_code == 200, changed.text
    path = workbook(tmp_path / "carteira.xlsx", one_huge_string_sheet(),
                    runs_of_letters(200 * MB))
    before = rss()
    message = await refusal_on_arrival(client, tenant.admin.headers, path)
    assert message.startswith("O arquivo excede o limite de memória ao ser lido (256 MB")
    assert rss() - before < 50 * MB


async def test_a_csv_with_150000_header_columns_is_refused_by_preview_and_import(
        db, client, factory, worker, tmp_path):
    tenant = await factory.tenant()
    path = tmp_path / "colunas.csv"
    path.write_text(";".join(f"c{i}" for i in range(150_000)) + "\n"
                    + ";".join("1" for _ in range(150_000)) + "\n")
    assert 1 * MB < path.stat().st_size < 2 * MB
    before = rss()
    body = await upload(client, tenant.admin.headers, path)
    preview = await client.post(f"/api/v1/portfolios/{body['id']}/preview",
                                headers=tenant.admin.headers)
    assert preview.status_code == 422
    expected = "o cabeçalho (linha 1) tem mais de 300 colunas, o limite deste credor"
    assert preview.json()["errors"]["file"] == expected
    started = await client.post(f"/api/v1/portfolios/{body['id']}/start",
                                headers=tenant.admin.headers)
    assert started.status_code == 202
    status = await finished(client, tenant.admin.headers, body["id"])
    assert status["status"] == "failed" and status["error"] == expected
    assert rss() - before < 50 * MB


async def finished(client, headers, portfolio_id: str) -> dict:
    for _ in range(240):
        status = (await client.get(f"/api/v1/portfolios/{portfolio_id}",
                                   headers=headers)).json()
        if status["status"] not in ("queued", "running"):
            return status
        await asyncio.sleep(0.25)
    raise AssertionError(f"portfolio {portfolio_id} still {status['status']}")


async def test_an_xlsx_declaring_three_million_rows_is_refused_before_reading_them(
        client, factory, tmp_path):
    tenant = await factory.tenant()

    def rows() -> Iterator[str]:
        yield _cells(1, HEADER.split(";"))
        for start in range(2, 3_000_001, 100_000):
            yield "".join(f'<row r="{n}"><c r="A{n}"><v>{n}</v></c></row>'
                          for n in range(start, min(start + 100_000, 3_000_001)))

    path = workbook(tmp_path / "linhas.xlsx", rows(), dimension="A1:F3000000")
    before = rss()
    message = await refusal_on_arrival(client, tenant.admin.headers, path)
    assert message == ("A aba “Carteira” declara 2.999.999 linhas de dados; o limite deste"
                       " credor é 2.000.000")
    assert rss() - before < 50 * MB


def test_rows_past_the_limit_stop_the_reading_naming_the_row(tmp_path):
    """A sheet that declares nothing is counted as it is read, blank rows too."""
    rows = (_cells(n, ["52998224725", "Ana", f"A-{n}", "1", "10/01/2025", "1"]) if n > 1
            else _cells(1, HEADER.split(";")) for n in range(1, 60))
    path = workbook(tmp_path / "c.xlsx", rows)
    limits = Limits(rows=50)
    fmt = parsing.sniff(path, limits=limits)
    with pytest.raises(reader.FileError, match=r"passa de 50 linhas de dados .* na linha 52"):
        list(reader.iter_records(path, fmt, limits))
    csv = tmp_path / "c.csv"
    csv.write_text(HEADER + "\n" + "\n".join(ROW.format(n=n) for n in range(60)) + "\n")
    fmt = parsing.sniff(csv, limits=limits)
    with pytest.raises(reader.FileError, match=r"passa de 50 linhas de dados .* na linha 52"):
        list(reader.iter_records(csv, fmt, limits))


def test_a_cell_past_the_limit_is_named_by_row_and_column(tmp_path):
    path = tmp_path / "c.csv"
    long_name = "Ana " + "x" * 20_000
    path.write_text(HEADER + "\n" + ROW.format(n=1) + "\n"
                    + ROW.format(n=2).replace("Ana Souza", long_name) + "\n")
    fmt = parsing.sniff(path)
    with pytest.raises(reader.FileError) as refused:
        list(reader.iter_records(path, fmt))
    assert str(refused.value) == ("a célula da linha 3, coluna “Nome”, tem 20.004 caracteres;"
                                  " o limite deste credor é 10.000")


def test_a_sheet_of_blank_rows_is_not_held_in_memory_by_the_header_search(tmp_path):
    rows = (f'<row r="{n}"/>' for n in range(1, 300_001))
    path = workbook(tmp_path / "vazia.xlsx", rows)
    before = rss()
    with pytest.raises(reader.FileError, match="está vazia"):
        reader.sniff(path)
    assert rss() - before < 50 * MB


async def test_a_50_mb_unterminated_quoted_field_fails_naming_the_line_of_the_quote(
        db, factory, services, tmp_path):
    tenant = await factory.tenant()
    path = tmp_path / "aspas.csv"
    with path.open("w") as out:
        out.write(HEADER + "\n" + "\n".join(ROW.format(n=n) for n in range(3)) + "\n")
        out.write('52998224725;"Ana Souza;A-9;1;10/01/2025;100,00\n')
        line = ("texto sem fim " * 70)[:999] + "\n"
        for _ in range(50 * 1000):
            out.write(line)
    before = rss()
    result = await import_portfolio(tenant.slug, str(path), None, "incremental", None)
    assert result["status"] == "failed"
    assert result["error"].startswith(
        "as aspas abertas na linha 5 não se fecham: o campo que elas começam passa de 10.000"
        " caracteres")
    assert rss() - before < 50 * MB


async def test_an_empty_upload_gets_one_message_from_preview_and_import(
        client, factory, worker, tmp_path):
    tenant = await factory.tenant()
    path = tmp_path / "vazio.csv"
    path.write_bytes(b"")
    body = await upload(client, tenant.admin.headers, path)
    preview = await client.post(f"/api/v1/portfolios/{body['id']}/preview",
                                headers=tenant.admin.headers)
    assert preview.status_code == 422 and preview.json()["errors"]["file"] == EMPTY_FILE
    await client.post(f"/api/v1/portfolios/{body['id']}/start", headers=tenant.admin.headers)
    status = await finished(client, tenant.admin.headers, body["id"])
    assert status["status"] == "failed" and status["error"] == EMPTY_FILE


async def test_an_upload_url_takes_its_declared_size_once_and_never_rewrites_the_file(
        db, client, factory, worker, tmp_path):
    tenant = await factory.tenant()
    headers = tenant.admin.headers
    path = tmp_path / "c.csv"
    path.write_text(HEADER + "\n" + "\n".join(ROW.format(n=n) for n in range(5)) + "\n")
    created = (await client.post("/api/v1/portfolios", headers=headers, json={
        "file_name": "c.csv", "file_size": path.stat().st_size})).json()
    url, signed = created["upload_url"], created["upload_headers"]
    assert "X-Amz-Expires=600" in url  # ten minutes
    async with httpx.AsyncClient() as s3:
        assert (await s3.put(url, content=path.read_bytes() + b"x",
                             headers=signed)).status_code == 403  # another size
        assert (await s3.put(url, content=path.read_bytes())).status_code == 403  # unsigned
        assert (await s3.put(url, content=path.read_bytes(), headers=signed)).status_code == 200
        again = await s3.put(url, content=path.read_bytes()[::-1], headers=signed)
        assert again.status_code == 412  # once only
        preview = (await client.post(f"/api/v1/portfolios/{created['id']}/preview",
                                     headers=headers)).json()
        await client.post(f"/api/v1/portfolios/{created['id']}/start", headers=headers,
                          json={"mapping": preview["mapping"]})
        assert (await finished(client, headers, created["id"]))["status"] == "done"
        for body in (b"", path.read_bytes()[::-1]):  # the overwrite with 0 bytes
            assert (await s3.put(url, content=body, headers=signed)).status_code in (403, 412)
    async with db.transaction(Scope.tenant(tenant.id)) as session:
        portfolio = await service.get_portfolio(session, uuid.UUID(created["id"]))
    from core.runtime import get_storage

    assert get_storage().get(portfolio.file_key) == path.read_bytes()


async def test_a_file_larger_than_the_tenants_limit_gets_no_upload_url(client, factory):
    tenant = await factory.tenant()
    too_big = await client.post("/api/v1/portfolios", headers=tenant.admin.headers, json={
        "file_name": "c.csv", "file_size": 501 * MB})
    assert too_big.status_code == 422
    assert too_big.json()["errors"]["file_size"] == (
        "o arquivo tem 501,0 MB; o limite deste credor é 500 MB")


async def test_a_tenant_sets_its_limits_within_the_platforms(client, factory):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    url = f"/api/v1/tenants/{alfa.id}/intake-limits"
    shown = (await client.get(url, headers=alfa.admin.headers)).json()
    assert shown["limits"]["rows"] == 2_000_000 and shown["maxima"]["rows"] == 20_000_000
    assert shown["overrides"] == {}
    changed = await client.put(url, headers=alfa.admin.headers,
                               json={"rows": 100_000, "file_mb": 50})
    assert changed.status_code == 200
    assert changed.json()["limits"]["rows"] == 100_000
    assert changed.json()["overrides"] == {"rows": 100_000, "file_mb": 50}
    past = await client.put(url, headers=alfa.admin.headers, json={"rows": 20_000_001})
    assert past.status_code == 422
    assert past.json()["errors"]["rows"] == (
        "linhas: use de 1 a 20.000.000 (o máximo da plataforma)")
    too_big = await client.post("/api/v1/portfolios", headers=alfa.admin.headers,
                                json={"file_name": "c.csv", "file_size": 51 * MB})
    assert too_big.json()["errors"]["file_size"].endswith("o limite deste credor é 50 MB")
    # Another tenant's limits are not found; a viewer may read but not change them.
    assert (await client.get(url, headers=beta.admin.headers)).status_code == 404
    assert (await client.put(url, headers=beta.admin.headers,
                             json={"rows": 5})).status_code == 404
    viewer = await factory.user("creditor_viewer", tenant_id=alfa.id)
    assert (await client.get(url, headers=viewer.headers)).status_code == 200
    assert (await client.put(url, headers=viewer.headers, json={})).status_code == 403
    back = await client.put(url, headers=alfa.admin.headers, json={})
    assert back.json()["overrides"] == {} and back.json()["limits"]["rows"] == 2_000_000
