"""Email fan-out and PSA notes against a real SMTP server and vendor-speaking HTTP servers."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest
from sqlalchemy import text

from services.assessor.providers.heuristic import HeuristicProvider
from services.assessor.service import AssessHandoff
from services.notifier.mailers import MailDropMailer
from services.notifier.service import NotifyHandoff, PushToPSA, RetryLater
from shared.bootstrap import Runtime
from shared.crypto import SecretBox
from shared.outbound.guard import OutboundClients, OutboundPolicy
from tests.support.email_jobs import PUBLIC_URL, deliveries, email_job
from tests.support.events import wait_for_events
from tests.support.psa_servers import FakeConnectWise, FakeWebhookReceiver
from tests.support.smtp import MailCatcher, SMTPServer
from tests.support.tenants import Actor, Tenant, TenantFactory


def outbound_http(runtime: Runtime) -> OutboundClients:
    """The notifier's own guarded clients, under the runtime's allow-list (loopback for the fake vendors)."""
    return OutboundClients(OutboundPolicy.from_allow_list(runtime.settings.outbound_allow), timeout=5)


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


def notifier(runtime: Runtime, port: int) -> NotifyHandoff:
    return email_job(runtime, port, timeout_s=2)


async def team(tenants: TenantFactory) -> Tenant:
    """An escalator, three seniors of each senior role, and the people who must never be emailed."""
    tenant = await tenants.create(junior="engineer", sam="engineer", riley="admin", olivia="owner", val="viewer")
    await tenants.add_user(tenant, "idle", "engineer", active=False)
    gone = await tenants.add_user(tenant, "gone", "engineer")
    await tenant.service.request("DELETE", f"/api/v1/accounts/{tenant.account_id}/users/{gone.id}")
    return tenant


async def email_of(actor: Actor) -> str:
    return f"{actor.name.split()[0].lower()}-{str(actor.id)[:8]}@msp.test"


async def test_every_eligible_senior_gets_exactly_one_email(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer
) -> None:
    tenant = await team(tenants)
    junior = tenant["junior"]
    session = await junior.new_session("Backups failing on FS01", ticket_ref="8812")
    handoff = await junior.escalate(session["id"], note="Veeam job fails with VSS error", urgency="high")
    await AssessHandoff(runtime.sessionmaker, HeuristicProvider())({"handoff_id": handoff["id"]})

    job = notifier(runtime, smtp.port)
    assert await job({"handoff_id": handoff["id"]}) == "3 emails handled"
    assert await job({"handoff_id": handoff["id"]}) == "0 emails handled"  # a retried job sends nothing again

    received = smtp.catcher.received
    expected = {await email_of(tenant[k]) for k in ("sam", "riley", "olivia")}
    assert sorted(r.to for r in received) == sorted(expected)
    mail = received[0]
    assert mail.message["Subject"] == f"[HIGH] Escalation: Backups failing on FS01 (from {junior.name})"
    assert "Veeam job fails with VSS error" in mail.text()
    assert f"{PUBLIC_URL}/#/handoffs/{handoff['id']}" in mail.text()
    assert "AI assessment:" in mail.text()
    assert "<h3>AI assessment</h3>" in mail.html()

    rows = await deliveries(tenant["sam"], handoff["id"])
    assert sorted(r["recipient"] for r in rows) == sorted(expected)
    assert {(r["channel"], r["status"], r["attempts"], r["last_error"]) for r in rows} == {("email", "sent", 1, None)}
    assert all(r["sent_at"].endswith("Z") for r in rows)
    assert (await tenant["val"].get(f"/api/v1/handoffs/{handoff['id']}/deliveries")).status_code == 403


async def test_smtp_down_then_up_sends_each_email_once(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await team(tenants)
    junior = tenant["junior"]
    handoff = await junior.escalate((await junior.new_session())["id"])
    server = SMTPServer()  # not started: nothing listens on its port
    job = notifier(runtime, server.port)

    with pytest.raises(RetryLater):
        await job({"handoff_id": handoff["id"]})
    rows = await deliveries(tenant["sam"], handoff["id"])
    assert {(r["status"], r["attempts"]) for r in rows} == {("pending", 1)}
    assert all("SMTP unavailable" in r["last_error"] for r in rows)

    server.start()
    try:
        assert await job({"handoff_id": handoff["id"]}) == "3 emails handled"
        assert await job({"handoff_id": handoff["id"]}) == "0 emails handled"
    finally:
        server.stop()
    assert len(server.catcher.received) == 3
    assert len({r.to for r in server.catcher.received}) == 3
    rows = await deliveries(tenant["sam"], handoff["id"])
    assert {(r["status"], r["attempts"], r["last_error"]) for r in rows} == {("sent", 2, None)}


async def test_a_mailer_error_of_no_known_kind_ends_each_row_failed_not_in_endless_retries(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await team(tenants)
    junior = tenant["junior"]
    handoff = await junior.escalate((await junior.new_session())["id"])
    job = notifier(runtime, 70000)  # a port no socket can have: the mailer fails in a way it does not classify

    assert await job({"handoff_id": handoff["id"]}) == "3 emails handled"
    assert await job({"handoff_id": handoff["id"]}) == "0 emails handled"
    rows = await deliveries(tenant["sam"], handoff["id"])
    assert {(r["status"], r["attempts"], r["last_error"]) for r in rows} == {
        ("failed", 1, "the email could not be sent (OverflowError)")
    }


async def test_a_permanent_refusal_fails_one_row_and_spares_the_rest(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await team(tenants)
    junior = tenant["junior"]
    handoff = await junior.escalate((await junior.new_session())["id"])
    refused = await email_of(tenant["riley"])
    server = SMTPServer(MailCatcher(refuse={refused: "550 5.1.1 no such mailbox"}))
    server.start()
    try:
        assert await notifier(runtime, server.port)({"handoff_id": handoff["id"]}) == "3 emails handled"
    finally:
        server.stop()
    rows = {r["recipient"]: r for r in await deliveries(tenant["sam"], handoff["id"])}
    assert rows[refused]["status"] == "failed"
    assert "550" in rows[refused]["last_error"]
    assert sorted(r["status"] for r in rows.values()) == ["failed", "sent", "sent"]


async def test_without_smtp_the_mail_is_written_to_files(
    tenants: TenantFactory, runtime: Runtime, tmp_path: Path
) -> None:
    tenant = await team(tenants)
    junior = tenant["junior"]
    handoff = await junior.escalate((await junior.new_session("Printer jam"))["id"])
    job = NotifyHandoff(
        runtime.sessionmaker, MailDropMailer(tmp_path), public_url=PUBLIC_URL, sender="h@msp.test", assessment_wait_s=0
    )
    assert await job({"handoff_id": handoff["id"]}) == "3 emails handled"
    files = sorted((tmp_path / handoff["id"]).glob("*.eml"))
    assert len(files) == 3
    assert b"Subject: [NORMAL] Escalation: Printer jam" in files[0].read_bytes()


async def put_psa(tenant: Tenant, body: dict[str, Any]) -> httpx.Response:
    return await tenant.service.request("PUT", f"/api/v1/accounts/{tenant.account_id}/psa", json=body)


async def test_psa_connection_is_stored_sealed_and_never_returned(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create(owner="owner", senior="engineer")
    secret = "cw-private-" + uuid.uuid4().hex
    body = {
        "provider": "connectwise",
        "base_url": "https://93.184.215.14/v4_6_release/apis/3.0",  # public, and never dialled here
        "credentials": {"company_id": "acme", "public_key": "pub", "private_key": secret, "client_id": "cid"},
        "enabled": True,
    }
    put = await put_psa(tenant, body)
    assert put.status_code == 200
    expected = {"provider": "connectwise", "base_url": body["base_url"], "enabled": True, "credentials_set": True}
    assert put.json() == expected
    got = await tenant["owner"].get(f"/api/v1/accounts/{tenant.account_id}/psa")
    assert got.json() == expected
    assert secret not in put.text + got.text
    assert (await tenant["senior"].get(f"/api/v1/accounts/{tenant.account_id}/psa")).status_code == 403

    async with runtime.engine.connect() as connection:
        stored = (await connection.execute(text("SELECT credentials_encrypted FROM psa_connections"))).scalars().all()
    assert stored
    assert all(secret not in value for value in stored)

    missing = await put_psa(tenant, {**body, "credentials": {"company_id": "acme"}})
    assert missing.status_code == 400
    assert "private_key" in missing.json()["detail"]


async def test_psa_note_is_posted_once_and_recorded(
    tenants: TenantFactory, runtime: Runtime, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    tenant = await tenants.create(junior="engineer", senior="engineer")
    vendor = FakeConnectWise({8812})
    await vendor.start()
    try:
        connection = vendor.connection()
        await put_psa(
            tenant, {"provider": "connectwise", "base_url": connection.base_url, "credentials": connection.credentials}
        )
        junior = tenant["junior"]
        handoff = await junior.escalate((await junior.new_session("VPN drops", ticket_ref="8812"))["id"], note="Leeds")
        async with outbound_http(runtime) as http:
            push = PushToPSA(runtime.sessionmaker, SecretBox(runtime.settings.secret_key), http, public_url=PUBLIC_URL)
            assert await push({"handoff_id": handoff["id"]}) == "pushed"
            assert await push({"handoff_id": handoff["id"]}) == "pushed"  # a retried job: the row says sent
        notes = vendor.stored()
        assert len(notes) == 1
        assert "Escalated to the senior team by" in notes[0]["text"]
        assert notes[0]["internalAnalysisFlag"] is True
        rows = await deliveries(tenant["senior"], handoff["id"])
        # The senior's email was written when step 0 paged them; no notify job runs here.
        assert [(r["channel"], r["recipient"], r["status"], r["attempts"]) for r in rows] == [
            ("email", f"senior-{str(tenant['senior'].id)[:8]}@msp.test", "pending", 0),
            ("psa", "127.0.0.1", "sent", 1),
        ]
        for secret in (connection.credentials["private_key"], connection.credentials["client_id"]):
            assert secret not in caplog.text
    finally:
        await vendor.stop()


async def test_psa_push_without_ticket_or_connection_is_skipped(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create(junior="engineer", senior="engineer")
    junior = tenant["junior"]
    handoff = await junior.escalate((await junior.new_session())["id"])
    async with outbound_http(runtime) as http:
        push = PushToPSA(runtime.sessionmaker, SecretBox(runtime.settings.secret_key), http, public_url=PUBLIC_URL)
        assert await push({"handoff_id": handoff["id"]}) == "skipped"
    rows = await deliveries(tenant["senior"], handoff["id"])
    assert [(r["channel"], r["status"]) for r in rows] == [("email", "pending"), ("psa", "skipped")]
    assert "no PSA connection" in rows[1]["last_error"]


@pytest.fixture
async def receiver() -> AsyncIterator[FakeWebhookReceiver]:
    server = FakeWebhookReceiver()
    await server.start()
    yield server
    await server.stop()


async def webhook_tenant(tenants: TenantFactory, receiver: FakeWebhookReceiver) -> Tenant:
    """A junior and a senior, their account's connection set to the receiver."""
    tenant = await tenants.create(junior="engineer", senior="engineer")
    connection = receiver.connection()
    body = {"provider": "webhook", "base_url": connection.base_url, "credentials": connection.credentials}
    assert (await put_psa(tenant, body)).status_code == 200
    return tenant


