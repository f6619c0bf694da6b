"""The debts behind a figure: the same period, dimensions and definition as the figure,
read from the base tables (a list is a few hundred rows, found through indexes)."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import TenantId, access_tenant, transaction
from core.auth.principal import Principal
from core.documents import format_document
from core.errors import NotFound, ValidationFailed
from core.masking import mask_document, sees_in_full
from core.models import CHANNEL_LABELS, DEBT_STATUS_LABELS
from legal.escalation.models import PATH_LABELS, STATE_LABELS
from reports.dashboard import NO_CADENCE, Filters, parse_filters
from reports.families import BAND_LABELS, BAND_SQL, CONTACT_OUTCOMES, Range, sql_list
from reports.refresh import tenant_clock

LIMIT = 500
EXPORT_LIMIT = 100_000

RD = "LEFT JOIN report_debtor rd ON rd.tenant_id = d.tenant_id AND rd.id = d.debtor_id"
IN_RANGE = "{c} >= :start_ts AND {c} < :end_ts"

# figure -> (title, level, the condition on `d` (a debt) that puts it behind the figure)
FIGURES: dict[str, tuple[str, str, str]] = {
    "faixa": ("Títulos colocados na faixa de atraso {label}", "debt", f"""
        {IN_RANGE.format(c="d.created_at")} AND (
        SELECT {BAND_SQL} FROM (SELECT (d.created_at AT TIME ZONE :tz)::date - d.due_date
                                AS days) od) = :key"""),
    "safra": ("Títulos colocados em {label} com pagamento à assessoria", "debt", f"""
        {IN_RANGE.format(c="d.created_at")} AND EXISTS (
        SELECT 1 FROM payment p WHERE p.tenant_id = d.tenant_id AND p.debt_id = d.id
          AND p.source = 'agency')"""),
    "contato": ("Títulos dos devedores contatados por {label}", "debtor", f"""
        d.debtor_id IN (SELECT i.debtor_id FROM interaction i
          WHERE i.tenant_id = :tenant AND {IN_RANGE.format(c="i.started_at")}
            AND i.channel = :key AND i.direction = 'outbound'
            AND i.outcome IN {sql_list(CONTACT_OUTCOMES)})"""),
    "mensagem": ("Títulos das mensagens enviadas: {label}", "debtor", """
        d.id IN (SELECT unnest(a.debt_ids) FROM cadence_action a
          WHERE a.tenant_id = :tenant AND a.day >= :start_day AND a.day < :end_day
            AND a.channel = :key AND a.step_day = :step
            AND a.state IN ('sent', 'delivered', 'read'))"""),
    "promessa": ("Títulos dos devedores com promessa {label}", "debtor", f"""
        d.debtor_id IN (SELECT ai.debtor_id FROM agenda_item ai
          CROSS JOIN LATERAL (
            SELECT coalesce(sum(p.amount), 0) >= coalesce(ai.amount, 0.01) AS kept
            FROM debt d2 JOIN payment p ON p.tenant_id = d2.tenant_id AND p.debt_id = d2.id
            WHERE d2.tenant_id = ai.tenant_id AND d2.debtor_id = ai.debtor_id
              AND p.source = 'agency' AND p.paid_on >= (ai.created_at AT TIME ZONE :tz)::date
              AND p.paid_on <= ai.promised_on) k
          WHERE ai.tenant_id = :tenant AND ai.kind = 'promise'
            AND {IN_RANGE.format(c="ai.created_at")}
            AND CASE :key WHEN 'cumprida' THEN k.kept
                          WHEN 'quebrada' THEN NOT k.kept AND ai.promised_on < :today
                          ELSE NOT k.kept AND ai.promised_on >= :today END)"""),
    "acordo": ("Títulos dos acordos {label}", "debtor", f"""
        d.id IN (SELECT ad.debt_id FROM agreement_debt ad JOIN agreement ag
                   ON ag.tenant_id = ad.tenant_id AND ag.id = ad.agreement_id
          WHERE ad.tenant_id = :tenant AND CASE :key
            WHEN 'made' THEN {IN_RANGE.format(c="ag.accepted_at")}
            WHEN 'settled' THEN {IN_RANGE.format(c="ag.settled_at")}
            ELSE {IN_RANGE.format(c="ag.broken_at")} END)"""),
    "escalonamento": ("Títulos escalonados: {label}", "debt", f"""
        d.id IN (SELECT e.debt_id FROM escalation e
          WHERE e.tenant_id = :tenant AND {IN_RANGE.format(c="e.decided_at")}
            AND e.path = :key AND e.state = :state)"""),
    "experimento": ("Títulos dos devedores da régua {label} que pagaram", "debtor", """
        rd.arm = :key AND rd.enrolled_on >= :start_day AND rd.enrolled_on < :end_day
        AND EXISTS (SELECT 1 FROM payment p WHERE p.tenant_id = d.tenant_id
                    AND p.debt_id = d.id AND p.source = 'agency'
                    AND p.paid_on >= rd.enrolled_on)"""),
    "honorarios": ("Títulos com pagamentos à assessoria no período", "debt", """
        EXISTS (SELECT 1 FROM payment p WHERE p.tenant_id = d.tenant_id AND p.debt_id = d.id
                AND p.source = 'agency' AND p.paid_on >= :start_day
                AND p.paid_on < :end_day)"""),
}
KEY_LABELS = {"made": "feitos", "settled": "quitados", "broken": "quebrados",
              "cumprida": "cumprida", "quebrada": "quebrada", "aberta": "em aberto",
              "champion": "campeã", "challenger": "desafiante"}


@dataclass(frozen=True)
class DebtLine:
    debt_id: uuid.UUID
    debtor_id: uuid.UUID
    debtor_name: str
    document: str
    contract: str
    installment: int
    due_date: dt.date
    placed_on: dt.date
    status: str
    original_amount: Decimal
    current_balance: Decimal
    recovered: Decimal


@dataclass
class Detail:
    tenant_id: uuid.UUID
    figure: str
    key: str
    title: str
    filters: Filters
    total: int
    lines: list[DebtLine]


def _label(figure: str, key: str) -> str:
    if figure == "faixa":
        return BAND_LABELS.get(key, key)
    if figure == "safra":
        return f"{key[5:]}/{key[:4]}"
    if figure == "contato":
        return CHANNEL_LABELS.get(key, key)  # type: ignore[call-overload, no-any-return]
    if figure == "mensagem":
        channel, _, step = key.partition(":")
        name = CHANNEL_LABELS.get(channel, channel)  # type: ignore[call-overload]
        return f"{name} no passo D{int(step):+d}"
    if figure == "escalonamento":
        path, _, state = key.partition(":")
        return (f"{PATH_LABELS.get(path, path)}, "  # type: ignore[call-overload]
                f"{STATE_LABELS.get(state, state)}")  # type: ignore[call-overload]
    return KEY_LABELS.get(key, key)


def _key_params(figure: str, key: str) -> dict[str, Any]:
    if figure == "mensagem":
        channel, _, step = key.partition(":")
        try:
            return {"key": channel, "step": int(step)}
        except ValueError:
            raise ValidationFailed({"chave": "passo inválido"}) from None
    if figure == "escalonamento":
        path, _, state = key.partition(":")
        return {"key": path, "state": state}
    return {"key": key}


async def debts(session: AsyncSession, principal: Principal, tenant_id: TenantId,
                filters: Filters, figure: str, key: str, limit: int = LIMIT) -> Detail:
    if figure not in FIGURES:
        raise NotFound("indicador")
    title, level, condition = FIGURES[figure]
    tz, today, now = await tenant_clock(session, tenant_id)
    if figure == "safra":  # one placement month of the period
        start = dt.date.fromisoformat(f"{key}-01") if len(key) == 7 else None
        if start is None or not filters.start <= start <= filters.end:
            raise ValidationFailed({"chave": "mês de colocação fora do período"})
        span = Range(tenant_id, tz, start, Filters(start, start).end_exclusive, today, now)
    else:
        span = Range(tenant_id, tz, filters.start, filters.end_exclusive, today, now)
    params = {**span.params(), **_key_params(figure, key)}
    dims = []
    if filters.portfolio_id is not None:
        dims.append(("d" if level == "debt" else "rd") + ".portfolio_id = :portfolio")
        params["portfolio"] = filters.portfolio_id
    if filters.segment:
        dims.append("coalesce(rd.segment, 'sem_segmento') = :segment")
        params["segment"] = filters.segment
    if filters.cadence == NO_CADENCE:
        dims.append("rd.cadence_id IS NULL")
    elif filters.cadence:
        dims.append("rd.cadence_id = :cadence")
        params["cadence"] = uuid.UUID(filters.cadence)
    where = f"d.tenant_id = :tenant AND {condition}" + "".join(f" AND {c}" for c in dims)
    total = (await session.execute(text(f"SELECT count(*) FROM debt d {RD} WHERE {where}"),
                                   params)).scalar_one()
    rows = (await session.execute(text(f"""
        SELECT d.id, d.debtor_id, db.name, db.document_kind, db.document, d.contract,
               d.installment, d.due_date, (d.created_at AT TIME ZONE :tz)::date, d.status,
               d.original_amount, d.current_balance,
               (SELECT coalesce(sum(p.amount), 0) FROM payment p
                WHERE p.tenant_id = d.tenant_id AND p.debt_id = d.id AND p.source = 'agency')
        FROM debt d {RD}
        JOIN debtor db ON db.tenant_id = d.tenant_id AND db.id = d.debtor_id
        WHERE {where}
        ORDER BY db.name, d.contract, d.installment LIMIT :limit"""),
        {**params, "limit": limit})).all()
    full = sees_in_full(principal.role)
    lines = [DebtLine(r[0], r[1], r[2], format_document(r[3], r[4]) if full
                      else mask_document(r[3], r[4]), r[5], r[6], r[7], r[8],
                      str(DEBT_STATUS_LABELS.get(r[9], r[9])),
                      r[10], r[11], r[12]) for r in rows]
    return Detail(tenant_id, figure, key, title.format(label=_label(figure, key)), filters,
                  int(total), lines)


async def for_viewer(principal: Principal, tenant_id: uuid.UUID | None, figure: str,
                     key: str, query: dict[str, Any], limit: int = LIMIT) -> Detail:
    async with transaction(principal) as session:
        wanted = tenant_id or principal.tenant_id
        if wanted is None:
            raise NotFound("credor")
        checked = await access_tenant(session, principal, wanted)
        _, today, _ = await tenant_clock(session, checked)
        return await debts(session, principal, checked, parse_filters(today, **query),
                           figure, key, limit)
