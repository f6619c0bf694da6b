"""The debtor file: identification, debts with balances and holds, contact points with
their opt-outs, and the timeline, as the principal may see them."""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from collections.abc import Callable
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import DebtorId, access_debtor, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.collection import events as debtor_events
from core.collection import holds as hold_service
from core.collection import ledger
from core.collection.contacts import OPT_OUT_SOURCES, channels_of
from core.collection.notes import debtor_notes
from core.collection.workable import blocker, blocker_label, is_active
from core.debtors.schemas import (
    ChannelState,
    ContactOut,
    DebtorFile,
    DebtOut,
    HoldOut,
    Identification,
    ScoreOut,
    ScoreReasonOut,
    SegmentOut,
    Summary,
    TimelineEvent,
    Viewer,
)
from core.masking import Masker, sees_in_full
from core.models import (
    DEBT_STATUS_LABELS,
    PLACED,
    Bucket,
    Channel,
    ContactOptOut,
    ContactPoint,
    ContactQuality,
    Debt,
    Debtor,
    DebtStatus,
    Direction,
    EntryKind,
    HoldKind,
    Interaction,
    LedgerEntry,
    Outcome,
    Payment,
    PaymentSource,
    Portfolio,
    Tenant,
    User,
)
from core.models.activity import HOLD_LABELS, OUTCOME_LABELS
from core.models.collection import CHANNEL_LABELS, CONTACT_QUALITY_LABELS
from core.models.ledger import PAYMENT_SOURCE_LABELS
from core.scoring.service import DebtorScoreView, score_of
from core.zones import DEFAULT_ZONE, zone_label

# Who may change a file (notes, holds, contact points): everyone but a creditor's
# viewer, who follows the portfolio and reads only.
ACTING_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.AGENT, Role.LEGAL,
                          Role.CREDITOR_ADMIN})
TIMELINE_MAX = 300  # newest events of each kind; a file with more shows the latest
KIND_LABELS = {"cpf": "Pessoa física", "cnpj": "Pessoa jurídica"}
CONTACT_KIND_LABELS = {"phone": "Telefone", "email": "E-mail", "address": "Endereço"}
IMPORT_MODE_LABELS = {"incremental": "incremental", "full": "completa",
                      "settlement": "baixa", "recall": "recolhimento"}
PROCESS_LABELS = {"cadence": "régua de cobrança", "dialer": "discador",
                  "channels": "envio de mensagens"}
AGENCY_STAFF = "equipe da assessoria"


def may_act(principal: Principal) -> bool:
    return principal.role in ACTING_ROLES


async def viewer_zone(session: AsyncSession, principal: Principal) -> str:
    """A creditor's staff read times in their tenant's zone; agency staff in Brasília's."""
    if principal.tenant_id is None:
        return DEFAULT_ZONE
    zone = (await session.execute(
        select(Tenant.timezone).where(Tenant.id == principal.tenant_id))).scalar_one_or_none()
    return zone or DEFAULT_ZONE


