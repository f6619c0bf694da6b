"""Read a creditor's file as records with the row numbers a spreadsheet shows.

CSV is cut into record-aligned chunks (transcoded to UTF-8 with LF line ends when
needed) and parsed by polars in parallel; polars keeps a blank line as an empty row and
a quoted field with line breaks as one row, so counting rows gives the spreadsheet's
numbering. A chunk with rows longer than the header falls back to Python's `csv` module
so they can be reported. Spreadsheets are read by `sheets`. Validation happens
elsewhere.
"""

from __future__ import annotations

import codecs
import csv
import io
import itertools
import mmap
import re
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from core.formatting import int_br
from tenants.intake.formats import sheets
from tenants.intake.limits import DEFAULTS, MB, Limits
from tenants.intake.rules.columns import known_headers

SAMPLE_BYTES = 256 * 1024
DELIMITERS = (";", ",", "\t", "|")

csv.field_size_limit(10 * 1024 * 1024)


class FileError(Exception):
    """The file as a whole cannot be read (message for users, pt-BR)."""


# The one answer to an empty upload, whether its preview or its import meets it first.
EMPTY_FILE = "o arquivo está vazio (0 bytes): não há nada a importar"


def _mb(size: int) -> str:
    """Megabytes with one decimal, as people read them ("612,4")."""
    whole, tenth = divmod(round(size * 10 / MB), 10)
    return f"{int_br(whole)},{tenth}"


def too_large(size: int, limits: Limits) -> str | None:
    if size <= limits.file_bytes:
        return None
    return f"o arquivo tem {_mb(size)} MB; o limite deste credor é {int_br(limits.file_mb)} MB"


def check_size(size: int, limits: Limits) -> None:
    if size == 0:
        raise FileError(EMPTY_FILE)
    if refusal := too_large(size, limits):
        raise FileError(refusal)


# A zip member smaller than this is not weighed by its compression ratio: tiny parts
# (styles, an empty sheet) compress far past any large one, and cannot exhaust memory.
RATIO_FROM_BYTES = MB
MAX_ZIP_MEMBERS = 10_000


def check_zip(book: zipfile.ZipFile, limits: Limits) -> None:
    """Refuse a workbook that would decompress past the limits, from its directory
    alone (nothing is decompressed): its parts' total size and each large part's
    compression ratio. A part that lies about its size is caught by the reading
    process's memory limit instead (`confined`)."""
    members = book.infolist()
    if len(members) > MAX_ZIP_MEMBERS:
        raise FileError(f"a planilha tem {int_br(len(members))} partes internas; uma planilha"
                        f" comum tem algumas dezenas")
    unpacked = sum(m.file_size for m in members)
    if unpacked > limits.unpacked_bytes:
        raise FileError(f"a planilha ocupa {_mb(unpacked)} MB descompactada; o limite deste"
                        f" credor é {int_br(limits.unpacked_mb)} MB")
    for member in members:
        if member.file_size < RATIO_FROM_BYTES:
            continue
        ratio = member.file_size / max(member.compress_size, 1)
        if ratio > limits.ratio:
            raise FileError(
                f"a parte “{member.filename}” da planilha cresce {int_br(round(ratio))} vezes"
                f" ao descompactar ({_mb(member.compress_size)} MB viram"
                f" {_mb(member.file_size)} MB); o limite deste credor é {int_br(limits.ratio)}"
                f" vezes (planilhas comuns crescem de 5 a 20 vezes)")


def too_many_columns(where: str, limits: Limits) -> FileError:
    return FileError(f"{where} tem mais de {int_br(limits.columns)} colunas, o limite deste"
                     " credor")


def cell_too_long(row: int, column: str, length: int, limits: Limits) -> FileError:
    return FileError(f"a célula da linha {row}, coluna “{column[:60]}”, tem {int_br(length)}"
                     f" caracteres; o limite deste credor é {int_br(limits.cell_chars)}")


def too_many_rows(row: int, limits: Limits) -> FileError:
    return FileError(f"o arquivo passa de {int_br(limits.rows)} linhas de dados (o limite deste"
                     f" credor) na linha {int_br(row)}")


