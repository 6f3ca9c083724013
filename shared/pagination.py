"""Opaque keyset cursors over `(time, id)`, newest first, and pages bounded in items and in bytes.

A cursor carries a MAC under the service's key: anything the service did not hand out is refused
before its contents are read, and what it carries is checked again (an aware time in range, a UUID).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Annotated, Any, Generic, NamedTuple, TypeVar

import msgspec
from sqlalchemy import ColumnElement, Row, Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from shared.errors import InvalidInput
from shared.input_rules import require_in_range

MAC_BYTES = 16


class Cursor(msgspec.Struct, array_like=True):
    created_at: Annotated[datetime, msgspec.Meta(tz=True)]
    id: uuid.UUID

    def __post_init__(self) -> None:
        require_in_range("the cursor's time", self.created_at)


def cursor_key(secret: str) -> bytes:
    """The key that signs cursors, derived from the service's secret so no new setting is needed."""
    return hmac.new(secret.encode(), b"handoff pagination cursor v1", hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _mac(key: bytes, raw: bytes) -> bytes:
    return hmac.new(key, raw, hashlib.sha256).digest()[:MAC_BYTES]


def encode_cursor(key: bytes, created_at: datetime, row_id: uuid.UUID) -> str:
    raw = msgspec.json.encode(Cursor(created_at, row_id))
    return f"{_b64(raw)}.{_b64(_mac(key, raw))}"


def decode_cursor(key: bytes, cursor: str) -> Cursor:
    refused = InvalidInput("cursor is not one this service handed out")
    body, dot, tag = cursor.partition(".")
    if not dot or not cursor.isascii():
        raise refused
    try:
        raw, mac = _unb64(body), _unb64(tag)
    except (binascii.Error, ValueError) as exc:
        raise refused from exc
    if not hmac.compare_digest(mac, _mac(key, raw)):
        raise refused
    try:
        return msgspec.json.decode(raw, type=Cursor)
    except (ValueError, msgspec.DecodeError) as exc:
        raise refused from exc


def older_than(key: bytes, at: Any, row_id: Any, cursor: str) -> ColumnElement[bool]:
    """The rows after `cursor` in newest-first order of `(at, row_id)`."""
    after = decode_cursor(key, cursor)
    return or_(at < after.created_at, and_(at == after.created_at, row_id < after.id))


FETCH_BATCH = 16  # rows read per round trip: a page that stops early at the byte cap reads little past it
# `{"items":[` + `],"next_cursor":` + `}`: what a page's body holds besides its items and its cursor.
PAGE_ENVELOPE_BYTES = len(b'{"items":[],"next_cursor":}')

Item = TypeVar("Item")
RowShape = TypeVar("RowShape", bound=tuple[Any, ...])


class Positioned(NamedTuple, Generic[Item]):
    """A rendered item and its place in the newest-first order: the key a cursor after it carries."""

    item: Item
    at: datetime
    id: uuid.UUID


class PageFiller(Generic[Item]):
    """Takes items in order until the page holds `limit` of them or would pass `max_bytes` of JSON.

    The byte count is the whole body's (items, separators, envelope and the next cursor), so no page is
    larger than the cap; the first item always goes in, so a single item larger than the cap still moves on.
    """

    def __init__(self, *, key: bytes, limit: int, max_bytes: int) -> None:
        self._key, self._limit, self._max_bytes = key, limit, max_bytes
        self._items: list[Item] = []
        self._used = PAGE_ENVELOPE_BYTES
        self._last: Positioned[Item] | None = None
        self.next_cursor: str | None = None

    def offer(self, candidate: Positioned[Item]) -> bool:
        """Add the item if it fits; False (and the next page's cursor set) once the page is full."""
        if self._last is not None:
            size = 1 + len(msgspec.json.encode(candidate.item))  # with its separating comma
            fits = self._used + size + self._cursor_bytes(candidate) <= self._max_bytes
            if len(self._items) >= self._limit or not fits:
                self.next_cursor = encode_cursor(self._key, self._last.at, self._last.id)
                return False
        else:
            size = len(msgspec.json.encode(candidate.item))
        self._items.append(candidate.item)
        self._used += size
        self._last = candidate
        return True

    def _cursor_bytes(self, after: Positioned[Item]) -> int:
        return len(encode_cursor(self._key, after.at, after.id)) + 2  # quoted

    @property
    def items(self) -> list[Item]:
        return self._items


async def newest_first_page(
    db: AsyncSession,
    query: Select[RowShape],
    *,
    at: ColumnElement[datetime] | InstrumentedAttribute[datetime] | InstrumentedAttribute[datetime | None],
    row_id: ColumnElement[uuid.UUID] | InstrumentedAttribute[uuid.UUID],
    render: Callable[[Sequence[Row[RowShape]]], Awaitable[Sequence[Positioned[Item]]]],
    key: bytes,
    limit: int,
    max_bytes: int,
    cursor: str | None,
) -> tuple[list[Item], str | None]:
    """One keyset page of `query`, newest first by `(at, row_id)`, and the cursor of the next page (None on the last).

    Rows are read and rendered a batch at a time, so a page that stops at the byte cap leaves the rest unread.
    """
    if cursor:
        query = query.where(older_than(key, at, row_id, cursor))
    query = query.order_by(at.desc(), row_id.desc()).limit(limit + 1).execution_options(yield_per=FETCH_BATCH)
    filler: PageFiller[Item] = PageFiller(key=key, limit=limit, max_bytes=max_bytes)
    result = await db.stream(query)
    try:
        async for rows in result.partitions():
            for candidate in await render(rows):
                if not filler.offer(candidate):
                    return filler.items, filler.next_cursor
    finally:
        await result.close()
    return filler.items, None
