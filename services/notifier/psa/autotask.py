"""Autotask (REST API V1.0): an internal-only ticket note, posted once."""

from __future__ import annotations

from typing import Any

import httpx

from services.notifier.channels.http import endpoint, external_id, json_of, log, posted_body, send
from services.notifier.psa.base import PSAConnection, PSANote, PSAResult, marker, note_text, ticket_number

NOTE_TYPE = 1
PUBLISH_INTERNAL_ONLY = 2
TITLE_LIMIT = 250  # TicketNote.title length in Autotask
DESCRIPTION_LIMIT = 32000  # TicketNote.description length in Autotask


def note_query(ticket: int, tag: str) -> dict[str, Any]:
    """The TicketNotes query body: notes on `ticket` whose description contains `tag` (re-checked by the caller)."""
    return {
        "filter": [
            {
                "op": "and",
                "items": [
                    {"op": "eq", "field": "ticketID", "value": ticket},
                    # Without the brackets, which a LIKE behind `contains` could read as a character class.
                    {"op": "contains", "field": "description", "value": tag.strip("[]")},
                ],
            }
        ]
    }


def note_title(text: str, tag: str) -> str:
    """The note's first line that is not the marker, cut to Autotask's title length."""
    for line in text.splitlines():
        if line.strip() and line.strip() != tag:
            return line.strip()[:TITLE_LIMIT]
    return "Handoff"


class AutotaskAdapter:
    """Posts with the ApiIntegrationCode, UserName and Secret headers Autotask authenticates by."""

    provider = "autotask"

    async def post_note(self, http: httpx.AsyncClient, connection: PSAConnection, note: PSANote) -> PSAResult:
        """Post `note` as an internal-only note, unless a note with its marker is already on the ticket."""
        ticket = ticket_number(self.provider, note.ticket_ref)
        headers = {
            "ApiIntegrationCode": connection.credential("integration_code"),
            "UserName": connection.credential("username"),
            "Secret": connection.credential("secret"),
            "Content-Type": "application/json",
            "Accept": "application/json",
        }
        tag = marker(note.idempotency_key)

        query_url = endpoint(connection.base_url, "V1.0/TicketNotes/query")
        query = note_query(ticket, tag)
        found = await send(
            http, "POST", query_url, provider=self.provider, action="notes query", json=query, headers=headers
        )
        for existing in _items(json_of(found, provider=self.provider, action="notes query")):
            if tag in str(existing.get("description") or ""):
                log.info("autotask: ticket %d already has the note for %s", ticket, note.idempotency_key)
                return PSAResult(external_id=external_id(existing), already_posted=True)

        text = note_text(note, limit=DESCRIPTION_LIMIT)
        body = {
            "ticketID": ticket,
            "title": note_title(text, tag),
            "description": text,
            "noteType": NOTE_TYPE,
            "publish": PUBLISH_INTERNAL_ONLY,
        }
        notes_url = endpoint(connection.base_url, f"V1.0/Tickets/{ticket}/Notes")
        created = await send(
            http, "POST", notes_url, provider=self.provider, action="note post", json=body, headers=headers
        )
        answer = posted_body(created)
        log.info("autotask: posted the note for %s on ticket %d", note.idempotency_key, ticket)
        return PSAResult(external_id=external_id(answer, "itemId"))


def _items(body: Any) -> list[dict[str, Any]]:
    items = body.get("items") if isinstance(body, dict) else None
    return [item for item in items if isinstance(item, dict)] if isinstance(items, list) else []
