"""Demo work for the desks (`regua up --demo`): what an operator and a supervisor find
on their first login, made through the same services their clicks use.

Per demo tenant, once: a predictive campaign of debtors more than 30 days late, active,
its list built (the dialer calls the demo's loopback phones while the window is open);
the operator's agenda: a callback due now, one the next weekday, a promise running and a
broken one; the creditor's discount limits (10% for the operator, 20% for the
supervisor); and two proposals of the operator above its authority, one waiting for the
supervisor and one for the creditor.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from zoneinfo import ZoneInfo

from sqlalchemy import select, text

from core.access import TenantId, transaction
from core.auth.principal import Principal
from core.auth.service import load_principal
from core.db import Scope
from core.errors import ValidationFailed
from core.maintenance import operator_scope
from core.models import User
from core.runtime import get_db
from dialer import campaigns, dispositions
from dialer.models import Campaign
from legal import agreements, policy, simulator
from legal.models import ApprovalLevel

log = logging.getLogger("regua.demo")
CAMPAIGN = "Atraso acima de 30 dias"
# Debtors whose best phone ends in 0-4: the demo's phones answer those (dialer demo mode).
ANSWERING = r"[0-4]$"


async def principal_of(email: str) -> Principal | None:
    db = get_db()
    async with db.transaction(await operator_scope()) as session:
        user_id = (await session.execute(select(User.id).where(User.email == email))
                   ).scalar_one_or_none()
    return await load_principal(db, user_id) if user_id is not None else None


async def _debtors(system: Principal, tenant_id: uuid.UUID, how_many: int
                   ) -> list[tuple[uuid.UUID, uuid.UUID, str]]:
    """(debtor, phone, zone) of workable debtors more than 30 days late with an answering
    phone, largest balances first."""
    async with transaction(system) as session:
        rows = await session.execute(text("""
            SELECT d.id, cp.id AS phone, d.timezone FROM debtor d
            JOIN LATERAL (SELECT id FROM contact_point c
                          WHERE c.tenant_id = d.tenant_id AND c.debtor_id = d.id
                            AND c.kind = 'phone' AND c.value ~ :answering
                          ORDER BY c.created_at LIMIT 1) cp ON TRUE
            JOIN LATERAL (SELECT sum(x.current_balance) AS amount FROM debt x
                          WHERE x.tenant_id = d.tenant_id AND x.debtor_id = d.id
                            AND x.due_date <= current_date - 30
                            AND regua_debt_blocker(x, now()) IS NULL) w ON TRUE
            WHERE d.tenant_id = :t AND w.amount IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM agreement a WHERE a.tenant_id = d.tenant_id
                              AND a.debtor_id = d.id)
            ORDER BY w.amount DESC LIMIT :n"""),
            {"t": tenant_id, "answering": ANSWERING, "n": how_many})
        return [(r.id, r.phone, r.timezone) for r in rows]


async def _campaign(system: Principal, tenant_id: uuid.UUID) -> int:
    async with transaction(system) as session:
        row = await campaigns.create_campaign(
            session, system, TenantId(tenant_id),
            campaigns.NewCampaign(name=CAMPAIGN, filters={"days_overdue_min": 30}))
        checked = await campaigns.access_campaign(session, system, row.id)
        added = await campaigns.build_list(session, system, checked)
        await campaigns.set_status(session, system, checked, "active")
        return added


def _plans(now: dt.datetime, zone: str) -> list[tuple[dt.datetime, dispositions.Form]]:
    """(when the call was, what the operator recorded): a callback due half an hour ago,
    one the next weekday at 10:00, a promise for three days on, one broken six days ago."""
    today = now.astimezone(ZoneInfo(zone))
    weekday = today.date() + dt.timedelta(days=1)
    while weekday.weekday() >= 5:  # calls wait for Monday
        weekday += dt.timedelta(days=1)
    form = dispositions.Form
    return [
        (now - dt.timedelta(hours=2), form(
            "callback", callback_date=(today - dt.timedelta(minutes=30)).date().isoformat(),
            callback_time=(today - dt.timedelta(minutes=30)).strftime("%H:%M"),
            note="Pediu retorno: estava dirigindo.")),
        (now - dt.timedelta(hours=1), form(
            "callback", callback_date=weekday.isoformat(), callback_time="10:00",
            note="Retornar no próximo dia útil, pela manhã.")),
        (now - dt.timedelta(days=1), form(
            "promise", promise_date=(today.date() + dt.timedelta(days=3)).isoformat(),
            promise_amount="350,00", note="Promete pagar a entrada.")),
        (now - dt.timedelta(days=9), form(
            "promise", promise_date=(today.date() - dt.timedelta(days=6)).isoformat(),
            promise_amount="200,00", note="Prometeu pagar com o 13º.")),
    ]


async def _agenda(operator: Principal, picked: list[tuple[uuid.UUID, uuid.UUID, str]]) -> None:
    """Calls the operator made earlier, recorded as the desktop records them."""
    now = dt.datetime.now(dt.UTC)
    for index, (debtor_id, phone, zone) in enumerate(picked):
        at, form = _plans(now, zone)[index]
        try:
            await dispositions.dispose(operator, debtor_id, form, contact_point_id=phone, at=at)
        except ValidationFailed as exc:
            log.info("demo: agenda item skipped: %s", exc)


async def _proposals(operator: Principal, picked: list[tuple[uuid.UUID, uuid.UUID, str]]
                     ) -> list[str]:
    """The operator's proposals beyond its authority: one for the supervisor's queue and
    one for the creditor's, from the first debtors with such an option."""
    wanted = [ApprovalLevel.SUPERVISOR, ApprovalLevel.CREDITOR]
    made = []
    for debtor_id, _, _ in picked:
        if not wanted:
            break
        options = (await simulator.simulate(operator, debtor_id)).options
        option = next((o for o in options if o.approval in wanted), None)
        if option is None:
            continue
        await agreements.create(operator, debtor_id, option.option)
        wanted.remove(option.approval)
        made.append(option.approval.value)
    return made


async def seed_desk(tenant_id: uuid.UUID, operator_email: str) -> None:
    system = Principal.system(Scope.tenant(tenant_id))
    async with transaction(system) as session:
        if (await session.execute(select(Campaign.id).where(
                Campaign.tenant_id == tenant_id, Campaign.name == CAMPAIGN))).first():
            return
    listed = await _campaign(system, tenant_id)
    operator = await principal_of(operator_email)
    if operator is None:
        return
    # The creditor's own limits: the operator grants up to 10%, the supervisor up to 20%,
    # beyond that the creditor decides (so each queue has its proposal).
    await policy.save_policy(system, tenant_id, {"agent_discount_pct": "10",
                                                 "supervisor_discount_pct": "20"})
    picked = await _debtors(system, tenant_id, 12)
    await _agenda(operator, picked[:4])
    queued = await _proposals(operator, picked[4:])
    log.info("demo: tenant %s: campaign of %d debtors; agenda of 4; proposals for %s",
             tenant_id, listed, ", ".join(queued) or "nobody")
