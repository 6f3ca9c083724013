"""PSA adapters and the webhook channel against fake vendors on real loopback sockets: one note per push, never two."""

from __future__ import annotations

import base64
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from services.notifier.channels.base import Notice, Sent
from services.notifier.channels.registry import PROVIDERS, connection_channel
from services.notifier.channels.webhook import WebhookChannel
from services.notifier.psa.autotask import AutotaskAdapter
from services.notifier.psa.base import PSAAdapter, PSAConnection, PSAError, PSANote, marker
from services.notifier.psa.connectwise import ConnectWiseAdapter
from services.notifier.psa.halopsa import REFRESH_MARGIN, HaloPSAAdapter
from services.notifier.psa.registry import adapter_for
from shared.outbound.guard import OutboundPolicy, outbound_client
from tests.conftest import OUTBOUND_ALLOW
from tests.support.psa_servers import (
    FakeAutotask,
    FakeConnectWise,
    FakeHaloPSA,
    FakeWebhookReceiver,
    standard_webhooks_verify,
)

TICKET = 4242
OTHER_TICKET = 77
TICKET_VENDORS = ["connectwise", "autotask", "halopsa"]
ALL_VENDORS = [*TICKET_VENDORS, "webhook"]

LOOPBACK_ALLOWED = OutboundPolicy.from_allow_list(OUTBOUND_ALLOW)

Fake = FakeConnectWise | FakeAutotask | FakeHaloPSA | FakeWebhookReceiver


def make_fake(provider: str) -> Fake:
    tickets = {TICKET, OTHER_TICKET}
    if provider == "connectwise":
        return FakeConnectWise(tickets)
    if provider == "autotask":
        return FakeAutotask(tickets)
    if provider == "halopsa":
        return FakeHaloPSA(tickets)
    return FakeWebhookReceiver()


@pytest.fixture(params=ALL_VENDORS)
async def vendor(request: pytest.FixtureRequest) -> AsyncIterator[Fake]:
    server = make_fake(request.param)
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with outbound_client(LOOPBACK_ALLOWED, timeout=2.0) as client:
        yield client


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


class EventNote(PSANote, kw_only=True):
    """A note, and the event a webhook sends it with."""

    payload: dict[str, Any] = {}


class WebhookAdapter:
    """The webhook channel, given a note as PSA adapters are, so every vendor is tried alike."""

    provider = "webhook"

    def __init__(self, clock: Any = time.time) -> None:
        self.channel = WebhookChannel(clock)

    async def post_note(self, http: httpx.AsyncClient, connection: PSAConnection, note: PSANote) -> Sent:
        event = note.payload if isinstance(note, EventNote) else {}
        notice = Notice(ticket_ref=note.ticket_ref, text=note.text, idempotency_key=note.idempotency_key, event=event)
        return await self.channel.send(http, connection, notice)


def sender_for(provider: str) -> PSAAdapter:
    return WebhookAdapter() if provider == "webhook" else adapter_for(provider)


def a_note(key: str = "handoff:0192f1c2-aaaa-7bbb-8ccc-0123456789ab", ticket_ref: str = str(TICKET)) -> EventNote:
    text = f"Escalated: VPN drops every 5 minutes at the Leeds office.\nTried: rebuilt the tunnel.\n{marker(key)}"
    return EventNote(
        ticket_ref=ticket_ref,
        text=text,
        idempotency_key=key,
        payload={"event": "handoff.escalated", "handoff_id": key.removeprefix("handoff:"), "priority": "high"},
    )


def secrets_of(server: Fake, connection: PSAConnection) -> list[str]:
    """Every value that must never surface: the credentials sent, the fake's own, and what derives from them."""
    creds = {**server.credentials, **connection.credentials}
    exposed = [
        str(creds[name]) for name in ("private_key", "public_key", "client_id", "client_secret") if name in creds
    ]
    exposed += [str(creds[name]) for name in ("integration_code", "secret", "signing_secret") if name in creds]
    if isinstance(server, FakeConnectWise):
        for private in {server.credentials["private_key"], connection.credentials["private_key"]}:
            basic = f"{creds['company_id']}+{creds['public_key']}:{private}"
            exposed.append(base64.b64encode(basic.encode()).decode())
    if isinstance(server, FakeHaloPSA):
        exposed += server.issued
    return [value for value in exposed if value]


