"""The Teams and Slack wire formats: a tenant's strings are text, the limits hold, the link is never cut."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import pytest

from shared.chat import slack, teams
from shared.chat.message import ChatNotice
from shared.chat.post import retry_after

LINK = "https://handoff.example.test/#/handoffs/0f6e5c1d-0000-4000-8000-000000000001"


def notice(**fields: Any) -> ChatNotice:
    base: dict[str, Any] = {
        "headline": "New escalation",
        "title": "Exchange queue stuck",
        "link": LINK,
        "facts": (("Urgency", "high"), ("Escalated by", "Jo Bloggs")),
    }
    return ChatNotice(**{**base, **fields})


def card(body: bytes) -> dict[str, Any]:
    return dict(json.loads(body)["attachments"][0]["content"])


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("[x](https://evil.example)", "\\[x\\]\\(https:\u200b//evil.example\\)"),
        ("*bold* _it_ ~s~ `c`", "\\*bold\\* \\_it\\_ \\~s\\~ \\`c\\`"),
        ("# h\n1. one\n  22. two\n- b\n+ p\n> q", "\\# h\n\n1\\. one\n\n  22\\. two\n\n\\- b\n\n\\+ p\n\n\\> q"),
        ("![i](u) | t | \\", "\\!\\[i\\]\\(u\\) \\| t \\| \\\\"),
        ("<https://a.example> &amp;", "\\<https:\u200b//a.example\\> \\&amp;"),
        ("version 1.4 of 2. things", "version 1.4 of 2. things"),  # a number and a dot inside a line is no list
    ],
)
def test_teams_escapes_every_markdown_character(raw: str, escaped: str) -> None:
    assert teams.escaped(raw) == escaped


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("<!channel> <@U1> <https://e.example|x>", "&lt;!channel&gt; &lt;@U1&gt; &lt;https:\u200b//e.example|x&gt;"),
        ("a & b &amp; c", "a &amp; b &amp;amp; c"),
    ],
)
def test_slack_escapes_its_three_control_characters(raw: str, escaped: str) -> None:
    assert slack.escaped(raw) == escaped


def test_every_slack_string_is_escaped_the_one_line_text_too() -> None:
    hostile = "<!channel> & <script>"
    message = slack.message(
        notice(headline=f"Picked up by {hostile}", title=hostile, facts=(("Escalated by", hostile),), note=hostile)
    )
    text = json.dumps(message)
    assert "<" not in text
    assert ">" not in text
    assert (
        message["text"] == "Picked up by &lt;!channel&gt; &amp; &lt;script&gt;: &lt;!channel&gt; &amp; &lt;script&gt;"
    )
    assert message["blocks"][0]["text"]["verbatim"] is True


def test_the_teams_card_is_version_1_4_with_one_open_url_action() -> None:
    shown = card(teams.body(notice(note="n", summary="s")))
    assert shown["version"] == "1.4"
    assert shown["actions"] == [{"type": "Action.OpenUrl", "title": "Open the handoff", "url": LINK}]
    assert all(block.get("wrap") for block in shown["body"] if block["type"] == "TextBlock")


@pytest.mark.parametrize("unit", ["a", "é", "✉️", "\\", '"', "\x01", "*[&"])
def test_a_teams_post_fits_28000_bytes_whatever_its_note_and_summary_hold(unit: str) -> None:
    body = teams.body(notice(note=unit * 60_000, summary=unit * 60_000))
    assert 27_000 <= len(body) <= 28_000  # cut to fit, not much further
    shown = card(body)
    assert shown["actions"][0]["url"] == LINK
    texts = [b["text"] for b in shown["body"] if b["type"] == "TextBlock"]
    assert texts[-1].endswith("…")  # the summary, cut
    assert texts[2].endswith("…")  # the note, cut


@pytest.mark.parametrize("unit", ["a", "&", "<", "✉️"])
def test_a_slack_section_fits_3000_characters_and_keeps_its_button(unit: str) -> None:
    message = slack.message(notice(note=unit * 60_000, summary=unit * 60_000))
    text = message["blocks"][0]["text"]["text"]
    assert 2_900 <= len(text) <= 3000
    assert text.endswith("…")
    assert message["blocks"][1]["elements"][0]["url"] == LINK
    assert len(message["text"]) <= 300 * 5  # one line, however it is escaped
    assert "\n" not in message["text"]


def test_short_posts_are_not_cut() -> None:
    note = "Queue at 4,000 messages since 09:10"
    assert note in slack.message(notice(note=note))["blocks"][0]["text"]["text"]
    assert re.search(r"Queue at 4,000 messages since 09:10$", card(teams.body(notice(note=note)))["body"][-1]["text"])


def test_retry_after_is_read_as_seconds_or_a_date_and_capped() -> None:
    now = datetime(2026, 12, 6, 10, 0, 0, tzinfo=UTC)
    assert retry_after("3", now) == 3.0
    assert retry_after(" 1.5 ", now) == 1.5
    assert retry_after("-4", now) == 0.0
    assert retry_after("86400", now) == 300.0
    assert retry_after(format_datetime(now + timedelta(seconds=20), usegmt=True), now) == 20.0
    assert retry_after(format_datetime(now - timedelta(seconds=20), usegmt=True), now) == 0.0
    assert retry_after("soon", now) is None
    assert retry_after("", now) is None
    assert retry_after(None, now) is None
    assert retry_after("nan", now) is None
