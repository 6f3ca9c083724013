"""The input rules every body and query follows: no control characters, bounded nesting, sane times.

Free text (message content, a handoff note, context) may hold tab, LF and CR; one-line fields may not.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from shared.errors import InvalidInput

MAX_JSON_DEPTH = 32
# C0 controls but tab, LF and CR; lone surrogates cannot be stored as UTF-8 at all.
_NOT_FREE_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff]")
# One line: no C0 control at all, and none of Unicode's other line breaks either.
_NOT_ONE_LINE = re.compile("[\x00-\x1f\x85\u2028\u2029\ud800-\udfff]")

EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
# A day short of the end of year 9999, so that any offset still converts to UTC.
LATEST = datetime(9999, 12, 31, tzinfo=UTC)


class _Refused(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.path: list[str] = []


def _walk(value: Any, depth: int) -> None:
    if isinstance(value, str):
        if _NOT_FREE_TEXT.search(value):
            raise _Refused("holds a control character")
        return
    if isinstance(value, dict):
        items: Any = value.items()
    elif isinstance(value, list):
        items = enumerate(value)
    else:
        return
    if depth >= MAX_JSON_DEPTH:
        raise _Refused(f"is nested deeper than {MAX_JSON_DEPTH} levels")
    for key, item in items:
        try:
            if isinstance(key, str) and _NOT_FREE_TEXT.search(key):
                raise _Refused("has a key holding a control character")
            _walk(item, depth + 1)
        except _Refused as refused:
            refused.path.append(f"[{key}]" if isinstance(key, int) else f".{key}")
            raise


def _field_name(path: list[str]) -> str:
    name = "".join(reversed(path)).lstrip(".")
    return name or "the body"


def check_json_document(document: Any, what: str = "body") -> None:
    """Raise InvalidInput naming the field when a decoded JSON document breaks the input rules."""
    try:
        _walk(document, 0)
    except _Refused as refused:
        name = _field_name(refused.path) if refused.path else f"the {what}"
        raise InvalidInput(f"{_display(name)} {refused.reason}") from None


def _display(name: str) -> str:
    # Field names come from the caller: show them as one line of bounded length.
    shown = _NOT_ONE_LINE.sub("?", name)
    return shown if len(shown) <= 120 else shown[:117] + "..."


def require_one_line(field: str, value: str | None) -> None:
    """`title`, `ticket_ref`, a user's `name` and `email`: one line, no control characters."""
    if value is not None and _NOT_ONE_LINE.search(value):
        raise ValueError(f"{field} must be one line without control characters")


def require_in_range(field: str, value: datetime | None) -> None:
    """A time the service stores or compares: with an offset, between the years 2000 and 9999."""
    if value is None:
        return
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{field} must carry a UTC offset")
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"{field} must lie between the years 2000 and 9999")


def check_query_value(name: str, value: str) -> None:
    """A query string value is never free text: no control character at all."""
    if _NOT_ONE_LINE.search(name) or _NOT_ONE_LINE.search(value):
        raise InvalidInput(f"query parameter {_display(name)} holds a control character")
