"""The contact-policy page in a browser: a supervisor narrows a tenant's call hours,
closes Saturdays, lowers the week's SMS, adds quiet days, meets errors in Portuguese
naming the field, and saves."""

from __future__ import annotations

import pytest

from tests.e2e.conftest import go_to, login, shot

pytestmark = pytest.mark.e2e


async def test_supervisor_edits_a_tenants_contact_policy(page, live_server, factory):
    tenant = await factory.tenant("Varejo Contato")
    supervisor = await factory.user("supervisor", tenant_ids=[tenant.id])

    await login(page, live_server, supervisor.email, supervisor.password)
    await page.wait_for_url("**/inicio")
    await go_to(page, "Política de contato")
    await page.wait_for_selector("h1:has-text('Política de contato — Varejo Contato')")
    for day in ("mon", "tue", "wed", "thu", "fri"):
        await page.fill(f"input[name=w_call_{day}]", "09:00-18:00")
    await page.fill("input[name=w_all_sat]", "fechado")
    await page.fill("input[name=w_sms_tue]", "18h às 9h")
    await page.fill("input[name=c_sms_attempts_week]", "5")
    await page.fill("textarea[name=quiet_days]", "24/12/2026\n31/02/2026")
    await page.click("button:has-text('Salvar política de contato')")
    error = await page.locator(".alert.error").inner_text()
    assert "Dias sem contato: linha 2: data inválida “31/02/2026”; use DD/MM/AAAA" in error

    await page.fill("textarea[name=quiet_days]", "24/12/2026\n31/12/2026")
    await page.click("button:has-text('Salvar política de contato')")
    error = await page.locator(".alert.error").inner_text()
    assert "Horário, SMS, ter: use o formato HH:MM-HH:MM" in error
    await shot(page, "contact-policy-error")

    await page.fill("input[name=w_sms_tue]", "")
    await page.click("button:has-text('Salvar política de contato')")
    error = await page.locator(".alert.error").inner_text()
    assert ("Limite, SMS, tentativas por semana: acima do limite da assessoria "
            "(tentativas por semana: 3)") in error
    await page.fill("input[name=c_sms_attempts_week]", "2")
    await page.click("button:has-text('Salvar política de contato')")
    await page.wait_for_selector("text=Política de contato salva")
    body = await page.locator("main").inner_text()
    assert "seg a sex 09:00–18:00" in body  # calls, for a debtor in São Paulo
    assert await page.input_value("input[name=c_sms_attempts_week]") == "2"
    assert await page.input_value("textarea[name=quiet_days]") == "24/12/2026\n31/12/2026"
    await shot(page, "contact-policy")
