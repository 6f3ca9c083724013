"""The Team view's on-call part in Chromium against a real `handoff dev`, at 1280 and 360 px: a lead sets a
rotation and a cover, sees who is on call and the weekend gap in words, and a refused field beside its input."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from services.demo import DEMO_ACCOUNT, DEMO_USERS
from tests.e2e.test_dashboard import DevServer
from tests.support.ai_servers import FakeAIServer, answer, fake_ai_server
from tests.support.axe import assert_accessible
from tests.support.browser import chromium, screenshot

LONDON = ZoneInfo("Europe/London")
ON_CALL = f"/api/v1/accounts/{DEMO_ACCOUNT}/on-call"
ID = {user.name: str(user.id) for user in DEMO_USERS}


@pytest.fixture(scope="module")
async def ai() -> AsyncIterator[FakeAIServer]:
    async with fake_ai_server("openai") as fake:
        fake.default = answer(
            json.dumps({"summary": "unused", "likely_causes": [], "suggested_steps": [], "risk": "low"})
        )
        yield fake


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory, ai: FakeAIServer) -> Iterator[DevServer]:
    server = DevServer(tmp_path_factory.mktemp("oncall"), ai.base_url)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
async def browser() -> AsyncIterator[Browser]:
    async with chromium() as launched:
        yield launched


async def team_view(browser: Browser, dev: DevServer, name: str, width: int) -> Page:
    """A fresh profile in London's time, signed in through the demo picker, on the Team view."""
    context = await browser.new_context(
        base_url=dev.url, viewport={"width": width, "height": 900}, timezone_id="Europe/London", locale="en-GB"
    )
    page = await context.new_page()
    await page.goto("/")
    await page.click(f'button[data-testid=demo-user][data-user-name="{name}"]')
    await page.wait_for_selector("[data-testid=whoami]")
    await page.click("a[data-testid=nav-team]")
    await expect(page.locator("[data-testid=oncall-now-panel]")).to_be_visible()
    return page


def london_input(moment: datetime) -> str:
    """What a datetime-local input holds for this instant on a London screen."""
    return moment.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M")


async def broken_words(page: Page, selector: str) -> list[str]:
    """Words of these headings that the browser split across two lines."""
    return list(
        await page.locator(selector).evaluate_all(
            """els => els.flatMap(el => {
                const node = el.firstChild;
                if (!node || node.nodeType !== Node.TEXT_NODE) return [];
                const out = [];
                let at = 0;
                for (const word of node.textContent.split(' ')) {
                    const range = document.createRange();
                    range.setStart(node, at); range.setEnd(node, at + word.length);
                    if (new Set([...range.getClientRects()].map(r => Math.round(r.top))).size > 1) out.push(word);
                    at += word.length + 1;
                }
                return out;
            })"""
        )
    )


