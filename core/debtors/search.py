"""Finding a debtor: by CPF/CNPJ (whole or part), name (any case or accents, part),
contract, phone or e-mail, across the tenants the principal works.

Whole keys (a valid document, a phone, an e-mail, a contract) are equality lookups on
their indexes and come first. Parts of a name or document go through
`regua_debtor_find` (migration 0005), which can use the trigram index where row-level
security would not let `LIKE` use it, and applies the same tenant set.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import transaction
from core.auth.principal import Principal
from core.debtors.schemas import DebtorHit, SearchPage
from core.documents import normalize_document, strip_document
from core.errors import ValidationFailed
from core.masking import Masker
from core.models import PLACED, ContactKind, ContactPoint, Debt, Debtor, Tenant
from core.phones import normalize_phone

PAGE_SIZE = 20
QUERY_MAX = 200
PART_MIN = 3  # trigrams: a shorter part cannot use the index
EXACT_MAX = 200
_DOCUMENT_LIKE = re.compile(r"[\d.\-/\s]+")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def _part(query: str) -> str | None:
    """What to look for inside names and documents, or None when too short."""
    if _DOCUMENT_LIKE.fullmatch(query):
        query = strip_document(query)
    folded = re.sub(r"\s+", " ", query).strip()
    return folded if len(folded) >= PART_MIN else None


async def _exact(session: AsyncSession, principal: Principal,
                 query: str) -> tuple[list[tuple[uuid.UUID, str]], bool]:
    """Debtors a whole key names, with the key that found them; and whether the query
    was a whole document, phone or e-mail (then no partial search follows)."""
    tenants = list(principal.tenant_ids)
    found: dict[uuid.UUID, str] = {}
    whole = False
    document = normalize_document(query)
    if document is not None:
        whole = True
        rows = await session.execute(select(Debtor.id).where(
            Debtor.tenant_id.in_(tenants), Debtor.document == document[1]).limit(EXACT_MAX))
        found.update(dict.fromkeys(rows.scalars(), "documento"))
    if _EMAIL.fullmatch(query):
        whole = True
        rows = await session.execute(select(ContactPoint.debtor_id).where(
            ContactPoint.tenant_id.in_(tenants), ContactPoint.kind == ContactKind.EMAIL,
            ContactPoint.value == query.lower()).limit(EXACT_MAX))
        for debtor_id in rows.scalars():
            found.setdefault(debtor_id, "e-mail")
    digits = re.sub(r"\D", "", query)
    phone = normalize_phone(query) if 10 <= len(digits) <= 13 else None
    if phone is not None:
        whole = True
        rows = await session.execute(select(ContactPoint.debtor_id).where(
            ContactPoint.tenant_id.in_(tenants), ContactPoint.kind == ContactKind.PHONE,
            ContactPoint.value == phone).limit(EXACT_MAX))
        for debtor_id in rows.scalars():
            found.setdefault(debtor_id, "telefone")
    contracts = {query, query.upper()}
    rows = await session.execute(select(Debt.debtor_id).where(
        Debt.tenant_id.in_(tenants), Debt.contract.in_(contracts)
    ).group_by(Debt.debtor_id).limit(EXACT_MAX))
    for debtor_id in rows.scalars():
        found.setdefault(debtor_id, "contrato")
    return list(found.items()), whole


async def _partial(session: AsyncSession, part: str, limit: int,
                   offset: int) -> list[uuid.UUID]:
    rows = await session.execute(text("SELECT id FROM regua_debtor_find(:q, :n, :skip)"),
                                 {"q": part, "n": limit, "skip": offset})
    return list(rows.scalars())


async def _hits(session: AsyncSession, principal: Principal,
                keyed: list[tuple[uuid.UUID, str]]) -> list[DebtorHit]:
    if not keyed:
        return []
    ids = [debtor_id for debtor_id, _ in keyed]
    debtors = {d.id: d for d in (await session.execute(
        select(Debtor).where(Debtor.id.in_(ids)))).scalars()}
    figures = {debtor_id: (count, balance) for debtor_id, count, balance in (
        await session.execute(
            select(Debt.debtor_id, func.count(), func.coalesce(func.sum(Debt.current_balance), 0))
            .where(Debt.debtor_id.in_(ids), Debt.status.in_(PLACED))
            .group_by(Debt.debtor_id)))}
    tenant_ids = {d.tenant_id for d in debtors.values()}
    names = {tenant_id: name for tenant_id, name in await session.execute(
        select(Tenant.id, Tenant.trade_name).where(Tenant.id.in_(tenant_ids)))}
    mask = Masker(principal.role)
    hits = []
    for debtor_id, key in keyed:
        debtor = debtors.get(debtor_id)
        if debtor is None:
            continue
        count, balance = figures.get(debtor_id, (0, Decimal("0")))
        hits.append(DebtorHit(
            id=debtor.id, tenant_id=debtor.tenant_id,
            tenant_name=names.get(debtor.tenant_id, ""), name=debtor.name,
            document=mask.document(debtor.document_kind, debtor.document),
            document_kind=debtor.document_kind, state=debtor.state, matched_by=key,
            placed_debts=count, balance=balance))
    return hits


async def search(principal: Principal, query: str | None, page: int = 1,
                 page_size: int = PAGE_SIZE) -> SearchPage:
    """One page of the debtors `query` finds; whole-key matches first, then by name."""
    query = (query or "").strip()
    page = max(page, 1)
    if len(query) > QUERY_MAX:
        raise ValidationFailed({"q": f"a busca tem {len(query)} caracteres; o máximo é"
                                     f" {QUERY_MAX}"})
    if not query:
        return SearchPage(query="", page=1, page_size=page_size, has_more=False, items=[])
    start = (page - 1) * page_size
    async with transaction(principal) as session:
        exact, whole = await _exact(session, principal, query)
        keyed = exact[start:start + page_size]
        has_more = len(exact) > start + page_size
        part = None if whole else _part(query)
        if part is None and not exact and not whole:
            raise ValidationFailed({"q": f"digite ao menos {PART_MIN} letras ou números do"
                                         " nome ou do documento, ou o contrato inteiro"})
        room = page_size - len(keyed)
        if part is not None and room > 0:
            seen = {debtor_id for debtor_id, _ in exact}
            rows = await _partial(session, part, room + 1, max(0, start - len(exact)))
            has_more = has_more or len(rows) > room
            keyed += [(debtor_id, "nome ou documento") for debtor_id in rows[:room]
                      if debtor_id not in seen]
        hits = await _hits(session, principal, keyed)
    return SearchPage(query=query, page=page, page_size=page_size, has_more=has_more,
                      items=hits)
