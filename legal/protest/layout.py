"""The CRA's electronic files for protest: FEBRABAN's "Layout Único – Versão 4.3"
(protesto centralizado, 600-character records) for the remessa, confirmação and retorno,
and the "Layout Único – Versão 2.1" of desistência and cancelamento (127-character
records). Pure formatting and parsing: no database.

Fill rules of both layouts: alphabetic and alphanumeric fields in capitals, left-aligned,
blank-filled; numeric fields right-aligned, zero-filled; dates DDMMAAAA, zeros when
omitted; amounts in cents without separator. Data in ASCII. The layouts say nothing of
line endings: records are written one per line ending in CR LF, and read with LF or
CR LF.
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from legal.protest.codes import DECLARATION_D_STATES, INDICATIONS

REMESSA_WIDTH = 600
REQUEST_WIDTH = 127
LAYOUT_VERSION = "043"
CURRENCY_REAL = "001"
EOL = "\r\n"


class LayoutError(ValueError):
    """A file that cannot be read as a CRA file at all; names the line and the field."""


@dataclass(frozen=True)
class Field:
    number: int
    key: str
    label: str  # as the layout names it, for error messages
    start: int  # 1-based, inclusive, as the layout prints positions
    end: int
    kind: str  # N numeric, T text (alphabetic or alphanumeric), D date, V amount in cents

    @property
    def width(self) -> int:
        return self.end - self.start + 1

    def where(self) -> str:
        return f"campo {self.number:02d} '{self.label}' (posições {self.start:03d}–{self.end:03d})"


def _spec(width: int, *fields: tuple[int, str, str, int, int, str]) -> tuple[Field, ...]:
    spec = tuple(Field(*f) for f in fields)
    position = 1
    for f in spec:  # every position covered once, in order: a typo fails at import
        assert f.start == position and f.end >= f.start, f
        position = f.end + 1
    assert position == width + 1, (position, width)
    return spec


# ---- Layout 4.3: remessa, confirmação, retorno (600 positions) --------------------------

HEADER = _spec(
    REMESSA_WIDTH,
    (1, "record", "Identificação do Registro", 1, 1, "N"),
    (2, "presenter", "Número do Código do Portador", 2, 4, "N"),
    (3, "presenter_name", "Nome do Portador", 5, 44, "T"),
    (4, "movement_on", "Data do Movimento", 45, 52, "D"),
    (5, "sender", "Identificação de Transação – Remetente", 53, 55, "T"),
    (6, "recipient", "Identificação de Transação – Destinatário", 56, 58, "T"),
    (7, "transaction", "Identificação de Transação – Tipo", 59, 61, "T"),
    (8, "sequence", "Número Seqüencial da Remessa", 62, 67, "N"),
    (9, "records", "Quantidade de Registros na Remessa", 68, 71, "N"),
    (10, "titles", "Quantidade de Títulos na Remessa", 72, 75, "N"),
    (11, "indications", "Quantidade de Indicações na Remessa", 76, 79, "N"),
    (12, "originals", "Quantidade de Originais na Remessa", 80, 83, "N"),
    (13, "agency", "Identificação da Agência Centralizadora", 84, 89, "T"),
    (14, "version", "Versão do Layout", 90, 92, "N"),
    (15, "municipality", "Código do Município da Praça de Pagamento", 93, 99, "T"),
    (16, "filler", "Complemento do Registro", 100, 596, "T"),
    (17, "line", "Número Seqüencial do Registro no Arquivo", 597, 600, "N"),
)

TRANSACTION = _spec(
    REMESSA_WIDTH,
    (1, "record", "Identificação do Registro", 1, 1, "N"),
    (2, "presenter", "Número do Código do Portador", 2, 4, "N"),
    (3, "assignor_code", "Agência / Código do Cedente", 5, 19, "T"),
    (4, "assignor_name", "Nome do Cedente/Favorecido", 20, 64, "T"),
    (5, "drawer_name", "Nome do Sacador/Vendedor", 65, 109, "T"),
    (6, "drawer_document", "Documento do Sacador", 110, 123, "T"),
    (7, "drawer_address", "Endereço do Sacador/Vendedor", 124, 168, "T"),
    (8, "drawer_zip", "CEP do Sacador/Vendedor", 169, 176, "N"),
    (9, "drawer_city", "Cidade do Sacador/Vendedor", 177, 196, "T"),
    (10, "drawer_state", "UF do Sacador/Vendedor", 197, 198, "T"),
    (11, "our_number", "Nosso Número", 199, 213, "T"),
    (12, "species", "Espécie do Título", 214, 216, "T"),
    (13, "title_number", "Número do Título", 217, 227, "T"),
    (14, "issued_on", "Data da Emissão do Título", 228, 235, "D"),
    (15, "due_on", "Data de Vencimento do Título", 236, 243, "D"),
    (16, "currency", "Tipo de Moeda", 244, 246, "N"),
    (17, "amount", "Valor do Título", 247, 260, "V"),
    (18, "balance", "Saldo do Título", 261, 274, "V"),
    (19, "place", "Praça de Protesto", 275, 294, "T"),
    (20, "endorsement", "Tipo de Endosso", 295, 295, "T"),
    (21, "acceptance", "Informação sobre Aceite", 296, 296, "T"),
    (22, "debtor_control", "Número de Controle do(s) Devedor(es)", 297, 297, "N"),
    (23, "debtor_name", "Nome do Devedor", 298, 342, "T"),
    (24, "debtor_document_kind", "Tipo de Identificação do Devedor", 343, 345, "N"),
    (25, "debtor_document", "Número de Identificação do Devedor", 346, 359, "N"),
    (26, "debtor_other_document", "Documento do Devedor", 360, 370, "T"),
    (27, "debtor_address", "Endereço do Devedor", 371, 415, "T"),
    (28, "debtor_zip", "CEP do Devedor", 416, 423, "N"),
    (29, "debtor_city", "Cidade do Devedor", 424, 443, "T"),
    (30, "debtor_state", "UF do Devedor", 444, 445, "T"),
    (31, "notary", "Código do Cartório", 446, 447, "N"),
    (32, "protocol", "Número do Protocolo do Cartório", 448, 457, "T"),
    (33, "occurrence", "Tipo de Ocorrência", 458, 458, "T"),
    (34, "protocol_on", "Data do Protocolo", 459, 466, "D"),
    (35, "costs", "Valor das Custas do Cartório", 467, 476, "V"),
    (36, "declaration", "Declaração do Portador", 477, 477, "T"),
    (37, "occurrence_on", "Data da Ocorrência", 478, 485, "D"),
    (38, "irregularity", "Código de Irregularidade", 486, 487, "T"),
    (39, "debtor_district", "Bairro do Devedor", 488, 507, "T"),
    (40, "distributor_costs", "Valor das Custas do Cartório Distribuidor", 508, 517, "V"),
    (41, "distribution_record", "Registro de Distribuição", 518, 523, "N"),
    (42, "recording_costs", "Valor da gravação eletrônica e demais despesas", 524, 533, "V"),
    (43, "bank_operation", "Número da Operação do Banco", 534, 538, "N"),
    (44, "bank_contract", "Número do Contrato do Banco", 539, 553, "N"),
    (45, "contract_installment", "Número da Parcela do Contrato", 554, 556, "N"),
    (46, "bill_kind", "Tipo da Letra de Câmbio", 557, 557, "T"),
    (47, "more_irregularities", "Complemento Código de Irregularidade", 558, 565, "T"),
    (48, "bankruptcy", "Protesto por Motivo de Falência", 566, 566, "T"),
    (49, "instrument", "Instrumento de Protesto", 567, 567, "T"),
    (50, "other_costs", "Valor das demais despesas", 568, 577, "V"),
    (51, "filler", "Complemento do Registro", 578, 596, "T"),
    (52, "line", "Número Seqüencial do Registro no Arquivo", 597, 600, "N"),
)

TRAILER = _spec(
    REMESSA_WIDTH,
    (1, "record", "Identificação do Registro", 1, 1, "N"),
    (2, "presenter", "Número do Código do Portador", 2, 4, "N"),
    (3, "presenter_name", "Nome do Portador", 5, 44, "T"),
    (4, "movement_on", "Data do Movimento", 45, 52, "D"),
    (5, "check_count", "Somatório de Segurança – Quantidade na Remessa", 53, 57, "N"),
    (6, "check_amount", "Somatório de Segurança – Valor da Remessa", 58, 75, "V"),
    (7, "filler", "Complemento do registro", 76, 596, "T"),
    (8, "line", "Número Seqüencial do Registro no Arquivo", 597, 600, "N"),
)

BY_KEY = {f.key: f for f in TRANSACTION}

# ---- Layout 2.1: desistência (DP) and cancelamento (CP) requests (127 positions) ----------

REQUEST_HEADER = _spec(
    REQUEST_WIDTH,
    (1, "record", "Tipo do Registro", 1, 1, "N"),
    (2, "presenter", "Código do Apresentante", 2, 4, "N"),
    (3, "presenter_name", "Nome do Apresentante", 5, 49, "T"),
    (4, "movement_on", "Data do Movimento", 50, 57, "D"),
    (5, "requests", "Quantidade de Pedidos", 58, 62, "N"),
    (6, "records", "Quantidade de Registros Tipo 2 no Arquivo", 63, 67, "N"),
    (7, "filler", "Reservado", 68, 122, "T"),
    (8, "line", "Seqüência do Registro", 123, 127, "N"),
)
REQUEST_NOTARY_HEADER = _spec(
    REQUEST_WIDTH,
    (1, "record", "Tipo do Registro", 1, 1, "N"),
    (2, "notary", "Código do Cartório", 2, 3, "N"),
    (3, "requests", "Quantidade de Pedidos", 4, 8, "N"),
    (4, "municipality", "Código do Município", 9, 15, "T"),
    (5, "filler", "Reservado", 16, 122, "T"),
    (6, "line", "Seqüência do Registro", 123, 127, "N"),
)
REQUEST = _spec(
    REQUEST_WIDTH,
    (1, "record", "Tipo do Registro", 1, 1, "N"),
    (2, "protocol", "Número do Protocolo", 2, 11, "T"),
    (3, "protocol_on", "Data de Protocolagem", 12, 19, "D"),
    (4, "title_number", "Número do Título", 20, 30, "T"),
    (5, "debtor_name", "Nome do Primeiro Devedor", 31, 75, "T"),
    (6, "amount", "Valor do Título", 76, 89, "V"),
    (7, "request", "Solicitação", 90, 90, "T"),
    (8, "account", "Agência/Conta", 91, 102, "T"),
    (9, "our_number", "Carteira/N.Número", 103, 114, "T"),
    (10, "reserved", "Reservado", 115, 116, "T"),
    (11, "receipt_control", "Número de Controle de Recebimento", 117, 122, "T"),
    (12, "line", "Seqüência do Registro", 123, 127, "N"),
)
REQUEST_NOTARY_TRAILER = _spec(
    REQUEST_WIDTH,
    (1, "record", "Tipo do Registro", 1, 1, "N"),
    (2, "notary", "Código do Cartório", 2, 3, "N"),
    (3, "check_count", "Soma do total de pedidos do cartório", 4, 8, "N"),
    (4, "filler", "Reservado", 9, 122, "T"),
    (5, "line", "Seqüência do Registro", 123, 127, "N"),
)
REQUEST_TRAILER = _spec(
    REQUEST_WIDTH,
    (1, "record", "Tipo do Registro", 1, 1, "N"),
    (2, "presenter", "Código do Apresentante", 2, 4, "N"),
    (3, "presenter_name", "Nome do Apresentante", 5, 49, "T"),
    (4, "movement_on", "Data do Movimento", 50, 57, "D"),
    (5, "check_count", "Soma do total de pedidos do arquivo", 58, 62, "N"),
    (6, "check_amount", "Somatória do Campo Valor do Título", 63, 76, "V"),
    (7, "filler", "Reservado", 77, 122, "T"),
    (8, "line", "Seqüência do Registro", 123, 127, "N"),
)


# ---- formatting ---------------------------------------------------------------------------

def ascii_upper(text: str | None) -> str:
    """Capitals without accents, printable ASCII only (the layout's "ASCII")."""
    if not text:
        return ""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^ -~]", " ", plain).upper()


