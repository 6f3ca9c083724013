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
    """`notice` with its note and summary cut until `size` of it is at most `limit`: the longer one first, down to
    the other's length, then both alike, so neither is lost to the other."""
    # A character costs at least one unit of `size`: more than `limit` of them can never fit.
    notice = replace(notice, note=shortened(notice.note, limit), summary=shortened(notice.summary, limit))
    bare = size(replace(notice, note="", summary=""))
    if bare > limit:
        raise ValueError("the post does not fit even without its note and summary")
    while (over := (full := size(notice)) - limit) > 0:
        lengths = len(notice.note) + len(notice.summary)
        # What one character of the two costs once escaped and encoded, so the cut is close to what is needed.
        per_char = max(1.0, (full - bare) / lengths)
        cap = _cap(len(notice.note), len(notice.summary), lengths - math.ceil(over / per_char) - 2 * len(ELLIPSIS))
        notice = replace(notice, note=_cut(notice.note, cap), summary=_cut(notice.summary, cap))
    return notice


def _cap(a: int, b: int, keep: int) -> int:
    """The longest length both texts may keep so that together they keep at most `keep` characters."""
    if keep <= 0:
        return 0
    short = min(a, b)
    return keep // 2 if keep <= 2 * short else keep - short


def _cut(text: str, cap: int) -> str:
    return shortened(text, cap) if cap > len(ELLIPSIS) else ("" if len(text) > cap else text)
