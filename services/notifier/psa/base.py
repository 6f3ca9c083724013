"""The interface every PSA adapter implements: post one internal note on a ticket, once."""

from __future__ import annotations

import logging
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


# What every adapter shares: the marker, ticket numbers, credentials, and one way to call a vendor.

log = logging.getLogger("handoff.notifier.psa")

_TRANSIENT_STATUSES = frozenset({408, 425, 429})


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


def credential(connection: PSAConnection, name: str) -> str:
    """One credential of the connection as text, or a non-transient PSAError naming (never showing) it."""
    value = connection.credentials.get(name)
    if value is None or value == "":
        raise PSAError(f"{connection.provider}: credential {name!r} is missing", transient=False)
    return str(value)


def endpoint(base_url: str, path: str) -> str:
    """`path` under `base_url`, whether or not the base ends with a slash."""
    return f"{base_url.rstrip('/')}/{path.lstrip('/')}"


async def send(
    http: httpx.AsyncClient,
    method: str,
    url: str,
    *,
    provider: str,
    action: str,
    allow: frozenset[int] = frozenset(),
    **kwargs: Any,
) -> httpx.Response:
    """Make one vendor call; failures become PSAErrors whose messages name the step, never a credential or URL."""
    try:
        response = await http.request(method, url, **kwargs)
    except httpx.TimeoutException:
        raise PSAError(f"{provider}: {action} timed out", transient=True) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL):
        raise PSAError(f"{provider}: {action} has an unusable base URL", transient=False) from None
    except httpx.TransportError as exc:
        raise PSAError(f"{provider}: {action} failed ({type(exc).__name__})", transient=True) from None
    status = response.status_code
    if response.is_success or status in allow:
        return response
    transient = status >= 500 or status in _TRANSIENT_STATUSES
    log.warning("%s: %s answered HTTP %d", provider, action, status)
    raise PSAError(f"{provider}: {action} answered HTTP {status}", transient=transient)


def json_of(response: httpx.Response, *, provider: str, action: str) -> Any:
    """The response's JSON body; an unreadable one is transient (a proxy's error page, a cut connection)."""
    try:
        return response.json()
    except ValueError:
        raise PSAError(f"{provider}: {action} answered something that is not JSON", transient=True) from None


def posted_body(response: httpx.Response) -> Any:
    """The JSON answer to a post that succeeded, or None when it is unreadable."""
    # The note is posted by now: an odd answer must not become an error whose retry posts it again.
    try:
        return response.json()
    except ValueError:
        return None
