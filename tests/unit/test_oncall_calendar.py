"""Who is on call in a rotation: the contract's rules by example, and against a minute-by-minute walk."""

from __future__ import annotations

import uuid
from bisect import bisect_right
from datetime import UTC, datetime, time, timedelta
from functools import cache
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.oncall.calendar import WEEKDAYS, Override, Rotation, Window
from shared.oncall.resolution import (
    Answer,
    OnCallDocument,
    on_call,
    schedule,
    shifts,
    who_is_on_call,
    who_is_on_call_at,
)

ABE, BEA, CAL, DOT, EVE, FAY = (uuid.UUID(int=n) for n in range(1, 7))
SENIORS = frozenset({ABE, BEA, CAL, DOT, EVE, FAY})
LONDON = "Europe/London"
MINUTE = timedelta(minutes=1)


def utc(year: int, month: int, day: int, hour: int = 0, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=UTC)


def rotation(*members: uuid.UUID, start: datetime, turn_days: int = 7, windows: tuple[Window, ...] = ()) -> Rotation:
    return Rotation(name="primary", members=members, start=start, turn_days=turn_days, windows=windows)


def cover(user: uuid.UUID, start: datetime, end: datetime, name: str = "primary") -> Override:
    return Override(rotation=name, user_id=user, start=start, end=end)


# Examples, one per rule of the contract


def test_nobody_before_start_then_members_take_turns_in_order() -> None:
    weekly = rotation(ABE, BEA, CAL, start=datetime(2027, 1, 4, 9, 0))
    before = on_call(LONDON, weekly, (), SENIORS, utc(2027, 1, 1, 12))
    assert before == Answer(user_id=None, source=None, until=utc(2027, 1, 4, 9))
    owners = [
        on_call(LONDON, weekly, (), SENIORS, utc(2027, 1, 4, 9) + timedelta(days=7 * k)).user_id for k in range(7)
    ]
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


# Properties across real clock changes, against a brute-force walk written without the module's shortcuts

ZONES = ("Europe/London", "America/New_York", "Australia/Lord_Howe", "America/Santiago")
Said = tuple[uuid.UUID | None, str | None]


@cache
def clock_changes(zone_name: str) -> tuple[datetime, ...]:
    """Every instant in 2026-2028 at which the zone's offset changes, to the minute."""
    zone, found = ZoneInfo(zone_name), []
    step, moment = timedelta(minutes=30), utc(2026, 1, 1)
    while moment < utc(2029, 1, 1):
        if moment.astimezone(zone).utcoffset() != (moment + step).astimezone(zone).utcoffset():
            change = moment + MINUTE
            while change.astimezone(zone).utcoffset() == moment.astimezone(zone).utcoffset():
                change += MINUTE
            found.append(change)
        moment += step
    return tuple(found)


@cache
def rfc5545_instant(zone_name: str, wall: datetime) -> datetime:
    """The first instant whose clock reads `wall`; if none does, `wall` at the offset in force before the gap."""
    zone, as_if_utc = ZoneInfo(zone_name), wall.replace(tzinfo=UTC)
    offsets = {(as_if_utc + timedelta(hours=h)).astimezone(zone).utcoffset() for h in range(-30, 31)}
    readings = sorted(
        as_if_utc - offset
        for offset in offsets
        if offset is not None and (as_if_utc - offset).astimezone(zone).replace(tzinfo=None) == wall
    )
    if readings:
        return readings[0]
    before = (as_if_utc - timedelta(days=1)).astimezone(zone).utcoffset()
    assert before is not None
    return as_if_utc - before


class Walk:
    """The contract read literally, one instant at a time."""

    def __init__(self, zone_name: str, rota: Rotation, overrides: tuple[Override, ...], eligible: frozenset[uuid.UUID]):
        self.zone_name, self.zone, self.rota = zone_name, ZoneInfo(zone_name), rota
        self.overrides, self.eligible = overrides, eligible
        self.turn_starts: list[datetime] = []

    def turn_of(self, moment: datetime) -> int | None:
        while not self.turn_starts or self.turn_starts[-1] <= moment:
            k = len(self.turn_starts)
            wall = self.rota.start + timedelta(days=k * self.rota.turn_days)
            self.turn_starts.append(rfc5545_instant(self.zone_name, wall))
        passed = bisect_right(self.turn_starts, moment)
        return None if passed == 0 else passed - 1

    def in_a_window(self, moment: datetime) -> bool:
        today = moment.astimezone(self.zone).date()
        for day in (today - timedelta(days=1), today, today + timedelta(days=1)):
            for window in self.rota.windows:
                if WEEKDAYS[day.weekday()] not in window.days:
                    continue
                ends_on = day + timedelta(days=1) if window.to <= window.from_ else day
                opens = rfc5545_instant(self.zone_name, datetime.combine(day, window.from_))
                closes = rfc5545_instant(self.zone_name, datetime.combine(ends_on, window.to))
                if opens <= moment < closes:
                    return True
        return False

    def said(self, moment: datetime) -> Said:
        user: uuid.UUID | None = None
        source: str | None = None
        for override in reversed(self.overrides):
            if override.rotation == self.rota.name and override.start <= moment < override.end:
                user, source = override.user_id, "override"
                break
        else:
            k = self.turn_of(moment)
            if k is not None and (not self.rota.windows or self.in_a_window(moment)):
                user, source = self.rota.members[k % len(self.rota.members)], "turn"
        return (user, source) if user in self.eligible else (None, None)


