"""Validation at the edge: what no field may hold is refused here, in one place, before any
handler runs, with 400 and each field named in Portuguese.

- No string holds a NUL character (PostgreSQL's text cannot store one): query and path
  parameters, forms, and JSON bodies (keys and values, at any depth).
- An integer stays within its bounds: those of `INTEGER_BOUNDS` by name (`limit`, `page`,
  `installment`, ...); any other integer a route declares, within PostgreSQL's
  `integer` (the columns the API writes are int4).
- A string fits the column it goes to: a column of the route's model when the route names
  one (`opt={"columns": Model}` on the handler), else the longest column of that name in
  the schema; a string no column is named after stays under `MAX_TEXT`. Free-form JSON (a
  column mapping, a policy document) is held to the NUL rule and `MAX_TEXT` only, since
  its keys are not field names.

Services still check what depends on meaning (a CPF's digits, a UF); this keeps values
that cannot be stored, or that would overflow a query, from reaching them.
"""

from __future__ import annotations

import json
import typing
from functools import cache
from typing import Any

import msgspec
from litestar import Request
from litestar.enums import ScopeType
from litestar.middleware import ASGIMiddleware
from litestar.types import ASGIApp, Receive, Scope, Send
from sqlalchemy import String

from core.db import Base
from core.errors import BadRequest
from core.formatting import int_br

INT4 = (-(2**31), 2**31 - 1)
INTEGER_BOUNDS: dict[str, tuple[int, int]] = {
    "limit": (1, 1000),
    "offset": (0, INT4[1]),
    "page": (1, 100_000),
    "page_size": (1, 1000),
    "installment": (1, 9999),
    "file_size": (0, 2**53),  # bytes: may pass int4; the tenant's limit is the service's
}
MAX_TEXT = 100_000
# Fields whose column has another name.
COLUMN_OF = {"admin_email": "email", "admin_name": "full_name", "layout": "layout_name"}
# Fields stored normalized, whose input may run longer than their column: a CNPJ with its
# punctuation, a state by its name ("Rio Grande do Norte" for RN), a CNJ process number
# with its dots and dash.
INPUT_LENGTHS = {"cnpj": 32, "document": 32, "state": 32, "court_number": 32}

LABELS = {
    "email": "e-mail", "password": "senha", "full_name": "nome completo", "role": "perfil",
    "tenant_id": "credor", "tenant_ids": "credores", "legal_name": "razão social",
    "trade_name": "nome fantasia", "cnpj": "CNPJ", "state": "UF", "timezone": "fuso horário",
    "address": "endereço", "slug": "identificador", "admin_email": "e-mail do administrador",
    "admin_password": "senha do administrador", "admin_name": "nome do administrador",
    "file_name": "nome do arquivo", "file_size": "tamanho do arquivo", "mode": "tipo de carga",
    "layout": "layout", "mapping": "mapeamento de colunas", "sheet": "aba", "name": "nome",
    "contract": "contrato", "installment": "parcela", "items": "títulos", "limit": "limite",
    "offset": "deslocamento", "page": "página", "page_size": "tamanho da página",
    "q": "busca", "body": "texto", "reason": "motivo", "kind": "tipo", "note": "observação",
    "source": "origem", "channel": "canal", "quality": "qualidade", "subject": "assunto",
    "params": "parâmetros", "option": "opção", "date": "data", "debt_ids": "dívidas",
    "debtor_id": "devedor", "call_recording_ref": "referência da gravação",
    "accept": "decisão", "decided": "decididas", "debt_id": "dívida",
}


def label(name: str) -> str:
    return LABELS.get(name, name)


@cache
def _longest_columns() -> dict[str, int]:
    """Each column name's longest `String(n)` in the schema."""
    longest: dict[str, int] = {}
    for table in Base.metadata.tables.values():
        for column in table.columns:
            if isinstance(column.type, String) and column.type.length:
                longest[column.name] = max(longest.get(column.name, 0), column.type.length)
    return longest


def _columns_of(model: Any) -> dict[str, int]:
    """A model's text columns: `String(n)` holds n characters, `Text` up to MAX_TEXT."""
    return {c.name: c.type.length or MAX_TEXT for c in model.__table__.columns
            if isinstance(c.type, String)}


