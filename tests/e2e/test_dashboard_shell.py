"""The dashboard's shell in Debian's Chromium against `handoff dev`: sign-in, My sessions with its "Handed off"
group, the queue, the top navigation, unread marks per user and sign-in links that would switch users."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Request, Route, expect

from services.demo import DEMO_ACCOUNT, DEMO_USERS
from shared.auth.tokens import issue_token
from tests.support.axe import assert_accessible
from tests.support.browser import screenshot
from tests.support.dev_server import DevServer, card, dev_server, on_queue

WIDTHS = (1280, 360)
USER_IDS = {user.name: user.id for user in DEMO_USERS}


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    with dev_server(tmp_path_factory.mktemp("shell")) as server:  # the built-in rules engine assesses
        yield server


async def new_page(browser: Browser, dev: DevServer, *, width: int = 1280) -> tuple[BrowserContext, Page]:
    # Reduced motion: axe must not judge a card's colours halfway through its arrival animation.
    context = await browser.new_context(
        base_url=dev.url, viewport={"width": width, "height": 900}, reduced_motion="reduce"
    )
    return context, await context.new_page()


async def choose(page: Page, name: str) -> None:
    """Signs in through the dev picker on a signed-out page."""
    await page.goto("/")
    await page.click(f'button[data-testid=demo-user][data-user-name="{name}"]')
    await expect(page.locator("[data-testid=whoami]")).to_have_text(name)


async def sign_out(page: Page) -> None:
    await page.click("button[data-testid=signout]")
    await expect(page.locator("[data-testid=signin]")).to_be_visible()


async def check_screen(page: Page, screen: str) -> None:
    """At 1280 and 360 px: nothing wider than the window, no axe-core violation, and a screenshot."""
    for width in WIDTHS:
        await page.set_viewport_size({"width": width, "height": 900})
        assert await page.evaluate("document.documentElement.scrollWidth") <= width, f"{screen} overflows at {width}"
        await assert_accessible(page, f"{screen} at {width} px")
        await screenshot(page, f"{screen}-{width}")
    await page.set_viewport_size({"width": WIDTHS[0], "height": 900})


async def claim(dev: DevServer, who: str, handoff_id: str) -> dict[str, Any]:
    return dict(await dev.api(who, "POST", f"/api/v1/handoffs/{handoff_id}/claim"))


async def test_sign_in_hint_has_no_backticks_and_the_screen_passes_axe(dev: DevServer, browser: Browser) -> None:
    context, page = await new_page(browser, dev)
    await page.goto("/")
    await expect(page.locator("button[data-testid=demo-user]").first).to_be_visible()
    hint = page.locator("#token-hint")
    await expect(hint).to_have_text("A JWT from your MSP application or from handoff token.")
    await expect(hint.locator("code")).to_have_text("handoff token")
    assert await page.locator("ul.demo-users > :not(li)").count() == 0
    await check_screen(page, "sign-in")
    await context.close()


async def test_an_engineer_who_escalates_lands_on_my_sessions(dev: DevServer, browser: Browser) -> None:
    context, jamie = await new_page(browser, dev)
    await choose(jamie, "Jamie Junior")
    heading = jamie.locator("h1#sessions-heading")
    await expect(heading).to_be_visible()
    await expect(jamie).to_have_url(re.compile("#/sessions$"))

    await jamie.fill("input[data-testid=new-session-title]", "Scanner emails never arrive")
    await jamie.click("button[data-testid=new-session-create]")
    row = jamie.locator("[data-testid=session-row][data-status=active]", has_text="Scanner emails never arrive")
    await row.locator("textarea[data-testid=escalate-note]").fill("SMTP relay refuses the scanner")
    await check_screen(jamie, "my-sessions-escalate-form")
    await row.locator("button[data-testid=escalate]").click()

    escalated = jamie.locator("[data-testid=group-escalated] [data-testid=session-row]", has_text="Scanner emails")
    await expect(escalated).to_be_visible()
    await expect(heading).to_be_visible()
    await expect(jamie).to_have_url(re.compile("#/sessions$"))

    # Signing in again (a new tab, the next morning) lands there too, with the escalation in sight.
    await sign_out(jamie)
    await jamie.click('button[data-testid=demo-user][data-user-name="Jamie Junior"]')
    await expect(heading).to_be_visible()
    await expect(escalated).to_be_visible()
    await context.close()


async def test_a_picked_up_escalation_shows_under_handed_off_with_its_holder_and_timeline(
    dev: DevServer, browser: Browser
) -> None:
    earlier = await dev.escalate("Shared mailbox shows no new mail")
    await claim(dev, "Sam Senior", earlier["id"])
    context, jamie = await new_page(browser, dev)
    await choose(jamie, "Jamie Junior")

    handed_off = jamie.locator("[data-testid=group-handed_off]")
    row = handed_off.locator(f'[data-testid=handed-off-row][data-handoff-id="{earlier["id"]}"]')
    await expect(row).to_be_visible()
    await expect(row).to_contain_text("Shared mailbox shows no new mail")
    await expect(row.locator("[data-testid=holder]")).to_have_text("Sam Senior")
    await expect(row.locator("[data-testid=held-since]")).to_have_attribute("datetime", re.compile(r"^\d{4}-"))
    await expect(jamie.locator("[data-testid=group-escalated]")).not_to_contain_text("Shared mailbox")

    toggle = row.locator("button[data-testid=timeline-toggle]")
    await toggle.click()
    await expect(toggle).to_have_attribute("aria-expanded", "true")
    entries = row.locator("[data-testid=handed-off-timeline-entry]")
    await expect(entries.first).to_have_attribute("data-type", "created")
    claimed = row.locator("[data-testid=handed-off-timeline-entry][data-type=claimed]")
    await expect(claimed).to_contain_text("Sam Senior picked it up")
    await check_screen(jamie, "my-sessions-handed-off")

    # Live: while Jamie looks at My sessions, Riley picks up another one and it moves to Handed off.
    await expect(jamie.locator("[data-testid=connection]")).to_have_attribute("data-state", "live", timeout=5000)
    later = await dev.escalate("VPN drops every hour")
    waiting = jamie.locator("[data-testid=group-escalated] [data-testid=session-row]", has_text="VPN drops every hour")
    await expect(waiting).to_be_visible(timeout=5000)
    await claim(dev, "Riley Lead", later["id"])
    moved = handed_off.locator(f'[data-testid=handed-off-row][data-handoff-id="{later["id"]}"]')
    await expect(moved.locator("[data-testid=holder]")).to_have_text("Riley Lead", timeout=5000)
    await expect(waiting).to_have_count(0)
    await context.close()


async def test_the_queue_asks_for_cards_page_by_page_and_opens_the_full_handoff(
    dev: DevServer, browser: Browser
) -> None:
    open_now = await dev.api("Sam Senior", "GET", "/api/v1/ai-sessions/escalations?limit=200")
    for n in range(max(0, 7 - len(open_now["items"]))):
        await dev.escalate(f"Paged card {n}")
    expected = await dev.api("Sam Senior", "GET", "/api/v1/ai-sessions/escalations?limit=200")
    assert expected["next_cursor"] is None
    assert len(expected["items"]) >= 7

    context, sam = await new_page(browser, dev)
    lists: list[str] = []

    async def one_per_page(route: Route, request: Request) -> None:
        # Pages of one card each, so the queue has to follow next_cursor many times to show them all.
        lists.append(request.url)
        await route.continue_(url=re.sub(r"limit=\d+", "limit=1", request.url))

    await sam.route(re.compile(r"/api/v1/ai-sessions/escalations\?"), one_per_page)
    await choose(sam, "Sam Senior")
    await on_queue(sam)
    cards = sam.locator("[data-testid=queue-card]")
    await expect(cards).to_have_count(len(expected["items"]), timeout=10000)
    assert lists
    assert all("fields=card" in url for url in lists), lists
    assert sum("cursor=" in url for url in lists) >= len(expected["items"]) - 1
    await check_screen(sam, "queue")

    newest = expected["items"][0]
    await expect(sam.locator(card(newest["id"]))).to_contain_text(newest["snapshot"]["title"])
    async with sam.expect_request(re.compile(f"/api/v1/handoffs/{newest['id']}$")):
        await sam.locator(card(newest["id"])).click()
    screen = sam.locator(f'[data-testid=handoff-screen][data-handoff-id="{newest["id"]}"]')
    await expect(screen).to_contain_text("Jobs stuck in the print queue")  # from the snapshot a card lacks
    await context.close()


async def test_the_top_navigation_fits_a_360_px_screen(dev: DevServer, browser: Browser) -> None:
    context, riley = await new_page(browser, dev, width=360)
    await choose(riley, "Riley Lead")  # an admin: three links, Team included
    await on_queue(riley)
    nav = riley.locator("nav#nav")
    for link in ("nav-queue", "nav-sessions", "nav-team"):
        box = await nav.locator(f"[data-testid={link}]").bounding_box()
        assert box is not None
        assert 0 <= box["x"] <= box["x"] + box["width"] <= 360, (link, box)
    assert await nav.evaluate("el => el.scrollWidth <= el.clientWidth")
    assert await riley.evaluate("document.documentElement.scrollWidth") <= 360
    await riley.click("a[data-testid=nav-sessions]")
    await expect(riley.locator("[data-testid=group-active]")).to_be_visible()
    assert await riley.evaluate("document.documentElement.scrollWidth") <= 360
    await screenshot(riley, "nav-360")
    await context.close()


async def test_unread_dots_belong_to_each_user_of_a_shared_browser(dev: DevServer, browser: Browser) -> None:
    handoff = await dev.escalate("Unread for one, read by the other")
    context, page = await new_page(browser, dev)  # one browser profile, one localStorage, two people
    dot = page.locator(f"{card(handoff['id'])} [data-testid=unread-dot]")

    await choose(page, "Sam Senior")
    await on_queue(page)
    await expect(dot).to_have_count(1)
    await page.locator(card(handoff["id"])).click()
    await expect(page.locator("[data-testid=handoff-screen]")).to_be_visible()
    await page.click("a[data-testid=nav-queue]")
    await expect(page.locator(card(handoff["id"]))).to_be_visible()
    await expect(dot).to_have_count(0)
    await sign_out(page)

    await choose(page, "Riley Lead")
    await on_queue(page)
    await expect(page.locator(card(handoff["id"]))).to_be_visible()
    await expect(dot).to_have_count(1)  # Sam's reading is not Riley's
    await sign_out(page)

    await choose(page, "Sam Senior")
    await on_queue(page)
    await expect(page.locator(card(handoff["id"]))).to_be_visible()
    await expect(dot).to_have_count(0)
    keys = await page.evaluate("Object.keys(localStorage)")
    assert f"rf-escalation-seen:{DEMO_ACCOUNT}:{USER_IDS['Sam Senior']}" in keys
    assert "rf-escalation-seen" not in keys
    await context.close()


def mint(dev: DevServer, name: str, *, account: uuid.UUID = DEMO_ACCOUNT, ttl_s: int = 3600) -> str:
    """A token as the main application would issue it, signed with the dev server's own secret."""
    secret = json.loads((dev.cwd / "var" / "dev-secrets.json").read_text())["jwt_secret"]
    user = next(user for user in DEMO_USERS if user.name == name)
    return issue_token(
        secret,
        user_id=user.id,
        account_id=account,
        role=user.role,
        name=user.name,
        email=user.email,
        ttl=timedelta(seconds=ttl_s),
    )


