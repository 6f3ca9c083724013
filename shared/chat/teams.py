"""Microsoft Teams, through a Workflows webhook ("When a Teams webhook request is received").

The post is a message carrying one Adaptive Card, version 1.4: a Workflows-posted card of a later version shows
"We're sorry, this card couldn't be displayed", and only `Action.OpenUrl` works on it. Text blocks render a
subset of Markdown, so every string is escaped; the whole request body stays within 28,000 bytes (Teams refuses a
message over about 28 KB). The webhook answers 202 once it has queued the post, and 429 above about 4 requests a
second per webhook.
"""

from __future__ import annotations

import re
from typing import Any

import msgspec

from shared.chat.message import ChatNotice, fit, no_links

CARD_VERSION = "1.4"
MAX_BODY_BYTES = 28_000
INTERVAL_S = 0.25  # at most 4 posts a second to one webhook

# Markdown's punctuation (and what opens an autolink, HTML or an entity), each written after a backslash so it is
# shown as itself.
_MARKDOWN = str.maketrans({char: "\\" + char for char in "\\*_~[]()#<>-+!|`&"})
# A line that opens with a number and a dot would become a numbered list.
_ORDERED_ITEM = re.compile(r"(?m)^(\s*\d+)\.")


def escaped(text: str) -> str:
    """`text` as a Teams text block shows it literally: no Markdown, no links, its line breaks kept."""
    text = _ORDERED_ITEM.sub(r"\1\\.", no_links(text).translate(_MARKDOWN))
    # One line break in Markdown is a space; a blank line between them keeps each line on its own.
    return "\n\n".join(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"))


def _text(text: str, **style: Any) -> dict[str, Any]:
    return {"type": "TextBlock", "text": escaped(text), "wrap": True, **style}


def card(notice: ChatNotice) -> dict[str, Any]:
    """The Adaptive Card of `notice`."""
    body: list[dict[str, Any]] = [
        _text(notice.headline, weight="Bolder", size="Medium"),
        _text(notice.title, weight="Bolder"),
    ]
    if notice.facts:
        facts = [{"title": escaped(name), "value": escaped(value)} for name, value in notice.facts]
        body.append({"type": "FactSet", "facts": facts})
    if notice.note:
        body.append(_text(notice.note, separator=True))
    if notice.summary:
        body += [_text("AI summary", weight="Bolder", separator=True), _text(notice.summary)]
    return {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": CARD_VERSION,
        "body": body,
        "actions": [{"type": "Action.OpenUrl", "title": notice.link_text, "url": notice.link}],
    }


def _encoded(notice: ChatNotice) -> bytes:
    attachment = {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card(notice)}
    return msgspec.json.encode({"type": "message", "attachments": [attachment]})


def body(notice: ChatNotice) -> bytes:
    """The request body: the card in a message, its note and summary cut to keep it within 28,000 bytes."""
    return _encoded(fit(notice, lambda n: len(_encoded(n)), MAX_BODY_BYTES))
