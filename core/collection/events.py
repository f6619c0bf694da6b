"""Events on a debtor's file recorded by the package that caused them.

Core reads no other package's tables, so a package that changes a debtor's situation
outside the collection model (legal: an agreement proposed, approved, broken, settled)
writes one `debtor_event` here, in the transaction that made the change: the debtor
file's timeline then shows it, and a retried job that changes nothing writes nothing."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.ids import uuid7
from core.models import Debtor, DebtorEvent


async def record(session: AsyncSession, *, debtor_id: uuid.UUID, kind: str, title: str,
                 detail: str | None = None, amount: Decimal | None = None,
                 user_id: uuid.UUID | None = None, by_label: str | None = None,
                 source_id: uuid.UUID | None = None, link: str | None = None,
                 at: dt.datetime | None = None) -> DebtorEvent:
    """One event on `debtor_id`'s file. The caller reached the debtor through an access
    helper or a scoped query; row-level security keeps the insert in its tenant."""
    tenant_id = (await session.execute(select(Debtor.tenant_id).where(
        Debtor.id == debtor_id))).scalar_one()
    row = DebtorEvent(tenant_id=tenant_id, id=uuid7(), debtor_id=debtor_id, kind=kind,
                      title=title[:200], detail=(detail or None) and detail[:1000],
                      amount=amount, user_id=user_id, by_label=by_label, source_id=source_id,
                      link=link, at=at or dt.datetime.now(dt.UTC))
    session.add(row)
    await session.flush()
    return row


async def for_debtor(session: AsyncSession, debtor_id: uuid.UUID,
                     limit: int) -> list[DebtorEvent]:
    return list((await session.execute(
        select(DebtorEvent).where(DebtorEvent.debtor_id == debtor_id)
        .order_by(DebtorEvent.at.desc()).limit(limit))).scalars())
