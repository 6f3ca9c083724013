"""Chat destinations on the wire (API.md, Chat channels): what a PUT may hold, and what is answered (never a URL)."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

ChatKind = Literal["teams", "slack"]
MAX_DESTINATIONS = 5
MAX_LABEL = 80
MAX_URL = 2048

Label = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_LABEL, description="one line, unique in the account")]
WebhookURL = Annotated[
    str,
    msgspec.Meta(
        min_length=1,
        max_length=MAX_URL,
        description="the webhook URL, a credential: stored sealed, never answered; omit it to keep the one stored",
    ),
]


class ChatDestinationPut(msgspec.Struct, kw_only=True):
    kind: ChatKind
    label: Label
    enabled: bool = True
    # Omitted (or null): keep the URL stored for the destination of this label and kind.
    url: WebhookURL | None = None


class ChatDestinationsPut(msgspec.Struct, kw_only=True):
    destinations: Annotated[list[ChatDestinationPut], msgspec.Meta(max_length=MAX_DESTINATIONS)]


class ChatDestinationOut(msgspec.Struct, kw_only=True):
    kind: ChatKind
    label: str
    enabled: bool
    host: str  # the URL's host alone: never its path, query or userinfo
    url_set: bool


class ChatDestinations(msgspec.Struct, kw_only=True):
    destinations: list[ChatDestinationOut]


class ChatTestPost(msgspec.Struct, kw_only=True):
    label: Label


class ChatTestResult(msgspec.Struct, kw_only=True):
    """How the far end answered a test post: its status, never its body or the URL."""

    label: str
    kind: ChatKind
    sent: bool
    http_status: int | None
    detail: str
