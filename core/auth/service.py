"""Login, tokens and sessions.

Tokens are opaque random strings; the database keeps only their SHA-256, so a leaked
table does not leak sessions, and deactivating a user or tenant takes effect on the
next request (every request re-reads the user's scope).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, select, text, update

from core import audit
from core.auth.passwords import verify_password
from core.auth.principal import Principal
from core.auth.roles import Role
from core.db import NO_SCOPE, Database, Scope
from core.models import ApiToken, LoginAttempt, User


class LoginError(Exception):
    """Wrong e-mail or password, or the account may not log in (message for users)."""


class LoginRateLimited(LoginError):
    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__("muitas tentativas de login; tente novamente mais tarde")
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class IssuedToken:
    token: str
    expires_at: dt.datetime
    principal: Principal


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def load_principal(
    db: Database, user_id: uuid.UUID, ip: str | None = None
) -> Principal | None:
    """The user's current role and tenant scope, or None if they may not log in now."""
    async with db.transaction(NO_SCOPE) as session:
        row = (
            await session.execute(
                text("SELECT * FROM regua_user_scope(:uid)"), {"uid": user_id}
            )
        ).first()
    if row is None or not row.active:
        return None
    return Principal(
        user_id=user_id,
        email=row.email,
        full_name=row.full_name,
        role=Role(row.role),
        tenant_id=row.tenant_id,
        tenant_ids=frozenset(row.tenant_ids or ()),
        ip=ip,
    )


async def _check_rate_limit(db: Database, email: str, ip: str, max_failures: int,
                            window: dt.timedelta) -> None:
    since = _now() - window
    async with db.transaction(NO_SCOPE) as session:
        by_email, by_ip = (
            await session.execute(
                select(
                    func.count().filter(LoginAttempt.email == email),
                    func.count().filter(LoginAttempt.ip == ip),
                ).where(LoginAttempt.at >= since)
            )
        ).one()
    # An address may try several accounts (an office behind one NAT), so it gets more room.
    if by_email >= max_failures or by_ip >= max_failures * 4:
        raise LoginRateLimited(int(window.total_seconds()))


async def _fail(db: Database, email: str, ip: str, reason: str,
                user_id: uuid.UUID | None = None) -> LoginError:
    async with db.transaction(Scope(agency=True)) as session:
        session.add(LoginAttempt(email=email, ip=ip))
        await audit.record(
            session,
            audit.Actor(id=user_id, email=email, ip=ip),
            "auth.login_failed",
            after={"reason": reason},
        )
    return LoginError("e-mail ou senha inválidos")


async def authenticate(
    db: Database,
    email: str,
    password: str,
    ip: str,
    *,
    max_failures: int,
    window: dt.timedelta,
) -> Principal:
    email = email.strip().lower()
    await _check_rate_limit(db, email, ip, max_failures, window)
    async with db.transaction(NO_SCOPE) as session:
        row = (
            await session.execute(text("SELECT * FROM regua_login_lookup(:e)"), {"e": email})
        ).first()
    if not verify_password(row.password_hash if row else None, password) or row is None:
        raise await _fail(db, email, ip, "bad_credentials", row.user_id if row else None)
    if not row.user_active:
        raise await _fail(db, email, ip, "user_inactive", row.user_id)
    if not row.tenant_active:
        raise await _fail(db, email, ip, "tenant_inactive", row.user_id)
    principal = await load_principal(db, row.user_id, ip)
    if principal is None:
        raise await _fail(db, email, ip, "not_allowed", row.user_id)
    async with db.transaction(principal.scope) as session:
        await session.execute(
            update(User).where(User.id == principal.user_id).values(last_login_at=func.now())
        )
        await session.execute(
            delete(LoginAttempt).where(LoginAttempt.email == email)
        )
        await audit.record(session, principal.actor, "auth.login", tenant_id=principal.tenant_id)
    return principal


async def issue_token(db: Database, principal: Principal, kind: str,
                      ttl: dt.timedelta) -> IssuedToken:
    token = secrets.token_urlsafe(32)
    expires_at = _now() + ttl
    async with db.transaction(NO_SCOPE) as session:
        session.add(ApiToken(token_hash=_digest(token), user_id=principal.user_id, kind=kind,
                             expires_at=expires_at))
    return IssuedToken(token, expires_at, principal)


async def resolve_token(db: Database, token: str, kind: str | None,
                        ip: str | None = None) -> Principal | None:
    """The principal behind a live token, or None (unknown, expired or account disabled)."""
    async with db.transaction(NO_SCOPE) as session:
        stmt = select(ApiToken.user_id).where(
            ApiToken.token_hash == _digest(token), ApiToken.expires_at > func.now()
        )
        if kind is not None:
            stmt = stmt.where(ApiToken.kind == kind)
        user_id = (await session.execute(stmt)).scalar_one_or_none()
    if user_id is None:
        return None
    return await load_principal(db, user_id, ip)


async def revoke_token(db: Database, token: str) -> None:
    async with db.transaction(NO_SCOPE) as session:
        await session.execute(delete(ApiToken).where(ApiToken.token_hash == _digest(token)))


async def purge_expired(db: Database, window: dt.timedelta) -> int:
    """Delete expired tokens and login failures older than the rate-limit window."""
    async with db.transaction(NO_SCOPE) as session:
        tokens = await session.execute(delete(ApiToken).where(ApiToken.expires_at <= func.now()))
        await session.execute(delete(LoginAttempt).where(LoginAttempt.at < _now() - window))
    return int(getattr(tokens, "rowcount", 0) or 0)
