"""Users: agency staff and each creditor's own staff.

Who may manage whom: the agency admin manages every user; a creditor admin manages only
its own tenant's users, and only with creditor roles. Another tenant's user is "not
found", the same answer as a missing one.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field

from sqlalchemy import delete, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import access_user
from core.auth.passwords import check_password_policy, hash_password
from core.auth.principal import Principal
from core.auth.roles import AGENCY_ROLES, CREDITOR_ROLES, Role
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed, too_long
from core.models import ApiToken, User, UserTenant

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
# E-mails are unique across tenants: a taken one is refused without saying that it
# exists, which would tell a creditor's admin who uses the platform.
EMAIL_UNUSABLE = "este e-mail não pode ser usado"
# Agency roles that work a chosen set of tenants (an admin works them all).
TENANT_WORKERS = frozenset({Role.SUPERVISOR, Role.AGENT, Role.LEGAL})


@dataclass(frozen=True)
class NewUser:
    email: str
    password: str
    full_name: str = ""
    role: Role | None = None
    tenant_ids: list[uuid.UUID] = field(default_factory=list)  # agency staff's tenants


@dataclass(frozen=True)
class UserChanges:
    """What an edit may change; None leaves a field as it is."""

    email: str | None = None
    full_name: str | None = None
    role: Role | None = None
    tenant_ids: list[uuid.UUID] | None = None


def user_summary(user: User, tenant_ids: list[uuid.UUID] | None = None) -> dict[str, object]:
    summary: dict[str, object] = {
        "email": user.email, "role": user.role, "tenant_id": user.tenant_id,
        "full_name": user.full_name, "is_active": user.is_active}
    if tenant_ids is not None:
        summary["tenant_ids"] = sorted(str(t) for t in tenant_ids)
    return summary


def _email_errors(email: str, raw: str) -> dict[str, str]:
    if len(email) > 254:
        return too_long(User, {"email": email})
    if not _EMAIL.fullmatch(email):
        return {"email": f"e-mail inválido: {raw!r}"}
    return {}


def validate_new_user(data: NewUser) -> dict[str, str]:
    """Field errors of a new user's own data, keyed as the API names them."""
    errors = _email_errors(data.email.strip().lower(), data.email)
    errors.update(too_long(User, {"full_name": data.full_name.strip()}))
    weak = check_password_policy(data.password, (data.email, data.full_name))
    if weak:
        errors["password"] = weak
    return errors


def _role_errors(role: Role | None, tenant_id: uuid.UUID | None) -> dict[str, str]:
    if role is None:
        return {"role": "informe o perfil"}
    if role in CREDITOR_ROLES and tenant_id is None:
        return {"tenant_id": "usuários do credor precisam de um credor"}
    if role in AGENCY_ROLES and tenant_id is not None:
        return {"tenant_id": "usuários da assessoria não pertencem a um credor"}
    return {}


async def email_taken(session: AsyncSession, email: str) -> bool:
    # E-mails are unique across tenants; ask a function that answers only "taken or not".
    return bool((await session.execute(text("SELECT regua_email_taken(:e)"),
                                       {"e": email.strip().lower()})).scalar())


async def add_user(
    session: AsyncSession,
    actor: audit.Actor,
    data: NewUser,
    *,
    tenant_id: uuid.UUID | None = None,
    role: Role | None = None,
) -> User:
    """Create a user in the caller's transaction (authorization is the caller's)."""
    role = role or data.role
    errors = validate_new_user(data) | _role_errors(role, tenant_id)
    if errors:
        raise ValidationFailed(errors)
    assert role is not None
    email = data.email.strip().lower()
    if await email_taken(session, email):
        raise Conflict({"email": EMAIL_UNUSABLE})
    user = User(email=email, full_name=data.full_name.strip(), role=role, tenant_id=tenant_id,
                password_hash=hash_password(data.password))
    session.add(user)
    await session.flush()
    work = data.tenant_ids if role in TENANT_WORKERS else []
    for work_tenant in work:
        session.add(UserTenant(tenant_id=work_tenant, user_id=user.id))
    await audit.record(session, actor, "user.created", tenant_id=tenant_id, entity="user",
                       entity_id=user.id, after=user_summary(user, work))
    return user


def assignable_roles(principal: Principal, user: User | None = None) -> list[Role]:
    """The roles `principal` may give: to a new user, or to `user` (same side only)."""
    if principal.role is Role.ADMIN:
        roles = list(Role)
    elif principal.role is Role.CREDITOR_ADMIN:
        roles = [r for r in Role if r in CREDITOR_ROLES]
    else:
        roles = []
    if user is not None:
        side = CREDITOR_ROLES if user.role in CREDITOR_ROLES else AGENCY_ROLES
        roles = [r for r in roles if r in side]
    return roles


def _check_may_assign(principal: Principal, role: Role,
                      tenant_ids: list[uuid.UUID]) -> None:
    if principal.role is Role.CREDITOR_ADMIN and role not in CREDITOR_ROLES:
        raise Forbidden("um credor só gerencia usuários com perfis do próprio credor")
    for work_tenant in tenant_ids:
        if not principal.may_work(work_tenant):
            raise NotFound("credor")


async def create_user(
    session: AsyncSession,
    principal: Principal,
    data: NewUser,
    *,
    tenant_id: uuid.UUID | None,
    role: Role,
) -> User:
    """A user created by a person (API or page), under the manager rules above."""
    _check_manager(principal)
    if principal.role is Role.CREDITOR_ADMIN:
        # A creditor admin adds staff to its own tenant only.
        if tenant_id is not None and tenant_id != principal.tenant_id:
            raise NotFound("credor")
        tenant_id = principal.tenant_id
    elif tenant_id is not None and not principal.may_work(tenant_id):
        raise NotFound("credor")
    _check_may_assign(principal, role, data.tenant_ids)
    return await add_user(session, principal.actor, data, tenant_id=tenant_id, role=role)


