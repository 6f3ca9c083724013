"""The contract every PSA adapter implements: post one internal note on a ticket, once."""

from __future__ import annotations

from typing import Any, Protocol

import httpx
import msgspec


class PSAConnection(msgspec.Struct, kw_only=True):
    """An account's PSA settings, credentials already decrypted."""

    provider: str  # "connectwise" | "autotask" | "halopsa" | "webhook"
    base_url: str
    credentials: dict[str, Any]

    def credential(self, name: str) -> str:
        """One credential as text, or a non-transient PSAError naming (never showing) it."""
        value = self.credentials.get(name)
        if value is None or value == "":
            raise PSAError(f"{self.provider}: credential {name!r} is missing", transient=False)
        return str(value)


class PSANote(msgspec.Struct, kw_only=True):
    ticket_ref: str
    text: str  # plain text; already contains the idempotency marker line
    idempotency_key: str  # e.g. "handoff:<handoff_id>"; the marker is derived from it
    payload: dict[str, Any] = {}  # for the webhook: the event body to sign and send


class PSAResult(msgspec.Struct, kw_only=True):
    external_id: str | None  # the vendor's note/action id, when it answers one
    already_posted: bool = False  # a previous attempt had posted it; nothing was posted now


class PSAError(Exception):
    """A push failed. `transient` errors (timeouts, 429, 5xx, refused) are retried; others are not.

    The message names the step and at most a status code: never a credential, a URL or the vendor's own words.
    """

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class PSAAdapter(Protocol):
    provider: str

    async def post_note(self, http: httpx.AsyncClient, connection: PSAConnection, note: PSANote) -> PSAResult:
        """Post `note` as an internal note on `note.ticket_ref`, unless a note with its marker is already there."""
        ...


def marker(idempotency_key: str) -> str:
    """The line embedded in a note's text that lets a retried push find the note it already posted."""
    return f"[handoff-ref:{idempotency_key}]"


def note_text(note: PSANote, *, limit: int | None = None) -> str:
    """The note's text, sure to carry its marker (appended if missing) and to fit in `limit` characters."""
    tag = marker(note.idempotency_key)
    text = note.text if tag in note.text else f"{note.text.rstrip()}\n{tag}"
    if limit is not None and len(text) > limit:
        # Cut the body, never the marker: without it a retry would post the note again.
        text = text.replace(tag, "").rstrip()[: limit - len(tag) - 2].rstrip() + "\n" + tag
    return text


def ticket_number(provider: str, ticket_ref: str) -> int:
    """The integer ticket id in `ticket_ref` ("1234" or "#1234"), or a non-transient PSAError."""
    digits = ticket_ref.strip().removeprefix("#")
    if not (digits.isascii() and digits.isdigit()):
        raise PSAError(f"{provider}: ticket reference {ticket_ref[:40]!r} is not a ticket number", transient=False)
    return int(digits)