def _check_header(number: int, headers: list[str], limits: Limits) -> None:
    if len(headers) > limits.columns:
        raise too_many_columns(f"o cabeçalho (linha {number})", limits)
    for i, name in enumerate(headers):
        if len(name) > limits.cell_chars:
            raise cell_too_long(number, f"{i + 1}ª", len(name), limits)


@dataclass
class FileFormat:
    kind: str  # "csv", or the spreadsheet's: "xlsx", "xls", "ods", ...
    headers: list[str]
    encoding: str = "utf-8"
    delimiter: str = ";"
    sheet: str | None = None
    sheets: list[str] = field(default_factory=list)
    header_row: int = 1  # the spreadsheet row of the header
    # The first filled rows under the header, for the upload page's preview (the sniff
    # has read them already).
    head: list[list[str]] = field(default_factory=list)
    first_column: int = 0  # a sheet's columns left of the header's are passed over
    newline: str = "\n"  # "\r" for a file saved with old-Mac line ends (a lone CR)

    @property
    def description(self) -> str:
        if self.kind != "csv":
            return f"{self.kind.upper()}, aba {self.sheet}"
        names = {";": "ponto e vírgula", ",": "vírgula", "\t": "tabulação", "|": "barra vertical"}
        return (f"CSV, {ENCODING_NAMES.get(self.encoding, self.encoding)},"
                f" separador {names[self.delimiter]}")


# What a person calls each encoding the reader tells apart (the codec names are codes).
ENCODING_NAMES = {
    "utf-8-sig": "texto UTF-8", "utf-8": "texto UTF-8", "ascii": "texto sem acentos",
    "utf-16": "texto Unicode do Excel", "cp1252": "texto do Windows (ANSI)",
    "latin-1": "texto Latin-1",
}


def _encoding(sample: bytes) -> str:
    if sample.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    if sample.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"  # Excel's "Unicode text" export (tab-separated)
    if sample.isascii():
        # No accent to tell UTF-8 from Windows-1252 by, though one may come past the
        # sample: `_utf8` tells each chunk's encoding by its own bytes.
        return "ascii"
    try:
        # A multi-byte character may be cut at the sample's end: decode incrementally.
        codecs.getincrementaldecoder("utf-8")().decode(sample, final=False)
        return "utf-8"
    except UnicodeDecodeError:
        # Windows-1252 is what Brazilian Excel exports; it leaves five bytes undefined,
        # which Latin-1 maps, so fall back to that for those files.
        try:
            sample.decode("cp1252")
            return "cp1252"
        except UnicodeDecodeError:
            return "latin-1"


def _delimiter(text: str) -> str:
    lines = [ln for ln in text.splitlines()[:50] if ln.strip()]
    if not lines:
        raise FileError("o arquivo está vazio")
    best, best_score = ";", (-1, -1.0)
    for delim in DELIMITERS:
        rows = list(csv.reader(lines, delimiter=delim))
        # The usual width, not the first line's: a title line may come before the header.
        width, times = Counter(len(row) for row in rows).most_common(1)[0]
        if width < 2:
            continue
        # The header's names decide first: ragged rows and decimal commas ("10,00" in
        # every row) can make a wrong separator look the most regular in a short file.
        known = max(known_headers(row) for row in rows[:HEADER_SEARCH_ROWS])
        score = (known if known >= 2 else 0, times / len(lines) * 100 + width)
        if score > best_score:
            best, best_score = delim, score
    if best_score[1] < 0:
        raise FileError(
            "não foi possível identificar o separador de colunas (use ; , tabulação ou |)")
    return best


# Spreadsheets, by their first bytes: a zip (XLSX, XLSB, ODS) or an OLE2 compound file
# (XLS, Excel 97-2003, which older ERPs still export; also Excel's password-protected files).
ZIP, OLE2 = b"PK\x03\x04", b"\xd0\xcf\x11\xe0"
ENCRYPTED_PACKAGE = "EncryptedPackage".encode("utf-16-le")  # an OLE2 stream's name


def is_spreadsheet(path: Path) -> bool:
    with path.open("rb") as fh:
        return fh.read(4) in (ZIP, OLE2)


