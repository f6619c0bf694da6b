"""How cadence actions read to people (the debtor's timeline, the supervisor's pages)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.cadence.definition import When
from core.formatting import brl
from core.models import (
    ACTION_STATE_LABELS,
    STEP_CHANNEL_LABELS,
    ActionState,
    CadenceAction,
    MessageDispatch,
    StepChannel,
)
from core.scoring.rules import SEGMENT_LABELS

REASON_LABELS = {
    "opted_out": "o devedor pediu para não ser contatado por este canal",
    "no_contact_point": "nenhum contato utilizável neste canal",
    "holiday": "feriado no estado do devedor",
    "closed_day": "dia sem contato permitido",
    "outside_hours": "fora do horário permitido",
    "tenant_window": "fora do horário do credor",
    "tenant_quiet_day": "dia sem contatos definido pelo credor",
    "day_over": "o dia já terminou",
    "cap_day": "limite diário de contatos atingido",
    "cap_week": "limite semanal de contatos atingido",
    "cap_answered_day": "limite diário de contatos atendidos atingido",
    "cap_answered_week": "limite semanal de contatos atendidos atingido",
    "prescribed": "dívida prescrita",
}


def reason_label(code: str | None) -> str:
    if not code:
        return ""
    if code.startswith("hold:"):
        return "bloqueio: " + code.split(":", 1)[1]
    if code.startswith("status:"):
        return "título não está em aberto"
    return REASON_LABELS.get(code, code)


@dataclass(frozen=True)
class ActionLine:
    at: dt.datetime
    title: str
    detail: str


def step_label(day: int) -> str:
    return f"D{day:+d}" if day else "D0"


def when_label(when: When) -> str:
    """A step's conditions as a supervisor reads them, e.g. "score até 599 · UF SP ou RJ"."""
    parts = []
    if when.score_min is not None and when.score_max is not None:
        parts.append(f"score de {when.score_min} a {when.score_max}")
    elif when.score_min is not None:
        parts.append(f"score a partir de {when.score_min}")
    elif when.score_max is not None:
        parts.append(f"score até {when.score_max}")
    if when.amount_min is not None:
        parts.append(f"saldo a partir de {brl(when.amount_min)}")
    if when.amount_max is not None:
        parts.append(f"saldo até {brl(when.amount_max)}")
    if when.states:
        parts.append("UF " + " ou ".join(when.states))
    if when.segments:
        parts.append("segmento " + " ou ".join(SEGMENT_LABELS.get(s, s) for s in when.segments))
    return " · ".join(parts)


async def action_lines(session: AsyncSession, debtor_id: uuid.UUID,
                       limit: int) -> list[ActionLine]:
    rows = (await session.execute(
        select(CadenceAction, MessageDispatch.status)
        .outerjoin(MessageDispatch, (MessageDispatch.tenant_id == CadenceAction.tenant_id)
                   & (MessageDispatch.id == CadenceAction.dispatch_id))
        .where(CadenceAction.debtor_id == debtor_id)
        .order_by(CadenceAction.day.desc(), CadenceAction.created_at.desc()).limit(limit)
    )).all()
    out = []
    for action, dispatch_status in rows:
        state = ActionState(action.state)
        if dispatch_status in ("delivered", "read") and state in (ActionState.SENT,
                                                                 ActionState.DELIVERED):
            state = ActionState(dispatch_status)  # the provider's report, ahead of the sweep
        channel = STEP_CHANNEL_LABELS[StepChannel(action.channel)]
        parts = [f"passo {step_label(action.step_day)} de {action.day.strftime('%d/%m/%Y')}",
                 f"{len(action.debt_ids)} título(s)"]
        if action.fallback_of is not None or action.channel != action.step_channel:
            parts.append("canal alternativo de "
                         + STEP_CHANNEL_LABELS[StepChannel(action.step_channel)])
        if action.reason and state in (ActionState.BLOCKED, ActionState.FAILED,
                                       ActionState.EXPIRED):
            parts.append(reason_label(action.reason))
        out.append(ActionLine(action.updated_at, f"Régua: {channel} "
                              f"{ACTION_STATE_LABELS[state]}", " · ".join(parts)))
    return out
