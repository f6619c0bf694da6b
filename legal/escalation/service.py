"""Escalations as people and jobs use them: the daily run of a tenant, the list and one
escalation with its history, hold and release, and a person's own "escalar".

Who may do what: agency admins, supervisors and the legal team see every tenant they
work, hold and release files and escalate by hand; a creditor's admin and viewer read
their own tenant's escalations; agents have no part here (403).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import access_debt, access_debtor, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.collection.workable import blocker_label
from core.db import Scope
from core.errors import Conflict, Forbidden, ValidationFailed
from core.models import Debt, Debtor, Tenant
from core.settings import Settings
from core.storage import Storage
from legal.escalation import bureau, journal, rules
from legal.escalation.adapters import BureauAdapter, adapter_for
from legal.escalation.bureau_models import BureauRemessa
from legal.escalation.journal import access_escalation
from legal.escalation.models import (
    FINISHED,
    PATH_LABELS,
    STATE_LABELS,
    Escalation,
    EscalationEvent,
    EscalationPath,
    EscalationState,
)
from legal.escalation.policy import policy_for

VIEW_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.LEGAL, Role.CREDITOR_ADMIN,
                        Role.CREDITOR_VIEWER})
ACT_ROLES = frozenset({Role.ADMIN, Role.SUPERVISOR, Role.LEGAL})
# States whose deadline passing is a fault (the removal the law gives 5 business days).
OVERDUE_STATES = (EscalationState.REMOVAL_PENDING,)
AGENCY_TEAM = "equipe da assessoria"


def may_view(principal: Principal) -> None:
    if principal.role not in VIEW_ROLES:
        raise Forbidden("seu perfil não tem acesso aos escalonamentos")


def may_act(principal: Principal) -> None:
    if principal.role not in ACT_ROLES:
        raise Forbidden("só supervisores, o jurídico e administradores da assessoria"
                        " retêm, liberam ou escalam títulos")


# ---- the daily run ------------------------------------------------------------------------

async def run(tenant_id: uuid.UUID, day: dt.date | None = None, *,
              adapter: BureauAdapter | None = None, storage: Storage | None = None,
              settings: Settings | None = None) -> dict[str, Any]:
    """One tenant's day: evaluate the rules, cancel what a stop condition halts, send the
    notices, start removals, write the remessas and send them to the bureau. `day` runs
    it as of that day's noon in the tenant's zone. Idempotent: a second run of the same
    day finds nothing new to do."""
    principal = Principal.system(Scope.tenant(tenant_id))
    counts = bureau.Counts()
    async with transaction(principal) as session:
        tenant = (await session.execute(select(Tenant).where(Tenant.id == tenant_id))
                  ).scalar_one()
        zone = ZoneInfo(tenant.timezone)
        at = (dt.datetime.combine(day, dt.time(12), zone) if day is not None
              else dt.datetime.now(dt.UTC))
        policy = await policy_for(session, tenant_id)
        margin = max(policy.notice_days, policy.notice_days_sp) + 1
        opened = await rules.evaluate(session, principal, tenant_id, at, margin)
        counts.cancelled += await bureau.cancel_stopped(session, principal, tenant_id, at)
        await bureau.send_notices(session, principal, tenant_id, at, policy, counts)
        await bureau.start_removals(session, principal, tenant, at, policy, counts)
        name = adapter.name if adapter is not None else "serasa_pefin"
        await bureau.prepare_remessas(session, principal, tenant, at, name, counts)
    await bureau.transmit(tenant_id, at, counts, adapter=adapter or _adapter(settings),
                          storage=storage, settings=settings)
    async with transaction(principal) as session:
        overdue = await overdue_removals(session, tenant_id, at.astimezone(zone).date())
    return {"date": at.astimezone(zone).date().isoformat(),
            "opened": {p.value: opened.get(p.value, 0) for p in EscalationPath},
            "cancelled": counts.cancelled, "notices": counts.notices,
            "notices_waiting": counts.notices_waiting,
            "removals_started": counts.removals_started, "remessas": counts.remessas,
            "listed": counts.listed, "removed": counts.removed, "expired": counts.expired,
            "rejected": counts.rejected, "removals_overdue": overdue,
            "bureau_errors": counts.bureau_errors}


def _adapter(settings: Settings | None) -> BureauAdapter | None:
    """The configured bureau, or None to let `transmit` report it unreachable per remessa."""
    from core.settings import get_settings

    try:
        return adapter_for(settings or get_settings())
    except RuntimeError:
        return None


async def overdue_removals(session: AsyncSession, tenant_id: uuid.UUID | None,
                           today: dt.date) -> int:
    query = select(func.count()).select_from(Escalation).where(
        Escalation.state.in_(OVERDUE_STATES), Escalation.deadline_on < today,
        Escalation.closed_at.is_(None))
    if tenant_id is not None:
        query = query.where(Escalation.tenant_id == tenant_id)
    return int((await session.execute(query)).scalar_one())


# ---- reading ------------------------------------------------------------------------------

@dataclass
class Row:
    id: uuid.UUID
    tenant_id: uuid.UUID
    tenant_name: str
    debtor_id: uuid.UUID
    debtor_name: str
    contract: str
    installment: int
    due_date: dt.date
    path: str
    path_label: str
    state: str
    state_label: str
    rule_name: str
    amount: Any
    decided_at: dt.datetime
    state_changed_at: dt.datetime
    deadline_on: dt.date | None
    held_since: dt.datetime | None
    held_reason: str | None
    overdue: bool

    def as_json(self) -> dict[str, Any]:
        return {k: (str(v) if isinstance(v, uuid.UUID) else v) for k, v in vars(self).items()}


@dataclass
class Filters:
    tenant_id: uuid.UUID | None = None
    path: str | None = None
    state: str | None = None
    held: bool | None = None
    overdue: bool = False
    debtor_id: uuid.UUID | None = None
    open_only: bool = False
    as_of: dt.date | None = None  # the day deadlines are judged against (default: today)


LIST = """
SELECT e.id, e.tenant_id, t.trade_name AS tenant_name, e.debtor_id, b.name AS debtor_name,
       x.contract, x.installment, x.due_date, e.path, e.state, e.rule_name, e.amount,
       e.decided_at, e.state_changed_at, e.deadline_on, e.held_since, e.held_reason,
       (e.state IN :overdue_states AND e.closed_at IS NULL AND e.deadline_on < :today)
         AS overdue
