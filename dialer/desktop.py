"""What the agent desktop and the supervisor page show and do, one transaction each.

The desktop: the agent's session in its campaigns (state, since when, why paused), the
campaigns it may join, its agenda, and the debtor on screen. The supervisor's board:
per campaign, agents by state, calls ringing and in progress, dial level, today's answer
and abandoned rates against the target.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import access_tenant, transaction
from core.auth.principal import Principal
from core.auth.roles import Role
from core.debtors.file import debtor_file
from core.debtors.schemas import DebtorFile
from core.errors import Forbidden, NotFound, ValidationFailed
from core.formatting import brl
from core.models import Tenant
from core.phones import normalize_phone
from core.scoring.rules import BAND_LABELS, SEGMENT_LABELS
from core.zones import ZONE_BY_UF
from dialer import agenda, campaigns
from dialer.models import (
    AgentSession,
    AgentState,
    CallOutcome,
    CallRecord,
    Campaign,
    CampaignEntry,
    CampaignMode,
    CampaignStatus,
    EntryState,
)

STATE_LABELS = {AgentState.READY: "Disponível", AgentState.TALKING: "Em ligação",
                AgentState.WRAP_UP: "Pós-atendimento", AgentState.PAUSED: "Em pausa",
                AgentState.LOGGED_OUT: "Fora das campanhas"}
STATUS_LABELS = {CampaignStatus.ACTIVE: "Em andamento", CampaignStatus.PAUSED: "Pausada",
                 CampaignStatus.STOPPED: "Encerrada"}
SUPERVISORS = (Role.ADMIN, Role.SUPERVISOR)
WINDOW = dt.timedelta(minutes=30)  # pacing.Measurements.window_s


@dataclass(frozen=True)
class CampaignChoice:
    id: uuid.UUID
    name: str
    tenant_name: str
    status: str
    status_label: str


@dataclass(frozen=True)
class AgentView:
    state: str
    state_label: str
    since: dt.datetime
    reason: str | None
    sip_uri: str
    campaigns: list[str]
    wrap_up_seconds: int
    call_id: uuid.UUID | None


CALL_LABELS = {CallOutcome.ANSWERED: "Ligação encerrada", CallOutcome.BUSY: "Ocupado",
               CallOutcome.NO_ANSWER: "Não atendeu", CallOutcome.REJECTED: "Recusada",
               CallOutcome.FAILED: "Falhou", CallOutcome.CONGESTION: "Rede congestionada",
               CallOutcome.INVALID: "Número inexistente",
               CallOutcome.ABANDONED: "Atendida sem operador"}


@dataclass(frozen=True)
class CallView:
    id: uuid.UUID
    number: str
    label: str  # Chamando…, Em ligação, or how it ended
    live: bool
    bridged: bool


@dataclass
class Desktop:
    agent: AgentView | None
    choices: list[CampaignChoice]
    agenda: list[agenda.Item]
    debtor: DebtorFile | None = None
    previewing: bool = False  # logged in to a preview campaign
    preview: campaigns.Preview | None = None  # the file the agent reads before calling
    call: CallView | None = None


def _call_view(record: CallRecord) -> CallView:
    if record.ended_at is not None:
        label = CALL_LABELS[CallOutcome(record.outcome)] if record.outcome else "Encerrada"
    else:
        label = "Em ligação" if record.bridged_at is not None else "Chamando…"
    return CallView(record.id, record.number, label, record.ended_at is None,
                    record.bridged_at is not None)


async def _choices(session: AsyncSession, principal: Principal) -> list[CampaignChoice]:
    rows = (await session.execute(
        select(Campaign.id, Campaign.name, Campaign.status, Tenant.trade_name)
        .join(Tenant, Tenant.id == Campaign.tenant_id)
        .where(Campaign.tenant_id.in_(sorted(principal.tenant_ids)),
               Campaign.status != CampaignStatus.STOPPED)
        .order_by(Tenant.trade_name, Campaign.name))).all()
    return [CampaignChoice(r.id, r.name, r.trade_name, r.status,
                           STATUS_LABELS[CampaignStatus(r.status)]) for r in rows]


async def desktop(principal: Principal, debtor_id: uuid.UUID | None = None,
                  call_id: uuid.UUID | None = None) -> Desktop:
    agenda.may_work_agenda(principal)
    previewing, preview, call = False, None, None
    async with transaction(principal) as session:
        choices = await _choices(session, principal)
        live = (await session.execute(select(AgentSession).where(
            AgentSession.user_id == principal.user_id,
            AgentSession.logged_out_at.is_(None)))).scalar_one_or_none()
        view = None
        if live is not None:
            names = {str(c.id): c.name for c in choices}
            wrap = (await session.execute(select(Campaign.wrap_up_seconds).where(
                Campaign.id == uuid.UUID(live.campaign_ids[0])))).scalar_one_or_none()
            view = AgentView(live.state, STATE_LABELS[AgentState(live.state)],
                             live.state_since, live.reason, live.sip_uri,
                             [names.get(c, "campanha") for c in live.campaign_ids],
                             wrap if wrap is not None else 20, live.call_id)
            previewing = (await session.execute(select(Campaign.id).where(
                Campaign.id.in_([uuid.UUID(c) for c in live.campaign_ids]),
                Campaign.mode == CampaignMode.PREVIEW).limit(1))).first() is not None
            preview = await campaigns.held_preview(session, principal)
        if call_id is not None:
            record = (await session.execute(select(CallRecord).where(
                CallRecord.id == call_id))).scalar_one_or_none()
            if record is None or (debtor_id is not None and record.debtor_id != debtor_id):
                raise NotFound("ligação")
            call = _call_view(record)
    items = await agenda.upcoming(principal)
    shown_id = debtor_id or (preview.debtor_id if preview and call is None else None)
    shown = await debtor_file(principal, shown_id) if shown_id else None
    return Desktop(view, choices, items, shown, previewing, preview, call)


async def login(principal: Principal, campaign_ids: list[str], sip_uri: str) -> None:
    agenda.may_work_agenda(principal)
    async with transaction(principal) as session:
        checked = []
        for raw in campaign_ids:
            try:
                wanted = uuid.UUID(raw)
            except ValueError:
                raise NotFound("campanha") from None
            checked.append(await campaigns.access_campaign(session, principal, wanted))
        await campaigns.login(session, principal, checked, sip_uri)


async def logout(principal: Principal) -> None:
    agenda.may_work_agenda(principal)
    async with transaction(principal) as session:
        await campaigns.logout(session, principal)


async def set_state(principal: Principal, state: str, reason: str | None) -> None:
    agenda.may_work_agenda(principal)
    async with transaction(principal) as session:
        await campaigns.set_agent_state(session, principal, state, reason)


# ---- the supervisor's board --------------------------------------------------------------

@dataclass(frozen=True)
class AgentRow:
    email: str
    state: str
    state_label: str
    since: dt.datetime
    reason: str | None


@dataclass
class Board:
    id: uuid.UUID
    name: str
    tenant_name: str
    mode: str
    mode_label: str
    status: str
    status_label: str
    target: Decimal
    max_lines: Decimal
    agents: list[AgentRow] = field(default_factory=list)
    by_state: dict[str, int] = field(default_factory=dict)
    ringing: int = 0
    in_progress: int = 0
    dial_level: Decimal | None = None  # lines out per agent taking calls
    ended_today: int = 0
    answered_today: int = 0
    abandoned_today: int = 0
    answered_window: int = 0  # answered (bridged or abandoned) in the last 30 minutes
    abandoned_window: int = 0
    listed: int = 0  # debtors on the list
    waiting: int = 0  # of them, still to be reached (pending or being dialed)
    filters_label: str = ""

    @property
    def answer_rate(self) -> Decimal | None:
        if not self.ended_today:
            return None
        return Decimal(self.answered_today + self.abandoned_today) / self.ended_today

    @property
    def abandon_rate(self) -> Decimal | None:
        answered = self.answered_today + self.abandoned_today
        return Decimal(self.abandoned_today) / answered if answered else None

    @property
    def window_rate(self) -> Decimal | None:
        """The rate the predictive pacing steers by: over the last 30 minutes."""
        if not self.answered_window:
            return None
        return Decimal(self.abandoned_window) / self.answered_window

    @property
    def over_target(self) -> bool:
        rate = self.abandon_rate
        return rate is not None and rate > self.target


def _supervisor(principal: Principal) -> None:
    if principal.role not in SUPERVISORS:
        raise Forbidden("apenas supervisores acompanham as campanhas")


async def boards(principal: Principal, now: dt.datetime | None = None) -> list[Board]:
    _supervisor(principal)
    now = now or dt.datetime.now(dt.UTC)
    midnight = now.astimezone(agenda.AGENCY_ZONE).replace(hour=0, minute=0, second=0,
                                                          microsecond=0)
    async with transaction(principal) as session:
        rows = (await session.execute(
            select(Campaign, Tenant.trade_name).join(Tenant, Tenant.id == Campaign.tenant_id)
            .where(Campaign.tenant_id.in_(sorted(principal.tenant_ids)))
            .order_by(Campaign.status, Tenant.trade_name, Campaign.name))).all()
        result: list[Board] = []
        sessions = list((await session.execute(select(AgentSession).where(
            AgentSession.logged_out_at.is_(None)).order_by(AgentSession.state_since)))
            .scalars())
        emails = await _emails(session, {s.user_id for s in sessions})
        for campaign, tenant_name in rows:
            board = Board(campaign.id, campaign.name, tenant_name, campaign.mode,
                          campaigns.MODE_LABELS[CampaignMode(campaign.mode)],
                          campaign.status, STATUS_LABELS[CampaignStatus(campaign.status)],
                          campaign.abandon_target, campaign.max_lines_per_agent)
            for s in sessions:
                if str(campaign.id) in s.campaign_ids:
                    board.agents.append(AgentRow(emails.get(s.user_id, "operador"), s.state,
                                                 STATE_LABELS[AgentState(s.state)],
                                                 s.state_since, s.reason))
                    board.by_state[s.state] = board.by_state.get(s.state, 0) + 1
            open_calls = (await session.execute(select(
                func.count().filter(CallRecord.answered_at.is_(None)),
                func.count().filter(CallRecord.answered_at.is_not(None))).where(
                CallRecord.tenant_id == campaign.tenant_id,
                CallRecord.campaign_id == campaign.id,
                CallRecord.ended_at.is_(None)))).one()
            board.ringing, board.in_progress = open_calls
            taking = sum(board.by_state.get(s, 0) for s in (AgentState.READY,
                                                              AgentState.TALKING))
            if taking:
                board.dial_level = (Decimal(board.ringing + board.in_progress) / taking
                                    ).quantize(Decimal("0.01"))
            today = (await session.execute(select(
                func.count(),
                func.count().filter(CallRecord.outcome == CallOutcome.ANSWERED),
                func.count().filter(CallRecord.outcome == CallOutcome.ABANDONED)).where(
                CallRecord.tenant_id == campaign.tenant_id,
                CallRecord.campaign_id == campaign.id,
                CallRecord.ended_at >= midnight))).one()
            board.ended_today, board.answered_today, board.abandoned_today = today
            window = (await session.execute(select(
                func.count().filter(CallRecord.outcome.in_((CallOutcome.ANSWERED,
                                                            CallOutcome.ABANDONED))),
                func.count().filter(CallRecord.outcome == CallOutcome.ABANDONED)).where(
                CallRecord.tenant_id == campaign.tenant_id,
                CallRecord.campaign_id == campaign.id,
                CallRecord.ended_at >= now - WINDOW))).one()
            board.answered_window, board.abandoned_window = window
            board.listed, board.waiting = (await session.execute(select(
                func.count(),
                func.count().filter(CampaignEntry.state.in_((EntryState.PENDING,
                                                             EntryState.DIALING)))).where(
                CampaignEntry.tenant_id == campaign.tenant_id,
                CampaignEntry.campaign_id == campaign.id))).one()
            board.filters_label = filters_label(campaign.filters)
            result.append(board)
        return result


async def _emails(session: AsyncSession, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    from core.models import User

    if not ids:
        return {}
    rows = await session.execute(select(User.id, User.email).where(User.id.in_(ids)))
    return {r.id: r.email for r in rows}


async def set_campaign_status(principal: Principal, campaign_id: uuid.UUID,
                              status: str) -> None:
    _supervisor(principal)
    if status not in (CampaignStatus.ACTIVE, CampaignStatus.PAUSED, CampaignStatus.STOPPED):
        raise ValidationFailed({"status": "situação inválida"})
    async with transaction(principal) as session:
        checked = await campaigns.access_campaign(session, principal, campaign_id)
        await campaigns.set_status(session, principal, checked, status)


# ---- a new campaign, from the supervisor's form ------------------------------------------

CAMPAIGN_FIELDS = ("tenant_id", "name", "mode", "days_overdue_min", "days_overdue_max",
                   "amount_min", "amount_max", "states", "ring_timeout_seconds",
                   "wrap_up_seconds", "callback_number", "start")
CAMPAIGN_CHOICES = ("bands", "segments")  # checkboxes: several values


def filters_label(filters: dict[str, Any]) -> str:
    """A campaign's filters as a supervisor reads them."""
    parts = []
    if "days_overdue_min" in filters:
        parts.append(f"atraso de {filters['days_overdue_min']} dias ou mais")
    if "days_overdue_max" in filters:
        parts.append(f"atraso até {filters['days_overdue_max']} dias")
    if "amount_min" in filters:
        parts.append(f"saldo a partir de {brl(filters['amount_min'])}")
    if "amount_max" in filters:
        parts.append(f"saldo até {brl(filters['amount_max'])}")
    if filters.get("states"):
        parts.append("UF " + ", ".join(filters["states"]))
    if filters.get("bands"):
        parts.append("score " + ", ".join(filters["bands"]))
    if filters.get("segments"):
        parts.append("segmento " + " ou ".join(SEGMENT_LABELS.get(s, s)
                                               for s in filters["segments"]))
    return "; ".join(parts) or "todos os devedores com título em cobrança"


