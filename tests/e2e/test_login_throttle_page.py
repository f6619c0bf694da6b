"""The login page when attempts are throttled: a clear wait, in Portuguese."""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy.engine import make_url

from core.settings import get_settings
from tests.e2e.conftest import login, shot

pytestmark = pytest.mark.e2e


@pytest.fixture
def clean_throttle():
    yield
    url = make_url(get_settings().database_url).set(drivername="postgresql")
    with psycopg.connect(url.render_as_string(False), autocommit=True) as conn:
        conn.execute("DELETE FROM login_throttle")


async def test_throttled_login_says_how_long_to_wait(page, live_server, factory,
                                                     clean_throttle):
    tenant = await factory.tenant()
    for _ in range(get_settings().login_max_failures):
        await login(page, live_server, tenant.admin.email, "senha-errada-123")
        await page.wait_for_load_state()
    await login(page, live_server, tenant.admin.email, tenant.admin.password)
    await page.wait_for_load_state()
    text = await page.inner_text("body")
    assert "muitas tentativas de login; aguarde" in text and "segundo" in text
    await shot(page, "login-throttled")
