"""Tenant boundaries, limits and headers at the edge: each an attack or accident that once worked."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import msgspec
import pytest
from sqlalchemy import update

from services.handoff_api.app import create_app
from shared.bootstrap import Runtime
from shared.db.uow import unit_of_work
from shared.directory.tables import User
from tests.support.servers import serving
from tests.support.sse import SSEClient
from tests.support.tenants import TenantFactory
from tests.support.waiting import eventually

PERSON = {"email": "bo@msp.test", "name": "Bo", "role": "engineer", "active": True}


async def test_an_admin_cannot_take_a_user_of_another_account(
    client: httpx.AsyncClient, tenants: TenantFactory
) -> None:
    """An admin of A once PUT a not-yet-synced user id of B into A, locking that user out for good."""
    a = await tenants.create(admin="admin")
    b = await tenants.create(owner="owner")
    victim = uuid.uuid4()  # a user the main application is about to sync into B

    taken = await a["admin"].request("PUT", f"/api/v1/accounts/{a.account_id}/users/{victim}", json=PERSON)
    assert taken.status_code == 404  # only the main application creates users
    assert taken.json()["code"] == "not_found"

    synced = await b.service.request("PUT", f"/api/v1/accounts/{b.account_id}/users/{victim}", json=PERSON)
    assert synced.status_code == 200
    victim_actor = tenants.actor(victim, b.account_id, "engineer", "Bo")
    assert (await victim_actor.get("/api/v1/ai-sessions/escalations")).status_code == 200

    # Nor can A's admin edit or delete the user now that B has them.
    path = f"/api/v1/accounts/{a.account_id}/users/{victim}"
    assert (await a["admin"].request("PUT", path, json=PERSON)).status_code == 404
    assert (await a["admin"].request("DELETE", path)).status_code == 404
    assert (await victim_actor.get("/api/v1/ai-sessions/escalations")).status_code == 200


async def test_owners_edit_their_own_users_only(tenants: TenantFactory) -> None:
    tenant = await tenants.create(owner="owner", junior="engineer")
    junior = tenant["junior"]
    path = f"/api/v1/accounts/{tenant.account_id}/users/{junior.id}"
    edited = await tenant["owner"].request("PUT", path, json={**PERSON, "name": "Junior Two"})
    assert edited.status_code == 200
    assert edited.json()["name"] == "Junior Two"
    fresh = await tenant["owner"].request(
        "PUT", f"/api/v1/accounts/{tenant.account_id}/users/{uuid.uuid4()}", json=PERSON
    )
    assert fresh.status_code == 404


async def test_the_main_application_moves_a_user_only_when_it_says_so(tenants: TenantFactory) -> None:
    a = await tenants.create(mover="engineer")
    b = await tenants.create(owner="owner")
    mover = a["mover"]
    path = f"/api/v1/accounts/{b.account_id}/users/{mover.id}"

    refused = await a.service.request("PUT", path, json=PERSON)
    assert refused.status_code == 409
    assert refused.json()["code"] == "user_in_other_account"
    assert (await mover.get("/api/v1/ai-sessions/escalations")).status_code == 200  # still in A

    moved = await a.service.request("PUT", path, json={**PERSON, "move": True})
    assert moved.status_code == 200
    assert moved.json()["account_id"] == str(b.account_id)
    assert (await mover.get("/api/v1/ai-sessions/escalations")).status_code == 401  # A's token no longer
    in_b = tenants.actor(mover.id, b.account_id, "engineer", mover.name)
    assert (await in_b.get("/api/v1/ai-sessions/escalations")).status_code == 200


@pytest.fixture
async def replicas(runtime: Runtime) -> AsyncIterator[tuple[int, int]]:
    """Two API replicas on one database and bus, each with a hub of its own.

    On Redis the second replica has a runtime (and so a tail connection) of its own, as a second
    process would; the in-process bus lives in one process, so there both share it.
    """
    settings = msgspec.structs.replace(runtime.settings, sse_heartbeat_s=0.5, sse_max_streams_per_user=3)
    other = Runtime.build(settings) if settings.redis_url else runtime
    if other is not runtime:
        await other.start()
    try:
        async with (
            serving(create_app(settings, runtime=runtime)) as a,
            serving(create_app(settings, runtime=other)) as b,
        ):
            yield a, b
    finally:
        if other is not runtime:
            await other.stop()


async def _ended_within(client: SSEClient, seconds: float) -> float:
    """How long until the server ends the stream; fails if it is still open after `seconds`."""
    started = time.perf_counter()
    try:
        while True:
            await client.next_frame(timeout=seconds)
    except EOFError:
        return time.perf_counter() - started


async def _still_open(client: SSEClient, seconds: float) -> None:
    pings = client.pings
    with pytest.raises(TimeoutError):
        await client.next_frame(timeout=seconds)
    assert client.pings > pings


@pytest.mark.parametrize(
    "change",
    [
        ("PUT", {"email": "s@msp.test", "name": "S", "role": "engineer", "active": False}),
        ("PUT", {"email": "s@msp.test", "name": "S", "role": "viewer", "active": True}),
        ("DELETE", None),
    ],
    ids=["deactivated", "made a viewer", "deleted"],
)
async def test_a_stream_ends_when_the_directory_refuses_its_user(
    replicas: tuple[int, int], tenants: TenantFactory, change: tuple[str, dict[str, object] | None]
) -> None:
    tenant = await tenants.create(senior="engineer", other="engineer")
    senior, other = tenant["senior"], tenant["other"]
    on_a = await SSEClient.connect(replicas[0], senior.token)
    on_b = await SSEClient.connect(replicas[1], senior.token)
    bystander = await SSEClient.connect(replicas[1], other.token)
    for client in (on_a, on_b, bystander):
        assert (await client.next_frame()).event == "ready"

    method, body = change
    path = f"/api/v1/accounts/{tenant.account_id}/users/{senior.id}"
    kwargs = {"json": body} if body else {}
    assert (await tenant.service.request(method, path, **kwargs)).status_code == 200
    took = max(await _ended_within(on_a, 5), await _ended_within(on_b, 5))
    print(f"\nstreams on both replicas ended {took * 1000:.0f} ms after the directory change")
    await _still_open(bystander, 1.5)
    for client in (on_a, on_b, bystander):
        await client.close()


async def test_the_recheck_ends_a_stream_even_without_a_directory_notice(
    replicas: tuple[int, int], runtime: Runtime, tenants: TenantFactory
) -> None:
    tenant = await tenants.create(senior="engineer")
    senior = tenant["senior"]
    client = await SSEClient.connect(replicas[0], senior.token)
    assert (await client.next_frame()).event == "ready"
    # Changed behind the API's back (no outbox row, so no notice): the periodic re-check still sees it.
    async with unit_of_work(runtime.sessionmaker) as db:
        await db.execute(update(User).where(User.id == senior.id).values(active=False))
    took = await _ended_within(client, 5)
    print(f"\nre-check ended the stream {took * 1000:.0f} ms after the row changed")
    await client.close()


async def test_a_stream_ends_at_the_tokens_expiry(replicas: tuple[int, int], tenants: TenantFactory) -> None:
    tenant = await tenants.create(senior="engineer")
    senior = tenant["senior"]
    short = tenants.actor(senior.id, tenant.account_id, "engineer", senior.name, ttl=timedelta(seconds=2))
    client = await SSEClient.connect(replicas[0], short.token)
    assert client.status == 200
    assert (await client.next_frame()).event == "ready"
    took = await _ended_within(client, 6)
    assert took > 0.5  # it was open until the expiry, not refused outright
    await client.close()


async def test_one_user_holds_a_bounded_number_of_streams(replicas: tuple[int, int], tenants: TenantFactory) -> None:
    tenant = await tenants.create(senior="engineer")
    senior = tenant["senior"]
    held = await asyncio.gather(*(SSEClient.connect(replicas[0], senior.token) for _ in range(5)))
    statuses = sorted(c.status for c in held)
    assert statuses == [200, 200, 200, 429, 429]
    refused = next(c for c in held if c.status == 429)
    body = msgspec.json.decode(await refused.body())
    assert body["code"] == "rate_limited"
    assert int(refused.headers["retry-after"]) >= 1
    # The limit is per replica: the other one still takes a stream.
    elsewhere = await SSEClient.connect(replicas[1], senior.token)
    assert elsewhere.status == 200
    # Closing one frees its place.
    for client in [c for c in held if c.status == 200][:1]:
        await client.close()

    async def a_place() -> SSEClient | None:
        client = await SSEClient.connect(replicas[0], senior.token)
        if client.status == 200:
            return client
        await client.close()  # a 429 until the replica has noticed the closed stream
        return None

    again = await eventually(a_place, 10, "the closed stream's place to be free")
    for client in [*held, elsewhere, again]:
        await client.close()


async def test_mutating_calls_are_rate_limited_per_user_across_replicas(
    runtime: Runtime, tenants: TenantFactory
) -> None:
    settings = msgspec.structs.replace(runtime.settings, rate_limit_per_min=4)
    apps = [create_app(settings, runtime=runtime) for _ in range(2)]
    async with (
        httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[0]), base_url="http://a.test") as a,
        httpx.AsyncClient(transport=httpx.ASGITransport(app=apps[1]), base_url="http://b.test") as b,
    ):
        tenant = await TenantFactory(a, settings.jwt_secret).create(junior="engineer", other="engineer")
        junior, other = tenant["junior"], tenant["other"]
        headers = junior.headers
        body = {"title": "Outlook keeps asking for a password"}
        statuses = []
        for http in (a, b, a, b, a):
            statuses.append((await http.post("/api/v1/ai-sessions", json=body, headers=headers)).status_code)
        limited = await b.post("/api/v1/ai-sessions", json=body, headers=headers)
        if runtime.settings.redis_url:
            assert statuses == [201, 201, 201, 201, 429]  # counted together over both replicas
        else:
            assert statuses[:2] == [201, 201]  # embedded: one process, counted in memory
        assert limited.status_code == 429
        error = limited.json()
        assert error["code"] == "rate_limited"
        assert error["retry_after_s"] >= 1
        assert int(limited.headers["retry-after"]) == error["retry_after_s"]
        # Reads are not limited, nor other users, nor the main application.
        assert (await a.get("/api/v1/ai-sessions", headers=headers)).status_code == 200
        assert (await a.post("/api/v1/ai-sessions", json=body, headers=other.headers)).status_code == 201
        for _ in range(6):
            path = f"/api/v1/accounts/{tenant.account_id}/users/{other.id}"
            response = await a.put(path, json=PERSON, headers=tenant.service.headers)
            assert response.status_code == 200


async def test_the_dashboard_sends_security_headers(client: httpx.AsyncClient) -> None:
    for path in ("/", "/dashboard/app.js", "/dashboard/style.css"):
        response = await client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy
        assert "style-src 'self'" in policy
        assert "frame-ancestors 'none'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "no-referrer"
    page = await client.get("/")
    assert page.headers["content-type"] == "text/html; charset=utf-8"


async def test_the_service_worker_is_served_at_the_root_as_a_fresh_script(client: httpx.AsyncClient) -> None:
    # At `/` its scope holds the dashboard page; a browser takes a worker only as JavaScript, and must not keep
    # an old one from its cache.
    worker = await client.get("/sw.js")
    assert worker.status_code == 200
    assert worker.headers["content-type"] == "text/javascript; charset=utf-8"
    assert worker.headers["cache-control"] == "no-cache"
    assert "worker-src 'self'" in worker.headers["content-security-policy"]
    assert worker.headers["x-content-type-options"] == "nosniff"
    assert "notificationclick" in worker.text
    assert "worker-src 'self'" in (await client.get("/")).headers["content-security-policy"]


async def test_a_parks_note_reaches_no_one_but_its_engineer(tenants: TenantFactory) -> None:
    tenant = await tenants.create(junior="engineer", senior="engineer", viewer="viewer")
    junior = tenant["junior"]
    session = await junior.new_session("Renewal of the SSL certificate")
    park = await junior.post(
        f"/api/v1/ai-sessions/{session['id']}/handoff", json={"intent": "park", "note": "PRIVATE: ask Sam for a raise"}
    )
    assert park.status_code == 201
    assert (await junior.post(f"/api/v1/handoffs/{park.json()['id']}/resume")).status_code == 200
    for reader in (tenant["viewer"], tenant["senior"]):
        for path in (f"/api/v1/ai-sessions/{session['id']}", f"/api/v1/handoffs/{park.json()['id']}"):
            response = await reader.get(path)
            assert "PRIVATE" not in response.text, (reader.name, path)
    listing = await junior.get("/api/v1/ai-sessions")
    assert "PRIVATE" not in listing.text
    own = await junior.get(f"/api/v1/handoffs/{park.json()['id']}")
    assert own.json()["note"] == "PRIVATE: ask Sam for a raise"  # the engineer still reads their own note


async def test_the_session_list_counts_each_sessions_own_messages(tenants: TenantFactory) -> None:
    tenant = await tenants.create(junior="engineer", other="engineer")
    junior, other = tenant["junior"], tenant["other"]
    message = {"role": "engineer", "content": "tried it"}
    await other.new_session("not mine", messages=[message] * 7)
    mine = [await junior.new_session(f"mine {n}", messages=[message] * n) for n in (0, 1, 3)]
    page = (await junior.get("/api/v1/ai-sessions", params={"limit": 2})).json()
    counts = {item["id"]: item["message_count"] for item in page["items"]}
    assert counts == {mine[2]["id"]: 3, mine[1]["id"]: 1}
    rest = (await junior.get("/api/v1/ai-sessions", params={"cursor": page["next_cursor"]})).json()
    assert [(i["id"], i["message_count"]) for i in rest["items"]] == [(mine[0]["id"], 0)]
