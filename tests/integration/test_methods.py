"""OPTIONS and HEAD on every path: the API's operations from its own document, and the pages around it.

A plain `OPTIONS` (no CORS preflight) answers 204 with the path's `Allow`; `HEAD` answers what `GET` would,
headers and status alike, without a body; a 5xx is logged with its traceback under the request id.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from services.handoff_api.app import create_app
from shared.bootstrap import Runtime
from shared.config import Settings
from shared.observability.logs import JsonFormatter
from tests.conftest import JWT_SECRET
from tests.support.tenants import Actor, Tenant, TenantFactory

STREAM = "/api/v1/ai-sessions/escalations/stream"
ACCOUNT = "0ddba11a-0000-4000-a000-00000000c0de"
# The pages and files around the API, each with the methods it answers.
OTHER_PATHS = {
    "/healthz": {"GET"},
    "/readyz": {"GET"},
    "/metrics": {"GET"},
    "/": {"GET"},
    "/sw.js": {"GET"},
    "/dashboard/app.js": {"GET"},
    "/dashboard/style.css": {"GET"},
    "/schema": {"GET"},
    "/schema/openapi.json": {"GET"},
    "/schema/swagger": {"GET"},
    "/schema/redoc": {"GET"},
}
# Headers that differ between any two answers, whatever the method.
VOLATILE = {"x-request-id", "date"}


def expected_allow(methods: set[str]) -> set[str]:
    return methods | {"OPTIONS"} | ({"HEAD"} if "GET" in methods else set())


def allow_of(response: httpx.Response) -> set[str]:
    return {m.strip() for m in response.headers["allow"].split(",")}


@pytest.fixture
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    return dict((await client.get("/schema/openapi.json")).json())


@pytest.fixture
async def world(tenants: TenantFactory) -> tuple[Tenant, dict[str, str]]:
    """An account with an owner, a junior and a senior, one escalated session: a real id for every path."""
    tenant = await tenants.create(owner="owner", junior="engineer", senior="engineer")
    junior = tenant["junior"]
    session = await junior.new_session("Mail flow stopped at the gateway")
    handoff = await junior.escalate(session["id"])
    ids = {
        "account_id": str(tenant.account_id),
        "user_id": str(junior.id),
        "session_id": session["id"],
        "handoff_id": handoff["id"],
    }
    return tenant, ids


def concrete(path: str, ids: dict[str, str]) -> str:
    return re.sub(r"\{(\w+)\}", lambda m: ids[m.group(1)], path)


def api_paths(document: dict[str, Any], ids: dict[str, str]) -> dict[str, set[str]]:
    return {concrete(path, ids): {m.upper() for m in item} for path, item in document["paths"].items()}


async def test_a_plain_options_answers_204_with_allow_on_every_path(
    client: httpx.AsyncClient, document: dict[str, Any], world: tuple[Tenant, dict[str, str]]
) -> None:
    _, ids = world
    paths = {**api_paths(document, ids), **OTHER_PATHS}
    assert len(paths) > len(OTHER_PATHS) + 10  # every operation of the document is in the list
    for path, methods in paths.items():
        for headers in ({}, {"Origin": "http://127.0.0.1:8000"}):  # an Origin alone is no preflight
            answer = await client.options(path, headers=headers)
            assert answer.status_code == 204, (path, answer.status_code, answer.text)
            assert answer.content == b""
            assert allow_of(answer) == expected_allow(methods), path
            assert answer.headers["x-request-id"]


async def test_options_on_an_unknown_path_is_a_404_with_the_error_body(client: httpx.AsyncClient) -> None:
    for path in ("/no/such/page", "/api/v1/nothing", "/api/v1/handoffs/not-a-uuid/nothing"):
        answer = await client.options(path)
        assert answer.status_code == 404, path
        assert answer.json() == {"status_code": 404, "code": "not_found", "detail": "no such path"}


async def test_options_describes_a_route_whatever_its_ids_hold(client: httpx.AsyncClient) -> None:
    # A client probing the contract's paths may fill an id with anything: the route is still there.
    for path in ("/api/v1/handoffs/not-a-uuid", "/api/v1/handoffs/{id}/claim", "/api/v1/ai-sessions/1"):
        answer = await client.options(path)
        assert answer.status_code == 204, path
        assert "OPTIONS" in answer.headers["allow"]
    assert (await client.options("/api/v1/handoffs/x/claim")).headers["allow"] == "POST, OPTIONS"


async def test_a_real_preflight_is_still_answered_as_one(client: httpx.AsyncClient) -> None:
    asked = {"Origin": "http://127.0.0.1:8000", "Access-Control-Request-Method": "PUT"}
    answer = await client.options("/api/v1/ai-sessions", headers=asked)
    assert answer.status_code == 204
    assert "PUT" in answer.headers["access-control-allow-methods"]
    assert answer.headers["access-control-allow-origin"] == "http://127.0.0.1:8000"
    assert "allow" not in answer.headers


async def _same_but_bodiless(actor: Actor | None, client: httpx.AsyncClient, path: str) -> httpx.Response:
    headers = actor.headers if actor is not None else {}
    got = await client.get(path, headers=headers)
    head = await client.head(path, headers=headers)
    assert head.status_code == got.status_code, (path, head.status_code, got.status_code)
    assert head.content == b"", path
    compared = ["content-type", "cache-control", "content-security-policy"]
    if path != "/metrics":  # every answer, this one included, changes the figures
        compared.append("content-length")
    for name in compared:
        assert head.headers.get(name) == got.headers.get(name), (path, name)
    return got


async def test_head_answers_what_get_does_on_every_readable_path(
    client: httpx.AsyncClient, document: dict[str, Any], world: tuple[Tenant, dict[str, str]]
) -> None:
    tenant, ids = world
    readable = [path for path, methods in api_paths(document, ids).items() if "GET" in methods and path != STREAM]
    assert len(readable) >= 8
    for actor in (tenant["owner"], tenant["senior"], None):  # None: no token, a 401 for both
        for path in readable:
            got = await _same_but_bodiless(actor, client, path)
            if actor is None:
                assert got.status_code == 401, path
            elif path.endswith(("/escalations", "/ai-sessions")):
                assert got.status_code == 200, path
    for path in OTHER_PATHS:
        assert (await _same_but_bodiless(None, client, path)).status_code == 200, path


async def test_head_is_not_a_way_around_a_405(client: httpx.AsyncClient, world: tuple[Tenant, dict[str, str]]) -> None:
    tenant, ids = world
    claim = f"/api/v1/handoffs/{ids['handoff_id']}/claim"
    head = await tenant["senior"].request("HEAD", claim)
    assert head.status_code == 405
    assert allow_of(head) == {"POST", "OPTIONS"}
    # A 405 on a readable path offers HEAD with GET.
    wrong = await tenant["senior"].request("DELETE", "/api/v1/ai-sessions/escalations")
    assert wrong.status_code == 405
    assert allow_of(wrong) == {"GET", "HEAD", "OPTIONS"}


async def test_head_on_the_live_stream_answers_and_ends(client: httpx.AsyncClient, tenants: TenantFactory) -> None:
    tenant = await tenants.create(senior="engineer", viewer="viewer")
    metrics = (await client.get("/metrics")).text
    open_before = re.search(r"^handoff_sse_clients (\S+)$", metrics, re.MULTILINE)
    async with asyncio.timeout(10):  # a HEAD that opened the stream would never return
        head = await tenant["senior"].request("HEAD", STREAM)
    assert head.status_code == 200
    assert head.headers["content-type"].startswith("text/event-stream")
    assert head.content == b""
    after = re.search(r"^handoff_sse_clients (\S+)$", (await client.get("/metrics")).text, re.MULTILINE)
    assert after is not None
    assert open_before is not None
    assert float(after.group(1)) == float(open_before.group(1))  # no stream left open behind it
    refused = await tenant["viewer"].request("HEAD", STREAM)
    assert refused.status_code == 403
    for method in ("POST", "PUT", "DELETE"):  # only GET (and HEAD) read the stream
        async with asyncio.timeout(10):
            wrong = await tenant["senior"].request(method, STREAM)
        assert wrong.status_code == 405, method
        assert wrong.json()["code"] == "method_not_allowed"
        assert allow_of(wrong) == {"GET", "HEAD", "OPTIONS"}


class _Resources(HTMLParser):
    """Every URL a page would load or link to."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[tuple[str, str]] = []
        self.tags: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.urls += [(tag, value or "") for name, value in attrs if name in {"src", "href", "srcset", "action"}]


