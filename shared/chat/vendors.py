"""The chat services a destination may be: each one's wire format and pace."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shared.chat import slack, teams
from shared.chat.message import ChatNotice
from shared.chat.schemas import ChatKind


@dataclass(frozen=True)
class ChatVendor:
    kind: ChatKind  # the destination's `kind`, and the channel of its delivery rows
    body: Callable[[ChatNotice], bytes]  # the JSON request body of a notice
    interval_s: float  # the least time between two posts to one webhook, across every worker


VENDORS: dict[ChatKind, ChatVendor] = {
    "teams": ChatVendor("teams", teams.body, teams.INTERVAL_S),
    "slack": ChatVendor("slack", slack.body, slack.INTERVAL_S),
}
