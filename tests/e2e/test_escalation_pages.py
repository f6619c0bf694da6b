"""The "Escalonamentos" pages in Chromium: the list with an overdue removal in red, one
escalation's history, hold and release, a manual escalation from the debtor file, the
rules page with what the bureau sandbox received; and a creditor reading its own only."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import update

from core.access import transaction
from core.channels import sandbox as channel_sandbox
from core.models import Debt
from core.settings import get_settings
from legal.escalation import bureau_sandbox, rules, service
from legal.escalation.adapters import SerasaPefin
from legal.escalation.models import EscalationRule
from tests.e2e.conftest import login, shot
from tests.legal.escalation_helpers import place, system


@pytest.fixture(scope="module")
def sandboxes(services: None) -> Iterator[None]:
    channels = channel_sandbox.start(get_settings(), "http://127.0.0.1:9")
    running = bureau_sandbox.start(get_settings())
    yield
    assert running is not None
    running.stop()
    if channels is not None:
        channels.stop()
    for name in ("REGUA_BUREAU_SANDBOX_URL", "REGUA_SANDBOX_URL", "REGUA_SANDBOX_SMTP_PORT"):
        os.environ.pop(name, None)
    get_settings.cache_clear()


async def test_escalations_pages(live_server, page, factory, database_url, sandboxes) -> None:
    tenant = await factory.tenant("Loja Escalada")
    async with transaction(system(tenant.id)) as session:
        session.add(EscalationRule(tenant_id=tenant.id, **rules.validate({
            "name": "Negativar após 60 dias", "priority": 1, "path": "bureau",
            "min_days_overdue": 60, "min_amount": "100,00"})))
        session.add(EscalationRule(tenant_id=tenant.id, **rules.validate({
            "name": "Protesto após 120 dias", "priority": 0, "path": "protest",
            "min_days_overdue": 120})))
    paid = await place(database_url, tenant.id, days_overdue=(90,), name="Paulo Pagou Souza")
    await place(database_url, tenant.id, state="SP", days_overdue=(70,),
                          name="Sara Aguardando Lima")
    await place(database_url, tenant.id, days_overdue=(150,), name="Pedro Protesto")
    manual = await place(database_url, tenant.id, days_overdue=(20,), name="Marta Manual")
    today = dt.date.today()
    await service.run(tenant.id, today)
    await service.run(tenant.id, today + dt.timedelta(days=11))  # the MG debtor is listed
    async with transaction(system(tenant.id)) as session:
        await session.execute(update(Debt).where(Debt.id == paid.debt_ids[0]).values(
            status="paid", closed_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=12)))
    down = get_settings().model_copy(update={"bureau_url": "http://127.0.0.1:9"})
    await service.run(tenant.id, today + dt.timedelta(days=11), adapter=SerasaPefin(down))

    supervisor = await factory.user("supervisor", tenant_ids=[tenant.id])
    await login(page, live_server, supervisor.email, supervisor.password)
    await page.goto(f"{live_server}/escalonamentos?credor={tenant.id}")
    assert await page.locator("#baixas-atrasadas strong").inner_text() == "1"
    overdue = page.locator("#lista tr.overdue")
    assert await overdue.count() == 1
    assert "Paulo Pagou Souza" in await overdue.inner_text()
    assert "vencido" in await overdue.inner_text()
    color = await overdue.locator("td").first.evaluate("td => getComputedStyle(td).color")
    assert color == "rgb(180, 35, 24)" or color.startswith("rgb(1")  # the page's red
    body = await page.locator("#lista").inner_text()
    assert "Sara Aguardando Lima" in body and "notificado, em prazo" in body
    assert "aguardando remessa" in body and "Protesto após 120 dias" in body
    await shot(page, "escalations-list")

    await page.click("text=Sara Aguardando Lima")
    await page.fill("#reter input[name=reason]", "credor pediu revisão do endereço")
    await page.click("#reter button")
    assert "retido" in await page.locator(".alert.ok").inner_text()
    history = await page.locator("#historico").inner_text()
    assert "regra “Negativar após 60 dias”" in history
    assert "retido: credor pediu revisão do endereço" in history
    assert supervisor.email in history
    await shot(page, "escalation-detail-held")
    await page.fill("#liberar input[name=reason]", "endereço conferido")
    await page.click("#liberar button")
    assert "liberado: endereço conferido" in await page.locator("#historico").inner_text()

    await page.goto(f"{live_server}/devedores/{manual.debtor_id}")
    await page.click("#escalar")
    await page.check("input[name=debt_id]")
    await page.select_option("select[name=path]", "judicial")
    await page.fill("input[name=note]", "devedor com bens penhoráveis")
    await page.click("#escalar button[type=submit]")
    assert "Título escalado" in await page.locator(".alert.ok").inner_text()
    assert "com o jurídico" in await page.locator("#resumo").inner_text()
    assert "devedor com bens penhoráveis" in await page.locator("#historico").inner_text()

    await page.goto(f"{live_server}/escalonamentos/regras?credor={tenant.id}")
    await page.fill("#regra input[name=name]", "")
    await page.fill("#regra input[name=min_days_overdue]", "-5")
    await page.click("#regra button[type=submit]")
    form = await page.locator("#regra").inner_text()
    assert "nome: obrigatório" in form and "dias de atraso: use de 0 a 3650" in form
    received = await page.locator("#bureau-recebido").inner_text()
    assert "PAULO PAGOU SOUZA" in received and "inclusão" in received
    await shot(page, "escalation-rules")

    viewer = await factory.user("creditor_viewer", tenant_id=tenant.id)
    other = await factory.tenant("Outro Credor")
    await page.context.clear_cookies()
    await login(page, live_server, viewer.email, viewer.password)
    await page.goto(f"{live_server}/escalonamentos")
    assert await page.locator("#lista tbody tr").count() == 4
    assert await page.locator("#reter").count() == 0
    await page.click("text=Sara Aguardando Lima")
    assert await page.locator("#reter, #liberar").count() == 0
    assert "equipe da assessoria" in await page.locator("#historico").inner_text()
    await page.context.clear_cookies()
    await login(page, live_server, other.admin.email, other.admin.password)
    answer = await page.goto(f"{live_server}/escalonamentos")
    assert answer is not None and answer.status == 200
    assert "Nenhum escalonamento" in await page.locator("#lista").inner_text()
