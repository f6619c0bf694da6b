"""Contact attempts per debtor, channel and local day, counted across every creditor.

The key is an HMAC-SHA256 of the normalised CPF/CNPJ with the deployment's secret
(`REGUA_CONTACT_KEY_SECRET`), and the table is reached only through SECURITY DEFINER
functions that add to a count and read counts back (migration 0004; 0008 reads a range
of days): agency caps hold across creditors while no tenant's rows cross the wall.

Every statement here is a primary-key lookup (`debtor_key`, `channel`, `day`): a count
is one row upserted, a week's counts one index range of at most 5 channels × 14 days,
whatever the size of the table. The guard reads them once per attempt, never per debtor
in a loop (the cadence's plan counts nothing; its sends ask one by one).

Two senders of different creditors may reach the same debtor at once: `hold` serialises
them (an advisory lock on the key and channel, until the transaction ends), so the second
reads the first's attempt before it decides. A caller that holds several counters in one
transaction (the dialer leasing a batch, an agent's agenda passing over refused debtors)
uses `try_hold` and passes over a held one, since two such callers holding counters in
different orders would each wait for the other.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.models import Channel
from core.settings import get_settings


@dataclass(frozen=True)
class DayCount:
    attempts: int = 0
    answered: int = 0


def debtor_key(document: str) -> bytes:
    secret = get_settings().resolved_contact_key().encode()
    return hmac.new(secret, document.encode(), hashlib.sha256).digest()


async def tally(session: AsyncSession, document: str, channel: Channel, day: dt.date, *,
                attempts: int = 1, answered: int = 0) -> None:
    await session.execute(
        text("SELECT regua_contact_tally(:k, :ch, :d, :a, :n)"),
        {"k": debtor_key(document), "ch": channel.value, "d": day, "a": attempts,
         "n": answered})


async def counts(session: AsyncSession, document: str, day: dt.date) -> dict[Channel, DayCount]:
    """Today's attempts and answered contacts with this debtor, by channel, agency-wide."""
    rows = await session.execute(
        text("SELECT channel, attempts, answered FROM regua_contact_counts(:k, :d)"),
        {"k": debtor_key(document), "d": day})
    return {Channel(ch): DayCount(a, n) for ch, a, n in rows}


async def daily_counts(session: AsyncSession, document: str, first: dt.date,
                       last: dt.date) -> dict[tuple[dt.date, Channel], DayCount]:
    """Attempts and answered contacts with this debtor per local day and channel, from
    `first` to `last` (both included), agency-wide: for weekly caps."""
    rows = await session.execute(
        text("SELECT day, channel, attempts, answered"
             " FROM regua_contact_counts_between(:k, :a, :b)"),
        {"k": debtor_key(document), "a": first, "b": last})
    return {(day, Channel(ch)): DayCount(a, n) for day, ch, a, n in rows}


def _lock_key(document: str, channel: Channel) -> int:
    digest = hashlib.sha256(debtor_key(document) + channel.value.encode()).digest()
    return int.from_bytes(digest[:4], "big", signed=True)


async def hold(session: AsyncSession, document: str, channel: Channel) -> None:
    """Until the caller's transaction ends, no other transaction holds this document's
    counter on `channel`: check the caps, then record the attempt, as one step."""
    await session.execute(
        text("SELECT pg_advisory_xact_lock(hashtext('regua.contact_cap'), :k)"),
        {"k": _lock_key(document, channel)})


async def try_hold(session: AsyncSession, document: str, channel: Channel) -> bool:
    """`hold` when no other transaction holds the counter now; False at once otherwise."""
    got = (await session.execute(
        text("SELECT pg_try_advisory_xact_lock(hashtext('regua.contact_cap'), :k)"),
        {"k": _lock_key(document, channel)})).scalar_one()
    return bool(got)
