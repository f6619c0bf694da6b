"""Bank "retorno" files for boletos: CNAB 240 (FEBRABAN) and CNAB 400 (Banco do Brasil).

Pure parsing: fixed-width records in, paid slips and the other occurrences out. Matching
slips to installments, and deciding what a partial payment or an overpayment means, is
the service's job (`legal.payments`), which reports rather than guesses.

CNAB 240 follows FEBRABAN's layout 240 v10 for "cobrança": file header "0", lot header
"1", detail "3" with segments T (the slip: nosso número at 38-57, due date, nominal
amount, fee at 199-213) and U (the payment: interest 18-32, discount 33-47, rebate
48-62, amount paid 78-92, net credited 93-107, payment date 138-145, credit date
146-153), lot trailer "5", file trailer "9". Movement codes 06 (liquidação) and 17
(liquidação após baixa) are payments.

CNAB 400 has no FEBRABAN standard: each bank has its own. This reads Banco do Brasil's
CBR643 (convênio of 7 digits, which is the layout of the slips Régua issues): header
"0" with "RETORNO", detail "7" (nosso número 64-80, command 109-110, payment date
111-116, due date 147-152, nominal 153-165, credit date 176-181, fee 182-188, discount
241-253, amount received 254-266, interest 267-279), trailer "9". Commands 05, 06, 07,
08 and 15 are payments.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

PAID_240 = {"06": "liquidação", "17": "liquidação após baixa"}
PAID_400 = {
    "05": "liquidado sem registro",
    "06": "liquidação normal",
    "07": "liquidação por conta",
    "08": "liquidação por saldo",
    "15": "liquidação em cartório",
}


class CnabError(ValueError):
    """A file that is not a readable return file; names the line."""


@dataclass(frozen=True)
class PaidSlip:
    line: int
    nosso_numero: str
    nominal_amount: Decimal
    amount_paid: Decimal
    paid_on: date
    credited_on: date | None
    fee: Decimal
    interest: Decimal
    discount: Decimal
    occurrence: str


@dataclass(frozen=True)
class OtherOccurrence:
    line: int
    nosso_numero: str
    occurrence: str


@dataclass
class ReturnFile:
    layout: str
    bank: str
    paid: list[PaidSlip] = field(default_factory=list)
    other: list[OtherOccurrence] = field(default_factory=list)


def _money(text: str, line: int) -> Decimal:
    text = text.strip() or "0"
    if not text.isdigit():
        raise CnabError(f"linha {line}: valor inválido {text!r}")
    return Decimal(int(text)) / 100


def _date8(text: str, line: int) -> date | None:
    if text.strip("0 ") == "":
        return None
    try:
        return date(int(text[4:8]), int(text[2:4]), int(text[0:2]))
    except ValueError as exc:
        raise CnabError(f"linha {line}: data inválida {text!r}") from exc


def _date6(text: str, line: int) -> date | None:
    if text.strip("0 ") == "":
        return None
    try:
        return date(2000 + int(text[4:6]), int(text[2:4]), int(text[0:2]))
    except ValueError as exc:
        raise CnabError(f"linha {line}: data inválida {text!r}") from exc


def _lines(data: bytes, width: int) -> list[str]:
    text = data.decode("latin-1")
    lines = [ln.rstrip("\r") for ln in text.split("\n")]
    while lines and lines[-1].strip() in ("", "\x1a"):
        lines.pop()
    for number, ln in enumerate(lines, start=1):
        if len(ln) != width:
            raise CnabError(f"linha {number}: {len(ln)} posições; o layout tem {width}")
    return lines


def detect(data: bytes) -> str:
    first = data.decode("latin-1").split("\n", 1)[0].rstrip("\r")
    if len(first) == 240:
        return "240"
    if len(first) == 400:
        return "400"
    raise CnabError("linha 1: não é um arquivo CNAB 240 nem CNAB 400")


def parse(data: bytes) -> ReturnFile:
    return parse_240(data) if detect(data) == "240" else parse_400(data)


def _slice(ln: str, start: int, end: int) -> str:
    """Positions as the layouts number them: 1-based, inclusive."""
    return ln[start - 1 : end]


def parse_240(data: bytes) -> ReturnFile:
    lines = _lines(data, 240)
    if not lines or _slice(lines[0], 8, 8) != "0":
        raise CnabError("linha 1: falta o header de arquivo (registro 0)")
    if _slice(lines[0], 143, 143) != "2":
        raise CnabError("linha 1: o header não é de retorno (posição 143 deve ser 2)")
    result = ReturnFile(layout="240", bank=_slice(lines[0], 1, 3))
    pending: tuple[int, str] | None = None
    if _slice(lines[-1], 8, 8) != "9":
        raise CnabError(f"linha {len(lines)}: falta o trailer de arquivo (registro 9)")
    for number, ln in enumerate(lines, start=1):
        kind = _slice(ln, 8, 8)
        if kind != "3":
            continue
        segment = _slice(ln, 14, 14)
        if segment == "T":
            if pending is not None:
                raise CnabError(f"linha {pending[0]}: segmento T sem o segmento U")
            pending = (number, ln)
        elif segment == "U":
            if pending is None:
                raise CnabError(f"linha {number}: segmento U sem o segmento T")
            t_number, t = pending
            pending = None
            code = _slice(t, 16, 17)
            nosso = _slice(t, 38, 57).strip()
            if code not in PAID_240:
                result.other.append(OtherOccurrence(t_number, nosso, code))
                continue
            paid_on = _date8(_slice(ln, 138, 145), number)
            if paid_on is None:
                raise CnabError(f"linha {number}: liquidação sem data de ocorrência")
            result.paid.append(PaidSlip(
                line=t_number,
                nosso_numero=nosso,
                nominal_amount=_money(_slice(t, 82, 96), t_number),
                amount_paid=_money(_slice(ln, 78, 92), number),
                paid_on=paid_on,
                credited_on=_date8(_slice(ln, 146, 153), number),
                fee=_money(_slice(t, 199, 213), t_number),
                interest=_money(_slice(ln, 18, 32), number),
                discount=_money(_slice(ln, 33, 47), number),
                occurrence=code,
            ))
    if pending is not None:
        raise CnabError(f"linha {pending[0]}: segmento T sem o segmento U")
    return result


def parse_400(data: bytes) -> ReturnFile:
    lines = _lines(data, 400)
    if not lines or lines[0][0] != "0" or _slice(lines[0], 2, 2) != "2":
        raise CnabError("linha 1: falta o header de retorno (registro 0, tipo 2)")
    if lines[-1][0] != "9":
        raise CnabError(f"linha {len(lines)}: falta o trailer (registro 9)")
    result = ReturnFile(layout="400", bank=_slice(lines[0], 77, 79))
    for number, ln in enumerate(lines, start=1):
        if ln[0] != "7":
            continue
        code = _slice(ln, 109, 110)
        nosso = _slice(ln, 64, 80).strip()
        if code not in PAID_400:
            result.other.append(OtherOccurrence(number, nosso, code))
            continue
        paid_on = _date6(_slice(ln, 111, 116), number)
        if paid_on is None:
            raise CnabError(f"linha {number}: liquidação sem data")
        result.paid.append(PaidSlip(
            line=number,
            nosso_numero=nosso,
            nominal_amount=_money(_slice(ln, 153, 165), number),
            amount_paid=_money(_slice(ln, 254, 266), number),
            paid_on=paid_on,
            credited_on=_date6(_slice(ln, 176, 181), number),
            fee=_money(_slice(ln, 182, 188), number),
            interest=_money(_slice(ln, 267, 279), number),
            discount=_money(_slice(ln, 241, 253), number),
            occurrence=code,
        ))
    return result


# Writers: tests and the demo build return files the way a bank would.
def _put(buf: list[str], start: int, value: str) -> None:
    for i, ch in enumerate(value):
        buf[start - 1 + i] = ch


def _num(value: Decimal | int, width: int) -> str:
    cents = int(value * 100) if isinstance(value, Decimal) else value
    return f"{cents:0{width}d}"


@dataclass(frozen=True)
class SlipPayment:
    nosso_numero: str
    nominal_amount: Decimal
    amount_paid: Decimal
    paid_on: date
    due_date: date
    fee: Decimal = Decimal("0")
    occurrence: str = "06"


def write_240(bank: str, payments: list[SlipPayment], *, generated: date) -> bytes:
    rows: list[str] = []

    def record(fields: list[tuple[int, str]]) -> None:
        buf = [" "] * 240
        for start, value in fields:
            _put(buf, start, value)
        rows.append("".join(buf))

    record([(1, bank), (4, "0000"), (8, "0"), (143, "2"),
            (144, generated.strftime("%d%m%Y")), (73, "REGUA TESTE".ljust(30))])
    record([(1, bank), (4, "0001"), (8, "1"), (9, "T"), (10, "01")])
    seq = 0
    for p in payments:
        seq += 1
        record([(1, bank), (4, "0001"), (8, "3"), (9, f"{seq:05d}"), (14, "T"),
                (16, p.occurrence), (38, p.nosso_numero.ljust(20)),
                (74, p.due_date.strftime("%d%m%Y")), (82, _num(p.nominal_amount, 15)),
                (199, _num(p.fee, 15))])
        seq += 1
        interest = max(p.amount_paid - p.nominal_amount, Decimal("0"))
        record([(1, bank), (4, "0001"), (8, "3"), (9, f"{seq:05d}"), (14, "U"),
                (16, p.occurrence), (18, _num(interest, 15)), (33, _num(Decimal(0), 15)),
                (78, _num(p.amount_paid, 15)),
                (93, _num(p.amount_paid - p.fee, 15)),
                (138, p.paid_on.strftime("%d%m%Y")), (146, p.paid_on.strftime("%d%m%Y"))])
    record([(1, bank), (4, "0001"), (8, "5"), (18, f"{seq + 2:06d}")])
    record([(1, bank), (4, "9999"), (8, "9"), (18, "000001"), (24, f"{len(rows) + 1:06d}")])
    return ("\r\n".join(rows) + "\r\n").encode("latin-1")


def write_400(payments: list[SlipPayment], *, generated: date) -> bytes:
    rows: list[str] = []

    def record(fields: list[tuple[int, str]]) -> None:
        buf = [" "] * 400
        for start, value in fields:
            _put(buf, start, value)
        _put(buf, 395, f"{len(rows) + 1:06d}")
        rows.append("".join(buf))

    record([(1, "0"), (2, "2"), (3, "RETORNO"), (10, "01"), (12, "COBRANCA".ljust(8)),
            (77, "001"), (80, "BANCO DO BRASIL"), (95, generated.strftime("%d%m%y"))])
    for p in payments:
        interest = max(p.amount_paid - p.nominal_amount, Decimal("0"))
        record([(1, "7"), (64, p.nosso_numero.rjust(17, "0")), (107, "17"),
                (109, p.occurrence), (111, p.paid_on.strftime("%d%m%y")),
                (147, p.due_date.strftime("%d%m%y")), (153, _num(p.nominal_amount, 13)),
                (166, "001"), (176, p.paid_on.strftime("%d%m%y")), (182, _num(p.fee, 7)),
                (241, _num(Decimal(0), 13)), (254, _num(p.amount_paid, 13)),
                (267, _num(interest, 13))])
    record([(1, "9"), (2, "2"), (3, "01"), (5, "001")])
    return ("\r\n".join(rows) + "\r\n").encode("latin-1")