FROM escalation e
JOIN debt x ON x.tenant_id = e.tenant_id AND x.id = e.debt_id
JOIN debtor b ON b.tenant_id = e.tenant_id AND b.id = e.debtor_id
JOIN tenant t ON t.id = e.tenant_id
WHERE (CAST(:tenant AS uuid) IS NULL OR e.tenant_id = :tenant)
  AND (CAST(:path AS text) IS NULL OR e.path = :path)
  AND (CAST(:state AS text) IS NULL OR e.state = :state)
  AND (CAST(:held AS boolean) IS NULL OR (e.held_since IS NOT NULL) = :held)
  AND (NOT :overdue OR (e.state IN :overdue_states AND e.closed_at IS NULL
                        AND e.deadline_on < :today))
  AND (CAST(:debtor AS uuid) IS NULL OR e.debtor_id = :debtor)
  AND (NOT :open_only OR e.closed_at IS NULL)
ORDER BY e.state_changed_at DESC, e.id DESC
LIMIT :limit
"""


def _row(r: Any) -> Row:
    return Row(id=r.id, tenant_id=r.tenant_id, tenant_name=r.tenant_name,
               debtor_id=r.debtor_id, debtor_name=r.debtor_name, contract=r.contract,
               installment=r.installment, due_date=r.due_date, path=r.path,
               path_label=PATH_LABELS[EscalationPath(r.path)], state=r.state,
               state_label=STATE_LABELS[EscalationState(r.state)], rule_name=r.rule_name,
               amount=r.amount, decided_at=r.decided_at, state_changed_at=r.state_changed_at,
               deadline_on=r.deadline_on, held_since=r.held_since, held_reason=r.held_reason,
               overdue=bool(r.overdue))


async def _today(session: AsyncSession, principal: Principal) -> dt.date:
    zone = "America/Sao_Paulo"
    if principal.tenant_id is not None:
        zone = (await session.execute(select(Tenant.timezone).where(
            Tenant.id == principal.tenant_id))).scalar_one_or_none() or zone
    return dt.datetime.now(ZoneInfo(zone)).date()


async def rows_in(session: AsyncSession, principal: Principal, filters: Filters,
                  limit: int = 500) -> list[Row]:
    statement = text(LIST).bindparams(bindparam("overdue_states", expanding=True))
    found = await session.execute(statement, {
        "tenant": filters.tenant_id, "path": filters.path, "state": filters.state,
        "held": filters.held, "overdue": filters.overdue, "debtor": filters.debtor_id,
        "open_only": filters.open_only,
        "today": filters.as_of or await _today(session, principal),
        "overdue_states": [s.value for s in OVERDUE_STATES], "limit": limit})
    return [_row(r) for r in found]


@dataclass
class Listing:
    rows: list[Row]
    by_state: dict[str, int]
    overdue: int
    held: int


async def listing(principal: Principal, filters: Filters) -> Listing:
    may_view(principal)
    if filters.path is not None and filters.path not in {p.value for p in EscalationPath}:
        raise ValidationFailed({"path": "caminho inválido; use bureau, protest ou judicial"})
    if filters.state is not None and filters.state not in {s.value for s in EscalationState}:
        raise ValidationFailed({"state": "situação inválida"})
    async with transaction(principal) as session:
        rows = await rows_in(session, principal, filters)
        scope: Any = Escalation.closed_at.is_(None)
        if filters.tenant_id is not None:
            scope = scope & (Escalation.tenant_id == filters.tenant_id)
        by_state = {state: n for state, n in await session.execute(
            select(Escalation.state, func.count()).where(scope).group_by(Escalation.state))}
        held = int((await session.execute(select(func.count()).select_from(Escalation).where(
            scope, Escalation.held_since.is_not(None)))).scalar_one())
        overdue = await overdue_removals(session, filters.tenant_id,
                                         filters.as_of or await _today(session, principal))
    return Listing(rows, by_state, overdue, held)


@dataclass
class Event:
    at: dt.datetime
    from_label: str | None
    to_label: str
    who: str
    rule_name: str | None
    note: str | None


@dataclass
class Detail:
    row: Row
    debtor_document: str
    debtor_state: str | None
    decided_by_rule: bool
    events: list[Event]
    remessas: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)
    finished: bool = False


async def detail(principal: Principal, escalation_id: uuid.UUID) -> Detail:
    may_view(principal)
    async with transaction(principal) as session:
        checked = await access_escalation(session, principal, escalation_id)
        escalation = (await session.execute(select(Escalation).where(
            Escalation.id == checked))).scalar_one()
        found = [r for r in await rows_in(session, principal, Filters(
            tenant_id=escalation.tenant_id, debtor_id=escalation.debtor_id)) if r.id == checked]
        debtor = (await session.execute(select(Debtor).where(
            Debtor.id == escalation.debtor_id))).scalar_one()
        events = list((await session.execute(select(EscalationEvent).where(
            EscalationEvent.escalation_id == checked).order_by(
            EscalationEvent.at, EscalationEvent.id))).scalars())
        remessas = [{"number": r.number, "operation": r.operation, "status": r.status,
                     "day": r.day, "accepted": r.accepted, "rejected": r.rejected,
                     "error": r.error}
                    for r in (await session.execute(select(BureauRemessa).where(
                        BureauRemessa.tenant_id == escalation.tenant_id,
                        text("CAST(:e AS uuid) = ANY (bureau_remessa.escalation_ids)"))
                        .params(e=checked).order_by(BureauRemessa.number))).scalars()]
    creditor_view = not principal.role.is_agency
    return Detail(
        row=found[0], debtor_document=debtor.document, debtor_state=debtor.state,
        decided_by_rule=escalation.rule_id is not None,
        events=[Event(e.at, STATE_LABELS.get(EscalationState(e.from_state))
                      if e.from_state else None,
                      STATE_LABELS[EscalationState(e.to_state)],
                      (AGENCY_TEAM if creditor_view else e.actor_email or "") if e.actor_id
                      else (f"regra “{e.rule_name}”" if e.rule_name and e.rule_name != "manual"
                            else "Régua (rotina diária)"),
                      e.rule_name, e.note) for e in events],
        remessas=remessas, details=dict(escalation.details),
        finished=escalation.state in FINISHED)


# ---- people's actions ----------------------------------------------------------------------

def _reason(reason: str) -> str:
    clean = " ".join((reason or "").split())
    if not clean:
        raise ValidationFailed({"reason": "motivo: obrigatório"})
    if len(clean) > 500:
        raise ValidationFailed({"reason": f"motivo: use no máximo 500 caracteres"
                                          f" (foram {len(clean)})"})
    return clean


async def _locked(session: AsyncSession, principal: Principal,
                  escalation_id: uuid.UUID) -> Escalation:
    checked = await access_escalation(session, principal, escalation_id)
    return (await session.execute(select(Escalation).where(Escalation.id == checked)
                                  .with_for_update())).scalar_one()


async def hold(principal: Principal, escalation_id: uuid.UUID, reason: str) -> None:
    may_act(principal)
    clean = _reason(reason)
    async with transaction(principal) as session:
        await journal.hold(session, principal, await _locked(session, principal, escalation_id),
                           clean)


async def release(principal: Principal, escalation_id: uuid.UUID, reason: str) -> None:
    may_act(principal)
    clean = _reason(reason)
    async with transaction(principal) as session:
        await journal.release(session, principal,
                              await _locked(session, principal, escalation_id), clean)


async def tenant_choices(principal: Principal) -> list[tuple[uuid.UUID, str, str]]:
    """The tenants the principal works: id, name and CNPJ, by name."""
    async with transaction(principal) as session:
        rows = await session.execute(select(Tenant.id, Tenant.trade_name, Tenant.cnpj)
                                     .order_by(Tenant.trade_name))
        return [(r.id, r.trade_name, r.cnpj) for r in rows]


@dataclass
class Candidate:
    id: uuid.UUID
    contract: str
    installment: int
    due_date: dt.date
    balance: Any
    blocked: str | None  # why it may not be escalated (None: it may)
    escalation_id: uuid.UUID | None  # its unfinished escalation
    escalation_label: str | None


async def escalation_candidates(principal: Principal, debtor_id: uuid.UUID
                                ) -> tuple[Debtor, list[Candidate]]:
    """A debtor's placed debts, each with whether a person may escalate it now."""
    may_act(principal)
    async with transaction(principal) as session:
        checked = await access_debtor(session, principal, debtor_id)
        debtor = (await session.execute(select(Debtor).where(Debtor.id == checked))
                  ).scalar_one()
        rows = await session.execute(text(
            "SELECT x.id, x.contract, x.installment, x.due_date, x.current_balance,"
            " regua_debt_blocker(x, now()) AS code, e.id AS escalation_id, e.path, e.state"
            " FROM debt x LEFT JOIN escalation e ON e.tenant_id = x.tenant_id"
            " AND e.debt_id = x.id AND e.closed_at IS NULL"
            " WHERE x.tenant_id = :t AND x.debtor_id = :d AND x.status IN ('open', 'in_agreement')"
            " ORDER BY x.due_date, x.contract, x.installment"),
            {"t": debtor.tenant_id, "d": debtor.id})
        found = [Candidate(
            r.id, r.contract, r.installment, r.due_date, r.current_balance,
            blocker_label(r.code), r.escalation_id,
            f"{PATH_LABELS[EscalationPath(r.path)]}: {STATE_LABELS[EscalationState(r.state)]}"
            if r.escalation_id else None) for r in rows]
    return debtor, found


