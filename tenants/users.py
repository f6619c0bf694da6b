"""Users: agency staff and each creditor's own staff."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.auth.passwords import check_password_policy, hash_password
from core.auth.principal import Principal
from core.auth.roles import AGENCY_ROLES, CREDITOR_ROLES, Role
from core.errors import Conflict, NotFound, ValidationFailed
from core.models import ApiToken, User, UserTenant

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


@dataclass(frozen=True)
class NewUser:
    email: str
    password: str
    full_name: str = ""
    role: Role | None = None
    tenant_ids: list[uuid.UUID] = field(default_factory=list)  # agency staff's tenants


def user_summary(user: User) -> dict[str, object]:
    return {"email": user.email, "role": user.role, "tenant_id": user.tenant_id,
            "full_name": user.full_name, "is_active": user.is_active}


async def add_user(
    session: AsyncSession,
    actor: audit.Actor,
    data: NewUser,
    *,
    tenant_id: uuid.UUID | None = None,
    role: Role | None = None,
) -> User:
    role = role or data.role
    errors: dict[str, str] = {}
    email = data.email.strip().lower()
    if not _EMAIL.fullmatch(email):
        errors["email"] = f"e-mail inválido: {data.email!r}"
    weak = check_password_policy(data.password)
    if weak:
        errors["password"] = weak
    if role is None:
        errors["role"] = "informe o perfil"
    elif role in CREDITOR_ROLES and tenant_id is None:
        errors["tenant"] = "usuários do credor precisam de um credor"
    elif role in AGENCY_ROLES and tenant_id is not None:
        errors["tenant"] = "usuários da assessoria não pertencem a um credor"
    if errors:
        raise ValidationFailed(errors)
    assert role is not None
    if (await session.execute(text("SELECT regua_email_taken(:e)"), {"e": email})).scalar():
        raise Conflict({"email": "já existe um usuário com este e-mail"})
    user = User(email=email, full_name=data.full_name.strip(), role=role, tenant_id=tenant_id,
                password_hash=hash_password(data.password))
    session.add(user)
    await session.flush()
    for work_tenant in data.tenant_ids if role in AGENCY_ROLES else []:
        session.add(UserTenant(tenant_id=work_tenant, user_id=user.id))
    await audit.record(session, actor, "user.created", tenant_id=tenant_id, entity="user",
                       entity_id=user.id, after=user_summary(user))
    return user


async def list_users(session: AsyncSession, principal: Principal) -> list[User]:
    stmt = select(User).order_by(User.email)
    if not principal.role.is_agency:
        stmt = stmt.where(User.tenant_id == principal.tenant_id)
    return list((await session.execute(stmt)).scalars())


async def get_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> User:
    user = await session.get(User, user_id)
    if user is None or (not principal.role.is_agency and user.tenant_id != principal.tenant_id):
        raise NotFound("user")
    return user


async def deactivate_user(session: AsyncSession, principal: Principal,
                          user_id: uuid.UUID) -> User:
    user = await get_user(session, principal, user_id)
    before = user_summary(user)
    user.is_active = False
    await session.execute(delete(ApiToken).where(ApiToken.user_id == user.id))
    await audit.record(session, principal.actor, "user.deactivated", tenant_id=user.tenant_id,
                       entity="user", entity_id=user.id, before=before, after=user_summary(user))
    return user
