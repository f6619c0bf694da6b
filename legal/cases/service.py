"""Cases: opening one at a judicial handoff, the legal queue, and working a case.

A case opens when a person hands a debtor's debts to court from the debtor file, or when
the job finds judicial escalations in `handed_off` that no case holds yet (the rules
engine opens those); either way its first dossier is built in the same transaction, so
a case never exists without one. Only the legal team and the agency's admins change a
case; supervisors and the creditor's staff read it (a creditor, its own cases only);
agents have no business here.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NewType
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from core import audit
from core.access import DebtId, DebtorId, HoldId, access_debtor, tenant_of, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.collection import holds, ledger
from core.db import Scope
from core.errors import Conflict, Forbidden, NotFound, ValidationFailed
from core.ids import uuid7
from core.masking import Masker
from core.models import (
    DEBT_STATUS_LABELS,
    Debt,
    Debtor,
    DebtStatus,
    Hold,
    HoldKind,
    Tenant,
    User,
    UserTenant,
)
from core.runtime import get_storage
from legal.cases import cnj, dossier
from legal.cases.models import (
    CASE_STATE_LABELS,
    DOCUMENT_KIND_LABELS,
    DOCUMENT_ORIGIN_LABELS,
    IN_COURT,
    TRANSITIONS,
    CaseDeadline,
    CaseDocument,
    CaseEscalation,
    CaseEvent,
    CaseExport,
    CaseNote,
    CaseState,
    CaseWebhook,
    DocumentKind,
    DocumentOrigin,
    LegalCase,
)
from legal.escalation import journal
from legal.escalation.models import (
    PATH_LABELS,
    STATE_LABELS,
    Escalation,
    EscalationPath,
    EscalationState,
)

CaseId = NewType("CaseId", uuid.UUID)

EDITING_ROLES = frozenset({Role.ADMIN, Role.LEGAL})
READING_ROLES = frozenset({Role.ADMIN, Role.LEGAL, Role.SUPERVISOR, Role.CREDITOR_ADMIN,
                           Role.CREDITOR_VIEWER})
# Who hands a debtor to court from the file: agency staff who decide escalations.
HANDING_OFF_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.LEGAL})
UPLOADING_ROLES = frozenset({Role.ADMIN, Role.LEGAL, Role.CREDITOR_ADMIN})
# The dossier names agency staff and holds every contact: the agency's staff download it.
DOSSIER_ROLES = frozenset({Role.ADMIN, Role.LEGAL, Role.SUPERVISOR})
NEAR_DAYS = 3  # a deadline this close is flagged before it is overdue
QUEUE_MAX = 500
LEGAL_TEAM = "equipe jurídica da assessoria"


def require(principal: Principal, roles: frozenset[Role], what: str) -> None:
    if principal.role not in roles:
        raise Forbidden(f"seu perfil não pode {what}")


async def access_case(session: AsyncSession, principal: Principal,
                      case_id: uuid.UUID) -> CaseId:
    await tenant_of(session, LegalCase, case_id, principal, "caso")
    return CaseId(case_id)


async def lock_case(session: AsyncSession, case_id: CaseId) -> LegalCase:
    return (await session.execute(select(LegalCase).where(LegalCase.id == case_id)
                                  .with_for_update())).scalar_one()


def add_event(session: AsyncSession, principal: Principal, case: LegalCase, kind: str,
           before: str | None, after: str | None, note: str | None = None) -> None:
    person = not principal.is_system
    session.add(CaseEvent(
        tenant_id=case.tenant_id, id=uuid7(), case_id=case.id, at=dt.datetime.now(dt.UTC),
        kind=kind, from_value=before, to_value=after,
        actor_id=principal.user_id if person else None,
        actor_email=principal.email if person else None, note=note))


async def audit_case(session: AsyncSession, principal: Principal, case: LegalCase, action: str,
                 before: dict[str, object] | None, after: dict[str, object]) -> None:
    if not principal.is_system:
        await audit.record(session, principal.actor, f"case.{action}", tenant_id=case.tenant_id,
                           entity="case", entity_id=case.id, before=before, after=after)


async def today_of(session: AsyncSession, tenant_id: uuid.UUID) -> dt.date:
    zone = (await session.execute(select(Tenant.timezone).where(Tenant.id == tenant_id))
            ).scalar_one()
    return dt.datetime.now(ZoneInfo(zone)).date()


# ---- opening -----------------------------------------------------------------------------

async def _open(session: AsyncSession, principal: Principal, tenant_id: uuid.UUID,
                debtor_id: uuid.UUID, escalations: list[Escalation],
                reason: str | None) -> LegalCase:
    now = dt.datetime.now(dt.UTC)
    person = not principal.is_system
    case = LegalCase(
        tenant_id=tenant_id, id=uuid7(), debtor_id=debtor_id, state=CaseState.RECEIVED,
        amount=sum((e.amount for e in escalations), Decimal("0.00")), reason=reason,
        opened_at=now, opened_by=principal.user_id if person else None, state_changed_at=now,
        dossier_version=0)
    session.add(case)
    await session.flush()
    for escalation in escalations:
        session.add(CaseEscalation(tenant_id=tenant_id, id=uuid7(), case_id=case.id,
                                   escalation_id=escalation.id, debt_id=escalation.debt_id))
    add_event(session, principal, case, "opened", None, CaseState.RECEIVED, reason)
    # In court, the friendly collection stops: no cadence, no dialer, no new escalation.
    for escalation in escalations:
        await holds.set_hold(session, principal, DebtorId(debtor_id), HoldKind.LEGAL,
                             _hold_reason(case), debt_id=DebtId(escalation.debt_id))
    await session.flush()
    stored = await dossier.build_and_store(
        session, get_storage(), case, principal.user_id if person else None,
        principal.email if person else "Régua")
    add_event(session, principal, case, "dossier", None, f"v{stored.version}")
    await audit_case(session, principal, case, "opened", None,
                 {"debtor_id": debtor_id, "escalations": [e.id for e in escalations],
                  "amount": case.amount, "reason": reason})
    return case


def _hold_reason(case: LegalCase) -> str:
    return f"cobrança judicial: caso {case.code}"


@dataclass
class HandoffDebt:
    id: uuid.UUID
    label: str
    due_date: dt.date
    status_label: str
    balance: Decimal
    blocked: str | None  # why it cannot go now


@dataclass
class HandoffScreen:
    debtor_id: uuid.UUID
    debtor_name: str
    debts: list[HandoffDebt]
    cases: list[tuple[uuid.UUID, str, str]]  # the debtor's cases: id, code, state label


async def handoff_screen(principal: Principal, debtor_id: uuid.UUID) -> HandoffScreen:
    require(principal, HANDING_OFF_ROLES, "enviar devedores ao jurídico")
    async with transaction(principal) as session:
        checked = await access_debtor(session, principal, debtor_id)
        debtor = (await session.execute(select(Debtor).where(Debtor.id == checked))
                  ).scalar_one()
        debts = list((await session.execute(select(Debt).where(Debt.debtor_id == checked)
                      .order_by(Debt.due_date, Debt.contract, Debt.installment))).scalars())
        balances = await ledger.balances(session, [d.id for d in debts])
        running = {e.debt_id: e for e in (await session.execute(select(Escalation).where(
            Escalation.debtor_id == checked, Escalation.closed_at.is_(None)))).scalars()}
        rows = []
        for d in debts:
            blocked = None
            if d.status != DebtStatus.OPEN:
                blocked = f"título {DEBT_STATUS_LABELS[DebtStatus(d.status)]}"
            elif d.id in running:
                e = running[d.id]
                blocked = (f"em {PATH_LABELS[EscalationPath(e.path)]}:"
                           f" {STATE_LABELS[EscalationState(e.state)]}")
            rows.append(HandoffDebt(d.id, f"{d.contract} / {d.installment}", d.due_date,
                                    DEBT_STATUS_LABELS[DebtStatus(d.status)],
                                    sum(balances[d.id].values(), Decimal("0.00")), blocked))
        cases = [(c.id, c.code, CASE_STATE_LABELS[CaseState(c.state)])
                 for c in (await session.execute(select(LegalCase).where(
                     LegalCase.debtor_id == checked).order_by(LegalCase.opened_at))).scalars()]
        return HandoffScreen(debtor.id, debtor.name, rows, cases)


async def hand_off(principal: Principal, debtor_id: uuid.UUID, debt_ids: list[uuid.UUID],
                   reason: str | None) -> uuid.UUID:
    """A person sends the chosen open debts of a debtor to court: each gets a judicial
    escalation (through the journal), and one case holds them with its dossier."""
    require(principal, HANDING_OFF_ROLES, "enviar devedores ao jurídico")
    text = (reason or "").strip() or None
    if text and len(text) > 1000:
        raise ValidationFailed({"reason": "use no máximo 1000 caracteres"})
    async with transaction(principal) as session:
        checked = await access_debtor(session, principal, debtor_id)
        if not debt_ids:
            raise ValidationFailed({"debt_ids": "escolha ao menos um título"})
        debts = list((await session.execute(select(Debt).where(
            Debt.id.in_(debt_ids), Debt.debtor_id == checked).order_by(Debt.due_date)
            .with_for_update())).scalars())
        if len(debts) != len(set(debt_ids)):
            raise NotFound("título")
        closed = [d for d in debts if d.status != DebtStatus.OPEN]
        if closed:
            raise ValidationFailed({"debt_ids": "só títulos em aberto vão ao jurídico: "
                                    + ", ".join(f"{d.contract} / {d.installment} está"
                                                f" {DEBT_STATUS_LABELS[DebtStatus(d.status)]}"
                                                for d in closed)})
        balances = await ledger.balances(session, [d.id for d in debts])
        escalations = []
        for d in debts:
            try:
                escalations.append(await journal.open_escalation(
                    session, principal, DebtId(d.id), EscalationPath.JUDICIAL,
                    EscalationState.HANDED_OFF,
                    amount=sum(balances[d.id].values(), Decimal("0.00")),
                    note=text or "enviado ao jurídico pela ficha do devedor"))
            except Conflict:
                raise Conflict({"debt_ids": f"o título {d.contract} / {d.installment} já está"
                                            " em escalonamento"}) from None
        case = await _open(session, principal, debts[0].tenant_id, checked, escalations, text)
        return case.id


_UNCASED = (Escalation.path == EscalationPath.JUDICIAL,
            Escalation.state == EscalationState.HANDED_OFF, Escalation.closed_at.is_(None),
            ~exists().where(CaseEscalation.tenant_id == Escalation.tenant_id,
                            CaseEscalation.escalation_id == Escalation.id))


async def open_handed_off(tenant_id: uuid.UUID) -> list[uuid.UUID]:
    """The job's work for one tenant: every judicial escalation in `handed_off` that no
    case holds gets one, a case per debtor. Run twice, it opens nothing the second time
    (and two runs at once skip each other's rows)."""
    principal = Principal.system(Scope.tenant(tenant_id))
    async with transaction(principal) as session:
        debtor_ids = list((await session.execute(
            select(Escalation.debtor_id).where(*_UNCASED).distinct())).scalars())
    opened = []
    for debtor_id in debtor_ids:
        async with transaction(principal) as session:
            held = list((await session.execute(
                select(Escalation).where(Escalation.debtor_id == debtor_id, *_UNCASED)
                .order_by(Escalation.decided_at).with_for_update(skip_locked=True))).scalars())
            if not held:
                continue
            rules = sorted({e.rule_name for e in held})
            reason = "escalonamento para cobrança judicial: " + ", ".join(
                "manual" if r == "manual" else f"regra {r}" for r in rules)
            opened.append((await _open(session, principal, tenant_id, debtor_id, held,
                                       reason)).id)
    return opened


# ---- the queue ---------------------------------------------------------------------------

@dataclass
class DeadlineView:
    id: uuid.UUID
    what: str
    due_on: dt.date
    done_at: dt.datetime | None
    done_by: str | None
    created_by: str
    alert: str | None  # "overdue", "near" or None


@dataclass
class CaseRow:
    id: uuid.UUID
    code: str
    tenant_id: uuid.UUID
    tenant_name: str
    debtor_id: uuid.UUID
    debtor_name: str
    document: str
    state: str
    state_label: str
    lawyer_name: str | None
    amount: Decimal
    court_number: str
    opened_at: dt.datetime
    next_deadline: DeadlineView | None
    overdue: int  # open deadlines past due


@dataclass
class Queue:
    rows: list[CaseRow]
    overdue: int  # open deadlines past due, over the cases listed
    near: int
    lawyers: list[tuple[uuid.UUID, str]]
    tenants: list[tuple[uuid.UUID, str]]
    by_state: dict[str, int] = field(default_factory=dict)


def _alert(due_on: dt.date, today: dt.date) -> str | None:
    if due_on < today:
        return "overdue"
    if due_on <= today + dt.timedelta(days=NEAR_DAYS):
        return "near"
    return None


def _deadline(d: CaseDeadline, today: dt.date, agency: bool = True) -> DeadlineView:
    # Deadlines are set by the legal team: a creditor's staff read them as the team's.
    done_by = d.done_by_email if agency or not d.done_by_email else LEGAL_TEAM
    return DeadlineView(d.id, d.what, d.due_on, d.done_at, done_by,
                        d.created_by_email if agency else LEGAL_TEAM,
                        None if d.done_at else _alert(d.due_on, today))


async def _names(session: AsyncSession, ids: set[uuid.UUID | None]) -> dict[uuid.UUID, str]:
    wanted = [i for i in ids if i]
    if not wanted:
        return {}
    return {i: name or email for i, name, email in (await session.execute(
        select(User.id, User.full_name, User.email).where(User.id.in_(wanted))))}


async def lawyers_for(session: AsyncSession, tenant_ids: list[uuid.UUID]
                      ) -> list[tuple[uuid.UUID, str]]:
    """Active users of the legal team who work any of `tenant_ids`."""
    rows = await session.execute(
        select(User.id, User.full_name, User.email).join(
            UserTenant, UserTenant.user_id == User.id)
        .where(User.role == Role.LEGAL, User.is_active.is_(True),
               UserTenant.tenant_id.in_(tenant_ids))
        .distinct().order_by(User.full_name, User.email))
    return [(i, name or email) for i, name, email in rows]


async def queue(principal: Principal, *, state: str | None = None, lawyer: str | None = None,
                tenant: uuid.UUID | None = None, late: bool = False,
                q: str | None = None) -> Queue:
    """The cases the principal may see, newest first, with each one's next deadline.
    `lawyer` is a user id, "meus" (the principal's) or "sem" (none assigned)."""
    require(principal, READING_ROLES, "ver a fila do jurídico")
    if state and state not in {s.value for s in CaseState}:
        raise ValidationFailed({"state": "situação desconhecida"})
    async with transaction(principal) as session:
        query = (select(LegalCase, Debtor.name, Debtor.document, Debtor.document_kind,
                        Tenant.trade_name, Tenant.timezone)
                 .join(Debtor, (Debtor.tenant_id == LegalCase.tenant_id)
                       & (Debtor.id == LegalCase.debtor_id))
                 .join(Tenant, Tenant.id == LegalCase.tenant_id)
                 .order_by(LegalCase.opened_at.desc()).limit(QUEUE_MAX))
        if state:
            query = query.where(LegalCase.state == state)
        if tenant:
            query = query.where(LegalCase.tenant_id == tenant)
        if lawyer == "meus":
            query = query.where(LegalCase.lawyer_id == principal.user_id)
        elif lawyer == "sem":
            query = query.where(LegalCase.lawyer_id.is_(None))
        elif lawyer:
            try:
                query = query.where(LegalCase.lawyer_id == uuid.UUID(lawyer))
            except ValueError:
                raise ValidationFailed({"lawyer": "advogado desconhecido"}) from None
        if q and q.strip():
            digits = "".join(ch for ch in q if ch.isdigit())
            terms: list[ColumnElement[bool]] = [Debtor.name.ilike(f"%{q.strip()}%")]
            if len(digits) >= 4:
                terms += [LegalCase.court_number.contains(digits),
                          Debtor.document.contains(digits)]
            query = query.where(or_(*terms))
        found = (await session.execute(query)).all()
        case_ids = [c.id for c, *_ in found]
        open_deadlines: dict[uuid.UUID, list[CaseDeadline]] = defaultdict(list)
        if case_ids:
            for d in (await session.execute(select(CaseDeadline).where(
                    CaseDeadline.case_id.in_(case_ids), CaseDeadline.done_at.is_(None))
                    .order_by(CaseDeadline.due_on))).scalars():
                open_deadlines[d.case_id].append(d)
        names = await _names(session, {c.lawyer_id for c, *_ in found}) \
            if principal.role.is_agency else {}
        mask = Masker(principal.role)
        todays: dict[uuid.UUID, dt.date] = {}
        rows, overdue, near = [], 0, 0
        for case, name, document, kind, tenant_name, zone in found:
            today = todays.setdefault(case.tenant_id, dt.datetime.now(ZoneInfo(zone)).date())
            pending = [_deadline(d, today) for d in open_deadlines.get(case.id, [])]
            late_count = sum(1 for d in pending if d.alert == "overdue")
            overdue += late_count
            near += sum(1 for d in pending if d.alert == "near")
            if late and not late_count:
                continue
            rows.append(CaseRow(
                id=case.id, code=case.code, tenant_id=case.tenant_id, tenant_name=tenant_name,
                debtor_id=case.debtor_id, debtor_name=name,
                document=mask.document(kind, document), state=case.state,
                state_label=CASE_STATE_LABELS[CaseState(case.state)],
                lawyer_name=_lawyer_label(principal, case.lawyer_id, names),
                amount=case.amount, court_number=cnj.formatted(case.court_number),
                opened_at=case.opened_at, next_deadline=pending[0] if pending else None,
                overdue=late_count))
        tenant_ids = sorted(principal.tenant_ids)
        by_state = dict((await session.execute(
            select(LegalCase.state, func.count()).group_by(LegalCase.state))).all())
        lawyers = await lawyers_for(session, tenant_ids) if principal.role.is_agency else []
        tenants = [(t.id, t.trade_name) for t in (await session.execute(
            select(Tenant).order_by(Tenant.trade_name))).scalars()]
        return Queue(rows, overdue, near, lawyers, tenants, by_state)


def _lawyer_label(principal: Principal, lawyer_id: uuid.UUID | None,
                  names: dict[uuid.UUID, str]) -> str | None:
    if lawyer_id is None:
        return None
    if not principal.role.is_agency:
        return LEGAL_TEAM  # agency staff stay unnamed to a creditor's staff
    return names.get(lawyer_id, LEGAL_TEAM)


# ---- one case ----------------------------------------------------------------------------

@dataclass
class DebtLine:
    id: uuid.UUID
    label: str
    due_date: dt.date
    status_label: str
    amount: Decimal  # the balance when handed off
    escalation_label: str


@dataclass
class DocumentView:
    id: uuid.UUID
    kind: str
    kind_label: str
    origin: str
    origin_label: str
    version: int | None
    file_name: str
    size: int
    sha256: str
    description: str | None
    uploaded_by: str
    created_at: dt.datetime


@dataclass
class EventView:
    at: dt.datetime
    text: str
    by: str
    note: str | None


@dataclass
class ExportView:
    id: uuid.UUID
    kind: str
    dossier_version: int
    url: str | None
    status: str
    http_status: int | None
    error: str | None
    expires_at: dt.datetime | None
    fetch_count: int
    last_fetched_at: dt.datetime | None
    by: str
    created_at: dt.datetime
    attempts: int
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None


@dataclass
class CaseView:
    id: uuid.UUID
    code: str
    tenant_id: uuid.UUID
    tenant_name: str
    debtor_id: uuid.UUID
    debtor_name: str
    document: str
    state: str
    state_label: str
    next_states: list[tuple[str, str]]
    lawyer_id: uuid.UUID | None
    lawyer_name: str | None
    lawyers: list[tuple[uuid.UUID, str]]
    court_number: str
    court_name: str | None
    filed_on: dt.date | None
    amount: Decimal
    reason: str | None
    opened_at: dt.datetime
    state_changed_at: dt.datetime
    closed_at: dt.datetime | None
    dossier_version: int
    debts: list[DebtLine]
    deadlines: list[DeadlineView]
    notes: list[EventView]
    documents: list[DocumentView]
    dossiers: list[DocumentView]
    events: list[EventView]
    exports: list[ExportView]
    webhook_url: str | None
    may_edit: bool
    may_upload: bool
    may_download_dossier: bool
    today: dt.date


EVENT_TEXTS = {"opened": "Caso aberto", "state": "Situação", "lawyer": "Advogado responsável",
               "court": "Dados do processo", "dossier": "Dossiê gerado",
               "document": "Documento enviado", "export": "Exportação",
               "deadline": "Prazo", "note": "Anotação"}


async def view(principal: Principal, case_id: uuid.UUID) -> CaseView:
    require(principal, READING_ROLES, "ver casos do jurídico")
    async with transaction(principal) as session:
        checked = await access_case(session, principal, case_id)
        return await _view(session, principal, checked)


async def _view(session: AsyncSession, principal: Principal, case_id: CaseId) -> CaseView:
    case = (await session.execute(select(LegalCase).where(LegalCase.id == case_id))).scalar_one()
    debtor = (await session.execute(select(Debtor).where(Debtor.id == case.debtor_id))
              ).scalar_one()
    tenant = (await session.execute(select(Tenant).where(Tenant.id == case.tenant_id))
              ).scalar_one()
    today = dt.datetime.now(ZoneInfo(tenant.timezone)).date()
    agency = principal.role.is_agency
    debts = [DebtLine(d.id, f"{d.contract} / {d.installment}", d.due_date,
                      DEBT_STATUS_LABELS[DebtStatus(d.status)], e.amount,
                      f"{PATH_LABELS[EscalationPath(e.path)]}:"
                      f" {STATE_LABELS[EscalationState(e.state)]}")
             for d, e in (await session.execute(
                 select(Debt, Escalation)
                 .join(CaseEscalation, (CaseEscalation.tenant_id == Debt.tenant_id)
                       & (CaseEscalation.debt_id == Debt.id))
                 .join(Escalation, (Escalation.tenant_id == CaseEscalation.tenant_id)
                       & (Escalation.id == CaseEscalation.escalation_id))
                 .where(CaseEscalation.case_id == case.id)
                 .order_by(Debt.due_date, Debt.contract, Debt.installment))).all()]
    deadlines = [_deadline(d, today, agency) for d in (await session.execute(
        select(CaseDeadline).where(CaseDeadline.case_id == case.id)
        .order_by(CaseDeadline.done_at.is_not(None), CaseDeadline.due_on))).scalars()]
    events = list((await session.execute(select(CaseEvent).where(CaseEvent.case_id == case.id)
                                         .order_by(CaseEvent.at.desc()))).scalars())
    notes = list((await session.execute(select(CaseNote).where(CaseNote.case_id == case.id)
                                        .order_by(CaseNote.created_at.desc()))).scalars())
    documents = list((await session.execute(select(CaseDocument).where(
        CaseDocument.case_id == case.id).order_by(CaseDocument.created_at.desc()))).scalars())
    exports = list((await session.execute(select(CaseExport).where(
        CaseExport.case_id == case.id).order_by(CaseExport.created_at.desc()))).scalars())
    names = await _names(session, {case.lawyer_id}) if agency else {}
    webhook = (await session.execute(select(CaseWebhook.url).where(
        CaseWebhook.tenant_id == case.tenant_id, CaseWebhook.active.is_(True)))
               ).scalar_one_or_none() if agency else None

    own = set() if agency else set((await session.execute(select(User.email).where(
        User.tenant_id == principal.tenant_id))).scalars())

    def who(email: str | None) -> str:
        # Agency staff appear to a creditor's staff as a team, as in the debtor file.
        if not email:
            return "Régua"
        return email if agency or email in own else LEGAL_TEAM

    editing = principal.role in EDITING_ROLES
    current = CaseState(case.state)
    return CaseView(
        id=case.id, code=case.code, tenant_id=case.tenant_id, tenant_name=tenant.trade_name,
        debtor_id=debtor.id, debtor_name=debtor.name,
        document=Masker(principal.role).document(debtor.document_kind, debtor.document),
        state=case.state, state_label=CASE_STATE_LABELS[current],
        next_states=[(s.value, CASE_STATE_LABELS[s]) for s in CaseState
                     if s in TRANSITIONS[current]],
        lawyer_id=case.lawyer_id, lawyer_name=_lawyer_label(principal, case.lawyer_id, names),
        lawyers=await lawyers_for(session, [case.tenant_id]) if editing else [],
        court_number=cnj.formatted(case.court_number), court_name=case.court_name,
        filed_on=case.filed_on, amount=case.amount, reason=case.reason,
        opened_at=case.opened_at, state_changed_at=case.state_changed_at,
        closed_at=case.closed_at, dossier_version=case.dossier_version, debts=debts,
        deadlines=deadlines,
        # The legal team's notes are its own working papers.
        notes=[EventView(n.created_at, n.body, n.author_email, None) for n in notes]
        if agency else [],
        documents=[_document(d, agency) for d in documents
                   if d.origin != DocumentOrigin.GENERATED],
        dossiers=[_document(d, agency) for d in documents
                  if d.origin == DocumentOrigin.GENERATED] if agency else [],
        events=[EventView(e.at, _event_text(e), who(e.actor_email), e.note) for e in events],
        exports=[ExportView(x.id, x.kind, x.dossier_version, x.url, x.status, x.http_status,
                            x.error, x.expires_at, x.fetch_count, x.last_fetched_at,
                            x.created_by_email, x.created_at, x.attempts, x.next_attempt_at,
                            x.delivered_at) for x in exports] if agency else [],
        webhook_url=webhook, may_edit=editing,
        may_upload=principal.role in UPLOADING_ROLES and current != CaseState.CLOSED,
        may_download_dossier=principal.role in DOSSIER_ROLES, today=today)


def _event_text(e: CaseEvent) -> str:
    label = EVENT_TEXTS.get(e.kind, e.kind)
    if e.kind == "opened":
        return label
    if e.kind == "state":
        return (f"{label}: {CASE_STATE_LABELS.get(CaseState(e.from_value), e.from_value)}"
                f" → {CASE_STATE_LABELS[CaseState(e.to_value)]}") if e.from_value and e.to_value \
            else label
    if e.from_value and e.to_value:
        return f"{label}: {e.from_value} → {e.to_value}"
    if e.to_value:
        return f"{label}: {e.to_value}"
    return label


def _document(d: CaseDocument, agency: bool) -> DocumentView:
    by = d.uploaded_by_email
    if not agency and d.origin != DocumentOrigin.CREDITOR:
        by = LEGAL_TEAM
    return DocumentView(d.id, d.kind, DOCUMENT_KIND_LABELS[DocumentKind(d.kind)], d.origin,
                        DOCUMENT_ORIGIN_LABELS[DocumentOrigin(d.origin)], d.version,
                        d.file_name, d.size, d.sha256, d.description, by, d.created_at)


# ---- working a case ----------------------------------------------------------------------

def _state(value: str | None) -> CaseState:
    try:
        return CaseState(value or "")
    except ValueError:
        raise ValidationFailed({"state": "escolha a nova situação"}) from None


def _day(value: str | dt.date | None, field_name: str) -> dt.date | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ValidationFailed({field_name: "data inválida (use AAAA-MM-DD)"}) from None


@dataclass
class CourtData:
    court_number: str | None = None  # as typed; None leaves it as it is
    court_name: str | None = None
    filed_on: str | dt.date | None = None


async def _apply_court(session: AsyncSession, principal: Principal, case: LegalCase,
                       data: CourtData) -> None:
    errors: dict[str, str] = {}
    number = case.court_number
    if data.court_number is not None and data.court_number.strip():
        try:
            number = cnj.normalize(data.court_number)
        except ValueError as exc:
            errors["court_number"] = str(exc)
    filed = case.filed_on
    try:
        filed = _day(data.filed_on, "filed_on") or filed
    except ValidationFailed as exc:
        errors.update(exc.detail if isinstance(exc.detail, dict) else {})
    name = case.court_name
    if data.court_name is not None:
        name = data.court_name.strip() or None
        if name and len(name) > 200:
            errors["court_name"] = "use no máximo 200 caracteres"
    if filed and filed > await today_of(session, case.tenant_id):
        errors["filed_on"] = "a data de ajuizamento não pode estar no futuro"
    if errors:
        raise ValidationFailed(errors)
    if number and number != case.court_number:
        other = (await session.execute(select(LegalCase).where(
            LegalCase.court_number == number, LegalCase.id != case.id,
            LegalCase.tenant_id == case.tenant_id))).scalar_one_or_none()
        if other is not None:
            raise Conflict({"court_number": f"este processo já está no caso {other.code}"})
    before = (cnj.formatted(case.court_number), case.court_name, case.filed_on)
    case.court_number, case.court_name, case.filed_on = number, name, filed
    after = (cnj.formatted(number), name, filed)
    if before != after:
        shown = f"processo {after[0] or '-'}, {after[1] or 'vara não informada'}, ajuizado em" \
                f" {filed.strftime('%d/%m/%Y') if filed else '-'}"
        add_event(session, principal, case, "court", None, shown[:200])
        await audit_case(session, principal, case, "court_set",
                     {"court_number": before[0], "court_name": before[1], "filed_on": before[2]},
                     {"court_number": after[0], "court_name": after[1], "filed_on": after[2]})


async def set_court(principal: Principal, case_id: uuid.UUID, data: CourtData) -> None:
    require(principal, EDITING_ROLES, "alterar casos do jurídico")
    async with transaction(principal) as session:
        case = await lock_case(session, await access_case(session, principal, case_id))
        if case.state == CaseState.CLOSED:
            raise Conflict({"state": "o caso está encerrado"})
        await _apply_court(session, principal, case, data)
        case.updated_at = dt.datetime.now(dt.UTC)


async def move(principal: Principal, case_id: uuid.UUID, to_state: str | None,
               note: str | None = None, court: CourtData | None = None) -> None:
    """Move the case along TRANSITIONS. Filing needs the process number and date (given
    here or before); closing closes the escalations the case holds."""
    require(principal, EDITING_ROLES, "alterar casos do jurídico")
    target = _state(to_state)
    text = (note or "").strip() or None
    if text and len(text) > 1000:
        raise ValidationFailed({"note": "use no máximo 1000 caracteres"})
    async with transaction(principal) as session:
        case = await lock_case(session, await access_case(session, principal, case_id))
        current = CaseState(case.state)
        if target not in TRANSITIONS[current]:
            raise Conflict({"state": f"um caso {CASE_STATE_LABELS[current]} não passa a"
                                     f" {CASE_STATE_LABELS[target]}"})
        if court is not None:
            await _apply_court(session, principal, case, court)
        if target in IN_COURT:
            missing = {}
            if not case.court_number:
                missing["court_number"] = "informe o número do processo (CNJ) para ajuizar"
            if not case.filed_on:
                missing["filed_on"] = "informe a data de ajuizamento"
            if missing:
                raise ValidationFailed(missing)
        now = dt.datetime.now(dt.UTC)
        case.state, case.state_changed_at, case.updated_at = target, now, now
        if target == CaseState.CLOSED:
            case.closed_at = now
            held = (await session.execute(
                select(Escalation).join(CaseEscalation, (
                    CaseEscalation.tenant_id == Escalation.tenant_id)
                    & (CaseEscalation.escalation_id == Escalation.id))
                .where(CaseEscalation.case_id == case.id, Escalation.closed_at.is_(None))
                .with_for_update(of=Escalation))).scalars()
            for escalation in held:
                await journal.move(session, principal, escalation, EscalationState.CLOSED,
                                   note=f"caso {case.code} encerrado" + (f": {text}" if text
                                                                         else ""))
            legal_holds = (await session.execute(select(Hold.id).where(
                Hold.debtor_id == case.debtor_id, Hold.kind == HoldKind.LEGAL,
                Hold.ends_at.is_(None), Hold.reason == _hold_reason(case)))).scalars().all()
            for hold_id in legal_holds:
                await holds.end_hold(session, principal, HoldId(hold_id),
                                     f"caso {case.code} encerrado")
        add_event(session, principal, case, "state", current, target, text)
        await audit_case(session, principal, case, "moved", {"state": current},
                     {"state": target, "note": text})


async def assign(principal: Principal, case_id: uuid.UUID, lawyer_id: uuid.UUID | None) -> None:
    require(principal, EDITING_ROLES, "alterar casos do jurídico")
    async with transaction(principal) as session:
        case = await lock_case(session, await access_case(session, principal, case_id))
        names = dict(await lawyers_for(session, [case.tenant_id]))
        if lawyer_id is not None and lawyer_id not in names:
            raise ValidationFailed({"lawyer_id": "escolha alguém do jurídico que trabalhe"
                                                 " este credor"})
        if lawyer_id == case.lawyer_id:
            return
        before = (await _names(session, {case.lawyer_id})).get(case.lawyer_id) \
            if case.lawyer_id else None
        case.lawyer_id = lawyer_id
        case.updated_at = dt.datetime.now(dt.UTC)
        add_event(session, principal, case, "lawyer", before,
               names[lawyer_id] if lawyer_id else "nenhum")
        await audit_case(session, principal, case, "assigned", {"lawyer_id": before},
                     {"lawyer_id": lawyer_id})


async def add_deadline(principal: Principal, case_id: uuid.UUID, what: str | None,
                       due_on: str | dt.date | None) -> uuid.UUID:
    require(principal, EDITING_ROLES, "alterar casos do jurídico")
    text = (what or "").strip()
    errors = {}
    if not text:
        errors["what"] = "diga qual é o prazo"
    elif len(text) > 300:
        errors["what"] = "use no máximo 300 caracteres"
    day = None
    try:
        day = _day(due_on, "due_on")
    except ValidationFailed as exc:
        errors.update(exc.detail if isinstance(exc.detail, dict) else {})
    if day is None and "due_on" not in errors:
        errors["due_on"] = "informe a data do prazo"
    if errors:
        raise ValidationFailed(errors)
    assert day is not None
    async with transaction(principal) as session:
        case = await lock_case(session, await access_case(session, principal, case_id))
        row = CaseDeadline(tenant_id=case.tenant_id, id=uuid7(), case_id=case.id, what=text,
                           due_on=day, created_by_email=principal.email)
        session.add(row)
        add_event(session, principal, case, "deadline", None,
               f"{text} até {day.strftime('%d/%m/%Y')}"[:200])
        await audit_case(session, principal, case, "deadline_added", None,
                     {"what": text, "due_on": day})
        return row.id


async def complete_deadline(principal: Principal, case_id: uuid.UUID,
                            deadline_id: uuid.UUID) -> None:
    require(principal, EDITING_ROLES, "alterar casos do jurídico")
    async with transaction(principal) as session:
        case = await lock_case(session, await access_case(session, principal, case_id))
        row = (await session.execute(select(CaseDeadline).where(
            CaseDeadline.id == deadline_id, CaseDeadline.case_id == case.id)
            .with_for_update())).scalar_one_or_none()
        if row is None:
            raise NotFound("prazo")
        if row.done_at is not None:
            return
        row.done_at, row.done_by_email = dt.datetime.now(dt.UTC), principal.email
        add_event(session, principal, case, "deadline", None,
               f"cumprido: {row.what}"[:200])
        await audit_case(session, principal, case, "deadline_done", None, {"what": row.what})


async def add_note(principal: Principal, case_id: uuid.UUID, body: str | None) -> None:
    require(principal, EDITING_ROLES, "alterar casos do jurídico")
    text = (body or "").strip()
    if not text:
        raise ValidationFailed({"body": "escreva a anotação"})
    if len(text) > 4000:
        raise ValidationFailed({"body": "use no máximo 4000 caracteres"})
    async with transaction(principal) as session:
        checked = await access_case(session, principal, case_id)
        tenant_id = (await session.execute(select(LegalCase.tenant_id).where(
            LegalCase.id == checked))).scalar_one()
        session.add(CaseNote(tenant_id=tenant_id, id=uuid7(), case_id=checked, body=text,
                             author_id=principal.user_id, author_email=principal.email))


async def regenerate(principal: Principal, case_id: uuid.UUID) -> int:
    """A new version of the dossier (figures to today, documents added since); the
    earlier versions stay."""
    require(principal, EDITING_ROLES, "gerar o dossiê")
    async with transaction(principal) as session:
        case = await lock_case(session, await access_case(session, principal, case_id))
        stored = await dossier.build_and_store(session, get_storage(), case,
                                               principal.user_id, principal.email)
        add_event(session, principal, case, "dossier", None, f"v{stored.version}")
        await audit_case(session, principal, case, "dossier_generated", None,
                     {"version": stored.version})
        return stored.version