def assert_nothing_secret(server: Fake, connection: PSAConnection, error: BaseException, logs: Any) -> None:
    shown = "\n".join([str(error), repr(error), logs.text, *(record.getMessage() for record in logs.records)])
    for secret in secrets_of(server, connection):
        assert secret not in shown


def wrong_credentials(server: Fake) -> dict[str, str]:
    if isinstance(server, FakeConnectWise):
        return {"private_key": "cw-private-WRONG-0000"}
    if isinstance(server, FakeAutotask):
        return {"secret": "at-secret-WRONG-0000"}
    if isinstance(server, FakeHaloPSA):
        return {"client_secret": "halo-secret-WRONG-0000"}
    return {"signing_secret": "whsec-WRONG-0000"}


def stored_text(server: Fake, item: dict[str, Any]) -> str:
    field = {FakeConnectWise: "text", FakeAutotask: "description", FakeHaloPSA: "note"}.get(type(server), "text")
    return str(item[field])


@pytest.mark.parametrize("trailing_slash", [False, True])
async def test_first_push_posts_one_note_and_a_retry_posts_none(
    vendor: Fake, http: httpx.AsyncClient, trailing_slash: bool
) -> None:
    connection = vendor.connection(trailing_slash=trailing_slash)
    adapter = sender_for(connection.provider)
    note = a_note()

    first = await adapter.post_note(http, connection, note)
    assert first.already_posted is False
    assert first.external_id
    [stored] = vendor.stored()
    assert marker(note.idempotency_key) in stored_text(vendor, stored)

    retried = await adapter.post_note(http, connection, note)
    assert retried.already_posted is True
    assert len(vendor.stored()) == 1
    if not isinstance(vendor, FakeWebhookReceiver):
        assert retried.external_id == first.external_id

    # Another handoff on the same ticket is a note of its own.
    other = await adapter.post_note(http, connection, a_note("handoff:0192f1c2-bbbb-7bbb-8ccc-0123456789ab"))
    assert other.already_posted is False
    assert len(vendor.stored()) == 2


async def test_a_note_without_its_marker_gets_one(vendor: Fake, http: httpx.AsyncClient) -> None:
    connection = vendor.connection()
    adapter = sender_for(connection.provider)
    note = a_note()
    bare = PSANote(ticket_ref=note.ticket_ref, text="Escalated, no marker yet", idempotency_key=note.idempotency_key)

    await adapter.post_note(http, connection, bare)
    assert (await adapter.post_note(http, connection, bare)).already_posted is True
    [stored] = vendor.stored()
    assert stored_text(vendor, stored).endswith(marker(note.idempotency_key))


@pytest.mark.parametrize("vendor", TICKET_VENDORS, indirect=True)
async def test_ticket_refs_may_start_with_a_hash(vendor: Fake, http: httpx.AsyncClient) -> None:
    connection = vendor.connection()
    await sender_for(connection.provider).post_note(http, connection, a_note(ticket_ref=f" #{TICKET}"))
    assert len(vendor.stored()) == 1


@pytest.mark.parametrize("vendor", TICKET_VENDORS, indirect=True)
@pytest.mark.parametrize("ticket_ref", ["T20240101.0001", "#", "", "12a", "١٢"])
async def test_a_non_numeric_ticket_ref_fails_before_any_request(
    vendor: Fake, http: httpx.AsyncClient, ticket_ref: str
) -> None:
    connection = vendor.connection()
    with pytest.raises(PSAError) as caught:
        await sender_for(connection.provider).post_note(http, connection, a_note(ticket_ref=ticket_ref))
    assert caught.value.transient is False
    assert vendor.requests == []


@pytest.mark.parametrize("vendor", TICKET_VENDORS, indirect=True)
async def test_an_unknown_ticket_is_not_transient(vendor: Fake, http: httpx.AsyncClient, logs: Any) -> None:
    connection = vendor.connection()
    with pytest.raises(PSAError) as caught:
        await sender_for(connection.provider).post_note(http, connection, a_note(ticket_ref="999"))
    assert caught.value.transient is False
    assert "404" in str(caught.value)
    assert_nothing_secret(vendor, connection, caught.value, logs)


@pytest.mark.parametrize(
    ("status", "transient"), [(429, True), (500, True), (503, True), (400, False), (403, False), (422, False)]
)
async def test_error_statuses_are_classified(
    vendor: Fake, http: httpx.AsyncClient, logs: Any, status: int, transient: bool
) -> None:
    vendor.fail_with = status
    connection = vendor.connection()
    with pytest.raises(PSAError) as caught:
        await sender_for(connection.provider).post_note(http, connection, a_note())
    assert caught.value.transient is transient
    assert str(status) in str(caught.value)
    assert vendor.stored() == []
    assert_nothing_secret(vendor, connection, caught.value, logs)


