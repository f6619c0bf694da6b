"""The tenant's contact-policy page: a supervisor sets hours, caps and quiet days, the
change is audited and the guard applies it; errors name the field in Portuguese; another
tenant's policy is 404, a creditor viewer gets 403."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from core.access import transaction
from core.compliance import guard, policy
from core.models import AuditLog, Channel, Tenant
from tests.core.test_cadence import system
from tests.portal.test_cadence_pages import csrf

SP = ZoneInfo("America/Sao_Paulo")
FORM = {
    **{f"w_call_{day}": "09:00-18:00" for day in ("mon", "tue", "wed", "thu", "fri")},
    "w_all_sat": "fechado",
    "c_sms_attempts_week": "2",
    "quiet_days": "24/12/2026\n31/12/2026\n",
}


async def stored_policy(tenant_id):  # type: ignore[no-untyped-def]
    async with transaction(system(tenant_id)) as session:
        return (await session.execute(select(Tenant.contact_policy).where(
            Tenant.id == tenant_id))).scalar_one()


async def test_a_supervisor_sets_the_policy_it_is_audited_and_the_guard_applies_it(
        factory, client):
    alfa = await factory.tenant("Alfa")
    supervisor = await factory.user("supervisor", tenant_ids=[alfa.id])
    shown = await client.get(f"/politica-de-contato?credor={alfa.id}",
                             headers=supervisor.headers)
    assert shown.status_code == 200 and "Política de contato — Alfa" in shown.text
    assert "até 3" in shown.text  # the agency's week of SMS, the ceiling
    saved = await client.post(f"/politica-de-contato/{alfa.id}", data=FORM,
                              headers={**supervisor.headers, **csrf(client)},
                              follow_redirects=False)
    assert saved.status_code in (302, 303)
    assert await stored_policy(alfa.id) == {
        "windows": {"call": {d: "09:00-18:00" for d in ("mon", "tue", "wed", "thu", "fri")},
                    "*": {"sat": None}},
        "caps": {"sms": {"attempts_week": 2}},
        "quiet_days": ["2026-12-24", "2026-12-31"]}
    again = await client.get(saved.headers["location"], headers=supervisor.headers)
    assert "Política de contato salva" in again.text
    assert "seg a sex 09:00–18:00" in again.text and "24/12/2026" in again.text
    async with transaction(system(alfa.id)) as session:
        entry = (await session.execute(select(AuditLog).where(
            AuditLog.action == "tenant.contact_policy_set",
            AuditLog.tenant_id == alfa.id))).scalar_one()
        assert entry.before == {"contact_policy": None}
        assert entry.after["contact_policy"]["caps"] == {"sms": {"attempts_week": 2}}
        own = await policy.policy_of(session, alfa.id)
    eve = guard.check_calendar(Channel.EMAIL, dt.datetime(2026, 12, 24, 10, tzinfo=SP),
                               state="SP", zone="America/Sao_Paulo", tenant=own)
    assert eve.code == "tenant_quiet_day"
    early = guard.check_calendar(Channel.CALL, dt.datetime(2026, 12, 7, 8, 30, tzinfo=SP),
                                 state="SP", zone="America/Sao_Paulo", tenant=own)
    assert early.code == "tenant_window"


async def test_errors_are_in_portuguese_and_name_the_field(factory, client):
    alfa = await factory.tenant("Alfa")
    supervisor = await factory.user("supervisor", tenant_ids=[alfa.id])
    await client.get("/")
    headers = {**supervisor.headers, **csrf(client)}
    typed = await client.post(f"/politica-de-contato/{alfa.id}", headers=headers, data={
        **FORM, "c_call_attempts_day": "dois", "quiet_days": "24/12/2026\n31/02/2026"})
    assert typed.status_code == 422
    assert "Limite, Ligação, tentativas por dia</strong>: informe um número inteiro" \
        in typed.text
    assert "linha 2: data inválida “31/02/2026”; use DD/MM/AAAA" in typed.text
    ruled = await client.post(f"/politica-de-contato/{alfa.id}", headers=headers, data={
        **FORM, "w_sms_tue": "18h às 9h", "c_sms_attempts_day": "5"})
    assert ruled.status_code == 422
    assert "Horário, SMS, ter</strong>: use o formato HH:MM-HH:MM" in ruled.text
    assert 'value="18h às 9h"' in ruled.text  # what was typed stays in the form
    checked = await client.post(f"/politica-de-contato/{alfa.id}", headers=headers, data={
        **FORM, "c_sms_attempts_day": "5"})
    assert ("acima do limite da assessoria (tentativas por dia: 1); o credor só pode reduzir"
            in checked.text)
    assert await stored_policy(alfa.id) is None


async def test_another_tenants_policy_is_404_and_a_viewer_gets_403(factory, client):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    supervisor = await factory.user("supervisor", tenant_ids=[alfa.id])
    assert (await client.get(f"/politica-de-contato?credor={beta.id}",
                             headers=supervisor.headers)).status_code == 404
    await client.get("/")
    posted = await client.post(f"/politica-de-contato/{beta.id}", data=FORM,
                               headers={**supervisor.headers, **csrf(client)})
    assert posted.status_code == 404
    assert await stored_policy(beta.id) is None
    viewer = await factory.user("creditor_viewer", tenant_id=alfa.id)
    assert (await client.get("/politica-de-contato", headers=viewer.headers)).status_code == 403
    # The creditor's own administrator sets its own tenant's policy.
    own = await client.post(f"/politica-de-contato/{alfa.id}", data=FORM,
                            headers={**alfa.admin.headers, **csrf(client)},
                            follow_redirects=False)
    assert own.status_code in (302, 303) and await stored_policy(alfa.id) is not None
