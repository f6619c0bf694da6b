"""Credit-bureau listing ("negativação"): the notice, the waiting period, the listing,
the removal and the five-year limit, as the daily run moves each escalation:

    notice_pending --notice letter (+ e-mail, SMS)--> notice_sent (deadline_on: the
      period's last day, 10 days or 20 for debtors in SP, in the debtor's zone)
    notice_sent --period over, still workable--> [remessa I] --> listed (deadline_on: the
      last day of the five years counted from the day after the due date)
    listed --paid, closed by the creditor, or an agreement when the policy says so-->
      removal_pending (deadline_on: 5 business days later) --[remessa E]--> removed
    listed --five years reached--> removal_pending --[remessa E]--> expired
    notice_* --a stop condition (paid, agreement, hold, prescription)--> cancelled

A held escalation does not advance (no notice, no listing, no cancellation); removals
and the five-year limit are the law's deadlines and run whether held or not.

The notice is a letter (CDC art. 43 §2 and STJ Súmula 359; e-mail or SMS alone is not
enough, REsp 2.056.285) produced through `core.channels` as the cadence's letters are,
so it lands in the day's print file; e-mail and SMS follow where the debtor has them,
has not opted out and the compliance guard allows it now.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import DebtId, DebtorId, transaction
from core.auth.principal import Principal
from core.channels import OutboundMessage, deliver, prepare
from core.channels.templates import TemplateSource
from core.collection import contacts
from core.collection.workable import add_years, blocker_label
from core.compliance import guard
from core.compliance.business_days import add_business_days
from core.db import Scope
from core.formatting import date_br
from core.ids import uuid7
from core.models import (
    CauseKind,
    Channel,
    ContactKind,
    ContactPoint,
    Debt,
    Debtor,
    DispatchStatus,
    Tenant,
)
from core.settings import Settings, get_settings
from core.storage import Storage
from core.storage_keys import bureau_file_key
from legal.escalation import journal, pefin
from legal.escalation.adapters import (
    Batch,
    BureauAdapter,
    BureauUnavailable,
    Exchange,
    Listing,
    adapter_for,
)
from legal.escalation.bureau_models import BureauRemessa, EscalationPolicy
from legal.escalation.models import Escalation, EscalationPath, EscalationState
from legal.escalation.policy import notice_days

log = logging.getLogger("regua.escalation")
HERE = Path(__file__).parent
NOTICE_NAME = "notificacao_negativacao"
BUREAU_LABEL = "Serasa Experian"
CLOSED_STATUSES = ("paid", "settled_by_creditor", "withdrawn", "recalled", "returned")
REMOVAL_REASONS = {"paid": "pagamento", "agreement": "acordo", "closed": "título encerrado pelo"
                   " credor", "five_years": "limite de 5 anos"}
PEFIN_REASON = {"paid": pefin.REASON_PAID, "agreement": pefin.REASON_AGREEMENT,
                "closed": pefin.REASON_OTHER, "five_years": pefin.REASON_OTHER}


@dataclass
class Counts:
    cancelled: int = 0
    notices: int = 0
    notices_waiting: int = 0
    removals_started: int = 0
    remessas: int = 0
    listed: int = 0
    removed: int = 0
    expired: int = 0
    rejected: int = 0
    bureau_errors: list[str] = field(default_factory=list)


def listing_limit(due_date: dt.date) -> dt.date:
    """The last day a debt due on `due_date` may stay listed: five years counted from the
    day after the due date (CDC art. 43 §1, STJ Súmula 323)."""
    return add_years(due_date, 5)


@cache
def notice_source(channel: Channel) -> TemplateSource:
    """The notice's text: the law sets what it says, so it is the platform's, not a
    tenant template (CDC art. 42-A identification is still checked on each message)."""
    stem = {Channel.LETTER: "notice_letter", Channel.EMAIL: "notice_email",
            Channel.SMS: "notice_sms"}[channel]
    body = (HERE / "templates" / f"{stem}.j2").read_text(encoding="utf-8").strip()
    subject = None
    if channel is Channel.EMAIL:
        subject = (HERE / "templates" / "notice_email.subject.j2").read_text(
            encoding="utf-8").strip()
    return TemplateSource(channel, NOTICE_NAME, 0, subject, body)


def _local_day(at: dt.datetime, zone: str) -> dt.date:
    return at.astimezone(ZoneInfo(zone)).date()


async def _locked(session: AsyncSession, ids: list[uuid.UUID]) -> list[Escalation]:
    if not ids:
        return []
    return list((await session.execute(select(Escalation).where(
        Escalation.id.in_(ids), Escalation.closed_at.is_(None)).order_by(Escalation.id)
        .with_for_update(skip_locked=True))).scalars())


def _merge(escalation: Escalation, **values: Any) -> None:
    details = {**escalation.details, **values}
    escalation.details = {k: v for k, v in details.items() if v is not None}


# ---- stop conditions --------------------------------------------------------------------------

STOPPED = """
SELECT e.id, regua_debt_blocker(x, CAST(:at AS timestamptz)) AS code
FROM escalation e JOIN debt x ON x.tenant_id = e.tenant_id AND x.id = e.debt_id
WHERE e.tenant_id = :t AND e.path = 'bureau' AND e.closed_at IS NULL
  AND e.state IN ('notice_pending', 'notice_sent') AND e.held_since IS NULL
  AND regua_debt_blocker(x, CAST(:at AS timestamptz)) IS NOT NULL
