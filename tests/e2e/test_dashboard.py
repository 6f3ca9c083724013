"""The dashboard in a real browser (Debian's Chromium) against a real `handoff dev` process."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator, Iterator

import pytest
from playwright.async_api import Browser, Page, Route, expect

from services.demo import DEMO_ACCOUNT, DEMO_USERS
from tests.support.ai_servers import FakeAIServer, fake_ai_server, slow_answer
from tests.support.browser import screenshot, signed_in
from tests.support.dev_server import DevServer, card, dev_server, on_queue

ASSESSMENT = {
    "summary": "The print spooler crashes on a corrupt HP driver package.",
    "likely_causes": [{"cause": "Corrupt driver package", "confidence": 0.7}],
    "suggested_steps": ["Remove the HP driver package with printui /s /t2", "Install the HP Universal Print Driver"],
    "missing_info": ["Which driver version is installed"],
    "risk": "low",
}
ASSESSMENT_DELAY_S = 2.5


@pytest.fixture(scope="module")
async def ai() -> AsyncIterator[FakeAIServer]:
    async with fake_ai_server("openai") as fake:
        fake.default = slow_answer(json.dumps(ASSESSMENT), ASSESSMENT_DELAY_S)
        yield fake


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory, ai: FakeAIServer) -> Iterator[DevServer]:
    with dev_server(tmp_path_factory.mktemp("dashboard"), ai.base_url) as server:
        yield server


async def test_two_seniors_race_on_pick_up(dev: DevServer, browser: Browser) -> None:
    pages = {}
    for name in ("Sam Senior", "Riley Lead"):
        _, pages[name] = await signed_in(browser, dev.url, name)
        await on_queue(pages[name])
    handoff = await dev.escalate("Race for the spooler")
    for page in pages.values():
        await expect(page.locator(card(handoff["id"]))).to_be_visible(timeout=2000)

    # Both clicks leave their browsers before either claim reaches the server: a true race at the server.
    both_sent = asyncio.Barrier(len(pages))

    async def hold_until_both(route: Route) -> None:
        await both_sent.wait()
        await route.continue_()

    for page in pages.values():
        await page.route("**/api/v1/handoffs/*/claim", hold_until_both)
    await asyncio.gather(*(page.click(f"{card(handoff['id'])} button[data-testid=pick-up]") for page in pages.values()))

    async def outcome(page: Page) -> str:
        screen = page.locator(f'[data-testid=handoff-screen][data-handoff-id="{handoff["id"]}"]')
        toast = page.locator("[data-testid=toast]")
        await expect(screen.or_(toast)).to_be_visible(timeout=5000)
        return "screen" if await screen.is_visible() else (await toast.text_content() or "")

    results = {name: await outcome(page) for name, page in pages.items()}
    winners = [name for name, result in results.items() if result == "screen"]
    assert len(winners) == 1, results
    loser = next(name for name in results if name not in winners)
    assert f"Already claimed by {winners[0]}" in results[loser]
    await expect(pages[loser].locator(card(handoff["id"]))).to_have_count(0)
    for context in {page.context for page in pages.values()}:
        await context.close()


async def test_a_live_escalation_from_junior_to_senior(dev: DevServer, browser: Browser) -> None:
    requested: list[str] = []
    seniors = {}
    for name in ("Sam Senior", "Riley Lead"):
        _, seniors[name] = await signed_in(browser, dev.url, name)
        seniors[name].on("request", lambda request: requested.append(request.url))
        await on_queue(seniors[name])
    _, junior = await signed_in(browser, dev.url, "Jamie Junior")
    junior.on("request", lambda request: requested.append(request.url))

    # The junior creates a session and escalates it from the dashboard.
    await junior.click("a[data-testid=nav-sessions]")
    await junior.fill("input[data-testid=new-session-title]", "Reception printer drops every job")
    await junior.fill("input[data-testid=new-session-ticket]", "4711")
    await junior.fill("textarea[data-testid=new-session-message]", "Print spooler stops after each job")
    await junior.click("button[data-testid=new-session-create]")
    row = junior.locator("[data-testid=session-row][data-status=active]", has_text="Reception printer drops every job")
    await expect(row).to_be_visible()
    await row.locator("textarea[data-testid=escalate-note]").fill("Spooler restarts did not help")
    await row.locator("select[data-testid=escalate-urgency]").select_option("high")
    started = time.monotonic()
    await row.locator("button[data-testid=escalate]").click()

    sam = seniors["Sam Senior"]
    cards = {
        name: page.locator("[data-testid=queue-card]", has_text="Reception printer drops every job")
        for name, page in seniors.items()
    }
    for found in cards.values():
        await expect(found).to_be_visible(timeout=2000)
        await expect(found.locator("[data-testid=unread-dot]")).to_have_count(1)
    print(f"\nescalation visible in both seniors' queues after {time.monotonic() - started:.2f} s")
    handoff_id = await cards["Sam Senior"].get_attribute("data-handoff-id")
    assert handoff_id
    await expect(cards["Sam Senior"].locator("[data-testid=urgency]")).to_contain_text("high", ignore_case=True)
    await cards["Sam Senior"].hover()
    await expect(cards["Sam Senior"].locator("[data-testid=unread-dot]")).to_have_count(1)  # hovering is not reading

    # Opening it clears the dot; the assessment fills in on the open screen without a reload.
    await cards["Sam Senior"].click()
    screen = sam.locator(f'[data-testid=handoff-screen][data-handoff-id="{handoff_id}"]')
    await expect(screen).to_be_visible()
    assessment = screen.locator("[data-testid=assessment]")
    await expect(assessment).to_have_attribute("data-status", "pending")
    await expect(screen.locator("[data-testid=assessment-pending]")).to_be_visible()
    await expect(assessment).to_have_attribute("data-status", "ready", timeout=ASSESSMENT_DELAY_S * 1000 + 5000)
    await expect(screen.locator("[data-testid=assessment-summary]")).to_have_text(ASSESSMENT["summary"])
    await expect(screen.locator("[data-testid=likely-cause]")).to_contain_text("70%")
    await screenshot(sam, "handoff-screen-1280")

    await sam.click("a[data-testid=nav-queue]")
    await expect(cards["Sam Senior"].locator("[data-testid=unread-dot]")).to_have_count(0)
    await expect(cards["Riley Lead"].locator("[data-testid=unread-dot]")).to_have_count(1)
    await screenshot(seniors["Riley Lead"], "queue-1280")
    await sam.reload()
    await expect(cards["Sam Senior"]).to_be_visible()
    await expect(cards["Sam Senior"].locator("[data-testid=unread-dot]")).to_have_count(0)

    # Picking it up shows the chips; a chip fills and focuses the composer; the first send hides them.
    await cards["Sam Senior"].locator("button[data-testid=pick-up]").click()
    await expect(screen).to_be_visible()
    chip = screen.locator("button[data-testid=step-chip]").first
    await expect(chip).to_be_visible()
    chip_text = (await chip.text_content() or "").strip()
    await chip.click()
    composer = screen.locator("textarea[data-testid=composer]")
    await expect(composer).to_have_value(chip_text)
    await expect(composer).to_be_focused()
    await screen.locator("button[data-testid=composer-send]").click()
    await expect(screen.locator("[data-testid=session-message]").last).to_contain_text(chip_text)
    await expect(screen.locator("[data-testid=step-chips]")).to_have_count(0)
    await expect(cards["Riley Lead"]).to_have_count(0)  # claimed: it left the other queue live

    for url in requested:
        assert "eyJ" not in url, f"a token travelled in a URL: {url}"


async def test_the_queue_survives_an_api_restart(dev: DevServer, browser: Browser) -> None:
    _, sam = await signed_in(browser, dev.url, "Sam Senior")
    await on_queue(sam)
    indicator = sam.locator("[data-testid=connection]")

    dev.stop()
    await expect(indicator).to_have_attribute("data-state", "reconnecting", timeout=5000)
    await asyncio.to_thread(dev.start)
    handoff = await dev.escalate("Made while the queue was reconnecting")
    await expect(indicator).to_have_attribute("data-state", "live", timeout=15000)
    await expect(sam.locator(card(handoff["id"]))).to_be_visible(timeout=5000)


async def test_readable_at_360_px_and_keyboard_reachable(dev: DevServer, browser: Browser) -> None:
    handoff = await dev.escalate("Narrow screens still work")
    _, sam = await signed_in(browser, dev.url, "Sam Senior", width=360)
    await on_queue(sam)
    await expect(sam.locator(card(handoff["id"]))).to_be_visible()
    overflow = await sam.evaluate("document.scrollingElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    await screenshot(sam, "queue-360")

    await sam.locator(card(handoff["id"])).focus()
    await sam.keyboard.press("Enter")
    await expect(sam.locator(f'[data-testid=handoff-screen][data-handoff-id="{handoff["id"]}"]')).to_be_visible()
    assert await sam.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
    await screenshot(sam, "handoff-screen-360")


async def test_seen_ids_are_capped_at_200(dev: DevServer, browser: Browser) -> None:
    handoff = await dev.escalate("One more to read")
    _, riley = await signed_in(browser, dev.url, "Riley Lead")
    old = [f"00000000-0000-4000-8000-{n:012d}" for n in range(250)]
    key = f"rf-escalation-seen:{DEMO_ACCOUNT}:{next(u.id for u in DEMO_USERS if u.name == 'Riley Lead')}"
    await riley.evaluate("([key, ids]) => localStorage.setItem(key, JSON.stringify(ids))", [key, old])
    await riley.reload()
    await on_queue(riley)
    await riley.locator(card(handoff["id"])).click()
    await expect(riley.locator("[data-testid=handoff-screen]")).to_be_visible()
    seen = await riley.evaluate("key => JSON.parse(localStorage.getItem(key))", key)
    assert len(seen) <= 200
    assert handoff["id"] in seen


async def test_arrivals_are_announced_and_flash_a_hidden_tab(dev: DevServer, browser: Browser) -> None:
    context = await browser.new_context(base_url=dev.url, reduced_motion="reduce")
    sam = await context.new_page()
    await sam.goto("/")
    await sam.click('button[data-testid=demo-user][data-user-name="Sam Senior"]')
    await on_queue(sam)
    # The tab goes to the background.
    await sam.evaluate(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    handoff = await dev.escalate("Announced while the tab was hidden")
    arrived = sam.locator(card(handoff["id"]))
    await expect(arrived).to_be_visible(timeout=2000)
    await expect(sam.locator("[data-testid=announcer]")).to_contain_text("Announced while the tab was hidden")
    await expect(sam).to_have_title(re.compile("New escalation"), timeout=3000)
    assert await arrived.evaluate("el => getComputedStyle(el.closest('li') || el).animationName") == "none"

    # Back in front: the title stops flashing.
    await sam.evaluate(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    await expect(sam).not_to_have_title(re.compile("New escalation"), timeout=3000)
    await context.close()
