"""Opaque keyset cursors over `(created_at, id)`, newest first.

A cursor carries a MAC under the service's key: anything the service did not hand out is refused
before its contents are read, and what it carries is checked again (an aware time in range, a UUID).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import uuid
from datetime import datetime
from typing import Annotated, Any, TypeVar

import msgspec
from sqlalchemy import ColumnElement, Select, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession

from shared.db.models import AISession, HandoffRow
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


def older_than(key: bytes, created_at: Any, row_id: Any, cursor: str) -> ColumnElement[bool]:
    """The rows after `cursor` in newest-first order."""
    after = decode_cursor(key, cursor)
    return or_(created_at < after.created_at, and_(created_at == after.created_at, row_id < after.id))


PagedRow = TypeVar("PagedRow", AISession, HandoffRow)


async def newest_first_page(
    db: AsyncSession,
    query: Select[PagedRow],
    model: type[PagedRow],
    *,
    key: bytes,
    limit: int,
    cursor: str | None,
) -> tuple[list[PagedRow], str | None]:
    """One keyset page of `query`'s rows, newest first, and the cursor of the next page (None on the last)."""
    if cursor:
        query = query.where(older_than(key, model.created_at, model.id, cursor))
    query = query.order_by(model.created_at.desc(), model.id.desc()).limit(limit + 1)
    rows = list((await db.execute(query)).scalars().all())
    page = rows[:limit]
    next_cursor = encode_cursor(key, page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return page, next_cursor
