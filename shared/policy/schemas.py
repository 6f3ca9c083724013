"""An account's escalation policy on the wire: reminder intervals per urgency and the stale-claim check."""

from __future__ import annotations

from typing import Annotated

import msgspec

Seconds = Annotated[int, msgspec.Meta(ge=0)]


class ReminderIntervals(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Seconds an open escalation of each urgency may wait unclaimed before the next reminder; 0 is off."""

    low: Seconds = 3600
    normal: Seconds = 900
    high: Seconds = 300


class EscalationPolicy(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    unclaimed_reminder_s: ReminderIntervals = msgspec.field(default_factory=ReminderIntervals)
    max_reminders: Annotated[int, msgspec.Meta(ge=0, le=10)] = 3
    stale_claim_s: Seconds = 1800

    def reminder_interval_s(self, urgency: str) -> int:
        return int(getattr(self.unclaimed_reminder_s, urgency))
