"""Desktop notifications in Debian's Chromium against a real `handoff dev`: the header's switch, one notification
each time the signed-in senior is paged or reminded (none for their own escalation, one claimed, or a page of
someone else), the catch-up after the stream dropped while the tab was hidden, and a click opening the handoff.

An init script records every call to `ServiceWorkerRegistration.prototype.showNotification` and to the
`Notification` constructor in `window.__notes`, then lets the browser show the notification as it would.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from typing import Any, Literal

import pytest
from playwright.async_api import Browser, BrowserContext, Page, Request, expect

from services.demo import DEMO_ACCOUNT, DEMO_USERS
from tests.support.axe import assert_accessible
from tests.support.browser import screenshot
from tests.support.dev_server import DevServer, card, dev_server, on_queue
from tests.support.waiting import eventually

POLICY = f"/api/v1/accounts/{DEMO_ACCOUNT}/escalation-policy"
STREAM = "**/api/v1/ai-sessions/escalations/stream"
ID = {user.name: str(user.id) for user in DEMO_USERS}
HOSTILE_TITLE = "<!channel> [x](https://evil.example) <script>alert(1)</script>"

RECORD_NOTES = """
(() => {
  window.__notes = [];
  window.__pageNotes = [];
  window.__alerts = [];
  window.alert = (message) => { window.__alerts.push(String(message)); };
  const record = (via, title, options) => window.__notes.push({
    via, title, tag: options?.tag ?? null, body: options?.body ?? null,
    renotify: Boolean(options?.renotify), data: options?.data ?? null,
  });
  if (typeof ServiceWorkerRegistration === 'function') {
    const show = ServiceWorkerRegistration.prototype.showNotification;
    ServiceWorkerRegistration.prototype.showNotification = function (title, options) {
      record('worker', title, options);
      return show.call(this, title, options);
    };
  }
  const Native = window.Notification;
  if (typeof Native === 'function') {
    const Recorded = function Notification(title, options) {
      record('page', title, options);
      const note = new Native(title, options);
      window.__pageNotes.push(note);
      return note;
    };
    Recorded.prototype = Native.prototype;
    Object.defineProperty(Recorded, 'permission', { configurable: true, get: () => Native.permission });
    Recorded.requestPermission = (...args) => Native.requestPermission(...args);
    window.Notification = Recorded;
  }
})();
"""
DENY = """
Object.defineProperty(Notification, 'permission', { configurable: true, get: () => 'denied' });
Notification.requestPermission = () => Promise.resolve('denied');
"""
DISMISS = """
Notification.requestPermission = () => Promise.resolve('default');
"""
NO_NOTIFICATIONS = "delete window.Notification;"
HIDE = (
    "Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});"
    "document.dispatchEvent(new Event('visibilitychange'))"
)
SHOW = (
    "Object.defineProperty(document, 'hidden', {configurable: true, get: () => false});"
    "document.dispatchEvent(new Event('visibilitychange'))"
)


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    with dev_server(tmp_path_factory.mktemp("desktop")) as server:  # the built-in rules engine assesses
        yield server


async def browser_of(
    browser: Browser,
    dev: DevServer,
    *,
    allowed: bool = True,
    service_workers: Literal["allow", "block"] = "allow",
    init: str = "",
    fake_clock: bool = False,
) -> BrowserContext:
    # Reduced motion: axe must not judge a card's colours halfway through its arrival animation.
    context = await browser.new_context(
        base_url=dev.url,
        viewport={"width": 1280, "height": 900},
        reduced_motion="reduce",
        service_workers=service_workers,
    )
    if allowed:
        await context.grant_permissions(["notifications"], origin=dev.url)
    await context.add_init_script(RECORD_NOTES + init)
    if fake_clock:
        await context.clock.install()  # timers run in real time until a test pauses them
    return context


async def signed_in(context: BrowserContext, name: str) -> Page:
    page = await context.new_page()
    await page.goto("/")
    await page.click(f'button[data-testid=demo-user][data-user-name="{name}"]')
    await expect(page.locator("[data-testid=whoami]")).to_have_text(name)
    await on_queue(page)
    return page


async def turn_on(page: Page) -> None:
    switch = page.get_by_role("switch", name="Desktop notifications")
    await expect(switch).not_to_be_checked()
    await switch.click()
    await expect(page.locator("[data-testid=toast]")).to_contain_text("Desktop notifications are on")
    await expect(switch).to_be_checked()


async def senior(
    browser: Browser, dev: DevServer, name: str = "Sam Senior", **options: Any
) -> tuple[BrowserContext, Page]:
    """A senior's dashboard on the queue, desktop notifications switched on by a click."""
    context = await browser_of(browser, dev, **options)
    page = await signed_in(context, name)
    await turn_on(page)
    return context, page


