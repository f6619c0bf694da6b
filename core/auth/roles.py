"""Roles: agency staff work across tenants; a creditor's staff see only their tenant."""

from __future__ import annotations

from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    SUPERVISOR = "supervisor"
    AGENT = "agent"
    LEGAL = "legal"
    CREDITOR_ADMIN = "creditor_admin"
    CREDITOR_VIEWER = "creditor_viewer"

    @property
    def is_agency(self) -> bool:
        return self in AGENCY_ROLES

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]


AGENCY_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.LEGAL})
CREDITOR_ROLES = frozenset({Role.CREDITOR_ADMIN, Role.CREDITOR_VIEWER})
ALL_ROLES = frozenset(Role)

ROLE_LABELS = {
    Role.ADMIN: "Administrador da assessoria",
    Role.SUPERVISOR: "Supervisor",
    Role.AGENT: "Operador",
    Role.LEGAL: "Jurídico",
    Role.CREDITOR_ADMIN: "Administrador do credor",
    Role.CREDITOR_VIEWER: "Consulta do credor",
}
