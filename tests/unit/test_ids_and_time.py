from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.clock import rfc3339, utcnow
from shared.errors import InvalidInput
from shared.ids import new_id
from shared.pagination import cursor_key, decode_cursor, encode_cursor


def test_ids_increase_and_are_version_7() -> None:
    ids = [new_id() for _ in range(10000)]
    assert ids == sorted(ids)
    assert len(set(ids)) == len(ids)
    assert {i.version for i in ids} == {7}
    assert sorted(str(i) for i in ids) == [str(i) for i in ids]


def test_times_are_rfc3339_utc_with_milliseconds() -> None:
    assert rfc3339(datetime(2026, 11, 26, 8, 12, 9, 123456, tzinfo=UTC)) == "2026-11-26T08:12:09.123Z"
    plus_one = timezone(timedelta(hours=1))
    assert rfc3339(datetime(2026, 11, 26, 9, 0, 0, tzinfo=plus_one)) == "2026-11-26T08:00:00.000Z"
    assert utcnow().microsecond % 1000 == 0


def test_cursor_round_trips_and_rejects_garbage() -> None:
    moment, handoff_id, key = utcnow(), new_id(), cursor_key("k" * 43 + "=")
    decoded = decode_cursor(key, encode_cursor(key, moment, handoff_id))
    assert (decoded.created_at, decoded.id) == (moment, handoff_id)
    issued = encode_cursor(key, moment, handoff_id)
    for garbage in ("zzz", "", "!!!", issued[:-3], encode_cursor(cursor_key("another" * 8), moment, handoff_id)):
        with pytest.raises(InvalidInput):
            decode_cursor(key, garbage)