def spreadsheet_kind(path: Path, limits: Limits = DEFAULTS) -> str | None:
    """A spreadsheet's kind ("xlsx", "xlsb", "ods", "xls") by what the file holds, whatever
    its name says; None for a text file. A zip past the limits is refused here."""
    with path.open("rb") as fh:
        magic = fh.read(4)
        if magic == OLE2:
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                if data.find(ENCRYPTED_PACKAGE) >= 0:
                    raise FileError(sheets.PROTECTED)
            return "xls"
    if magic != ZIP:
        return None
    try:
        with zipfile.ZipFile(path) as book:
            check_zip(book, limits)
            names = set(book.namelist())
            if "mimetype" in names and book.read("mimetype").startswith(
                    b"application/vnd.oasis.opendocument.spreadsheet"):
                return "ods"
    except zipfile.BadZipFile as exc:  # an XLSX or ODS cut short, or a damaged zip
        raise FileError("o arquivo está danificado (incompleto ou corrompido): gere-o e"
                        " envie-o de novo") from exc
    if "xl/workbook.bin" in names:
        return "xlsb"
    if "xl/workbook.xml" in names:
        return "xlsx"
    raise FileError("o arquivo .zip não é uma planilha: envie o CSV ou a planilha"
                    " descompactados")


def sniff(path: Path, sheet: str | None = None, limits: Limits = DEFAULTS) -> FileFormat:
    check_size(path.stat().st_size, limits)
    kind = spreadsheet_kind(path, limits)
    if kind is not None:
        return _sniff_sheet(path, kind, sheet, limits)
    with path.open("rb") as fh:
        sample = fh.read(SAMPLE_BYTES)
    if b"\x00" in sample[:4096] and _encoding(sample) != "utf-16":
        raise FileError("arquivo binário não reconhecido: envie CSV, XLSX, XLSB, XLS ou ODS")
    encoding = _encoding(sample)
    text = codecs.getincrementaldecoder(encoding)(errors="replace").decode(sample)
    newline = _newline(text)
    text = _lf(text.encode("utf-8"), newline).decode("utf-8")  # as `_LfLines` gives chunks
    delimiter = _delimiter(text)
    records = csv.reader(io.StringIO(text), delimiter=delimiter)
    found = _header((n, [v.strip() for v in r]) for n, r in enumerate(records, 1))
    if found is None:
        raise FileError("o arquivo não tem cabeçalho")
    _check_header(*found, limits)
    if len(sample) < path.stat().st_size:  # the sample's last record may be cut
        text = text[: text.rfind("\n") + 1]
    head = _head(enumerate(csv.reader(io.StringIO(text), delimiter=delimiter), 1),
                 found[0], len(found[1]))
    return FileFormat("csv", found[1], encoding, delimiter, header_row=found[0], head=head,
                      newline=newline)


QUOTE_OR_LINE_END = re.compile(r'"|\r\n?|\n')


def _newline(text: str) -> str:
    """How the file's lines end: "\\r" for a lone CR (old-Mac files), else "\\n" (LF or
    CRLF). The first line's end tells, not a count: a lone CR further down may be a stray
    character in a field of an LF file (and a line break inside quotes is a field's)."""
    quoted = False
    for match in QUOTE_OR_LINE_END.finditer(text):
        if match.group() == '"':
            quoted = not quoted
        elif not quoted:
            return "\r" if match.group() == "\r" else "\n"
    return "\n"


STRAY_CR = re.compile(rb"\r(?!\n)")


def _lf(data: bytes, newline: str) -> bytes:
    """Text (UTF-8 or a one-byte encoding) with lines ending in LF or CRLF, as polars and
    the csv module read them. A lone CR ends a line in an old-Mac file and is a space
    elsewhere (the csv module fails on one inside an unquoted field, where a spreadsheet
    shows a blank)."""
    if newline == "\r":
        return data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return STRAY_CR.sub(b" ", data)


# How far down a title block may push the header.
HEADER_SEARCH_ROWS = 20
PREVIEW_ROWS = 5  # rows the upload page previews, kept by the sniff


