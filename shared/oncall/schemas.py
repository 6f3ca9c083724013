"""The on-call document on the wire, and the answers of `/on-call/now` and `/on-call/shifts`.

The shape is checked as it is decoded; what the shape cannot say (a known zone, members who are active
seniors, unique names, an override's rotation and length) is checked by `validation.py`.
"""

from __future__ import annotations

import uuid
from typing import Annotated

import msgspec

from shared.oncall.calendar import Weekday
from shared.oncall.resolution import Source

MAX_ROTATIONS = 20
MAX_MEMBERS = 50
MAX_WINDOWS = 14
MAX_OVERRIDES = 200

RotationName = Annotated[
    str,
    msgspec.Meta(
        min_length=1, max_length=40, pattern="^[a-z0-9-]+$", description="1..40 of a-z 0-9 -, unique in the account"
    ),
]
ClockTime = Annotated[
    str, msgspec.Meta(pattern="^([01][0-9]|2[0-3]):[0-5][0-9]$", description="local time of day, `HH:MM`")
]
WallTime = Annotated[
    str,
    msgspec.Meta(
        max_length=32,
        description="local wall time in `time_zone` without an offset: `2027-03-22T09:00` (seconds optional)",
        examples=["2027-03-22T09:00"],
    ),
]
Instant = Annotated[
    str, msgspec.Meta(max_length=64, description="RFC 3339 time with an offset", examples=["2027-03-27T09:00:00Z"])
]


class OnCallWindow(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """On each listed local weekday from `from` (inclusive) to `to` (exclusive); `to` <= `from` ends the next day."""

    days: Annotated[list[Weekday], msgspec.Meta(min_length=1, max_length=7)]
    from_: ClockTime = msgspec.field(name="from")
    to: ClockTime


class OnCallRotation(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    name: RotationName
    members: Annotated[
        list[uuid.UUID],
        msgspec.Meta(min_length=1, max_length=MAX_MEMBERS, description="distinct active seniors, in turn order"),
    ]
    start: WallTime
    turn_days: Annotated[int, msgspec.Meta(ge=1, le=365)]
    windows: Annotated[list[OnCallWindow], msgspec.Meta(max_length=MAX_WINDOWS)] = msgspec.field(default_factory=list)


class OnCallOverride(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Puts `user_id` on call in `rotation` for [start, end), at most 31 days; a later override wins an overlap."""

    rotation: RotationName
    user_id: uuid.UUID
    start: Instant
    end: Instant


class OnCall(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """An account's on-call document: a PUT replaces it whole, and a GET answers it as saved."""

    time_zone: Annotated[str, msgspec.Meta(min_length=1, max_length=64, description="IANA zone name")] = "UTC"
    rotations: Annotated[list[OnCallRotation], msgspec.Meta(max_length=MAX_ROTATIONS)] = msgspec.field(
        default_factory=list
    )
    overrides: Annotated[list[OnCallOverride], msgspec.Meta(max_length=MAX_OVERRIDES)] = msgspec.field(
        default_factory=list
    )


class OnCallUser(msgspec.Struct, kw_only=True):
    id: uuid.UUID
    name: str


class OnCallRotationNow(msgspec.Struct, kw_only=True):
    """Who is on call in one rotation at `at`, why, and the next instant that changes (null: not within 366 days)."""

    name: str
    user: OnCallUser | None
    source: Source | None
    until: str | None


class OnCallNow(msgspec.Struct, kw_only=True):
    at: str
    rotations: list[OnCallRotationNow]


class OnCallShift(msgspec.Struct, kw_only=True):
    rotation: str
    user: OnCallUser
    source: Source
    start: str
    end: str


class OnCallGap(msgspec.Struct, kw_only=True):
    """When a rotation has nobody on call."""

    rotation: str
    start: str
    end: str


class OnCallShifts(msgspec.Struct, kw_only=True):
    since: str
    until: str
    shifts: list[OnCallShift]
    gaps: list[OnCallGap]