async def test_webhook_channel_is_signed_and_recorded(
    tenants: TenantFactory, runtime: Runtime, receiver: FakeWebhookReceiver
) -> None:
    tenant = await webhook_tenant(tenants, receiver)
    junior = tenant["junior"]
    handoff = await junior.escalate((await junior.new_session("Cert expired"))["id"])
    async with outbound_http(runtime) as http:
        push = PushToPSA(runtime.sessionmaker, SecretBox(runtime.settings.secret_key), http, public_url=PUBLIC_URL)
        assert await push({"handoff_id": handoff["id"]}) == "pushed"
    [body] = receiver.stored()
    # The same event the stream carries, plus a link to the handoff.
    assert body["type"] == "handoff_created"
    assert body["handoff_id"] == handoff["id"]
    assert body["handoff"]["title"] == "Cert expired"
    assert body["handoff"]["status"] == "open"
    assert body["link"].endswith(handoff["id"])
    rows = await deliveries(tenant["senior"], handoff["id"])
    assert [(r["channel"], r["status"]) for r in rows] == [("email", "pending"), ("webhook", "sent")]


async def test_a_webhook_carries_the_event_the_stream_carried(
    tenants: TenantFactory, runtime: Runtime, receiver: FakeWebhookReceiver
) -> None:
    tenant = await webhook_tenant(tenants, receiver)
    junior = tenant["junior"]
    handoff = await junior.escalate((await junior.new_session("Cert expired", ticket_ref="8812"))["id"])
    # Claimed before the push: the webhook still tells of the escalation as it was when it happened.
    assert (await tenant["senior"].post(f"/api/v1/handoffs/{handoff['id']}/claim")).status_code == 200
    await wait_for_events(runtime, str(tenant.account_id), 2)
    async with outbound_http(runtime) as http:
        push = PushToPSA(runtime.sessionmaker, SecretBox(runtime.settings.secret_key), http, public_url=PUBLIC_URL)
        assert await push({"handoff_id": handoff["id"]}) == "pushed"
    [created] = [
        entry
        for entry in await runtime.bus.read_after(str(tenant.account_id), "0-0")
        if entry.type == "handoff_created"
    ]
    [request] = receiver.requests
    # The stream's data, byte for byte, then what only the webhook adds.
    assert request.body.startswith(created.data.removesuffix(b"}") + b",")
    body = request.json()
    assert {k: v for k, v in body.items() if k not in {"link", "ticket_ref", "text"}} == msgspec.json.decode(
        created.data
    )
    assert body["handoff"]["status"] == "open"
    assert body["handoff"]["claimed_by"] is None
    assert body["link"].endswith(handoff["id"])
    assert body["ticket_ref"] == "8812"


async def test_a_webhook_may_hold_several_signing_secrets(tenants: TenantFactory) -> None:
    tenant = await tenants.create(owner="owner")
    url = "https://93.184.215.14/hooks/handoff"
    for secrets_value, status in (
        (["whsec_bmV3LWtleQ==", "the old secret"], 200),
        (["only one"], 200),
        ([], 400),
        (["fine", ""], 400),
        (["fine", 42], 400),
        ([f"s{i}" for i in range(6)], 400),
    ):
        body = {"provider": "webhook", "base_url": url, "credentials": {"signing_secret": secrets_value}}
        answer = await put_psa(tenant, body)
        assert answer.status_code == status, (secrets_value, answer.text)
        if status == 400:
            assert answer.json()["code"] == "validation_error"
            assert "the old secret" not in answer.text
