"""The pick-up page in Chromium: the link from a senior's email, read at 360 and 1280 px, pressed without
JavaScript, and every page it can lead to checked by axe-core."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.async_api import Browser, BrowserContext, Page, expect

from services.demo import DEMO_ACCOUNT, DEMO_USERS
from tests.support.axe import assert_accessible
from tests.support.browser import screenshot
from tests.support.dev_server import DevServer
from tests.support.mail_stack import wait_until
from tests.support.pick_up import pick_up_link
from tests.support.smtp import SMTPServer

SENIORS = ("sam", "riley", "olivia")  # the demo's seniors; Jamie escalates, Val only watches


@pytest.fixture(scope="module")
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory, smtp: SMTPServer) -> Iterator[DevServer]:
    server = DevServer(tmp_path_factory.mktemp("pick-up"))
    server.env.update(
        {
            "HANDOFF_SMTP_HOST": "127.0.0.1",
            "HANDOFF_SMTP_PORT": str(smtp.port),
            "HANDOFF_SMTP_STARTTLS": "false",
            "HANDOFF_PUBLIC_URL": server.url,  # the links in the emails lead to this server
        }
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def links(smtp: SMTPServer, handoff_id: str) -> dict[str, str]:
    """Each senior's link, from the email the SMTP server received about `handoff_id`."""

    def mails() -> dict[str, str]:
        received = [m for m in smtp.catcher.received if m.message["X-Handoff-Id"] == handoff_id]
        return {m.to.split("@")[0]: pick_up_link(m) for m in received}

    await wait_until(lambda: set(mails()) >= set(SENIORS), 30, "an email to every senior")
    return mails()


async def opened(
    browser: Browser, link: str, *, width: int = 1280, javascript: bool = True
) -> tuple[BrowserContext, Page]:
    context = await browser.new_context(viewport={"width": width, "height": 800}, java_script_enabled=javascript)
    page = await context.new_page()
    response = await page.goto(link)
    assert response is not None
    return context, page


async def status(dev: DevServer, handoff_id: str) -> tuple[str, str | None]:
    handoff = await dev.api("Jamie Junior", "GET", f"/api/v1/handoffs/{handoff_id}")
    return handoff["status"], (handoff["claimed_by"] or {}).get("name")


async def overflow(page: Page) -> int:
    return int(await page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth"))


async def test_the_page_reads_at_360_and_1280_px_and_its_button_works_without_javascript(
    dev: DevServer, smtp: SMTPServer, browser: Browser
) -> None:
    handoff = await dev.escalate("Print queue stuck at the Leeds office since the driver update", urgency="high")
    link = (await links(smtp, handoff["id"]))["sam"]

    for width in (360, 1280):
        context, page = await opened(browser, link, width=width)
        await expect(page.locator("h1")).to_have_text("Print queue stuck at the Leeds office since the driver update")
        await expect(page.get_by_role("button", name="Pick up as Sam Senior")).to_be_visible()
        await expect(page.locator("main")).to_contain_text("High urgency")
        await expect(page.locator("main")).to_contain_text("Escalated by Jamie Junior")
        assert await overflow(page) == 0
        await screenshot(page, f"pick-up-{width}")
        await assert_accessible(page, f"the pick-up page at {width} px")
        await context.close()
    assert await status(dev, handoff["id"]) == ("open", None)  # two browsers opened it; nothing changed

    context, page = await opened(browser, link, width=360, javascript=False)
    await page.get_by_role("button", name="Pick up as Sam Senior").click()
    await expect(page.locator("h1")).to_have_text("It's yours")
    dashboard = page.get_by_role("link", name="Open it in the dashboard")
    assert await dashboard.get_attribute("href") == f"{dev.url}/#/handoffs/{handoff['id']}"
    await screenshot(page, "pick-up-yours-360")
    await context.close()
    assert await status(dev, handoff["id"]) == ("claimed", "Sam Senior")
    timeline = await dev.api("Jamie Junior", "GET", f"/api/v1/handoffs/{handoff['id']}/timeline")
    assert [e["detail"] for e in timeline if e["type"] == "claimed"] == [{"via": "email_link"}]


async def test_every_page_a_link_leads_to_passes_axe(dev: DevServer, smtp: SMTPServer, browser: Browser) -> None:
    # Riley and Olivia open their links; Riley presses first.
    handoff = await dev.escalate("VPN drops every 20 minutes for the finance team")
    mine = await links(smtp, handoff["id"])
    riley_context, riley = await opened(browser, mine["riley"])
    olivia_context, olivia = await opened(browser, mine["olivia"])
    await riley.get_by_role("button", name="Pick up as Riley Lead").click()
    await expect(riley.locator("h1")).to_have_text("It's yours")
    await assert_accessible(riley, "It's yours")
    await olivia.get_by_role("button", name="Pick up as Olivia Owner").click()
    await expect(olivia.locator("h1")).to_have_text("Already picked up")
    await expect(olivia.locator("main")).to_contain_text("Already picked up by Riley Lead, ")
    await assert_accessible(olivia, "already picked up")
    await olivia.goto(mine["olivia"])  # the link opened again: who has it, and no button
    await expect(olivia.locator("main")).to_contain_text("Already picked up by Riley Lead")
    await expect(olivia.get_by_role("button")).to_have_count(0)
    await assert_accessible(olivia, "a claimed escalation's page")
    await riley.goto(mine["riley"])
    await expect(riley.locator("main")).to_contain_text("You picked this up")
    await assert_accessible(riley, "the claimer's own page")

    # Jamie withdraws while Sam's page is open.
    withdrawn = await dev.escalate("Shared mailbox missing for the new starter")
    sam_link = (await links(smtp, withdrawn["id"]))["sam"]
    await riley.goto(sam_link)
    await dev.api("Jamie Junior", "POST", f"/api/v1/handoffs/{withdrawn['id']}/withdraw")
    await riley.get_by_role("button", name="Pick up as Sam Senior").click()
    await expect(riley.locator("h1")).to_have_text("Withdrawn")
    await assert_accessible(riley, "withdrawn")

    # An unknown link.
    await riley.goto(f"{dev.url}/pick-up/{'Q' * 43}")
    await expect(riley.locator("h1")).to_have_text("This link does not work")
    await assert_accessible(riley, "the link that does not work")

    # Riley is made a viewer while the page is open.
    later = await dev.escalate("Teams calls drop audio after 5 minutes")
    riley_link = (await links(smtp, later["id"]))["riley"]
    await riley.goto(riley_link)
    lead = next(user for user in DEMO_USERS if user.name == "Riley Lead")
    path = f"/api/v1/accounts/{DEMO_ACCOUNT}/users/{lead.id}"
    body = {"email": lead.email, "name": lead.name, "active": True}
    await dev.api("Olivia Owner", "PUT", path, json={**body, "role": "viewer"})
    try:
        await riley.get_by_role("button", name="Pick up as Riley Lead").click()
        await expect(riley.locator("h1")).to_have_text("You can no longer pick this up")
        await assert_accessible(riley, "you can no longer pick this up")
        assert await status(dev, later["id"]) == ("open", None)
    finally:
        await dev.api("Olivia Owner", "PUT", path, json={**body, "role": lead.role})
    await riley_context.close()
    await olivia_context.close()
