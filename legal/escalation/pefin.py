"""Serasa Experian PEFIN remessa ("SERASA-CONVEM04"): fixed-width records of 600
characters, a header "0", one detail "1" per debt to include ("I") or exclude ("E"), and
a trailer "9". The return file is the same layout with "R" in the header and each
detail's error codes filled in (none: accepted).

Field positions (1-based, inclusive) as the layout publishes them; sources: TOTVS's
"SERASA - Submission and Return layouts using MILE" (tdn.totvs.com, Protheus FINA770),
and the field descriptions of Serasa's manual as CnabPHP's `Bpefin/remessa/cnab600`
carries them. The two agree on every position used here.

Header: 1 "0" | 2-10 informant's CNPJ base (9) | 11-18 file date AAAAMMDD | 19-22 DDD |
23-30 phone | 31-34 extension | 35-104 contact name | 105-119 "SERASA-CONVEM04" |
120-125 remessa number (sequential from 000001) | 126 "E" sent, "R" return |
127-130 remessa differential | 131-133 blank | 134-141 logon | 142-533 blank |
534-593 error codes | 594-600 record sequence.

Detail: 1 "1" | 2 operation I/E | 3-8 branch and check digits of the creditor's CNPJ |
9-16 due date | 17-24 contract end date (the due date again when none) | 25-27 nature of
the operation | 28-31 Embratel place code | 32 person F/J | 33 document kind 1 CNPJ,
2 CPF | 34-48 document (zeros on the left) | 49-50 reason of an exclusion | 51-68
second document | 69-105 co-obligor | 106-175 debtor's name | 176-183 birth date
(00000000 when not given) | 184-253 father | 254-323 mother | 324-368 address |
369-388 district | 389-413 city | 414-415 UF | 416-423 CEP | 424-438 amount (2 implied
decimals) | 439-454 contract | 455-463 nosso número | 464-488 address complement |
489-492 debtor's DDD | 493-501 debtor's phone | 502-509 commitment date | 510-524
commitment amount | 525 complementary record flag | 526-530 blank | 531 notice kind
(blank: the bureau's own letter) | 532-533 blank | 534-593 error codes (3 characters,
up to 20) | 594-600 record sequence.

Trailer: 1 "9" | 2-593 blank | 594-600 record sequence.

Text is upper case without accents (ISO-8859-1 would carry them, but bureaus match
names in upper case), lines end in CRLF.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal

RECORD = 600
FILE_ID = "SERASA-CONVEM04"
INCLUDE, EXCLUDE = "I", "E"
SENT, RETURN = "E", "R"
ERRORS_AT, ERRORS_LEN = 534, 60
# Reasons of an exclusion (positions 49-50). "01" (payment of the debt) is the code the
# sources use; the others follow the order of Serasa's table and are confirmed at the
# bureau's homologation before production.
REASON_PAID = "01"
REASON_AGREEMENT = "02"
REASON_OTHER = "03"


class LayoutError(ValueError):
    """A file that does not follow the layout; the message names the line and field."""


def plain(text: str | None) -> str:
    decomposed = unicodedata.normalize("NFKD", text or "")
    ascii_text = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(ascii_text.encode("ascii", "replace").decode().upper().split())


def _alpha(value: str | None, size: int) -> str:
    return plain(value)[:size].ljust(size)


def _num(value: int | str, size: int) -> str:
    digits = str(value)
    if not digits.isdigit() or len(digits) > size:
        raise LayoutError(f"valor numérico {digits!r} não cabe em {size} posições")
    return digits.zfill(size)


def _code(value: str, size: int) -> str:
    """A CNPJ or CPF part, zeros on the left. An alphanumeric CNPJ (IN RFB 2.229/2024,
    newer than the layout) is written with its letters in the same positions."""
    text = value.upper()
    if not text.isalnum() or not text.isascii() or len(text) > size:
        raise LayoutError(f"documento {value!r} não cabe em {size} posições")
    return text.zfill(size)


def _date(day: dt.date | None) -> str:
    return day.strftime("%Y%m%d") if day else "00000000"


def _cents(amount: Decimal) -> str:
    return _num(int((amount * 100).to_integral_value()), 15)


@dataclass(frozen=True)
class Informant:
    """Who reports: the creditor (its CNPJ) and the contact the bureau may call."""

    cnpj: str  # 14 digits
    contact_name: str
    ddd: str = "0011"
    phone: str = "40000000"
    logon: str = ""


@dataclass(frozen=True)
class Detail:
    operation: str  # I or E
    due_date: dt.date
    document_kind: str  # cpf or cnpj
    document: str
    name: str
    amount: Decimal
    contract: str
    street: str = ""
    district: str = ""
    city: str = ""
    state: str = ""
    cep: str = ""
    ddd: str = ""
    phone: str = ""
    birth_date: dt.date | None = None
    reason: str = ""  # exclusions only
    nature: str = "OO"


def header(informant: Informant, day: dt.date, number: int, kind: str = SENT) -> str:
    line = ("0" + _code(informant.cnpj[:8], 9) + _date(day) + _num(informant.ddd, 4)
            + _num(informant.phone, 8) + "0000" + _alpha(informant.contact_name, 70)
            + FILE_ID + _num(number, 6) + kind + " " * 4 + " " * 3
            + _alpha(informant.logon, 8) + " " * 392 + " " * ERRORS_LEN + _num(1, 7))
    assert len(line) == RECORD
    return line


def detail(informant: Informant, item: Detail, sequence: int, errors: str = "") -> str:
    person = "F" if item.document_kind == "cpf" else "J"
    doc_kind = "2" if item.document_kind == "cpf" else "1"
    birth = item.birth_date if item.document_kind == "cpf" else None
    line = ("1" + item.operation + _code(informant.cnpj[8:14], 6) + _date(item.due_date)
            + _date(item.due_date) + " " + _alpha(item.nature, 2) + " " * 4
            + person + doc_kind + _code(item.document, 15)
            + (_alpha(item.reason, 2) if item.operation == EXCLUDE else "  ")
            + " " * 18 + " " * 37 + _alpha(item.name, 70) + _date(birth)
            + " " * 70 + " " * 70 + _alpha(item.street, 45) + _alpha(item.district, 20)
            + _alpha(item.city, 25) + _alpha(item.state, 2) + _alpha(item.cep, 8)
            + _cents(item.amount) + _alpha(item.contract, 16) + " " * 9 + " " * 25
            + _alpha(item.ddd, 4) + _alpha(item.phone, 9) + _date(item.due_date)
            + _cents(item.amount) + " " + " " * 5 + " " + " " * 2
            + errors[:ERRORS_LEN].ljust(ERRORS_LEN) + _num(sequence, 7))
    assert len(line) == RECORD, len(line)
    return line


def trailer(sequence: int) -> str:
    return "9" + " " * 592 + _num(sequence, 7)


def write(informant: Informant, day: dt.date, number: int, items: list[Detail]) -> bytes:
    lines = [header(informant, day, number)]
    lines += [detail(informant, item, n) for n, item in enumerate(items, start=2)]
    lines.append(trailer(len(items) + 2))
    return ("\r\n".join(lines) + "\r\n").encode("latin-1")


# ---- reading (the sandbox reads remessas, Régua reads returns) ------------------------------

def field_of(line: str, start: int, end: int) -> str:
    """Positions `start`..`end` of a record, 1-based and inclusive as the layout says."""
    return line[start - 1:end]


@dataclass
class Record:
    sequence: int
    operation: str
    document: str
    contract: str
    due_date: str
    amount_cents: int
    name: str
    errors: list[str] = field(default_factory=list)
    line: str = ""


@dataclass
class File:
    cnpj_base: str
    number: int
    kind: str  # E or R
    day: str
    logon: str
    records: list[Record]
    header_errors: list[str] = field(default_factory=list)


def read(data: bytes) -> File:
    """Parse a remessa or return file; a record off the layout is refused naming its line."""
    text = data.decode("latin-1")
    lines = [line for line in text.replace("\r\n", "\n").split("\n") if line]
    if len(lines) < 2:
        raise LayoutError("arquivo sem header e trailer")
    for n, line in enumerate(lines, start=1):
        if len(line) != RECORD:
            raise LayoutError(f"linha {n}: {len(line)} caracteres; o layout tem {RECORD}")
        if field_of(line, 594, 600) != f"{n:07d}":
            raise LayoutError(f"linha {n}: sequência {field_of(line, 594, 600)!r},"
                              f" esperada {n:07d}")
    head, tail = lines[0], lines[-1]
    if head[0] != "0" or field_of(head, 105, 119) != FILE_ID:
        raise LayoutError(f"linha 1: header sem a identificação {FILE_ID}")
    if tail[0] != "9":
        raise LayoutError(f"linha {len(lines)}: o trailer deve começar por 9")
    number = field_of(head, 120, 125)
    if not number.isdigit():
        raise LayoutError("linha 1: número da remessa não numérico")
    records = []
    for n, line in enumerate(lines[1:-1], start=2):
        if line[0] != "1":
            raise LayoutError(f"linha {n}: registro {line[0]!r}; esperado detalhe 1")
        codes = field_of(line, ERRORS_AT, ERRORS_AT + ERRORS_LEN - 1)
        amount = field_of(line, 424, 438)
        records.append(Record(
            sequence=n, operation=line[1], document=field_of(line, 34, 48),
            contract=field_of(line, 439, 454).strip(), due_date=field_of(line, 9, 16),
            amount_cents=int(amount) if amount.isdigit() else -1,
            name=field_of(line, 106, 175).strip(),
            errors=[codes[i:i + 3] for i in range(0, ERRORS_LEN, 3) if codes[i:i + 3].strip()],
            line=line))
    return File(cnpj_base=field_of(head, 2, 10), number=int(number), kind=field_of(head, 126, 126),
                day=field_of(head, 11, 18), logon=field_of(head, 134, 141).strip(),
                records=records,
                header_errors=[c for c in (field_of(head, 534, 593)[i:i + 3]
                                           for i in range(0, ERRORS_LEN, 3)) if c.strip()])


def answer(data: bytes, errors_by_sequence: dict[int, list[str]],
           header_errors: list[str] | None = None) -> bytes:
    """The return file of a remessa: the same records, "R" in the header, each record's
    error codes filled in (the bureau's side; the sandbox uses it)."""
    lines = data.decode("latin-1").replace("\r\n", "\n").split("\n")
    lines = [line for line in lines if line]
    out = []
    for n, line in enumerate(lines, start=1):
        if n == 1:
            codes = "".join(header_errors or [])
            line = line[:125] + RETURN + line[126:ERRORS_AT - 1] + codes.ljust(ERRORS_LEN) \
                + line[593:]
        elif line[0] == "1":
            codes = "".join(errors_by_sequence.get(n, []))
            line = line[:ERRORS_AT - 1] + codes[:ERRORS_LEN].ljust(ERRORS_LEN) + line[593:]
        out.append(line)
    return ("\r\n".join(out) + "\r\n").encode("latin-1")
