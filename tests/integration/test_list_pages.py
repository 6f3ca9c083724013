"""List pages stay small: a byte cap on every page, queue cards without the conversation, and no item lost."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import msgspec
import pytest
import schemathesis

from services.handoff_api.app import create_app
from shared.bootstrap import Runtime
from tests.support.tenants import Actor, TenantFactory

QUEUE = "/api/v1/ai-sessions/escalations"
SESSIONS = "/api/v1/ai-sessions"
# Two ~1 MB sessions fit under it, three do not.
ROOMY_CAP = 2_500_000
# Fewer than a handful of cards or session lines fit under it, and no full handoff does.
TIGHT_CAP = 4096
SMALLEST_CAP = 1024  # the least HANDOFF_LIST_MAX_BYTES may be: a few session lines
LONG_MESSAGE = 20_000
BIG_CONTEXT = {"config": "c" * 60_000}
CARD_SNAPSHOT_KEYS = {"title", "ticket_ref", "steps_tried_count", "message_count"}

ApiFor = Callable[[int], httpx.AsyncClient]


@pytest.fixture
async def api_with_cap(runtime: Runtime) -> AsyncIterator[ApiFor]:
    """Clients of apps that differ from the suite's only in their list page cap, on the same database."""
    opened: list[httpx.AsyncClient] = []

    def open_api(max_bytes: int) -> httpx.AsyncClient:
        settings = msgspec.structs.replace(runtime.settings, list_max_bytes=max_bytes)
        transport = httpx.ASGITransport(app=create_app(settings, runtime=runtime), raise_app_exceptions=False)
        http = httpx.AsyncClient(transport=transport, base_url="http://api.test")
        opened.append(http)
        return http

    yield open_api
    for http in opened:
        await http.aclose()


def through(actor: Actor, http: httpx.AsyncClient) -> Actor:
    return dataclasses.replace(actor, http=http)


async def plant_big_session(junior: Actor, title: str) -> dict[str, Any]:
    """A session of ~1 MB: 50 messages of 20,000 characters (the last 50 go into a snapshot) and 60 KB of context."""
    messages = [
        {"role": "engineer" if i % 2 else "assistant", "content": f"{i:05d}" + "m" * (LONG_MESSAGE - 5)}
        for i in range(45)
    ]
    session = await junior.new_session(title, ticket_ref="T-1", context=BIG_CONTEXT, messages=messages)
    for _ in range(45, 50):
        step = {"role": "engineer", "content": "s" * LONG_MESSAGE, "kind": "step", "step_status": "failed"}
        response = await junior.post(f"{SESSIONS}/{session['id']}/messages", json=step)
        assert response.status_code == 201, response.text
    return session


async def every_page(actor: Actor, path: str, params: dict[str, Any]) -> list[httpx.Response]:
    """Follow `next_cursor` from the first page to the last."""
    pages: list[httpx.Response] = []
    cursor = None
    while True:
        response = await actor.get(path, params={**params, **({"cursor": cursor} if cursor else {})})
        assert response.status_code == 200, response.text
        pages.append(response)
        cursor = response.json()["next_cursor"]
        if cursor is None:
            return pages
        assert len(pages) < 50, "the cursor never ends"


def ids_of(pages: list[httpx.Response]) -> list[str]:
    return [item["id"] for page in pages for item in page.json()["items"]]


async def test_a_queue_of_big_sessions_comes_in_pages_under_the_cap(
    tenants: TenantFactory, api_with_cap: ApiFor
) -> None:
    tenant = await tenants.create(junior="engineer", senior="engineer")
    junior, senior = tenant["junior"], tenant["senior"]
    escalated = []
    for i in range(5):
        escalated.append((await junior.escalate((await plant_big_session(junior, f"big {i}"))["id"]))["id"])
        escalated.append((await junior.escalate((await junior.new_session(f"small {i}"))["id"]))["id"])
    newest_first = list(reversed(escalated))

    # The default cap (4 MiB) holds three of the five 1 MB handoffs, not all of them.
    pages = await every_page(senior, QUEUE, {"limit": 200})
    assert ids_of(pages) == newest_first
    assert len(pages) == 2
    assert all(len(page.content) <= 4 * 1024 * 1024 for page in pages)
    assert len(pages[0].json()["items"][1]["snapshot"]["messages"]) == 50

    roomy = through(senior, api_with_cap(ROOMY_CAP))
    pages = await every_page(roomy, QUEUE, {"limit": 200})
    assert ids_of(pages) == newest_first
    assert all(len(page.content) <= ROOMY_CAP for page in pages)
    assert len(pages) >= 3  # five 1 MB handoffs cannot share fewer pages under 2.5 MB
    big = [item for page in pages for item in page.json()["items"] if item["snapshot"]["title"].startswith("big")]
    assert len(big) == 5
    assert all(len(item["snapshot"]["messages"]) == 50 for item in big)

    # A handoff bigger than the whole cap still comes, one to a page, and the next page goes on after it.
    tight = through(senior, api_with_cap(TIGHT_CAP))
    pages = await every_page(tight, QUEUE, {"limit": 200})
    assert ids_of(pages) == newest_first
    for page in pages:
        items = page.json()["items"]
        assert len(page.content) <= TIGHT_CAP or len(items) == 1

    # Cards are small: several share a tight page, and still every escalation comes exactly once.
    card_pages = await every_page(tight, QUEUE, {"limit": 200, "fields": "card"})
    assert ids_of(card_pages) == newest_first
    assert all(len(page.content) <= TIGHT_CAP for page in card_pages)
    assert len(card_pages) < len(newest_first)


