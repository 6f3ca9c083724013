"""An owner tries to aim the service at its own network: no target outside the allow-list receives a request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from services.handoff_api.app import create_app
from services.notifier.channels.base import Notice
from services.notifier.channels.webhook import WebhookChannel
from services.notifier.psa.base import PSAError
from services.notifier.service import PushToPSA
from shared.bootstrap import Runtime
from shared.crypto import SecretBox
from shared.outbound.guard import OutboundClients, OutboundPolicy, Resolver, outbound_client
from tests.conftest import JWT_SECRET
from tests.support.certs import self_signed
from tests.support.psa_servers import FakeConnectWise, FakeHaloPSA, FakeWebhookReceiver
from tests.support.tenants import Tenant, TenantFactory

PUBLIC_URL = "https://handoff.example.test"
PUBLIC_ADDRESS = "93.184.215.14"


def strict_api(runtime: Runtime, outbound: OutboundPolicy | None = None) -> httpx.AsyncClient:
    """The API as deployed without an allow-list: only public https targets may be saved."""
    settings = msgspec.structs.replace(runtime.settings, outbound_allow="")
    app = create_app(settings, runtime=runtime, outbound=outbound)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://api.test")


@pytest.fixture
async def strict(runtime: Runtime) -> AsyncIterator[TenantFactory]:
    async with strict_api(runtime) as http:
        yield TenantFactory(http, JWT_SECRET)


@pytest.fixture
async def connectwise() -> AsyncIterator[FakeConnectWise]:
    server = FakeConnectWise({8812})
    await server.start()
    yield server
    await server.stop()


async def put_psa(tenant: Tenant, actor: str, body: dict[str, Any]) -> httpx.Response:
    return await tenant[actor].request("PUT", f"/api/v1/accounts/{tenant.account_id}/psa", json=body)


async def push(runtime: Runtime, handoff_id: str, policy: OutboundPolicy) -> str:
    """The notifier's PSA push, with `policy` as its global allow-list."""
    async with OutboundClients(policy, timeout=3) as outbound:
        job = PushToPSA(runtime.sessionmaker, SecretBox(runtime.settings.secret_key), outbound, public_url=PUBLIC_URL)
        return await job({"handoff_id": handoff_id})


async def deliveries(tenant: Tenant, handoff_id: str) -> list[dict[str, Any]]:
    """The handoff's PSA/webhook rows: the email rows its step 0 pages with are not this file's subject."""
    response = await tenant["senior"].get(f"/api/v1/handoffs/{handoff_id}/deliveries")
    assert response.status_code == 200, response.text
    return [row for row in response.json() if row["channel"] != "email"]


async def test_an_owner_cannot_save_a_target_inside_the_network(
    strict: TenantFactory, connectwise: FakeConnectWise
) -> None:
    tenant = await strict.create(owner="owner", senior="engineer")
    port = connectwise.port
    path = FakeConnectWise.PREFIX
    attacks = [
        f"http://127.0.0.1:{port}{path}",
        f"https://127.0.0.1:{port}{path}",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "https://169.254.169.254/latest/meta-data/",
        f"https://[::ffff:127.0.0.1]:{port}{path}",
        f"https://[::1]:{port}{path}",
        f"https://2130706433:{port}{path}",
        f"https://0x7f.1:{port}{path}",
        f"https://0177.0.0.1:{port}{path}",
        f"https://0.0.0.0:{port}{path}",
        f"https://localhost:{port}{path}",
        "https://postgres:5432/",
        "https://redis:6379/",
        "https://mailpit:8025/api/v1/messages",
        "https://api:8000/api/v1/",
        "https://10.0.0.12/v4_6_release/apis/3.0",
        "https://[fd00:ec2::254]/latest/meta-data/",
    ]
    for base_url in attacks:
        body = {"provider": "connectwise", "base_url": base_url, "credentials": connectwise.credentials}
        answer = await put_psa(tenant, "owner", body)
        assert answer.status_code == 400, (base_url, answer.text)
        assert answer.json()["code"] == "unsafe_target"
        assert answer.json()["field"] == "base_url"
        assert "base_url" in answer.json()["detail"]
    assert (await tenant["owner"].get(f"/api/v1/accounts/{tenant.account_id}/psa")).status_code == 404
    assert connectwise.requests == []

    public = {
        "provider": "connectwise",
        "base_url": f"https://{PUBLIC_ADDRESS}{path}",
        "credentials": connectwise.credentials,
    }
    assert (await put_psa(tenant, "owner", public)).status_code == 200


