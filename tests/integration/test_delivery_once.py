"""Sending once: claimed rows, overlapping runs, expired leases, and rows that can only fail."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select, update

from services.notifier.service import NotifyHandoff, PushToPSA, RetryLater
from shared.bootstrap import Runtime
from shared.clock import utcnow
from shared.crypto import SecretBox
from shared.db.uow import unit_of_work
from shared.deliveries.service import ensure_deliveries
from shared.deliveries.tables import Delivery
from shared.directory.tables import User
from shared.directory.who import seniors_to_page
from shared.outbound.guard import OutboundClients, OutboundPolicy
from shared.sessions.tables import AISession
from tests.support.email_jobs import PUBLIC_URL, deliveries, email_job
from tests.support.psa_servers import FakeConnectWise, Reply, Request
from tests.support.smtp import SMTPServer
from tests.support.tenants import Tenant, TenantFactory


@pytest.fixture
def smtp() -> Iterator[SMTPServer]:
    with SMTPServer() as server:
        yield server


def notifier(runtime: Runtime, smtp: SMTPServer, *, lease_s: float = 120.0) -> NotifyHandoff:
    return email_job(runtime, smtp.port, timeout_s=5, lease_s=lease_s)


async def seniors_team(tenants: TenantFactory, count: int) -> Tenant:
    tenant = await tenants.create(junior="engineer")
    for n in range(count):
        await tenants.add_user(tenant, f"senior{n}", "engineer")
    return tenant


async def test_two_notify_runs_at_once_send_one_email_each(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer
) -> None:
    smtp.catcher.delay_s = 0.3  # slow enough that the two runs overlap whatever the backend
    tenant = await seniors_team(tenants, 5)
    junior = tenant["junior"]
    handoff = await junior.escalate((await junior.new_session("Exchange queue stuck"))["id"])
    first, second = notifier(runtime, smtp), notifier(runtime, smtp)
    outcomes = await asyncio.gather(first({"handoff_id": handoff["id"]}), second({"handoff_id": handoff["id"]}))

    per_recipient = Counter(r.to for r in smtp.catcher.received)
    print(f"\n[{runtime.engine.dialect.name}] two overlapping runs: {outcomes}; {len(smtp.catcher.received)} emails")
    assert len(per_recipient) == 5
    assert set(per_recipient.values()) == {1}
    rows = await deliveries(tenant["senior0"], handoff["id"])
    assert {(r["status"], r["attempts"], r["round"]) for r in rows} == {("sent", 1, 0)}


async def test_an_expired_lease_is_taken_over_and_a_live_one_is_not(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer
) -> None:
    tenant = await seniors_team(tenants, 2)
    junior = tenant["junior"]
    handoff = await junior.escalate((await junior.new_session())["id"])
    handoff_id = uuid.UUID(handoff["id"])
    # A first run created the rows and claimed both, then its worker died: one lease ran out, one did not.
    async with unit_of_work(runtime.sessionmaker) as db:
        seniors = await seniors_to_page(db, tenant.account_id, junior.id)
        recipients = [(user.email, user.id) for user in seniors]
        await ensure_deliveries(
            db, handoff_id=handoff_id, account_id=tenant.account_id, channel="email", recipients=recipients
        )
        rows = (await db.execute(select(Delivery).where(Delivery.handoff_id == handoff_id))).scalars().all()
        expired, live = sorted(rows, key=lambda r: r.recipient)
        now = utcnow()
        for row, lease_until in ((expired, now - timedelta(seconds=1)), (live, now + timedelta(minutes=5))):
            await db.execute(
                update(Delivery).where(Delivery.id == row.id).values(status="sending", lease_until=lease_until)
            )

    assert await notifier(runtime, smtp)({"handoff_id": handoff["id"]}) == "1 emails handled"
    assert [r.to for r in smtp.catcher.received] == [expired.recipient]
    shown = {r["recipient"]: r["status"] for r in await deliveries(tenant["senior0"], handoff["id"])}
    assert shown == {expired.recipient: "sent", live.recipient: "pending"}  # `sending` reads as pending


async def test_a_title_with_cr_lf_still_emails_everyone_with_a_one_line_subject(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer
) -> None:
    tenant = await seniors_team(tenants, 3)
    junior = tenant["junior"]
    # The API refuses such a title now; one stored before that rule still has to go out.
    title = "Printer offline\r\nBcc: someone@evil.test\nafter the update"
    session = await junior.new_session("Printer offline")
    async with unit_of_work(runtime.sessionmaker) as db:
        await db.execute(update(AISession).where(AISession.id == uuid.UUID(session["id"])).values(title=title))
    handoff = await junior.escalate(session["id"])
    assert await notifier(runtime, smtp)({"handoff_id": handoff["id"]}) == "3 emails handled"

    received = smtp.catcher.received
    subject = received[0].message["Subject"]
    print(f"\n[{runtime.engine.dialect.name}] CR/LF title: {len(received)} emails, subject {subject!r}")
    assert len({r.to for r in received}) == 3
    assert all(len(r.recipients) == 1 for r in received)
    for mail in received:
        subject = str(mail.message["Subject"])
        assert "\r" not in subject
        assert "\n" not in subject
        assert subject.startswith("[NORMAL] Escalation: Printer offline")
        assert mail.message["Bcc"] is None
    rows = await deliveries(tenant["senior0"], handoff["id"])
    assert {r["status"] for r in rows} == {"sent"}


async def test_a_senior_whose_name_breaks_the_header_never_stays_pending(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer
) -> None:
    tenant = await seniors_team(tenants, 2)
    broken = await tenants.add_user(tenant, "broken", "engineer")
    body = {"email": f"broken-{str(broken.id)[:8]}@msp.test"}
    # The directory API refuses such a name now; one stored before that rule must not leave a row pending.
    async with unit_of_work(runtime.sessionmaker) as db:
        await db.execute(update(User).where(User.id == broken.id).values(name="Line\r\nbreak"))
    junior = tenant["junior"]
    handoff = await junior.escalate((await junior.new_session())["id"])
    assert await notifier(runtime, smtp)({"handoff_id": handoff["id"]}) == "3 emails handled"

    rows = {r["recipient"]: r for r in await deliveries(tenant["senior0"], handoff["id"])}
    assert len(rows) == 3
    odd = rows[body["email"]]
    # Written on one line, or failed with the reason: never pending.
    assert odd["status"] == "sent" or (odd["status"] == "failed" and "could not be written" in str(odd["last_error"]))
    assert sorted(r["status"] for e, r in rows.items() if e != body["email"]) == ["sent", "sent"]
    assert len(smtp.catcher.to(body["email"])) == (1 if odd["status"] == "sent" else 0)


async def test_a_psa_push_skips_a_withdrawn_escalation(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create(junior="engineer", senior="engineer")
    vendor = FakeConnectWise({8812})
    await vendor.start()
    try:
        connection = vendor.connection()
        body = {"provider": "connectwise", "base_url": connection.base_url, "credentials": connection.credentials}
        assert (
            await tenant.service.request("PUT", f"/api/v1/accounts/{tenant.account_id}/psa", json=body)
        ).status_code == 200
        junior = tenant["junior"]
        handoff = await junior.escalate((await junior.new_session("VPN drops", ticket_ref="8812"))["id"])
        assert (await junior.post(f"/api/v1/handoffs/{handoff['id']}/withdraw")).status_code == 200
        async with OutboundClients(OutboundPolicy(), timeout=5) as http:
            push = PushToPSA(runtime.sessionmaker, SecretBox(runtime.settings.secret_key), http, public_url=PUBLIC_URL)
            assert await push({"handoff_id": handoff["id"]}) == "skipped"
        assert vendor.stored() == []
        rows = await deliveries(tenant["senior"], handoff["id"])
        assert [(r["channel"], r["status"], r["attempts"]) for r in rows] == [
            ("email", "pending", 0),
            ("psa", "skipped", 0),
        ]
        assert "withdrawn" in str(rows[1]["last_error"])
    finally:
        await vendor.stop()


class AnswerLostOnce(FakeConnectWise):
    """Stores the first note, then answers as a gateway whose upstream went away: the note is there, the answer lost."""

    def __init__(self, tickets: set[int]) -> None:
        super().__init__(tickets)
        self.lost = False

    async def handle(self, request: Request) -> Reply:
        reply = await super().handle(request)
        if request.method == "POST" and not self.lost:
            self.lost = True
            return Reply(502, {"error": "bad gateway"})
        return reply


async def test_a_push_whose_answer_was_lost_is_finished_after_a_withdrawal_and_says_sent(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await tenants.create(junior="engineer", senior="engineer")
    vendor = AnswerLostOnce({8812})
    await vendor.start()
    try:
        connection = vendor.connection()
        body = {"provider": "connectwise", "base_url": connection.base_url, "credentials": connection.credentials}
        assert (
            await tenant.service.request("PUT", f"/api/v1/accounts/{tenant.account_id}/psa", json=body)
        ).status_code == 200
        junior = tenant["junior"]
        handoff = await junior.escalate((await junior.new_session("VPN drops", ticket_ref="8812"))["id"])
        policy = OutboundPolicy.from_allow_list(runtime.settings.outbound_allow)
        async with OutboundClients(policy, timeout=5) as http:
            push = PushToPSA(runtime.sessionmaker, SecretBox(runtime.settings.secret_key), http, public_url=PUBLIC_URL)
            with pytest.raises(RetryLater):
                await push({"handoff_id": handoff["id"]})
            assert (await junior.post(f"/api/v1/handoffs/{handoff['id']}/withdraw")).status_code == 200
            assert await push({"handoff_id": handoff["id"]}) == "pushed"  # the retry finds the note by its marker
        rows = await deliveries(tenant["senior"], handoff["id"])
        assert len(vendor.stored()) == 1
        assert [(r["channel"], r["status"], r["attempts"]) for r in rows] == [
            ("email", "pending", 0),
            ("psa", "sent", 2),
        ]
    finally:
        await vendor.stop()


async def left_sending_by_a_dead_worker(runtime: Runtime, handoff_id: str, channel: str, recipient: str) -> None:
    """As a worker leaves a row it took and died with, mid-send: `sending`, its lease run out, no try recorded."""
    async with unit_of_work(runtime.sessionmaker) as db:
        row = (
            await db.execute(
                select(Delivery).where(
                    Delivery.handoff_id == uuid.UUID(handoff_id),
                    Delivery.channel == channel,
                    Delivery.recipient == recipient,
                )
            )
        ).scalar_one()
        expired = utcnow() - timedelta(seconds=1)
        await db.execute(update(Delivery).where(Delivery.id == row.id).values(status="sending", lease_until=expired))


async def test_a_push_whose_worker_died_mid_send_is_finished_after_a_withdrawal(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await tenants.create(junior="engineer", senior="engineer")
    vendor = FakeConnectWise({8812})
    await vendor.start()
    try:
        connection = vendor.connection()
        body = {"provider": "connectwise", "base_url": connection.base_url, "credentials": connection.credentials}
        assert (
            await tenant.service.request("PUT", f"/api/v1/accounts/{tenant.account_id}/psa", json=body)
        ).status_code == 200
        junior = tenant["junior"]
        handoff = await junior.escalate((await junior.new_session("VPN drops", ticket_ref="8812"))["id"])
        async with unit_of_work(runtime.sessionmaker) as db:
            await ensure_deliveries(
                db,
                handoff_id=uuid.UUID(handoff["id"]),
                account_id=tenant.account_id,
                channel="psa",
                recipients=[("127.0.0.1", None)],
            )
        await left_sending_by_a_dead_worker(runtime, handoff["id"], "psa", "127.0.0.1")
        # What the dead worker got done before it died: the note is on the ticket.
        vendor.notes[8812] = [
            {"id": 9000, "ticketId": 8812, "text": f"Escalated\n[handoff-ref:handoff:{handoff['id']}]"}
        ]
        assert (await junior.post(f"/api/v1/handoffs/{handoff['id']}/withdraw")).status_code == 200

        policy = OutboundPolicy.from_allow_list(runtime.settings.outbound_allow)
        async with OutboundClients(policy, timeout=5) as http:
            push = PushToPSA(runtime.sessionmaker, SecretBox(runtime.settings.secret_key), http, public_url=PUBLIC_URL)
            assert await push({"handoff_id": handoff["id"]}) == "pushed"  # the note is found by its marker
        rows = await deliveries(tenant["senior"], handoff["id"])
        assert len(vendor.stored()) == 1
        # The dead worker's try counts: nobody knows how it went.
        assert [(r["channel"], r["status"], r["attempts"]) for r in rows if r["channel"] == "psa"] == [
            ("psa", "sent", 2)
        ]
    finally:
        await vendor.stop()


async def test_an_email_its_worker_died_sending_says_so_when_skipped_after_a_withdrawal(
    tenants: TenantFactory, runtime: Runtime, smtp: SMTPServer
) -> None:
    tenant = await seniors_team(tenants, 2)
    junior = tenant["junior"]
    handoff = await junior.escalate((await junior.new_session("Exchange queue stuck"))["id"])
    recipients = sorted(f"senior{n}-{str(tenant[f'senior{n}'].id)[:8]}@msp.test" for n in range(2))
    await left_sending_by_a_dead_worker(runtime, handoff["id"], "email", recipients[0])
    assert (await junior.post(f"/api/v1/handoffs/{handoff['id']}/withdraw")).status_code == 200

    assert await notifier(runtime, smtp)({"handoff_id": handoff["id"]}) == "2 emails handled"
    rows = {r["recipient"]: r for r in await deliveries(tenant["senior0"], handoff["id"])}
    assert smtp.catcher.received == []
    assert [(rows[e]["status"], rows[e]["attempts"], rows[e]["last_error"]) for e in recipients] == [
        ("skipped", 1, "withdrawn before the email went out (an earlier try may have sent it)"),
        ("skipped", 0, "withdrawn before the email went out"),
    ]
