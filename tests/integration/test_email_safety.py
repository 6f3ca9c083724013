"""Email against a real SMTP server: a directory name cannot add a recipient; TLS from the first byte on port 465."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from services.notifier.email_message import compose
from services.notifier.mail_format import escalation_email
from services.notifier.mailers import MailDropMailer, SendFailed, SMTPMailer
from shared.bootstrap import Runtime
from shared.deliveries.service import handoffs_with_unfinished_deliveries
from shared.directory.tables import User
from shared.handoffs.tables import HandoffRow
from tests.support.certs import self_signed
from tests.support.email_corpus import CORPUS, POSITIONS, RECIPIENT_EMAIL, SENDER, attack, problems, raw_attack
from tests.support.email_jobs import PUBLIC_URL, email_job, smtp_settings
from tests.support.pick_up import pick_up_link
from tests.support.smtp import MailCatcher, SMTPServer
from tests.support.tenants import Tenant, TenantFactory

ATTACK_NAME = 'Sam, attacker@evil.test, "X" <other@evil.test>'


async def test_a_directory_name_cannot_add_recipients(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create(junior="engineer")
    sam_id = uuid.uuid4()
    sam_email = f"sam-{str(sam_id)[:8]}@msp.test"
    body = {"email": sam_email, "name": ATTACK_NAME, "role": "engineer", "active": True}
    put = await tenant.service.request("PUT", f"/api/v1/accounts/{tenant.account_id}/users/{sam_id}", json=body)
    assert put.status_code == 200, put.text

    junior = tenant["junior"]
    handoff = await junior.escalate((await junior.new_session("Mail flow stopped"))["id"])
    server = SMTPServer()
    server.start()
    try:
        job = email_job(runtime, server.port, timeout_s=2)
        assert await job({"handoff_id": handoff["id"]}) == "1 emails handled"
    finally:
        server.stop()

    [mail] = server.catcher.received
    assert mail.recipients == [sam_email]
    [to] = mail.message["To"].addresses
    assert (to.addr_spec, to.display_name) == (sam_email, ATTACK_NAME)
    assert str(mail.message["Message-ID"]).endswith("@msp.test>")
    assert mail.message["Auto-Submitted"] == "auto-generated"
    assert mail.message["X-Auto-Response-Suppress"] == "All"


def a_message(to: str = "sam@msp.test") -> tuple[HandoffRow, User]:
    handoff = HandoffRow(
        id=uuid.uuid4(),
        intent="escalate",
        urgency="normal",
        note="",
        created_by_name="Jamie",
        snapshot={"title": "Backups failing"},
    )
    return handoff, User(id=uuid.uuid4(), email=to, name="Sam", role="engineer")


async def test_implicit_tls_sends_over_tls_from_the_first_byte(runtime: Runtime, tmp_path: Path) -> None:
    certificate = self_signed("127.0.0.1")
    server = SMTPServer(implicit_tls=certificate.server_context(tmp_path))
    server.start()
    try:
        settings = msgspec.structs.replace(
            runtime.settings, smtp_host="127.0.0.1", smtp_port=server.port, smtp_implicit_tls=True
        )
        handoff, user = a_message()
        message = compose(handoff, user, public_url=PUBLIC_URL, sender="handoff@msp.test")
        await SMTPMailer(settings, timeout_s=3, tls_context=certificate.client_context()).send(message)
        [mail] = server.catcher.received
        assert mail.recipients == ["sam@msp.test"]
        assert str(mail.message["Subject"]) == "[NORMAL] Escalation: Backups failing (from Jamie)"

        # The certificate is checked: a client that does not trust it sends nothing.
        with pytest.raises(SendFailed) as caught:
            await SMTPMailer(settings, timeout_s=3).send(message)
        assert caught.value.transient is True
        assert "SMTP unavailable" in str(caught.value)

        # Without implicit TLS the same server cannot be spoken to at all.
        plain = msgspec.structs.replace(settings, smtp_implicit_tls=False, smtp_starttls=False)
        with pytest.raises(SendFailed):
            await SMTPMailer(plain, timeout_s=1).send(message)
        assert len(server.catcher.received) == 1
    finally:
        server.stop()


@dataclass
class RawCatcher(MailCatcher):
    """Also keeps each message's bytes as they came over the wire."""

    raw: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.raw.append(bytes(envelope.content))
        return await super().handle_DATA(server, session, envelope)


