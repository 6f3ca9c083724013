"""The event bus: one ordered, retained stream of events per account."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import NamedTuple, Protocol

import msgspec

ZERO_ID = "0-0"


class StreamEntry(msgspec.Struct, frozen=True):
    """One event as stored: its stream id (`<ms>-<seq>`), type, and one-line JSON data."""

    id: str
    type: str
    data: bytes


class BusUnavailable(Exception):
    """The bus could not be reached; the caller keeps what it meant to send and tries later."""


class EventNotReplicated(BusUnavailable):
    """The master took the event, but fewer replicas than required confirmed it: publish it again later.

    `stream_id` is the id it got, for the next publish to ask for: if a failover took the event with the
    old master, it comes back under the id dashboards may already have seen.
    """

    def __init__(self, message: str, *, stream_id: str) -> None:
        super().__init__(message)
        self.stream_id = stream_id


MAX_ID_PART = 2**64 - 1
_STREAM_ID = re.compile(r"([0-9]{1,20})-([0-9]{1,20})")


def parse_id(entry_id: str) -> tuple[int, int]:
    """`"1700000000000-3"` → `(1700000000000, 3)`; raises ValueError on anything else.

    Both parts are required and unsigned 64-bit, as Redis has them: `5-` or `1-99999999999999999999` is no id.
    """
    match = _STREAM_ID.fullmatch(entry_id)
    if match is None:
        raise ValueError("not a stream id")
    ms, seq = int(match.group(1)), int(match.group(2))
    if ms > MAX_ID_PART or seq > MAX_ID_PART:
        raise ValueError("not a stream id")
    return ms, seq


def is_stream_id(value: str) -> bool:
    try:
        parse_id(value)
    except ValueError:
        return False
    return True


def stream_key(account_id: str) -> str:
    """The account's stream; the braces hash-tag it so Redis Cluster keeps it on one shard."""
    return f"handoff:events:{{{account_id}}}"


class Publish(NamedTuple):
    """One event of `Bus.publish_many`, as `publish` takes it."""

    account_id: str
    event_type: str
    data: bytes
    dedupe_key: str | None = None
    stream_id: str | None = None


class Bus(Protocol):
    async def publish(
        self,
        account_id: str,
        event_type: str,
        data: bytes,
        *,
        dedupe_key: str | None = None,
        stream_id: str | None = None,
    ) -> str:
        """Append an event; with `dedupe_key`, a second publish returns the first one's id and appends nothing.

        With `dedupe_key`, `stream_id` asks for that id (the one an earlier, unconfirmed publish got): it is
        taken while it is newer than the stream's newest event, else the event gets a new one.
        """
        ...

    async def publish_many(self, events: Sequence[Publish]) -> None:
        """Publish `events` in order, each as `publish` would, in as few round trips as the bus can.

        Raises as `publish` does. Which of them went out before a failure is not said: each carries a
        `dedupe_key`, so publishing them again appends none twice.
        """
        ...

    async def read_after(self, account_id: str, after_id: str, count: int = 500) -> list[StreamEntry]:
        """Up to `count` events with ids strictly greater than `after_id`, oldest first."""
        ...

    async def tip(self, account_id: str) -> str:
        """The id of the account's latest event, or `0-0` when it has none."""
        ...

    async def trimmed_after(self, account_id: str, after_id: str) -> bool:
        """True when events after `after_id` are no longer retained (trimmed, or the stream was reset)."""
        ...

    async def tail(self, cursors: Mapping[str, str], block_ms: int) -> list[tuple[str, StreamEntry]]:
        """Wait until any account has events after its cursor (or `block_ms`, or `interrupt_tail`).

        `cursors` is read live: an account the caller adds while the tail waits is served from its next
        event. The tail may also return early with nothing; the caller simply calls again.
        """
        ...

    async def interrupt_tail(self) -> None:
        """Make a blocked `tail` return now, e.g. because the set of accounts changed."""
        ...

    async def ping(self) -> bool: ...

    async def close(self) -> None: ...
