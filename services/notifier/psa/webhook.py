"""A generic signed webhook: the handoff event POSTed as JSON to the account's URL, deduplicated by its receiver.

The request carries these headers:

- ``Content-Type: application/json``
- ``Idempotency-Key: <note.idempotency_key>``, the same on every retry; the receiver keeps the keys it has seen
  and answers ``409 Conflict`` to a repeat, which this adapter reports as already posted.
- ``X-Handoff-Timestamp: <unix seconds>``, when this attempt was signed.
- ``X-Handoff-Signature: sha256=<hex>``, the HMAC-SHA256 of ``"<timestamp>.<raw body>"`` keyed with the
  connection's ``signing_secret`` (UTF-8).

To verify, a receiver takes the body bytes exactly as received (before any JSON parsing), computes
``hmac_sha256(signing_secret, timestamp + "." + body)`` in hex, compares it with the header in constant time,
and rejects timestamps more than a few minutes from its own clock so that a captured request cannot be replayed.
The body is ``note.payload`` with ``ticket_ref`` and ``text`` (the note, marker included) added.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

import httpx
import msgspec

from services.notifier.psa.base import PSAConnection, PSANote, PSAResult, note_text
from services.notifier.psa.http import external_id, log, posted_body, send

SIGNATURE_SCHEME = "sha256"


def signature(secret: str, timestamp: int, body: bytes) -> str:
    """The X-Handoff-Signature value for `body` sent at `timestamp`: "sha256=" and the hex HMAC-SHA256."""
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"{SIGNATURE_SCHEME}={digest}"


class WebhookAdapter:
    """Posts the signed event to `connection.base_url`; the receiver answers 409 to a key it has already seen."""

    provider = "webhook"

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock

    async def post_note(self, http: httpx.AsyncClient, connection: PSAConnection, note: PSANote) -> PSAResult:
        """Send the event once per attempt; a 409 means an earlier attempt was received."""
        secret = connection.credential("signing_secret")
        body = msgspec.json.encode({**note.payload, "ticket_ref": note.ticket_ref, "text": note_text(note)})
        timestamp = int(self._clock())
        headers = {
            "Content-Type": "application/json",
            "Idempotency-Key": note.idempotency_key,
            "X-Handoff-Timestamp": str(timestamp),
            "X-Handoff-Signature": signature(secret, timestamp, body),
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
            log.info("webhook: the receiver already has %s", note.idempotency_key)
            return PSAResult(external_id=None, already_posted=True)
        log.info("webhook: delivered %s", note.idempotency_key)
        return PSAResult(external_id=external_id(posted_body(response)))
