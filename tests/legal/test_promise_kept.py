"""A promise to pay, recorded on a call, kept by PIX payments: a partial payment leaves
the debtor on hold; the payment that reaches the promised amount ends the hold at once,
marks the promise kept, takes the follow-up off the agent's agenda and reaches the
creditor's report through the refresh queue (no nightly rebuild)."""

from __future__ import annotations

import datetime as dt
import json
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.access import DebtorId, TenantId, transaction
from core.collection import holds
from core.models import HoldKind
from core.settings import get_settings
from dialer import agenda, dispositions
from dialer.models import AgendaItem
from legal import payments
from reports import dashboard
from reports.dashboard import Filters
from reports.refresh import refresh_tenant, system
from tests.legal.escalation_helpers import random_cpf
from tests.legal.helpers import build_agreement, principal
from tests.legal.test_slips_payments import issue

SP = ZoneInfo("America/Sao_Paulo")


async def pay(txid: str, amount: str, moment: dt.datetime) -> str:
    body = json.dumps({"pix": [{"endToEndId": f"E{txid}", "txid": txid, "valor": amount,
                                "horario": moment.isoformat()}]}).encode()
    signature = payments.sign(body, get_settings().resolved_pix_webhook_secret())
    report = await payments.pix_webhook(body, signature, get_settings())
    return report.lines[0].result


async def test_a_payment_reaching_the_promise_ends_its_hold_and_keeps_it(
        client, db, factory, database_url) -> None:
    tenant = await factory.tenant()
    built = await build_agreement(database_url, tenant.id, amounts=("100.00", "150.00"),
                                  document=random_cpf())
    slips = await issue(built)
    agent = await principal(db, await factory.user("agent", tenant_ids=[tenant.id]))
    now = dt.datetime.now(dt.UTC)
    promised_on = now.astimezone(SP).date() + dt.timedelta(days=5)
    saved = await dispositions.dispose(agent, built.debtor_id, dispositions.Form(
        "promise", promise_date=promised_on.isoformat(), promise_amount="250,00"), at=now)
    debtor = DebtorId(built.debtor_id)
    async with transaction(built.principal) as session:
        (hold,) = await holds.active_holds(session, debtor, HoldKind.PROMISE)
        assert hold.promised_amount == Decimal("250.00") and hold.promised_on == promised_on

    # A first installment of 100.00: the promise is of 250.00, so the debtor stays on hold.
    assert await pay(slips[0].txid, "100.00", now) == "settled"
    async with transaction(built.principal) as session:
        assert len(await holds.active_holds(session, debtor, HoldKind.PROMISE)) == 1

    # The second (150.00) reaches it: the hold ends now, with the reason, kept.
    assert await pay(slips[1].txid, "150.00", now) == "settled"
    async with transaction(built.principal) as session:
        assert await holds.active_holds(session, debtor, HoldKind.PROMISE) == []
        ended = (await holds.debtor_holds(session, debtor))[0]
    assert ended.id == hold.id and ended.kept_at is not None
    assert ended.ends_at is not None and ended.ends_at <= dt.datetime.now(dt.UTC)
    assert ended.end_reason is not None and ended.end_reason.startswith("Promessa cumprida")
    assert ended.ended_by_email  # who ended it, as every hold records

    # The agent is not sent to call about a promise the debtor kept.
    listed = await agenda.upcoming(agent)
    assert built.debtor_id not in {item.debtor_id for item in listed}
    async with transaction(built.principal) as session:
        item = (await session.execute(select(AgendaItem).where(
            AgendaItem.id == saved.agenda_item_id))).scalar_one()
    assert (item.state, item.disposition) == ("done", "promise_kept")

    # The creditor's report counts it kept after the refresh the payment queued.
    await refresh_tenant(TenantId(tenant.id))
    month = now.astimezone(SP).date().replace(day=1)
    async with transaction(system(tenant.id)) as session:
        board = await dashboard.build(session, TenantId(tenant.id), Filters(month, month))
    assert (board.promises.made, board.promises.kept) == (1, 1)
    assert board.promises.kept_amount == Decimal("250.00")


async def test_a_partial_payment_leaves_the_promise_running(client, db, factory,
                                                            database_url) -> None:
    tenant = await factory.tenant()
    built = await build_agreement(database_url, tenant.id, amounts=("100.00", "150.00"),
                                  document=random_cpf())
    slips = await issue(built)
    agent = await principal(db, await factory.user("agent", tenant_ids=[tenant.id]))
    now = dt.datetime.now(dt.UTC)
    promised_on = now.astimezone(SP).date() + dt.timedelta(days=3)
    await dispositions.dispose(agent, built.debtor_id, dispositions.Form(
        "promise", promise_date=promised_on.isoformat(), promise_amount="150,00"), at=now)
    assert await pay(slips[0].txid, "100.00", now) == "settled"
    async with transaction(built.principal) as session:
        (hold,) = await holds.active_holds(session, DebtorId(built.debtor_id),
                                           HoldKind.PROMISE)
    assert hold.kept_at is None and hold.end_reason is None
