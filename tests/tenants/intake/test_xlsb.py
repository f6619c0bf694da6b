"""XLSB sheets read in a stream give what calamine, reading them whole, gives."""

from __future__ import annotations

import datetime as dt
import struct
import zipfile
from pathlib import Path

import pytest

from core.models import ImportMode
from tenants.intake.formats import parsing, reader, sheets, xlsb

from .xlsb_writer import write_xlsb

HEADER = ["CPF", "Nome", "Contrato", "Vencimento", "Valor"]


def portfolio(count: int = 3) -> list[list[object]]:
    rows: list[list[object]] = [["Carteira de março"], [], HEADER]
    rows += [["52998224725", "Ana", f"C{i}", dt.date(2025, 1, 10), 10.5] for i in range(count)]
    rows += [[52998224725, "João Conceição", 7781, dt.datetime(2025, 2, 10, 14, 30), 20,
              True, -3, 1234.567, None, "fim"]]
    return rows


@pytest.mark.parametrize(("inline_strings", "date1904"), [(False, False), (True, True)])
def test_the_stream_gives_the_rows_calamine_reads_whole(tmp_path: Path, inline_strings: bool,
                                                        date1904: bool) -> None:
    path = write_xlsb(tmp_path / "carteira.xlsb", {"Carteira": portfolio()},
                      inline_strings=inline_strings, date1904=date1904)
    streamed = list(sheets.open_sheet(path, "xlsb", None).rows)
    whole = list(sheets.open_sheet(path, "xls", None).rows)  # calamine, the whole sheet
    assert [(n, cells) for n, cells in streamed if any(cells)] == [
        (n, cells[:len(cells) - next(i for i, c in enumerate(reversed(cells)) if c)])
        for n, cells in whole if any(cells)]
    assert streamed[-1] == (7, ["52998224725", "João Conceição", "7781",
                                "10/02/2025 14:30:00", "20", "sim", "-3", "1234.5670", "",
                                "fim"])
    assert [n for n, _ in streamed] == list(range(1, 8))  # blank rows keep their numbers


def test_an_xlsb_portfolio_imports_from_its_named_sheet(tmp_path: Path) -> None:
    path = write_xlsb(tmp_path / "carteira.xlsb", {"Resumo": [["total", 3]],
                                                   "Carteira": portfolio()})
    assert reader.spreadsheet_kind(path) == "xlsb"
    fmt = parsing.sniff(path, "Carteira")
    assert (fmt.sheets, fmt.header_row, fmt.headers) == (["Resumo", "Carteira"], 3, HEADER)
    mapping = parsing.match_headers(fmt.headers, None, ImportMode.INCREMENTAL)
    batch = next(parsing.read_batches(path, fmt, mapping, ImportMode.INCREMENTAL))
    assert batch.accepted.select("row", "contract", "due_date", "amount").rows() == [
        (4, "C0", dt.date(2025, 1, 10), "10.50"), (5, "C1", dt.date(2025, 1, 10), "10.50"),
        (6, "C2", dt.date(2025, 1, 10), "10.50")]
    # The last row fills columns the header does not name.
    assert "mais colunas preenchidas" in batch.rejected.row(0, named=True)["motivo"]


def test_a_long_xlsb_sheet_reports_progress_as_it_is_read(tmp_path: Path) -> None:
    path = write_xlsb(tmp_path / "carteira.xlsb", {"Carteira": portfolio(2100)})
    fmt = parsing.sniff(path)
    progress = [read for _, read in reader.iter_sheet(path, fmt, batch_rows=400)]
    assert len(progress) == 6 and progress == sorted(progress)
    assert 0 < progress[0] < progress[-1] == path.stat().st_size


def test_a_damaged_xlsb_sheet_says_after_which_row_reading_stopped(tmp_path: Path) -> None:
    good = write_xlsb(tmp_path / "boa.xlsb", {"Carteira": portfolio(3000)})
    damaged = tmp_path / "danificada.xlsb"
    with zipfile.ZipFile(good) as source, zipfile.ZipFile(damaged, "w") as target:
        for item in source.infolist():
            data = source.read(item)
            if item.filename.endswith("sheet1.bin"):
                data = data[:len(data) // 2]  # the sheet cut short
            target.writestr(item, data)
    fmt = parsing.sniff(damaged)
    mapping = parsing.match_headers(fmt.headers, None, ImportMode.INCREMENTAL)
    with pytest.raises(parsing.FileError, match=r"não pôde ser lida depois da linha \d+"):
        list(parsing.read_batches(damaged, fmt, mapping, ImportMode.INCREMENTAL))


@pytest.mark.parametrize(("raw", "value"), [
    ((7 << 2) | 2, 7.0), (((-3 << 2) | 2) & 0xFFFFFFFF, -3.0),
    ((1234 << 2) | 3, 12.34),  # an integer in hundredths
    (struct.unpack("<Q", struct.pack("<d", 2.5))[0] >> 32, 2.5),  # a double's top bits
])
def test_rk_numbers(raw: int, value: float) -> None:
    assert xlsb._rk(raw) == value


@pytest.mark.parametrize(("code", "is_date"), [
    ("dd/mm/yyyy", True), ("[$-416]d \"de\" mmmm \"de\" yyyy", True), ("hh:mm", True),
    ("[h]:mm:ss", True), ("#,##0.00", False), ('"R$" #,##0.00', False),
    ("[$R$-416] #,##0.00;[Red]-[$R$-416] #,##0.00", False), ("General", False),
    ("0\\d", False),
])
def test_which_number_formats_are_dates(code: str, is_date: bool) -> None:
    assert xlsb.is_date_format(code) is is_date
