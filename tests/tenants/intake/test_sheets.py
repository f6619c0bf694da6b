"""Spreadsheet rows: numbered as the spreadsheet shows them, streamed or read whole."""

from __future__ import annotations

import datetime as dt
import html
import zipfile
from pathlib import Path

import polars as pl
import pytest

from core.models import ImportMode
from tenants.intake.formats import parsing, reader, sheets

openpyxl = pytest.importorskip("openpyxl")
FIXTURES = Path(__file__).parent / "fixtures"


def away_from_a1(path: Path, title: bool = True) -> Path:
    """The header in C5 (a title in A1 or nothing), data below it with a blank row in
    between."""
    book = openpyxl.Workbook()
    ws = book.active
    if title:
        ws["A1"] = "Carteira de março"
    for column, value in zip("CDEFG", ["CPF", "Nome", "Contrato", "Vencimento", "Valor"],
                             strict=True):
        ws[f"{column}5"] = value
    ws.append([None, None, "52998224725", "Ana", "C1", dt.date(2025, 1, 10), 10.5])
    ws.append([])
    ws.append([None, None, 52998224725, "Ana", "C2", dt.datetime(2025, 2, 10, 14, 30), 20])
    book.save(path)
    return path


def filled(rows: list[tuple[int, list[str]]]) -> list[tuple[int, list[str]]]:
    return [(n, [v for v in values if v]) for n, values in rows if any(values)]


@pytest.mark.parametrize("title", [True, False])
def test_a_streamed_sheet_and_a_sheet_read_whole_give_the_same_rows(tmp_path: Path,
                                                                     title: bool) -> None:
    path = away_from_a1(tmp_path / "carteira.xlsx", title)
    streamed = list(sheets.open_sheet(path, "xlsx", None).rows)
    whole = list(sheets.open_sheet(path, "xls", None).rows)  # how calamine reads XLS
    assert filled(streamed) == filled(whole) == [
        *([(1, ["Carteira de março"])] if title else []),
        (5, ["CPF", "Nome", "Contrato", "Vencimento", "Valor"]),
        (6, ["52998224725", "Ana", "C1", "10/01/2025", "10.5"]),
        (8, ["52998224725", "Ana", "C2", "10/02/2025 14:30:00", "20"])]
    assert streamed[4][1][2] == whole[4][1][2] == "CPF"  # row 5, column C in both


def test_columns_before_the_header_are_passed_over(tmp_path: Path) -> None:
    path = away_from_a1(tmp_path / "carteira.xlsx")
    fmt = parsing.sniff(path)
    assert fmt.header_row == 5 and fmt.headers == ["CPF", "Nome", "Contrato", "Vencimento",
                                                   "Valor"]
    assert fmt.head == [["52998224725", "Ana", "C1", "10/01/2025", "10.5"],
                        ["52998224725", "Ana", "C2", "10/02/2025 14:30:00", "20"]]
    mapping = parsing.match_headers(fmt.headers, None, ImportMode.INCREMENTAL)
    batch = next(parsing.read_batches(path, fmt, mapping, ImportMode.INCREMENTAL))
    assert batch.accepted.select("row", "contract", "due_date", "amount").rows() == [
        (6, "C1", dt.date(2025, 1, 10), "10.50"), (8, "C2", dt.date(2025, 2, 10), "20.00")]


@pytest.mark.parametrize("write_only", [False, True])  # write-only sheets lack a dimension
def test_a_long_sheet_reports_progress_as_it_is_read(tmp_path: Path, write_only: bool) -> None:
    book = openpyxl.Workbook(write_only=write_only)
    ws = book.create_sheet("Carteira") if write_only else book.active
    ws.append(["CPF", "Nome", "Contrato", "Vencimento", "Valor"])
    for i in range(2100):
        ws.append(["52998224725", "Ana", f"C{i}", "10/01/2025", "10,00"])
    path = tmp_path / "carteira.xlsx"
    book.save(path)
    fmt = parsing.sniff(path)
    progress = [read for _, read in reader.iter_sheet(path, fmt, batch_rows=400)]
    size = path.stat().st_size
    assert len(progress) == 6 and progress[-1] == size
    assert progress == sorted(progress) and progress[0] < size / 3
    assert size / 2 < progress[-2] < size