async def escalate(dev: DevServer, who: str, title: str, urgency: str = "high") -> dict[str, Any]:
    session = await dev.api(who, "POST", "/api/v1/ai-sessions", json={"title": title, "ticket_ref": "T-7"})
    body = {"intent": "escalate", "note": "Users cannot print", "urgency": urgency}
    return dict(await dev.api(who, "POST", f"/api/v1/ai-sessions/{session['id']}/handoff", json=body))


async def notes(page: Page) -> list[dict[str, Any]]:
    return list(await page.evaluate("window.__notes"))


async def notes_of(page: Page, handoff_id: str, count: int = 1) -> list[dict[str, Any]]:
    """Waits until `count` notifications of the handoff were shown; answers all of them."""
    await page.wait_for_function(
        "([tag, count]) => window.__notes.filter((note) => note.tag === tag).length >= count",
        arg=[handoff_id, count],
        timeout=20000,
    )
    return [note for note in await notes(page) if note["tag"] == handoff_id]


async def show_recorded(page: Page, note: dict[str, Any]) -> None:
    """Draws what the init script recorded over the page, for the screenshot: the desktop is not in it."""
    await page.evaluate(
        """(note) => {
          const box = document.createElement('pre');
          box.style.cssText = 'position:fixed;right:16px;bottom:16px;max-width:420px;margin:0;padding:12px 14px;'
            + 'background:#1b2230;color:#fff;border-radius:10px;font:13px/1.45 system-ui;white-space:pre-wrap';
          const call = note.via === 'worker' ? 'registration.showNotification' : 'new Notification';
          box.textContent = `Recorded by the test: ${call}\n\n${note.title}\n${note.body}\n\ntag ${note.tag}`;
          document.body.append(box);
        }""",
        note,
    )


async def until(dev: DevServer, handoff_id: str, what: str, check: Callable[[dict[str, Any]], bool]) -> None:
    async def holds() -> bool:
        return check(await dev.api("Jamie Junior", "GET", f"/api/v1/handoffs/{handoff_id}"))

    await eventually(holds, 20, f"{handoff_id}: {what}", interval=0.1)


async def settled(dev: DevServer, *handoff_ids: str) -> None:
    """Until each escalation's assessment is done, so that no event of theirs is still on its way to the stream."""
    for handoff_id in handoff_ids:
        await until(dev, handoff_id, "the assessment", lambda h: h["assessment_status"] in ("ready", "failed"))


async def reminded(dev: DevServer, handoff_id: str) -> None:
    await until(dev, handoff_id, "the first reminder", lambda h: h["reminders_sent"] >= 1)


async def test_a_page_arrives_as_one_notification_and_the_switch_survives_a_reload(
    dev: DevServer, browser: Browser
) -> None:
    context, sam = await senior(browser, dev)
    await sam.evaluate(HIDE)  # in the background: the notification must not wait for the tab to come back
    handoff = await escalate(dev, "Jamie Junior", "Spooler crashes on every print job")
    [note] = await notes_of(sam, handoff["id"])
    assert note["via"] == "worker"  # through the page's service worker registration, as Android needs
    assert note["title"] == "Spooler crashes on every print job"
    assert note["body"] == "High urgency · from Jamie Junior\nWhy you: all seniors"
    assert note["renotify"] is False
    assert note["data"]["handoff_id"] == handoff["id"]
    assert note["data"]["url"] == f"{dev.url}/#/handoffs/{handoff['id']}"
    # The browser shows it: the worker's registration holds one notification with that tag.
    worker = context.service_workers[0] if context.service_workers else await context.wait_for_event("serviceworker")
    shown = await worker.evaluate(
        "async (tag) => (await self.registration.getNotifications({tag})).map((n) => n.title)", handoff["id"]
    )
    assert shown == ["Spooler crashes on every print job"]
    await sam.evaluate(SHOW)
    await expect(sam.locator(card(handoff["id"]))).to_be_visible()
    await sam.locator("[data-testid=toast] .toast__close").click()
    await show_recorded(sam, note)
    await screenshot(sam, "desktop-notification-recorded")

    await sam.reload()
    await on_queue(sam)
    await expect(sam.get_by_role("switch", name="Desktop notifications")).to_be_checked()
    later = await escalate(dev, "Jamie Junior", "Scanner to email fails after the reload")
    assert [n["title"] for n in await notes_of(sam, later["id"])] == ["Scanner to email fails after the reload"]
    assert [n["tag"] for n in await notes(sam)] == [later["id"]]  # the earlier one is not shown again

    # Picked up by someone else: its notification has nothing left to ask, and goes.
    worker = context.service_workers[0]
    count = "async (tag) => (await self.registration.getNotifications({tag})).length"
    assert await worker.evaluate(count, later["id"]) == 1
    await dev.api("Riley Lead", "POST", f"/api/v1/handoffs/{later['id']}/claim")
    await expect(sam.locator(card(later["id"]))).to_have_count(0)

    async def gone() -> bool:
        return await worker.evaluate(count, later["id"]) == 0

    await eventually(gone, 5, "the notification to go", interval=0.1)
    await context.close()


