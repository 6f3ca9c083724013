"""ConnectWise Manage (PSA REST API 3.0): an internal-analysis note on a service ticket, posted once."""

from __future__ import annotations

import re
from typing import Any

import httpx

from services.notifier.channels.http import endpoint, external_id, json_of, log, posted_body, send
from services.notifier.psa.base import PSAConnection, PSANote, PSAResult, marker, note_text, ticket_number

# Characters that mean something in a conditions string or in the SQL LIKE behind it.
_UNSAFE = re.compile(r"[^A-Za-z0-9:._\-]+")


def like_condition(tag: str) -> str:
    """A `conditions` clause matching notes whose text contains `tag`, built from its safe characters only."""
    # Unsafe runs (brackets, quotes, %) become `%` wildcards; the caller re-checks the exact marker.
    pieces = [piece for piece in _UNSAFE.split(tag) if piece]
    return 'text like "%' + "%".join(pieces) + '%"'


class ConnectWiseAdapter:
    """Posts with HTTP Basic `{company_id}+{public_key}:{private_key}` and the `clientId` header."""

    provider = "connectwise"

    async def post_note(self, http: httpx.AsyncClient, connection: PSAConnection, note: PSANote) -> PSAResult:
        """Post `note` as an internal analysis note, unless a note with its marker is already on the ticket."""
        ticket = ticket_number(self.provider, note.ticket_ref)
        username = f"{connection.credential('company_id')}+{connection.credential('public_key')}"
        request: dict[str, Any] = {
            "auth": httpx.BasicAuth(username, connection.credential("private_key")),
            "headers": {"clientId": connection.credential("client_id"), "Accept": "application/json"},
        }
        url = endpoint(connection.base_url, f"service/tickets/{ticket}/notes")
        tag = marker(note.idempotency_key)

        params = {"conditions": like_condition(tag), "fields": "id,text", "pageSize": 100}
        found = await send(http, "GET", url, provider=self.provider, action="notes lookup", params=params, **request)
        for existing in _notes(json_of(found, provider=self.provider, action="notes lookup")):
            if tag in str(existing.get("text") or ""):
                log.info("connectwise: ticket %d already has the note for %s", ticket, note.idempotency_key)
                return PSAResult(external_id=external_id(existing), already_posted=True)

        body = {
            "text": note_text(note),
            "detailDescriptionFlag": False,
            "internalAnalysisFlag": True,
            "resolutionFlag": False,
            "processNotifications": False,
        }
        created = await send(http, "POST", url, provider=self.provider, action="note post", json=body, **request)
        log.info("connectwise: posted the note for %s on ticket %d", note.idempotency_key, ticket)
        return PSAResult(external_id=external_id(posted_body(created)))


def _notes(body: Any) -> list[dict[str, Any]]:
    return [item for item in body if isinstance(item, dict)] if isinstance(body, list) else []
