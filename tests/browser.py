"""Driving the desktop pages in Chromium with Playwright's async API (beside asyncio servers)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.conftest import CHROMIUM_ARGS


async def launch(pw: Any, chromium: str) -> Any:
    return await pw.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)


async def log_in(browser: Any, url: str, who: str, *, page_path: str = "/agent", **context: Any) -> Any:
    """A page of its own (one person's browser), logged in on ``page_path`` and connected."""
    from playwright.async_api import expect

    page = await (await browser.new_context(**context)).new_page()
    page.set_default_timeout(15_000)
    await page.goto(f"{url}{page_path}")
    await page.fill("#login-agent", who)
    await page.fill("#login-password", who)  # the test configurations' passwords are the ids
    await page.click("#login-submit")
    await expect(page.locator("#conn-status")).to_have_attribute("data-state", "connected")
    return page


async def go_available(page: Any) -> None:
    from playwright.async_api import expect

    await page.select_option("#state-select", "available")
    await page.click("#state-apply")
    await expect(page.locator("#agent-state")).to_contain_text("available")


async def screenshot(page: Any, folder: Path, name: str) -> Path:
    """What the page showed, kept under the test's ``tmp_path`` (inside pytest's base temporary
    folder, which ``--basetemp`` sets: the run's output folder) as ``screenshots/<name>.png``."""
    path = folder / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path), full_page=True)
    return path
