"""Who is on call in a rotation: the contract's rules by example, and against a minute-by-minute walk."""

from __future__ import annotations

import uuid
from bisect import bisect_right
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.oncall.calendar import WEEKDAYS, Override, Rotation, Window
from shared.oncall.resolution import Answer, OnCallDocument, on_call, schedule, shifts, who_is_on_call

ABE, BEA, CAL, DOT, EVE, FAY = (uuid.UUID(int=n) for n in range(1, 7))
SENIORS = frozenset({ABE, BEA, CAL, DOT, EVE, FAY})
LONDON = "Europe/London"
MINUTE = timedelta(minutes=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)  # type: ignore[misc]


def rotation(*members: uuid.UUID, start: datetime, turn_days: int = 7, windows: tuple[Window, ...] = ()) -> Rotation:
    return Rotation(name="primary", members=members, start=start, turn_days=turn_days, windows=windows)


def cover(user: uuid.UUID, start: datetime, end: datetime, name: str = "primary") -> Override:
    return Override(rotation=name, user_id=user, start=start, end=end)


# Examples, one per rule of the contract


def test_nobody_before_start_then_members_take_turns_in_order() -> None:
    weekly = rotation(ABE, BEA, CAL, start=datetime(2027, 1, 4, 9, 0))
    before = on_call(LONDON, weekly, (), SENIORS, utc(2027, 1, 1, 12))
    assert before == Answer(user_id=None, source=None, until=utc(2027, 1, 4, 9))
    owners = [on_call(LONDON, weekly, (), SENIORS, utc(2027, 1, 4, 9) + timedelta(days=7 * k)).user_id for k in range(7)]
    assert owners == [ABE, BEA, CAL, ABE, BEA, CAL, ABE]


def test_a_start_in_the_spring_forward_gap_is_read_with_the_offset_before_it() -> None:
    # 01:30 never happens in London on 28 March 2027: it is 02:30 BST, 01:30 UTC.
    daily = rotation(ABE, BEA, start=datetime(2027, 3, 28, 1, 30), turn_days=1)
    assert on_call(LONDON, daily, (), SENIORS, utc(2027, 3, 28, 1, 29)).until == utc(2027, 3, 28, 1, 30)
    assert datetime(2027, 3, 28, 1, 30, tzinfo=UTC).astimezone(ZoneInfo(LONDON)).hour == 2
    # The next turn is 01:30 BST the next day, 00:30 UTC.
    assert on_call(LONDON, daily, (), SENIORS, utc(2027, 3, 28, 1, 30)) == Answer(
        user_id=ABE, source="turn", until=utc(2027, 3, 29, 0, 30)
    )


def test_a_start_that_happens_twice_is_its_first_occurrence() -> None:
    # 01:30 happens twice in London on 31 October 2027: first as BST (00:30 UTC), then as GMT.
    daily = rotation(ABE, BEA, start=datetime(2027, 10, 31, 1, 30), turn_days=1)
    assert on_call(LONDON, daily, (), SENIORS, utc(2027, 10, 31, 0, 29)).until == utc(2027, 10, 31, 0, 30)
    assert on_call(LONDON, daily, (), SENIORS, utc(2027, 10, 31, 0, 30)).user_id == ABE
    # The next day 01:30 is GMT again, 25 hours later.
    assert on_call(LONDON, daily, (), SENIORS, utc(2027, 10, 31, 0, 30)).until == utc(2027, 11, 1, 1, 30)


def test_turns_hand_over_at_the_same_local_time_across_a_clock_change() -> None:
    weekly = rotation(ABE, BEA, start=datetime(2027, 3, 22, 9, 0))
    first = on_call(LONDON, weekly, (), SENIORS, utc(2027, 3, 25, 12))
    # 09:00 GMT before the change, 09:00 BST (08:00 UTC) after it.
    assert first == Answer(user_id=ABE, source="turn", until=utc(2027, 3, 29, 8))
    assert on_call(LONDON, weekly, (), SENIORS, utc(2027, 3, 29, 8)).user_id == BEA
    autumn = rotation(ABE, BEA, start=datetime(2027, 10, 25, 9, 0), turn_days=7)
    assert on_call(LONDON, autumn, (), SENIORS, utc(2027, 10, 27)).until == utc(2027, 11, 1, 9)