def test_a_sheet_damaged_halfway_stops_the_import_saying_where(tmp_path: Path) -> None:
    book = openpyxl.Workbook()
    book.active.append(["CPF", "Nome", "Contrato", "Vencimento", "Valor"])
    for i in range(3000):
        book.active.append(["52998224725", "Ana", f"C{i}", "10/01/2025", "10,00"])
    whole = tmp_path / "whole.xlsx"
    book.save(whole)
    path = tmp_path / "carteira.xlsx"  # the sheet's XML cut in the middle
    with zipfile.ZipFile(whole) as source, zipfile.ZipFile(path, "w") as damaged:
        for info in source.infolist():
            data = source.read(info)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data[: len(data) // 2]
            damaged.writestr(info, data)
    fmt = parsing.sniff(path)
    mapping = parsing.match_headers(fmt.headers, None, ImportMode.INCREMENTAL)
    with pytest.raises(parsing.FileError, match=r"não pôde ser lida depois da linha \d+"):
        list(parsing.read_batches(path, fmt, mapping, ImportMode.INCREMENTAL))


ODS_NAMESPACES = " ".join(f'xmlns:{p}="urn:oasis:names:tc:opendocument:xmlns:{u}"' for p, u in [
    ("office", "office:1.0"), ("table", "table:1.0"), ("text", "text:1.0")])


def ods(path: Path, sheets_xml: dict[str, str], encrypted: bool = False,
        doctype: str = "") -> Path:
    """An ODS with the given sheets (name: table rows as XML), as LibreOffice lays it out
    (with a password, LibreOffice's manifest says how content.xml was encrypted)."""
    tables = "".join(f'<table:table table:name="{html.escape(name)}">{rows}</table:table>'
                     for name, rows in sheets_xml.items())
    with zipfile.ZipFile(path, "w") as book:
        book.writestr("mimetype", "application/vnd.oasis.opendocument.spreadsheet")
        book.writestr("META-INF/manifest.xml", (
            '<?xml version="1.0" encoding="UTF-8"?><manifest:manifest xmlns:manifest='
            '"urn:oasis:names:tc:opendocument:xmlns:manifest:1.0" manifest:version="1.3">'
            '<manifest:file-entry manifest:full-path="/" manifest:media-type='
            '"application/vnd.oasis.opendocument.spreadsheet"/><manifest:file-entry '
            'manifest:full-path="content.xml" manifest:media-type="text/xml">'
            + ("<manifest:encryption-data/>" if encrypted else "")
            + "</manifest:file-entry></manifest:manifest>"))
        book.writestr("content.xml", (
            f'<?xml version="1.0" encoding="UTF-8"?>{doctype}'
            f'<office:document-content {ODS_NAMESPACES}'
            f' office:version="1.3"><office:body><office:spreadsheet>{tables}'
            "</office:spreadsheet></office:body></office:document-content>"))
    return path


def text(value: str, repeated: int = 1) -> str:
    times = f' table:number-columns-repeated="{repeated}"' if repeated > 1 else ""
    return f'<table:table-cell office:value-type="string"{times}><text:p>{value}</text:p>' \
           "</table:table-cell>"


def row(*cells: str, repeated: int = 1) -> str:
    times = f' table:number-rows-repeated="{repeated}"' if repeated > 1 else ""
    return f"<table:table-row{times}>{''.join(cells)}</table:table-row>"


EMPTY = "<table:table-cell/>"
DEBTS = "".join([
    row(text("Carteira &amp; acordos")),
    row('<table:table-cell table:number-columns-repeated="3"/>', repeated=2),
    row(EMPTY, text("CPF"), text("Nome"), text("Contrato"), text("Vencimento"), text("Valor"),
        text("Obs")),
    row(EMPTY, '<table:table-cell office:value-type="float" office:value="52998224725">'
        "<text:p>52998224725</text:p></table:table-cell>",
        "<table:table-cell office:value-type=\"string\"><text:p>Ana<text:s text:c=\"2\"/>"
        "<text:span>Souza</text:span></text:p></table:table-cell>",
        text("C1"),
        '<table:table-cell office:value-type="date" office:date-value="2025-01-10">'
        "<text:p>10/01/25</text:p></table:table-cell>",
        '<table:table-cell office:value-type="currency" office:currency="BRL" '
        'office:value="1234.5"><text:p>R$ 1.234,50</text:p></table:table-cell>',
        "<table:table-cell office:value-type=\"string\"><text:p>linha 1</text:p>"
        "<text:p>linha 2</text:p></table:table-cell>"),
    row(EMPTY, text("52998224725"), text("Ana"), text("C2"),
        '<table:table-cell office:value-type="date" office:date-value="2025-02-10T14:30:00">'
        "<text:p>10/02/25 14:30</text:p></table:table-cell>",
        '<table:table-cell office:value-type="float" office:value="20"><text:p>20</text:p>'
        "</table:table-cell>",
        '<table:table-cell office:value-type="boolean" office:boolean-value="true">'
        "<text:p>VERDADEIRO</text:p></table:table-cell>",
        '<table:table-cell table:number-columns-repeated="1000"/>'),
    row(EMPTY, text("52998224725"), text("Ana"), text("C3"), text("09/03/2025"),
        text("5,00", repeated=2), repeated=2),
    row('<table:table-cell table:number-columns-repeated="1024"/>', repeated=1048000),
])


def test_an_ods_streams_the_rows_calamine_reads_whole(tmp_path: Path) -> None:
    from python_calamine_plus import CalamineWorkbook

    path = ods(tmp_path / "carteira.ods", {"Resumo": row(text("total"), text("3")),
                                          "Títulos & cia": DEBTS})
    sheet = sheets.open_sheet(path, "ods", "Títulos & cia")
    assert sheet.names == ["Resumo", "Títulos & cia"]
    rows = list(sheet.rows)
    whole = CalamineWorkbook.from_path(str(path)).get_sheet_by_name("Títulos & cia")
    assert filled(rows) == filled(list(sheets._read(whole.iter_rows(), whole.start[1]))) == [
        (1, ["Carteira & acordos"]),
        (4, ["CPF", "Nome", "Contrato", "Vencimento", "Valor", "Obs"]),
        (5, ["52998224725", "Ana  Souza", "C1", "10/01/2025", "1234.5", "linha 1\nlinha 2"]),
        (6, ["52998224725", "Ana", "C2", "10/02/2025 14:30:00", "20", "sim"]),
        (7, ["52998224725", "Ana", "C3", "09/03/2025", "5,00", "5,00"]),
        (8, ["52998224725", "Ana", "C3", "09/03/2025", "5,00", "5,00"])]
    assert rows[3][1][1] == "CPF"  # column B
    assert len(rows) == 8  # not the million empty rows declared after the last one
    assert list(sheets.open_sheet(path, "ods", None).rows) == [(1, ["total", "3"])]


def test_an_ods_is_imported_row_by_row(tmp_path: Path) -> None:
    body = row(text("CPF"), text("Nome"), text("Contrato"), text("Vencimento"), text("Valor"))
    body += "".join(row(text("52998224725"), text("Ana"), text(f"C{i}"), text("10/01/2025"),
                        text("abc" if i == 7 else "10,00")) for i in range(1, 2001))
    path = ods(tmp_path / "carteira.ods", {"Planilha1": body})
    fmt = parsing.sniff(path)
    assert fmt.sheet == "Planilha1" and fmt.header_row == 1
    mapping = parsing.match_headers(fmt.headers, None, ImportMode.INCREMENTAL)
    batches = list(parsing.read_batches(path, fmt, mapping, ImportMode.INCREMENTAL))
    assert sum(b.accepted.height for b in batches) == 1999
    rejected = pl.concat([b.rejected for b in batches])
    assert rejected.select("row", "motivo").rows() == [(8, "Valor: valor inválido ('abc')")]


def test_a_missing_ods_sheet_is_named_with_the_ones_there(tmp_path: Path) -> None:
    path = ods(tmp_path / "carteira.ods", {"Planilha1": row(text("CPF"))})
    with pytest.raises(sheets.SheetError, match="“Dados” não existe; abas: Planilha1"):
        sheets.open_sheet(path, "ods", "Dados")


def test_a_password_protected_workbook_is_refused_saying_so(tmp_path: Path) -> None:
    # Excel's "Encrypt with password" (made with msoffcrypto-tool; password 1234).
    with pytest.raises(parsing.FileError, match="protegida por senha"):
        parsing.sniff(FIXTURES / "protegida.xlsx")
    path = ods(tmp_path / "carteira.ods", {"Planilha1": row(text("CPF"))}, encrypted=True)
    with pytest.raises(parsing.FileError, match="protegida por senha"):
        parsing.sniff(path)


def test_an_ods_declaring_entities_is_refused_before_they_expand(tmp_path: Path) -> None:
    laughs = "".join(f'<!ENTITY l{i} "{f"&l{i - 1};" * 10 if i else "ha"}">' for i in range(10))
    path = ods(tmp_path / "bomba.ods", {"Planilha1": row(text("CPF"), text("&l9;"))},
               doctype=f"<!DOCTYPE office:document-content [{laughs}]>")
    with pytest.raises(parsing.FileError, match="DOCTYPE"):
        parsing.sniff(path)


def test_a_workbook_is_read_by_what_it_holds_whatever_its_name(tmp_path: Path) -> None:
    path = ods(tmp_path / "carteira.xlsx", {"Planilha1": row(text("CPF"), text("Nome"))})
    assert parsing.sniff(path).kind == "ods"
    renamed = tmp_path / "carteira.xls"
    renamed.write_bytes((FIXTURES / "protegida.xlsx").read_bytes())
    with pytest.raises(parsing.FileError, match="protegida por senha"):
        parsing.sniff(renamed)
    zipped = tmp_path / "carteira.zip"
    with zipfile.ZipFile(zipped, "w") as book:
        book.writestr("carteira.csv", "CPF;Nome\n52998224725;Ana\n")
    with pytest.raises(parsing.FileError, match=r"\.zip não é uma planilha"):
        parsing.sniff(zipped)


def test_typed_amounts_with_three_decimals_keep_their_size(tmp_path: Path) -> None:
    """A computed amount (interest, a 2% fee) typed with three decimals is that number
    rounded to cents, not the thousands a text "18.525" would be in Brazil."""
    book = openpyxl.Workbook()
    book.active.append(["CPF", "Nome", "Contrato", "Vencimento", "Valor"])
    for i, amount in enumerate([18.525, 100.125, 2.675, 1234.5, 0.125, 1250.0], 1):
        book.active.append(["52998224725", "Ana", f"C{i}", dt.date(2025, 1, 10), amount])
        book.active.cell(i + 1, 5).number_format = '"R$" #,##0.00'
    path = tmp_path / "carteira.xlsx"
    book.save(path)
    fmt = parsing.sniff(path)
    mapping = parsing.match_headers(fmt.headers, None, ImportMode.INCREMENTAL)
    batch = next(parsing.read_batches(path, fmt, mapping, ImportMode.INCREMENTAL))
    assert batch.accepted.get_column("amount").to_list() == [
        "18.53", "100.13", "2.68", "1234.50", "0.13", "1250.00"]
    assert batch.warnings.is_empty()