def _value(f: Field, value: Any) -> str:
    if f.kind == "T":
        return ascii_upper(str(value) if value is not None else "")[:f.width].ljust(f.width)
    if f.kind == "D":
        if value is None:
            return "0" * f.width
        text = value.strftime("%d%m%Y") if isinstance(value, dt.date) else str(value)
    elif f.kind == "V":
        cents = int((Decimal(value or 0) * 100).to_integral_value())
        if cents < 0:
            raise ValueError(f"{f.where()}: valor negativo {value}")
        text = str(cents)
    else:
        text = "" if value is None else str(value)
    if not text.isdigit() and text:
        raise ValueError(f"{f.where()}: {text!r} não é numérico")
    if len(text) > f.width:
        # Numbers are never cut: a count or an amount too large for its field is an error.
        raise ValueError(f"{f.where()}: {text!r} não cabe em {f.width} posições")
    return text.rjust(f.width, "0")


def format_record(spec: Sequence[Field], values: dict[str, Any]) -> str:
    unknown = set(values) - {f.key for f in spec}
    if unknown:
        raise KeyError(f"unknown fields: {sorted(unknown)}")
    return "".join(_value(f, values.get(f.key)) for f in spec)


def encode(records: Iterable[str]) -> bytes:
    return "".join(r + EOL for r in records).encode("ascii")