@pytest.mark.parametrize("path", ["/schema", "/schema/swagger", "/schema/redoc"])
async def test_the_schema_pages_load_nothing_from_elsewhere(
    client: httpx.AsyncClient, document: dict[str, Any], path: str
) -> None:
    page = await client.get(path)
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    policy = page.headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "default-src 'self'" in policy
    parsed = _Resources()
    parsed.feed(page.text)
    assert not {"script", "style", "iframe", "img"} & set(parsed.tags)  # nothing to block or fetch
    assert "style=" not in page.text
    assert ("link", "/schema/page.css") in parsed.urls
    style = await client.get("/schema/page.css")
    assert style.status_code == 200
    assert style.headers["content-type"].startswith("text/css")
    elsewhere = [url for _, url in parsed.urls if urlsplit(url).netloc or urlsplit(url).scheme not in {"", "data"}]
    assert elsewhere == []
    assert ("a", "/schema/openapi.json") in parsed.urls
    for item in document["paths"].values():
        for operation in item.values():
            assert operation["operationId"] in page.text


async def test_a_5xx_is_logged_with_its_traceback_and_request_id(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A database never migrated: the caller gets the bare error body, the log gets the cause."""
    empty = f"sqlite+aiosqlite:///{tmp_path / 'handoff.db'}"
    settings = Settings.from_env({}, database_url=empty, jwt_secret=JWT_SECRET, secret_key="k" * 43 + "=")
    runtime = Runtime.build(settings)
    app = create_app(settings, runtime=runtime)
    transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
    caplog.set_level(logging.INFO, logger="handoff.api")
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://api.test") as http:
            tenants = TenantFactory(http, JWT_SECRET)
            actor = tenants.actor(tenants.service().id, None, "service", "main application")
            answer = await actor.get(f"/api/v1/accounts/{ACCOUNT}/psa")
            not_ready = await http.get("/readyz")
    finally:
        await runtime.engine.dispose()
    assert answer.status_code == 500
    assert answer.json() == {
        "status_code": 500,
        "code": "internal_error",
        "detail": "the server could not complete the request",
    }
    assert "Traceback" not in answer.text
    request_id = answer.headers["x-request-id"]
    lines = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(lines) == 1, lines  # once, not once per layer
    line = lines[0]
    assert line["request_id"] == request_id
    assert line["status"] == 500
    assert line["path"] == "/api/v1/accounts/{account_id}/psa"
    assert line["exception"].startswith("Traceback")
    assert "no such table: psa_connections" in line["exception"]
    assert ACCOUNT.replace("-", "") not in line["exception"]  # nor any value the statement carried
    # A 5xx the handler chose, with no exception behind it: a warning under its request id, no traceback.
    assert not_ready.status_code == 503
    warned = [json.loads(JsonFormatter().format(r)) for r in caplog.records if r.levelno == logging.WARNING]
    assert [(w["request_id"], w["status"], w["path"]) for w in warned] == [
        (not_ready.headers["x-request-id"], 503, "/readyz")
    ]
    assert "exception" not in warned[0]