async def test_bad_credentials_answer_401_and_are_not_transient(
    vendor: Fake, http: httpx.AsyncClient, logs: Any
) -> None:
    connection = vendor.connection(**wrong_credentials(vendor))
    with pytest.raises(PSAError) as caught:
        await sender_for(connection.provider).post_note(http, connection, a_note())
    assert caught.value.transient is False
    assert "401" in str(caught.value)
    assert vendor.stored() == []
    assert_nothing_secret(vendor, connection, caught.value, logs)


async def test_a_vendor_that_hangs_past_the_timeout_is_transient(vendor: Fake, logs: Any) -> None:
    vendor.hang = True
    connection = vendor.connection()
    started = time.monotonic()
    async with outbound_client(LOOPBACK_ALLOWED, timeout=0.3) as http:
        with pytest.raises(PSAError) as caught:
            await sender_for(connection.provider).post_note(http, connection, a_note())
    assert caught.value.transient is True
    assert "timed out" in str(caught.value)
    print(f"\nhanging vendor given up after {time.monotonic() - started:.2f} s (client timeout 0.3 s)")
    assert_nothing_secret(vendor, connection, caught.value, logs)


async def test_a_vendor_that_is_down_is_transient(vendor: Fake, http: httpx.AsyncClient, logs: Any) -> None:
    connection = vendor.connection()
    await vendor.stop()  # nothing listens on the port any more
    with pytest.raises(PSAError) as caught:
        await sender_for(connection.provider).post_note(http, connection, a_note())
    assert caught.value.transient is True
    assert_nothing_secret(vendor, connection, caught.value, logs)


async def test_a_missing_credential_is_named_not_shown(vendor: Fake, http: httpx.AsyncClient) -> None:
    connection = vendor.connection()
    name = next(iter(wrong_credentials(vendor)))
    del connection.credentials[name]
    with pytest.raises(PSAError) as caught:
        await sender_for(connection.provider).post_note(http, connection, a_note())
    assert caught.value.transient is False
    assert name in str(caught.value)
    assert vendor.requests == []


@pytest.mark.parametrize("vendor", ["halopsa"], indirect=True)
async def test_halo_token_is_reused_until_shortly_before_it_expires(vendor: Fake, http: httpx.AsyncClient) -> None:
    assert isinstance(vendor, FakeHaloPSA)
    now = [1000.0]
    adapter = HaloPSAAdapter(clock=lambda: now[0])
    connection = vendor.connection()

    await adapter.post_note(http, connection, a_note("handoff:one"))
    await adapter.post_note(http, connection, a_note("handoff:two", ticket_ref=str(OTHER_TICKET)))
    assert len(vendor.issued) == 1

    now[0] += vendor.expires_in - REFRESH_MARGIN / 2  # inside the margin: fetch a new one before it lapses
    await adapter.post_note(http, connection, a_note("handoff:three"))
    assert len(vendor.issued) == 2
    token_requests = [r for r in vendor.requests if r.path == "/auth/token"]
    assert len(token_requests) == 2


@pytest.mark.parametrize("vendor", ["halopsa"], indirect=True)
async def test_halo_revoked_token_is_replaced_once(vendor: Fake, http: httpx.AsyncClient) -> None:
    assert isinstance(vendor, FakeHaloPSA)
    adapter = HaloPSAAdapter()
    connection = vendor.connection()
    await adapter.post_note(http, connection, a_note("handoff:one"))
    vendor.revoke_tokens()

    result = await adapter.post_note(http, connection, a_note("handoff:two"))
    assert result.already_posted is False
    assert len(vendor.issued) == 2
    assert len(vendor.stored()) == 2


@pytest.mark.parametrize("vendor", ["halopsa"], indirect=True)
async def test_halo_accepts_the_authorisation_server_url(vendor: Fake, http: httpx.AsyncClient) -> None:
    assert isinstance(vendor, FakeHaloPSA)
    connection = vendor.connection(auth_path="/auth/")
    await HaloPSAAdapter().post_note(http, connection, a_note())
    assert len(vendor.stored()) == 1