async def test_none_for_the_seniors_own_escalation_nor_before_the_switch_is_on(
    dev: DevServer, browser: Browser
) -> None:
    context = await browser_of(browser, dev)
    sam = await signed_in(context, "Sam Senior")
    switch = sam.get_by_role("switch", name="Desktop notifications")
    await expect(switch).not_to_be_checked()  # off until the senior turns it on
    before = await escalate(dev, "Jamie Junior", "Paged while the switch was off")
    await expect(sam.locator(card(before["id"]))).to_be_visible()
    await turn_on(sam)

    own = await escalate(dev, "Sam Senior", "Sam's own escalation")
    after = await escalate(dev, "Jamie Junior", "Paged once the switch was on")
    await notes_of(sam, after["id"])  # the stream's later event is weighed after the earlier ones
    assert [n["tag"] for n in await notes(sam)] == [after["id"]]
    await expect(sam.locator(card(before["id"]))).to_be_visible()
    assert own["created_by"]["id"] == ID["Sam Senior"]
    await context.close()


async def test_a_reminder_replaces_the_page_and_a_claimed_escalation_gets_none(
    dev: DevServer, browser: Browser
) -> None:
    policy = await dev.api("Riley Lead", "GET", POLICY)
    quick = {**policy, "unclaimed_reminder_s": {"low": 5, "normal": 5, "high": 5}, "max_reminders": 1}
    await dev.api("Riley Lead", "PUT", POLICY, json=quick)
    try:
        context, sam = await senior(browser, dev)
        claimed = await escalate(dev, "Jamie Junior", "Claimed before its reminder")
        await notes_of(sam, claimed["id"])
        await dev.api("Riley Lead", "POST", f"/api/v1/handoffs/{claimed['id']}/claim")
        waiting = await escalate(dev, "Jamie Junior", "Nobody picks this up")
        page, reminder = await notes_of(sam, waiting["id"], 2)
        assert page["renotify"] is False
        assert reminder == {
            **page,
            "body": "Reminder 1: still waiting for someone to pick it up\nHigh urgency · from Jamie Junior",
            "renotify": True,  # the same tag replaces the first notification, and alerts again
        }
        await expect(sam.locator(card(waiting["id"])).locator("[data-testid=reminder-badge]")).to_have_text(
            "Reminder 1"
        )
        # The claimed one was paged once, before its claim, and never reminded.
        assert [n["body"].split("\n")[0] for n in await notes(sam) if n["tag"] == claimed["id"]] == [
            "High urgency · from Jamie Junior"
        ]
        await context.close()
    finally:
        await dev.api("Riley Lead", "PUT", POLICY, json=policy)


async def test_a_step_that_pages_someone_else_notifies_only_them(dev: DevServer, browser: Browser) -> None:
    policy = await dev.api("Riley Lead", "GET", POLICY)
    riley_only = {**policy, "steps": [{"after_s": 0, "notify": [f"user:{ID['Riley Lead']}"]}]}
    sam_context, sam = await senior(browser, dev)
    riley_context, riley = await senior(browser, dev, "Riley Lead")
    await dev.api("Riley Lead", "PUT", POLICY, json=riley_only)
    try:
        handoff = await escalate(dev, "Jamie Junior", "Only Riley is paged for this")
        [note] = await notes_of(riley, handoff["id"])
        assert note["body"] == "High urgency · from Jamie Junior\nWhy you: named in step 1"
        await expect(sam.locator(card(handoff["id"]))).to_be_visible()  # Sam's queue still shows it
    finally:
        await dev.api("Riley Lead", "PUT", POLICY, json=policy)
    everyone = await escalate(dev, "Jamie Junior", "Everyone is paged again")
    await notes_of(sam, everyone["id"])
    assert [n["tag"] for n in await notes(sam)] == [everyone["id"]]
    await sam_context.close()
    await riley_context.close()


