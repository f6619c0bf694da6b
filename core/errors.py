"""Domain errors that the web layer turns into HTTP answers (and the CLI into messages)."""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, detail: str | dict[str, str]) -> None:
        self.detail = detail
        super().__init__(detail if isinstance(detail, str) else "; ".join(
            f"{k}: {v}" for k, v in detail.items()))


class ValidationFailed(DomainError):
    status_code = 422


class Conflict(DomainError):
    status_code = 409


class NotFound(DomainError):
    """Missing, or not visible to the caller: the same answer for both (no existence leak)."""

    status_code = 404

    def __init__(self, what: str) -> None:
        super().__init__(f"{what} não encontrado")


class Forbidden(DomainError):
    status_code = 403
