"""Reminders, timeline, assessment feedback and the Team view in Debian's Chromium against `handoff dev`."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.async_api import Browser, expect

from services.demo import DEMO_ACCOUNT
from tests.support.browser import screenshot, signed_in
from tests.support.dev_server import DevServer, card, dev_server, on_queue


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    with dev_server(tmp_path_factory.mktemp("lifecycle")) as server:  # the built-in rules engine assesses
        yield server


async def test_a_lead_sets_a_10_s_reminder_and_sams_card_says_reminder_1(dev: DevServer, browser: Browser) -> None:
    lead_context, lead = await signed_in(browser, dev.url, "Riley Lead")
    await lead.click("a[data-testid=nav-team]")
    form = lead.locator("[data-testid=policy-form]")
    for field in ("low", "normal", "high"):
        await form.locator(f"[data-testid=policy-{field}]").fill("10")
        await form.locator(f"[data-testid=policy-{field}-unit]").select_option(label="seconds")
    await form.locator("[data-testid=policy-max_reminders]").fill("3")
    await form.locator("[data-testid=policy-save]").click()
    await expect(lead.locator("[data-testid=toast]")).to_contain_text("Escalation policy saved")
    saved = await dev.api("Riley Lead", "GET", f"/api/v1/accounts/{DEMO_ACCOUNT}/escalation-policy")
    assert saved["unclaimed_reminder_s"] == {"low": 10, "normal": 10, "high": 10}
    bad = lead.locator("[data-testid=policy-form]")
    await bad.locator("[data-testid=policy-high]").fill("3")
    await bad.locator("[data-testid=policy-save]").click()
    await expect(lead.locator("[data-testid=policy-error]")).to_contain_text("between 5 seconds and 24 hours")
    await bad.locator("[data-testid=policy-high]").fill("10")
    await bad.locator("[data-testid=policy-save]").click()
    await expect(lead.locator("[data-testid=policy-error]")).to_have_text("")

    sam_context, sam = await signed_in(browser, dev.url, "Sam Senior")
    await on_queue(sam)
    handoff = await dev.escalate("Outlook keeps prompting for a password")
    queued = sam.locator(card(handoff["id"]))
    await expect(queued).to_be_visible(timeout=5000)
    badge = queued.locator("[data-testid=reminder-badge]")
    await expect(badge).to_be_hidden()
    # The tab goes to the background: the reminder flashes its title.
    await sam.evaluate(
        "Object.defineProperty(document, 'hidden', {configurable: true, get: () => true});"
        "document.dispatchEvent(new Event('visibilitychange'))"
    )
    await expect(badge).to_have_text("Reminder 1", timeout=20000)
    await expect(sam.locator("[data-testid=announcer]")).to_contain_text("Reminder 1: Outlook keeps prompting")
    await expect(sam).to_have_title(re.compile("Reminder 1"), timeout=3000)
    await screenshot(sam, "queue-card-reminder-1")

    # The Team view's figures count the escalation and its reminder, and chart the last 7 days.
    await lead.reload()
    await lead.click("a[data-testid=nav-team]")
    await expect(lead.locator("[data-testid=stat-escalations] .tile__value")).not_to_have_text("0")
    await expect(lead.locator("[data-testid=team-chart] rect.chart__bar")).to_have_count(8)
    await screenshot(lead, "team-view")
    await sam_context.close()
    await lead_context.close()


async def test_after_pick_up_the_claimer_rates_the_assessment_and_sees_the_timeline(
    dev: DevServer, browser: Browser
) -> None:
    handoff = await dev.escalate("DNS lookups fail for the intranet")
    context, sam = await signed_in(browser, dev.url, "Sam Senior")
    await sam.goto(f"/#/handoffs/{handoff['id']}")
    screen = sam.locator("[data-testid=handoff-screen]")
    await expect(screen.locator("[data-testid=assessment]")).to_have_attribute("data-status", "ready", timeout=15000)
    await expect(screen.locator("[data-testid=feedback]")).to_have_count(0)  # only after the claim
    await expect(screen.locator("[data-testid=timeline-entry]").first).to_have_attribute("data-type", "created")

    await screen.locator("[data-testid=pick-up]").click()
    await expect(screen.locator("[data-testid=handoff-status]")).to_have_text("claimed")
    await screen.locator("[data-testid=feedback-helpful]").click()
    await expect(screen.locator("[data-testid=feedback-state]")).to_have_text("You said helpful.")
    await screen.locator("[data-testid=step-fixed-it]").nth(1).click()
    await expect(screen.locator("[data-testid=feedback-state]")).to_have_text("You said helpful; step 2 fixed it.")
    await expect(screen.locator("[data-testid=step-fixed-it]").nth(1)).to_have_attribute("aria-pressed", "true")
    await expect(sam.locator("[data-testid=announcer]")).to_contain_text("feedback on the assessment is saved")

    types = screen.locator("[data-testid=timeline-entry]")
    await expect(types.last).to_have_attribute("data-type", "feedback")
    seen = [await types.nth(i).get_attribute("data-type") for i in range(await types.count())]
    assert seen.index("created") < seen.index("claimed") < seen.index("feedback")
    got = await dev.api("Sam Senior", "GET", f"/api/v1/handoffs/{handoff['id']}")
    assert [(f["helpful"], f["resolved_by_step"]) for f in got["assessment_feedback"]] == [(True, 1)]
    await screenshot(sam, "handoff-timeline-and-feedback")
    await context.close()