def _campaign_form(form: Mapping[str, str | list[str]]
                   ) -> tuple[campaigns.NewCampaign, dict[str, str]]:
    """The form's typed strings as a new campaign, and what is wrong, by field."""
    errors: dict[str, str] = {}
    filters: dict[str, Any] = {}
    for name, known in (("bands", BAND_LABELS), ("segments", SEGMENT_LABELS)):
        chosen = form.get(name) or []
        picked = [chosen] if isinstance(chosen, str) else list(chosen)
        if any(value not in known for value in picked):
            errors[name] = "opção desconhecida"
        elif picked:
            filters[name] = sorted(set(picked))
    typed = {k: v for k, v in form.items() if isinstance(v, str)}
    for name in ("days_overdue_min", "days_overdue_max"):
        raw = typed.get(name, "").strip()
        if raw:
            if raw.isdigit():
                filters[name] = int(raw)
            else:
                errors[name] = "informe um número de dias (0 ou mais)"
    for name in ("amount_min", "amount_max"):
        raw = typed.get(name, "").strip().removeprefix("R$").strip()
        if raw:
            value = _decimal(raw)
            if value is None or value < 0:
                errors[name] = "informe um valor em reais (ex.: 1.500,00)"
            else:
                filters[name] = value
    states = [s.strip().upper() for s in typed.get("states", "").replace(";", ",").split(",")
              if s.strip()]
    if states:
        unknown = [s for s in states if s not in ZONE_BY_UF]
        if unknown:
            errors["states"] = f"UF desconhecida: {', '.join(unknown)} (use siglas: SP, RJ)"
        else:
            filters["states"] = states
    if ("days_overdue_min" in filters and "days_overdue_max" in filters
            and filters["days_overdue_min"] > filters["days_overdue_max"]):
        errors["days_overdue_max"] = "deve ser maior ou igual ao atraso mínimo"
    if ("amount_min" in filters and "amount_max" in filters
            and filters["amount_min"] > filters["amount_max"]):
        errors["amount_max"] = "deve ser maior ou igual ao saldo mínimo"
    whole = {}
    for name, default in (("ring_timeout_seconds", 25), ("wrap_up_seconds", 20)):
        raw = typed.get(name, "").strip()
        if not raw:
            whole[name] = default
        elif raw.isdigit():
            whole[name] = int(raw)
        else:
            errors[name] = "informe um número de segundos"
    callback = typed.get("callback_number", "").strip() or None
    if callback is not None:
        normalized = normalize_phone(callback)
        if normalized is None:
            errors["callback_number"] = "telefone inválido (ex.: (11) 3000-0000)"
        callback = normalized
    new = campaigns.NewCampaign(
        name=typed.get("name", ""), mode=typed.get("mode", "") or CampaignMode.PREDICTIVE,
        ring_timeout_seconds=whole.get("ring_timeout_seconds", 25),
        wrap_up_seconds=whole.get("wrap_up_seconds", 20), filters=filters,
        callback_number=callback)
    # The service's own checks too, so every wrong field shows at once (what the form
    # could not read keeps the form's message).
    return new, {**campaigns.campaign_errors(new), **errors}


