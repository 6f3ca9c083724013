"""The Team view's "Teams and Slack" section in Chromium against a real `handoff dev` and receivers on loopback that
answer as a Teams Workflows webhook (202) and a Slack incoming webhook (200 `ok`) do: a lead adds both, reloads and
finds no URL anywhere in the page, switches one off, sends test posts and reads what the answers mean; a refused
URL reads beside its field; engineers and viewers see no such section."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.async_api import Browser, Dialog, Locator, Page, expect

from services.demo import DEMO_ACCOUNT
from tests.e2e.test_dashboard import DevServer
from tests.support.axe import assert_accessible
from tests.support.browser import ARTIFACTS
from tests.support.chat_servers import FakeSlackWebhook, FakeTeamsWorkflow
from tests.support.psa_servers import Reply

CHAT = f"/api/v1/accounts/{DEMO_ACCOUNT}/chat"
# A tenant's label is text: shown as written, never parsed.
MARKUP_LABEL = "<img src=x onerror=alert(1)>"
TEAMS_NOTE = "Teams accepted it (HTTP 202). Teams posts after answering, so look in the channel."


@pytest.fixture(scope="module")
def dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    server = DevServer(tmp_path_factory.mktemp("chat"))
    # The receivers listen on loopback, which the outbound guard refuses unless it is allowed.
    server.env["HANDOFF_OUTBOUND_ALLOW"] = "127.0.0.1"
    server.start()
    yield server
    server.stop()


async def team_view(browser: Browser, dev: DevServer, name: str, width: int, dialogs: list[str] | None = None) -> Page:
    """A fresh profile signed in through the demo picker, on the Team view; any dialog is noted in `dialogs`."""
    context = await browser.new_context(base_url=dev.url, viewport={"width": width, "height": 900}, locale="en-GB")
    page = await context.new_page()

    async def dismiss(dialog: Dialog) -> None:
        if dialogs is not None:
            dialogs.append(dialog.message)
        await dialog.dismiss()

    page.on("dialog", dismiss)
    await page.goto("/")
    await page.click(f'button[data-testid=demo-user][data-user-name="{name}"]')
    await page.wait_for_selector("[data-testid=whoami]")
    await page.click("a[data-testid=nav-team]")
    await expect(page.locator("[data-testid=oncall-now-panel]")).to_be_visible()
    return page


def destination(page: Page, label: str) -> Locator:
    """The listed destination whose label is `label`."""
    return page.locator("[data-testid=chat-dest]").filter(
        has=page.locator("[data-testid=chat-dest-label]", has_text=label)
    )


async def add(page: Page, kind: str, label: str, url: str) -> None:
    section = page.locator("[data-testid=chat]")
    await section.locator("[data-testid=chat-new-kind]").select_option(kind)
    await section.locator("[data-testid=chat-new-label]").fill(label)
    await section.locator("[data-testid=chat-new-url]").fill(url)
    await section.locator("[data-testid=chat-save]").click()


async def saved(page: Page) -> None:
    await expect(page.locator("[data-testid=toast]")).to_contain_text("Teams and Slack destinations saved")
    await page.locator("[data-testid=toast] .toast__close").click()


async def values_in_page(page: Page) -> str:
    """The page's HTML and the current value of every input: everything a URL could hide in."""
    values = await page.evaluate("() => [...document.querySelectorAll('input, select, textarea')].map(e => e.value)")
    return await page.content() + "\n" + "\n".join(values)


async def reload_team(page: Page, count: int) -> None:
    await page.reload()
    await page.wait_for_selector("[data-testid=whoami]")
    await expect(page.locator("[data-testid=chat-dest]")).to_have_count(count)


async def picture(page: Page, section: Locator, name: str) -> None:
    """`section` alone in test-artifacts/<name>.png, cut from the whole page so no sticky header covers it."""
    # At the top of the page the sticky header sits above the section, not over it.
    await page.evaluate("() => window.scrollTo(0, 0)")
    box = await section.bounding_box()
    assert box is not None
    clip = {"x": box["x"], "y": box["y"], "width": box["width"], "height": box["height"]}
    ARTIFACTS.mkdir(exist_ok=True)
    await page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True, clip=clip)  # type: ignore[arg-type]


def posted_text(body: Any) -> str:
    return json.dumps(body, ensure_ascii=False)


