"""The handoff screen and the Team view as a senior and a lead see them, at 1280 and 360 px, in Chromium."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from services.demo import DEMO_ACCOUNT
from tests.support.ai_servers import FakeAIServer, answer, fake_ai_server
from tests.support.axe import assert_accessible
from tests.support.browser import screenshot, signed_in
from tests.support.dev_server import DevServer, dev_server
from tests.support.waiting import eventually

# Two steps that read the same for their first 42 characters and differ only at the end.
STEP_RETRY = "Flush the DNS resolver cache on the laptop with `ipconfig /flushdns`, then retry the intranet"
STEP_SERVICE = "Flush the DNS resolver cache on the laptop and restart the DNS Client service before retrying"
ASSESSMENT = {
    "summary": "A stale DNS record: the laptop resolves the old intranet address. Start with `ipconfig /flushdns`.",
    "likely_causes": [{"cause": "Stale record in the resolver cache", "confidence": 0.8}],
    "suggested_steps": [STEP_RETRY, STEP_SERVICE],
    "missing_info": ["Whether `nslookup intranet` answers the new address"],
    "risk": "low",
}
CONTEXT = {"os": {"name": "Windows", "build": 22631}, "client_site": "Leeds", "tags": ["vip", "laptop"], "on_vpn": True}
MESSAGES = [
    {"role": "engineer", "content": "The intranet will not open on LAPTOP-7"},
    {"role": "assistant", "content": "Does `nslookup intranet` answer the new address?"},
    {"role": "engineer", "content": "Ran `ipconfig /flushdns` twice", "kind": "step", "step_status": "failed"},
]
TEAM_HEADERS = ("Urgency", "Escalations", "Claimed", "Median time to claim")


@pytest.fixture(scope="module")
async def ai() -> AsyncIterator[FakeAIServer]:
    async with fake_ai_server("openai") as fake:
        fake.default = answer(json.dumps(ASSESSMENT))
        yield fake


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory, ai: FakeAIServer) -> Iterator[DevServer]:
    with dev_server(tmp_path_factory.mktemp("screens"), ai.base_url) as server:
        yield server


async def escalate(dev: DevServer, title: str) -> dict[str, Any]:
    """Jamie escalates a session holding nested context and messages with code spans."""
    body = {"title": title, "ticket_ref": "T-19", "context": CONTEXT, "messages": MESSAGES}
    session = await dev.api("Jamie Junior", "POST", "/api/v1/ai-sessions", json=body)
    note = {"intent": "escalate", "note": "Tried `ipconfig /flushdns`, no luck", "urgency": "normal"}
    return dict(await dev.api("Jamie Junior", "POST", f"/api/v1/ai-sessions/{session['id']}/handoff", json=note))


async def open_handoff(browser: Browser, dev: DevServer, handoff_id: str, *, width: int = 1280) -> Page:
    """Sam opens the handoff and waits for its assessment."""
    _, page = await signed_in(browser, dev.url, "Sam Senior", width=width)
    await page.goto(f"/#/handoffs/{handoff_id}")
    assessment = page.locator("[data-testid=assessment]")
    await expect(assessment).to_have_attribute("data-status", "ready", timeout=15000)
    return page


async def pick_up(page: Page) -> None:
    await page.locator("[data-testid=pick-up]").click()
    await expect(page.locator("[data-testid=handoff-status]")).to_have_text("claimed")
    await expect(page.locator("[data-testid=session-message]").first).to_be_visible()


async def page_overflow(page: Page) -> int:
    return int(await page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth"))


async def test_context_reads_as_a_list_of_names_and_values(dev: DevServer, browser: Browser) -> None:
    handoff = await escalate(dev, "Intranet does not open: context")
    page = await open_handoff(browser, dev, handoff["id"])
    context = page.locator("[data-testid=context]")
    text = await context.inner_text()
    for shown in ("OS", "Name", "Windows", "Build", "22631", "Client site", "Leeds", "vip", "laptop", "On vpn", "yes"):
        assert shown in text, f"{shown!r} missing from the context: {text!r}"
    for raw in ("{", "}", "[", '"', "client_site", "true"):
        assert raw not in text, f"the context shows {raw!r}: {text!r}"
    # The nested object is its own list of names and values inside the outer one.
    await expect(context.locator("dd dl dt", has_text="Name")).to_have_count(1)
    await assert_accessible(page, "handoff screen, open, with assessment, 1280 px")
    await screenshot(page, "handoff-open-1280")
    await page.context.close()


async def test_code_spans_show_as_code_without_backticks(dev: DevServer, browser: Browser) -> None:
    handoff = await escalate(dev, "Intranet does not open: code")
    page = await open_handoff(browser, dev, handoff["id"])
    step = page.locator("[data-testid=snapshot-message]", has_text="twice")
    await expect(step.locator("code")).to_have_text("ipconfig /flushdns")
    await expect(step.locator(".msg__content")).to_have_text("Ran ipconfig /flushdns twice")
    await expect(page.locator("[data-testid=assessment-summary] code")).to_have_text("ipconfig /flushdns")
    await expect(page.locator("[data-testid=missing-info] code")).to_have_text("nslookup intranet")
    await expect(page.locator("[data-testid=note] code")).to_have_text("ipconfig /flushdns")
    screen_text = await page.locator("[data-testid=handoff-screen]").inner_text()
    assert "`" not in screen_text
    await page.context.close()


async def test_suggested_step_chips_show_each_step_in_full(dev: DevServer, browser: Browser) -> None:
    handoff = await escalate(dev, "Intranet does not open: chips")
    page = await open_handoff(browser, dev, handoff["id"])
    await pick_up(page)
    chips = page.locator("button[data-testid=step-chip]")
    await expect(chips).to_have_count(2)
    shown = [(await chips.nth(i).inner_text()).strip() for i in range(2)]
    assert shown == [STEP_RETRY.replace("`", ""), STEP_SERVICE]
    assert shown[0][:42] == shown[1][:42]
    assert shown[0] != shown[1]
    for i in range(2):
        # Nothing is cut off: the whole text fits inside the chip.
        clipped = await chips.nth(i).evaluate(
            "el => el.scrollWidth > el.clientWidth || el.scrollHeight > el.clientHeight"
        )
        assert not clipped
    await chips.nth(1).click()
    await expect(page.locator("textarea[data-testid=composer]")).to_have_value(STEP_SERVICE)
    await assert_accessible(page, "handoff screen, claimed, with assessment, 1280 px")
    await screenshot(page, "handoff-claimed-1280")
    await page.context.close()


async def test_after_pick_up_each_message_is_shown_once(dev: DevServer, browser: Browser) -> None:
    handoff = await escalate(dev, "Intranet does not open: once")
    page = await open_handoff(browser, dev, handoff["id"])
    screen = page.locator("[data-testid=handoff-screen]")
    await expect(screen.locator(".msg", has_text="will not open on LAPTOP-7")).to_have_count(1)
    await pick_up(page)
    for message in MESSAGES:
        shown = screen.locator(".msg__content", has_text=message["content"].replace("`", ""))
        await expect(shown).to_have_count(1)
    await page.context.close()


async def test_messages_are_labelled_by_who_wrote_them(dev: DevServer, browser: Browser) -> None:
    handoff = await escalate(dev, "Intranet does not open: authors")
    page = await open_handoff(browser, dev, handoff["id"])
    first = page.locator("[data-testid=snapshot-message]").first
    await expect(first.locator("[data-testid=msg-author]")).to_have_text("Jamie Junior")
    await pick_up(page)
    messages = page.locator("[data-testid=session-message]")
    await page.locator("textarea[data-testid=composer]").fill("Checking the hosts file now")
    await page.locator("button[data-testid=composer-send]").click()
    await expect(messages).to_have_count(len(MESSAGES) + 1)
    authors = [await messages.nth(i).locator("[data-testid=msg-author]").inner_text() for i in range(len(MESSAGES) + 1)]
    assert authors == ["Jamie Junior", "AI assistant", "Jamie Junior", "You"]

    # Jamie, reading the same session later, sees Sam's message under Sam's name.
    _, jamie = await signed_in(browser, dev.url, "Jamie Junior")
    await jamie.goto(f"/#/handoffs/{handoff['id']}")
    jamies_own = jamie.locator("[data-testid=snapshot-message]").first.locator("[data-testid=msg-author]")
    await expect(jamies_own).to_have_text("You")
    session = await dev.api("Sam Senior", "GET", f"/api/v1/ai-sessions/{handoff['session_id']}")
    assert session["messages"][-1]["content"] == "Checking the hosts file now"
    await page.context.close()
    await jamie.context.close()


async def test_a_skipped_psa_note_says_skipped_and_why(dev: DevServer, browser: Browser) -> None:
    handoff = await escalate(dev, "Intranet does not open: deliveries")
    path = f"/api/v1/handoffs/{handoff['id']}/deliveries"

    async def psa_settled() -> list[dict[str, Any]] | None:
        rows: list[dict[str, Any]] = await dev.api("Sam Senior", "GET", path)
        return rows if any(row["channel"] == "psa" and row["status"] == "skipped" for row in rows) else None

    rows = await eventually(psa_settled, 10, "the PSA note to be skipped", interval=0.1)
    psa = next(row for row in rows if row["channel"] == "psa")
    assert psa["status"] == "skipped", rows
    page = await open_handoff(browser, dev, handoff["id"])
    entry = page.locator("[data-testid=timeline-entry][data-type=notified]", has_text="PSA")
    await expect(entry).to_have_count(1)
    await expect(entry).to_contain_text("skipped")
    await expect(entry).to_contain_text(psa["last_error"])
    await expect(entry).not_to_contain_text("0 sent")
    await page.context.close()


async def test_on_a_phone_the_assessment_is_near_the_top_and_nothing_overflows(
    dev: DevServer, browser: Browser
) -> None:
    handoff = await escalate(dev, "Intranet does not open: phone")
    page = await open_handoff(browser, dev, handoff["id"], width=360)
    top = await page.locator("[data-testid=assessment]").evaluate("el => el.getBoundingClientRect().top + scrollY")
    assert top < 900, f"the assessment starts {top} px down"
    assert await page_overflow(page) <= 0
    await assert_accessible(page, "handoff screen, open, with assessment, 360 px")
    await screenshot(page, "handoff-open-360")

    await pick_up(page)
    top = await page.locator("[data-testid=assessment]").evaluate("el => el.getBoundingClientRect().top + scrollY")
    assert top < 900, f"after the pick-up the assessment starts {top} px down"
    assert await page_overflow(page) <= 0
    await assert_accessible(page, "handoff screen, claimed, with assessment, 360 px")
    await screenshot(page, "handoff-claimed-360")
    await page.context.close()


async def test_team_policy_reads_in_minutes_and_hours_and_errors_in_words(dev: DevServer, browser: Browser) -> None:
    _, lead = await signed_in(browser, dev.url, "Riley Lead")
    await lead.click("a[data-testid=nav-team]")
    form = lead.locator("[data-testid=policy-form]")
    # The defaults, 3600, 900 and 300 seconds, as a person says them.
    for field, value, unit in (("low", "1", "hour"), ("normal", "15", "minutes"), ("high", "5", "minutes")):
        await expect(form.locator(f"[data-testid=policy-{field}]")).to_have_value(value)
        unit_select = form.locator(f"[data-testid=policy-{field}-unit]")
        assert await unit_select.evaluate("el => el.selectedOptions[0].textContent") == unit
    await expect(form.locator("[data-testid=policy-stale_claim_s]")).to_have_value("30")

    await form.locator("[data-testid=policy-normal]").fill("20")
    await form.locator("[data-testid=policy-save]").click()
    await expect(lead.locator("[data-testid=toast]")).to_contain_text("Escalation policy saved")
    saved = await dev.api("Riley Lead", "GET", f"/api/v1/accounts/{DEMO_ACCOUNT}/escalation-policy")
    assert saved["unclaimed_reminder_s"]["normal"] == 1200

    form = lead.locator("[data-testid=policy-form]")
    await form.locator("[data-testid=policy-high]").fill("2")
    await form.locator("[data-testid=policy-high-unit]").select_option(label="seconds")
    await form.locator("[data-testid=policy-save]").click()
    error = lead.locator("[data-testid=policy-error]")
    await expect(error).to_have_text("High urgency: must be 0 (off) or between 5 seconds and 24 hours.")
    await expect(form.locator("[data-testid=policy-high]")).to_have_attribute("aria-invalid", "true")
    saved = await dev.api("Riley Lead", "GET", f"/api/v1/accounts/{DEMO_ACCOUNT}/escalation-policy")
    assert saved["unclaimed_reminder_s"]["high"] == 300

    # What the API itself answers to bad values, as the form would word it.
    policy_path = f"/api/v1/accounts/{DEMO_ACCOUNT}/escalation-policy"
    bad_values = {
        "High urgency reminder must be 0 (off) or between 5 seconds and 24 hours.": {"high": 3},
        "Low urgency reminder: enter a whole number of 0 or more.": {"low": -1},
    }
    for expected, change in bad_values.items():
        body = {**saved, "unclaimed_reminder_s": {**saved["unclaimed_reminder_s"], **change}}
        auth = {"Authorization": f"Bearer {dev.tokens['Riley Lead']}"}
        async with httpx.AsyncClient(base_url=dev.url) as http:
            refused = await http.put(policy_path, json=body, headers=auth)
        assert refused.status_code == 400
        worded = await lead.evaluate(
            "async body => (await import('/dashboard/policy-form.js')).errorInWords({detail: body.detail, body})",
            refused.json(),
        )
        assert worded == expected
    await lead.context.close()


async def tile_rows(page: Page) -> list[int]:
    """How many tiles sit on each visual row."""
    tops: list[float] = await page.locator("[data-testid=team-tiles] .tile").evaluate_all(
        "tiles => tiles.map(t => Math.round(t.getBoundingClientRect().top))"
    )
    return [tops.count(top) for top in sorted(set(tops))]


async def broken_words(page: Page) -> list[str]:
    """Header words the browser split across two lines."""
    return list(
        await page.locator("[data-testid=stat-urgency] thead th").evaluate_all(
            """ths => ths.flatMap(th => {
                const node = th.firstChild, text = node.textContent, out = [];
                let at = 0;
                for (const word of text.split(' ')) {
                    const range = document.createRange();
                    range.setStart(node, at); range.setEnd(node, at + word.length);
                    const lines = new Set([...range.getClientRects()].map(r => Math.round(r.top)));
                    if (lines.size > 1) out.push(word);
                    at += word.length + 1;
                }
                return out;
            })"""
        )
    )


async def test_team_view_fits_1280_and_360_px(dev: DevServer, browser: Browser) -> None:
    for width in (1280, 360):
        _, lead = await signed_in(browser, dev.url, "Riley Lead", width=width)
        await lead.click("a[data-testid=nav-team]")
        chart = lead.locator("[data-testid=team-chart]")
        await expect(chart.locator("rect.chart__bar")).to_have_count(8)
        await expect(lead.locator("[data-testid=policy-low]")).to_be_visible()

        rows = await tile_rows(lead)
        assert len(set(rows)) == 1, f"tiles wrap unevenly at {width} px: {rows}"
        chart_width = await chart.evaluate("el => el.getBoundingClientRect().width")
        panel_width = await lead.locator("[data-testid=team-figures]").evaluate("el => el.clientWidth")
        assert chart_width >= panel_width - 1, f"the chart is {chart_width} of {panel_width} px wide at {width} px"
        labels = await chart.locator("text").evaluate_all(
            "ts => ts.map(t => { const r = t.getBoundingClientRect(); return [r.left, r.right, r.height]; })"
        )
        assert labels
        assert min(height for _, _, height in labels) >= 11, f"chart labels too small at {width} px"
        dates = sorted(
            await chart.locator("text.chart__label--date").evaluate_all(
                "ts => ts.map(t => { const r = t.getBoundingClientRect(); return [r.left, r.right]; })"
            )
        )
        assert all(a[1] <= b[0] for a, b in itertools.pairwise(dates)), f"date labels overlap at {width} px"
        assert await broken_words(lead) == []
        headers = await lead.locator("[data-testid=stat-urgency] thead th").all_inner_texts()
        assert [" ".join(h.split()) for h in headers] == list(TEAM_HEADERS)
        assert await page_overflow(lead) <= 0, f"the Team view overflows at {width} px"
        await assert_accessible(lead, f"Team view, {width} px")
        await screenshot(lead, f"team-view-{width}")
        await lead.context.close()