async def list_users(session: AsyncSession, principal: Principal) -> list[User]:
    stmt = select(User).order_by(User.email)
    if not principal.role.is_agency:
        stmt = stmt.where(User.tenant_id == principal.tenant_id)
    return list((await session.execute(stmt)).scalars())


async def get_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID) -> User:
    checked = await access_user(session, principal, user_id)
    return (await session.execute(select(User).where(User.id == checked))).scalar_one()


async def work_tenants(session: AsyncSession, user_id: uuid.UUID) -> list[uuid.UUID]:
    """The tenants an agency user works (only those the session may see)."""
    rows = await session.execute(
        select(UserTenant.tenant_id).where(UserTenant.user_id == user_id))
    return list(rows.scalars())


def _check_manager(principal: Principal) -> None:
    if principal.role not in (Role.ADMIN, Role.CREDITOR_ADMIN):
        raise Forbidden("seu perfil não gerencia usuários")


async def get_managed_user(session: AsyncSession, principal: Principal,
                           user_id: uuid.UUID) -> User:
    """A user `principal` may change; 403 for a role that manages nobody, else 404."""
    _check_manager(principal)
    user = await get_user(session, principal, user_id)
    if principal.role is Role.CREDITOR_ADMIN and user.role not in CREDITOR_ROLES:
        raise NotFound("usuário")
    return user


async def update_user(session: AsyncSession, principal: Principal, user_id: uuid.UUID,
                      changes: UserChanges) -> User:
    """Change a user's e-mail, name, role or worked tenants; audited with before/after."""
    user = await get_managed_user(session, principal, user_id)
    old_tenants = await work_tenants(session, user.id)
    before = user_summary(user, old_tenants)
    errors: dict[str, str] = {}
    email = user.email
    if changes.email is not None:
        email = changes.email.strip().lower()
        errors.update(_email_errors(email, changes.email))
    if changes.full_name is not None:
        errors.update(too_long(User, {"full_name": changes.full_name.strip()}))
    role = Role(user.role)
    if changes.role is not None and changes.role is not role:
        if user.id == principal.user_id:
            errors["role"] = "você não pode mudar o próprio perfil"
        elif (changes.role in CREDITOR_ROLES) != (role in CREDITOR_ROLES):
            errors["role"] = ("um usuário não passa entre o credor e a assessoria;"
                              " desative-o e crie outro")
        role = changes.role
    new_tenants = changes.tenant_ids
    if new_tenants and role not in TENANT_WORKERS:
        errors["tenant_ids"] = "só supervisor, operador e jurídico trabalham credores escolhidos"
    if errors:
        raise ValidationFailed(errors)
    _check_may_assign(principal, role, new_tenants or [])
    if email != user.email and await email_taken(session, email):
        raise Conflict({"email": EMAIL_UNUSABLE})
    user.email = email
    if changes.full_name is not None:
        user.full_name = changes.full_name.strip()
    user.role = role
    tenants_now = old_tenants
    if role not in TENANT_WORKERS:
        # An admin works every tenant and a creditor user its own: no list to keep.
        new_tenants = []
    if new_tenants is not None and set(new_tenants) != set(old_tenants):
        await session.execute(delete(UserTenant).where(UserTenant.user_id == user.id))
        for work_tenant in dict.fromkeys(new_tenants):
            session.add(UserTenant(tenant_id=work_tenant, user_id=user.id))
        tenants_now = list(dict.fromkeys(new_tenants))
    await session.flush()
    after = user_summary(user, tenants_now)
    if after != before:
        await audit.record(session, principal.actor, "user.updated", tenant_id=user.tenant_id,
                           entity="user", entity_id=user.id, before=before, after=after)
    return user


async def _end_sessions(session: AsyncSession, user_id: uuid.UUID) -> None:
    await session.execute(delete(ApiToken).where(ApiToken.user_id == user_id))


async def deactivate_user(session: AsyncSession, principal: Principal,
                          user_id: uuid.UUID) -> User:
    """The user can no longer log in, and every open session ends now."""
    user = await get_managed_user(session, principal, user_id)
    if user.id == principal.user_id:
        raise ValidationFailed("você não pode desativar o próprio usuário")
    before = user_summary(user)
    user.is_active = False
    await _end_sessions(session, user.id)
    await audit.record(session, principal.actor, "user.deactivated", tenant_id=user.tenant_id,
                       entity="user", entity_id=user.id, before=before, after=user_summary(user))
    return user


async def reactivate_user(session: AsyncSession, principal: Principal,
                          user_id: uuid.UUID) -> User:
    user = await get_managed_user(session, principal, user_id)
    if user.is_active:
        return user
    before = user_summary(user)
    user.is_active = True
    await audit.record(session, principal.actor, "user.reactivated", tenant_id=user.tenant_id,
                       entity="user", entity_id=user.id, before=before, after=user_summary(user))
    return user


async def reset_password(session: AsyncSession, principal: Principal, user_id: uuid.UUID,
                         password: str) -> User:
    """Set a new password chosen by a manager; every session of the user ends."""
    user = await get_managed_user(session, principal, user_id)
    weak = check_password_policy(password, (user.email, user.full_name))
    if weak:
        raise ValidationFailed({"password": weak})
    user.password_hash = hash_password(password)
    await _end_sessions(session, user.id)
    # The audit entry says that the password changed, never what it is.
    await audit.record(session, principal.actor, "user.password_reset",
                       tenant_id=user.tenant_id, entity="user", entity_id=user.id)
    return user
