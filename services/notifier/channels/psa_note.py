"""The PSA note channel: an internal note on the session's ticket, through the vendor's adapter."""

from __future__ import annotations

import httpx

from services.notifier.channels.base import Connection, Notice, Plan, Recipient, Sent
from services.notifier.psa.base import PSANote
from services.notifier.psa.registry import PROVIDERS, adapter_for
from shared.handoffs.tables import HandoffRow


class PSANoteChannel:
    name = "psa"
    providers = PROVIDERS  # the vendors with an adapter

    def plan(self, handoff: HandoffRow, connection: Connection, recipient: str) -> Plan:
        """One row per escalation; skipped when the session names no ticket to write on."""
        skip = "" if handoff.snapshot.get("ticket_ref") else "the session has no ticket_ref"
        return Plan(recipients=[Recipient(recipient)], skip=skip)

    async def send(self, http: httpx.AsyncClient, connection: Connection, notice: Notice) -> Sent:
        note = PSANote(ticket_ref=notice.ticket_ref, text=notice.text, idempotency_key=notice.idempotency_key)
        return await adapter_for(connection.provider).post_note(http, connection, note)