"""


async def cancel_stopped(session: AsyncSession, principal: Principal, tenant_id: uuid.UUID,
                         at: dt.datetime) -> int:
    """A notice not yet followed by a listing stops when its debt may no longer be worked
    (paid, in agreement, under a hold, prescribed): nothing is listed."""
    found = {r.id: r.code for r in await session.execute(text(STOPPED),
                                                          {"t": tenant_id, "at": at})}
    rows = await _locked(session, list(found))
    for escalation in rows:
        await journal.move(session, principal, escalation, EscalationState.CANCELLED,
                           note=f"interrompido: {blocker_label(found[escalation.id])}", at=at)
    return len(rows)


# ---- the notice -------------------------------------------------------------------------------

async def _extra(session: AsyncSession, debtor_id: DebtorId, debt_ids: tuple[DebtId, ...],
                 channel: Channel, extra: dict[str, Any], cause: uuid.UUID,
                 at: dt.datetime) -> uuid.UUID | None:
    """The notice by e-mail or SMS, when the debtor has a usable contact and the guard
    lets it go now; a refusal is recorded, as every blocked attempt is."""
    if not await contacts.usable(session, debtor_id, channel):
        return None
    verdict = await guard.check(session, debtor_id, channel, at)
    if not verdict.allowed:
        await guard.record_blocked(session, debtor_id, channel, verdict,
                                   cause_kind=CauseKind.SYSTEM, process="escalation",
                                   cause_id=cause, at=at)
        return None
    dispatch = await prepare(session, OutboundMessage(
        channel, debtor_id, debt_ids, template_source=notice_source(channel),
        context_extra=extra, cause_kind=CauseKind.SYSTEM, cause_id=cause))
    await deliver(session, dispatch.id)
    return dispatch.id if dispatch.status != DispatchStatus.FAILED else None


async def send_notices(session: AsyncSession, principal: Principal, tenant_id: uuid.UUID,
                       at: dt.datetime, policy: EscalationPolicy, counts: Counts) -> None:
    """One notice per debtor for its debts waiting for one: a letter, then the extras."""
    ids = [r[0] for r in await session.execute(select(Escalation.id).where(
        Escalation.tenant_id == tenant_id, Escalation.path == EscalationPath.BUREAU,
        Escalation.state == EscalationState.NOTICE_PENDING, Escalation.held_since.is_(None),
        Escalation.closed_at.is_(None)))]
    by_debtor: dict[uuid.UUID, list[Escalation]] = defaultdict(list)
    for escalation in await _locked(session, ids):
        by_debtor[escalation.debtor_id].append(escalation)
    for debtor_id, group in by_debtor.items():
        debtor = (await session.execute(select(Debtor).where(Debtor.id == debtor_id))
                  ).scalar_one()
        checked = DebtorId(debtor_id)
        debt_ids = tuple(DebtId(e.debt_id) for e in group)
        verdict = await guard.check(session, checked, Channel.LETTER, at)
        if not verdict.allowed:
            await guard.record_blocked(session, checked, Channel.LETTER, verdict,
                                       cause_kind=CauseKind.SYSTEM, process="escalation",
                                       cause_id=group[0].id, at=at)
            if verdict.code and verdict.code.startswith("cap_"):
                counts.notices_waiting += len(group)  # tomorrow
                continue
            reason = ("sem endereço para a carta de notificação"
                      if verdict.code in ("no_contact_point", "opted_out") else verdict.reason)
            for escalation in group:
                await journal.move(session, principal, escalation, EscalationState.CANCELLED,
                                   note=f"notificação não enviada: {reason}", at=at)
                counts.cancelled += 1
            continue
        days = notice_days(policy, debtor.state)
        sent_on = _local_day(at, debtor.timezone)
        deadline = sent_on + dt.timedelta(days=days)
        extra = {"notificacao": {"prazo": date_br(deadline), "bureau": BUREAU_LABEL,
                                 "dias": days}}
        letter = await prepare(session, OutboundMessage(
            Channel.LETTER, checked, debt_ids, template_source=notice_source(Channel.LETTER),
            context_extra=extra, cause_kind=CauseKind.SYSTEM, cause_id=group[0].id))
        await deliver(session, letter.id)
        if letter.status == DispatchStatus.FAILED:
            log.warning("notice letter for debtor %s not sent: %s", debtor_id,
                        letter.status_reason)
            counts.notices_waiting += len(group)
            continue
        sent = {"letter": str(letter.id)}
        channels = ["carta"]
        for channel, wanted, label in ((Channel.EMAIL, policy.notice_email, "e-mail"),
                                       (Channel.SMS, policy.notice_sms, "SMS")):
            if wanted and (made := await _extra(session, checked, debt_ids, channel, extra,
                                                group[0].id, at)) is not None:
                sent[channel.value] = str(made)
                channels.append(label)
        where = " — devedor em SP" if debtor.state == "SP" else ""
        note = (f"notificação enviada por {', '.join(channels)}; prazo até"
                f" {date_br(deadline)} ({days} dias{where})")
        for escalation in group:
            _merge(escalation, notice={**sent, "sent_on": sent_on.isoformat(), "days": days})
            await journal.move(session, principal, escalation, EscalationState.NOTICE_SENT,
                               note=note, deadline_on=deadline, at=at)
        counts.notices += 1


# ---- removals ---------------------------------------------------------------------------------

TO_REMOVE = """
SELECT e.id, x.status, coalesce(x.closed_at, x.updated_at) AS since,
       (CAST(:at AS timestamptz) AT TIME ZONE b.timezone)::date >= e.deadline_on AS limit_reached