async def test_every_attack_in_every_place_arrives_as_well_formed_mail(runtime: Runtime) -> None:
    catcher = RawCatcher()
    server = SMTPServer(catcher)
    server.start()
    try:
        mailer = SMTPMailer(smtp_settings(runtime, server.port), timeout_s=5)
        for position in POSITIONS:
            for text in CORPUS.values():
                escalation, recipient = attack(position, text)
                await mailer.send(escalation_email(escalation, recipient, sender=SENDER))
    finally:
        server.stop()

    assert len(catcher.raw) == len(CORPUS) * len(POSITIONS)
    for (position, case), raw, mail in zip(
        [(p, c) for p in POSITIONS for c in CORPUS], catcher.raw, catcher.received, strict=True
    ):
        assert problems(raw) == [], f"{case} in the {position}"
        assert mail.recipients == [RECIPIENT_EMAIL]
        assert mail.message["Reply-To"] is None


async def escalation_with(tenants: TenantFactory, runtime: Runtime, text: str) -> tuple[str, str]:
    """An escalation by a junior named `text`, titled `text` with the note `text`, to one senior named `text`.

    Each string goes in through the API; one the API refuses today is written to the row instead, as rows
    stored before it did may hold it.
    """
    tenant = await tenants.create(watcher="viewer")  # viewers are never emailed
    sam_email = await directory_user(tenant, runtime, uuid.uuid4(), "sam", "engineer", text)
    junior_id = uuid.uuid4()
    await directory_user(tenant, runtime, junior_id, "junior", "engineer", text)
    junior = tenants.actor(junior_id, tenant.account_id, "engineer", text)
    created = await refused(junior.post("/api/v1/ai-sessions", json={"title": text}))
    title_refused = created.status_code != 201
    if title_refused:
        created = await junior.post("/api/v1/ai-sessions", json={"title": "VPN drops"})
    handoff_path = f"/api/v1/ai-sessions/{created.json()['id']}/handoff"
    escalated = await refused(junior.post(handoff_path, json={"intent": "escalate", "note": text}))
    note_refused = escalated.status_code != 201
    if note_refused:
        escalated = await junior.post(handoff_path, json={"intent": "escalate"})
    assert escalated.status_code == 201, escalated.text
    handoff_id = uuid.UUID(escalated.json()["id"])
    async with runtime.sessionmaker() as db:
        handoff = await db.get(HandoffRow, handoff_id)
        assert handoff is not None
        assert handoff.created_by_name == text
        if title_refused:
            handoff.snapshot = {**handoff.snapshot, "title": text}
        if note_refused:
            handoff.note = text
        await db.commit()
    return str(handoff_id), sam_email


async def directory_user(tenant: Tenant, runtime: Runtime, user_id: uuid.UUID, key: str, role: str, name: str) -> str:
    """A directory user named `name` (through the API, or written to the row when the API refuses it); its email."""
    email = f"{key}-{str(user_id)[:8]}@msp.test"
    path = f"/api/v1/accounts/{tenant.account_id}/users/{user_id}"
    body = {"email": email, "name": name, "role": role, "active": True}
    if (await refused(tenant.service.request("PUT", path, json=body))).status_code != 200:
        assert (await tenant.service.request("PUT", path, json={**body, "name": key})).status_code == 200
        await store(runtime, User, user_id, name=name)
    return email


async def refused(request: Awaitable[httpx.Response]) -> httpx.Response:
    """The response, which must be a success or a 400 that names the problem."""
    response = await request
    assert response.status_code < 300 or response.status_code == 400, response.text
    return response


async def store(runtime: Runtime, model: type[User], row_id: uuid.UUID, **values: Any) -> None:
    async with runtime.sessionmaker() as db:
        row = await db.get(model, row_id)
        assert row is not None
        for name, value in values.items():
            setattr(row, name, value)
        await db.commit()