async def test_after_the_stream_dropped_while_hidden_the_missed_page_is_notified_once(
    dev: DevServer, browser: Browser
) -> None:
    context, sam = await senior(browser, dev, fake_clock=True)
    seen = await escalate(dev, "Jamie Junior", "Shown before the outage")
    await notes_of(sam, seen["id"])
    resumed_from: list[str | None] = []

    def on_request(request: Request) -> None:
        if request.url.endswith("/escalations/stream"):
            resumed_from.append(request.headers.get("last-event-id"))

    sam.on("request", on_request)
    await sam.evaluate(HIDE)
    # A background tab's timers are throttled: here they stop, so no reconnect timer brings the stream back.
    await sam.clock.pause_at(await sam.evaluate("Date.now() + 1000"))
    # The stream drops (the server restarts) and cannot come back while the tab is in the background.
    await sam.route(STREAM, lambda route: route.abort())
    dev.stop()
    indicator = sam.locator("[data-testid=connection]")
    await expect(indicator).to_have_attribute("data-state", "reconnecting", timeout=5000)
    await asyncio.to_thread(dev.start)
    claimed = await escalate(dev, "Jamie Junior", "Claimed during the outage")
    await dev.api("Riley Lead", "POST", f"/api/v1/handoffs/{claimed['id']}/claim")
    missed = await escalate(dev, "Jamie Junior", "Paged during the outage")
    assert [n["tag"] for n in await notes(sam)] == [seen["id"]]

    await sam.unroute(STREAM)
    await sam.evaluate(SHOW)
    await expect(indicator).to_have_attribute("data-state", "live", timeout=15000)
    [note] = await notes_of(sam, missed["id"])
    assert note["title"] == "Paged during the outage"
    assert [n["tag"] for n in await notes(sam)] == [seen["id"], missed["id"]]
    await sam.clock.resume()
    # Every attempt to come back resumed where the stream left off rather than starting afresh.
    assert resumed_from
    assert all(resumed_from)
    await expect(sam.locator(card(missed["id"]))).to_be_visible()
    await expect(sam.locator(card(claimed["id"]))).to_have_count(0)
    await context.close()


async def test_after_a_resync_only_what_is_open_and_unseen_is_notified(dev: DevServer, browser: Browser) -> None:
    policy = await dev.api("Riley Lead", "GET", POLICY)
    # High urgency is reminded after 8 s, the others not within this test.
    await dev.api(
        "Riley Lead",
        "PUT",
        POLICY,
        json={**policy, "unclaimed_reminder_s": {**policy["unclaimed_reminder_s"], "high": 8}, "max_reminders": 1},
    )
    try:
        context = await browser_of(browser, dev)
        sam = await signed_in(context, "Sam Senior")
        unseen = await escalate(dev, "Jamie Junior", "Paged before the switch was on", urgency="normal")
        await expect(sam.locator(card(unseen["id"]))).to_be_visible()
        await turn_on(sam)
        seen = await escalate(dev, "Jamie Junior", "Shown before the long outage")
        await notes_of(sam, seen["id"])
        await sam.evaluate(HIDE)
        await sam.route(STREAM, lambda route: route.abort())
        dev.stop()
        await asyncio.to_thread(dev.start)
        missed = await escalate(dev, "Jamie Junior", "Paged while the stream was away", urgency="normal")
        claimed = await escalate(dev, "Jamie Junior", "Claimed while the stream was away", urgency="normal")
        await dev.api("Riley Lead", "POST", f"/api/v1/handoffs/{claimed['id']}/claim")
        await settled(dev, missed["id"], claimed["id"])
        await reminded(dev, seen["id"])
        # A second restart forgets the events the first one kept: the dashboard's place in the stream is gone.
        dev.stop()
        await asyncio.to_thread(dev.start)

        await sam.unroute(STREAM)
        await sam.evaluate(SHOW)
        await notes_of(sam, seen["id"], 2)
        # Catching up from the open escalations: the page and the reminder that came after the stream's last
        # event; not the claimed one, nor the page shown before the outage, nor one paged before it.
        assert [(n["tag"], n["renotify"]) for n in await notes(sam)] == [
            (seen["id"], False),
            (missed["id"], False),
            (seen["id"], True),
        ]
        await expect(sam.locator(card(claimed["id"]))).to_have_count(0)
        await context.close()
    finally:
        await dev.api("Riley Lead", "PUT", POLICY, json=policy)


