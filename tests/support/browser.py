"""Debian's Chromium driven by Playwright for Python: no browser download, ever."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from playwright.async_api import Browser, BrowserContext, Page, async_playwright

CHROMIUM = "/usr/bin/chromium"
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
FLAGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not Path(CHROMIUM).exists():
        raise RuntimeError("Chromium is not installed at /usr/bin/chromium; `make test` installs it.")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield browser
        finally:
            await browser.close()


async def signed_in(browser: Browser, base_url: str, name: str, *, width: int = 1280) -> tuple[BrowserContext, Page]:
    """A fresh browser profile, signed in as a demo user through the dev picker."""
    context = await browser.new_context(base_url=base_url, viewport={"width": width, "height": 900})
    page = await context.new_page()
    await page.goto("/")
    await page.click(f'button[data-testid=demo-user][data-user-name="{name}"]')
    await page.wait_for_selector("[data-testid=whoami]")
    return context, page


async def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path
