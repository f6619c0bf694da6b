"""The ledger: a debt's balance is the sum of its dated entries by bucket and kind.

Entries are append-only (the application role may only insert them); a mistake is
corrected by another entry. `debt.current_balance` is kept equal to the sum by every
writer here and by the import's set-based statements, which take their entries from
`placement_entries_sql` so the placement rule is written once.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Iterable, Sequence
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import DebtId, DebtorId
from core.auth.principal import Principal
from core.collection import promises
from core.errors import ValidationFailed
from core.ids import uuid7
from core.models import Bucket, Debt, EntryKind, LedgerEntry, Payment, PaymentSource

ZERO = Decimal("0.00")
CENT = Decimal("0.01")

# The order a payment settles buckets in, until the tenant's policy sets another:
# charges first, the principal last (Civil Code art. 354: interest before capital).
DEFAULT_ALLOCATION = (Bucket.FEES, Bucket.FINE, Bucket.INTEREST, Bucket.CORRECTION,
                      Bucket.PRINCIPAL)


def placement_entries_sql(amount: str, balance: str) -> str:
    """`(n, bucket, kind, amount)` rows of a new debt placed for `amount` with the
    creditor's `balance` (NULL: the amount): the amount as principal (n 1), a balance
    above it as interest the creditor had charged, or below it as the creditor's own
    update (n 2: at most one of the two is not zero). For
    `CROSS JOIN LATERAL (...) e(n, bucket, kind, amount) WHERE e.amount <> 0`."""
    return f"""VALUES
        (1, 'principal', 'placement', {amount}),
        (2, 'interest', 'placement', greatest(coalesce({balance}, {amount}) - {amount}, 0)),
        (2, 'principal', 'creditor_update', least(coalesce({balance}, {amount}) - {amount}, 0))"""


def allocate(balances: dict[Bucket, Decimal], amount: Decimal,
             order: Sequence[Bucket] = DEFAULT_ALLOCATION) -> dict[Bucket, Decimal]:
    """How much of `amount` goes to each bucket, in `order`, none above its balance;
    what is left over (an overpayment) goes to the principal."""
    left = amount
    out: dict[Bucket, Decimal] = {}
    for bucket in order:
        take = min(left, max(balances.get(bucket, ZERO), ZERO))
        if take > 0:
            out[bucket] = take
            left -= take
    if left > 0:
        out[Bucket.PRINCIPAL] = out.get(Bucket.PRINCIPAL, ZERO) + left
    return out


async def balances(session: AsyncSession,
                   debt_ids: Iterable[uuid.UUID]) -> dict[uuid.UUID, dict[Bucket, Decimal]]:
    """Each debt's balance by bucket, from its entries."""
    ids = list(debt_ids)
    out: dict[uuid.UUID, dict[Bucket, Decimal]] = defaultdict(dict)
    if not ids:
        return out
    rows = await session.execute(
        select(LedgerEntry.debt_id, LedgerEntry.bucket, func.sum(LedgerEntry.amount))
        .where(LedgerEntry.debt_id.in_(ids))
        .group_by(LedgerEntry.debt_id, LedgerEntry.bucket))
    for debt_id, bucket, total in rows:
        out[debt_id][Bucket(bucket)] = total
    return out


async def entries(session: AsyncSession, debt_ids: Iterable[uuid.UUID]) -> list[LedgerEntry]:
    return list((await session.execute(
        select(LedgerEntry).where(LedgerEntry.debt_id.in_(list(debt_ids)))
        .order_by(LedgerEntry.posted_on, LedgerEntry.id))).scalars())


async def post(session: AsyncSession, principal: Principal, debt_id: DebtId,
               lines: Iterable[tuple[Bucket, EntryKind, Decimal]], *, source: str,
               source_id: uuid.UUID | None = None, note: str | None = None,
               posted_on: dt.date | None = None) -> list[LedgerEntry]:
    """Write entries on one debt and move its balance by their sum."""
    debt = (await session.execute(
        select(Debt).where(Debt.id == debt_id).with_for_update())).scalar_one()
    written = []
    for bucket, kind, amount in lines:
        amount = amount.quantize(CENT)
        if amount == 0:
            continue
        written.append(LedgerEntry(
            tenant_id=debt.tenant_id, id=uuid7(), debt_id=debt.id,
            posted_on=posted_on or dt.date.today(), bucket=bucket, kind=kind, amount=amount,
            source=source, source_id=source_id, note=note, created_by=principal.actor.id))
    session.add_all(written)
    debt.current_balance += sum((e.amount for e in written), ZERO)
    await session.flush()
    return written


async def adjust(session: AsyncSession, principal: Principal, debt_id: DebtId,
                 bucket: Bucket, amount: Decimal, note: str) -> list[LedgerEntry]:
    """A correction by agency staff: an entry of its own, with the reason."""
    if not note.strip():
        raise ValidationFailed({"note": "informe o motivo do ajuste"})
    written = await post(session, principal, debt_id, [(bucket, EntryKind.ADJUSTMENT, amount)],
                         source="user", note=note.strip()[:500])
    debt_tenant = written[0].tenant_id if written else None
    await audit.record(session, principal.actor, "ledger.adjusted", tenant_id=debt_tenant,
                       entity="debt", entity_id=debt_id,
                       after={"bucket": bucket, "amount": amount, "note": note})
    return written


async def record_payment(session: AsyncSession, principal: Principal, debt_id: DebtId,
                         amount: Decimal, *, paid_on: dt.date, source: PaymentSource,
                         reference: str | None = None,
                         order: Sequence[Bucket] = DEFAULT_ALLOCATION) -> Payment:
    """A payment row, and payment entries allocated across the buckets in `order`."""
    if amount <= 0:
        raise ValidationFailed({"amount": "o valor pago deve ser maior que zero"})
    debt = (await session.execute(select(Debt).where(Debt.id == debt_id))).scalar_one()
    payment = Payment(tenant_id=debt.tenant_id, id=uuid7(), debt_id=debt.id,
                      debtor_id=debt.debtor_id, amount=amount.quantize(CENT), paid_on=paid_on,
                      source=source, reference=reference, recorded_by=principal.actor.id)
    session.add(payment)
    current = (await balances(session, [debt.id]))[debt.id]
    split = allocate(current, payment.amount, order)
    await post(session, principal, debt_id,
               [(bucket, EntryKind.PAYMENT, -value) for bucket, value in split.items()],
               source="payment", source_id=payment.id, posted_on=paid_on)
    await audit.record(session, principal.actor, "payment.recorded", tenant_id=debt.tenant_id,
                       entity="debt", entity_id=debt.id,
                       after={"amount": payment.amount, "paid_on": paid_on, "source": source})
    if source == PaymentSource.AGENCY:
        # Whoever booked it (PIX, a bank return, the notary), a promise it reaches is
        # kept now, not when its hold would have run out.
        await promises.keep_by_payments(session, principal, DebtorId(debt.debtor_id))
    return payment