@pytest.mark.parametrize("width", [1280, 360])
async def test_a_lead_adds_teams_and_slack_switches_one_off_and_sends_test_posts(
    dev: DevServer, browser: Browser, teams: FakeTeamsWorkflow, slack: FakeSlackWebhook, width: int
) -> None:
    await dev.api("Riley Lead", "PUT", CHAT, json={"destinations": []})
    dialogs: list[str] = []
    page = await team_view(browser, dev, "Riley Lead", width, dialogs)
    section = page.locator("[data-testid=chat]")
    await expect(section.get_by_role("heading", name="Teams and Slack")).to_be_visible()
    await expect(section.locator("[data-testid=chat-empty]")).to_be_visible()

    # The URL field is masked, offered by no autofill, and says where each kind's URL comes from.
    url = section.locator("[data-testid=chat-new-url]")
    assert await url.get_attribute("type") == "password"
    assert await url.get_attribute("autocomplete") == "off"
    hint = section.locator("[data-testid=chat-new-url-hint]")
    await section.locator("[data-testid=chat-new-kind]").select_option("teams")
    await expect(hint).to_contain_text("Workflows")
    await expect(hint).to_contain_text("Post to a channel when a webhook request is received")
    await section.locator("[data-testid=chat-new-kind]").select_option("slack")
    await expect(hint).to_contain_text("Incoming Webhooks")
    await expect(hint).to_contain_text("https://hooks.slack.com/services/")

    await add(page, "teams", "Service desk", teams.url)
    await saved(page)
    await expect(destination(page, "Service desk")).to_have_count(1)
    await expect(url).to_have_value("")
    await add(page, "slack", MARKUP_LABEL, slack.url)
    await saved(page)
    assert await dev.api("Riley Lead", "GET", CHAT) == {
        "destinations": [
            {"kind": "teams", "label": "Service desk", "enabled": True, "host": "127.0.0.1", "url_set": True},
            {"kind": "slack", "label": MARKUP_LABEL, "enabled": True, "host": "127.0.0.1", "url_set": True},
        ]
    }

    # After a reload both are listed by kind, label and host, and no part of either URL is anywhere in the page.
    await reload_team(page, 2)
    shown = await values_in_page(page)
    for secret in (teams.sig, slack.token, teams.PATH, "/services/T0HANDOFF"):
        assert secret not in shown
    teams_row, slack_row = destination(page, "Service desk"), destination(page, MARKUP_LABEL)
    await expect(teams_row.locator("[data-testid=chat-dest-kind]")).to_have_text("Teams")
    await expect(teams_row.locator("[data-testid=chat-dest-host]")).to_have_text("posts to 127.0.0.1")
    await expect(slack_row.locator("[data-testid=chat-dest-kind]")).to_have_text("Slack")
    await expect(slack_row.locator("[data-testid=chat-dest-label]")).to_have_text(f"Slack: {MARKUP_LABEL}")
    await expect(section.locator("img")).to_have_count(0)

    # Slack switched off: saved with the rest of the list, URLs kept though never sent again.
    slack_switch = slack_row.get_by_role("switch", name="Post escalations here")
    await expect(slack_switch).to_be_checked()
    await slack_switch.click()
    await expect(section.locator("[data-testid=chat-unsaved]")).to_be_visible()
    await section.locator("[data-testid=chat-save]").click()
    await saved(page)
    await expect(section.locator("[data-testid=chat-unsaved]")).to_be_hidden()
    stored = await dev.api("Riley Lead", "GET", CHAT)
    assert [(d["label"], d["enabled"]) for d in stored["destinations"]] == [
        ("Service desk", True),
        (MARKUP_LABEL, False),
    ]
    await reload_team(page, 2)
    await expect(destination(page, MARKUP_LABEL).get_by_role("switch")).not_to_be_checked()
    await expect(destination(page, "Service desk").get_by_role("switch")).to_be_checked()

    # A test post to each: Teams' 202 comes with the reminder that Teams posts later; the receivers got them.
    teams_row, slack_row = destination(page, "Service desk"), destination(page, MARKUP_LABEL)
    await teams_row.get_by_role("button", name="Send a test post").click()
    await expect(teams_row.get_by_role("status")).to_have_text(TEAMS_NOTE)
    [card_post] = teams.accepted()
    assert "Test post from the handoff service" in posted_text(card_post)
    await slack_row.get_by_role("button", name="Send a test post").click()
    await expect(slack_row.get_by_role("status")).to_have_text("Slack posted it (HTTP 200).")
    [slack_post] = slack.accepted()
    assert "Test post from the handoff service" in posted_text(slack_post)

    assert dialogs == []
    assert await page.evaluate("document.scrollingElement.scrollWidth - window.innerWidth") <= 0
    await assert_accessible(page, f"Team view, Teams and Slack, {width} px")
    await picture(page, section, f"team-chat-{width}")
    await page.context.close()


