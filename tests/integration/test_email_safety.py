"""Email against a real SMTP server: a directory name cannot add a recipient; TLS from the first byte on port 465."""

from __future__ import annotations

import uuid
from pathlib import Path

import msgspec
import pytest

from services.notifier.email_message import compose
from services.notifier.mailers import SendFailed, SMTPMailer
from services.notifier.service import NotifyHandoff
from shared.bootstrap import Runtime
from shared.db.models import HandoffRow, User
from tests.support.certs import self_signed
from tests.support.smtp import SMTPServer
from tests.support.tenants import TenantFactory

PUBLIC_URL = "https://handoff.example.test"
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
        settings = msgspec.structs.replace(
            runtime.settings, smtp_host="127.0.0.1", smtp_port=server.port, smtp_starttls=False
        )
        job = NotifyHandoff(
            runtime.sessionmaker,
            SMTPMailer(settings, timeout_s=2),
            public_url=PUBLIC_URL,
            sender="handoff@msp.test",
            assessment_wait_s=0,
        )
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