# ---- parsing ------------------------------------------------------------------------------

@dataclass(frozen=True)
class FieldError:
    line: int
    field: str  # Field.where()
    message: str

    def __str__(self) -> str:
        return f"linha {self.line}, {self.field}: {self.message}"


def _parse_value(f: Field, raw: str) -> Any:
    text = raw.strip()
    if f.kind == "T":
        return text
    if not text or (f.kind == "D" and set(text) == {"0"}):
        return None
    if not text.isdigit():
        raise ValueError(f"{raw!r} não é numérico")
    if f.kind == "D":
        try:
            return dt.datetime.strptime(text.rjust(8, "0"), "%d%m%Y").date()
        except ValueError:
            raise ValueError(f"data inválida {raw!r} (DDMMAAAA)") from None
    if f.kind == "V":
        return Decimal(int(text)) / 100
    return text


def parse_record(spec: Sequence[Field], record: str,
                 line: int) -> tuple[dict[str, Any], list[FieldError]]:
    values: dict[str, Any] = {}
    errors: list[FieldError] = []
    for f in spec:
        try:
            values[f.key] = _parse_value(f, record[f.start - 1:f.end])
        except ValueError as exc:
            errors.append(FieldError(line, f.where(), str(exc)))
            values[f.key] = None
    return values, errors