FROM escalation e
JOIN debt x ON x.tenant_id = e.tenant_id AND x.id = e.debt_id
JOIN debtor b ON b.tenant_id = e.tenant_id AND b.id = e.debtor_id
WHERE e.tenant_id = :t AND e.path = 'bureau' AND e.state = 'listed' AND e.closed_at IS NULL
  AND (x.status IN ('paid', 'settled_by_creditor', 'withdrawn', 'recalled', 'returned')
       OR (x.status = 'in_agreement' AND :on_agreement)
       OR (CAST(:at AS timestamptz) AT TIME ZONE b.timezone)::date >= e.deadline_on)
"""


async def start_removals(session: AsyncSession, principal: Principal, tenant: Tenant,
                         at: dt.datetime, policy: EscalationPolicy, counts: Counts) -> None:
    """Listings that must come down: paid (or an agreement, as the policy says) within
    the removal deadline in business days; at the five-year limit, that day."""
    found = {r.id: r for r in await session.execute(text(TO_REMOVE), {
        "t": tenant.id, "at": at, "on_agreement": policy.remove_on_agreement})}
    zone = ZoneInfo(tenant.timezone)
    for escalation in await _locked(session, list(found)):
        row = found[escalation.id]
        if row.status in CLOSED_STATUSES or row.status == "in_agreement":
            reason = ("paid" if row.status in ("paid", "settled_by_creditor")
                      else "agreement" if row.status == "in_agreement" else "closed")
            since = (row.since or at).astimezone(zone).date()
            deadline = add_business_days(since, policy.removal_business_days, tenant.state)
            note = (f"baixa por {REMOVAL_REASONS[reason]} em {date_br(since)}: enviar até"
                    f" {date_br(deadline)} ({policy.removal_business_days} dias úteis)")
        else:
            reason = "five_years"
            deadline = escalation.deadline_on or _local_day(at, tenant.timezone)
            note = f"limite de 5 anos do registro em {date_br(deadline)}: baixa"
        _merge(escalation, removal_reason=reason)
        await journal.move(session, principal, escalation, EscalationState.REMOVAL_PENDING,
                           note=note, deadline_on=deadline, at=at)
        counts.removals_started += 1


# ---- remessas ---------------------------------------------------------------------------------

DUE_LISTING = """
SELECT e.id FROM escalation e
JOIN debtor b ON b.tenant_id = e.tenant_id AND b.id = e.debtor_id
WHERE e.tenant_id = :t AND e.path = 'bureau' AND e.state = 'notice_sent'
  AND e.closed_at IS NULL AND e.held_since IS NULL AND NOT (e.details ? 'remessa')
  AND (CAST(:at AS timestamptz) AT TIME ZONE b.timezone)::date > e.deadline_on
