"""Masking personal data for roles that do not need it in full (LGPD: data minimisation).

One rule, applied by the services before anything leaves them (pages and API alike):
agency staff (admin, supervisor, agent, legal) and a creditor's admin see a debtor's
CPF, phones, e-mails and address in full; a creditor viewer reads a file to follow the
portfolio, not to contact anyone, and sees them masked. A CNPJ identifies a company in
a public register and is never masked; names are not masked (a viewer must recognise
whom the file is about).
"""

from __future__ import annotations

import json
from typing import Any

from core.auth.roles import Role
from core.documents import DocumentKind, format_document

FULL_VIEW_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.LEGAL,
                             Role.CREDITOR_ADMIN})


def sees_in_full(role: Role) -> bool:
    return role in FULL_VIEW_ROLES


def format_phone(e164: str) -> str:
    """'+5511987654321' -> '(11) 98765-4321'."""
    if not e164.startswith("+55") or len(e164) not in (13, 14):
        return e164
    national = e164[3:]
    return f"({national[:2]}) {national[2:-4]}-{national[-4:]}"


def mask_document(kind: str, value: str) -> str:
    """529.982.247-25 -> ***.982.247-**; a CNPJ stays whole."""
    if kind == DocumentKind.CPF and len(value) == 11:
        return f"***.{value[3:6]}.{value[6:9]}-**"
    return format_document(kind, value)


def mask_phone(e164: str) -> str:
    """'+5511987654321' -> '(11) *****-4321': the area and the last four digits."""
    if not e164.startswith("+55") or len(e164) not in (13, 14):
        return "*" * max(len(e164) - 4, 0) + e164[-4:]
    national = e164[3:]
    return f"({national[:2]}) {'*' * len(national[2:-4])}-{national[-4:]}"


def mask_email(address: str) -> str:
    """'ana.souza@ex.com.br' -> 'a***@ex.com.br'."""
    local, at, domain = address.partition("@")
    if not at:
        return local[:1] + "***"
    return f"{local[:1]}***@{domain}"


def mask_address(value: str, details: dict[str, Any] | str | None) -> str:
    """Only the city and state of an address."""
    if isinstance(details, str):
        try:
            details = json.loads(details)
        except ValueError:
            details = None
    if isinstance(details, dict):
        place = ", ".join(str(details[k]) for k in ("city", "state") if details.get(k))
        if place:
            return f"*** ({place})"
    return "***"


class Masker:
    """The rule for one viewer: in full, or masked."""

    def __init__(self, role: Role) -> None:
        self.full = sees_in_full(role)

    def document(self, kind: str, value: str) -> str:
        return format_document(kind, value) if self.full else mask_document(kind, value)

    def contact(self, kind: str, value: str, details: dict[str, Any] | str | None = None) -> str:
        if kind == "phone":
            return format_phone(value) if self.full else mask_phone(value)
        if kind == "email":
            return value if self.full else mask_email(value)
        return value if self.full else mask_address(value, details)
