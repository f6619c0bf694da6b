"""An OpenDocument spreadsheet's rows, streamed from its content.xml.

calamine reads an ODS whole (200,000 rows from LibreOffice: 2.7 s and 460 MB), so it is
read here as its XML decompresses, one row at a time, each row forgotten once yielded:
25 MB, but 14 s, since LibreOffice spends 1.9 KB of XML on such a row and Python's parser
walks every element. Memory is what decides: a large ODS read whole would not fit.
Rows and cells come as calamine gives them, from row 1 and column A: typed values
(float, date, datetime, bool) or text, "" for an empty cell. A run of empty rows or cells
is yielded only when something follows it, so the million empty rows a sheet may declare
at its end cost nothing.
"""

from __future__ import annotations

import datetime as dt
import html
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import Element, iterparse

_TABLE = "{urn:oasis:names:tc:opendocument:xmlns:table:1.0}"
_OFFICE = "{urn:oasis:names:tc:opendocument:xmlns:office:1.0}"
_TEXT = "{urn:oasis:names:tc:opendocument:xmlns:text:1.0}"
_ROW, _CELL, _COVERED = f"{_TABLE}table-row", f"{_TABLE}table-cell", f"{_TABLE}covered-table-cell"
_ROWS_REPEATED = f"{_TABLE}number-rows-repeated"
_COLUMNS_REPEATED = f"{_TABLE}number-columns-repeated"
_P = f"{_TEXT}p"
_NUMBERS = ("float", "percentage", "currency")
_SHEET_NAME = re.compile(rb'<table:table\s[^>]*?table:name="([^"]*)"')
# A cell or a run of spaces repeats as many times as the file says: bound what a file may
# make us build (LibreOffice's widest sheet; a cell of a million characters).
MAX_COLUMNS = 16384
MAX_SPACES = 1_000_000


def encrypted(path: Path) -> bool:
    """Saved with a password: the manifest says how content.xml was encrypted."""
    with zipfile.ZipFile(path) as book:
        try:
            return b"encryption-data" in book.read("META-INF/manifest.xml")
        except KeyError:
            return False


def sheet_names(path: Path) -> list[str]:
    """The sheets' names, in order, found in the XML text without parsing it (a large
    sheet takes seconds to parse, and the names are all the preview needs)."""
    names: list[str] = []
    tail = b""
    with zipfile.ZipFile(path) as book, book.open("content.xml") as xml:
        while chunk := xml.read(1 << 20):
            text = tail + chunk
            # A tag cut at the chunk's end is searched again with the next chunk.
            cut = text.rfind(b"<")
            for match in _SHEET_NAME.finditer(text, 0, cut if cut >= 0 else len(text)):
                names.append(html.unescape(match.group(1).decode()))
            tail = text[cut:] if cut >= 0 else b""
    return names


def estimated_rows(path: Path) -> int | None:
    """The sheet's rows, guessed from the rows in the first megabyte of the XML."""
    with zipfile.ZipFile(path) as book:
        info = book.getinfo("content.xml")
        with book.open(info) as xml:
            head = xml.read(1 << 20)
    start = head.find(b"<table:table-row")
    rows = head.count(b"<table:table-row")
    if start < 0 or not rows:
        return None
    return (info.file_size - start) * rows // (len(head) - start)


def rows(path: Path, sheet: str) -> Iterator[list[Any]]:
    with zipfile.ZipFile(path) as book:
        with book.open("content.xml") as xml:
            _refuse_doctype(xml.read(1 << 16))
        yield from _rows(book, sheet)


def _refuse_doctype(head: bytes) -> None:
    """An upload is untrusted, and the Expat Python bundles expands entities an attacker
    can declare ("billion laughs"). Entities need a DOCTYPE, which only the text before
    the first element may hold, and which no spreadsheet program writes: refuse it.
    (defusedxml guards the same way but made parsing 60% slower.)"""
    first = re.search(rb"<[A-Za-z_]", head)
    if first is None or b"<!DOCTYPE" in head[: first.start()]:
        raise ValueError("o conteúdo traz uma declaração DOCTYPE, que nenhum programa de"
                         " planilhas escreve")


def _rows(book: zipfile.ZipFile, sheet: str) -> Iterator[list[Any]]:
    with book.open("content.xml") as xml:
        parents: list[Element] = []
        inside = False
        blank_rows = 0
        for event, element in iterparse(xml, events=("start", "end")):  # noqa: S314 (above)
            if event == "start":
                parents.append(element)
                if element.tag == f"{_TABLE}table":
                    inside = element.get(f"{_TABLE}name") == sheet
                continue
            parents.pop()
            if element.tag == _ROW:
                if inside:
                    cells = _cells(element)
                    repeated = int(element.get(_ROWS_REPEATED, "1"))
                    if cells:
                        for _ in range(blank_rows):
                            yield []
                        blank_rows = 0
                        for _ in range(repeated):
                            yield list(cells)
                    else:
                        blank_rows += repeated
                # Done with the row: drop it, so the tree never holds more than one.
                parents[-1].remove(element)
            elif element.tag == f"{_TABLE}table" and inside:
                return


def _cells(row: Element) -> list[Any]:
    cells: list[Any] = []
    blank = 0
    for cell in row:
        if cell.tag not in (_CELL, _COVERED):
            continue
        repeated = int(cell.get(_COLUMNS_REPEATED, "1"))
        value = _value(cell) if cell.tag == _CELL else ""
        if value == "":
            blank += repeated
            continue
        if len(cells) + blank + repeated > MAX_COLUMNS:
            raise ValueError(f"uma linha passa de {MAX_COLUMNS} colunas")
        cells.extend([""] * blank)
        blank = 0
        cells.extend([value] * repeated)
    return cells


def _value(cell: Element) -> Any:
    kind = cell.get(f"{_OFFICE}value-type")
    if kind is None or kind == "string":
        return _paragraphs(cell)
    number = cell.get(f"{_OFFICE}value")
    if kind in _NUMBERS and number is not None:
        return float(number)
    stamp = cell.get(f"{_OFFICE}date-value")
    if kind == "date" and stamp is not None:
        if "T" not in stamp:
            return dt.date.fromisoformat(stamp)
        moment = dt.datetime.fromisoformat(stamp)
        return moment.date() if moment.time() == dt.time() else moment
    if kind == "boolean":
        return cell.get(f"{_OFFICE}boolean-value") == "true"
    return _paragraphs(cell)  # a time of day, or a typed cell missing its value


def _paragraphs(cell: Element) -> str:
    if len(cell) == 1 and cell[0].tag == _P and not len(cell[0]):  # plain text: most cells
        return cell[0].text or ""
    return "\n".join(_text(p) for p in cell if p.tag == _P)


def _text(element: Element) -> str:
    """A paragraph's text: spans and links read through, <text:s text:c="3"/> as spaces."""
    parts = [element.text or ""]
    for child in element:
        if child.tag == f"{_TEXT}s":
            spaces = int(child.get(f"{_TEXT}c", "1"))
            if spaces > MAX_SPACES:
                raise ValueError(f"uma célula repete um espaço {spaces} vezes")
            parts.append(" " * spaces)
        elif child.tag == f"{_TEXT}tab":
            parts.append("\t")
        elif child.tag == f"{_TEXT}line-break":
            parts.append("\n")
        else:
            parts.append(_text(child))
        parts.append(child.tail or "")
    return "".join(parts)
