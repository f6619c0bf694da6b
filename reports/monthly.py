"""The monthly report: a PDF of one tenant's month (the dashboard for that month, with
the vintage of the twelve months up to it), written by `regua report monthly` and
e-mailed to the creditor's users early each month through the e-mail channel.

Sending is once per month and user (`report_delivery`, unique): each user's send runs
under an advisory lock and commits its row, so a retried job skips who already got it.
A process that dies between the SMTP answer and that commit sends that one again.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from core.access import TenantId, transaction
from core.auth.roles import Role
from core.channels import email, sandbox
from core.channels.base import Attachment, Outgoing
from core.formatting import brl
from core.models import User
from core.settings import get_settings
from reports import dashboard, exports, tables
from reports.charts import pct
from reports.families import months, next_month
from reports.refresh import system, tenant_clock

log = logging.getLogger("regua.reports")
SEND_UNTIL_DAY = 7  # the job sends last month's report on the month's first days only


@dataclass(frozen=True)
class Rendered:
    tenant_name: str
    month: dt.date
    pdf: bytes
    board: dashboard.Dashboard


def _link(figure: str, key: str) -> None:
    return None


async def render(session: AsyncSession, tenant_id: TenantId, month: dt.date) -> Rendered:
    board = await dashboard.build(session, tenant_id, dashboard.Filters(month, month))
    first = months(month.replace(year=month.year - 1), next_month(month))[1]
    year = await dashboard.build(session, tenant_id, dashboard.Filters(first, month))
    sections = tables.build_tables(board, _link)
    vintage = {t.key: t for t in tables.build_tables(year, _link)}
    sections = [vintage.get(t.key, t) if t.key in ("safras", "curvas") else t
                for t in sections]
    charts = tables.build_charts(board, _link)
    charts.update({k: v for k, v in tables.build_charts(year, _link).items()
                   if k in ("safras", "curvas")})
    heading = f"Relatório mensal de cobrança: {board.tenant_name}, {month:%m/%Y}"
    subtitle = ("Indicadores do mês; as safras e as curvas mostram os doze meses até ele. "
                "Valores em R$. Como cada número é calculado: portal, Relatórios.")
    pdf = exports.tables_pdf(heading, subtitle, sections, charts, get_settings().agency_name)
    return Rendered(board.tenant_name, month, pdf, board)


async def render_for(tenant_id: uuid.UUID, month: dt.date) -> Rendered:
    async with transaction(system(tenant_id)) as session:
        return await render(session, TenantId(tenant_id), month)


def previous_month(today: dt.date) -> dt.date:
    return (today.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def _body(rendered: Rendered) -> str:
    board = rendered.board
    totals = board.channel_totals()
    lines = [
        "Olá,",
        "",
        f"Segue o relatório de cobrança de {rendered.tenant_name} referente a "
        f"{rendered.month:%m/%Y}, em PDF.",
        "",
        f"- Valor colocado: {brl(board.placed_amount)} em {board.placed_debts} título(s)",
        f"- Recuperado no mês: {brl(board.money.recovered)}",
        f"- Índice de liquidez das colocações do mês: {pct(board.liquidity)}",
        f"- Taxa de contato: {pct(totals.contact_rate)}; com o devedor (CPC): "
        f"{pct(totals.rpc_rate)}",
        f"- Acordos feitos: {board.agreements.counts.get('made', 0)}",
        f"- Líquido devido ao credor: {brl(board.money.net_due)}",
        "",
        "O painel completo, com os títulos por trás de cada número, está no portal, "
        "em Relatórios.",
        "",
        get_settings().agency_name,
    ]
    return "\n".join(lines)


async def recipients(session: AsyncSession, tenant_id: uuid.UUID) -> list[User]:
    return list((await session.execute(select(User).where(
        User.tenant_id == tenant_id, User.is_active,
        User.role.in_([Role.CREDITOR_ADMIN, Role.CREDITOR_VIEWER]))
        .order_by(User.email))).scalars())


@dataclass(frozen=True)
class Sent:
    recipient: str
    status: str
    skipped: bool


async def send(tenant_id: uuid.UUID, month: dt.date) -> list[Sent]:
    """E-mail the month's report to each active user of the creditor who has not had it."""
    settings = get_settings()
    principal = system(tenant_id)
    async with transaction(principal) as session:
        users = [(u.id, u.email) for u in await recipients(session, tenant_id)]
    if not users:
        return []
    rendered = await render_for(tenant_id, month)
    name = f"relatorio-{month:%Y-%m}.pdf"
    out = []
    for user_id, address in users:
        async with transaction(principal) as session:
            await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:k))"),
                                  {"k": f"report-delivery:{tenant_id}:{month}:{user_id}"})
            done = (await session.execute(text(
                "SELECT status FROM report_delivery WHERE tenant_id = :t AND month = :m"
                " AND user_id = :u"), {"t": tenant_id, "m": month, "u": user_id})
            ).scalar_one_or_none()
            if done == "sent":
                out.append(Sent(address, done, True))
                continue
            result = await email.send(Outgoing(
                recipient=address, body=_body(rendered),
                subject=f"Relatório mensal de cobrança: {rendered.tenant_name}, {month:%m/%Y}",
                attachments=(Attachment(name, "application/pdf", rendered.pdf),)), settings)
            await session.execute(text("""
                INSERT INTO report_delivery (tenant_id, month, user_id, recipient, status,
                    provider_message_id, reason, sandbox)
                VALUES (:t, :m, :u, :r, :s, :pid, :reason, :sandbox)
                ON CONFLICT (tenant_id, month, user_id) DO UPDATE SET status = :s,
                    provider_message_id = :pid, reason = :reason, sent_at = now()"""),
                {"t": tenant_id, "m": month, "u": user_id, "r": address,
                 "s": result.status.value, "pid": result.provider_message_id,
                 "reason": result.reason, "sandbox": settings.email_sandboxed})
            out.append(Sent(address, result.status.value, False))
    log.info("monthly report %s of tenant %s: %s", f"{month:%Y-%m}", tenant_id,
             ", ".join(f"{s.recipient} {s.status}" for s in out))
    return out


async def send_due(tenant_id: uuid.UUID, today: dt.date | None = None) -> list[Sent]:
    """The monthly job: last month's report, on the first days of the tenant's month."""
    if today is None:
        async with transaction(system(tenant_id)) as session:
            _, today, _ = await tenant_clock(session, tenant_id)
    if today.day > SEND_UNTIL_DAY:
        return []
    return await send(tenant_id, previous_month(today))


@dataclass(frozen=True)
class Delivery:
    tenant_name: str
    month: dt.date
    recipient: str
    status: str
    sandbox: bool
    provider_message_id: str | None
    sent_at: dt.datetime
    received: dict[str, Any] | None  # what the local SMTP sandbox got, when it was used


async def deliveries(session: AsyncSession, limit: int = 50) -> list[Delivery]:
    """The monthly reports e-mailed to the session's tenants, newest first."""
    settings = get_settings()
    rows = await session.execute(text(
        "SELECT t.trade_name, d.month, d.recipient, d.status, d.sandbox,"
        " d.provider_message_id, d.sent_at FROM report_delivery d"
        " JOIN tenant t ON t.id = d.tenant_id ORDER BY d.sent_at DESC LIMIT :n"),
        {"n": limit})
    return [Delivery(name, month, recipient, status, sandboxed, message_id, sent_at,
                     sandbox.received(settings, sandbox.SMTP_PROVIDER, message_id)
                     if sandboxed else None)
            for name, month, recipient, status, sandboxed, message_id, sent_at in rows]
