"""A spreadsheet's rows as text cells, numbered as the spreadsheet shows them.

XLSX and XLSM, what creditors send, are streamed: python-calamine-plus decodes rows
straight from the compressed sheet, so memory stays flat whatever the sheet's size
(300,000 rows: 5 s and 14 MB, where loading the sheet took 7 s and 450 MB). ODS is
streamed by `ods` and XLSB by `xlsb` (calamine's streaming covers XLSX only). XLS is
read whole, as calamine reads it: it holds at most 65,536 rows.
"""

from __future__ import annotations

import datetime as dt
import posixpath
import re
import struct
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tenants.intake.formats import ods, xlsb

STREAMED = ("xlsx", "xlsm")


class SheetError(Exception):
    """The workbook or the sheet cannot be read (message for users, pt-BR)."""


PROTECTED = ("a planilha está protegida por senha: abra-a, salve uma cópia sem senha e envie"
             " essa cópia")


@dataclass
class Sheet:
    name: str
    names: list[str]  # every sheet of the workbook
    # (row number, cells as text) from row 1 and column A; blank rows are included.
    rows: Iterator[tuple[int, list[str]]]
    # How many rows the sheet has, for the progress bar (estimated when streamed).
    total: int | None
    # Whether `total` is what the file declares (a dimension) rather than a guess.
    declared: bool = False


def open_sheet(path: Path, kind: str, sheet: str | None) -> Sheet:
    if kind == "ods":
        return _open_ods(path, sheet)
    if kind == "xlsb":
        return _open_xlsb(path, sheet)
    from python_calamine_plus import CalamineWorkbook, PasswordError

    try:
        book = CalamineWorkbook.from_path(str(path))
    except PasswordError as exc:
        raise SheetError(PROTECTED) from exc
    except Exception as exc:
        raise SheetError(f"não foi possível abrir a planilha: {exc}") from exc
    names = list(book.sheet_names)
    name = _chosen(names, sheet)
    try:
        if kind in STREAMED:
            stream = book.stream_sheet_by_name(name)
            total, declared = _estimated_rows(path, names.index(name))
            return Sheet(name, names, _read(stream, 0), total, declared)
        ws = book.get_sheet_by_name(name)
    except Exception as exc:
        raise SheetError(f"não foi possível ler a aba “{name}”: {exc}") from exc
    # A sheet read whole comes from row 1 but from its first filled column: put the
    # columns before that back, so both ways number rows and columns alike.
    first_row, first_column = ws.start or (0, 0)
    return Sheet(name, names, _read(ws.iter_rows(), first_column), first_row + ws.height, True)


def _open_ods(path: Path, sheet: str | None) -> Sheet:
    try:
        if ods.encrypted(path):
            raise SheetError(PROTECTED)
        names = ods.sheet_names(path)
        total = ods.estimated_rows(path)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise SheetError(f"não foi possível abrir a planilha: {exc}") from exc
    if not names:
        raise SheetError("a planilha não tem abas")
    name = _chosen(names, sheet)
    return Sheet(name, names, _read(ods.rows(path, name), 0), total)


def _open_xlsb(path: Path, sheet: str | None) -> Sheet:
    try:
        book = xlsb.Book(path)
        if not book.names:
            raise SheetError("a planilha não tem abas")
        name = _chosen(book.names, sheet)
        total = book.estimated_rows(name)
    except (OSError, KeyError, ValueError, IndexError, struct.error,
            zipfile.BadZipFile) as exc:
        raise SheetError(f"não foi possível abrir a planilha: {exc}") from exc
    return Sheet(name, book.names, _read(book.rows(name), 0), total, total is not None)


def _chosen(names: list[str], sheet: str | None) -> str:
    if sheet is not None and sheet not in names:
        raise SheetError(f"a aba “{sheet}” não existe; abas: {', '.join(names)}")
    return sheet or names[0]


def _read(raw_rows: Iterator[list[Any]], first_column: int) -> Iterator[tuple[int, list[str]]]:
    pad = [""] * first_column
    number = 0
    try:
        for number, raw in enumerate(raw_rows, 1):
            yield number, pad + [_cell(v) for v in raw]
    except Exception as exc:  # a damaged file: say where reading stopped
        where = f" depois da linha {number}" if number else ""
        raise SheetError(f"a planilha não pôde ser lida{where}: {exc}") from exc


def _cell(value: Any) -> str:
    """Excel's typed cells as the text a CSV export from a Brazilian Excel would hold:
    dates as dd/mm/yyyy, which is also how the preview and the error report show them."""
    if value.__class__ is str:  # most cells, first: this runs once per cell
        return value.strip()
    if value is None:
        return ""
    if isinstance(value, bool):
        return "sim" if value else "não"
    if isinstance(value, dt.datetime):
        return value.strftime("%d/%m/%Y" if value.time() == dt.time() else "%d/%m/%Y %H:%M:%S")
    if isinstance(value, dt.date):
        return value.strftime("%d/%m/%Y")
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        text = repr(value)
        # Three decimals ("18.525", a computed fee) would read as Brazilian thousands
        # (18.525 = 18525) to the money rule: a fourth keeps it the number it is.
        return text + "0" if "e" not in text and len(text) - text.index(".") == 4 else text
    return str(value).strip()


def _estimated_rows(path: Path, index: int) -> tuple[int | None, bool]:
    """A streamed sheet's last row: from its <dimension> when the writer put one there
    (Excel, LibreOffice: declared), else its size over the bytes per row of its first
    megabyte (a guess)."""
    try:
        with zipfile.ZipFile(path) as book:
            member = _sheet_member(book, index)
            if member is None:
                return None, False
            info = book.getinfo(member)
            with book.open(info) as xml:
                head = xml.read(1 << 20)
    except (OSError, KeyError, zipfile.BadZipFile):
        return None, False
    dimension = re.search(rb'<dimension ref="[A-Z]+\d+:[A-Z]+(\d+)"', head[:4096])
    if dimension:
        return int(dimension.group(1)), True
    rows = len(re.findall(rb"<row[ >]", head))
    return (info.file_size * rows // len(head) if rows else None), False


def _sheet_member(book: zipfile.ZipFile, index: int) -> str | None:
    """The zip member of the workbook's sheet number `index` (in the workbook's order)."""
    workbook = book.read("xl/workbook.xml")
    ids = re.findall(rb'<sheet\b[^>]*?\br:id="([^"]+)"', workbook)
    if index >= len(ids):
        return None
    relations = book.read("xl/_rels/workbook.xml.rels")
    for relation in re.findall(rb"<Relationship\b[^>]*>", relations):
        if re.search(rb'\bId="' + re.escape(ids[index]) + rb'"', relation):
            target = re.search(rb'\bTarget="([^"]+)"', relation)
            if target is None:
                return None
            path = target.group(1).decode()
            return path.lstrip("/") if path.startswith("/") else posixpath.normpath(
                posixpath.join("xl", path))
    return None