def _head(records: Iterator[tuple[int, list[str]]], header_row: int,
          width: int) -> list[list[str]]:
    """The first filled rows under the header, cut or padded to its width."""
    below = (values[:width] for n, values in records
             if n > header_row and any(v.strip() for v in values))
    return [v + [""] * (width - len(v)) for v in itertools.islice(below, PREVIEW_ROWS)]


def _header(records: Iterator[tuple[int, list[str]]]) -> tuple[int, list[str]] | None:
    """The header record and its row number.

    Exports often open with a title, a date or a filter line above the real header (a
    merged cell in the spreadsheet). Among the first non-blank rows, the header is the
    one naming the most columns the import knows, at least two (the first of equals: a
    report may repeat its header); failing that, the first non-blank row, whose headers
    the missing-columns message then lists. The most, not the first: a filter line such
    as "Cliente:;Todos;;Vencimento:;01/01/2020 a 30/11/2026" names two columns as labels,
    and the header names them all.
    """
    first: tuple[int, list[str]] | None = None
    best: tuple[int, list[str]] | None = None
    most = 1
    filled = ((n, v) for n, v in records if any(v))
    for (number, values), _ in zip(filled, range(HEADER_SEARCH_ROWS), strict=False):
        first = first or (number, values)
        known = known_headers(values)
        if known > most:
            best, most = (number, values), known
    return best or first


# About 20,000 rows: large enough for polars to run in parallel, small enough that the
# intermediate columns of a batch stay well under the import's memory budget.
CHUNK_BYTES = 4 * 1024 * 1024


class _Unfinished(Exception):
    """A record that does not end within the limits: `records` whole records precede it in
    the data not yet handed out, and `quoted` says it is inside an unclosed quote."""

    def __init__(self, records: int, quoted: bool) -> None:
        super().__init__(records, quoted)
        self.records, self.quoted = records, quoted


_QUOTE_OR_NEWLINE = re.compile(rb'"|\n')


def _check_unfinished(data: bytes, limits: Limits, before: int = 0) -> None:
    """Raise `_Unfinished` when the record `data` ends with is past the limits: a quote
    opened more than a cell's worth of bytes ago and never closed, or a record longer
    than the widest row the limits allow. Runs only when a whole block held no record end.
    `before`: records of `data` that come before the data part (the header's)."""
    records, quoted, opened = -before, False, 0
    for match in _QUOTE_OR_NEWLINE.finditer(data):
        if match.group() == b'"':
            quoted = not quoted
            if quoted:
                opened = match.start()
        elif not quoted:
            records += 1
    # Four bytes at most a character: past this, the field is surely past the limit.
    if quoted and len(data) - opened > 4 * limits.cell_chars:
        raise _Unfinished(records, True)
    if len(data) > 4 * limits.cell_chars * limits.columns + CHUNK_BYTES:
        raise _Unfinished(records, False)


def _record_chunks(path: Path, fmt: FileFormat,
                   limits: Limits = DEFAULTS) -> Iterator[tuple[bytes, int]]:
    """The data part of the file (after the header) in UTF-8 pieces that end on a record
    boundary: a newline preceded by an even number of quote characters (RFC 4180 doubles
    quotes inside quoted fields, so the parity tells whether we are inside one). A record
    that will not end (an unclosed quote, a line without end) stops the reading before
    it fills the memory (`_Unfinished`)."""
    header_end = None
    with path.open("rb") as file:
        raw = _LfLines(_Utf16AsUtf8(file) if fmt.encoding == "utf-16" else file, fmt.newline)
        pending = b""
        while True:
            block = raw.read(CHUNK_BYTES)
            data = pending + block
            if header_end is None:
                if fmt.encoding == "utf-8-sig" and data.startswith(codecs.BOM_UTF8):
                    data = data[len(codecs.BOM_UTF8):]
                header_end = _skip_header(data, fmt.header_row)
                if header_end is None and block:
                    if len(data) > 2 * CHUNK_BYTES:
                        _check_unfinished(data, limits, fmt.header_row)
                    pending = data
                    continue
                data = data[header_end or len(data):]
            if not block:
                if data:
                    yield _utf8(data, fmt.encoding), raw.tell()
                return
            cut = _last_record_end(data)
            if cut is None:
                if len(data) > 2 * CHUNK_BYTES:
                    _check_unfinished(data, limits)
                pending = data
                continue
            pending = data[cut:]
            yield _utf8(data[:cut], fmt.encoding), raw.tell()


