"""The notifier's `notify` job against a loopback SMTP server, and the deliveries it records as a senior sees them.

The job makes pick-up links as `handoff notifier` does, under the runtime's HANDOFF_SECRET_KEY."""

from __future__ import annotations

from typing import Any

import msgspec

from services.notifier.mailers import SMTPMailer
from services.notifier.service import NotifyHandoff
from shared.bootstrap import Runtime
from shared.config import Settings
from shared.pickup.links import PickUpLinks
from tests.support.tenants import Actor

PUBLIC_URL = "https://handoff.example.test"


def smtp_settings(runtime: Runtime, port: int) -> Settings:
    """The runtime's settings, sending to plain SMTP on a loopback port."""
    return msgspec.structs.replace(runtime.settings, smtp_host="127.0.0.1", smtp_port=port, smtp_starttls=False)


def email_job(
    runtime: Runtime,
    port: int,
    *,
    timeout_s: float,
    sender: str = "handoff@msp.test",
    lease_s: float = 120.0,
    links: PickUpLinks | None = None,
) -> NotifyHandoff:
    """The `notify` job, mailing through the SMTP server on `port` without waiting for an assessment; its pick-up
    links made with `links` (by default as the runtime's settings say)."""
    return NotifyHandoff(
        runtime.sessionmaker,
        SMTPMailer(smtp_settings(runtime, port), timeout_s=timeout_s),
        public_url=PUBLIC_URL,
        sender=sender,
        assessment_wait_s=0,
        lease_s=lease_s,
        links=links or PickUpLinks.from_settings(runtime.settings),
    )


async def deliveries(actor: Actor, handoff_id: str) -> list[dict[str, Any]]:
    response = await actor.get(f"/api/v1/handoffs/{handoff_id}/deliveries")
    assert response.status_code == 200, response.text
    return list(response.json())