# ---- the remessa --------------------------------------------------------------------------

@dataclass(frozen=True)
class Presenter:
    code: str  # the apresentante's code at the CRA, 3 digits
    name: str


@dataclass(frozen=True)
class Title:
    """One title of a remessa: what transaction fields 03 to 30, 36 and 39 carry."""

    our_number: str
    species: str
    title_number: str
    issued_on: dt.date | None
    due_on: dt.date
    amount: Decimal
    balance: Decimal
    municipality: str  # IBGE code of the praça (the debtor's city), 7 digits
    place: str  # the praça's name
    assignor_code: str
    creditor_name: str
    creditor_document: str
    creditor_address: str
    creditor_zip: str
    creditor_city: str
    creditor_state: str
    debtor_name: str
    debtor_document_kind: str  # "001" CNPJ, "002" CPF
    debtor_document: str
    debtor_address: str
    debtor_zip: str
    debtor_city: str
    debtor_state: str
    debtor_district: str = ""
    endorsement: str = "M"  # endosso-mandato: the agency presents the creditor's title
    acceptance: str = "N"


def declaration(species: str, endorsement: str, state: str) -> str:
    """Field 36 (Anexo 3): "C" for a CBI anywhere; "D" for a DMI or DSI by indication
    with an endorsement by mandate in the states that require it; else blank."""
    if species == "CBI":
        return "C"
    if endorsement == "M" and state in DECLARATION_D_STATES.get(species, ()):
        return "D"
    return ""