def _skip_header(data: bytes, header_row: int) -> int | None:
    """Byte offset just past the header record (which may itself span lines)."""
    position, records = 0, 0
    while records < header_row:
        end = data.find(b"\n", position)
        while end != -1 and data.count(b'"', 0, end) % 2:
            end = data.find(b"\n", end + 1)
        if end == -1:
            return None
        position, records = end + 1, records + 1
    return position


def _last_record_end(data: bytes) -> int | None:
    end = data.rfind(b"\n")
    quotes = data.count(b'"', 0, end) if end != -1 else 0
    while end != -1 and quotes % 2:
        previous = data.rfind(b"\n", 0, end)
        quotes -= data.count(b'"', previous + 1 if previous != -1 else 0, end)
        end = previous
    return None if end == -1 else end + 1


class _Utf16AsUtf8:
    """A UTF-16 file read as UTF-8 bytes, so records split on b"\\n" as in the other
    encodings; `tell` stays the position in the file, for the progress bar."""

    def __init__(self, file: Any) -> None:
        self.file = file
        self.decoder = codecs.getincrementaldecoder("utf-16")(errors="replace")

    def read(self, size: int) -> bytes:
        while True:  # b"" only at the end, even when a block ends inside a character
            block = self.file.read(size)
            text = self.decoder.decode(block, final=not block)
            if text or not block:
                return text.encode("utf-8")

    def tell(self) -> int:
        return int(self.file.tell())


class _LfLines:
    """A file read with its lines ending in LF or CRLF (`_lf`), so records split on b"\\n"
    whatever the file's line ends; `tell` stays the position in the file, for the
    progress bar."""

    def __init__(self, file: Any, newline: str) -> None:
        self.file, self.newline = file, newline
        self.cr = b""  # a CR that ended a block: an LF may open the next one

    def read(self, size: int) -> bytes:
        while True:  # b"" only at the end, even when a block is a lone CR held back
            block = self.file.read(size)
            data, self.cr = self.cr + block, b""
            if block and data.endswith(b"\r"):
                data, self.cr = data[:-1], b"\r"
            if data or not block:
                return _lf(data, self.newline)

    def tell(self) -> int:
        return int(self.file.tell())


def _utf8(data: bytes, encoding: str) -> bytes:
    if encoding == "ascii":
        # A UTF-8 file's chunk is valid UTF-8; a Windows-1252 one's accents are not.
        encoding = _encoding(data)
    if encoding in ("ascii", "utf-8", "utf-8-sig", "utf-16"):  # UTF-16 arrives as UTF-8
        return data
    return data.decode(encoding, errors="replace").encode("utf-8")


class _Unreadable(Exception):
    """The `csv` module could not read record `index` of a chunk (0-based)."""

    def __init__(self, index: int, reason: str) -> None:
        super().__init__(index, reason)
        self.index, self.reason = index, reason


def _read_chunk(data: bytes, fmt: FileFormat, width: int
                ) -> tuple[pl.DataFrame, dict[int, str]]:
    """A chunk as string columns c0..cN, one row per record (blank lines included).

    polars parses in parallel; a chunk with a line longer than the header makes it
    refuse, and then the `csv` module reads that chunk so the long rows can be reported.
    """
    names = [f"c{i}" for i in range(width)]
    try:
        frame = pl.read_csv(
            io.BytesIO(data), separator=fmt.delimiter, has_header=False, new_columns=names,
            infer_schema=False, quote_char='"', truncate_ragged_lines=False,
            raise_if_empty=False, schema={n: pl.String for n in names},
        )
        return frame, {}
    except (pl.exceptions.ComputeError, pl.exceptions.SchemaError, pl.exceptions.ShapeError):
        records: list[list[str]] = []
        try:
            records.extend(csv.reader(io.StringIO(data.decode("utf-8", errors="replace")),
                                      delimiter=fmt.delimiter))
        except csv.Error as exc:
            raise _Unreadable(len(records), str(exc)) from exc
        too_wide = {}
        for i, record in enumerate(records):
            if len(record) > width:
                if any(v.strip() for v in record[width:]):
                    too_wide[i] = _overflow(record[width:])
                del record[width:]
            elif len(record) < width:
                record.extend([""] * (width - len(record)))
        columns = list(zip(*records, strict=True)) if records else [()] * width
        return pl.DataFrame({n: pl.Series(n, c, dtype=pl.String)
                             for n, c in zip(names, columns, strict=True)}), too_wide


