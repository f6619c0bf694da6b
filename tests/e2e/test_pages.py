"""What a person sees: login, navigation by role, tenant onboarding, logout."""

from __future__ import annotations

import pytest

from tests.conftest import random_cnpj
from tests.e2e.conftest import login, shot

pytestmark = pytest.mark.e2e


async def test_login_page_and_wrong_password(page, live_server, factory):
    tenant = await factory.tenant()
    await page.goto(live_server + "/")
    await shot(page, "login")
    assert await page.locator("h1").inner_text() == "Régua"
    await login(page, live_server, tenant.admin.email, "senha-errada-123")
    await page.wait_for_selector(".alert.error")
    assert "inválidos" in await page.locator(".alert.error").inner_text()
    assert await page.input_value("input[name=email]") == tenant.admin.email


async def test_navigation_depends_on_the_role(page, live_server, factory):
    tenant = await factory.tenant()
    admin = await factory.user("admin")
    agent = await factory.user("agent", tenant_ids=[tenant.id])
    nav = page.locator("nav[aria-label='Navegação principal'] a")

    await login(page, live_server, admin.email, admin.password)
    await page.wait_for_url("**/inicio")
    assert {"Início", "Credores", "Usuários", "Auditoria"} <= set(await nav.all_inner_texts())
    await shot(page, "home-admin")
    # Pages are grouped in menus that open under the pointer (and on keyboard focus).
    escalations = page.locator(".menu a[href='/escalonamentos']")
    assert not await escalations.is_visible()
    await page.hover(".menu button:has-text('Jurídico')")
    assert await escalations.is_visible()
    await shot(page, "nav-menu")
    await escalations.click()
    await page.wait_for_url("**/escalonamentos")
    assert await page.locator(".menu.current button").inner_text() == "Jurídico ▾"
    await page.goto(live_server + "/inicio")
    await page.click("text=Sair")
    await page.wait_for_url(live_server + "/")

    await login(page, live_server, tenant.admin.email, tenant.admin.password)
    await page.wait_for_url("**/inicio")
    links = set(await nav.all_inner_texts())
    assert "Credores" not in links and "Carteiras" in links
    assert await page.locator(".tenant-card h2").all_inner_texts() == [
        (await page.locator(".tenant-card h2").first.inner_text())]
    await page.click("text=Sair")

    await login(page, live_server, agent.email, agent.password)
    await page.wait_for_url("**/atendimento")
    links = set(await nav.all_inner_texts())
    assert "Credores" not in links and "Usuários" not in links
    answer = await page.goto(live_server + "/admin/credores")
    assert answer.status == 403
    assert "Acesso negado" in await page.locator("h1").inner_text()


async def test_admin_onboards_and_deactivates_a_tenant(page, live_server, factory):
    admin = await factory.user("admin")
    await login(page, live_server, admin.email, admin.password)
    await page.wait_for_url("**/inicio")
    await page.goto(live_server + "/admin/credores")
    await page.fill("input[name=legal_name]", "Credora Navegador Ltda.")
    await page.fill("input[name=cnpj]", "11.222.333/0001-00")
    await page.select_option("select[name=state]", "SP")
    await page.fill("input[name=admin_email]", "gestor@navegador.test")
    await page.fill("input[name=admin_password]", "senha-navegador-1")
    await page.click("button:has-text('Cadastrar credor')")
    await page.wait_for_selector(".field-error")
    assert "CNPJ inválido" in await page.locator(".field-error").first.inner_text()
    assert await page.input_value("input[name=legal_name]") == "Credora Navegador Ltda."
    await shot(page, "tenants-error")

    cnpj = random_cnpj()
    await page.fill("input[name=cnpj]", f"{cnpj[:2]}.{cnpj[2:5]}.{cnpj[5:8]}/{cnpj[8:12]}-"
                                        f"{cnpj[12:]}")
    await page.fill("input[name=admin_password]", "senha-navegador-1")
    await page.click("button:has-text('Cadastrar credor')")
    row = page.locator("tr", has_text="Credora Navegador Ltda.")
    await row.wait_for()
    await shot(page, "tenants")
    page.once("dialog", lambda dialog: dialog.accept())
    await row.locator("button:has-text('Desativar')").click()
    await page.locator("tr", has_text="Credora Navegador Ltda.").locator(
        ".status.inactive").wait_for()
    await page.click("text=Sair")
    await login(page, live_server, "gestor@navegador.test", "senha-navegador-1")
    await page.wait_for_selector(".alert.error")


async def test_logout_then_pages_send_back_to_login(page, live_server, factory):
    tenant = await factory.tenant()
    await login(page, live_server, tenant.admin.email, tenant.admin.password)
    await page.wait_for_url("**/inicio")
    await page.click("text=Sair")
    await page.goto(live_server + "/inicio")
    assert page.url.startswith(live_server + "/?next=/inicio")
    assert await page.locator("input[name=password]").count() == 1
