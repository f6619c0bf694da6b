"""Régua's canonical portfolio fields and how creditors' headers map onto them.

Headers are compared word by word after folding case, accents and punctuation, with
the abbreviations exports use spelled out and "do/da/de" dropped, so "Nº Contrato",
"NR_CONTRATO" and "Número do contrato" are the same header, and so are "DT_VENC" and
"Data de Vencimento".
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

from core.errors import ValidationFailed
from core.import_mode import ImportMode


@dataclass(frozen=True)
class Field:
    name: str
    label: str  # shown to users (pt-BR)
    required: bool = False
    multiple: bool = False  # several columns may feed it (phones, e-mails)
    headers: tuple[str, ...] = ()


PLACEMENT_FIELDS = (
    Field("document", "CPF/CNPJ", True, headers=(
        "cpf", "cnpj", "cpf/cnpj", "cpf cnpj", "cpfcnpj", "cnpj/cpf", "documento", "doc",
        "cpf do cliente", "cpf/cnpj do cliente", "cpf/cnpj devedor", "cpf devedor",
        "documento do cliente", "nr documento", "numero documento", "cpf_cnpj", "inscricao",
        "numero cpf cnpj", "numero cpf", "numero cnpj", "cpf cnpj cliente", "cpf cnpj devedor")),
    # Files that keep the CNPJ of companies apart from the CPF of people: a second
    # document column (found as such by match_headers), read where the first is empty.
    Field("document_2", "CPF/CNPJ (outra coluna)"),
    Field("name", "Nome", True, headers=(
        "nome", "nome do cliente", "nome cliente", "cliente", "razao social", "nome/razao social",
        "nome do devedor", "devedor", "nome completo", "sacado", "nome sacado",
        "razao social/nome", "nome ou razao social")),
    Field("contract", "Contrato", True, headers=(
        "contrato", "n contrato", "no contrato", "nº contrato", "numero do contrato",
        "numero contrato", "num contrato", "cod contrato", "codigo do contrato", "titulo",
        "numero do titulo", "nosso numero", "documento de cobranca", "id contrato")),
    Field("installment", "Parcela", headers=(
        "parcela", "n parcela", "nº parcela", "numero da parcela", "num parcela", "prestacao",
        "parc")),
    Field("due_date", "Vencimento", True, headers=(
        "vencimento", "data de vencimento", "data vencimento", "dt vencimento", "dt venc",
        "venc", "data venc", "vencto", "data do vencimento", "vencimento original",
        "data de vencimento original", "vencimento da parcela", "data vencimento parcela")),
    Field("amount", "Valor", True, headers=(
        "valor", "valor original", "valor da parcela", "valor parcela", "valor do titulo",
        "valor titulo", "vlr", "vlr original", "valor nominal", "valor (r$)", "valor r$",
        "valor do debito", "valor da divida", "valor principal", "valor face")),
    # What is owed now (interest, fees, partial payments), when the file says it beside
    # the original amount; alone, it is the amount (see match_headers).
    Field("balance", "Saldo devedor", headers=(
        "saldo devedor", "saldo", "saldo atual", "saldo atualizado", "saldo em aberto",
        "valor em aberto", "valor devido", "valor atualizado", "valor corrigido",
        "saldo devedor atualizado", "valor total devido", "valor saldo")),
    Field("phone", "Telefones", multiple=True, headers=(
        "telefone", "telefone 1", "telefone 2", "telefone 3", "telefone 4", "telefone 5",
        "celular", "celular 1", "celular 2", "fone", "fone 1", "fone 2", "tel", "tel 1",
        "tel 2", "telefone residencial", "telefone comercial", "telefone celular", "whatsapp",
        "ddd+telefone", "contato")),
    Field("email", "E-mails", multiple=True, headers=(
        "e-mail", "email", "e mail", "correio eletronico")),
    Field("address", "Endereço", headers=(
        "endereco", "logradouro", "endereco completo", "rua", "endereco residencial")),
    Field("address_number", "Número (endereço)", headers=(
        "numero", "numero endereco", "numero residencia", "numero imovel")),
    Field("complement", "Complemento", headers=("complemento", "complemento endereco")),
    Field("district", "Bairro", headers=("bairro",)),
    Field("city", "Cidade", headers=("cidade", "municipio")),
    Field("state", "UF", headers=("uf", "estado")),
    Field("zip", "CEP", headers=("cep", "codigo postal")),
    Field("birth_date", "Data de nascimento", headers=(
        "data de nascimento", "nascimento", "dt nascimento", "data nascimento", "dt nasc")),
)

_BY_NAME = {f.name: f for f in PLACEMENT_FIELDS}
CLOSING_FIELDS = (
    Field("contract", "Contrato", True, headers=_BY_NAME["contract"].headers),
    Field("installment", "Parcela", headers=_BY_NAME["installment"].headers),
    Field("amount_paid", "Valor pago", headers=(
        "valor pago", "valor do pagamento", "valor baixa", "valor da baixa", "vlr pago",
        "valor recebido", "valor")),
    Field("paid_on", "Data do pagamento", headers=(
        "data do pagamento", "data pagamento", "dt pagamento", "data da baixa", "data baixa",
        "pagamento", "data")),
    Field("document", "CPF/CNPJ", headers=_BY_NAME["document"].headers),
)

# Columns Régua adds to its own error report (first and last); ignored when a fixed
# report comes back, and so are the names reports had before (snake_case).
REPORT_COLUMNS = ("Linha original", "Motivo da recusa")
OWN_COLUMNS = (*REPORT_COLUMNS, "linha_original", "motivo_recusa")


def fields_for(mode: ImportMode) -> tuple[Field, ...]:
    return CLOSING_FIELDS if mode in (ImportMode.SETTLEMENT, ImportMode.RECALL) else (
        PLACEMENT_FIELDS)


# Words that exports abbreviate (or put in the plural), each with the word it stands for.
ABBREVIATIONS = {
    "telefones": "telefone", "fones": "telefone", "celulares": "celular", "mails": "mail",
    "emails": "email", "enderecos": "endereco",
    "dt": "data", "dta": "data", "vl": "valor", "vlr": "valor", "val": "valor",
    "n": "numero", "no": "numero", "nr": "numero", "nro": "numero", "num": "numero",
    "cod": "codigo", "doc": "documento", "fone": "telefone", "tel": "telefone", "cel": "celular",
    "venc": "vencimento", "vencto": "vencimento", "vcto": "vencimento",
    "nasc": "nascimento", "end": "endereco", "parc": "parcela", "cli": "cliente",
    "mun": "municipio", "compl": "complemento", "nm": "nome", "desc": "descricao",
    "ds": "descricao", "sg": "sigla",
}
ADDRESS_PARTS = ("address_number", "complement", "district")  # joined to the street
CONNECTORS = frozenset({"do", "da", "de", "dos", "das"})
PHONE_WORDS = frozenset({"telefone", "celular", "whatsapp"})


def words(header: str) -> list[str]:
    """A header's words: without case or accents, abbreviations spelled out, "do/da/de"
    dropped; camelCase and digits split off ("DtVenc2" -> data, vencimento, 2)."""
    text = unicodedata.normalize("NFKD", header.replace("º", "o").replace("°", "o"))
    text = "".join(c for c in text if not unicodedata.combining(c))
    text = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", text).lower()
    found = (ABBREVIATIONS.get(w, w) for w in re.findall(r"[a-z]+|[0-9]+", text))
    return [w for w in found if w not in CONNECTORS]


def fold(header: str) -> str:
    """The form in which headers are compared (see `words`)."""
    return "".join(words(header))


def area_code_column(found: list[str]) -> bool:
    """A column (by its `words`) holding only the DDD of the phone beside it ("DDD",
    "DDD1", "DDD Cel")."""
    return bool(found) and found[0] == "ddd" and "telefone" not in found and len(found) <= 2


def phone_column(found: list[str]) -> bool:
    """Any "Telefone ..."/"Celular ..." column (by its `words`) not named among the
    built-in headers."""
    return bool(found) and found[0] in PHONE_WORDS


def email_column(found: list[str]) -> bool:
    """Any "E-mail ..." column (by its `words`: "E-mail 2", "Email Comercial")."""
    return "".join(found[:2]).startswith("email")


_INDEX: dict[ImportMode, dict[str, str]] = {}


def _index(mode: ImportMode) -> dict[str, str]:
    key = ImportMode.SETTLEMENT if mode is ImportMode.RECALL else mode
    if key not in _INDEX:
        _INDEX[key] = {fold(h): f.name for f in fields_for(mode) for h in (f.name, *f.headers)}
    return _INDEX[key]


def known_headers(values: list[str]) -> int:
    """How many of `values` are header names that some kind of import recognises."""
    known = {h for mode in ImportMode for h in _index(mode)}
    return sum(1 for v in values if fold(v) in known)


class MissingColumnsError(Exception):
    def __init__(self, found: list[str], missing: list[Field]) -> None:
        self.found, self.missing = found, missing
        labels = ", ".join(f.label for f in missing)
        headers = ", ".join(f"“{h}”" for h in found if h.strip()) or "nenhum"
        super().__init__(
            f"colunas obrigatórias não encontradas: {labels}. Cabeçalhos do arquivo: {headers}."
            " Ajuste os cabeçalhos ou escolha as colunas num layout."
        )


@dataclass
class ColumnMapping:
    """Which file column (by index) feeds each field; the rest go to `extra`."""

    headers: list[str]
    columns: dict[str, list[int]] = field(default_factory=dict)
    extra: list[int] = field(default_factory=list)
    missing: list[Field] = field(default_factory=list)
    # A phone column (by index) whose DDD is in a column of its own.
    area_codes: dict[int, int] = field(default_factory=dict)

    def header_for(self, name: str) -> str:
        cols = self.columns.get(name)
        return self.headers[cols[0]] if cols else name

    def as_layout(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, cols in self.columns.items():
            hs = [self.headers[i] for i in cols]
            out[name] = hs if len(hs) > 1 or name == "phone" else hs[0]
        return out


def match_headers(headers: list[str], layout: dict[str, Any] | None,
                  mode: ImportMode, *, strict: bool = True) -> ColumnMapping:
    """Map the file's headers to fields, by the saved layout or by the built-in names.

    A layout maps field name to header (or a list of headers for phones); headers it
    does not name are still recognised by the built-in names. Not `strict`: return what
    was found, with `missing` listing the required fields that were not.
    """
    known = {f.name: f for f in fields_for(mode)}
    mapping = ColumnMapping(headers=list(headers))
    taken: set[int] = set()
    worded = [words(h) for h in headers]
    folded = ["".join(w) for w in worded]
    for name, wanted in (layout or {}).items():
        if name not in known:
            continue
        for header in [wanted] if isinstance(wanted, str) else list(wanted or []):
            target = fold(str(header))
            for i, h in enumerate(folded):
                if h == target and i not in taken:
                    mapping.columns.setdefault(name, []).append(i)
                    taken.add(i)
                    break
    index = _index(mode)
    ignored = {fold(c) for c in OWN_COLUMNS}
    area_codes = []
    for i, h in enumerate(folded):
        if i in taken or not h or h in ignored:
            continue
        found = worded[i]
        if "phone" in known and (area_code_column(found) or (
                found[0] == "numero" and area_code_column(found[1:]))):
            area_codes.append(i)
            continue
        field = _field_of(found, index) or _typed_field_of(found, index)
        if field == "document" and "document" in mapping.columns:
            field = "document_2"
        if field and field in known and (known[field].multiple
                                         or field not in mapping.columns):
            mapping.columns.setdefault(field, []).append(i)
        else:
            mapping.extra.append(i)
    _pair_area_codes(mapping, area_codes)
    if "amount" not in mapping.columns and "balance" in mapping.columns:
        mapping.columns["amount"] = mapping.columns.pop("balance")
    if "address" not in mapping.columns:
        # A number or district with no street to go with is kept as it came.
        for part in ADDRESS_PARTS:
            mapping.extra.extend(mapping.columns.pop(part, []))
    mapping.extra.sort()
    mapping.missing = [f for f in known.values()
                       if f.required and f.name not in mapping.columns]
    if mapping.missing and strict:
        raise MissingColumnsError(list(headers), mapping.missing)
    return mapping


def _field_of(found: list[str], index: dict[str, str]) -> str | None:
    return index.get("".join(found)) or ("phone" if phone_column(found) else
                                         "email" if email_column(found) else None)


# ERP column names lead with the kind of value ("NR_TELEFONE", "DS_EMAIL" for a
# description, "SG_UF" for an acronym, "NM_CIDADE"): without it the rest is often a
# known header, taken if the kind fits the field ("NR_CLIENTE", a number, is no name).
TYPE_PREFIXES = {
    "numero": {"phone", "zip", "document", "contract", "installment"},
    "nome": {"name", "city", "district"},
    "descricao": {"email", "address", "complement", "district", "city"},
    "sigla": {"state"},
}


def _typed_field_of(found: list[str], index: dict[str, str]) -> str | None:
    if len(found) < 2 or found[0] not in TYPE_PREFIXES:
        return None
    field = _field_of(found[1:], index)
    return field if field in TYPE_PREFIXES[found[0]] else None


def _pair_area_codes(mapping: ColumnMapping, area_codes: list[int]) -> None:
    """Each DDD column feeds the first phone column after it that has none yet ("DDD;
    Telefone", "DDD1;Fone1;DDD2;Fone2", "DDD1;DDD2;Fone1;Fone2"); one with no phone
    column after it is kept as an extra field."""
    phones = sorted(mapping.columns.get("phone", []))
    for ddd in area_codes:
        phone = next((p for p in phones if p > ddd and p not in mapping.area_codes), None)
        if phone is None:
            mapping.extra.append(ddd)
        else:
            mapping.area_codes[phone] = ddd


def validate_mapping(layout: dict[str, Any], mode: ImportMode) -> None:
    """Check a layout a user saves: known fields, one header each (lists for phones)."""
    known = {f.name: f for f in fields_for(mode)}
    errors = {}
    for name, value in layout.items():
        if name not in known:
            errors[name] = "campo desconhecido"
        elif isinstance(value, list) and not known[name].multiple:
            errors[name] = "escolha uma única coluna"
        elif not value:
            errors[name] = "coluna vazia"
    missing = [f.label for f in known.values() if f.required and f.name not in layout]
    if missing:
        errors["_"] = "faltam campos obrigatórios: " + ", ".join(missing)
    if errors:
        raise ValidationFailed(errors)