async def test_a_refused_url_reads_beside_its_field_and_nothing_is_stored(dev: DevServer, browser: Browser) -> None:
    await dev.api("Riley Lead", "PUT", CHAT, json={"destinations": []})
    page = await team_view(browser, dev, "Olivia Owner", 1280)
    section = page.locator("[data-testid=chat]")
    url = section.locator("[data-testid=chat-new-url]")
    error = section.locator("[data-testid=chat-new-url-error]")

    # Caught before the API: no URL at all.
    await add(page, "teams", "Night desk", "")
    await expect(error).to_have_text("Webhook URL: paste the URL Teams gave you.")
    await expect(url).to_be_focused()

    # Refused by the API's guard: a cloud metadata address, in words, under the URL it names.
    await add(page, "teams", "Night desk", "https://169.254.169.254/workflows/1/triggers/manual/paths/invoke")
    await expect(error).to_contain_text("is not an address the service will post to: it is a cloud metadata address")
    text = await error.inner_text()
    assert text.startswith("Webhook URL"), text
    assert "destinations[" not in text, text
    await expect(section.locator("[data-testid=chat-error]")).to_have_text("Not saved: see the new destination.")
    await expect(url).to_have_attribute("aria-invalid", "true")
    await expect(url).to_be_focused()
    assert "chat-new-url-error" in (await url.get_attribute("aria-describedby") or "")
    url_box, error_box = await url.bounding_box(), await error.bounding_box()
    assert url_box is not None
    assert error_box is not None
    assert 0 <= error_box["y"] - (url_box["y"] + url_box["height"]) < 20, "the error is not beside its input"
    assert await dev.api("Riley Lead", "GET", CHAT) == {"destinations": []}
    await assert_accessible(page, "Team view, Teams and Slack, a refused URL, 1280 px")
    await picture(page, section, "team-chat-error-1280")
    await page.context.close()


async def test_a_failed_test_post_names_the_status_and_a_stale_entry_reads_on_its_row(
    dev: DevServer, browser: Browser, teams: FakeTeamsWorkflow, slack: FakeSlackWebhook
) -> None:
    body = {
        "destinations": [
            {"kind": "teams", "label": "Service desk", "url": teams.url, "enabled": True},
            {"kind": "slack", "label": "#escalations", "url": slack.url, "enabled": True},
        ]
    }
    await dev.api("Riley Lead", "PUT", CHAT, json=body)
    slack.always = Reply(404, b"no_service")  # the hook was removed in Slack
    page = await team_view(browser, dev, "Riley Lead", 360)
    slack_row = destination(page, "#escalations")
    await slack_row.get_by_role("button", name="Send a test post").click()
    await expect(slack_row.get_by_role("status")).to_contain_text("Not posted: Slack answered HTTP 404.")
    await expect(slack_row.get_by_role("status")).to_contain_text("add it again with a new URL")
    assert len(slack.arrivals) == 1

    # Someone else removes the Teams destination meanwhile; saving this page's list says so on that row.
    await dev.api("Olivia Owner", "PUT", CHAT, json={"destinations": [body["destinations"][1]]})
    teams_row = destination(page, "Service desk")
    await teams_row.get_by_role("switch").click()
    await page.locator("[data-testid=chat-save]").click()
    await expect(teams_row.locator("[data-testid=chat-dest-error]")).to_contain_text("no longer stored")
    await expect(page.locator("[data-testid=chat-error]")).to_have_text("Not saved: see Teams Service desk.")

    # Removed, then saved: only Slack is left. "Keep" undoes a removal before saving.
    await teams_row.get_by_role("button", name="Remove").click()
    await expect(teams_row.locator("[data-testid=chat-dest-removed]")).to_be_visible()
    await slack_row.get_by_role("button", name="Remove").click()
    await slack_row.get_by_role("button", name="Keep").click()
    await expect(slack_row.locator("[data-testid=chat-dest-removed]")).to_have_count(0)
    await page.locator("[data-testid=chat-save]").click()
    await saved(page)
    await expect(page.locator("[data-testid=chat-dest]")).to_have_count(1)
    stored = await dev.api("Riley Lead", "GET", CHAT)
    assert [d["label"] for d in stored["destinations"]] == ["#escalations"]
    await assert_accessible(page, "Team view, Teams and Slack, a failed test post, 360 px")
    await page.context.close()


@pytest.mark.parametrize("name", ["Sam Senior", "Val Viewer"])
async def test_engineers_and_viewers_see_no_chat_section(dev: DevServer, browser: Browser, name: str) -> None:
    page = await team_view(browser, dev, name, 1280)
    await expect(
        page.locator("[data-testid=oncall-summary], [data-testid=oncall-rota-slot] .empty").first
    ).to_be_visible()
    await expect(page.locator("[data-testid=chat]")).to_have_count(0)
    await expect(page.get_by_role("heading", name="Teams and Slack")).to_have_count(0)
    await page.context.close()