async def create_campaign(principal: Principal, form: Mapping[str, str | list[str]]
                          ) -> tuple[uuid.UUID, int]:
    """A supervisor's new campaign: created, its list built, and started when asked
    (paused otherwise). Returns its id and how many debtors its list took."""
    _supervisor(principal)
    new, errors = _campaign_form(form)
    async with transaction(principal) as session:
        raw_tenant = form.get("tenant_id", "")
        try:
            tenant_id = await access_tenant(session, principal, uuid.UUID(str(raw_tenant)))
        except (ValueError, NotFound):
            errors["tenant_id"] = "escolha o credor"
        if errors:
            raise ValidationFailed(errors)
        try:
            row = await campaigns.create_campaign(session, principal, tenant_id, new)
        except ValidationFailed as exc:  # the service names its fields; so does the form
            detail = exc.detail if isinstance(exc.detail, dict) else {"_": str(exc.detail)}
            raise ValidationFailed({**errors, **detail}) from None
        checked = await campaigns.access_campaign(session, principal, row.id)
        added = await campaigns.build_list(session, principal, checked)
        if form.get("start"):
            await campaigns.set_status(session, principal, checked, CampaignStatus.ACTIVE)
        return row.id, added


async def refresh_list(principal: Principal, campaign_id: uuid.UUID) -> int:
    """Add the debtors who now match the campaign's filters (those on it keep their
    place and attempts); how many came in."""
    _supervisor(principal)
    async with transaction(principal) as session:
        checked = await campaigns.access_campaign(session, principal, campaign_id)
        status = (await session.execute(select(Campaign.status).where(
            Campaign.id == checked))).scalar_one()
        if status == CampaignStatus.STOPPED:
            raise ValidationFailed({"_": "uma campanha encerrada não recebe devedores"})
        return await campaigns.build_list(session, principal, checked)