@dataclass
class Batch:
    municipality: str
    titles: list[Title] = field(default_factory=list)

    @property
    def indications(self) -> int:
        return sum(1 for t in self.titles if t.species in INDICATIONS)

    @property
    def total(self) -> Decimal:
        return sum((t.balance for t in self.titles), Decimal("0"))


def batches(titles: Iterable[Title]) -> list[Batch]:
    """The centralised remessa holds one header-titles-trailer batch per municipality."""
    by_place: dict[str, Batch] = {}
    for title in titles:
        by_place.setdefault(title.municipality, Batch(title.municipality)).titles.append(title)
    return [by_place[m] for m in sorted(by_place)]


def check_count(records: int, titles: int, indications: int, originals: int) -> int:
    """Trailer field 05: the sum of header fields 09 to 12."""
    return records + titles + indications + originals


def remessa(presenter: Presenter, day: dt.date, sequence: int,
            titles: Sequence[Title]) -> list[str]:
    """The remessa's records (header, one transaction per title, trailer per batch).
    Each batch's record numbers start again at 0001, as the layout asks of the header."""
    out: list[str] = []
    for batch in batches(titles):
        n, ind = len(batch.titles), batch.indications
        common = {"presenter": presenter.code, "presenter_name": presenter.name,
                  "movement_on": day}
        out.append(format_record(HEADER, {
            **common, "record": 0, "sender": "BFO", "recipient": "SDT", "transaction": "TPR",
            "sequence": sequence, "records": n, "titles": n, "indications": ind,
            "originals": n - ind, "version": LAYOUT_VERSION,
            "municipality": batch.municipality, "line": 1}))
        for index, t in enumerate(batch.titles, start=2):
            out.append(format_record(TRANSACTION, {
                "record": 1, "presenter": presenter.code, "assignor_code": t.assignor_code,
                "assignor_name": t.creditor_name, "drawer_name": t.creditor_name,
                "drawer_document": t.creditor_document, "drawer_address": t.creditor_address,
                "drawer_zip": t.creditor_zip or None, "drawer_city": t.creditor_city,
                "drawer_state": t.creditor_state, "our_number": t.our_number,
                "species": t.species, "title_number": t.title_number,
                "issued_on": t.issued_on, "due_on": t.due_on, "currency": CURRENCY_REAL,
                "amount": t.amount, "balance": t.balance, "place": t.place,
                "endorsement": t.endorsement, "acceptance": t.acceptance,
                "debtor_control": 1, "debtor_name": t.debtor_name,
                "debtor_document_kind": t.debtor_document_kind,
                "debtor_document": t.debtor_document, "debtor_address": t.debtor_address,
                "debtor_zip": t.debtor_zip, "debtor_city": t.debtor_city,
                "debtor_state": t.debtor_state,
                "declaration": declaration(t.species, t.endorsement, t.debtor_state),
                "debtor_district": t.debtor_district, "line": index}))
        out.append(format_record(TRAILER, {
            **common, "record": 9, "check_count": check_count(n, n, ind, n - ind),
            "check_amount": batch.total, "line": n + 2}))
    return out


# ---- desistência and cancelamento requests (127 positions) --------------------------------

