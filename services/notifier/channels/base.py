"""The seam every way of reaching a senior sits behind.

A channel has a name (its delivery rows' `channel`, registered in shared/channels.py), plans
its rows for an escalation, sends one row's message, and says through `ChannelError.transient` whether
a failure may pass (the row goes back to `pending` and the job is retried) or is final (`failed`).
"""

from __future__ import annotations

import uuid
from typing import Any, Protocol

import httpx
import msgspec

from shared.handoffs.tables import HandoffRow


class ChannelError(Exception):
    """A send failed. `transient` ones (timeouts, 429, 5xx, refused) are retried; others end the row `failed`.

    The message names the step and at most a status code: never a credential, a URL or the far end's own words.
    """

    def __init__(self, message: str, *, transient: bool) -> None:
        super().__init__(message)
        self.transient = transient


class Connection(msgspec.Struct, kw_only=True):
    """An account's integration settings, credentials already decrypted."""

    provider: str  # "connectwise" | "autotask" | "halopsa" | "webhook"
    base_url: str
    credentials: dict[str, Any]

    def credential(self, name: str) -> str:
        """One credential as text, or a non-transient ChannelError naming (never showing) it."""
        value = self.credentials.get(name)
        if value is None or value == "":
            raise ChannelError(f"{self.provider}: credential {name!r} is missing", transient=False)
        return str(value)


class Sent(msgspec.Struct, kw_only=True):
    external_id: str | None  # the far end's id for what was posted, when it answers one
    already_posted: bool = False  # a previous attempt had posted it; nothing was posted now


class Recipient(msgspec.Struct, frozen=True):
    """One delivery row to write: its `recipient` and, for a person, their user id."""

    address: str
    user_id: uuid.UUID | None = None


class Plan(msgspec.Struct, kw_only=True):
    """The rows an escalation gets on a channel, or why its one row cannot be sent (`skip`)."""

    recipients: list[Recipient]
    skip: str = ""


class Notice(msgspec.Struct, kw_only=True):
    """What a channel fed by the account's connection sends about an escalation."""

    ticket_ref: str
    text: str  # plain text; a note-taking channel adds its marker line
    idempotency_key: str  # e.g. "handoff:<handoff_id>", the same on every attempt
    event: dict[str, Any]  # the event as the outbox wrote it, with `link` to the handoff


def marker(idempotency_key: str) -> str:
    """The line embedded in a note's text that lets a retried push find the note it already posted."""
    return f"[handoff-ref:{idempotency_key}]"


def marked(text: str, idempotency_key: str, *, limit: int | None = None) -> str:
    """`text`, sure to carry the marker of `idempotency_key` (appended if missing) and to fit in `limit` characters."""
    tag = marker(idempotency_key)
    text = text if tag in text else f"{text.rstrip()}\n{tag}"
    if limit is not None and len(text) > limit:
        # Cut the body, never the marker: without it a retry would post the note again.
        text = text.replace(tag, "").rstrip()[: limit - len(tag) - 2].rstrip() + "\n" + tag
    return text


class Channel(Protocol):
    """One way a senior is reached."""

    name: str


class ConnectionChannel(Channel, Protocol):
    """A channel fed by the account's integration connection: one row per escalation, to the connection's host."""

    def plan(self, handoff: HandoffRow, connection: Connection, recipient: str) -> Plan:
        """The escalation's row on this channel, or why it is skipped."""
        ...

    async def send(self, http: httpx.AsyncClient, connection: Connection, notice: Notice) -> Sent:
        """Send `notice` once; raises ChannelError."""
        ...
