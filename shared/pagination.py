"""Opaque keyset cursors over `(created_at, id)`, newest first."""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime
from typing import Any

import msgspec
from sqlalchemy import ColumnElement, and_, or_

from shared.errors import InvalidInput


class Cursor(msgspec.Struct, array_like=True):
    created_at: datetime
    id: uuid.UUID


def encode_cursor(created_at: datetime, row_id: uuid.UUID) -> str:
    raw = msgspec.json.encode(Cursor(created_at, row_id))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Cursor:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return msgspec.json.decode(raw, type=Cursor)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise InvalidInput("cursor is not one this service handed out") from exc


def older_than(created_at: Any, row_id: Any, cursor: str) -> ColumnElement[bool]:
    """The rows after `cursor` in newest-first order."""
    after = decode_cursor(cursor)
    return or_(created_at < after.created_at, and_(created_at == after.created_at, row_id < after.id))