class Case:
    def __init__(self, zone_name: str, rota: Rotation, overrides: tuple[Override, ...], eligible: frozenset[uuid.UUID]):
        self.zone_name, self.rota, self.overrides, self.eligible = zone_name, rota, overrides, eligible


@st.composite
def cases(draw: st.DrawFn, zone_name: str) -> tuple[Case, datetime, datetime]:
    zone = ZoneInfo(zone_name)
    change = draw(st.sampled_from(clock_changes(zone_name)))
    length = timedelta(minutes=draw(st.integers(12 * 60, 3 * 24 * 60)))
    since = change - timedelta(minutes=draw(st.integers(0, int(length / MINUTE))))
    before = (change - MINUTE).astimezone(zone).utcoffset()
    assert before is not None
    # Clock readings either side of the change, with the old offset too, so gap and repeat times come up.
    near = (change + before).replace(tzinfo=None)
    tricky = st.integers(-150, 150).map(lambda m: (near + timedelta(minutes=m)).time())
    any_minute = st.integers(0, 24 * 60 - 1).map(lambda m: time(m // 60, m % 60))
    times = st.one_of(tricky, tricky, any_minute)
    first_day = near.date() - timedelta(days=draw(st.one_of(st.integers(-2, 3), st.integers(-2, 30))))
    members = draw(st.lists(st.sampled_from(sorted(SENIORS)), min_size=1, max_size=5, unique=True))
    windows = draw(
        st.lists(
            st.builds(Window, days=st.frozensets(st.sampled_from(WEEKDAYS), min_size=1), from_=times, to=times),
            max_size=3,
        )
    )
    rota = Rotation(
        name="primary",
        members=tuple(members),
        start=datetime.combine(first_day, draw(times)),
        turn_days=draw(st.integers(1, 14)),
        windows=tuple(windows),
    )
    overrides = []
    for _ in range(draw(st.integers(0, 4))):
        start = since + timedelta(minutes=draw(st.integers(-24 * 60, int(length / MINUTE))))
        end = start + timedelta(minutes=draw(st.integers(1, 2 * 24 * 60)))
        name = draw(st.sampled_from(["primary", "primary", "primary", "secondary"]))
        overrides.append(Override(rotation=name, user_id=draw(st.sampled_from(sorted(SENIORS))), start=start, end=end))
    away = draw(st.frozensets(st.sampled_from(sorted(SENIORS)), max_size=2))
    return Case(zone_name, rota, tuple(overrides), SENIORS - away), since, since + length


@pytest.mark.parametrize("zone_name", ZONES)
def test_resolution_matches_a_minute_walk_across_clock_changes(zone_name: str) -> None:
    @settings(max_examples=100, deadline=None, derandomize=True, database=None)
    @given(drawn=cases(zone_name), seconds=st.integers(0, 59))
    def check(drawn: tuple[Case, datetime, datetime], seconds: int) -> None:
        case, since, until = drawn
        walk = Walk(case.zone_name, case.rota, case.overrides, case.eligible)
        minutes = int((until - since) / MINUTE)
        truth = [walk.said(since + n * MINUTE) for n in range(minutes)]

        found = shifts(case.zone_name, case.rota, case.overrides, case.eligible, since, until)
        pieces = sorted(
            [(s.start, s.end, (s.user_id, s.source)) for s in found.shifts]
            + [(g.start, g.end, (None, None)) for g in found.gaps]
        )
        # Shifts and gaps tile the window: no hole, no overlap, nothing empty, neighbours differ.
        assert [s.start for s in found.shifts] == sorted(s.start for s in found.shifts)
        assert pieces[0][0] == since
        assert pieces[-1][1] == until
        for (_, end, said), (start, _, next_said) in pairwise(pieces):
            assert end == start
            assert said != next_said
        assert all(start < end for start, end, _ in pieces)
        # Every minute has the walk's answer.
        for start, end, said in pieces:
            first, last = int((start - since) / MINUTE), int((end - since) / MINUTE)
            assert truth[first:last] == [said] * (last - first), (start, end)

        # `until` is the first instant the answer changes, from each handover and from a moment inside it.
        document = OnCallDocument(time_zone=case.zone_name, rotations=(case.rota,), overrides=case.overrides)
        for start, _, said in pieces:
            at = start + timedelta(seconds=seconds)
            answer = on_call(case.zone_name, case.rota, case.overrides, case.eligible, at)
            assert (answer.user_id, answer.source) == said
            # What a step pages by: the instant alone, at the handover's first microsecond and inside it.
            assert who_is_on_call_at(document, case.eligible, start)["primary"] == said
            assert who_is_on_call_at(document, case.eligible, at)["primary"] == said
            n = int((start - since) / MINUTE) + 1
            while n < minutes and truth[n] == said:
                n += 1
            if n < minutes:
                assert answer.until == since + n * MINUTE
            elif answer.until is not None:
                assert answer.until >= until
                assert walk.said(answer.until) != said
                assert walk.said(answer.until - MINUTE) == said

    check()
