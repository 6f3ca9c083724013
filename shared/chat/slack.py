"""Slack, through an incoming webhook.

The post is `text` (the one line a notification shows) and two blocks: a `section` whose mrkdwn text is at most
3,000 characters, marked `verbatim` so Slack links and mentions nothing by itself, and an `actions` block with a
button to the handoff. In mrkdwn `<!channel>` pings and `<url|text>` links, so `&`, `<` and `>` of every string
are escaped, the one-line `text` included. An incoming webhook takes about one post a second and answers 200
`ok`; errors are 4xx (`invalid_blocks`, `no_service`, ...) and 429 with Retry-After.
"""

from __future__ import annotations

from typing import Any

import msgspec

from shared.chat.message import ChatNotice, fit, no_links, shortened

MAX_SECTION_CHARS = 3000
MAX_TEXT_CHARS = 300  # the notification line
MAX_BLOCKS = 50
INTERVAL_S = 1.0  # about one post a second to one webhook


def escaped(text: str) -> str:
    """`text` as mrkdwn shows it literally: no mention, no link."""
    return no_links(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _one_line(text: str) -> str:
    return " ".join(text.split())


def section_text(notice: ChatNotice) -> str:
    """The section's mrkdwn: headline, title, facts, note and summary, each escaped."""
    lines = [f"*{escaped(_one_line(notice.headline))}*", f"*{escaped(_one_line(notice.title))}*"]
    if notice.facts:
        lines.append("  ·  ".join(f"{escaped(name)}: {escaped(value)}" for name, value in notice.facts))
    if notice.note:
        lines += ["", escaped(notice.note)]
    if notice.summary:
        lines += ["", "*AI summary*", escaped(notice.summary)]
    return "\n".join(lines)


def summary_line(notice: ChatNotice) -> str:
    """The one line a notification shows: headline and title."""
    return escaped(shortened(_one_line(f"{notice.headline}: {notice.title}"), MAX_TEXT_CHARS))


def message(notice: ChatNotice) -> dict[str, Any]:
    """The webhook's JSON: `text` and the blocks, the section within 3,000 characters."""
    notice = fit(notice, lambda n: len(section_text(n)), MAX_SECTION_CHARS)
    button = {
        "type": "button",
        "text": {"type": "plain_text", "text": notice.link_text},
        "url": notice.link,
        "action_id": "open_handoff",
    }
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": section_text(notice), "verbatim": True}},
        {"type": "actions", "elements": [button]},
    ]
    assert len(blocks) <= MAX_BLOCKS
    return {"text": summary_line(notice), "blocks": blocks}


def body(notice: ChatNotice) -> bytes:
    return msgspec.json.encode(message(notice))