async def test_a_sign_in_link_for_another_user_asks_before_switching(dev: DevServer, browser: Browser) -> None:
    context, page = await new_page(browser, dev)
    await choose(page, "Jamie Junior")
    await page.click("a[data-testid=nav-queue]")
    whoami = page.locator("[data-testid=whoami]")
    question = page.locator("dialog[data-testid=switch-user]")

    # Another user's link: asked in the page, the token gone from the address bar, Jamie still signed in.
    await page.goto(f"/#token={dev.tokens['Sam Senior']}")
    await expect(question).to_be_visible()
    await expect(question.locator("[data-testid=switch-next]")).to_contain_text("Sam Senior")
    await expect(question.locator("[data-testid=switch-current]")).to_contain_text("Jamie Junior")
    await expect(question.locator("button[data-testid=switch-stay]")).to_be_focused()
    assert "token" not in page.url
    await expect(whoami).to_have_text("Jamie Junior")
    await check_screen(page, "switch-user-question")
    await question.locator("button[data-testid=switch-stay]").click()
    await expect(question).to_have_count(0)
    await expect(whoami).to_have_text("Jamie Junior")
    await expect(page).to_have_url(re.compile("#/queue$"))
    assert await page.evaluate("sessionStorage.getItem('rf-token')") == dev.tokens["Jamie Junior"]

    # Escape is "stay" too.
    await page.goto(f"/#token={dev.tokens['Riley Lead']}")
    await expect(question).to_be_visible()
    await page.keyboard.press("Escape")
    await expect(question).to_have_count(0)
    await expect(whoami).to_have_text("Jamie Junior")

    # Opened as a fresh page load in the same tab, the link asks just the same.
    await page.goto("about:blank")
    await page.goto(f"/#token={dev.tokens['Riley Lead']}")
    await expect(question).to_be_visible()
    await expect(question.locator("[data-testid=switch-next]")).to_contain_text("Riley Lead")
    assert "token" not in page.url
    await question.locator("button[data-testid=switch-stay]").click()
    await expect(whoami).to_have_text("Jamie Junior")

    # Confirmed: Sam replaces Jamie.
    await page.goto(f"/#token={dev.tokens['Sam Senior']}")
    await question.locator("button[data-testid=switch-confirm]").click()
    await expect(whoami).to_have_text("Sam Senior")
    assert "token" not in page.url

    # Sam's own fresh token: taken silently, no question.
    fresh = mint(dev, "Sam Senior")
    await page.goto(f"/#token={fresh}")
    await page.wait_for_function("token => sessionStorage.getItem('rf-token') === token", arg=fresh)
    await expect(question).to_have_count(0)
    await expect(whoami).to_have_text("Sam Senior")
    assert "token" not in page.url

    # The same user id in another account is somebody else: asked again.
    await page.goto(f"/#token={mint(dev, 'Sam Senior', account=uuid.uuid4())}")
    await expect(question).to_contain_text("in another account")
    await question.locator("button[data-testid=switch-stay]").click()
    await expect(whoami).to_have_text("Sam Senior")
    await context.close()
