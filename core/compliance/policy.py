"""A tenant's own contact windows, kept in `tenant.contact_policy` (JSON).

They can only narrow the rules (`core.compliance.windows` intersects them with the
state's), so a creditor may ask for fewer hours, never for more. The shape:

    {"windows": {"*":    {"sat": null},
                 "call": {"weekdays": "09:00-18:00"},
                 "email": {"mon": "08:00-20:00", "sun": null}}}

Channels: `call`, `sms`, `whatsapp`, `email`, `letter`, or `*` for all of them (a
channel's own entry narrows `*` further). Days: `mon` … `sun`, or `weekdays` for Monday
to Friday; a day's value is "HH:MM-HH:MM" or null (no contact that day); a day left out
is not narrowed.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import TenantId
from core.auth.principal import Principal
from core.auth.roles import Role
from core.compliance.windows import DEFAULT_WINDOWS, OPEN_WEEK, Span, Week, describe, hours, narrow
from core.errors import Forbidden, NotFound, ValidationFailed
from core.models import Channel, Tenant

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_CHANNELS = "*"
SETTERS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.CREDITOR_ADMIN})

TenantWindows = dict[Channel, Week]


def _span(value: Any, field: str) -> Span | None:
    if value is None:
        return None
    try:
        start, end = str(value).split("-")
        return hours(start.strip(), end.strip())
    except ValueError:
        raise ValidationFailed({field: "use o formato HH:MM-HH:MM (ex.: 09:00-18:00) "
                                       "ou null para nenhum contato no dia"}) from None


def _week(days: Any, field: str) -> Week:
    if not isinstance(days, dict):
        raise ValidationFailed({field: "informe os dias: mon … sun ou weekdays"})
    spans: list[Span | None] = list(OPEN_WEEK)
    for key, value in days.items():
        if key == "weekdays":
            indexes = range(5)
        elif key in DAY_KEYS:
            indexes = range(DAY_KEYS.index(key), DAY_KEYS.index(key) + 1)
        else:
            raise ValidationFailed({f"{field}.{key}": "dia desconhecido; use mon, tue, wed, "
                                                      "thu, fri, sat, sun ou weekdays"})
        span = _span(value, f"{field}.{key}")
        for i in indexes:
            spans[i] = span
    return tuple(spans)


def parse(raw: Any) -> TenantWindows:
    """A tenant policy's windows per channel; ValidationFailed names the bad field."""
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not set(raw) <= {"windows"}:
        raise ValidationFailed({"contact_policy": 'use {"windows": {canal: {dia: horário}}}'})
    entries = raw.get("windows") or {}
    if not isinstance(entries, dict):
        raise ValidationFailed({"windows": "informe os horários por canal"})
    names = {c.value for c in Channel} | {ALL_CHANNELS}
    for name in entries:
        if name not in names:
            raise ValidationFailed({f"windows.{name}": "canal desconhecido; use call, sms, "
                                                       "whatsapp, email, letter ou *"})
    weeks = {name: _week(days, f"windows.{name}") for name, days in entries.items()}
    every = weeks.get(ALL_CHANNELS)
    out: TenantWindows = {}
    for channel in Channel:
        own = narrow(every, weeks.get(channel.value))
        if own is not None:
            out[channel] = own
    return out


async def windows_of(session: AsyncSession, tenant_id: TenantId) -> TenantWindows:
    stored = (await session.execute(
        select(Tenant.contact_policy).where(Tenant.id == tenant_id))).scalar_one_or_none()
    return parse(stored)


async def set_policy(session: AsyncSession, principal: Principal, tenant_id: TenantId,
                     raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """Replace the tenant's contact policy (None clears it), audited."""
    if principal.role not in SETTERS:
        raise Forbidden("somente administradores podem mudar a política de contato")
    parse(raw)
    tenant = (await session.execute(
        select(Tenant).where(Tenant.id == tenant_id).with_for_update())).scalar_one()
    before = tenant.contact_policy
    tenant.contact_policy = raw
    await session.flush()
    await audit.record(session, principal.actor, "tenant.contact_policy_set",
                       tenant_id=tenant.id, entity="tenant", entity_id=tenant.id,
                       before={"contact_policy": before}, after={"contact_policy": raw})
    return raw


def described(raw: dict[str, Any] | None) -> dict[str, str]:
    """Each channel's window for this tenant in a state of the default rules (the SP
    window), in Portuguese: what the tenant's narrowing leaves."""
    own = parse(raw)
    out = {}
    for channel in Channel:
        window = narrow(DEFAULT_WINDOWS.get(channel), own.get(channel))
        out[channel.value] = describe(window) if window else "sem restrição de horário"
    return out


async def set_for_tenant(slug: str, raw: dict[str, Any] | None) -> dict[str, Any]:
    """The operator's `regua compliance policy`: replace a tenant's policy by its slug."""
    from core.maintenance import operator_scope
    from core.runtime import get_db

    db = get_db()
    try:
        scope = await operator_scope()
        async with db.transaction(scope) as session:
            tenant_id = (await session.execute(
                select(Tenant.id).where(Tenant.slug == slug))).scalar_one_or_none()
            if tenant_id is None:
                raise NotFound("credor")
            stored = await set_policy(session, Principal.system(scope), TenantId(tenant_id), raw)
            return {"tenant": slug, "contact_policy": stored, "windows": described(stored)}
    finally:
        await db.dispose()
