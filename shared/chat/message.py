"""What a chat post says, before a vendor's wire format: every string in it is text, never markup.

The formats escape each field for their own markup and cut `note` and `summary` (never the link) to fit their
limits, with `fit`.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, replace

ELLIPSIS = "…"
# A scheme's "://": a zero-width space after its colon, and no client's link detection takes it for a URL.
_SCHEME = re.compile(r"(?i)\b([a-z][a-z0-9+.-]*):(?=//)")


@dataclass(frozen=True)
class ChatNotice:
    headline: str  # what happened: "New escalation", "Reminder 2: still unclaimed", "Picked up by Sam"
    title: str
    link: str  # the handoff in the dashboard: never cut
    link_text: str = "Open the handoff"
    facts: tuple[tuple[str, str], ...] = ()  # ("Urgency", "high"), ("Escalated by", "Jo")
    note: str = ""
    summary: str = ""  # the AI assessment's summary, once it is ready


def shortened(text: str, limit: int) -> str:
    """`text` whole when it fits in `limit` characters, else cut with an ellipsis (which counts)."""
    if len(text) <= limit:
        return text
    if limit <= len(ELLIPSIS):
        return ""
    return text[: limit - len(ELLIPSIS)].rstrip() + ELLIPSIS


def no_links(text: str) -> str:
    """`text` with every `scheme://` broken by an invisible space, so no chat client turns it into a link."""
    return _SCHEME.sub("\\1:\u200b", text)


def fit(notice: ChatNotice, size: Callable[[ChatNotice], int], limit: int) -> ChatNotice:
    """`notice` with its note and summary cut, the longer first, until `size` of it is at most `limit`."""
    while (over := size(notice) - limit) > 0:
        cut_note = len(notice.note) >= len(notice.summary)
        text = notice.note if cut_note else notice.summary
        if not text:
            raise ValueError("the post does not fit even without its note and summary")
        without = replace(notice, note="") if cut_note else replace(notice, summary="")
        # What one character of this field costs once escaped and encoded, so the cut is close to what is needed.
        per_char = max(1.0, (size(notice) - size(without)) / len(text))
        keep = len(text) - math.ceil(over / per_char) - len(ELLIPSIS)
        text = shortened(text, keep) if keep > len(ELLIPSIS) else ""
        notice = replace(notice, note=text) if cut_note else replace(notice, summary=text)
    return notice