@pytest.mark.parametrize("vendor", ["webhook"], indirect=True)
async def test_webhook_sends_the_payload_signed_with_its_key(vendor: Fake, http: httpx.AsyncClient) -> None:
    note = a_note()
    await WebhookAdapter().post_note(http, vendor.connection(), note)

    [request] = vendor.requests
    assert request.headers["idempotency-key"] == note.idempotency_key
    assert request.headers["x-handoff-signature"].startswith("sha256=")
    assert request.json() == {**note.payload, "ticket_ref": note.ticket_ref, "text": note.text}


@pytest.mark.parametrize("vendor", ["autotask"], indirect=True)
async def test_autotask_cuts_a_long_note_but_keeps_its_marker(vendor: Fake, http: httpx.AsyncClient) -> None:
    note = a_note()
    long = PSANote(
        ticket_ref=note.ticket_ref, text="x" * 40_000 + "\n" + note.text, idempotency_key=note.idempotency_key
    )
    await AutotaskAdapter().post_note(http, vendor.connection(), long)
    assert (await AutotaskAdapter().post_note(http, vendor.connection(), long)).already_posted is True
    [stored] = vendor.stored()
    assert len(stored["description"]) <= 32000
    assert stored["description"].endswith(marker(note.idempotency_key))


async def test_registry_knows_every_provider_and_refuses_others() -> None:
    assert set(ALL_VENDORS) == PROVIDERS
    kinds = {
        "connectwise": ConnectWiseAdapter,
        "autotask": AutotaskAdapter,
        "halopsa": HaloPSAAdapter,
        "webhook": WebhookChannel,
    }
    for provider, kind in kinds.items():
        adapter = connection_channel(provider) if provider == "webhook" else adapter_for(provider)
        assert isinstance(adapter, kind)
        assert adapter.provider == provider
    with pytest.raises(PSAError) as caught:
        adapter_for("kaseya-bms")
    assert caught.value.transient is False
    assert marker("handoff:abc") == "[handoff-ref:handoff:abc]"


STANDARD_SECRET = "whsec_" + base64.b64encode(b"\x01\x02standard-webhooks-key-32-bytes!!").decode()


@pytest.mark.parametrize("secret", [STANDARD_SECRET, "a plain shared secret"])
async def test_webhook_carries_standard_webhooks_headers_that_verify(http: httpx.AsyncClient, secret: str) -> None:
    receiver = FakeWebhookReceiver(signing_secret=secret)
    await receiver.start()
    try:
        note = a_note()
        await WebhookAdapter(clock=time.time).post_note(http, receiver.connection(), note)
        [request] = receiver.requests
        assert request.headers["webhook-id"] == note.idempotency_key
        assert request.headers["webhook-timestamp"] == request.headers["x-handoff-timestamp"]
        assert request.headers["webhook-signature"].startswith("v1,")
        assert standard_webhooks_verify(secret, request.headers, request.body)
        assert not standard_webhooks_verify(
            "whsec_" + base64.b64encode(b"another key").decode(), request.headers, request.body
        )
        assert len(receiver.stored()) == 1
    finally:
        await receiver.stop()


async def test_every_signing_secret_signs_so_a_receiver_can_rotate(http: httpx.AsyncClient) -> None:
    old, new = "whsec_" + base64.b64encode(b"old-key-old-key-old-key").decode(), "a new plain secret"
    receiver = FakeWebhookReceiver(signing_secret=old)  # it still knows only the old secret
    await receiver.start()
    try:
        await WebhookAdapter().post_note(http, receiver.connection(signing_secret=[new, old]), a_note())
        [request] = receiver.requests
        assert len(request.headers["webhook-signature"].split(" ")) == 2
        assert len(request.headers["x-handoff-signature"].split(" ")) == 2
        assert standard_webhooks_verify(new, request.headers, request.body)
        assert standard_webhooks_verify(old, request.headers, request.body)
        assert len(receiver.stored()) == 1  # accepted: the old secret's signatures verify
    finally:
        await receiver.stop()


@pytest.mark.parametrize("bad", [[], [""], ["ok", 7], "", None])
async def test_a_webhook_without_a_usable_secret_sends_nothing(http: httpx.AsyncClient, bad: Any) -> None:
    receiver = FakeWebhookReceiver()
    await receiver.start()
    try:
        with pytest.raises(PSAError) as caught:
            await WebhookAdapter().post_note(http, receiver.connection(signing_secret=bad), a_note())
        assert caught.value.transient is False
        assert receiver.requests == []
    finally:
        await receiver.stop()