def iter_csv(path: Path, fmt: FileFormat,
             limits: Limits = DEFAULTS) -> Iterator[tuple[pl.DataFrame, int]]:
    """Frames of (row, c0..cN) with spreadsheet row numbers; blank rows dropped."""
    width = len(fmt.headers)
    next_row = fmt.header_row + 1
    chunks = _record_chunks(path, fmt, limits)
    while True:
        try:
            data, bytes_read = next(chunks)
            frame, too_wide = _read_chunk(data, fmt, width)
        except StopIteration:
            return
        except _Unfinished as stuck:
            row = next_row + stuck.records
            if stuck.quoted:
                raise FileError(
                    f"as aspas abertas na linha {row} não se fecham: o campo que elas começam"
                    f" passa de {int_br(limits.cell_chars)} caracteres (o limite deste"
                    " credor), até o fim do arquivo se preciso. Feche as aspas (ou tire-as)"
                    " e envie o arquivo de novo") from None
            raise FileError(f"a linha {row} não termina: passa do tamanho que"
                            f" {int_br(limits.columns)} colunas de até"
                            f" {int_br(limits.cell_chars)} caracteres ocupam") from None
        except _Unreadable as bad:
            reason = ("uma célula passa de 10 MB" if "field limit" in bad.reason
                      else "ela tem o caractere nulo (\\0)" if "NUL" in bad.reason
                      else "o formato CSV está quebrado nela")
            raise FileError(f"a linha {next_row + bad.index} não pôde ser lida: {reason}"
                            ) from None
        if next_row + frame.height - 1 - fmt.header_row > limits.rows:
            raise too_many_rows(fmt.header_row + limits.rows + 1, limits)
        numbered = frame.with_columns(
            pl.int_range(next_row, next_row + frame.height, dtype=pl.Int64).alias("row"),
            pl.Series("_wide", [too_wide.get(i) for i in range(frame.height)]
                      if too_wide else [None] * frame.height, dtype=pl.String),
        )
        next_row += frame.height
        yield _drop_blank(numbered, width), bytes_read


def _overflow(cells: list[str]) -> str:
    """Cells beyond the header's, for the error report (which has no column for them)."""
    return " | ".join(cells).strip(" |")


def _drop_blank(frame: pl.DataFrame, width: int) -> pl.DataFrame:
    cells = [pl.col(f"c{i}") for i in range(width)]
    filled = pl.any_horizontal([c.str.strip_chars().fill_null("") != "" for c in cells])
    return frame.filter(filled).with_columns([c.fill_null("") for c in cells])


def _sheet(path: Path, kind: str, sheet: str | None) -> sheets.Sheet:
    try:
        return sheets.open_sheet(path, kind, sheet)
    except sheets.SheetError as exc:
        raise FileError(str(exc)) from exc


def _checked(rows: Iterator[tuple[int, list[str]]]) -> Iterator[tuple[int, list[str]]]:
    try:
        yield from rows
    except sheets.SheetError as exc:
        raise FileError(str(exc)) from exc


# Rows a sheet's header search and preview look through at most, blank ones included: a
# sheet may hold a million empty rows, and neither may keep them all.
SNIFF_ROWS = 1000


