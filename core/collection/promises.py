"""Promises to pay: a hold with the promise's terms, kept by the payments that reach it.

An agent records a promise (amount, day) on a call; the dialer sets it as a `promise`
hold that stops the cadence and the dialer until the day plus a tolerance. Payments are
booked by legal (PIX, bank returns, the notary); both meet here, in the hold, so neither
package reads the other.

A promise is of an amount: a partial payment keeps the debtor on hold (the rest may still
come by the day), and the promise is kept once the agency's payments on the debtor's debts
from the day it was made reach the promised amount, as the creditor's reports count it
(`reports.families.PROMISE`). Kept, the hold ends at once with the reason, and the
collection resumes on whatever remains. The same amount reached only after the promised
day (inside the tolerance) ends the hold too, since nothing is left to wait for, but the
promise was broken and is not marked kept.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import DebtorId, HoldId
from core.auth.principal import Principal
from core.collection import holds
from core.formatting import brl, date_br
from core.models import Debtor, Hold, HoldKind, Payment, PaymentSource


async def set_promise(session: AsyncSession, principal: Principal, debtor_id: DebtorId,
                      amount: Decimal, promised_on: dt.date, *, at: dt.datetime,
                      until: dt.datetime) -> Hold:
    """Hold the debtor's collection for a promise of `amount` by `promised_on`."""
    hold = await holds.set_hold(
        session, principal, debtor_id, HoldKind.PROMISE,
        f"Promessa de pagamento de {brl(amount)} para {date_br(promised_on)}",
        at=at, until=until)
    hold.promised_amount, hold.promised_on = amount, promised_on
    await session.flush()
    return hold


async def keep_by_payments(session: AsyncSession, principal: Principal, debtor_id: DebtorId,
                           at: dt.datetime | None = None) -> list[Hold]:
    """End the debtor's running promise holds that its payments have reached; return
    them. Called in the transaction that booked a payment."""
    now = at or dt.datetime.now(dt.UTC)
    running = [h for h in await holds.active_holds(session, debtor_id, HoldKind.PROMISE, now)
               if h.promised_amount is not None and h.promised_on is not None]
    if not running:
        return []
    zone = (await session.execute(select(Debtor.timezone).where(
        Debtor.id == debtor_id))).scalar_one()
    ended = []
    for hold in running:
        assert hold.promised_amount is not None and hold.promised_on is not None
        made_on = hold.starts_at.astimezone(ZoneInfo(zone)).date()
        paid = select(func.coalesce(func.sum(Payment.amount), 0)).where(
            Payment.debtor_id == debtor_id, Payment.source == PaymentSource.AGENCY,
            Payment.paid_on >= made_on)
        total = (await session.execute(paid)).scalar_one()
        if total < hold.promised_amount:
            continue  # partial: the promise is of the whole amount, still running
        on_time = (await session.execute(paid.where(
            Payment.paid_on <= hold.promised_on))).scalar_one()
        kept = on_time >= hold.promised_amount
        reason = (f"Promessa cumprida: pagamentos de {brl(on_time)} até"
                  f" {date_br(hold.promised_on)}" if kept else
                  f"Pagamento de {brl(total)} recebido após a data prometida"
                  f" ({date_br(hold.promised_on)}): promessa quebrada, cobrança retomada")
        await holds.end_hold(session, principal, HoldId(hold.id), reason, at=now)
        if kept:
            hold.kept_at = now
        ended.append(hold)
    await session.flush()
    return ended