"""
DUE_REMOVAL = """
SELECT e.id FROM escalation e
WHERE e.tenant_id = :t AND e.path = 'bureau' AND e.state = 'removal_pending'
  AND e.closed_at IS NULL AND NOT (e.details ? 'remessa')
"""


async def _listing(session: AsyncSession, escalation: Escalation, debt: Debt,
                   reason: str = pefin.REASON_PAID) -> Listing:
    debtor = (await session.execute(select(Debtor).where(Debtor.id == debt.debtor_id))
              ).scalar_one()
    points = list((await session.execute(select(ContactPoint).where(
        ContactPoint.debtor_id == debtor.id,
        ContactPoint.kind.in_([ContactKind.ADDRESS, ContactKind.PHONE]))
        .order_by(ContactPoint.created_at))).scalars())
    address = next((p for p in points if p.kind == ContactKind.ADDRESS), None)
    phone = next((p.value for p in points if p.kind == ContactKind.PHONE), "")
    parts = (address.details or {}) if address is not None else {}
    return Listing(
        reference=escalation.id, document_kind=debtor.document_kind,
        document=debtor.document, name=debtor.name, contract=debt.contract[:16],
        due_date=debt.due_date, amount=escalation.amount,
        street=str(parts.get("street") or (address.value if address else "")),
        city=str(parts.get("city") or ""), state=str(parts.get("state") or debtor.state or ""),
        cep=str(parts.get("zip") or ""), phone=phone, reason=reason)


async def _next_number(session: AsyncSession, tenant_id: uuid.UUID) -> int:
    # One numbering per creditor, whatever runs at once (the bureau refuses repeats).
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext('bureau_remessa'"
                               " || CAST(CAST(:t AS uuid) AS text)))"), {"t": tenant_id})
    top = (await session.execute(select(func.max(BureauRemessa.number)).where(
        BureauRemessa.tenant_id == tenant_id))).scalar_one()
    return int(top or 0) + 1


async def prepare_remessas(session: AsyncSession, principal: Principal, tenant: Tenant,
                           at: dt.datetime, adapter_name: str, counts: Counts) -> None:
    """Write down today's inclusions and exclusions as numbered remessas (pending until
    the bureau answers); a debt that may no longer be listed is cancelled instead."""
    includes: list[tuple[Escalation, Listing]] = []
    ids = [r[0] for r in await session.execute(text(DUE_LISTING), {"t": tenant.id, "at": at})]
    for escalation in await _locked(session, ids):
        debt = (await session.execute(select(Debt).where(Debt.id == escalation.debt_id))
                ).scalar_one()
        code = (await session.execute(text(
            "SELECT regua_debt_blocker(x, CAST(:at AS timestamptz)) FROM debt x"
            " WHERE x.tenant_id = :t AND x.id = :d"),
            {"t": tenant.id, "d": debt.id, "at": at})).scalar_one()
        debtor_zone = (await session.execute(select(Debtor.timezone).where(
            Debtor.id == debt.debtor_id))).scalar_one()
        if code is not None:
            await journal.move(session, principal, escalation, EscalationState.CANCELLED,
                               note=f"não negativado: {blocker_label(code)}", at=at)
            counts.cancelled += 1
        elif _local_day(at, debtor_zone) >= listing_limit(debt.due_date):
            _merge(escalation, final=True)
            await journal.move(session, principal, escalation, EscalationState.CANCELLED,
                               note="não negativado: o limite de 5 anos do registro já passou",
                               at=at)
            counts.cancelled += 1
        else:
            includes.append((escalation, await _listing(session, escalation, debt)))
    removals: list[tuple[Escalation, Listing]] = []
    ids = [r[0] for r in await session.execute(text(DUE_REMOVAL), {"t": tenant.id})]
    for escalation in await _locked(session, ids):
        debt = (await session.execute(select(Debt).where(Debt.id == escalation.debt_id))
                ).scalar_one()
        reason = PEFIN_REASON[escalation.details.get("removal_reason", "paid")]
        removals.append((escalation, await _listing(session, escalation, debt, reason)))
    for operation, items in (("include", includes), ("remove", removals)):
        if not items:
            continue
        number = await _next_number(session, tenant.id)
        session.add(BureauRemessa(
            tenant_id=tenant.id, id=uuid7(), number=number,
            operation=operation, adapter=adapter_name, day=_local_day(at, tenant.timezone),
            escalation_ids=[e.id for e, _ in items],
            listings=[listing.as_json() for _, listing in items], status="pending",
            accepted=0, rejected=0))
        for escalation, _ in items:
            _merge(escalation, remessa=number)
        await session.flush()
        counts.remessas += 1


async def _apply(session: AsyncSession, principal: Principal, remessa: BureauRemessa,
                 exchange: Exchange, at: dt.datetime, counts: Counts) -> None:
    by_id = {e.id: e for e in (await session.execute(select(Escalation).where(
        Escalation.id.in_(remessa.escalation_ids)).with_for_update())).scalars()}
    listings = {uuid.UUID(item["reference"]): Listing.from_json(item)
                for item in remessa.listings}
    for n, outcome in enumerate(exchange.outcomes, start=2):
        escalation = by_id.get(outcome.reference)
        if escalation is None or escalation.closed_at is not None:
            continue
        codes = ", ".join(outcome.codes)
        where = f"remessa {remessa.number}, registro {n}"
        escalation.details = {k: v for k, v in escalation.details.items() if k != "remessa"}
        if remessa.operation == "include":
            if outcome.accepted:
                limit = listing_limit(listings[outcome.reference].due_date)
                _merge(escalation, listed_remessa=remessa.number)
                await journal.move(session, principal, escalation, EscalationState.LISTED,
                                   note=f"negativado na {BUREAU_LABEL} ({where}); fica no"
                                        f" cadastro até {date_br(limit)} no máximo",
                                   deadline_on=limit, at=at)
                counts.listed += 1
            else:
                _merge(escalation, final=True, rejected_codes=list(outcome.codes))
                await journal.move(session, principal, escalation, EscalationState.CANCELLED,
                                   note=f"inclusão recusada pelo bureau ({where}): {codes}",
                                   at=at)
                counts.rejected += 1
        elif outcome.accepted:
            expired = escalation.details.get("removal_reason") == "five_years"
            await journal.move(session, principal, escalation,
                               EscalationState.EXPIRED if expired else EscalationState.REMOVED,
                               note=f"baixa aceita pelo bureau ({where})", at=at)
            counts.expired += expired
            counts.removed += not expired
        else:
            # Stays pending, deadline and all: the next run sends it again.
            await journal.move(session, principal, escalation, EscalationState.REMOVAL_PENDING,
                               note=f"baixa recusada pelo bureau ({where}): {codes};"
                                    " será reenviada", deadline_on=escalation.deadline_on,
                               at=at)
            counts.rejected += 1


async def transmit(tenant_id: uuid.UUID, at: dt.datetime, counts: Counts, *,
                   adapter: BureauAdapter | None = None, storage: Storage | None = None,
                   settings: Settings | None = None) -> None:
    """Send the tenant's pending remessas, each in its own transaction, and apply the
    bureau's answer. A remessa the bureau did not answer stays pending for the next run
    (sent again under its number, which the bureau recognises)."""
    principal = Principal.system(Scope.tenant(tenant_id))
    async with transaction(principal) as session:
        pending = [r[0] for r in await session.execute(select(BureauRemessa.id).where(
            BureauRemessa.tenant_id == tenant_id, BureauRemessa.status == "pending")
            .order_by(BureauRemessa.number))]
    for remessa_id in pending:
        async with transaction(principal) as session:
            remessa = (await session.execute(select(BureauRemessa).where(
                BureauRemessa.id == remessa_id, BureauRemessa.status == "pending")
                .with_for_update(skip_locked=True))).scalar_one_or_none()
            if remessa is None:
                continue
            tenant = (await session.execute(select(Tenant).where(Tenant.id == tenant_id))
                      ).scalar_one()
            batch = Batch(remessa.number, remessa.day, tenant.cnpj, tenant.legal_name,
                          tuple(Listing.from_json(item) for item in remessa.listings))
            try:
                chosen = adapter or adapter_for(settings or get_settings())
                exchange = await (chosen.include(batch) if remessa.operation == "include"
                                  else chosen.remove(batch))
            except BureauUnavailable as exc:
                remessa.error = str(exc)[:500]
                counts.bureau_errors.append(f"remessa {remessa.number}: {exc}")
                log.warning("bureau remessa %s of tenant %s not sent: %s", remessa.number,
                            tenant_id, exc)
                continue
            if storage is None:
                from core.runtime import get_storage

                storage = get_storage()
            remessa.file_key = bureau_file_key(tenant_id, remessa.number)
            remessa.answer_key = bureau_file_key(tenant_id, remessa.number, answer=True)
            storage.put(remessa.file_key, exchange.sent, "text/plain; charset=iso-8859-1")
            storage.put(remessa.answer_key, exchange.answer, "text/plain; charset=iso-8859-1")
            await _apply(session, principal, remessa, exchange, at, counts)
            remessa.accepted = sum(o.accepted for o in exchange.outcomes)
            remessa.rejected = len(exchange.outcomes) - remessa.accepted
            remessa.status, remessa.error = "answered", None
            remessa.answered_at = dt.datetime.now(dt.UTC)