async def escalate(principal: Principal, debt_id: uuid.UUID, path: str,
                   note: str | None = None, *,
                   debtor_id: uuid.UUID | None = None) -> uuid.UUID:
    """A person sends one debt down a path; the stop conditions apply as to the rules."""
    may_act(principal)
    try:
        chosen = EscalationPath(path)
    except ValueError:
        raise ValidationFailed({"path": "caminho: use bureau (negativação), protest"
                                        " (protesto) ou judicial (cobrança judicial)"}) from None
    clean_note = " ".join((note or "").split()) or None
    if clean_note is not None and len(clean_note) > 1000:
        raise ValidationFailed({"note": "observação: use no máximo 1000 caracteres"})
    async with transaction(principal) as session:
        checked = await access_debt(session, principal, debt_id)
        debt = (await session.execute(select(Debt).where(Debt.id == checked)
                                      .with_for_update())).scalar_one()
        if debtor_id is not None and debt.debtor_id != debtor_id:
            raise ValidationFailed({"debt_id": "o título não é deste devedor"})
        code = (await session.execute(text(
            "SELECT regua_debt_blocker(x, now()) FROM debt x WHERE x.tenant_id = :t"
            " AND x.id = :d"), {"t": debt.tenant_id, "d": debt.id})).scalar_one()
        if code is not None:
            raise Conflict({"debt": f"título não pode ser escalado: {blocker_label(code)}"})
        if chosen is EscalationPath.BUREAU:
            zone = (await session.execute(select(Debtor.timezone).where(
                Debtor.id == debt.debtor_id))).scalar_one()
            if dt.datetime.now(ZoneInfo(zone)).date() >= bureau.listing_limit(debt.due_date):
                raise Conflict({"debt": "título não pode ser negativado: passou o limite de"
                                        " 5 anos do vencimento"})
        opened = await journal.open_escalation(
            session, principal, checked, chosen, rules.INITIAL_STATE[chosen],
            amount=debt.current_balance, note=clean_note or "escalado manualmente")
        return opened.id