def _sniff_sheet(path: Path, kind: str, sheet: str | None,
                 limits: Limits = DEFAULTS) -> FileFormat:
    ws = _sheet(path, kind, sheet)
    rows = itertools.islice(_checked(ws.rows), SNIFF_ROWS)
    read: list[tuple[int, list[str]]] = []  # the filled rows the header search went through

    def reading() -> Iterator[tuple[int, list[str]]]:
        for number, values in rows:
            filled = [i for i, v in enumerate(values) if v]
            if filled and filled[-1] - filled[0] >= limits.columns:
                raise too_many_columns(f"a linha {number}", limits)
            if filled:
                read.append((number, values))
            yield number, values

    found = _header(reading())
    if found is None:
        raise FileError(f"a aba “{ws.name}” está vazia")
    number, headers = found
    # Columns left of the header's first name hold nothing the import can name.
    first = next(i for i, h in enumerate(headers) if h)
    _check_header(number, headers[first:], limits)
    if ws.declared and ws.total is not None and ws.total - number > limits.rows:
        raise FileError(f"a aba “{ws.name}” declara {int_br(ws.total - number)} linhas de"
                        f" dados; o limite deste credor é {int_br(limits.rows)}")
    head = _head(((n, values[first:]) for n, values in itertools.chain(read, reading())),
                 number, len(headers) - first)
    return FileFormat(kind, headers[first:], sheet=ws.name, sheets=ws.names, header_row=number,
                      head=head, first_column=first)


def iter_sheet(path: Path, fmt: FileFormat, batch_rows: int = 20_000,
               limits: Limits = DEFAULTS) -> Iterator[tuple[pl.DataFrame, int]]:
    """The sheet's rows in batches the size of a CSV chunk's, with the progress in file
    bytes (estimated from the row number: a sheet is not read byte by byte)."""
    ws = _sheet(path, fmt.kind, fmt.sheet)
    size = path.stat().st_size
    width = len(fmt.headers)
    first = fmt.first_column
    rows: list[int] = []
    records: list[list[str]] = []
    too_wide: dict[int, str] = {}

    def frame() -> pl.DataFrame:
        columns = list(zip(*records, strict=True))
        data = {f"c{i}": pl.Series(f"c{i}", columns[i], dtype=pl.String) for i in range(width)}
        return pl.DataFrame({"row": pl.Series("row", rows, dtype=pl.Int64), **data,
                             "_wide": pl.Series("_wide", [too_wide.get(r) for r in rows],
                                                dtype=pl.String)})

    last_row = fmt.header_row + limits.rows
    for number, cells in _checked(ws.rows):
        if number <= fmt.header_row:
            continue
        if number > last_row:  # blank rows count too: a sheet may declare millions
            raise too_many_rows(number, limits)
        values = cells[first:]
        if not any(values):
            continue
        if len(values) > width:
            if any(values[width:]):
                too_wide[number] = _overflow(values[width:])
            del values[width:]
        values.extend([""] * (width - len(values)))
        rows.append(number)
        records.append(values)
        if len(records) >= batch_rows:
            # A sheet whose size could not be told shows no progress until its end.
            yield frame(), min(size * number // ws.total, size - 1) if ws.total else 0
            rows, records = [], []
    if records:
        yield frame(), size


def iter_records(path: Path, fmt: FileFormat,
                 limits: Limits = DEFAULTS) -> Iterator[tuple[pl.DataFrame, int]]:
    """Frames with `row` (as a spreadsheet numbers it), `c0..cN` strings and `_wide` (the
    filled cells beyond the header's, or null), plus the bytes read so far."""
    frames = (iter_sheet(path, fmt, limits=limits) if fmt.kind != "csv"
              else iter_csv(path, fmt, limits))
    for frame, bytes_read in frames:
        _check_cells(frame, fmt.headers, limits)
        yield frame, bytes_read


def _check_cells(frame: pl.DataFrame, headers: list[str], limits: Limits) -> None:
    """Refuse a batch with a cell longer than the limit, naming the first such cell."""
    names = [f"c{i}" for i in range(len(headers))]
    # Bytes first (cheap); a cell past the limit in bytes may still fit in characters.
    longest = frame.select(pl.col(n).str.len_bytes().max() for n in names).row(0)
    for i, size in enumerate(longest):
        if size is None or size <= limits.cell_chars:
            continue
        chars = frame.select("row", pl.col(names[i]).str.len_chars().alias("n")).filter(
            pl.col("n") > limits.cell_chars)
        if chars.height:
            row, length = chars.row(0)
            raise cell_too_long(row, headers[i] or f"{i + 1}ª", length, limits)
