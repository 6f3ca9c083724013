"""The interface every PSA adapter implements: post one internal note on a ticket, once."""

from __future__ import annotations

from typing import Any, Protocol

import httpx
import msgspec


class PSAConnection(msgspec.Struct, kw_only=True):
    """An account's PSA settings, credentials already decrypted."""

    provider: str  # "connectwise" | "autotask" | "halopsa" | "webhook"
    base_url: str
    credentials: dict[str, Any]


class PSANote(msgspec.Struct, kw_only=True):
    ticket_ref: str
    text: str  # plain text; already contains the idempotency marker line
    idempotency_key: str  # e.g. "handoff:<handoff_id>"; the marker is derived from it
    payload: dict[str, Any] = {}  # for the webhook: the event body to sign and send


class PSAResult(msgspec.Struct, kw_only=True):
    external_id: str | None  # the vendor's note/action id, when it answers one
    already_posted: bool = False  # a previous attempt had posted it; nothing was posted now


class PSAError(Exception):
    """A push failed. `transient` errors (timeouts, 429, 5xx, refused) are retried; others are not."""

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class PSAAdapter(Protocol):
    provider: str

    async def post_note(self, http: httpx.AsyncClient, connection: PSAConnection, note: PSANote) -> PSAResult:
        """Post `note` as an internal note on `note.ticket_ref`, unless a note with its marker is already there."""
        ...
