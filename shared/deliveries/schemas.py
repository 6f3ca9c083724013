"""Delivery records on the wire."""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Literal

import msgspec

from shared.channels import channel_names

if TYPE_CHECKING:
    Channel = str
else:
    # The registered channels' names (shared/channels.py), which the API's schema lists as an enum.
    Channel = StrEnum("Channel", {name.upper(): name for name in channel_names()})


class DeliveryState(StrEnum):
    """A delivery row's state as stored."""

    PENDING = "pending"
    SENDING = "sending"  # claimed and being sent right now, under a lease; clients see `pending`
    SENT = "sent"
    FAILED = "failed"
    SKIPPED = "skipped"


# The status a client sees.
DeliveryStatus = Literal["pending", "sent", "failed", "skipped"]


class DeliveryOut(msgspec.Struct, kw_only=True):
    channel: Channel
    recipient: str
    round: int
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    sent_at: str | None
    step: int | None = None  # email only: the escalation step that paged the recipient