def test_a_window_past_midnight_belongs_to_the_day_it_starts() -> None:
    nights = Window(days=frozenset({"fri"}), from_=time(22, 0), to=time(6, 0))
    weekly = rotation(ABE, start=datetime(2027, 1, 4, 0, 0), windows=(nights,))
    # Friday 15 January 2027 22:00 to Saturday 06:00, London in winter is UTC.
    week = shifts(LONDON, weekly, (), SENIORS, utc(2027, 1, 11), utc(2027, 1, 18))
    assert [(s.user_id, s.start, s.end) for s in week.shifts] == [(ABE, utc(2027, 1, 15, 22), utc(2027, 1, 16, 6))]
    assert [(g.start, g.end) for g in week.gaps] == [
        (utc(2027, 1, 11), utc(2027, 1, 15, 22)),
        (utc(2027, 1, 16, 6), utc(2027, 1, 18)),
    ]


def test_a_window_whose_to_equals_from_lasts_until_the_same_time_next_day() -> None:
    day_long = Window(days=frozenset({"mon"}), from_=time(9, 0), to=time(9, 0))
    weekly = rotation(ABE, start=datetime(2027, 1, 4, 0, 0), windows=(day_long,))
    answer = on_call(LONDON, weekly, (), SENIORS, utc(2027, 1, 11, 9))
    assert answer == Answer(user_id=ABE, source="turn", until=utc(2027, 1, 12, 9))


def test_time_outside_windows_still_counts_towards_the_turn() -> None:
    office = Window(days=frozenset(WEEKDAYS[:5]), from_=time(9, 0), to=time(17, 30))
    daily = rotation(ABE, BEA, start=datetime(2027, 1, 4, 0, 0), turn_days=1, windows=(office,))
    monday = on_call(LONDON, daily, (), SENIORS, utc(2027, 1, 4, 10))
    assert monday == Answer(user_id=ABE, source="turn", until=utc(2027, 1, 4, 17, 30))
    assert on_call(LONDON, daily, (), SENIORS, utc(2027, 1, 4, 18)).until == utc(2027, 1, 5, 9)
    assert on_call(LONDON, daily, (), SENIORS, utc(2027, 1, 5, 9)).user_id == BEA
    # Saturday's turn is Abe's, but outside every window: nobody until Monday's window, Bea's turn then.
    weekend = on_call(LONDON, daily, (), SENIORS, utc(2027, 1, 9, 12))
    assert weekend == Answer(user_id=None, source=None, until=utc(2027, 1, 11, 9))
    assert on_call(LONDON, daily, (), SENIORS, utc(2027, 1, 11, 9)).user_id == BEA


def test_overrides_win_over_turns_and_windows_and_the_later_override_wins() -> None:
    office = Window(days=frozenset({"mon"}), from_=time(9, 0), to=time(17, 0))
    weekly = rotation(ABE, start=datetime(2027, 1, 4, 0, 0), windows=(office,))
    overrides = (
        cover(BEA, utc(2027, 1, 4, 8), utc(2027, 1, 4, 12)),
        cover(CAL, utc(2027, 1, 4, 10), utc(2027, 1, 4, 11)),
        cover(DOT, utc(2027, 1, 4, 10), utc(2027, 1, 4, 20), name="secondary"),
    )
    day = shifts(LONDON, weekly, overrides, SENIORS, utc(2027, 1, 4, 7), utc(2027, 1, 4, 18))
    assert [(s.user_id, s.source, s.start.hour, s.end.hour) for s in day.shifts] == [
        (BEA, "override", 8, 10),
        (CAL, "override", 10, 11),
        (BEA, "override", 11, 12),
        (ABE, "turn", 12, 17),
    ]
    assert [(g.start.hour, g.end.hour) for g in day.gaps] == [(7, 8), (17, 18)]


def test_an_inactive_member_or_override_user_counts_as_nobody() -> None:
    weekly = rotation(ABE, BEA, start=datetime(2027, 1, 4, 9, 0))
    without_abe = SENIORS - {ABE}
    assert on_call(LONDON, weekly, (), without_abe, utc(2027, 1, 5)) == Answer(
        user_id=None, source=None, until=utc(2027, 1, 11, 9)
    )
    by_abe = (cover(ABE, utc(2027, 1, 12), utc(2027, 1, 13)),)
    assert on_call(LONDON, weekly, by_abe, without_abe, utc(2027, 1, 12, 6)).user_id is None


