"""An account's escalation policy on the wire: reminder intervals, who is paged in which step, the stale-claim check."""

from __future__ import annotations

from typing import Annotated

import msgspec

Seconds = Annotated[int, msgspec.Meta(ge=0)]
MAX_STEPS = 10
MAX_TARGETS = 20
# A step's target: `rotation:<name>`, `user:<id>` or `all_seniors`; what each names is checked on save.
Target = Annotated[str, msgspec.Meta(min_length=1, max_length=80)]


class ReminderIntervals(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Seconds an open escalation of each urgency may wait unclaimed before the next reminder; 0 is off."""

    low: Seconds = 3600
    normal: Seconds = 900
    high: Seconds = 300


class EscalationStep(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Who is paged `after_s` seconds after the escalation, if it is still open then."""

    after_s: Seconds
    notify: Annotated[list[Target], msgspec.Meta(min_length=1, max_length=MAX_TARGETS)]


def default_steps() -> list[EscalationStep]:
    """Every eligible senior at once: how escalations were paged before steps existed."""
    return [EscalationStep(after_s=0, notify=["all_seniors"])]


class EscalationPolicy(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Absent `steps` or `email_pick_up_links` in a PUT keep what is saved; an answer always carries both."""

    unclaimed_reminder_s: ReminderIntervals = msgspec.field(default_factory=ReminderIntervals)
    max_reminders: Annotated[int, msgspec.Meta(ge=0, le=10)] = 3
    stale_claim_s: Seconds = 1800
    steps: Annotated[list[EscalationStep], msgspec.Meta(min_length=1, max_length=MAX_STEPS)] | msgspec.UnsetType = (
        msgspec.UNSET
    )
    email_pick_up_links: bool | msgspec.UnsetType = msgspec.UNSET

    def reminder_interval_s(self, urgency: str) -> int:
        return int(getattr(self.unclaimed_reminder_s, urgency))

    def escalation_steps(self) -> list[EscalationStep]:
        return default_steps() if self.steps is msgspec.UNSET else self.steps

    def pick_up_links(self) -> bool:
        return self.email_pick_up_links is not False
