"""Delivery records on the wire."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

import msgspec

from shared.deliveries.channels import channel_names

# A registered channel's name (shared/deliveries/channels.py), shown as an enum in the API's schema.
ChannelName = Annotated[str, msgspec.Meta(extra_json_schema={"enum": list(channel_names())})]


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
    channel: ChannelName
    recipient: str
    round: int
    status: DeliveryStatus
    attempts: int
    last_error: str | None
    sent_at: str | None
