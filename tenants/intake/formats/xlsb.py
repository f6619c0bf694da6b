"""XLSB sheets (Excel's binary workbook) read in a stream, row by row.

calamine reads an XLSB sheet only whole, and a sheet may hold a million rows: this
reads the sheet's records ([MS-XLSB] 2.1.4: a 1-2 byte type and a 1-4 byte size, 7 bits
a byte) as they come out of the zip, so memory stays flat whatever the sheet's size.
The shared strings are held whole, as every XLSX reader holds them, but as bytes (see
SharedStrings). Only what a portfolio needs is decoded: the cells' values, which number
formats are dates, the sheets' names and the 1904 date system; every other record is
passed over.
"""

from __future__ import annotations

import codecs
import datetime as dt
import posixpath
import re
import struct
import zipfile
from array import array
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

ROW = 0  # BrtRowHdr
# Cell records: BrtCellBlank, Rk, Error, Bool, Real, St, Isst, FmlaString, FmlaNum,
# FmlaBool, FmlaError; BrtCellRString (a string with formatting runs) is 62.
_BLANK, RK, ERROR, BOOL, REAL, INLINE, SHARED, F_STRING, F_NUM, F_BOOL, F_ERROR = range(1, 12)
RICH = 62
SST_ITEM, FMT, XF = 19, 44, 47
WB_PROP, BUNDLE_SHEET, WS_DIM = 153, 156, 148
END_SHEET_DATA = 146
CELL_XFS, END_CELL_XFS = 617, 618

ERRORS = {0x00: "#NULL!", 0x07: "#DIV/0!", 0x0F: "#VALUE!", 0x17: "#REF!", 0x1D: "#NAME?",
          0x24: "#NUM!", 0x2A: "#N/A", 0x2B: "#GETTING_DATA"}
# Excel's built-in number formats that show dates or times ([MS-XLSB] 2.4.648).
DATE_FORMATS = frozenset({*range(14, 23), 45, 46, 47})
# What a custom format holds besides its date and time letters: quoted text, escaped
# characters, [colours] and [$currency-locale] blocks ("[h]" elapsed hours is a time).
_NOT_A_CODE = re.compile(r'"[^"]*"|\\.|\[(?!h\]|m\]|s\])[^\]]*\]')

_U32 = struct.Struct("<I").unpack_from
_CELL = struct.Struct("<II").unpack_from  # a cell's column and style
_CELL_U32 = struct.Struct("<III").unpack_from  # and a number after them
_U16 = struct.Struct("<H").unpack_from
_F64 = struct.Struct("<d").unpack_from
_CHUNK = 1 << 20
MAX_COLUMNS = 16384  # Excel's widest sheet: a record naming a column past it is damaged


def records(stream: IO[bytes]) -> Iterator[tuple[int, bytes, int, int]]:
    """(type, buffer, start, end) of each record; the record's data is buffer[start:end].

    The buffer is a chunk of the part holding whole records, so a record costs no copy
    of its own: the cell records, millions of them, are decoded in place."""
    buf, pos = b"", 0
    while True:
        more = stream.read(_CHUNK)
        ended = not more
        buf, pos = buf[pos:] + more, 0
        size_of_buf = len(buf)
        while pos < size_of_buf:
            start = pos
            try:
                b = buf[pos]
                kind = b & 0x7F
                pos += 1
                if b & 0x80:
                    kind |= (buf[pos] & 0x7F) << 7
                    pos += 1
                size = shift = 0
                for _ in range(4):
                    b = buf[pos]
                    pos += 1
                    size |= (b & 0x7F) << shift
                    if not b & 0x80:
                        break
                    shift += 7
            except IndexError:  # the chunk ends inside a header
                pos, size = size_of_buf + 1, 0
            end = pos + size
            if end > size_of_buf:  # the record goes on in the next chunk
                if ended:
                    raise ValueError("a aba termina no meio de um registro")
                pos = start
                break
            yield kind, buf, pos, end
            pos = end
        if ended:
            return


def _wide(buf: bytes, at: int) -> tuple[str, int]:
    """An XLWideString at `at`: the text and the offset after it."""
    length = _U32(buf, at)[0]
    end = at + 4 + 2 * length
    return buf[at + 4:end].decode("utf-16-le"), end


def _rk(value: int) -> float:
    """An RkNumber: a 30-bit integer or the top 30 bits of a double, maybe over 100."""
    number = float(value >> 2 if not value & 0x80000000 else (value >> 2) - (1 << 30)) \
        if value & 2 else _F64(struct.pack("<Q", (value & 0xFFFFFFFC) << 32))[0]
    return number / 100 if value & 1 else number


def is_date_format(code: str) -> bool:
    text = _NOT_A_CODE.sub("", code).lower()
    return any(letter in text for letter in "dmyhs") and "general" not in text


class SharedStrings:
    """The workbook's strings as their UTF-16 bytes end to end, decoded when a cell asks.
    The benchmark's million rows, written as text cells, hold 1.85 million distinct
    strings: 116 MB as Python strings, 65 MB this way."""

    def __init__(self) -> None:
        self.text = bytearray()
        self.ends = array("Q", [0])

    def add(self, buf: bytes, at: int) -> None:
        length = _U32(buf, at)[0]
        self.text += buf[at + 4:at + 4 + 2 * length]
        self.ends.append(len(self.text))