@dataclass(frozen=True)
class Request:
    notary: str  # the cartório's code, from the confirmação
    municipality: str
    protocol: str
    protocol_on: dt.date | None
    title_number: str
    debtor_name: str
    amount: Decimal
    our_number: str


def requests(presenter: Presenter, day: dt.date, marker: str,
             items: Sequence[Request]) -> list[str]:
    """A request file of layout 2.1: header, per cartório a header, its requests and a
    trailer, then the file's trailer. `marker` is field 07 of each request: "S" asks the
    cartório to stop the protest (desistência), "C" to cancel it. Record numbers run
    through the whole file. The trailers' "soma do total ... informada no header e
    registros tipo 2" is read as the header's count plus the count of type-2 records."""
    groups: dict[tuple[str, str], list[Request]] = {}
    for item in items:
        groups.setdefault((item.municipality, item.notary), []).append(item)
    total = len(items)
    out = [format_record(REQUEST_HEADER, {
        "record": 0, "presenter": presenter.code, "presenter_name": presenter.name,
        "movement_on": day, "requests": total, "records": total, "line": 1})]
    for (municipality, notary), group in sorted(groups.items()):
        out.append(format_record(REQUEST_NOTARY_HEADER, {
            "record": 1, "notary": notary, "requests": len(group),
            "municipality": municipality, "line": len(out) + 1}))
        for item in group:
            out.append(format_record(REQUEST, {
                "record": 2, "protocol": item.protocol, "protocol_on": item.protocol_on,
                "title_number": item.title_number, "debtor_name": item.debtor_name,
                "amount": item.amount, "request": marker, "our_number": item.our_number,
                "line": len(out) + 1}))
        out.append(format_record(REQUEST_NOTARY_TRAILER, {
            "record": 8, "notary": notary, "check_count": 2 * len(group),
            "line": len(out) + 1}))
    out.append(format_record(REQUEST_TRAILER, {
        "record": 9, "presenter": presenter.code, "presenter_name": presenter.name,
        "movement_on": day, "check_count": 2 * total,
        "check_amount": sum((i.amount for i in items), Decimal("0")), "line": len(out) + 1}))
    return out


# ---- reading the confirmação and the retorno ----------------------------------------------

KINDS = {"CRT": "confirmacao", "RTP": "retorno"}
KIND_LABELS = {"confirmacao": "confirmação", "retorno": "retorno"}


@dataclass(frozen=True)
class ReturnedTitle:
    line: int
    presenter: str
    values: dict[str, Any]  # by TRANSACTION key


@dataclass
class ReturnFile:
    kind: str  # confirmacao | retorno
    presenter: str
    movement_on: dt.date | None
    titles: list[ReturnedTitle] = field(default_factory=list)
    malformed: list[FieldError] = field(default_factory=list)


def split_lines(data: bytes) -> list[str]:
    # Cartórios' systems write Latin-1 as often as ASCII; both decode here, and every
    # field is read by position, so a stray accent never shifts the others.
    text = data.decode("latin-1")
    lines = text.replace("\r\n", "\n").split("\n")
    while lines and not lines[-1].strip():
        lines.pop()
    return [line.rstrip("\r") for line in lines]