@pytest.mark.parametrize("width", [1280, 360])
async def test_a_lead_sets_a_rotation_and_a_cover_and_sees_who_is_on_call(
    dev: DevServer, browser: Browser, width: int
) -> None:
    await dev.api("Riley Lead", "PUT", ON_CALL, json={"time_zone": "UTC", "rotations": [], "overrides": []})
    page = await team_view(browser, dev, "Riley Lead", width)
    form = page.locator("[data-testid=oncall-form]")
    await form.locator("[data-testid=oc-time_zone]").select_option("Europe/London")

    # Sam then Riley, a week each from a Monday 09:00; on call Monday 09:00 round the clock to Saturday 00:00.
    await form.locator("[data-testid=oc-add-rotation]").click()
    await expect(form.locator("[data-testid=oc-rotations-0-name]")).to_have_value("primary")
    await form.locator("[data-testid=oc-rotations-0-members-0]").select_option(label="Sam Senior")
    await form.locator("[data-testid=oc-rotations-0-add-member]").click()
    await form.locator("[data-testid=oc-rotations-0-members-1]").select_option(label="Riley Lead")
    await form.locator("[data-testid=oc-rotations-0-start]").fill("2026-11-30T09:00")
    await form.locator("[data-testid=oc-rotations-0-turn_days]").fill("7")
    await form.locator("[data-testid=oc-rotations-0-add-window]").click()
    await form.locator("[data-testid=oc-rotations-0-windows-0-days-fri]").uncheck()
    await form.locator("[data-testid=oc-rotations-0-windows-0-to]").fill("09:00")
    await form.locator("[data-testid=oc-rotations-0-add-window]").click()
    for day in ("mon", "tue", "wed", "thu"):
        await form.locator(f"[data-testid=oc-rotations-0-windows-1-days-{day}]").uncheck()
    await form.locator("[data-testid=oc-rotations-0-windows-1-to]").fill("00:00")

    # Olivia covers from an hour ago for two days.
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    await form.locator("[data-testid=oc-cover]").click()
    await form.locator("[data-testid=oc-overrides-0-user_id]").select_option(label="Olivia Owner")
    await expect(form.locator("[data-testid=oc-overrides-0-rotation]")).to_have_value("primary")
    await form.locator("[data-testid=oc-overrides-0-start]").fill(london_input(now - timedelta(hours=1)))
    await form.locator("[data-testid=oc-overrides-0-end]").fill(london_input(now + timedelta(days=2)))
    await form.locator("[data-testid=oncall-save]").click()
    await expect(page.locator("[data-testid=toast]")).to_contain_text("On-call rota saved")

    stored = await dev.api("Riley Lead", "GET", ON_CALL)
    assert stored["time_zone"] == "Europe/London"
    assert stored["rotations"][0]["members"] == [ID["Sam Senior"], ID["Riley Lead"]]
    assert stored["rotations"][0]["start"].startswith("2026-11-30T09:00")
    assert stored["overrides"][0]["user_id"] == ID["Olivia Owner"]

    row = page.locator('[data-testid=oncall-now-row][data-rotation="primary"]')
    await expect(row.locator("[data-testid=oncall-now-user]")).to_have_text("Olivia Owner")
    await expect(row).to_contain_text("(covering)")
    await expect(row).to_contain_text("until")
    strip = page.locator('[data-testid=oncall-strip][data-rotation="primary"]')
    await expect(strip.locator("[data-testid=strip-cover]")).to_have_count(1)
    await expect(strip.locator("[data-testid=strip-gap]").first).to_be_visible()
    # Fourteen days always hold one whole weekend, which nobody covers.
    gap = strip.locator("[data-testid=oncall-gap]", has_text="No one on call in primary Sat 00:00\u2013Mon 09:00")
    await expect(gap.first).to_be_visible()

    assert await page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
    assert await broken_words(page, "[data-testid=oncall] h2, [data-testid=oncall] h3, .oncall-form legend") == []
    await assert_accessible(page, f"Team view, on call, {width} px")
    await screenshot(page, f"team-oncall-{width}")

    # A second rotation named like the first: the API's refusal sits under that name, in words.
    await form.locator("[data-testid=oc-add-rotation]").click()
    name = form.locator("[data-testid=oc-rotations-1-name]")
    await name.fill("primary")
    await form.locator("[data-testid=oncall-save]").click()
    error = form.locator("[data-testid=oc-rotations-1-name-error]")
    await expect(error).not_to_be_empty()
    await expect(name).to_have_attribute("aria-invalid", "true")
    await expect(name).to_be_focused()
    assert "oc-rotations-1-name-error" in (await name.get_attribute("aria-describedby") or "")
    text = await error.inner_text()
    assert "rotations[" not in text, text
    assert "`" not in text, text
    assert text.startswith("Name"), text
    name_box, error_box = await name.bounding_box(), await error.bounding_box()
    assert name_box is not None
    assert error_box is not None
    assert 0 <= error_box["y"] - (name_box["y"] + name_box["height"]) < 60, "the error is not beside its input"
    assert await dev.api("Riley Lead", "GET", ON_CALL) == stored
    assert await page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
    await assert_accessible(page, f"Team view, on call, a refused name, {width} px")
    await screenshot(page, f"team-oncall-error-{width}")
    await page.context.close()


