"""The webhook channel: the handoff event, as written, POSTed as JSON to the account's URL, signed, deduplicated.

The request carries these headers:

- ``Content-Type: application/json``
- ``Idempotency-Key: <notice.idempotency_key>``, the same on every retry; the receiver keeps the keys it has seen
  and answers ``409 Conflict`` to a repeat, which this adapter reports as already posted.
- ``X-Handoff-Timestamp: <unix seconds>``, when this attempt was signed.
- ``X-Handoff-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<raw body>"`` keyed with the UTF-8 bytes
  of the connection's ``signing_secret``.
- The Standard Webhooks headers (https://www.standardwebhooks.com): ``webhook-id`` (the idempotency key),
  ``webhook-timestamp`` (the same seconds) and ``webhook-signature: v1,<base64>``, the HMAC-SHA256 of
  ``"<webhook-id>.<webhook-timestamp>.<raw body>"``. Its key is the base64-decoded part of a ``whsec_<base64>``
  secret, as Standard Webhooks libraries expect; any other secret is used as its UTF-8 bytes, exactly as for
  ``X-Handoff-Signature``.

``signing_secret`` may be a list: every secret signs, and both signature headers then hold one signature per
secret, separated by spaces, in the list's order. A receiver accepts the request when any of them verifies, so it
can move to a new secret while the old one still signs.

To verify, a receiver takes the body bytes exactly as received (before any JSON parsing), computes the HMAC,
compares it with each signature in constant time, and rejects timestamps more than a few minutes from its own
clock so that a captured request cannot be replayed. The body is the event the outbox wrote (the stream's data),
with ``link`` to the handoff, ``ticket_ref`` and ``text`` (the note, marker included) added.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import time
from collections.abc import Callable, Sequence

import httpx
import msgspec

from services.notifier.channels.base import ChannelError, Connection, Notice, Plan, Recipient, Sent, marked
from services.notifier.channels.http import external_id, log, posted_body, send
from shared.handoffs.tables import HandoffRow
from shared.integrations import webhook as settings

SIGNATURE_SCHEME = "sha256"
STANDARD_SECRET_PREFIX = "whsec_"  # noqa: S105 (a prefix, not a secret)


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Handoff-Signature value for `body` sent at `timestamp`: "sha256=" and the hex HMAC-SHA256."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}={digest}"


def standard_key(secret: str) -> bytes:
    """The Standard Webhooks key of a secret: the decoded part of "whsec_<base64>", else the secret's UTF-8 bytes."""
    if secret.startswith(STANDARD_SECRET_PREFIX):
        try:
            return base64.b64decode(secret.removeprefix(STANDARD_SECRET_PREFIX), validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode()


def standard_signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """One `webhook-signature` entry: "v1," and the base64 HMAC-SHA256 of "<id>.<timestamp>.<body>"."""
    digest = hmac.new(standard_key(secret), f"{message_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def signing_secrets(connection: Connection) -> list[str]:
    """The connection's signing secrets, one or a list; a missing or empty one is a non-transient ChannelError."""
    value = connection.credentials.get("signing_secret")
    secrets = value if isinstance(value, list) else [value]
    if not secrets or any(not isinstance(secret, str) or not secret for secret in secrets):
        raise ChannelError("webhook: credential 'signing_secret' is missing", transient=False)
    return list(secrets)


def signature_headers(secrets: Sequence[str], message_id: str, timestamp: int, body: bytes) -> dict[str, str]:
    """Both signature headers and their timestamps, every secret signing."""
    return {
        "X-Handoff-Timestamp": str(timestamp),
        "X-Handoff-Signature": " ".join(signature(secret, timestamp, body) for secret in secrets),
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(standard_signature(s, message_id, timestamp, body) for s in secrets),
    }


class WebhookChannel:
    """Posts the signed event to `connection.base_url`; the receiver answers 409 to a key it has already seen."""

    name = "webhook"
    provider = settings.PROVIDER  # the connection provider that feeds it

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    def plan(self, handoff: HandoffRow, connection: Connection, recipient: str) -> Plan:
        """One row per escalation, whether or not the session names a ticket."""
        return Plan(recipients=[Recipient(recipient)])

    async def send(self, http: httpx.AsyncClient, connection: Connection, notice: Notice) -> Sent:
        """Send the event once per attempt; a 409 means an earlier attempt was received."""
        secrets = signing_secrets(connection)
        text = marked(notice.text, notice.idempotency_key)
        body = msgspec.json.encode({**notice.event, "ticket_ref": notice.ticket_ref, "text": text})
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": notice.idempotency_key,
            **signature_headers(secrets, notice.idempotency_key, timestamp, body),
        }
        response = await send(
            http,
            "POST",
            connection.base_url,
            provider=self.provider,
            action="event post",
            allow=frozenset({409}),
            content=body,
            headers=headers,
        )
        if response.status_code == 409:
            log.info("webhook: the receiver already has %s", notice.idempotency_key)
            return Sent(external_id=None, already_posted=True)
        log.info("webhook: delivered %s", notice.idempotency_key)
        return Sent(external_id=external_id(posted_body(response)))