class _Checker:
    def __init__(self, model: Any) -> None:
        self.columns = {**_longest_columns(), **(_columns_of(model) if model else {}),
                        **INPUT_LENGTHS}
        self.errors: dict[str, str] = {}

    def fail(self, key: str, message: str) -> None:
        self.errors.setdefault(key, message)

    def text(self, key: str, name: str | None, value: str) -> None:
        """A string at `key` (the error's field) filling field `name` (None: free-form)."""
        if "\x00" in value:
            self.fail(key, f"{label(name or key)}: o caractere nulo (\\0) não é aceito")
            return
        limit = self.columns.get(COLUMN_OF.get(name, name), MAX_TEXT) if name else MAX_TEXT
        if len(value) > limit:
            self.fail(key, f"{label(name or key)}: use no máximo {int_br(limit)} caracteres"
                           f" (foram {int_br(len(value))})")

    def integer(self, key: str, name: str, value: int) -> None:
        low, high = INTEGER_BOUNDS.get(name, INT4)
        if not low <= value <= high:
            self.fail(key, f"{label(name)}: use um número inteiro de {int_br(low)} a"
                           f" {int_br(high)}")

    def json(self, key: str, name: str | None, value: Any, kind: Any) -> None:
        """`value` as the body's type `kind` (msgspec type info) describes it: struct
        fields by their names, anything free-form by the NUL rule and MAX_TEXT alone."""
        kind = _matching(kind, value)
        if isinstance(value, str):
            self.text(key, name if kind is not None else None, value)
        elif isinstance(value, bool):
            return
        elif isinstance(value, int):
            if isinstance(kind, msgspec.inspect.IntType) and name is not None:
                self.integer(key, name, value)
        elif isinstance(value, list):
            inner = kind.item_type if isinstance(kind, (msgspec.inspect.ListType,
                                                        msgspec.inspect.SetType)) else None
            for item in value:
                self.json(key, name if inner is not None else None, item, inner)
        elif isinstance(value, dict):
            fields = ({f.encode_name: f.type for f in kind.fields}
                      if isinstance(kind, msgspec.inspect.StructType) else {})
            for field, item in value.items():
                # At the top the error names the body's field; deeper, the top one.
                where = key if name is not None or key != "data" else str(field)
                self.text(where, None, str(field))
                self.json(where, field if field in fields else None, item, fields.get(field))


def _matching(kind: Any, value: Any) -> Any:
    """The member of a union that `value` can be (a struct for an object, ...)."""
    if isinstance(kind, msgspec.inspect.UnionType):
        for member in kind.types:
            if isinstance(value, dict) and isinstance(member, msgspec.inspect.StructType):
                return member
            if isinstance(value, int) and isinstance(member, msgspec.inspect.IntType):
                return member
            if isinstance(value, str) and isinstance(member, msgspec.inspect.StrType):
                return member
            if isinstance(value, list) and isinstance(member, msgspec.inspect.ListType):
                return member
        return None
    if isinstance(kind, msgspec.inspect.AnyType):
        return None
    return kind


def _body_type(handler: Any) -> Any:
    data = handler.parsed_fn_signature.parameters.get("data")
    if data is None:
        return None
    try:
        return msgspec.inspect.type_info(data.annotation)
    except (TypeError, ValueError):
        return None


def _declared(handler: Any, name: str) -> type | None:
    """`int` or `str` when the route declares the parameter `name` as one (or optional)."""
    parameter = handler.parsed_fn_signature.parameters.get(name)
    if parameter is None:
        return None
    kinds = set(typing.get_args(parameter.annotation)) or {parameter.annotation}
    kinds.discard(type(None))
    return kinds.pop() if len(kinds) == 1 and kinds <= {int, str} else None


async def check(request: Request[Any, Any, Any]) -> dict[str, str]:
    """The edge errors of one request, by field ({} when it may go on)."""
    handler = request.scope.get("route_handler")
    checker = _Checker((handler.opt or {}).get("columns") if handler else None)
    for name, value in request.scope.get("path_params", {}).items():
        if isinstance(value, str):
            checker.text(name, name, value)
    for name, values in request.query_params.dict().items():
        declared = _declared(handler, name) if handler else None
        for value in values:
            if declared is int and _is_integer(value):
                checker.integer(name, name, int(value))
            else:
                checker.text(name, name if declared is str else None, value)
    content_type = request.headers.get("content-type", "")
    if request.method in ("POST", "PUT", "PATCH", "DELETE"):
        if "json" in content_type:
            try:
                body = json.loads(await request.body() or b"null")
            except ValueError:
                return checker.errors  # the handler answers a body that does not parse
            checker.json("data", None, body, _body_type(handler) if handler else None)
        elif "form" in content_type:
            for name, value in (await request.form()).multi_items():
                if isinstance(value, str):
                    checker.text(name, None, value)
    return checker.errors


def _is_integer(value: str) -> bool:
    return value.strip().lstrip("+-").isdigit()


class EdgeValidation(ASGIMiddleware):
    """Runs `check` on every HTTP request of a route; refuses it with 400 when it fails."""

    async def handle(self, scope: Scope, receive: Receive, send: Send,
                     next_app: ASGIApp) -> None:
        if scope["type"] == ScopeType.HTTP:
            errors = await check(Request(scope, receive))
            if errors:
                raise BadRequest(errors)
        await next_app(scope, receive, send)