async def test_a_viewer_sees_who_is_on_call_but_no_form(dev: DevServer, browser: Browser) -> None:
    start = datetime.now(UTC) - timedelta(days=3)
    document = {
        "time_zone": "Europe/London",
        "rotations": [
            {
                "name": "primary",
                "members": [ID["Sam Senior"]],
                "start": start.astimezone(LONDON).strftime("%Y-%m-%dT%H:%M"),
                "turn_days": 7,
                "windows": [],
            }
        ],
        "overrides": [],
    }
    await dev.api("Riley Lead", "PUT", ON_CALL, json=document)
    page = await team_view(browser, dev, "Val Viewer", 360)
    row = page.locator('[data-testid=oncall-now-row][data-rotation="primary"]')
    await expect(row.locator("[data-testid=oncall-now-user]")).to_have_text("Sam Senior")
    await expect(page.locator("[data-testid=oncall-summary]")).to_contain_text("Sam Senior")
    await expect(page.locator("[data-testid=oncall-form]")).to_have_count(0)
    await expect(page.locator("[data-testid=policy-form]")).to_have_count(0)
    await assert_accessible(page, "Team view, on call, a viewer, 360 px")
    await page.context.close()


async def test_the_apis_refusals_read_as_sentences_about_the_field(dev: DevServer, browser: Browser) -> None:
    rotation = {"name": "primary", "members": [ID["Sam Senior"]], "start": "2026-11-30T09:00", "turn_days": 7}
    cover = {"rotation": "primary", "user_id": ID["Olivia Owner"], "start": "2026-12-07T09:00:00Z"}
    # The field each refusal names, the sentence shown beside that field, and the body refused.
    refusals = {
        ("rotations[0].members[1]", "Member 2 is not an active senior of the account."): {
            "rotations": [{**rotation, "members": [ID["Sam Senior"], ID["Val Viewer"]]}]
        },
        ("rotations[0].turn_days", "Turn length: enter a whole number."): {
            "rotations": [{**rotation, "turn_days": "seven"}]
        },
        ("overrides[0].end", "End of cover 1 must be after start."): {
            "rotations": [rotation],
            "overrides": [{**cover, "end": "2026-12-07T08:00:00Z"}],
        },
    }
    page = await team_view(browser, dev, "Riley Lead", 1280)
    for (path, sentence), change in refusals.items():
        body = {"time_zone": "Europe/London", "rotations": [], "overrides": [], **change}
        async with httpx.AsyncClient(base_url=dev.url) as http:
            refused = await http.put(
                ON_CALL, json=body, headers={"Authorization": f"Bearer {dev.tokens['Riley Lead']}"}
            )
        assert refused.status_code == 400, refused.text
        worded = await page.evaluate(
            """async ([answer, doc]) => (await import('/dashboard/oncall-errors.js'))
                .fieldErrors({detail: answer.detail, body: answer}, doc)""",
            [refused.json(), body],
        )
        assert worded == [{"path": path, "text": sentence}]
    await page.context.close()


async def test_the_form_offers_the_directorys_active_seniors(dev: DevServer, browser: Browser) -> None:
    """Members come from the account's user list, as outside `handoff dev`: renamed, and without the inactive."""
    users = {user.name: user for user in DEMO_USERS}
    sam, jamie = users["Sam Senior"], users["Jamie Junior"]
    directory = f"/api/v1/accounts/{DEMO_ACCOUNT}/users"
    body = {"email": sam.email, "name": "Sam Renamed", "role": "engineer", "active": True}
    await dev.api("Riley Lead", "PUT", f"{directory}/{sam.id}", json=body)
    body = {"email": jamie.email, "name": jamie.name, "role": "engineer", "active": False}
    await dev.api("Riley Lead", "PUT", f"{directory}/{jamie.id}", json=body)
    try:
        await dev.api("Riley Lead", "PUT", ON_CALL, json={"time_zone": "UTC", "rotations": [], "overrides": []})
        page = await team_view(browser, dev, "Riley Lead", 1280)
        form = page.locator("[data-testid=oncall-form]")
        await form.locator("[data-testid=oc-add-rotation]").click()
        member = form.locator("[data-testid=oc-rotations-0-members-0]")
        await expect(member.locator("option")).to_have_text(["Olivia Owner", "Riley Lead", "Sam Renamed"])
        await member.select_option(label="Sam Renamed")
        await expect(member).to_have_value(str(sam.id))
        await page.context.close()
    finally:
        for user in (sam, jamie):
            body = {"email": user.email, "name": user.name, "role": user.role, "active": True}
            await dev.api("Riley Lead", "PUT", f"{directory}/{user.id}", json=body)