def test_adjacent_pieces_of_one_senior_and_source_are_one_shift() -> None:
    alone = rotation(ABE, start=datetime(2027, 1, 4, 9, 0), turn_days=1)
    overrides = (cover(ABE, utc(2027, 1, 6), utc(2027, 1, 7)), cover(ABE, utc(2027, 1, 7), utc(2027, 1, 8)))
    week = shifts(LONDON, alone, overrides, SENIORS, utc(2027, 1, 4), utc(2027, 1, 11))
    assert [(s.source, s.start, s.end) for s in week.shifts] == [
        ("turn", utc(2027, 1, 4, 9), utc(2027, 1, 6)),
        ("override", utc(2027, 1, 6), utc(2027, 1, 8)),
        ("turn", utc(2027, 1, 8), utc(2027, 1, 11)),
    ]


def test_until_is_null_when_nothing_changes_within_366_days() -> None:
    alone = rotation(ABE, start=datetime(2027, 1, 4, 9, 0), turn_days=1)
    assert on_call(LONDON, alone, (), SENIORS, utc(2027, 2, 1)) == Answer(user_id=ABE, source="turn", until=None)
    yearly = rotation(ABE, BEA, start=datetime(2027, 1, 4, 9, 0), turn_days=365)
    assert on_call(LONDON, yearly, (), SENIORS, utc(2027, 1, 4, 9)).until == utc(2028, 1, 4, 9)


def test_a_document_answers_per_rotation_and_sorts_shifts_by_start() -> None:
    primary = rotation(ABE, BEA, start=datetime(2027, 1, 4, 9, 0))
    secondary = Rotation(name="secondary", members=(CAL,), start=datetime(2027, 1, 5, 9, 0), turn_days=1)
    document = OnCallDocument(time_zone=LONDON, rotations=(primary, secondary))
    now = who_is_on_call(document, SENIORS, utc(2027, 1, 4, 12))
    assert list(now) == ["primary", "secondary"]
    assert (now["primary"].user_id, now["secondary"].user_id) == (ABE, None)
    week = schedule(document, SENIORS, utc(2027, 1, 4), utc(2027, 1, 12))
    assert [(s.rotation, s.start) for s in week.shifts] == [
        ("primary", utc(2027, 1, 4, 9)),
        ("secondary", utc(2027, 1, 5, 9)),
        ("primary", utc(2027, 1, 11, 9)),
    ]
    assert [(g.rotation, g.start) for g in week.gaps] == [("primary", utc(2027, 1, 4)), ("secondary", utc(2027, 1, 4))]


def test_window_edges_are_read_like_every_other_local_time() -> None:
    # Sunday 28 March 2027: 01:30 is 02:30 BST, so a window from 01:30 opens at 01:30 UTC, not at 02:00 BST.
    small_hours = Window(days=frozenset({"sun"}), from_=time(1, 30), to=time(4, 0))
    weekly = rotation(ABE, start=datetime(2027, 3, 22, 0, 0), windows=(small_hours,))
    spring = shifts(LONDON, weekly, (), SENIORS, utc(2027, 3, 27, 23), utc(2027, 3, 28, 6))
    assert [(s.start, s.end) for s in spring.shifts] == [(utc(2027, 3, 28, 1, 30), utc(2027, 3, 28, 3))]
    # Sunday 31 October 2027: 01:00-01:30 happens twice; the window is its first occurrence only.
    repeated = Window(days=frozenset({"sun"}), from_=time(1, 0), to=time(1, 30))
    autumn = rotation(ABE, start=datetime(2027, 10, 25, 0, 0), windows=(repeated,))
    fall = shifts(LONDON, autumn, (), SENIORS, utc(2027, 10, 30, 23), utc(2027, 10, 31, 3))
    assert [(s.start, s.end) for s in fall.shifts] == [(utc(2027, 10, 31, 0), utc(2027, 10, 31, 0, 30))]