def read_return(data: bytes) -> ReturnFile:
    """A confirmação (SDT→BFO, CRT) or retorno (SDT→BFO, RTP) file of layout 4.3, with
    any number of batches. A file that is not one, a record of the wrong width, a batch
    without its header or trailer, or a trailer whose sums do not match its batch
    refuses the whole file (LayoutError, naming the line and field). A transaction with
    an unreadable field is reported in `malformed` and left out."""
    lines = split_lines(data)
    if not lines:
        raise LayoutError("arquivo vazio")
    first = lines[0]
    if len(first) == REQUEST_WIDTH and first[:1] == "0":
        raise LayoutError("linha 1: registro de 127 posições — é um pedido de desistência ou"
                          " cancelamento (layout 2.1), que o apresentante envia; não é um"
                          " arquivo de confirmação nem de retorno")
    for number, line in enumerate(lines, start=1):
        if len(line) != REMESSA_WIDTH:
            raise LayoutError(f"linha {number}: o registro tem {len(line)} posições; o layout"
                              f" 4.3 pede {REMESSA_WIDTH}")
    identity = first[52:61]
    if first[:1] != "0":
        raise LayoutError("linha 1, campo 01 'Identificação do Registro' (posições 001–001):"
                          f" {first[:1]!r}, esperado o header '0'")
    if identity[:6] == "BFOSDT":
        raise LayoutError("linha 1, campos 05–07 (posições 053–061): "
                          f"{identity!r} — é uma remessa (BFO→SDT), não um retorno")
    if identity[:6] != "SDTBFO" or identity[6:] not in KINDS:
        raise LayoutError("linha 1, campos 05–07 'Identificação de Transação' (posições"
                          f" 053–061): {identity!r}, esperado SDTBFOCRT (confirmação) ou"
                          " SDTBFORTP (retorno)")
    header, errors = parse_record(HEADER, first, 1)
    if errors:
        raise LayoutError(str(errors[0]))
    out = ReturnFile(kind=KINDS[identity[6:]], presenter=header["presenter"] or "",
                     movement_on=header["movement_on"])
    batch: list[tuple[int, dict[str, Any]]] | None = None
    for number, line in enumerate(lines, start=1):
        record = line[:1]
        if record == "0":
            if batch is not None:
                raise LayoutError(f"linha {number}: novo header antes do trailer do lote"
                                  " anterior")
            values, errors = parse_record(HEADER, line, number)
            if errors:
                raise LayoutError(str(errors[0]))
            if line[52:61] != identity:
                raise LayoutError(f"linha {number}, campos 05–07 (posições 053–061): "
                                  f"{line[52:61]!r} difere do primeiro header {identity!r}")
            batch = []
        elif record == "1":
            if batch is None:
                raise LayoutError(f"linha {number}: transação fora de um lote (sem header)")
            values, errors = parse_record(TRANSACTION, line, number)
            batch.append((number, values))
            if errors:
                out.malformed.extend(errors)
            else:
                out.titles.append(ReturnedTitle(number, values["presenter"] or "", values))
        elif record == "9":
            if batch is None:
                raise LayoutError(f"linha {number}: trailer sem header")
            _check_trailer(out.kind, line, number, batch)
            batch = None
        else:
            raise LayoutError(f"linha {number}, campo 01 'Identificação do Registro'"
                              f" (posições 001–001): {record!r}, esperado 0, 1 ou 9")
    if batch is not None:
        raise LayoutError(f"linha {len(lines)}: o arquivo termina sem o trailer do lote")
    return out


def _check_trailer(kind: str, line: str, number: int,
                   batch: list[tuple[int, dict[str, Any]]]) -> None:
    values, errors = parse_record(TRAILER, line, number)
    if errors:
        raise LayoutError(str(errors[0]))
    n = len(batch)
    fields = {f.key: f for f in TRAILER}
    amounts: list[Decimal] = []
    for at, v in batch:
        if v["balance"] is None:
            raise LayoutError(f"linha {at}, {BY_KEY['balance'].where()} ilegível: o"
                              f" somatório do lote (linha {number}) não pode ser conferido")
        amounts.append(v["balance"])
    if kind == "confirmacao":  # the remessa's trailer, kept as the portador sent it
        ind = sum(1 for _, v in batch if v["species"] in INDICATIONS)
        expected = check_count(n, n, ind, n - ind)
    else:
        expected = n
    if int(values["check_count"] or 0) != expected:
        raise LayoutError(f"linha {number}, {fields['check_count'].where()}:"
                          f" {values['check_count']}, esperado {expected:05d} pelas"
                          " transações do lote")
    total = sum(amounts, Decimal("0"))
    if (values["check_amount"] or Decimal("0")) != total:
        raise LayoutError(f"linha {number}, {fields['check_amount'].where()}:"
                          f" {values['check_amount']}, esperado {total} (soma dos saldos,"
                          " campo 18)")