class Book:
    """A workbook's sheet names and what reading one of its sheets needs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        with zipfile.ZipFile(path) as book:
            self.parts = self._sheet_parts(book)
            self.strings = self._strings(book)
            self.dates = self._date_styles(book)

    @property
    def names(self) -> list[str]:
        return list(self.parts)

    def _sheet_parts(self, book: zipfile.ZipFile) -> dict[str, str]:
        relations = book.read("xl/_rels/workbook.bin.rels")
        targets = {}
        for relation in re.findall(rb"<Relationship\b[^>]*>", relations):
            found, target = (re.search(rb'\b' + name + rb'="([^"]*)"', relation)
                             for name in (rb"Id", rb"Target"))
            if found and target:
                path = target.group(1).decode()
                targets[found.group(1).decode()] = path.lstrip("/") if path.startswith("/") \
                    else posixpath.normpath(posixpath.join("xl", path))
        self.epoch = dt.datetime(1899, 12, 30)
        parts: dict[str, str] = {}
        with book.open("xl/workbook.bin") as stream:
            for kind, buf, start, _ in records(stream):
                if kind == WB_PROP and _U32(buf, start)[0] & 1:  # f1904
                    self.epoch = dt.datetime(1904, 1, 1)
                elif kind == BUNDLE_SHEET:
                    length = _U32(buf, start + 8)[0]
                    rid, after = ("", start + 12) if length == 0xFFFFFFFF else \
                        _wide(buf, start + 8)
                    name = _wide(buf, after)[0]
                    if rid in targets:
                        parts[name] = targets[rid]
        return parts

    @staticmethod
    def _strings(book: zipfile.ZipFile) -> SharedStrings:
        strings = SharedStrings()
        if "xl/sharedStrings.bin" in book.namelist():
            with book.open("xl/sharedStrings.bin") as stream:
                for kind, buf, start, _ in records(stream):
                    if kind == SST_ITEM:  # a RichStr: one byte of flags, then its text
                        strings.add(buf, start + 1)
        return strings

    @staticmethod
    def _date_styles(book: zipfile.ZipFile) -> list[bool]:
        """For each cell style, by its index: whether its number format is a date."""
        if "xl/styles.bin" not in book.namelist():
            return []
        custom: dict[int, bool] = {}
        dates: list[bool] = []
        inside = False
        with book.open("xl/styles.bin") as stream:
            for kind, buf, start, _ in records(stream):
                if kind == FMT:
                    custom[_U16(buf, start)[0]] = is_date_format(_wide(buf, start + 2)[0])
                elif kind == CELL_XFS:
                    inside = True
                elif kind == END_CELL_XFS:
                    inside = False
                elif kind == XF and inside:  # cell styles, not the named styles' XFs
                    number_format = _U16(buf, start + 2)[0]
                    dates.append(custom.get(number_format, number_format in DATE_FORMATS))
        return dates

    def estimated_rows(self, name: str) -> int | None:
        """The sheet's last row, from its BrtWsDim near the start of the part."""
        with zipfile.ZipFile(self.path) as book, book.open(self.parts[name]) as stream:
            for kind, buf, start, _ in records(stream):
                if kind == WS_DIM:
                    return int(_U32(buf, start + 4)[0]) + 1
                if kind == ROW:
                    return None
        return None

    def rows(self, name: str) -> Iterator[list[Any]]:
        """The sheet's rows from row 1 and column A, blank rows included; cells are str,
        float, bool, datetime (numbers shown as dates) or None."""
        # This loop runs once per cell: the common cases come first, in local names.
        text, ends = memoryview(self.strings.text), self.strings.ends
        dates, epoch, decode = self.dates, self.epoch, codecs.utf_16_le_decode
        with zipfile.ZipFile(self.path) as book, book.open(self.parts[name]) as stream:
            row: list[Any] = []
            number = -1  # the 0-based row being filled
            for kind, buf, start, _ in records(stream):
                value: Any
                if kind == SHARED:
                    column, _, index = _CELL_U32(buf, start)
                    value = decode(text[ends[index]:ends[index + 1]])[0]
                elif kind == REAL or kind == F_NUM or kind == RK:
                    column, style = _CELL(buf, start)
                    value = _F64(buf, start + 8)[0] if kind != RK else _rk(_U32(buf, start + 8)[0])
                    style &= 0xFFFFFF
                    if style < len(dates) and dates[style]:
                        value = epoch + dt.timedelta(seconds=round(value * 86400))
                elif kind == ROW:
                    at = _U32(buf, start)[0]
                    if number >= 0:
                        yield row
                    for _ in range(number + 1, at):
                        yield []
                    row, number = [], at
                    continue
                elif kind == INLINE or kind == F_STRING:
                    column = _U32(buf, start)[0]
                    value = _wide(buf, start + 8)[0]
                elif kind == BOOL or kind == F_BOOL:
                    column = _U32(buf, start)[0]
                    value = bool(buf[start + 8])
                elif kind == RICH:
                    column = _U32(buf, start)[0]
                    value = _wide(buf, start + 9)[0]
                elif kind == ERROR or kind == F_ERROR:
                    column = _U32(buf, start)[0]
                    value = ERRORS.get(buf[start + 8], "#ERROR!")
                elif kind == END_SHEET_DATA:
                    break
                else:  # a blank cell, or a record that holds no value
                    continue
                if column == len(row):
                    row.append(value)
                else:
                    if column >= MAX_COLUMNS:
                        raise ValueError(f"uma célula está além da coluna {MAX_COLUMNS}")
                    if column > len(row):
                        row.extend([None] * (column - len(row) + 1))
                    row[column] = value
            if number >= 0:
                yield row
