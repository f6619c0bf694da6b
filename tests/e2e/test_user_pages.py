"""What an admin sees managing users and tenants in the portal."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import random_cnpj
from tests.e2e.conftest import go_to, login, shot

pytestmark = pytest.mark.e2e


def invalid_label(page, name: str):
    return page.locator(f"label.invalid:has([name={name}])")


async def test_admin_creates_edits_resets_deactivates_and_reactivates_a_user(
        page, browser, live_server, factory):
    tenant = await factory.tenant("Gama")
    admin = await factory.user("admin")
    email = f"ana-{uuid.uuid4().hex[:6]}@gama.test"
    await login(page, live_server, admin.email, admin.password)
    await page.wait_for_url("**/inicio")
    await go_to(page, "Usuários")
    await page.fill("input[name=full_name]", "Ana Lima")
    await page.fill("input[name=email]", email)
    await page.select_option("select[name=role]", "agent")
    assert await page.locator("select[name=tenant_id]").is_hidden()
    assert await page.locator("fieldset.checks").is_visible()
    await page.select_option("select[name=role]", "creditor_viewer")
    assert await page.locator("fieldset.checks").is_hidden()
    await page.select_option("select[name=tenant_id]", str(tenant.id))
    await page.fill("input[name=password]", "curta")
    await page.click("button:has-text('Criar usuário')")
    await invalid_label(page, "password").wait_for()
    assert "10 caracteres" in await invalid_label(page, "password").inner_text()
    assert await page.input_value("input[name=email]") == email
    await shot(page, "users-create-error")

    await page.fill("input[name=password]", "senha-inicial-1")
    await page.click("button:has-text('Criar usuário')")
    await page.wait_for_selector("text=Usuário criado.")
    assert await page.locator("h1").inner_text() == "Ana Lima"

    await page.fill("input[name=full_name]", "Ana Lima Souza")
    await page.select_option("select[name=role]", "creditor_admin")
    await page.click("button:has-text('Salvar alterações')")
    await page.wait_for_selector("text=Alterações salvas.")
    assert await page.locator("h1").inner_text() == "Ana Lima Souza"
    assert await page.input_value("select[name=role]") == "creditor_admin"

    await page.fill("form[action$='/senha'] input[name=password]", "senha-redefinida-2")
    await page.click("button:has-text('Redefinir senha')")
    await page.wait_for_selector("text=Senha redefinida")
    await shot(page, "user-edit")

    page.once("dialog", lambda dialog: dialog.accept())
    await page.click("button:has-text('Desativar usuário')")
    await page.wait_for_selector("text=Usuário desativado")
    assert await page.locator(".status").first.inner_text() == "Inativo"

    other = await browser.new_context(locale="pt-BR")
    tab = await other.new_page()
    await login(tab, live_server, email, "senha-redefinida-2")
    await tab.wait_for_selector(".alert.error")

    await page.click("button:has-text('Reativar usuário')")
    await page.wait_for_selector("text=Usuário reativado")
    await login(tab, live_server, email, "senha-redefinida-2")
    await tab.wait_for_url("**/inicio")
    await other.close()

    await page.goto(live_server + "/usuarios")
    row = page.locator("tr", has_text=email)
    assert "Administrador do credor" in await row.inner_text()
    assert "horário de Brasília" in await page.locator("thead").text_content()
    await shot(page, "users")

    await page.goto(live_server + "/auditoria")
    body = await page.locator("table").inner_text()
    assert "Senha do usuário redefinida" in body and "Usuário reativado" in body
    assert "user.password_reset" not in body
    await shot(page, "audit")


async def test_creditor_admin_manages_only_its_own_staff(page, live_server, factory):
    alfa, beta = await factory.tenant("Alfa"), await factory.tenant("Beta")
    outsider = await factory.user("creditor_viewer", tenant_id=beta.id)
    viewer = await factory.user("creditor_viewer", tenant_id=alfa.id)
    await login(page, live_server, alfa.admin.email, alfa.admin.password)
    await page.wait_for_url("**/inicio")
    await page.goto(live_server + "/usuarios")
    table = await page.locator("table").inner_text()
    assert viewer.email in table and outsider.email not in table
    roles = await page.locator("select[name=role] option").all_inner_texts()
    assert roles == ["Escolha o perfil", "Administrador do credor", "Consulta do credor"]
    assert await page.locator("select[name=tenant_id]").count() == 0
    await shot(page, "users-creditor-admin")
    answer = await page.goto(f"{live_server}/usuarios/{outsider.user_id}")
    assert answer.status == 404
    assert "Página não encontrada" in await page.locator("h1").inner_text()
    assert "Usuário não encontrado." in await page.locator("main").inner_text()
    assert await page.locator(".topbar").count() == 1

    await page.click("text=Sair")
    await login(page, live_server, viewer.email, viewer.password)
    await page.wait_for_url("**/inicio")
    answer = await page.goto(live_server + "/usuarios")
    assert answer.status == 403


async def test_new_creditor_form_highlights_the_fields_the_api_names(page, live_server, factory):
    """Defect 1: a short password or a taken e-mail marks that very field."""
    admin = await factory.user("admin")
    existing = await factory.tenant()
    await login(page, live_server, admin.email, admin.password)
    await page.wait_for_url("**/inicio")
    await page.goto(live_server + "/admin/credores")
    await page.fill("input[name=legal_name]", "Credora Destaque Ltda.")
    await page.fill("input[name=cnpj]", random_cnpj())
    await page.select_option("select[name=state]", "RJ")
    await page.fill("input[name=admin_email]", "gestor@destaque.test")
    await page.fill("input[name=admin_password]", "curta")
    await page.click("button:has-text('Cadastrar credor')")
    await invalid_label(page, "admin_password").wait_for()
    assert "10 caracteres" in await invalid_label(page, "admin_password").inner_text()
    assert "Corrija o campo destacado." in await page.locator(".alert.error").inner_text()
    assert await page.locator("label.invalid").count() == 1
    await shot(page, "tenants-short-password")

    await page.fill("input[name=admin_email]", existing.admin.email)
    await page.fill("input[name=admin_password]", "senha-forte-123")
    await page.fill("input[name=legal_name]", "R" * 201)
    await page.click("button:has-text('Cadastrar credor')")
    await invalid_label(page, "legal_name").wait_for()
    assert "máximo 200" in await invalid_label(page, "legal_name").inner_text()
    await page.fill("input[name=legal_name]", "Credora Destaque Ltda.")
    await page.fill("input[name=admin_password]", "senha-forte-123")
    await page.click("button:has-text('Cadastrar credor')")
    await invalid_label(page, "admin_email").wait_for()
    assert "já existe" in await invalid_label(page, "admin_email").inner_text()
    await shot(page, "tenants-email-taken")


async def test_admin_edits_and_reactivates_a_tenant(page, live_server, factory):
    tenant = await factory.tenant("Delta")
    admin = await factory.user("admin")
    await login(page, live_server, admin.email, admin.password)
    await page.wait_for_url("**/inicio")
    await page.goto(live_server + "/admin/credores")
    await page.click(f"a[href='/admin/credores/{tenant.id}']")
    await page.fill("input[name=trade_name]", "Delta Cobranças")
    await page.fill("input[name=address]", "Av. Brasil, 500 - Centro, Manaus/AM")
    await page.select_option("select[name=state]", "AM")
    await page.select_option("select[name=timezone]", "America/Manaus")
    await page.click("button:has-text('Salvar alterações')")
    await page.wait_for_selector("text=Dados do credor salvos.")
    assert await page.locator("h1").inner_text() == "Delta Cobranças"
    page.once("dialog", lambda dialog: dialog.accept())
    await page.click("button:has-text('Desativar credor')")
    await page.wait_for_selector("button:has-text('Reativar credor')")
    await shot(page, "tenant-edit-inactive")
    await page.click("button:has-text('Reativar credor')")
    await page.wait_for_selector("text=Credor reativado")
    await shot(page, "tenant-edit")


async def test_unknown_page_keeps_the_layout(page, live_server, factory):
    """Defect 9: the 404 page shows the top bar to a logged-in person, in Portuguese."""
    tenant = await factory.tenant()
    await login(page, live_server, tenant.admin.email, tenant.admin.password)
    await page.wait_for_url("**/inicio")
    answer = await page.goto(live_server + "/nao-existe")
    assert answer.status == 404
    assert await page.locator(".topbar").count() == 1
    assert "não existe" in await page.locator("main").inner_text()
    await shot(page, "not-found")


async def test_admin_changes_the_tenants_an_agent_works(page, live_server, factory):
    alfa, beta = await factory.tenant("Épsilon"), await factory.tenant("Zeta")
    admin = await factory.user("admin")
    agent = await factory.user("agent", tenant_ids=[alfa.id])
    await login(page, live_server, admin.email, admin.password)
    await page.wait_for_url("**/inicio")
    await page.goto(f"{live_server}/usuarios/{agent.user_id}")
    await page.uncheck(f"input[name=tenant_ids][value='{alfa.id}']")
    await page.check(f"input[name=tenant_ids][value='{beta.id}']")
    await page.click("button:has-text('Salvar alterações')")
    await page.wait_for_selector("text=Alterações salvas.")
    assert await page.is_checked(f"input[name=tenant_ids][value='{beta.id}']")
    assert not await page.is_checked(f"input[name=tenant_ids][value='{alfa.id}']")
    # As an admin, the user works every tenant: the list is hidden and not sent.
    await page.select_option("select[name=role]", "admin")
    assert await page.locator("fieldset.checks").is_hidden()
    await page.click("button:has-text('Salvar alterações')")
    await page.wait_for_selector("text=Alterações salvas.")
    assert await page.input_value("select[name=role]") == "admin"
    await shot(page, "user-edit-agency")
