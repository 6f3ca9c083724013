"""The pages behind an email's pick-up link: opening changes nothing, pressing claims, on both databases.

Each link is read from the email a loopback SMTP server received; the pages are read as a browser would.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import httpx
import pytest

from shared.bootstrap import Runtime
from shared.pickup.links import PickUpLinks
from shared.pickup.tokens import LinkKeys
from tests.support.pick_up import emailed_links, escalated, path_of, sams_link, token_of
from tests.support.smtp import SMTPServer
from tests.support.tenants import Actor, TenantFactory

HOSTILE_TITLE = "<!channel> [x](https://evil.example) <script>alert(1)</script>"
PUBLIC_URL = "http://127.0.0.1:8000"  # the settings' default: where "It's yours" links to
BLOCKS = {"h1", "p", "div", "main", "form", "button", "li"}


@pytest.fixture(scope="module")
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


class Page(HTMLParser):
    """What a browser would make of a page: its elements, attributes and visible text."""

    def __init__(self, markup: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []
        self._in: list[str] = []
        self.feed(markup)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        if tag not in ("meta", "link", "br", "input"):
            self._in.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self._in and self._in[-1] == tag:
            self._in.pop()
        if tag in BLOCKS:
            self.text.append(" ")

    def handle_data(self, data: str) -> None:
        if not set(self._in) & {"style", "script", "title"}:
            self.text.append(data)

    def all(self, name: str) -> list[dict[str, str | None]]:
        return [attrs for tag, attrs in self.tags if tag == name]

    @property
    def words(self) -> str:
        return " ".join("".join(self.text).split())


def page_of(response: httpx.Response) -> Page:
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    return Page(response.text)


async def handoff(actor: Actor, handoff_id: str) -> dict[str, Any]:
    response = await actor.get(f"/api/v1/handoffs/{handoff_id}")
    assert response.status_code == 200, response.text
    return dict(response.json())


async def claimed_entry(actor: Actor, handoff_id: str) -> dict[str, Any]:
    timeline = (await actor.get(f"/api/v1/handoffs/{handoff_id}/timeline")).json()
    [entry] = [e for e in timeline if e["type"] == "claimed"]
    return dict(entry)


async def test_opening_shows_the_escalation_and_one_button_and_changes_nothing(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer, client: httpx.AsyncClient
) -> None:
    tenant, handoff_id, path = await sams_link(tenants, runtime, smtp)

    got = await client.get(path, headers={"User-Agent": "Mozilla/5.0 (scanner)"})
    head = await client.head(path)
    assert got.status_code == head.status_code == 200
    assert head.content == b""
    for name in ("content-type", "cache-control", "content-security-policy", "referrer-policy"):
        assert head.headers[name] == got.headers[name], name
    assert got.headers["cache-control"] == "no-store"
    assert got.headers["referrer-policy"] == "no-referrer"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["x-frame-options"] == "DENY"
    csp = {d.split()[0]: d.split()[1:] for d in got.headers["content-security-policy"].split("; ")}
    assert csp["default-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'self'"]
    assert csp["base-uri"] == ["'none'"]
    assert [source.startswith("'sha256-") for source in csp["style-src"]] == [True]  # the inline sheet alone

    page = page_of(got)
    assert page.all("html") == [{"lang": "en"}]
    assert len(page.all("main")) == 1
    assert len(page.all("h1")) == 1
    assert len(page.all("title")) == 1
    assert {"name": "robots", "content": "noindex"} in page.all("meta")
    assert page.all("script") == []
    assert page.all("link") == []
    assert page.all("img") == []
    assert page.all("form") == [{"method": "post", "action": path}]
    [button] = page.all("button")
    assert button == {"type": "submit"}
    sam = tenant["sam"]
    assert f"Pick up as {sam.name}" in page.words
    assert "VPN tunnel to Leeds keeps dropping" in page.words
    assert "Normal urgency" in page.words
    assert f"Escalated by {tenant['junior'].name}" in page.words
    assert " UTC (just now)" in page.words or " minute ago" in page.words
    assert len(got.content) < 8 * 1024  # small: one request, no assets

    after = await handoff(sam, handoff_id)
    assert (after["status"], after["claimed_by"]) == ("open", None)


async def test_a_hostile_title_is_only_ever_text(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer, client: httpx.AsyncClient
) -> None:
    _, handoff_id, path = await sams_link(tenants, runtime, smtp, HOSTILE_TITLE)

    got = await client.get(path)
    assert "<script>" not in got.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in got.text
    page = page_of(got)
    assert page.all("script") == []
    assert HOSTILE_TITLE in page.words  # shown as written, as text
    assert [a["href"] for a in page.all("a")] == []  # the title links nowhere

    pressed = page_of(await client.post(path))
    assert page.all("script") == pressed.all("script") == []
    assert [a["href"] for a in pressed.all("a")] == [f"{PUBLIC_URL}/#/handoffs/{handoff_id}"]


async def test_pressing_claims_once_as_the_links_senior_via_the_email_link(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer, client: httpx.AsyncClient
) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer", riley="admin")
    handoff_id = await escalated(tenant)
    links = await emailed_links(runtime, smtp, handoff_id)
    sam, riley = tenant["sam"], tenant["riley"]

    pressed = await client.post(path_of(links["sam"]), headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert pressed.status_code == 200
    assert pressed.headers["cache-control"] == "no-store"
    page = page_of(pressed)
    assert page.all("h1")
    assert "It's yours" in page.words
    assert [a["href"] for a in page.all("a")] == [f"{PUBLIC_URL}/#/handoffs/{handoff_id}"]
    again = await client.post(path_of(links["sam"]))  # pressed twice, or later from another device
    assert again.status_code == 200
    assert "It's yours" in page_of(again).words

    after = await handoff(sam, handoff_id)
    assert after["status"] == "claimed"
    assert after["claimed_by"] == {"id": str(sam.id), "name": sam.name}
    entry = await claimed_entry(sam, handoff_id)
    assert entry["detail"] == {"via": "email_link"}
    assert entry["actor"] == {"id": str(sam.id), "name": sam.name}

    # Riley's link now tells who has it, and offers no button.
    shown = page_of(await client.get(path_of(links["riley"])))
    assert f"Already picked up by {sam.name}" in shown.words
    assert shown.all("form") == []
    assert shown.all("button") == []
    refused = await client.post(path_of(links["riley"]))
    assert refused.status_code == 409
    assert f"Already picked up by {sam.name}, " in page_of(refused).words
    # Sam's own link says it is theirs.
    mine = page_of(await client.get(path_of(links["sam"])))
    assert "You picked this up" in mine.words
    assert mine.all("form") == []
    assert (await handoff(riley, handoff_id))["claimed_by"]["id"] == str(sam.id)


async def test_an_api_claim_is_via_the_api(tenants: TenantFactory) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer")
    handoff_id = await escalated(tenant)
    assert (await tenant["sam"].post(f"/api/v1/handoffs/{handoff_id}/claim")).status_code == 200
    assert (await claimed_entry(tenant["sam"], handoff_id))["detail"] == {"via": "api"}


async def test_a_withdrawn_escalation_is_withdrawn_on_its_page_and_on_the_button(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer, client: httpx.AsyncClient
) -> None:
    tenant, handoff_id, path = await sams_link(tenants, runtime, smtp)
    assert (await tenant["junior"].post(f"/api/v1/handoffs/{handoff_id}/withdraw")).status_code == 200

    shown = page_of(await client.get(path))
    assert "Withdrawn" in shown.words
    assert shown.all("form") == []
    pressed = await client.post(path)
    assert pressed.status_code == 409
    assert page_of(pressed).all("h1")
    assert "Withdrawn" in page_of(pressed).words
    assert (await handoff(tenant["junior"], handoff_id))["status"] == "withdrawn"


async def test_a_senior_made_a_viewer_after_the_email_can_no_longer_pick_it_up(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer, client: httpx.AsyncClient
) -> None:
    tenant, handoff_id, path = await sams_link(tenants, runtime, smtp)
    sam = tenant["sam"]
    body = {"email": f"sam-{str(sam.id)[:8]}@msp.test", "name": sam.name, "role": "viewer", "active": True}
    put = await tenant.service.request("PUT", f"/api/v1/accounts/{tenant.account_id}/users/{sam.id}", json=body)
    assert put.status_code == 200, put.text

    pressed = await client.post(path)
    assert pressed.status_code == 403
    assert "You can no longer pick this up" in page_of(pressed).words
    shown = await client.get(path)
    assert shown.status_code == 403
    assert page_of(shown).all("form") == []
    after = await handoff(tenant["junior"], handoff_id)
    assert (after["status"], after["claimed_by"]) == ("open", None)


async def test_a_deactivated_senior_cannot_press_either(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer, client: httpx.AsyncClient
) -> None:
    tenant, handoff_id, path = await sams_link(tenants, runtime, smtp)
    sam = tenant["sam"]
    assert (await tenant.service.request("DELETE", f"/api/v1/accounts/{tenant.account_id}/users/{sam.id}")).is_success
    assert (await client.post(path)).status_code == 403
    assert (await handoff(tenant["junior"], handoff_id))["status"] == "open"


async def test_three_seniors_pressing_at_once_give_one_winner_and_two_pages_naming_them(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer, client: httpx.AsyncClient
) -> None:
    tenant = await tenants.create(junior="engineer", a="engineer", b="engineer", c="admin")
    for round_no in range(5):
        handoff_id = await escalated(tenant, f"race {round_no}")
        links = await emailed_links(runtime, smtp, handoff_id)
        start = asyncio.Event()

        async def press(key: str, start: asyncio.Event = start, links: dict[str, str] = links) -> httpx.Response:
            await start.wait()
            return await client.post(path_of(links[key]))

        tasks = [asyncio.create_task(press(key)) for key in ("a", "b", "c")]
        await asyncio.sleep(0)  # yield: every task runs up to start.wait(), so all press at once
        start.set()
        answers = dict(zip(("a", "b", "c"), await asyncio.gather(*tasks), strict=True))

        assert sorted(r.status_code for r in answers.values()) == [200, 409, 409]
        [winner] = [key for key, r in answers.items() if r.status_code == 200]
        name = tenant[winner].name
        for key, response in answers.items():
            if key != winner:
                assert f"Already picked up by {name}, " in page_of(response).words
        after = await handoff(tenant["junior"], handoff_id)
        assert after["claimed_by"] == {"id": str(tenant[winner].id), "name": name}
        assert (await claimed_entry(tenant["junior"], handoff_id))["detail"] == {"via": "email_link"}


async def test_a_hundred_scanner_opens_from_ten_clients_leave_it_open(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer, client: httpx.AsyncClient
) -> None:
    tenant, handoff_id, path = await sams_link(tenants, runtime, smtp)

    async def scanner(number: int) -> list[int]:
        agent = {"User-Agent": f"SafeLinks-like scanner {number}"}
        answers = []
        for i in range(10):
            method = client.get if i % 2 == 0 else client.head
            answers.append((await method(path, headers=agent)).status_code)
        return answers

    answers = [code for batch in await asyncio.gather(*(scanner(n) for n in range(10))) for code in batch]
    assert answers == [200] * 100
    after = await handoff(tenant["junior"], handoff_id)
    assert (after["status"], after["claimed_by"]) == ("open", None)
    timeline = (await tenant["junior"].get(f"/api/v1/handoffs/{handoff_id}/timeline")).json()
    assert "claimed" not in [entry["type"] for entry in timeline]


@pytest.mark.parametrize(
    "token",
    [
        "A" * 43,  # well-formed, never issued
        "abc",
        "A" * 44,
        "A" * 42 + "=",
        "A" * 42 + "%00",
        "A" * 42 + "%C3%A9",
        "x" * 5000,
    ],
)
async def test_an_unknown_or_malformed_token_is_a_404_page_for_every_method(
    client: httpx.AsyncClient, token: str
) -> None:
    for method in ("GET", "HEAD", "POST"):
        response = await client.request(method, f"/pick-up/{token}")
        assert response.status_code == 404, (method, response.text)
        assert response.headers["content-type"] == "text/html; charset=utf-8"
        assert response.headers["cache-control"] == "no-store"
        if method != "HEAD":
            assert "This link does not work" in page_of(response).words


async def test_an_expired_link_is_a_404_page_for_every_method(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer, client: httpx.AsyncClient
) -> None:
    one_second = PickUpLinks(LinkKeys.from_secret(runtime.settings.secret_key), ttl_s=1)
    tenant, handoff_id, path = await sams_link(tenants, runtime, smtp, links=one_second)
    await asyncio.sleep(1.1)  # real time must pass: the link's one-second lifetime
    for method in ("GET", "HEAD", "POST"):
        response = await client.request(method, path)
        assert response.status_code == 404, method
    assert (await handoff(tenant["junior"], handoff_id))["status"] == "open"


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        (None, b""),
        ("application/x-www-form-urlencoded", b"anything=at%20all&more=1"),
        ("application/json", b'{"not": "a form"'),
        ("multipart/form-data; boundary=nothing", b"--garbage\r\n\r\n"),
        ("text/plain", bytes(range(256))),
    ],
)
async def test_a_press_takes_any_body_and_answers_a_page_never_a_500(
    tenants: TenantFactory,
    runtime: Runtime,
    smtp: SMTPServer,
    client: httpx.AsyncClient,
    content_type: str | None,
    body: bytes,
) -> None:
    path = (await sams_link(tenants, runtime, smtp)).path
    headers = {"Content-Type": content_type} if content_type else {}
    response = await client.post(path, content=body, headers=headers)
    assert response.status_code == 200, response.text
    assert "It's yours" in page_of(response).words


async def test_the_path_answers_options_and_refuses_other_methods(client: httpx.AsyncClient) -> None:
    path = f"/pick-up/{secrets.token_urlsafe(32)}"
    options = await client.options(path)
    assert options.status_code == 204
    assert {m.strip() for m in options.headers["allow"].split(",")} == {"GET", "HEAD", "POST", "OPTIONS"}
    for method in ("PUT", "DELETE", "PATCH"):
        refused = await client.request(method, path)
        assert refused.status_code == 405, method
        assert refused.json()["code"] == "method_not_allowed"
    preflight = await client.options(
        path, headers={"Origin": "http://127.0.0.1:8000", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 204


async def test_the_figures_count_the_route_never_the_token(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer, client: httpx.AsyncClient
) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer")
    handoff_id = await escalated(tenant)
    link = (await emailed_links(runtime, smtp, handoff_id))["sam"]
    assert (await client.get(path_of(link))).status_code == 200
    figures = (await client.get("/metrics")).text
    assert token_of(link) not in figures
    assert 'path="/pick-up/{token}"' in figures
