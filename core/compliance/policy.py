"""A tenant's own contact policy, kept in `tenant.contact_policy` (JSON).

It can only narrow the agency's rules, so a creditor may ask for fewer contacts, never
for more: its windows are intersected with the state's (`core.compliance.windows`), its
caps lower the agency's (`core.compliance.caps`, over the same agency-wide counts), and
its quiet days close every channel. The shape:

    {"windows": {"*":    {"sat": null},
                 "call": {"weekdays": "09:00-18:00"},
                 "email": {"mon": "08:00-20:00", "sun": null}},
     "caps": {"sms": {"attempts_day": 1, "attempts_week": 2}},
     "quiet_days": ["2026-12-24", "2026-12-31"]}

Windows: `call`, `sms`, `whatsapp`, `email`, `letter`, or `*` for all of them (a
channel's own entry narrows `*` further). Days: `mon` … `sun`, or `weekdays` for Monday
to Friday; a day's value is "HH:MM-HH:MM" or null (no contact that day); a day left out
is not narrowed. Caps: per channel, the kinds the agency caps (`attempts_day`,
`attempts_week`, and for calls `answered_day`, `answered_week`), each at most the
agency's. Quiet days: dates (in the debtor's zone) with no contact on any channel.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import TenantId, access_tenant, access_tenant_slug, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.compliance.windows import DEFAULT_WINDOWS, OPEN_WEEK, Span, Week, describe, hours, narrow
from core.errors import Forbidden, ValidationFailed
from core.models import Channel, Tenant
from core.models.collection import CHANNEL_LABELS
from core.settings import get_settings

DAY_KEYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ALL_CHANNELS = "*"
SETTERS = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.CREDITOR_ADMIN})
CAP_LABELS = {"attempts_day": "tentativas por dia", "attempts_week": "tentativas por semana",
              "answered_day": "atendidas por dia", "answered_week": "atendidas por semana"}
MAX_QUIET_DAYS = 366

TenantWindows = dict[Channel, Week]


@dataclass(frozen=True)
class TenantPolicy:
    """What a tenant's policy asks, parsed: windows per channel, caps per channel and
    kind (already no higher than the agency's), quiet days."""

    windows: TenantWindows = field(default_factory=dict)
    caps: Mapping[Channel, Mapping[str, int]] = field(default_factory=dict)
    quiet_days: frozenset[dt.date] = frozenset()


NO_POLICY = TenantPolicy()


def _span(value: Any, field_name: str) -> Span | None:
    if value is None:
        return None
    try:
        start, end = str(value).split("-")
        return hours(start.strip(), end.strip())
    except ValueError:
        raise ValidationFailed({field_name: "use o formato HH:MM-HH:MM, o início antes do "
                                            "fim (ex.: 09:00-18:00)"}) from None


def _week(days: Any, field_name: str) -> Week:
    if not isinstance(days, dict):
        raise ValidationFailed({field_name: "informe os dias: mon … sun ou weekdays"})
    spans: list[Span | None] = list(OPEN_WEEK)
    for key, value in days.items():
        if key == "weekdays":
            indexes = range(5)
        elif key in DAY_KEYS:
            indexes = range(DAY_KEYS.index(key), DAY_KEYS.index(key) + 1)
        else:
            raise ValidationFailed({f"{field_name}.{key}": "dia desconhecido; use mon, tue, "
                                                           "wed, thu, fri, sat, sun ou weekdays"})
        span = _span(value, f"{field_name}.{key}")
        for i in indexes:
            spans[i] = span
    return tuple(spans)


def _windows(entries: Any) -> TenantWindows:
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


def _caps(entries: Any, saving: bool) -> dict[Channel, dict[str, int]]:
    if not isinstance(entries, dict):
        raise ValidationFailed({"caps": "informe os limites por canal"})
    agency = get_settings().contact_caps
    out: dict[Channel, dict[str, int]] = {}
    for name, kinds in entries.items():
        try:
            channel = Channel(name)
        except ValueError:
            raise ValidationFailed({f"caps.{name}": "canal desconhecido; use call, sms, "
                                                    "whatsapp, email ou letter"}) from None
        if not isinstance(kinds, dict):
            raise ValidationFailed({f"caps.{name}": "informe os limites do canal"})
        ceiling = {str(k): v for k, v in agency.get(channel.value, {}).items()}
        own: dict[str, int] = {}
        for kind, value in kinds.items():
            where = f"caps.{name}.{kind}"
            if kind not in ceiling:
                known = ", ".join(CAP_LABELS[k] for k in ceiling)
                raise ValidationFailed({where: f"limite desconhecido para "
                                               f"{CHANNEL_LABELS[channel]}; use: {known}"})
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValidationFailed({where: "informe um número inteiro, 0 ou mais"})
            # Checked when saved: a cap stored under an agency limit since lowered is
            # still read (the lower of the two holds, `caps.limits`).
            if saving and value > ceiling[kind]:
                raise ValidationFailed({where: f"acima do limite da assessoria "
                                               f"({CAP_LABELS[kind]}: {ceiling[kind]}); o "
                                               "credor só pode reduzir os limites"})
            own[kind] = value
        if own:
            out[channel] = own
    return out


def _quiet_days(entries: Any) -> frozenset[dt.date]:
    if not isinstance(entries, list):
        raise ValidationFailed({"quiet_days": "informe uma lista de datas AAAA-MM-DD"})
    if len(entries) > MAX_QUIET_DAYS:
        raise ValidationFailed({"quiet_days": f"no máximo {MAX_QUIET_DAYS} datas"})
    days = set()
    for i, value in enumerate(entries):
        try:
            days.add(dt.date.fromisoformat(str(value)))
        except ValueError:
            raise ValidationFailed({f"quiet_days.{i}": f"data inválida: {value!r}; use "
                                                       "AAAA-MM-DD"}) from None
    return frozenset(days)


def parse(raw: Any, *, saving: bool = False) -> TenantPolicy:
    """A tenant's policy (`saving`: one about to be stored, its caps no higher than the
    agency's); ValidationFailed names the bad field, in Portuguese."""
    if raw is None:
        return NO_POLICY
    if not isinstance(raw, dict) or not set(raw) <= {"windows", "caps", "quiet_days"}:
        raise ValidationFailed({"contact_policy": 'use {"windows": …, "caps": …, '
                                                  '"quiet_days": […]}'})
    return TenantPolicy(windows=_windows(raw.get("windows") or {}),
                        caps=_caps(raw.get("caps") or {}, saving),
                        quiet_days=_quiet_days(raw.get("quiet_days") or []))


async def policy_of(session: AsyncSession, tenant_id: TenantId) -> TenantPolicy:
    stored = (await session.execute(
        select(Tenant.contact_policy).where(Tenant.id == tenant_id))).scalar_one_or_none()
    return parse(stored)


async def set_policy(session: AsyncSession, principal: Principal, tenant_id: TenantId,
                     raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """Replace the tenant's contact policy (None clears it), audited."""
    if principal.role not in SETTERS:
        raise Forbidden("somente administradores e supervisores podem mudar a política de "
                        "contato")
    parse(raw, saving=True)
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
    own = parse(raw).windows
    out = {}
    for channel in Channel:
        window = narrow(DEFAULT_WINDOWS.get(channel), own.get(channel))
        out[channel.value] = describe(window) if window else "sem restrição de horário"
    return out


async def set_for_tenant(slug: str, raw: dict[str, Any] | None) -> dict[str, Any]:
    """The operator's `regua compliance policy`: replace a tenant's policy by its slug."""
    from core.maintenance import operator
    from core.runtime import get_db

    try:
        principal = await operator()
        async with transaction(principal) as session:
            checked = await access_tenant_slug(session, principal, slug)
            stored = await set_policy(session, principal, checked, raw)
            return {"tenant": slug, "contact_policy": stored, "windows": described(stored)}
    finally:
        await get_db().dispose()


# ---- the contact-policy page --------------------------------------------------------------------

@dataclass(frozen=True)
class PolicyView:
    """A tenant's policy as the page shows it: as stored, each channel's resulting window
    (for a debtor under the default rules), and the agency's caps it may only lower."""

    tenant_id: TenantId
    stored: dict[str, Any] | None
    windows: dict[str, str]
    agency_caps: dict[str, dict[str, int]]


async def view(principal: Principal, tenant_id: uuid.UUID) -> PolicyView:
    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        stored = (await session.execute(
            select(Tenant.contact_policy).where(Tenant.id == checked))).scalar_one()
    caps = {str(ch): {str(k): v for k, v in kinds.items()}
            for ch, kinds in get_settings().contact_caps.items()}
    return PolicyView(checked, stored, described(stored), caps)


async def save(principal: Principal, tenant_id: uuid.UUID,
               raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """The page's save: the tenant reached through `access_tenant`, then `set_policy`."""
    async with transaction(principal) as session:
        checked = await access_tenant(session, principal, tenant_id)
        return await set_policy(session, principal, checked, raw)
