"""Spreadsheet rows: numbered as the spreadsheet shows them, streamed or read whole."""

from __future__ import annotations

import datetime as dt
import zipfile
from pathlib import Path

import pytest

from core.models import ImportMode
from tenants.intake import parsing, reader, sheets

openpyxl = pytest.importorskip("openpyxl")


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
    whole = list(sheets.open_sheet(path, "xlsb", None).rows)  # how XLS, XLSB, ODS are read
    assert filled(streamed) == filled(whole) == [
        *([(1, ["Carteira de março"])] if title else []),
        (5, ["CPF", "Nome", "Contrato", "Vencimento", "Valor"]),
        (6, ["52998224725", "Ana", "C1", "10/01/2025", "10.5"]),
        (8, ["52998224725", "Ana", "C2", "10/02/2025 14:30:00", "20"])]
    assert streamed[4][1][2] == whole[4][1][2] == "CPF"  # row 5, column C in both


def test_columns_before_the_header_are_passed_over(tmp_path: Path) -> None:
    path = away_from_a1(tmp_path / "carteira.xlsx")
    fmt = parsing.sniff(path, path.name)
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
    fmt = parsing.sniff(path, path.name)
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
    fmt = parsing.sniff(path, path.name)
    mapping = parsing.match_headers(fmt.headers, None, ImportMode.INCREMENTAL)
    with pytest.raises(parsing.FileError, match=r"não pôde ser lida depois da linha \d+"):
        list(parsing.read_batches(path, fmt, mapping, ImportMode.INCREMENTAL))