async def test_halopsa_credentials_cannot_be_sent_to_an_internal_token_endpoint(
    strict: TenantFactory, runtime: Runtime
) -> None:
    halo = FakeHaloPSA({8812})
    await halo.start()
    try:
        tenant = await strict.create(owner="owner", senior="engineer")
        connection = halo.connection()
        body = {"provider": "halopsa", "base_url": f"https://{PUBLIC_ADDRESS}/", "credentials": connection.credentials}
        answer = await put_psa(tenant, "owner", body)
        assert answer.status_code == 400
        assert (answer.json()["code"], answer.json()["field"]) == ("unsafe_target", "auth_url")
        assert halo.requests == []
    finally:
        await halo.stop()


async def test_a_target_saved_while_allowed_is_refused_at_send_and_gets_nothing(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    """The allow-list let loopback in when it was saved; the worker's policy no longer does: nothing is sent."""
    halo = FakeHaloPSA({8812})
    await halo.start()
    try:
        tenant = await tenants.create(owner="owner", junior="engineer", senior="engineer")
        connection = halo.connection()
        body = {"provider": "halopsa", "base_url": connection.base_url, "credentials": connection.credentials}
        assert (await put_psa(tenant, "owner", body)).status_code == 200
        junior = tenant["junior"]
        handoff = await junior.escalate((await junior.new_session("VPN drops", ticket_ref="8812"))["id"])

        assert await push(runtime, handoff["id"], OutboundPolicy()) == "failed"
        [row] = await deliveries(tenant, handoff["id"])
        assert (row["channel"], row["recipient"], row["status"]) == ("psa", "127.0.0.1", "failed")
        assert "unsafe target" in row["last_error"]
        assert halo.requests == []  # neither the client secret nor a token went anywhere
    finally:
        await halo.stop()


def flipping(first: str, then: str) -> tuple[Resolver, list[str]]:
    """A DNS answer that changes after the first query, as a rebinding attacker's name server does."""
    asked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        asked.append(host)
        return [first if len(asked) == 1 else then]

    return resolve, asked


async def test_dns_rebinding_after_the_check_reaches_nothing(runtime: Runtime) -> None:
    receiver = FakeWebhookReceiver()
    receiver.host = "hooks.rebind.example"
    await receiver.start()
    resolver, asked = flipping(PUBLIC_ADDRESS, "127.0.0.1")
    policy = OutboundPolicy(resolver=resolver)
    try:
        async with strict_api(runtime, outbound=policy) as http:
            tenant = await TenantFactory(http, JWT_SECRET).create(owner="owner", junior="engineer", senior="engineer")
            url = f"https://hooks.rebind.example:{receiver.port}/hooks/handoff"
            body = {"provider": "webhook", "base_url": url, "credentials": receiver.credentials}
            assert (await put_psa(tenant, "owner", body)).status_code == 200
            junior = tenant["junior"]
            handoff = await junior.escalate((await junior.new_session("Cert expired"))["id"])

            assert await push(runtime, handoff["id"], policy) == "failed"
            [row] = await deliveries(tenant, handoff["id"])
            assert (row["channel"], row["recipient"], row["status"]) == ("webhook", "hooks.rebind.example", "failed")
            assert "unsafe target" in row["last_error"]
        assert asked == ["hooks.rebind.example", "hooks.rebind.example"]
        assert receiver.requests == []
    finally:
        await receiver.stop()


async def test_the_connection_goes_to_the_checked_address_with_tls_for_the_host_name(tmp_path: Path) -> None:
    """The name is unknown to the system resolver: only the guard's own answer can have been dialled."""
    certificate = self_signed("psa.pinned.example")
    receiver = FakeWebhookReceiver()
    receiver.host = "psa.pinned.example"
    receiver.tls = certificate.server_context(tmp_path)
    seen: list[str | None] = []
    receiver.tls.sni_callback = lambda _socket, name, _context: seen.append(name)  # type: ignore[assignment,misc]
    await receiver.start()
    checked: list[str] = []

    async def resolve(host: str, port: int) -> list[str]:
        checked.append(host)
        return ["127.0.0.1"]

    # The name itself is allowed: an allowed network would not exempt a name that resolves into it.
    policy = OutboundPolicy(["psa.pinned.example"], resolver=resolve)
    note = Notice(ticket_ref="", text="Escalated", idempotency_key="handoff:pinned", event={"type": "test"})
    try:
        async with outbound_client(policy, verify=certificate.client_context()) as http:
            result = await WebhookChannel().send(http, receiver.connection(), note)
        assert result.already_posted is False
        assert len(receiver.stored()) == 1
        assert seen == ["psa.pinned.example"]
        assert checked == ["psa.pinned.example"]

        # A certificate for another name fails, although the address is allowed: TLS checks the host name.
        other = self_signed("someone-else.example")
        async with outbound_client(policy, verify=other.client_context()) as http:
            with pytest.raises(PSAError) as caught:
                await WebhookChannel().send(http, receiver.connection(), note)
        assert "ConnectError" in str(caught.value)
        assert len(receiver.stored()) == 1
    finally:
        await receiver.stop()


async def test_redirects_are_never_followed(tenants: TenantFactory, runtime: Runtime) -> None:
    inside = FakeWebhookReceiver()
    await inside.start()
    bouncer = FakeWebhookReceiver()
    bouncer.redirect_to = f"{inside.origin}/hooks/handoff"
    await bouncer.start()
    try:
        tenant = await tenants.create(owner="owner", junior="engineer", senior="engineer")
        body = {"provider": "webhook", "base_url": bouncer.connection().base_url, "credentials": bouncer.credentials}
        assert (await put_psa(tenant, "owner", body)).status_code == 200
        junior = tenant["junior"]
        handoff = await junior.escalate((await junior.new_session())["id"])
        policy = OutboundPolicy.from_allow_list(runtime.settings.outbound_allow)
        assert await push(runtime, handoff["id"], policy) == "failed"
        [row] = await deliveries(tenant, handoff["id"])
        assert row["status"] == "failed"
        assert row["last_error"] == "webhook: event post answered HTTP 307"
        assert len(bouncer.requests) == 1
        assert inside.requests == []
    finally:
        await bouncer.stop()
        await inside.stop()


async def test_recipients_show_the_host_and_last_error_no_upstream_text(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    receiver = FakeWebhookReceiver()
    await receiver.start()
    try:
        tenant = await tenants.create(owner="owner", junior="engineer", senior="engineer")
        url = f"http://hookuser:hookpass@127.0.0.1:{receiver.port}/hooks/handoff?token=query-secret"
        body = {"provider": "webhook", "base_url": url, "credentials": receiver.credentials}
        assert (await put_psa(tenant, "owner", body)).status_code == 200
        receiver.fail_with = 400
        junior = tenant["junior"]
        handoff = await junior.escalate((await junior.new_session())["id"])
        assert await push(runtime, handoff["id"], OutboundPolicy.from_allow_list("127.0.0.1")) == "failed"

        response = await tenant["senior"].get(f"/api/v1/handoffs/{handoff['id']}/deliveries")
        [row] = [row for row in response.json() if row["channel"] == "webhook"]
        assert row["recipient"] == "127.0.0.1"
        assert row["last_error"] == "webhook: event post answered HTTP 400"
        for secret in ("hookuser", "hookpass", "query-secret", "/hooks", "injected", "upstream-body-text"):
            assert secret not in response.text
    finally:
        await receiver.stop()


async def test_plain_http_is_refused_at_send_unless_allowed(runtime: Runtime) -> None:
    server = FakeWebhookReceiver()
    await server.start()
    try:
        note = Notice(ticket_ref="", text="x", idempotency_key="handoff:http", event={})
        connection = server.connection()
        async with outbound_client(OutboundPolicy(["127.0.0.0/8"])) as http:
            await WebhookChannel().send(http, connection, note)
        async with outbound_client(OutboundPolicy()) as http:
            with pytest.raises(PSAError) as caught:
                await WebhookChannel().send(http, connection, note)
        assert "unsafe target" in str(caught.value)
        assert len(server.requests) == 1
    finally:
        await server.stop()


def allow_path(tenant: Tenant) -> str:
    return f"/api/v1/accounts/{tenant.account_id}/outbound-allow"


async def set_allow(tenant: Tenant, hosts: list[str] | None = None, cidrs: list[str] | None = None) -> None:
    body = {"hosts": hosts or [], "cidrs": cidrs or []}
    answer = await tenant.service.request("PUT", allow_path(tenant), json=body)
    assert answer.status_code == 200, answer.text


async def test_one_tenants_allow_list_lets_its_own_psa_through_and_no_one_elses(
    strict: TenantFactory, runtime: Runtime, connectwise: FakeConnectWise
) -> None:
    """An on-premises PSA on loopback: allowed for tenant A by the main application, still refused for tenant B."""
    a = await strict.create(owner="owner", junior="engineer", senior="engineer")
    b = await strict.create(owner="owner", junior="engineer", senior="engineer")
    await set_allow(a, cidrs=["127.0.0.1/32"])
    connection = connectwise.connection()  # http://127.0.0.1:<port>/...: plain http, to loopback
    body = {"provider": "connectwise", "base_url": connection.base_url, "credentials": connection.credentials}

    assert (await put_psa(a, "owner", body)).status_code == 200
    refused = await put_psa(b, "owner", body)
    assert refused.status_code == 400, refused.text
    assert (refused.json()["code"], refused.json()["field"]) == ("unsafe_target", "base_url")
    assert (await b["owner"].get(f"/api/v1/accounts/{b.account_id}/psa")).status_code == 404

    # B's PSA saved while B's own list allowed it; the main application then takes the exemption back.
    await set_allow(b, cidrs=["127.0.0.0/8"])
    assert (await put_psa(b, "owner", body)).status_code == 200
    await set_allow(b)
    assert (await b["owner"].get(allow_path(b))).json() == {"hosts": [], "cidrs": []}

    handoff_a = await a["junior"].escalate((await a["junior"].new_session("VPN", ticket_ref="8812"))["id"])
    handoff_b = await b["junior"].escalate((await b["junior"].new_session("VPN", ticket_ref="8812"))["id"])
    # One notifier, no global allow-list, both accounts: the check at send knows whose note it is.
    async with OutboundClients(OutboundPolicy(), timeout=3) as outbound:
        job = PushToPSA(runtime.sessionmaker, SecretBox(runtime.settings.secret_key), outbound, public_url=PUBLIC_URL)
        assert await job({"handoff_id": handoff_a["id"]}) == "pushed"
        assert await job({"handoff_id": handoff_b["id"]}) == "failed"  # A's exemption did not rub off on B

    [note] = connectwise.stored()
    assert "Escalated to the senior team" in note["text"]
    assert [row["status"] for row in await deliveries(a, handoff_a["id"])] == ["sent"]
    [row_b] = await deliveries(b, handoff_b["id"])
    assert (row_b["status"], row_b["last_error"]) == ("failed", "connectwise: notes lookup refused: unsafe target")
    assert len(connectwise.requests) == 2  # A's lookup and A's post; nothing of B's ever connected


async def test_a_name_resolving_into_an_allowed_network_is_refused(
    strict: TenantFactory, connectwise: FakeConnectWise
) -> None:
    tenant = await strict.create(owner="owner")
    await set_allow(tenant, cidrs=["127.0.0.1/32"])
    credentials = connectwise.credentials
    for base_url in (
        f"https://localhost:{connectwise.port}/auth",
        f"http://localhost:{connectwise.port}/auth",
        f"https://LOCALHOST.:{connectwise.port}/auth",
    ):
        answer = await put_psa(
            tenant, "owner", {"provider": "connectwise", "base_url": base_url, "credentials": credentials}
        )
        assert answer.status_code == 400, (base_url, answer.text)
        assert answer.json()["code"] == "unsafe_target"
    halo = {
        "provider": "halopsa",
        "base_url": f"https://{PUBLIC_ADDRESS}/",
        "credentials": {
            "auth_url": f"https://localhost:{connectwise.port}/auth",
            "client_id": "c",
            "client_secret": "s",
        },
    }
    answer = await put_psa(tenant, "owner", halo)
    assert (answer.status_code, answer.json()["field"]) == (400, "auth_url")
    assert connectwise.requests == []


async def test_the_global_list_exempts_a_literal_address_only(runtime: Runtime, connectwise: FakeConnectWise) -> None:
    async with strict_api(runtime, outbound=OutboundPolicy(["127.0.0.1/32"])) as http:
        tenant = await TenantFactory(http, JWT_SECRET).create(owner="owner")
        credentials = connectwise.credentials
        by_name = f"https://localhost:{connectwise.port}/auth"
        by_address = f"http://127.0.0.1:{connectwise.port}/auth"
        answer = await put_psa(
            tenant, "owner", {"provider": "connectwise", "base_url": by_name, "credentials": credentials}
        )
        assert (answer.status_code, answer.json()["code"]) == (400, "unsafe_target")
        answer = await put_psa(
            tenant, "owner", {"provider": "connectwise", "base_url": by_address, "credentials": credentials}
        )
        assert answer.status_code == 200, answer.text


async def test_only_the_main_application_sets_an_accounts_allow_list(strict: TenantFactory) -> None:
    tenant = await strict.create(owner="owner", admin="admin", senior="engineer", viewer="viewer")
    other = await strict.create(owner="owner")
    path = allow_path(tenant)
    for reader in ("owner", "admin"):
        answer = await tenant[reader].get(path)
        assert (answer.status_code, answer.json()) == (200, {"hosts": [], "cidrs": []})
    for role in ("senior", "viewer"):
        assert (await tenant[role].get(path)).status_code == 403
    answer = await other["owner"].get(path)
    assert (answer.status_code, answer.json()["code"]) == (404, "not_found")

    wanted = {"hosts": ["psa.corp.example"], "cidrs": ["10.20.0.0/16"]}
    for role in ("owner", "admin", "senior", "viewer"):
        answer = await tenant[role].request("PUT", path, json=wanted)
        assert (answer.status_code, answer.json()["code"]) == (403, "forbidden"), role
    assert (await other["owner"].request("PUT", path, json=wanted)).status_code == 403

    body = {"hosts": ["PSA.Corp.Example.", "psa.corp.example", "[fd00:1::5]", "10.9.8.7"], "cidrs": ["10.20.3.4/16"]}
    answer = await tenant.service.request("PUT", path, json=body)
    expected = {"hosts": ["psa.corp.example", "fd00:1::5", "10.9.8.7"], "cidrs": ["10.20.0.0/16"]}
    assert (answer.status_code, answer.json()) == (200, expected)
    assert (await tenant["owner"].get(path)).json() == expected
    assert (await tenant.service.get(path)).json() == expected
    assert (await other["owner"].get(allow_path(other))).json() == {"hosts": [], "cidrs": []}


BAD_ENTRIES = [
    ({"hosts": [], "cidrs": ["10.0.0.0/8", "fd00:1::/64", "not-a-network"]}, "cidrs[2]"),
    ({"cidrs": ["10.0.0.0/33"]}, "cidrs[0]"),
    ({"hosts": ["https://psa.corp.example"]}, "hosts[0]"),
    ({"hosts": ["psa.corp.example", "psa.corp.example:8443"]}, "hosts[1]"),
    ({"hosts": ["psa.corp.example/api"]}, "hosts[0]"),
    ({"hosts": ["*.corp.example"]}, "hosts[0]"),
    ({"hosts": ["0x7f.1"]}, "hosts[0]"),
    ({"hosts": ["169.254.169.254"]}, "hosts[0]"),
    ({"cidrs": ["169.254.0.0/16"]}, "cidrs[0]"),
    ({"cidrs": ["0.0.0.0/0"]}, "cidrs[0]"),
    ({"cidrs": ["::ffff:0:0/96"]}, "cidrs[0]"),
]
BAD_SHAPES: list[Any] = [
    {"hosts": [f"psa{n}.corp.example" for n in range(21)]},
    {"cidrs": [f"10.{n}.0.0/16" for n in range(21)]},
    {"hosts": "psa.corp.example"},
    {"hosts": [7]},
    {"hosts": [""]},
    ["psa.corp.example"],
]


async def test_a_bad_allow_list_is_refused_naming_the_entry(strict: TenantFactory) -> None:
    tenant = await strict.create(owner="owner")
    for body, field in BAD_ENTRIES:
        answer = await tenant.service.request("PUT", allow_path(tenant), json=body)
        assert answer.status_code == 400, (body, answer.text)
        assert answer.json()["code"] == "validation_error"
        assert answer.json()["detail"].startswith(field), (body, answer.text)
    for body in BAD_SHAPES:
        answer = await tenant.service.request("PUT", allow_path(tenant), json=body)
        assert (answer.status_code, answer.json()["code"]) == (400, "validation_error"), (body, answer.text)
    assert (await tenant["owner"].get(allow_path(tenant))).json() == {"hosts": [], "cidrs": []}


async def test_twenty_of_each_are_accepted(strict: TenantFactory) -> None:
    tenant = await strict.create(owner="owner")
    body = {"hosts": [f"psa{n}.corp.example" for n in range(20)], "cidrs": [f"10.{n}.0.0/16" for n in range(20)]}
    answer = await tenant.service.request("PUT", allow_path(tenant), json=body)
    assert (answer.status_code, answer.json()) == (200, body)


async def test_the_saved_base_url_is_read_back_without_userinfo_or_query(tenants: TenantFactory) -> None:
    tenant = await tenants.create(owner="owner")
    url = "http://hookuser:hookpass@127.0.0.1:9/hooks/handoff?token=query-secret#frag-secret"
    body = {"provider": "webhook", "base_url": url, "credentials": {"signing_secret": "s" * 32}}
    saved = await put_psa(tenant, "owner", body)
    read = await tenant["owner"].get(f"/api/v1/accounts/{tenant.account_id}/psa")
    for answer in (saved, read):
        assert answer.status_code == 200, answer.text
        assert answer.json()["base_url"] == "http://***@127.0.0.1:9/hooks/handoff?***#***"
        for secret in ("hookuser", "hookpass", "query-secret", "frag-secret"):
            assert secret not in answer.text


async def test_the_api_document_lists_the_allow_list_with_its_errors(strict: TenantFactory) -> None:
    document = (await strict.http.get("/schema/openapi.json")).json()
    item = document["paths"]["/api/v1/accounts/{account_id}/outbound-allow"]
    assert set(item["get"]["responses"]) >= {"200", "400", "401", "403", "404"}
    assert set(item["put"]["responses"]) >= {"200", "400", "401", "403"}
