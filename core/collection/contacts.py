"""Contact points: which channels each serves, opt-outs per channel, quality by outcome."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import ContactPointId, DebtorId
from core.auth.principal import Principal
from core.errors import Conflict, ValidationFailed
from core.ids import uuid7
from core.models import (
    CHANNELS_BY_KIND,
    Channel,
    ContactKind,
    ContactOptOut,
    ContactPoint,
    ContactQuality,
    Outcome,
)

OPT_OUT_SOURCES = {"debtor": "pedido do devedor", "creditor": "pedido do credor",
                   "agent": "registrado pelo operador", "provider": "informado pelo provedor"}

# What an attempt's outcome says of the contact point it used.
QUALITY_BY_OUTCOME = {
    Outcome.ANSWERED: ContactQuality.GOOD, Outcome.READ: ContactQuality.GOOD,
    Outcome.REPLIED: ContactQuality.GOOD, Outcome.WRONG_PARTY: ContactQuality.WRONG_PARTY,
    Outcome.INVALID: ContactQuality.INVALID, Outcome.BOUNCED: ContactQuality.BOUNCED,
}
UNUSABLE = (ContactQuality.WRONG_PARTY, ContactQuality.INVALID, ContactQuality.BOUNCED)


def channels_of(kind: str) -> tuple[Channel, ...]:
    return CHANNELS_BY_KIND[ContactKind(kind)]


def parse_channel(value: str | None, kind: str) -> Channel:
    allowed = channels_of(kind)
    try:
        channel = Channel(value or "")
    except ValueError:
        channel = None
    if channel not in allowed:
        names = ", ".join(c.value for c in allowed)
        raise ValidationFailed({"channel": f"canal inválido para este contato; use {names}"})
    return channel


async def active_opt_outs(session: AsyncSession,
                          contact_ids: list[ContactPoint]) -> dict[object, set[Channel]]:
    """Channels each contact point has opted out of, now."""
    out: dict[object, set[Channel]] = defaultdict(set)
    if not contact_ids:
        return out
    rows = await session.execute(
        select(ContactOptOut.contact_point_id, ContactOptOut.channel)
        .where(ContactOptOut.contact_point_id.in_([c.id for c in contact_ids]),
               ContactOptOut.revoked_at.is_(None)))
    for contact_id, channel in rows:
        out[contact_id].add(Channel(channel))
    return out


async def usable(session: AsyncSession, debtor_id: DebtorId,
                 channel: Channel) -> list[ContactPoint]:
    """The debtor's contact points that may carry `channel` now: the right kind, not
    opted out of that channel, not known to be wrong; best first."""
    kinds = [k for k, chans in CHANNELS_BY_KIND.items() if channel in chans]
    points = list((await session.execute(
        select(ContactPoint).where(ContactPoint.debtor_id == debtor_id,
                                   ContactPoint.kind.in_(kinds),
                                   ContactPoint.quality.not_in(UNUSABLE))
        .order_by(ContactPoint.created_at))).scalars())
    opted = await active_opt_outs(session, points)
    rank = {ContactQuality.GOOD: 0, ContactQuality.UNVERIFIED: 1}
    return sorted((p for p in points if channel not in opted[p.id]),
                  key=lambda p: rank.get(ContactQuality(p.quality), 2))


async def opt_out(session: AsyncSession, principal: Principal, contact_id: ContactPointId,
                  channel: str, *, source: str = "debtor", note: str | None = None,
                  at: dt.datetime | None = None) -> ContactOptOut:
    """Stop using this contact point on this channel, at once."""
    point = (await session.execute(
        select(ContactPoint).where(ContactPoint.id == contact_id))).scalar_one()
    chosen = parse_channel(channel, point.kind)
    if source not in OPT_OUT_SOURCES:
        raise ValidationFailed({"source": "origem inválida; use " + ", ".join(OPT_OUT_SOURCES)})
    existing = (await session.execute(select(ContactOptOut).where(
        ContactOptOut.contact_point_id == point.id, ContactOptOut.channel == chosen,
        ContactOptOut.revoked_at.is_(None)))).scalar_one_or_none()
    if existing is not None:
        return existing
    row = ContactOptOut(tenant_id=point.tenant_id, id=uuid7(), contact_point_id=point.id,
                        channel=chosen, opted_out_at=at or dt.datetime.now(dt.UTC),
                        source=source, note=(note or "").strip()[:500] or None,
                        set_by=principal.actor.id)
    session.add(row)
    await session.flush()
    await audit.record(session, principal.actor, "contact.opted_out",
                       tenant_id=point.tenant_id, entity="contact_point", entity_id=point.id,
                       after={"channel": chosen, "source": source, "note": row.note})
    return row


async def revoke_opt_out(session: AsyncSession, principal: Principal,
                         contact_id: ContactPointId, channel: str) -> ContactOptOut:
    point = (await session.execute(
        select(ContactPoint).where(ContactPoint.id == contact_id))).scalar_one()
    chosen = parse_channel(channel, point.kind)
    row = (await session.execute(select(ContactOptOut).where(
        ContactOptOut.contact_point_id == point.id, ContactOptOut.channel == chosen,
        ContactOptOut.revoked_at.is_(None)).with_for_update())).scalar_one_or_none()
    if row is None:
        raise Conflict({"channel": "este canal não está bloqueado para este contato"})
    row.revoked_at, row.revoked_by = dt.datetime.now(dt.UTC), principal.actor.id
    await audit.record(session, principal.actor, "contact.opt_out_revoked",
                       tenant_id=point.tenant_id, entity="contact_point", entity_id=point.id,
                       before={"channel": chosen})
    return row


async def set_quality(session: AsyncSession, principal: Principal, contact_id: ContactPointId,
                      quality: str) -> ContactPoint:
    """Staff say what they know of a contact point (e.g. 'não é do devedor')."""
    try:
        chosen = ContactQuality(quality)
    except ValueError:
        names = ", ".join(q.value for q in ContactQuality)
        raise ValidationFailed({"quality": f"qualidade inválida; use {names}"}) from None
    point = (await session.execute(
        select(ContactPoint).where(ContactPoint.id == contact_id).with_for_update())).scalar_one()
    before = point.quality
    point.quality, point.updated_at = chosen, dt.datetime.now(dt.UTC)
    await audit.record(session, principal.actor, "contact.quality_set",
                       tenant_id=point.tenant_id, entity="contact_point", entity_id=point.id,
                       before={"quality": before}, after={"quality": chosen})
    return point
