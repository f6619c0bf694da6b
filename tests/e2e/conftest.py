"""Browser tests: Playwright driving Debian's Chromium against the real app."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.serving import serve_app

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HAS_CHROMIUM = Path(CHROMIUM).exists()
SHOTS = Path(__file__).resolve().parents[2] / "bench" / "out" / "screenshots"


@pytest.fixture(scope="session")
def live_server(services: None, worker: object) -> Iterator[str]:
    """The app served by uvicorn in a thread (with its own event loop), as in production."""
    with serve_app() as url:
        yield url


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    if not HAS_CHROMIUM:
        pytest.skip("Debian's chromium is not installed (.ci/run installs it)")
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        instance = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-dev-shm-usage"],
        )
        yield instance
        await instance.close()


@pytest.fixture
async def page(browser) -> AsyncIterator[object]:
    context = await browser.new_context(viewport={"width": 1280, "height": 860},
                                        locale="pt-BR")
    tab = await context.new_page()
    yield tab
    await context.close()


async def shot(tab, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    await tab.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


async def login(tab, base: str, email: str, password: str) -> None:
    await tab.goto(base + "/")
    await tab.fill("input[name=email]", email)
    await tab.fill("input[name=password]", password)
    await tab.click("button[type=submit]")


async def go_to(tab, label: str) -> None:
    """Follow the main navigation's link `label`, opening its menu first as a person
    would (pages are grouped in menus that open under the pointer)."""
    nav = tab.locator("nav[aria-label='Navegação principal']")
    menu = nav.locator(".menu", has=tab.locator("a", has_text=label))
    if await menu.count():
        await menu.first.hover()
    await nav.locator("a", has_text=label).first.click()
