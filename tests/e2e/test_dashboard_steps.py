"""Escalation steps in the dashboard, in Chromium against a real `handoff dev`: a lead sets who is paged and
when in minutes, a refused target is explained beside it, and the handoff screen says who was paged and why."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from services.demo import DEMO_ACCOUNT, DEMO_USERS
from tests.support.ai_servers import FakeAIServer, answer, fake_ai_server
from tests.support.axe import assert_accessible
from tests.support.browser import screenshot, signed_in
from tests.support.dev_server import DevServer, dev_server

ON_CALL = f"/api/v1/accounts/{DEMO_ACCOUNT}/on-call"
POLICY = f"/api/v1/accounts/{DEMO_ACCOUNT}/escalation-policy"
ID = {user.name: str(user.id) for user in DEMO_USERS}


@pytest.fixture(scope="module")
async def ai() -> AsyncIterator[FakeAIServer]:
    async with fake_ai_server("openai") as fake:
        fake.default = answer(
            json.dumps({"summary": "Spooler crash", "likely_causes": [], "suggested_steps": [], "risk": "low"})
        )
        yield fake


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory, ai: FakeAIServer) -> Iterator[DevServer]:
    with dev_server(tmp_path_factory.mktemp("steps"), ai.base_url) as server:
        yield server


def rota(*rotations: str) -> dict[str, object]:
    """Sam Senior on call round the clock in each named rotation."""
    return {
        "time_zone": "UTC",
        "rotations": [
            {"name": name, "members": [ID["Sam Senior"]], "start": "2026-01-05T00:00", "turn_days": 7}
            for name in rotations
        ],
        "overrides": [],
    }


async def team_view(browser: Browser, dev: DevServer) -> Page:
    _, page = await signed_in(browser, dev.url, "Riley Lead")
    await page.click("a[data-testid=nav-team]")
    await expect(page.locator("[data-testid=policy-steps]")).to_be_visible()
    return page


async def fits(page: Page) -> None:
    assert await page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0


async def test_a_lead_sets_steps_in_minutes_and_the_handoff_says_who_was_paged(
    dev: DevServer, browser: Browser
) -> None:
    await dev.api("Riley Lead", "PUT", ON_CALL, json=rota("nights"))
    page = await team_view(browser, dev)
    form = page.locator("[data-testid=policy-form]")
    await expect(form.locator("[data-testid=step-0-notify-rotation-primary]")).to_have_count(0)

    # The lead adds a primary rotation, Sam a week at a time; the steps may notify it at once.
    rota_form = page.locator("[data-testid=oncall-form]")
    await rota_form.locator("[data-testid=oc-add-rotation]").click()
    await rota_form.locator("[data-testid=oc-rotations-1-name]").fill("primary")
    await rota_form.locator("[data-testid=oc-rotations-1-members-0]").select_option(label="Sam Senior")
    await rota_form.locator("[data-testid=oc-rotations-1-start]").fill("2026-01-05T00:00")
    await rota_form.locator("[data-testid=oc-rotations-1-turn_days]").fill("7")
    await rota_form.locator("[data-testid=oncall-save]").click()
    await expect(page.locator("[data-testid=toast]")).to_contain_text("On-call rota saved")
    assert [r["name"] for r in (await dev.api("Riley Lead", "GET", ON_CALL))["rotations"]] == ["nights", "primary"]
    # Seniors are offered by name; viewers are not.
    await expect(form.locator(f"[data-testid=step-0-notify-user-{ID['Sam Senior']}]")).to_be_visible()
    await expect(form.locator(f"[data-testid=step-0-notify-user-{ID['Val Viewer']}]")).to_have_count(0)

    # Step 1 pages at once whoever is on call in primary; step 2, 15 minutes on, every senior.
    await expect(form.locator("[data-testid=step-0-after]")).to_have_text("At once, when the escalation is made")
    await form.locator("[data-testid=step-0-notify-rotation-primary]").check()
    await form.locator("[data-testid=step-0-notify-all_seniors]").uncheck()
    await form.locator("[data-testid=steps-add]").click()
    await form.locator("[data-testid=step-1-after]").fill("15")
    await form.locator("[data-testid=step-1-notify-all_seniors]").check()
    await form.locator("[data-testid=policy-email_pick_up_links]").uncheck()
    # A third step added by mistake goes again; the first keeps its place.
    await form.locator("[data-testid=steps-add]").click()
    await expect(form.locator("[data-testid=step-2-after]")).to_have_value("30")
    await form.locator("[data-testid=step-2-remove]").click()
    await expect(form.locator("[data-testid=step-2]")).to_have_count(0)
    await expect(form.locator("[data-testid=step-0-remove]")).to_be_visible()
    await form.locator("[data-testid=policy-save]").click()
    await expect(page.locator("[data-testid=toast]")).to_contain_text("Escalation policy saved")
    stored = await dev.api("Riley Lead", "GET", POLICY)
    assert stored["steps"] == [
        {"after_s": 0, "notify": ["rotation:primary"]},
        {"after_s": 900, "notify": ["all_seniors"]},
    ]
    assert stored["email_pick_up_links"] is False
    # The saved form reads back in minutes.
    await expect(form.locator("[data-testid=step-1-after]")).to_have_value("15")
    await expect(form.locator("[data-testid=step-0-notify-rotation-primary]")).to_be_checked()
    await expect(form.locator("[data-testid=policy-email_pick_up_links]")).not_to_be_checked()

    for width in (1280, 360):
        await page.set_viewport_size({"width": width, "height": 900})
        await fits(page)
        await assert_accessible(page, f"Team view with steps, {width} px")
        await screenshot(page, f"team-steps-{width}")
    await page.set_viewport_size({"width": 1280, "height": 900})

    # A client-side slip: step 2 no later than step 1 is explained beside step 2's minutes.
    await form.locator("[data-testid=step-1-after]").fill("0")
    await form.locator("[data-testid=policy-save]").click()
    await expect(form.locator("[data-testid=step-1-error]")).to_have_text(
        "Step 2: must be between 5 seconds and 24 hours after the escalation."
    )
    await expect(form.locator("[data-testid=policy-error]")).to_have_text("Not saved: see step 2.")
    await expect(form.locator("[data-testid=step-1-after]")).to_have_attribute("aria-invalid", "true")
    await form.locator("[data-testid=step-1-after]").fill("15")

    # Meanwhile the nights rotation is removed: the API's refusal of `steps[1].notify[0]` sits beside step 2.
    await form.locator("[data-testid=step-1-notify-rotation-nights]").check()
    await dev.api("Riley Lead", "PUT", ON_CALL, json=rota("primary"))
    await form.locator("[data-testid=policy-save]").click()
    error = form.locator("[data-testid=step-1-error]")
    await expect(error).to_have_text("On call in nights in step 2 names no rotation of the on-call rota.")
    await expect(form.locator("[data-testid=step-1-notify-rotation-nights]")).to_have_attribute("aria-invalid", "true")
    await expect(form.locator("[data-testid=step-0-error]")).to_have_text("")
    await expect(form.locator("[data-testid=policy-error]")).to_have_text("Not saved: see step 2.")
    assert "steps[" not in (await form.inner_text())
    await screenshot(page, "team-steps-refused")
    assert (await dev.api("Riley Lead", "GET", POLICY))["steps"] == stored["steps"]

    # An escalation pages Sam, on call in primary, at once.
    handoff = await dev.escalate("Spooler keeps crashing")
    await page.goto(f"/#/handoffs/{handoff['id']}")
    paged = page.locator("[data-testid=paged]")
    await expect(paged).to_have_text("Paged: Sam Senior (on call in primary)")
    for width in (1280, 360):
        await page.set_viewport_size({"width": width, "height": 900})
        await fits(page)
        await assert_accessible(page, f"Handoff screen with paging, {width} px")
        await screenshot(page, f"handoff-paged-{width}")
    await page.context.close()


async def test_the_paged_line_reads_each_reason_in_words(dev: DevServer, browser: Browser) -> None:
    _, page = await signed_in(browser, dev.url, "Riley Lead")
    paged = [
        {"user": {"id": "a", "name": "Abe"}, "step": 0, "reason": "rotation:primary", "at": "2026-12-05T10:00:00Z"},
        {"user": {"id": "c", "name": "Cid"}, "step": 0, "reason": "override:nights", "at": "2026-12-05T10:00:00Z"},
        {"user": {"id": "b", "name": "Bea"}, "step": 1, "reason": "user", "at": "2026-12-05T10:10:00Z"},
        {"user": {"id": "d", "name": "Dot"}, "step": 2, "reason": "all_seniors", "at": "2026-12-05T10:30:00Z"},
    ]
    words = "async paged => (await import('/dashboard/paged.js')).pagedInWords(paged)"
    assert await page.evaluate(words, paged) == (
        "Paged: Abe (on call in primary), Cid (covering nights), then Bea (named in step 2), "
        "then Dot (all seniors, step 3)"
    )
    fallback = [{"user": {"id": "e", "name": "Eve"}, "step": 1, "reason": "fallback", "at": "2026-12-05T10:15:00Z"}]
    assert await page.evaluate(words, fallback) == "Paged: Eve (nobody was on call, so everyone)"
    assert await page.evaluate(words, []) == ""
    assert await page.evaluate(words, None) == ""
    await page.context.close()


async def test_the_apis_refusals_of_steps_read_as_sentences_about_their_step(dev: DevServer, browser: Browser) -> None:
    _, page = await signed_in(browser, dev.url, "Riley Lead")
    policy = await dev.api("Riley Lead", "GET", POLICY)
    refusals = {
        # Two steps at the same moment: the second's time is out of its bounds, said in minutes and hours.
        "Step 2's time must be between 5 seconds and 24 hours.": [
            {"after_s": 0, "notify": ["all_seniors"]},
            {"after_s": 0, "notify": ["all_seniors"]},
        ],
        "Val Viewer in step 1 is not an active senior of the account.": [
            {"after_s": 0, "notify": [f"user:{ID['Val Viewer']}"]},
        ],
    }
    words = (
        "async ([body, targets, people]) => (await import('/dashboard/policy-steps.js'))"
        ".stepError({detail: body.detail, body}, targets, new Map(Object.entries(people))).text"
    )
    async with httpx.AsyncClient(base_url=dev.url) as http:
        for sentence, steps in refusals.items():
            refused = await http.put(
                POLICY, json={**policy, "steps": steps}, headers={"Authorization": f"Bearer {dev.tokens['Riley Lead']}"}
            )
            assert refused.status_code == 400, refused.text
            assert refused.json()["code"] == "validation_error"
            targets = [step["notify"] for step in steps]
            assert await page.evaluate(words, [refused.json(), targets, {ID["Val Viewer"]: "Val Viewer"}]) == sentence
    await page.context.close()