def _count(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"


async def debtor_file(principal: Principal, debtor_id: uuid.UUID,
                      at: dt.datetime | None = None) -> DebtorFile:
    async with transaction(principal) as session:
        checked = await access_debtor(session, principal, debtor_id)
        return await build_file(session, principal, checked, at or dt.datetime.now(dt.UTC))


async def build_file(session: AsyncSession, principal: Principal, debtor_id: DebtorId,
                     at: dt.datetime) -> DebtorFile:
    debtor = (await session.execute(select(Debtor).where(Debtor.id == debtor_id))).scalar_one()
    tenant_name = (await session.execute(
        select(Tenant.trade_name).where(Tenant.id == debtor.tenant_id))).scalar_one()
    mask = Masker(principal.role)
    zone = await viewer_zone(session, principal)
    today = at.astimezone(ZoneInfo(debtor.timezone)).date()

    debts = list((await session.execute(
        select(Debt).where(Debt.debtor_id == debtor.id)
        .order_by(Debt.due_date, Debt.contract, Debt.installment))).scalars())
    labels = {d.id: f"{d.contract} / {d.installment}" for d in debts}
    holds = await hold_service.debtor_holds(session, debtor_id)
    balances = await ledger.balances(session, [d.id for d in debts])
    author = await _author(session, principal)

    debt_rows = []
    for debt in debts:
        code = blocker(debt, holds, at, debtor.timezone)  # type: ignore[arg-type]
        covering = [HOLD_LABELS[HoldKind(h.kind)] for h in holds
                    if (h.debt_id is None or h.debt_id == debt.id) and is_active(h, at)]
        buckets = {b.value: balances[debt.id].get(b, Decimal("0.00")) for b in Bucket}
        placed = debt.status in PLACED
        debt_rows.append(DebtOut(
            id=debt.id, contract=debt.contract, installment=debt.installment,
            status=debt.status, status_label=DEBT_STATUS_LABELS[DebtStatus(debt.status)],
            due_date=debt.due_date,
            days_overdue=max((today - debt.due_date).days, 0) if placed else None,
            original_amount=debt.original_amount,
            balance=sum(buckets.values(), Decimal("0.00")), buckets=buckets,
            workable=code is None, blocker=code, blocker_label=blocker_label(code),
            holds=covering, placed_until=debt.placed_until))

    hold_rows = [HoldOut(
        id=h.id, debt_id=h.debt_id,
        scope_label=(f"título {labels.get(h.debt_id, '?')}" if h.debt_id
                     else "todos os títulos"),
        kind=h.kind, kind_label=HOLD_LABELS[HoldKind(h.kind)], reason=h.reason,
        starts_at=h.starts_at, ends_at=h.ends_at, active=is_active(h, at),
        set_by=author(h.set_by_email),
        ended_by=author(h.ended_by_email) if h.ended_by_email else None,
        end_reason=h.end_reason)
        for h in holds]

    contacts = list((await session.execute(
        select(ContactPoint).where(ContactPoint.debtor_id == debtor.id)
        .order_by(ContactPoint.kind.desc(), ContactPoint.created_at, ContactPoint.id)
    )).scalars())
    opt_outs = list((await session.execute(
        select(ContactOptOut).where(
            ContactOptOut.contact_point_id.in_([c.id for c in contacts]))
        .order_by(ContactOptOut.opted_out_at.desc()))).scalars()) if contacts else []
    active_opt_outs = {(o.contact_point_id, o.channel): o for o in opt_outs
                       if o.revoked_at is None}
    shown = {c.id: mask.contact(c.kind, c.value, c.details) for c in contacts}
    contact_rows = []
    for c in contacts:
        states = []
        for channel in channels_of(c.kind):
            opt = active_opt_outs.get((c.id, channel.value))
            states.append(ChannelState(
                channel=channel, label=CHANNEL_LABELS[channel], opted_out=opt is not None,
                since=opt.opted_out_at if opt else None,
                source_label=OPT_OUT_SOURCES.get(opt.source) if opt else None))
        contact_rows.append(ContactOut(
            id=c.id, kind=c.kind, kind_label=CONTACT_KIND_LABELS.get(c.kind, c.kind),
            value=shown[c.id], quality=c.quality,
            quality_label=CONTACT_QUALITY_LABELS[ContactQuality(c.quality)],
            last_outcome=c.last_outcome,
            last_outcome_label=(OUTCOME_LABELS.get(Outcome(c.last_outcome))
                                if c.last_outcome else None),
            last_outcome_at=c.last_outcome_at, source=c.source, channels=states))

    timeline = await _timeline(session, debtor, debts, labels, hold_rows, opt_outs, shown,
                               author)
    score = await score_of(session, debtor_id)
    return DebtorFile(
        debtor=Identification(
            id=debtor.id, tenant_id=debtor.tenant_id, tenant_name=tenant_name,
            name=debtor.name, document=mask.document(debtor.document_kind, debtor.document),
            document_kind=debtor.document_kind,
            kind_label=KIND_LABELS.get(debtor.document_kind, debtor.document_kind),
            birth_date=debtor.birth_date if mask.full else None, state=debtor.state,
            timezone=debtor.timezone, zone_label=zone_label(debtor.timezone),
            deceased_on=debtor.deceased_on, created_at=debtor.created_at),
        summary=_summary(debt_rows),
        debts=debt_rows, holds=hold_rows, contacts=contact_rows, timeline=timeline,
        viewer=Viewer(zone=zone, zone_label=zone_label(zone),
                      sees_in_full=sees_in_full(principal.role), may_act=may_act(principal)),
        score=_score(score) if score is not None else None)


def _score(view: DebtorScoreView) -> ScoreOut:
    return ScoreOut(
        score=view.score, band=view.band, band_label=view.band_label,
        segments=[SegmentOut(code=c, label=label, help=h) for c, label, h in view.segments],
        reasons=[ScoreReasonOut(feature=r.feature, effect=r.effect, text=r.text)
                 for r in view.reasons],
        method=view.method, method_label=view.method_label, scored_at=view.scored_at)


def _summary(debts: list[DebtOut]) -> Summary:
    placed = [d for d in debts if d.status in PLACED]
    open_debts = [d for d in debts if d.status == DebtStatus.OPEN]
    workable = [d for d in open_debts if d.workable]
    reasons = sorted({d.blocker_label for d in placed if d.blocker_label})
    if workable:
        headline = (f"Pode ser cobrado hoje: {len(workable)} de "
                    f"{_count(len(placed), 'título em cobrança', 'títulos em cobrança')}")
    elif placed:
        headline = "Não pode ser cobrado hoje"
    else:
        headline = "Nenhum título em cobrança"
    return Summary(
        total_balance=sum((d.balance for d in placed), Decimal("0.00")),
        placed_debts=len(placed), open_debts=len(open_debts), workable_debts=len(workable),
        workable=bool(workable), headline=headline, reasons=reasons)


async def _author(session: AsyncSession, principal: Principal) -> Callable[[str], str]:
    """How a person who acted on the file is named: by e-mail to agency staff; to a
    creditor's staff, their own colleagues by e-mail and agency staff as a team."""
    if principal.role.is_agency:
        return lambda email: email
    own = set((await session.execute(select(User.email).where(
        User.tenant_id == principal.tenant_id))).scalars())
    return lambda email: email if email in own or not email else AGENCY_STAFF


async def _emails(session: AsyncSession, ids: set[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    """Users' e-mails; agency users stay hidden from a creditor's staff (row-level
    security on users), who read "equipe da assessoria" instead."""
    wanted = [i for i in ids if i is not None]
    if not wanted:
        return {}
    rows = await session.execute(select(User.id, User.email).where(User.id.in_(wanted)))
    return {user_id: email for user_id, email in rows}


async def _timeline(session: AsyncSession, debtor: Debtor, debts: list[Debt],
                    labels: dict[uuid.UUID, str], holds: list[HoldOut],
                    opt_outs: list[ContactOptOut],
                    shown: dict[uuid.UUID, str],
                    author: Callable[[str], str]) -> list[TimelineEvent]:
    events: list[TimelineEvent] = []

    interactions = list((await session.execute(
        select(Interaction).where(Interaction.debtor_id == debtor.id)
        .order_by(Interaction.started_at.desc()).limit(TIMELINE_MAX))).scalars())
    recorded = await debtor_events.for_debtor(session, debtor.id, TIMELINE_MAX)
    emails = await _emails(session, {i.user_id for i in interactions}
                           | {o.set_by for o in opt_outs} | {o.revoked_by for o in opt_outs}
                           | {e.user_id for e in recorded})

    def by(user_id: uuid.UUID | None, process: str | None = None) -> str:
        if user_id is not None:
            return author(emails.get(user_id, AGENCY_STAFF))
        return PROCESS_LABELS.get(process or "", process or "Régua")

    for i in interactions:
        inbound = i.direction == Direction.INBOUND
        channel = CHANNEL_LABELS[Channel(i.channel)]
        title = (f"{channel[:1].upper()}{channel[1:]}{' do devedor' if inbound else ''}: "
                 f"{OUTCOME_LABELS[Outcome(i.outcome)]}")
        parts = [shown.get(i.contact_point_id, "") if i.contact_point_id else "",
                 f"título {labels[i.debt_id]}" if i.debt_id in labels else ""]
        events.append(TimelineEvent(at=i.started_at, kind="interaction", title=title,
                                    detail=" · ".join(p for p in parts if p),
                                    by=by(i.user_id, i.process)))

    for e in recorded:
        events.append(TimelineEvent(at=e.at, kind=e.kind.split(".")[0], title=e.title,
                                    detail=e.detail or "", amount=e.amount, link=e.link,
                                    by=by(e.user_id) if e.user_id else e.by_label or "Régua"))

    for note in await debtor_notes(session, DebtorId(debtor.id), TIMELINE_MAX):
        events.append(TimelineEvent(at=note.created_at, kind="note", title="Anotação",
                                    detail=note.body, by=author(note.author_email)))

    for h in holds:
        events.append(TimelineEvent(
            at=h.starts_at, kind="hold_set", title=f"Bloqueio: {h.kind_label}",
            detail=f"{h.scope_label} · {h.reason}", by=h.set_by))
        if h.ends_at is not None:
            events.append(TimelineEvent(
                at=h.ends_at, kind="hold_ended",
                title=f"Bloqueio encerrado: {h.kind_label}",
                detail=f"{h.scope_label} · {h.end_reason or ''}", by=h.ended_by or ""))

    for o in opt_outs:
        channel = CHANNEL_LABELS[Channel(o.channel)]
        target = shown.get(o.contact_point_id, "")
        events.append(TimelineEvent(
            at=o.opted_out_at, kind="opt_out", title=f"Contato bloqueado para {channel}",
            detail=" · ".join(p for p in (target, OPT_OUT_SOURCES.get(o.source, o.source),
                                           o.note or "") if p),
            by=by(o.set_by, "Régua")))
        if o.revoked_at is not None:
            events.append(TimelineEvent(
                at=o.revoked_at, kind="opt_in", title=f"Contato liberado para {channel}",
                detail=target, by=by(o.revoked_by, "Régua")))

    payments = list((await session.execute(
        select(Payment).where(Payment.debtor_id == debtor.id)
        .order_by(Payment.created_at.desc()).limit(TIMELINE_MAX))).scalars())
    for p in payments:
        when = p.paid_on.strftime("%d/%m/%Y") if p.paid_on else "data não informada"
        events.append(TimelineEvent(
            at=p.created_at, kind="payment", title="Pagamento", amount=p.amount,
            detail=" · ".join(x for x in (
                f"título {labels.get(p.debt_id, '?')}", f"pago em {when}",
                PAYMENT_SOURCE_LABELS.get(PaymentSource(p.source), p.source),
                p.reference or "") if x)))

    events += await _imports(session, debts)
    events += await cadence_events(session, debtor.id, TIMELINE_MAX)
    events.sort(key=lambda e: e.at, reverse=True)
    return events[:TIMELINE_MAX]


async def cadence_events(session: AsyncSession, debtor_id: uuid.UUID,
                         limit: int) -> list[TimelineEvent]:
    """The cadence's actions for the debtor, each with its state and reason."""
    from core.cadence.views import action_lines

    return [TimelineEvent(at=line.at, kind="cadence", title=line.title, detail=line.detail,
                          by="Régua (cadência)")
            for line in await action_lines(session, debtor_id, limit)]


async def _imports(session: AsyncSession, debts: list[Debt]) -> list[TimelineEvent]:
    """The portfolios that placed, updated or closed the debtor's debts."""
    placed: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    updated: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    closed: dict[uuid.UUID, set[uuid.UUID]] = defaultdict(set)
    for d in debts:
        placed[d.portfolio_id].add(d.id)
        if d.last_portfolio_id != d.portfolio_id:
            updated[d.last_portfolio_id].add(d.id)
        if d.closed_by_portfolio_id:
            closed[d.closed_by_portfolio_id].add(d.id)
    if debts:
        rows = await session.execute(
            select(LedgerEntry.source_id, LedgerEntry.debt_id).where(
                LedgerEntry.debt_id.in_([d.id for d in debts]),
                LedgerEntry.source == "portfolio",
                LedgerEntry.kind == EntryKind.CREDITOR_UPDATE))
        for source_id, debt_id in rows:
            if source_id is not None and debt_id not in placed[source_id]:
                updated[source_id].add(debt_id)
    ids = set(placed) | set(updated) | set(closed)
    if not ids:
        return []
    portfolios = (await session.execute(
        select(Portfolio).where(Portfolio.id.in_(ids)))).scalars()
    events = []
    for p in portfolios:
        parts = [_count(len(placed[p.id]), "título colocado", "títulos colocados")
                 if placed[p.id] else "",
                 _count(len(updated[p.id]), "título atualizado", "títulos atualizados")
                 if updated[p.id] else "",
                 _count(len(closed[p.id]), "título encerrado", "títulos encerrados")
                 if closed[p.id] else ""]
        events.append(TimelineEvent(
            at=p.finished_at or p.created_at, kind="import",
            title=f"Carteira importada ({IMPORT_MODE_LABELS.get(p.mode, p.mode)})",
            detail=" · ".join(x for x in (p.file_name, *parts) if x)))
    return events

