"""Calendar arithmetic for rotations: the one place where local wall times become instants.

Every local wall time (a rotation's `start`, each turn's start, each window's `from` and `to`) is read
the RFC 5545 way: a time that happens twice is its first occurrence, and a time that never happens is
read with the offset in force before the gap. That is exactly what `zoneinfo` does with `fold=0`.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

import msgspec

Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """On each listed local weekday from `from_` (inclusive) to `to` (exclusive); `to` <= `from_` ends the next day."""

    days: frozenset[Weekday]
    from_: time = msgspec.field(name="from")
    to: time


class Rotation(msgspec.Struct, frozen=True, kw_only=True):
    """Turn k starts at local `start` + k * `turn_days` calendar days and belongs to `members[k mod n]`."""

    name: str
    members: tuple[uuid.UUID, ...]
    start: datetime
    turn_days: int
    windows: tuple[Window, ...] = ()

    def __post_init__(self) -> None:
        if not self.members or self.turn_days < 1 or self.start.tzinfo is not None:
            raise ValueError("a rotation needs members, turn_days >= 1 and a naive local start")


class Override(msgspec.Struct, frozen=True, kw_only=True):
    """Puts `user_id` on call in `rotation` for [start, end), whatever the turn and windows say."""

    rotation: str
    user_id: uuid.UUID
    start: datetime
    end: datetime

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("override times must be aware")


class Duty(msgspec.Struct, frozen=True):
    """A stretch [start, end) in UTC during which `user_id` holds the turn inside a window."""

    start: datetime
    end: datetime
    user_id: uuid.UUID


def read_wall_time(zone: ZoneInfo, wall: datetime) -> datetime:
    """The UTC instant of a naive local wall time, read the RFC 5545 way (fold=0 does exactly that)."""
    return wall.replace(tzinfo=zone, fold=0).astimezone(UTC)


def as_utc(moment: datetime) -> datetime:
    """An aware instant in UTC; comparing aware times that share a zone would compare wall clocks instead."""
    if moment.tzinfo is None:
        raise ValueError("instants must be aware")
    return moment.astimezone(UTC)


def turn_start(zone: ZoneInfo, rotation: Rotation, k: int) -> datetime:
    """When turn k begins: calendar days on the wall clock, so the same local time whatever the offset does."""
    return read_wall_time(zone, rotation.start + timedelta(days=k * rotation.turn_days))


def turn_at(zone: ZoneInfo, rotation: Rotation, moment: datetime) -> int | None:
    """The index of the turn holding `moment`, or None before the rotation starts."""
    if moment < turn_start(zone, rotation, 0):
        return None
    local = moment.astimezone(zone).replace(tzinfo=None)
    # The wall-clock estimate is off by at most one turn near a clock change; the loops settle it.
    k = max(0, (local - rotation.start).days // rotation.turn_days)
    while k > 0 and turn_start(zone, rotation, k) > moment:
        k -= 1
    while turn_start(zone, rotation, k + 1) <= moment:
        k += 1
    return k


def _turns(zone: ZoneInfo, rotation: Rotation, since: datetime, until: datetime) -> Iterator[Duty]:
    """The turns overlapping [since, until), clipped to it."""
    k = turn_at(zone, rotation, since)
    if k is None:
        k = 0
    begins = turn_start(zone, rotation, k)
    while begins < until:
        ends = turn_start(zone, rotation, k + 1)
        yield Duty(max(begins, since), min(ends, until), rotation.members[k % len(rotation.members)])
        k, begins = k + 1, ends


def _local_date(zone: ZoneInfo, moment: datetime) -> date:
    return moment.astimezone(zone).date()


def window_times(
    zone: ZoneInfo, windows: tuple[Window, ...], since: datetime, until: datetime
) -> list[tuple[datetime, datetime]]:
    """The union of the windows' occurrences overlapping [since, until), clipped and sorted."""
    stretches: list[tuple[datetime, datetime]] = []
    # One day of margin each side: a window attached to the day before may run into the first day.
    day, last = _local_date(zone, since) - timedelta(days=1), _local_date(zone, until) + timedelta(days=1)
    while day <= last:
        weekday = WEEKDAYS[day.weekday()]
        for window in windows:
            if weekday not in window.days:
                continue
            ends_on = day + timedelta(days=1) if window.to <= window.from_ else day
            opens = read_wall_time(zone, datetime.combine(day, window.from_))
            closes = read_wall_time(zone, datetime.combine(ends_on, window.to))
            # A window whose edges fall either side of a spring-forward gap can read as empty that day.
            opens, closes = max(opens, since), min(closes, until)
            if opens < closes:
                stretches.append((opens, closes))
        day += timedelta(days=1)
    stretches.sort()
    merged: list[tuple[datetime, datetime]] = []
    for opens, closes in stretches:
        if merged and opens <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
        else:
            merged.append((opens, closes))
    return merged


def duties(zone: ZoneInfo, rotation: Rotation, since: datetime, until: datetime) -> list[Duty]:
    """Who holds the turn, inside the windows, over [since, until): sorted, non-overlapping, overrides aside."""
    turns = list(_turns(zone, rotation, since, until))
    if not rotation.windows:
        return turns
    windows = window_times(zone, rotation.windows, since, until)
    out: list[Duty] = []
    i = j = 0
    while i < len(turns) and j < len(windows):
        turn, (opens, closes) = turns[i], windows[j]
        start, end = max(turn.start, opens), min(turn.end, closes)
        if start < end:
            out.append(Duty(start, end, turn.user_id))
        if turn.end <= closes:
            i += 1
        else:
            j += 1
    return out