async def test_a_card_carries_what_the_queue_shows_and_no_conversation(
    tenants: TenantFactory, client: httpx.AsyncClient
) -> None:
    tenant = await tenants.create(junior="engineer", senior="engineer", riley="engineer")
    junior, senior, riley = tenant["junior"], tenant["senior"], tenant["riley"]
    big = await junior.escalate((await plant_big_session(junior, "Exchange down"))["id"], urgency="high")
    other = await junior.escalate((await junior.new_session("VPN drops", ticket_ref=None))["id"])
    assert (await riley.post(f"/api/v1/handoffs/{other['id']}/claim")).status_code == 200

    response = await senior.get(QUEUE, params={"status": "all", "fields": "card"})
    assert response.status_code == 200
    cards = {card["id"]: card for card in response.json()["items"]}
    assert set(cards) == {big["id"], other["id"]}
    for handoff_id, card in cards.items():
        full = (await senior.get(f"/api/v1/handoffs/{handoff_id}")).json()
        assert set(card["snapshot"]) == CARD_SNAPSHOT_KEYS
        assert card["snapshot"] == {key: full["snapshot"][key] for key in CARD_SNAPSHOT_KEYS}
        assert {k: v for k, v in card.items() if k != "snapshot"} == {k: v for k, v in full.items() if k != "snapshot"}

    card = cards[big["id"]]
    expected = {"title": "Exchange down", "ticket_ref": "T-1", "steps_tried_count": 5, "message_count": 50}
    assert card["snapshot"] == expected
    assert (card["urgency"], card["status"], card["created_by"]["id"]) == ("high", "open", str(junior.id))
    assert card["assessment_status"] in {"pending", "ready", "failed"}
    assert cards[other["id"]]["claimed_by"] == {"id": str(riley.id), "name": riley.name}
    assert cards[other["id"]]["snapshot"]["ticket_ref"] is None
    assert len(response.content) < 20_000  # the 1 MB conversation stayed out


async def test_both_shapes_match_the_openapi_document(tenants: TenantFactory, client: httpx.AsyncClient) -> None:
    tenant = await tenants.create(junior="engineer", senior="engineer")
    junior, senior = tenant["junior"], tenant["senior"]
    await junior.escalate(
        (
            await junior.new_session(
                "Printer",
                context={"site": "HQ"},
                messages=[
                    {"role": "engineer", "content": "tried a restart", "kind": "step", "step_status": "failed"},
                ],
            )
        )["id"]
    )
    document = (await client.get("/schema/openapi.json")).json()
    operation = schemathesis.openapi.from_dict(document)[QUEUE]["GET"]
    for params in ({}, {"fields": "card"}):
        response = await senior.get(QUEUE, params=params)
        assert response.status_code == 200
        assert response.json()["items"]
        operation.validate_response(response)


@pytest.mark.parametrize("value", ["full", "CARD", "card,title", ""])
async def test_any_other_fields_value_is_a_validation_error(tenants: TenantFactory, value: str) -> None:
    senior = (await tenants.create(senior="engineer"))["senior"]
    response = await senior.get(QUEUE, params={"fields": value})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    assert [error["key"] for error in body["errors"]] == ["fields"]


async def test_my_sessions_pages_stay_under_the_cap(tenants: TenantFactory, api_with_cap: ApiFor) -> None:
    tenant = await tenants.create(junior="engineer")
    junior = tenant["junior"]
    created = [(await plant_big_session(junior, f"big {i}"))["id"] for i in range(2)]
    created += [(await junior.new_session(f"small {i}"))["id"] for i in range(8)]
    await junior.escalate(created[0])  # its package holds a 1 MB snapshot: a list line shows only its summary

    tightest = through(junior, api_with_cap(SMALLEST_CAP))
    pages = await every_page(tightest, SESSIONS, {"limit": 200})
    assert ids_of(pages) == list(reversed(created))
    assert all(len(page.content) <= SMALLEST_CAP for page in pages)
    assert len(pages) >= 4
    lines = {item["id"]: item for page in pages for item in page.json()["items"]}
    assert lines[created[1]]["message_count"] == 50
    assert "messages" not in lines[created[1]]
    assert "context" not in lines[created[1]]
    assert lines[created[0]]["escalation_package"]["intent"] == "escalate"
    assert "snapshot" not in lines[created[0]]["escalation_package"]