async def test_the_corpus_through_the_api_and_the_notifier(tenants: TenantFactory, runtime: Runtime) -> None:
    catcher = RawCatcher()
    server = SMTPServer(catcher)
    server.start()
    try:
        job = email_job(runtime, server.port, timeout_s=5, sender=SENDER)
        for case, text in CORPUS.items():
            # As stored: PostgreSQL text cannot hold NUL, and names are at most 200 characters (the unit tests
            # send the corpus as it is).
            handoff_id, sam_email = await escalation_with(tenants, runtime, text.replace("\x00", "")[:200])
            assert await job({"handoff_id": handoff_id}) == "1 emails handled", case
            raw, mail = catcher.raw[-1], catcher.received[-1]
            assert mail.recipients == [sam_email], case
            link = f"{PUBLIC_URL}/#/handoffs/{handoff_id}"
            assert problems(raw, recipient=sam_email, link=link, pick_up_link=pick_up_link(mail)) == [], case
    finally:
        server.stop()
    assert len(catcher.raw) == len(CORPUS)


async def test_an_email_that_cannot_be_written_ends_failed_with_its_reason(
    tenants: TenantFactory, runtime: Runtime
) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer", odd="engineer")
    odd = tenant["odd"]
    unwritable = "=?utf-8?q?odd=0D=0ABcc:_x@evil.test?=@msp.test"
    body = {"email": unwritable, "name": "Odd", "role": "engineer", "active": True}
    path = f"/api/v1/accounts/{tenant.account_id}/users/{odd.id}"
    if (await refused(tenant.service.request("PUT", path, json=body))).status_code != 200:
        await store(runtime, User, odd.id, email=unwritable)
    junior = tenant["junior"]
    handoff = await junior.escalate((await junior.new_session("Mail flow stopped"))["id"])

    server = SMTPServer()
    server.start()
    try:
        job = email_job(runtime, server.port, timeout_s=5, sender=SENDER)
        assert await job({"handoff_id": handoff["id"]}) == "2 emails handled"  # no retry asked for
        # Run again, as a retry or the sweeper would: nothing is left to send, and nothing changes.
        assert await job({"handoff_id": handoff["id"]}) == "0 emails handled"
    finally:
        server.stop()

    assert [mail.recipients for mail in server.catcher.received] == [[email_of(tenant, "sam")]]
    response = await tenant["sam"].get(f"/api/v1/handoffs/{handoff['id']}/deliveries")
    assert response.status_code == 200, response.text
    by_recipient = {row["recipient"]: row for row in response.json() if row["channel"] == "email"}
    failed = by_recipient[unwritable]
    assert (failed["status"], failed["attempts"]) == ("failed", 1)
    assert failed["last_error"] == ("the email could not be written: the address cannot be written in an email header")
    assert by_recipient[email_of(tenant, "sam")]["status"] == "sent"
    async with runtime.sessionmaker() as db:
        unfinished = await handoffs_with_unfinished_deliveries(db, idle_s=0)
    assert uuid.UUID(handoff["id"]) not in {handoff_id for handoff_id, _, _ in unfinished}


def email_of(tenant: Tenant, key: str) -> str:
    """The address the tenant factory gives a directory user."""
    return f"{key}-{str(tenant[key].id)[:8]}@msp.test"


async def test_a_mailer_sends_nothing_that_would_not_read_back_as_written(runtime: Runtime, tmp_path: Path) -> None:
    server = SMTPServer()
    server.start()
    try:
        with pytest.raises(SendFailed) as caught:
            await SMTPMailer(smtp_settings(runtime, server.port), timeout_s=5).send(raw_attack())
    finally:
        server.stop()
    assert caught.value.transient is False
    assert "would not read back as written" in str(caught.value)
    assert server.catcher.received == []

    with pytest.raises(SendFailed) as dropped:
        await MailDropMailer(tmp_path).send(raw_attack())
    assert dropped.value.transient is False
    assert list(tmp_path.rglob("*")) == []
