"""An owner tries to aim the service at its own network: no target outside the allow-list receives a request."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from services.handoff_api.app import create_app
from services.notifier.psa.base import PSAError, PSANote
from services.notifier.psa.webhook import WebhookAdapter
from services.notifier.service import PushToPSA
from shared.bootstrap import Runtime
from shared.integrations.crypto import SecretBox
from shared.integrations.outbound import OutboundClients, OutboundPolicy, Resolver, outbound_client
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
    response = await tenant["senior"].get(f"/api/v1/handoffs/{handoff_id}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json())


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
    note = PSANote(ticket_ref="", text="Escalated", idempotency_key="handoff:pinned", payload={"type": "test"})
    try:
        async with outbound_client(policy, verify=certificate.client_context()) as http:
            result = await WebhookAdapter().post_note(http, receiver.connection(), note)
        assert result.already_posted is False
        assert len(receiver.stored()) == 1
        assert seen == ["psa.pinned.example"]
        assert checked == ["psa.pinned.example"]

        # A certificate for another name fails, although the address is allowed: TLS checks the host name.
        other = self_signed("someone-else.example")
        async with outbound_client(policy, verify=other.client_context()) as http:
            with pytest.raises(PSAError) as caught:
                await WebhookAdapter().post_note(http, receiver.connection(), note)
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
        [row] = response.json()
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
        note = PSANote(ticket_ref="", text="x", idempotency_key="handoff:http", payload={})
        connection = server.connection()
        async with outbound_client(OutboundPolicy(["127.0.0.0/8"])) as http:
            await WebhookAdapter().post_note(http, connection, note)
        async with outbound_client(OutboundPolicy()) as http:
            with pytest.raises(PSAError) as caught:
                await WebhookAdapter().post_note(http, connection, note)
        assert "unsafe target" in str(caught.value)
        assert len(server.requests) == 1
    finally:
        await server.stop()
