"""Login, tokens and sessions.

Tokens are opaque random strings; the database keeps only their SHA-256, so a leaked
table does not leak sessions, and deactivating a user or tenant takes effect on the
next request (every request re-reads the user's scope).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
import secrets
import uuid
from dataclasses import dataclass

from sqlalchemy import delete, func, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import access_user
from core.auth.passwords import verify_password
from core.auth.principal import Principal
from core.auth.roles import Role
from core.db import NO_SCOPE, Database, Scope
from core.models import ApiToken, LoginThrottle, User


class LoginError(Exception):
    """Wrong e-mail or password, or the account may not log in (message for users)."""


class LoginRateLimited(LoginError):
    def __init__(self, retry_after_seconds: int) -> None:
        retry_after_seconds = max(1, retry_after_seconds)
        super().__init__(
            f"muitas tentativas de login; aguarde {retry_after_seconds} segundo"
            f"{'s' if retry_after_seconds > 1 else ''} e tente novamente"
        )
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


@dataclass(frozen=True)
class ThrottlePolicy:
    """How failed logins slow down the next ones (see `_admit`)."""

    max_failures: int  # per (account, address) before delays start
    window: dt.timedelta  # how long a failure (or a delay) is remembered
    max_delay: dt.timedelta

    def keys(self, email: str, ip: str) -> list[tuple[str, int, float]]:
        """(key, failures before delays, longest delay in seconds), in lock order.

        The pair is one guesser at one account, and its delay grows to `max_delay`. The
        address covers guessing many accounts from one place, and the account guessing
        from many places; both are shared with innocent people (an office behind one
        NAT, the account's owner), so they start later and their delay stays short:
        slowed, never locked out."""
        cap = self.max_delay.total_seconds()
        shared_cap = min(cap, SHARED_MAX_DELAY_SECONDS)
        return sorted([
            (f"pair:{email}|{ip}", self.max_failures, cap),
            (f"addr:{ip}", self.max_failures * 4, shared_cap),
            (f"acct:{email}", self.max_failures * 20, shared_cap),
        ])


SHARED_MAX_DELAY_SECONDS = 60.0


async def _admit(db: Database, email: str, ip: str, policy: ThrottlePolicy) -> None:
    """Count this attempt as a failure before the password is checked, or refuse it.

    The rows of its keys are locked for the count, so concurrent attempts are judged one
    after another; a successful login takes its count back (`_forgive`)."""
    keys = policy.keys(email, ip)
    names = [key for key, _, _ in keys]
    async with db.transaction(NO_SCOPE) as session:
        await session.execute(
            pg_insert(LoginThrottle).values([{"key": k} for k in names])
            .on_conflict_do_nothing()
        )
        now = (await session.execute(select(func.clock_timestamp()))).scalar_one()
        rows = {
            row.key: row
            for row in await session.execute(
                select(LoginThrottle.key, LoginThrottle.failures,
                       LoginThrottle.last_failure_at, LoginThrottle.blocked_until)
                .where(LoginThrottle.key.in_(names))
                .order_by(LoginThrottle.key)
                .with_for_update()
            )
        }
        waits = [
            (row.blocked_until - now).total_seconds()
            for row in rows.values() if row.blocked_until and row.blocked_until > now
        ]
        if waits:
            raise LoginRateLimited(math.ceil(max(waits)))
        for key, threshold, cap in keys:
            row = rows[key]
            latest = max((t for t in (row.last_failure_at, row.blocked_until) if t), default=None)
            failures = 1 if latest is None or latest < now - policy.window else row.failures + 1
            blocked_until = None
            if failures >= threshold:
                delay = min(cap, 2.0 ** (failures - threshold + 1))
                blocked_until = now + dt.timedelta(seconds=delay)
            await session.execute(
                update(LoginThrottle).where(LoginThrottle.key == key)
                .values(failures=failures, last_failure_at=now, blocked_until=blocked_until)
            )


async def admit_attempt(db: Database, subject: str, ip: str, policy: ThrottlePolicy) -> None:
    """The login throttle for another secret a stranger could guess (the debtor
    self-service page's document and one-time code): every attempt counts; raises
    `LoginRateLimited` while `subject` from `ip` (or either alone) must wait."""
    await _admit(db, subject, ip, policy)


async def _forgive(session: AsyncSession, email: str, ip: str, policy: ThrottlePolicy) -> None:
    """After a right password: the pair starts afresh, and the attempt's count is taken
    back from the address and the account (their other failures stand)."""
    names = [key for key, _, _ in policy.keys(email, ip)]
    pair = next(key for key in names if key.startswith("pair:"))
    others = [key for key in names if key != pair]
    await session.execute(delete(LoginThrottle).where(LoginThrottle.key == pair))
    await session.execute(
        update(LoginThrottle).where(LoginThrottle.key.in_(others))
        .values(failures=func.greatest(LoginThrottle.failures - 1, 0))
    )


async def _fail(db: Database, email: str, ip: str, reason: str,
                user_id: uuid.UUID | None = None) -> LoginError:
    async with db.transaction(Scope(agency=True)) as session:
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
    policy: ThrottlePolicy,
) -> Principal:
    email = email.strip().lower()
    # No account has such an e-mail; it is still counted, under a key the table can hold.
    impossible = len(email) > 254 or "\x00" in email
    if impossible:
        email = "sha256:" + hashlib.sha256(email.encode(errors="replace")).hexdigest()
    await _admit(db, email, ip, policy)
    row = None
    if not impossible:
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
        checked = await access_user(session, principal, principal.user_id)
        await session.execute(
            update(User).where(User.id == checked).values(last_login_at=func.now())
        )
        await _forgive(session, email, ip, policy)
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
    """Delete expired tokens and login counters no longer remembered (see `_admit`)."""
    forgotten = _now() - window
    async with db.transaction(NO_SCOPE) as session:
        tokens = await session.execute(delete(ApiToken).where(ApiToken.expires_at <= func.now()))
        await session.execute(
            delete(LoginThrottle).where(
                func.coalesce(LoginThrottle.last_failure_at, forgotten) <= forgotten,
                func.coalesce(LoginThrottle.blocked_until, forgotten) <= forgotten,
            )
        )
    return int(getattr(tokens, "rowcount", 0) or 0)