async def test_clicking_the_notification_opens_the_handoff(dev: DevServer, browser: Browser) -> None:
    context, sam = await senior(browser, dev)
    handoff = await escalate(dev, "Jamie Junior", "Open me from the notification")
    tag = handoff["id"]
    await notes_of(sam, handoff["id"])
    worker = context.service_workers[0] if context.service_workers else await context.wait_for_event("serviceworker")
    # Chromium's headless shell has no notification centre to click: the worker gets the click it would send.
    await worker.evaluate(
        """async (tag) => {
          const [notification] = await self.registration.getNotifications({tag});
          self.dispatchEvent(new NotificationEvent('notificationclick', {notification}));
        }""",
        handoff["id"],
    )
    await expect(sam).to_have_url(f"{dev.url}/#/handoffs/{handoff['id']}")
    await expect(sam.locator(f'[data-testid=handoff-screen][data-handoff-id="{handoff["id"]}"]')).to_be_visible()
    left = await worker.evaluate("async (tag) => (await self.registration.getNotifications({tag})).length", tag)
    assert left == 0  # the click closed it
    await context.close()


async def test_without_a_service_worker_the_page_notifies_and_its_click_opens_the_handoff(
    dev: DevServer, browser: Browser
) -> None:
    context, sam = await senior(browser, dev, service_workers="block")
    handoff = await escalate(dev, "Jamie Junior", "No service worker here")
    [note] = await notes_of(sam, handoff["id"])
    assert note["via"] == "page"
    assert note["title"] == "No service worker here"
    await sam.evaluate("window.__pageNotes[0].dispatchEvent(new Event('click'))")
    await expect(sam).to_have_url(f"{dev.url}/#/handoffs/{handoff['id']}")
    await expect(sam.locator(f'[data-testid=handoff-screen][data-handoff-id="{handoff["id"]}"]')).to_be_visible()
    await context.close()


async def test_a_blocked_or_missing_permission_leaves_the_switch_off_and_says_why(
    dev: DevServer, browser: Browser
) -> None:
    refusals = (
        (DENY, "blocked for this site"),
        (DISMISS, "the browser did not get an answer"),
        (NO_NOTIFICATIONS, "cannot show desktop notifications"),
    )
    for init, words in refusals:
        context = await browser_of(browser, dev, allowed=False, init=init)
        sam = await signed_in(context, "Sam Senior")
        switch = sam.get_by_role("switch", name="Desktop notifications")
        await switch.click()
        toast = sam.locator("[data-testid=toast]")
        await expect(toast).to_contain_text(words)
        await expect(toast).to_have_attribute("role", "alert")
        await expect(switch).not_to_be_checked()
        if init == DENY:
            await expect(toast).to_contain_text("set Notifications to Allow")
        handoff = await escalate(dev, "Jamie Junior", f"Nobody is told: {words}")
        await expect(sam.locator(card(handoff["id"]))).to_be_visible()
        assert await notes(sam) == []
        await sam.reload()
        await on_queue(sam)
        await expect(switch).not_to_be_checked()
        await context.close()


async def test_the_header_with_its_switch_is_accessible_at_1280_and_360_px(dev: DevServer, browser: Browser) -> None:
    context, sam = await senior(browser, dev)
    await sam.locator("[data-testid=toast] .toast__close").click()
    for width in (1280, 360):
        await sam.set_viewport_size({"width": width, "height": 900})
        assert await sam.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
        await assert_accessible(sam, f"the header with the desktop switch at {width} px")
        await screenshot(sam, "desktop-switch" if width == 1280 else f"desktop-switch-{width}")
    # A viewer is never paged: no switch for them.
    viewer_context = await browser_of(browser, dev)
    val = await viewer_context.new_page()
    await val.goto("/")
    await val.click('button[data-testid=demo-user][data-user-name="Val Viewer"]')
    await expect(val.locator("[data-testid=whoami]")).to_have_text("Val Viewer")
    await expect(val.get_by_role("switch", name="Desktop notifications")).to_have_count(0)
    await viewer_context.close()
    await context.close()


async def test_a_hostile_title_is_text_in_the_queue_and_in_the_notification(dev: DevServer, browser: Browser) -> None:
    context, sam = await senior(browser, dev)
    handoff = await escalate(dev, "Jamie Junior", HOSTILE_TITLE)
    [note] = await notes_of(sam, handoff["id"])
    assert note["title"] == HOSTILE_TITLE
    title = sam.locator(card(handoff["id"])).locator("[data-testid=title]")
    await expect(title).to_have_text(HOSTILE_TITLE)
    assert await title.evaluate("el => el.children.length") == 0  # no script, no link: one text node
    assert await sam.evaluate("document.querySelectorAll('script:not([src])').length") == 0
    assert await sam.evaluate("window.__alerts") == []
    await context.close()