def _decimal(raw: str) -> Decimal | None:
    """A number as typed on a Brazilian page ("2,5", "1.234,5", "3%"); None if it is not."""
    text = raw.strip().removesuffix("%").strip()
    if "," in text:
        text = text.replace(".", "").replace(",", ".")
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


async def set_pacing(principal: Principal, campaign_id: uuid.UUID, mode: str,
                     target_percent: str, max_lines: str) -> None:
    """The supervisor's pacing form: the target as a percentage ("2,5"), the cap as
    lines per agent ("2,5")."""
    _supervisor(principal)
    async with transaction(principal) as session:
        checked = await campaigns.access_campaign(session, principal, campaign_id)
        percent, lines = _decimal(target_percent), _decimal(max_lines)
        target = percent / 100 if percent is not None else campaigns.MAX_ABANDON_TARGET
        errors = campaigns.pacing_errors(mode, target,
                                         lines if lines is not None else Decimal("1"))
        if percent is None:
            errors["abandon_target"] = "informe a meta de abandono em % (ex.: 2,5)"
        if lines is None:
            errors["max_lines_per_agent"] = "informe o máximo de linhas por operador (ex.: 2,5)"
        if errors or lines is None:
            raise ValidationFailed(errors)
        await campaigns.set_pacing(session, principal, checked, mode, target, lines)


async def preview_next(principal: Principal, at: dt.datetime | None = None
                       ) -> campaigns.Preview | None:
    agenda.may_work_agenda(principal)
    async with transaction(principal) as session:
        return await campaigns.preview_next(session, principal, at)


async def preview_dial(principal: Principal, entry_id: uuid.UUID,
                       at: dt.datetime | None = None) -> campaigns.PreviewCall:
    agenda.may_work_agenda(principal)
    async with transaction(principal) as session:
        return await campaigns.preview_dial(session, principal, entry_id, at)


async def preview_skip(principal: Principal, entry_id: uuid.UUID, reason: str | None,
                       at: dt.datetime | None = None) -> None:
    agenda.may_work_agenda(principal)
    async with transaction(principal) as session:
        await campaigns.preview_skip(session, principal, entry_id, reason, at)


async def end_call(principal: Principal, call_id: uuid.UUID) -> None:
    agenda.may_work_agenda(principal)
    async with transaction(principal) as session:
        await campaigns.end_call(session, principal, call_id)
