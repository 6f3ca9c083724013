"""The escalation email as a mail client reads it: tenant strings cannot add a header, a recipient or markup."""

from __future__ import annotations

import uuid
from email import message_from_bytes, policy
from email.message import EmailMessage

import pytest

from services.notifier.email_message import compose
from services.notifier.mail_format import Unwritable, flatten
from services.notifier.mailers import SendFailed, envelope
from shared.directory.tables import User
from shared.handoffs.tables import HandoffRow
from tests.support.email_corpus import CORPUS, POSITIONS, REPLY_TO_ATTACK, problems, raw_attack

PUBLIC_URL = "https://handoff.example.test"
SENDER = "Handoff <handoff@alerts.msp.example>"
HOSTILE = "<script>alert(1)</script>&<b>"


def a_handoff(title: str = "VPN drops", note: str = "Tried rebuilding", escalator: str = "Jamie Junior") -> HandoffRow:
    return HandoffRow(
        id=uuid.UUID("0192f1c2-aaaa-7bbb-8ccc-0123456789ab"),
        account_id=uuid.uuid4(),
        session_id=uuid.uuid4(),
        intent="escalate",
        status="open",
        note=note,
        urgency="high",
        created_by_id=uuid.uuid4(),
        created_by_name=escalator,
        snapshot={"title": title, "ticket_ref": "8812"},
        assessment_status="ready",
        ai_assessment_data={"summary": "Likely MTU", "suggested_steps": ["Lower the MTU", "Check the ISP"]},
    )


def a_user(name: str = "Sam Senior", email: str = "sam@msp.test", user_id: str | None = None) -> User:
    return User(id=uuid.UUID(user_id) if user_id else uuid.uuid4(), email=email, name=name, role="engineer")


