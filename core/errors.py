"""Domain errors that the web layer turns into HTTP answers (and the CLI into messages)."""

from __future__ import annotations

# Nouns the platform names in "not found" answers that are feminine in Portuguese; the
# rest take the masculine form ("usuário não encontrado", "carteira não encontrada").
FEMININE_NOUNS = frozenset({
    "carteira", "dívida", "parcela", "conta", "campanha", "chamada", "página", "importação",
    "nota", "pendência", "negociação", "escalada", "cobrança", "mensagem", "regra",
})


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str | dict[str, str]) -> None:
        self.detail = detail
        super().__init__(detail if isinstance(detail, str) else "; ".join(
            f"{k}: {v}" for k, v in detail.items()))


class ValidationFailed(DomainError):
    status_code = 422


class BadRequest(DomainError):
    """A request no field of which may be stored as sent (core.edge)."""

    status_code = 400


class Conflict(DomainError):
    status_code = 409


class NotFound(DomainError):
    """Missing, or not visible to the caller: the same answer for both (no existence leak).

    `what` names the thing in Portuguese ("carteira", "usuário", "layout 'padrão'"); the
    participle agrees with its first word.
    """

    status_code = 404

    def __init__(self, what: str) -> None:
        first = what.split(maxsplit=1)[0].lower() if what.strip() else ""
        ending = "a" if first in FEMININE_NOUNS else "o"
        super().__init__(f"{what} não encontrad{ending}")


class Forbidden(DomainError):
    status_code = 403


def too_long(model: type, values: dict[str, str | None],
             fields: dict[str, str] | None = None) -> dict[str, str]:
    """Errors for the values longer than their column in `model` allows.

    `values` maps column names to what the user gave; `fields` renames a column to the
    field the user filled in (the API's or the form's name) where they differ.
    """
    errors: dict[str, str] = {}
    columns = model.__table__.columns  # type: ignore[attr-defined]
    for column, value in values.items():
        limit = getattr(columns[column].type, "length", None)
        if value is not None and limit is not None and len(value) > limit:
            name = (fields or {}).get(column, column)
            errors[name] = f"use no máximo {limit} caracteres (foram {len(value)})"
    return errors
