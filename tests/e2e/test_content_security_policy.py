"""Under the content security policy every page still works and the browser reports no
violation: no script, style or connection the policy forbids is even attempted."""

from __future__ import annotations

import pytest

from portal.pages import NAV
from tests.e2e.conftest import login, shot

pytestmark = pytest.mark.e2e


async def violations_on(page) -> list[str]:
    """Collect the browser's reports of blocked content, from now on."""
    seen: list[str] = []
    page.on("console", lambda message: seen.append(message.text)
            if "Content Security Policy" in message.text else None)
    await page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e =>"
        " console.error('Content Security Policy: ' + e.violatedDirective + ' ' + e.blockedURI));")
    return seen


async def test_every_page_of_the_navigation_runs_under_the_policy(page, live_server, factory):
    tenant = await factory.tenant()
    admin = await factory.user("admin")
    seen = await violations_on(page)
    await login(page, live_server, admin.email, admin.password)
    await page.wait_for_url("**/inicio")
    for href, _, _ in (page_ for _, pages in NAV for page_ in pages):
        answer = await page.goto(live_server + href)
        assert answer is not None and answer.status == 200, href
        assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    await page.goto(live_server + f"/admin/credores/{tenant.id}")
    await shot(page, "csp-tenant-edit")
    assert seen == []


async def test_a_confirm_and_the_upload_work_without_inline_code(page, live_server, factory,
                                                                 tmp_path):
    """The deactivation asks first (data-confirm); the upload PUTs to S3 (connect-src)."""
    from tenants.intake.formats.sample import write as write_sample

    tenant = await factory.tenant()
    admin = await factory.user("admin")
    seen = await violations_on(page)
    await login(page, live_server, admin.email, admin.password)
    await page.wait_for_url("**/inicio")
    await page.goto(live_server + f"/admin/credores/{tenant.id}")
    asked: list[str] = []

    async def dismiss(dialog) -> None:
        asked.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    await page.click("form[data-confirm] button")
    await page.wait_for_timeout(300)
    assert asked and asked[0].startswith("Desativar")
    assert "/admin/credores/" in page.url  # dismissed: still on the page, not deactivated
    page.remove_listener("dialog", dismiss)

    await page.click("text=Sair")
    await login(page, live_server, tenant.admin.email, tenant.admin.password)
    await page.wait_for_url("**/inicio")
    await page.goto(live_server + "/carteiras")
    path = tmp_path / "carteira.csv"
    write_sample(path, 30, seed=8)
    await page.set_input_files("#file", str(path))
    await page.locator("#mapping-card").wait_for(state="visible")
    assert await page.locator("#preview tbody tr").count() == 5
    await shot(page, "csp-upload-preview")
    assert seen == []