def as_received(message: EmailMessage) -> EmailMessage:
    """What the recipient's client parses from the bytes on the wire."""
    parsed = message_from_bytes(message.as_bytes(), policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


def test_a_display_name_cannot_add_recipients() -> None:
    user = a_user(name='Sam, attacker@evil.test, "X" <other@evil.test>')
    received = as_received(compose(a_handoff(), user, public_url=PUBLIC_URL, sender=SENDER))
    [to] = received["To"].addresses
    assert (to.addr_spec, to.display_name) == ("sam@msp.test", 'Sam, attacker@evil.test, "X" <other@evil.test>')
    assert envelope(received) == ("handoff@alerts.msp.example", ["sam@msp.test"])
    assert received["Cc"] is None
    assert received["Bcc"] is None


def test_control_characters_in_title_and_names_cannot_add_headers() -> None:
    handoff = a_handoff(title="Printer\r\nBcc: attacker@evil.test\r\n\r\nbody", escalator="Jamie\nX-Evil: 1\x00")
    user = a_user(name="Sam\r\nBcc: other@evil.test")
    message = compose(handoff, user, public_url=PUBLIC_URL, sender=SENDER)
    received = as_received(message)
    assert received["Bcc"] is None
    assert received["X-Evil"] is None
    subject = str(received["Subject"])
    assert "\n" not in subject
    assert "\r" not in subject
    assert subject == "[HIGH] Escalation: Printer  Bcc: attacker@evil.test    body (from Jamie X-Evil: 1)"
    assert [a.addr_spec for a in received["To"].addresses] == ["sam@msp.test"]
    assert "\n" not in received["To"].addresses[0].display_name


def test_headers_say_automatic_and_the_message_id_is_deterministic() -> None:
    handoff, user = a_handoff(), a_user(user_id="0192f1c2-0000-7000-8000-000000000001")
    first = compose(handoff, user, public_url=PUBLIC_URL, sender=SENDER)
    again = compose(handoff, user, public_url=PUBLIC_URL, sender=SENDER)
    assert first["Auto-Submitted"] == "auto-generated"
    assert first["X-Auto-Response-Suppress"] == "All"
    message_id = str(first["Message-ID"])
    assert message_id.startswith("<")
    assert message_id.endswith("@alerts.msp.example>")
    assert again["Message-ID"] == message_id
    others = {
        str(compose(handoff, a_user(), public_url=PUBLIC_URL, sender=SENDER)["Message-ID"]),
        str(compose(handoff, user, public_url=PUBLIC_URL, sender=SENDER, round=1)["Message-ID"]),
        str(compose(handoff, user, public_url=PUBLIC_URL, sender="handoff@other.example")["Message-ID"]),
    }
    assert message_id not in others
    assert len(others) == 3
    assert str(compose(handoff, user, public_url=PUBLIC_URL, sender="h@x.example")["Message-ID"]).endswith(
        "@x.example>"
    )


def test_every_user_string_is_escaped_in_the_html_part() -> None:
    handoff = a_handoff(title=HOSTILE, note=HOSTILE, escalator=HOSTILE)
    handoff.snapshot = {"title": HOSTILE, "ticket_ref": HOSTILE}
    handoff.ai_assessment_data = {"summary": HOSTILE, "suggested_steps": [HOSTILE]}
    received = as_received(compose(handoff, a_user(name=HOSTILE), public_url=PUBLIC_URL, sender=SENDER))
    body = received.get_body(preferencelist=("html",))
    assert body is not None
    markup = body.get_content()
    assert "<script>" not in markup
    assert "<b>" not in markup
    assert markup.count("&lt;script&gt;alert(1)&lt;/script&gt;&amp;&lt;b&gt;") >= 6
    text = received.get_body(preferencelist=("plain",))
    assert text is not None
    assert HOSTILE in text.get_content()  # the plain part is plain text: shown as written


@pytest.mark.parametrize(
    "email", ["not an address", "sam@", "a,b@msp.test", "<sam@msp.test>", "sam@msp.test\r\nBcc: x@y"]
)
def test_an_address_that_cannot_be_written_fails_for_good(email: str) -> None:
    with pytest.raises(SendFailed) as caught:
        compose(a_handoff(), a_user(email=email), public_url=PUBLIC_URL, sender=SENDER)
    assert caught.value.transient is False


def test_a_sender_that_cannot_be_written_is_named() -> None:
    with pytest.raises(SendFailed, match="HANDOFF_SMTP_FROM"):
        compose(a_handoff(), a_user(), public_url=PUBLIC_URL, sender="not an address")


@pytest.mark.parametrize("position", POSITIONS)
def test_every_attack_in_the_corpus_is_written_as_well_formed_mail(position: str) -> None:
    for case, text in CORPUS.items():
        handoff = a_handoff(
            title=text if position == "title" else "VPN drops",
            note=text if position == "note" else "Tried rebuilding",
            escalator=text if position == "escalator" else "Jamie Junior",
        )
        user = a_user(name=text if position == "recipient" else "Sam Senior")
        raw = flatten(compose(handoff, user, public_url=PUBLIC_URL, sender=SENDER))
        assert problems(raw, link=f"{PUBLIC_URL}/#/handoffs/{handoff.id}") == [], case


def test_an_encoded_word_in_a_title_adds_no_header_and_is_shown_as_text() -> None:
    received = as_received(compose(a_handoff(title=REPLY_TO_ATTACK), a_user(), public_url=PUBLIC_URL, sender=SENDER))
    assert received["Reply-To"] is None
    assert received.get_content_type() == "multipart/alternative"
    subject = str(received["Subject"])
    assert subject.startswith("[HIGH] Escalation: Printer = ?utf-8?q?=0D=0AReply-To:_it@evil.test")
    assert subject.endswith("(from Jamie Junior)")


def test_a_message_written_without_these_precautions_is_refused_before_it_is_sent() -> None:
    # This Python's library has no header check of its own (3.11.7): the read-back comparison is what refuses it.
    with pytest.raises(Unwritable):
        flatten(raw_attack())


@pytest.mark.parametrize("email", ["=?utf-8?q?sam?=@msp.test", "sam@=?utf-8?q?msp?=.test", "säm@msp.test", "a..b@x.y"])
def test_an_address_holding_an_encoded_word_or_other_text_fails_for_good(email: str) -> None:
    with pytest.raises(SendFailed, match="cannot be written") as caught:
        compose(a_handoff(), a_user(email=email), public_url=PUBLIC_URL, sender=SENDER)
    assert caught.value.transient is False
