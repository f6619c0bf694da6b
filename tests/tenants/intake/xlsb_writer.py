"""A minimal XLSB writer for tests: nothing in Python writes Excel's binary workbook.

It writes what Excel writes for plain data ([MS-XLSB]): shared strings, numbers as RK
or doubles, booleans, and dates as numbers in a date-formatted cell style, so tests can
compare the streaming reader with calamine reading the same file whole.
"""

from __future__ import annotations

import datetime as dt
import struct
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

BINARY = "application/vnd.ms-excel"
CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    f'<Default Extension="bin" ContentType="{BINARY}.sheet.binary.macroEnabled.main"/>'
    '<Default Extension="rels"'
    ' ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.bin"'
    f' ContentType="{BINARY}.sheet.binary.macroEnabled.main"/>'
    '{sheets}'
    f'<Override PartName="/xl/styles.bin" ContentType="{BINARY}.styles"/>'
    f'<Override PartName="/xl/sharedStrings.bin" ContentType="{BINARY}.sharedStrings"/>'
    '</Types>')
SHEET_TYPE = f"{BINARY}.worksheet"
RELS = ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '{}</Relationships>')
REL = ('<Relationship Id="{id}" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
       'relationships/{kind}" Target="{target}"/>')
EPOCH = dt.datetime(1899, 12, 30)
DATE_STYLE, DATETIME_STYLE = 1, 2  # cell styles: General, dd/mm/yyyy, dd/mm/yyyy hh:mm:ss


def record(kind: int, data: bytes = b"") -> bytes:
    head = bytearray()
    for value, most in ((kind, 2), (len(data), 4)):
        for _ in range(most):
            byte, value = value & 0x7F, value >> 7
            head.append(byte | (0x80 if value else 0))
            if not value:
                break
    return bytes(head) + data


def wide(text: str) -> bytes:
    return struct.pack("<I", len(text)) + text.encode("utf-16-le")


def cell(column: int, style: int = 0) -> bytes:
    return struct.pack("<II", column, style)


class _Strings:
    def __init__(self) -> None:
        self.index: dict[str, int] = {}
        self.total = 0

    def __call__(self, text: str) -> int:
        self.total += 1
        return self.index.setdefault(text, len(self.index))

    def part(self) -> bytes:
        items = b"".join(record(19, b"\x00" + wide(t)) for t in self.index)
        return (record(159, struct.pack("<II", self.total, len(self.index))) + items
                + record(160))


def _cell_record(column: int, value: Any, strings: _Strings, epoch: dt.datetime) -> bytes:
    if value is None:
        return b""
    if isinstance(value, bool):
        return record(4, cell(column) + bytes([value]))
    if isinstance(value, dt.datetime | dt.date):
        moment = value if isinstance(value, dt.datetime) else dt.datetime.combine(
            value, dt.time())
        serial = (moment - epoch).total_seconds() / 86400
        style = DATETIME_STYLE if moment.time() != dt.time() else DATE_STYLE
        return record(5, cell(column, style) + struct.pack("<d", serial))
    if isinstance(value, int) and -(1 << 29) <= value < (1 << 29):
        return record(2, cell(column) + struct.pack("<I", ((value << 2) | 2) & 0xFFFFFFFF))
    if isinstance(value, int | float):
        return record(5, cell(column) + struct.pack("<d", float(value)))
    return record(7, cell(column) + struct.pack("<I", strings(str(value))))


def _sheet(rows: Iterable[Sequence[Any]], strings: _Strings, inline: bool,
           epoch: dt.datetime) -> bytes:
    body = bytearray()
    last = width = 0
    for number, values in enumerate(rows):
        if not any(v is not None for v in values):
            continue  # Excel writes no record for an empty row
        last, width = number, max(width, len(values) - 1)
        body += record(0, struct.pack("<IIHBBB", number, 0, 0x0F0, 0, 0, 0))
        for column, value in enumerate(values):
            if inline and isinstance(value, str):
                body += record(6, cell(column) + wide(value))
            else:
                body += _cell_record(column, value, strings, epoch)
    return (record(129) + record(148, struct.pack("<IIII", 0, last, 0, width))
            + record(145) + bytes(body) + record(146) + record(130))


def _styles() -> bytes:
    formats = [(164, "dd/mm/yyyy"), (165, "dd/mm/yyyy hh:mm:ss")]
    fmts = b"".join(record(44, struct.pack("<H", i) + wide(code)) for i, code in formats)
    xf = [struct.pack("<HHHHHBBHBx", 0xFFFF if named else 0, fmt, 0, 0, 0, 0, 0, 0, 0)
          for named, fmt in ((False, 0), (False, 164), (False, 165))]
    return (record(278) + record(615, struct.pack("<I", len(formats))) + fmts + record(616)
            + record(626, struct.pack("<I", 1)) + record(47, struct.pack(
                "<HHHHHBBHBx", 0xFFFF, 14, 0, 0, 0, 0, 0, 0, 0)) + record(627)
            + record(617, struct.pack("<I", len(xf))) + b"".join(record(47, x) for x in xf)
            + record(618) + record(279))


def write_xlsb(path: Path, sheets: dict[str, Iterable[Sequence[Any]]],
               inline_strings: bool = False, date1904: bool = False) -> Path:
    """A workbook with these sheets (name → rows from A1; None is an empty cell), its
    dates counted from 1900 or, as old Mac Excel did, from 1904."""
    strings = _Strings()
    epoch = dt.datetime(1904, 1, 1) if date1904 else EPOCH
    parts = {f"xl/worksheets/sheet{i}.bin": _sheet(rows, strings, inline_strings, epoch)
             for i, rows in enumerate(sheets.values(), 1)}
    bundle = b"".join(record(156, struct.pack("<II", 0, i) + wide(f"rId{i}") + wide(name))
                      for i, name in enumerate(sheets, 1))
    workbook = (record(131) + record(153, struct.pack("<II", int(date1904), 0) + wide(""))
                + record(143) + bundle + record(144) + record(132))
    count = len(sheets)
    relations = "".join(REL.format(id=f"rId{i}", kind="worksheet",
                                   target=f"worksheets/sheet{i}.bin")
                        for i in range(1, count + 1))
    relations += REL.format(id=f"rId{count + 1}", kind="styles", target="styles.bin")
    relations += REL.format(id=f"rId{count + 2}", kind="sharedStrings",
                            target="sharedStrings.bin")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as book:
        book.writestr("[Content_Types].xml", CONTENT_TYPES.format(sheets="".join(
            f'<Override PartName="/{part}" ContentType="{SHEET_TYPE}"/>' for part in parts)))
        book.writestr("_rels/.rels", RELS.format(REL.format(
            id="rId1", kind="officeDocument", target="xl/workbook.bin")))
        book.writestr("xl/workbook.bin", workbook)
        book.writestr("xl/_rels/workbook.bin.rels", RELS.format(relations))
        for part, data in parts.items():
            book.writestr(part, data)
        book.writestr("xl/styles.bin", _styles())
        book.writestr("xl/sharedStrings.bin", strings.part())
    return path
