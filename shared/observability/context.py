"""The request id of the work in hand: born at the edge, kept beside outbox rows, carried in job payloads."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

# The key under which a request id travels inside job payloads.
REQUEST_ID_KEY = "request_id"

_VALID = re.compile(r"[A-Za-z0-9._-]{1,128}")
_current: ContextVar[str | None] = ContextVar("handoff_request_id", default=None)


def valid_request_id(value: str | None) -> bool:
    """The contract's rule: 1..128 of `A-Z a-z 0-9 - _ .`."""
    return value is not None and _VALID.fullmatch(value) is not None


def new_request_id() -> str:
    return uuid.uuid4().hex


def current_request_id() -> str | None:
    return _current.get()


@contextmanager
def bound_request_id(value: str | None) -> Iterator[str | None]:
    """Make `value` the request id of everything done (and logged) inside the block."""
    token = _current.set(value if valid_request_id(value) else None)
    try:
        yield _current.get()
    finally:
        _current.reset(token)


def with_request_id(payload: dict[str, Any], request_id: str | None) -> dict[str, Any]:
    """A job's `payload` carrying `request_id`, when there is one and it does not carry one already."""
    if request_id is None or REQUEST_ID_KEY in payload:
        return payload
    return {**payload, REQUEST_ID_KEY: request_id}


def request_id_of(payload: object) -> str | None:
    """The request id a payload carries, if it is a valid one."""
    value = payload.get(REQUEST_ID_KEY) if isinstance(payload, dict) else None
    return value if isinstance(value, str) and valid_request_id(value) else None
