"""The authenticated user of a request or a job, and the tenant scope it implies."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from core.audit import SYSTEM, Actor
from core.auth.roles import Role
from core.db import Scope

SYSTEM_USER_ID = uuid.UUID(int=0)


@dataclass(frozen=True)
class Principal:
    user_id: uuid.UUID
    email: str
    full_name: str
    role: Role
    tenant_id: uuid.UUID | None  # a creditor user's own tenant
    tenant_ids: frozenset[uuid.UUID]  # every tenant this user may work
    ip: str | None = None

    @classmethod
    def system(cls, scope: Scope) -> Principal:
        """A job or an operator command acting for the platform within `scope`."""
        return cls(user_id=SYSTEM_USER_ID, email=SYSTEM.email, full_name="Régua",
                   role=Role.ADMIN, tenant_id=None, tenant_ids=scope.tenant_ids)

    @property
    def is_system(self) -> bool:
        return self.user_id == SYSTEM_USER_ID

    @property
    def scope(self) -> Scope:
        return Scope(self.tenant_ids, agency=self.role.is_agency)

    @property
    def actor(self) -> Actor:
        if self.is_system:
            return SYSTEM
        return Actor(id=self.user_id, email=self.email, ip=self.ip)

    def may_work(self, tenant_id: uuid.UUID) -> bool:
        return tenant_id in self.tenant_ids
