"""The contract every PSA adapter implements: post one internal note on a ticket, once."""

from __future__ import annotations

from typing import Protocol

import httpx
import msgspec

from services.notifier.channels.base import ChannelError, Connection, Sent, marked
from services.notifier.channels.base import marker as marker  # the adapters' and their tests' import

# A PSA connection is an integration connection; a PSA failure a channel failure.
PSAConnection = Connection
PSAResult = Sent
PSAError = ChannelError


class PSANote(msgspec.Struct, kw_only=True):
    ticket_ref: str
    text: str  # plain text; already contains the idempotency marker line
    idempotency_key: str  # e.g. "handoff:<handoff_id>"; the marker is derived from it


class PSAAdapter(Protocol):
    provider: str

    async def post_note(self, http: httpx.AsyncClient, connection: PSAConnection, note: PSANote) -> PSAResult:
        """Post `note` as an internal note on `note.ticket_ref`, unless a note with its marker is already there."""
        ...


def note_text(note: PSANote, *, limit: int | None = None) -> str:
    """The note's text, sure to carry its marker and to fit in `limit` characters."""
    return marked(note.text, note.idempotency_key, limit=limit)


def ticket_number(provider: str, ticket_ref: str) -> int:
    """The integer ticket id in `ticket_ref` ("1234" or "#1234"), or a non-transient PSAError."""
    digits = ticket_ref.strip().removeprefix("#")
    if not (digits.isascii() and digits.isdigit()):
        raise PSAError(f"{provider}: ticket reference {ticket_ref[:40]!r} is not a ticket number", transient=False)
    return int(digits)
