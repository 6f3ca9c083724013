"""The escalation email written from plain strings, so that every header in it is one we wrote.

Titles, notes and names come from tenants: `mail_headers` writes the Subject and the addresses itself so
none of them can become header syntax, and bodies are 7-bit text and escaped HTML. Every message is
flattened with `verify_generated_headers` where Python has it, then read back and compared with what we
wrote: a message that differs is `Unwritable`, never sent.

This module uses the standard library only, so the same composition can be checked on any Python 3.11+.
"""

from __future__ import annotations

import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage, Message
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import formatdate, parseaddr
from typing import Any

from services.notifier.mail_headers import (
    UnwritableHeader,
    header_text,
    one_line,
    plain_addr_spec,
    set_address,
    set_text,
)

# In a body, tabs stay; every other control but the line breaks (handled by splitlines) becomes a space.
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
MAX_NAME_CHARS = 200
MAX_SUBJECT_TITLE_CHARS = 200
HEADERS = (
    "Subject",
    "From",
    "To",
    "Date",
    "Message-ID",
    "Auto-Submitted",
    "X-Auto-Response-Suppress",
    "X-Handoff-Id",
)


def _writing_policy() -> EmailPolicy[EmailMessage]:
    """SMTP line endings, 7-bit bodies (any server takes them), our header values written as they are, and the
    library's own check of the headers it writes where it has one."""
    chosen = policy.SMTP.clone(cte_type="7bit", refold_source="none")
    if hasattr(chosen, "verify_generated_headers"):  # Python 3.13, 3.12.5+, 3.11.10+
        chosen = chosen.clone(verify_generated_headers=True)
    return chosen


WRITING_POLICY = _writing_policy()
# The pick-up link in the HTML part: a button most mail clients draw (inline style only, no image).
_BUTTON_STYLE = (
    "display:inline-block;padding:10px 18px;background:#1d4ed8;color:#ffffff;"
    "text-decoration:none;border-radius:6px;font-weight:600"
)
_PICK_UP_NOTE = "The link opens a page with one button; only pressing it picks the escalation up."


class Unwritable(Exception):
    """A message that cannot be written safely; writing it again would fail the same way."""


def body_text(text: str) -> str:
    """A tenant string as body text: every kind of line break one newline, other controls spaces."""
    return "\n".join(_BODY_CONTROL.sub(" ", line) for line in text.splitlines())


def address(name: str, addr_spec: str) -> tuple[str, str]:
    """(display name, address) as they will be written; an address that cannot be written fails."""
    try:
        return header_text(name, MAX_NAME_CHARS), plain_addr_spec(addr_spec)
    except UnwritableHeader as exc:
        raise Unwritable(str(exc)) from None


def sender_address(sender: str) -> tuple[str, str]:
    """HANDOFF_SMTP_FROM ("handoff@msp.example" or "Handoff <handoff@msp.example>") as a header address."""
    name, addr_spec = parseaddr(sender)
    try:
        return address(name, addr_spec or sender)
    except Unwritable:
        raise Unwritable("HANDOFF_SMTP_FROM cannot be written as an email address") from None


def message_id(handoff_id: str, recipient_id: str, round_: int, domain: str) -> str:
    """The same id for the same handoff, recipient and round: a copy sent twice threads as one message."""
    token = hashlib.sha256(f"{handoff_id}/{recipient_id}/{round_}".encode()).hexdigest()[:32]
    return f"<handoff-{handoff_id}.r{round_}.{token}@{domain}>"


@dataclass(frozen=True)
class Escalation:
    """What one escalation email says, as plain strings; `round_label` is e.g. "[Reminder 1] " or ""."""

    handoff_id: str
    title: str
    urgency: str
    escalator: str
    note: str
    link: str
    ticket_ref: str = ""
    summary: str | None = None  # None: the assessment is not ready yet
    suggested_steps: Sequence[str] = ()
    round: int = 0
    round_label: str = ""


@dataclass(frozen=True)
class Recipient:
    id: str
    name: str
    email: str


def escalation_email(
    e: Escalation, recipient: Recipient, *, sender: str, pick_up_link: str | None = None
) -> EmailMessage:
    """One senior's copy; `Unwritable` when an address cannot be written. `flatten` gives the bytes to send.

    `pick_up_link` is the recipient's own pick-up link, in both parts when given.
    """
    title = one_line(e.title)
    escalator = one_line(e.escalator, MAX_NAME_CHARS)
    note = body_text(e.note) or "(no note)"
    ticket = one_line(e.ticket_ref)
    steps = [one_line(step) for step in e.suggested_steps]

    lines = [
        f'{escalator} escalated "{title}" ({e.urgency} urgency)' + (f", PSA ticket {ticket}." if ticket else "."),
        "",
        f"Note from {escalator}:",
        note,
        "",
    ]
    if e.summary is not None:
        lines += ["AI assessment:", body_text(e.summary), "", "Suggested next steps:"]
        lines += [f"  - {step}" for step in steps]
        lines.append("")
    else:
        lines += ["The AI assessment is still being prepared; it will be on the handoff page.", ""]
    if pick_up_link is not None:
        lines += [f"Pick up as {one_line(recipient.name, MAX_NAME_CHARS)}: {pick_up_link}", _PICK_UP_NOTE, ""]
    lines += [f"Open it, and pick it up if it is yours: {e.link}", ""]

    def x(value: str) -> str:
        return html.escape(value)

    parts = [
        f"<p><strong>{x(escalator)}</strong> escalated <strong>{x(title)}</strong> "
        f"({x(e.urgency)} urgency){', PSA ticket ' + x(ticket) if ticket else ''}.</p>",
        f"<p>Note from {x(escalator)}:</p>",
        f"<blockquote>{x(note)}</blockquote>",
    ]
    if e.summary is not None:
        items = "".join(f"<li>{x(step)}</li>" for step in steps)
        parts.append(
            f"<h3>AI assessment</h3><p>{x(body_text(e.summary))}</p><p>Suggested next steps:</p><ol>{items}</ol>"
        )
    else:
        parts.append("<p><em>The AI assessment is still being prepared; it will be on the handoff page.</em></p>")
    if pick_up_link is not None:
        button = f"Pick up as {x(one_line(recipient.name, MAX_NAME_CHARS))}"
        parts.append(f'<p><a href="{x(pick_up_link)}" style="{_BUTTON_STYLE}">{button}</a></p><p>{_PICK_UP_NOTE}</p>')
    parts.append(f'<p><a href="{x(e.link)}">Open the handoff</a></p>')

    from_address = sender_address(sender)
    subject = e.round_label + f"[{e.urgency.upper()}] Escalation: {title[:MAX_SUBJECT_TITLE_CHARS]} (from {escalator})"
    to_address = address(recipient.name, recipient.email)
    message = EmailMessage(policy=WRITING_POLICY)
    set_text(message, "Subject", header_text(subject))
    set_address(message, "From", *from_address)
    set_address(message, "To", *to_address)
    message["Date"] = formatdate(localtime=False)
    domain = from_address[1].rsplit("@", 1)[1]
    message["Message-ID"] = message_id(e.handoff_id, recipient.id, e.round, domain)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Handoff-Id"] = header_text(e.handoff_id)
    message.set_content("\n".join(lines))
    message.add_alternative(f"<html><body>{''.join(parts)}</body></html>", subtype="html")
    # What the library reads from our raw values must be what we meant, before anything else is compared.
    if str(message["Subject"]) != header_text(subject) or [_one(message, "From"), _one(message, "To")] != [
        (_spaceless(from_address[0]), from_address[1]),
        (_spaceless(to_address[0]), to_address[1]),
    ]:
        raise Unwritable("the email's headers would not read as written")
    return message


def _one(message: EmailMessage, name: str) -> tuple[str, str] | None:
    addresses: tuple[Address, ...] = message[name].addresses
    return (_spaceless(addresses[0].display_name), addresses[0].addr_spec) if len(addresses) == 1 else None


def _spaceless(display_name: str) -> str:
    """A display name without its white space: Python reads a space between two encoded words of a name, where
    RFC 2047 (and mail clients) read none, so only the spaces of a long name may differ."""
    return "".join(display_name.split())


def flatten(message: EmailMessage) -> bytes:
    """The bytes to send, after reading them back: the same headers, addresses, parts and text as were written."""
    try:
        data = message.as_bytes(policy=WRITING_POLICY)
    except Exception as exc:  # noqa: BLE001 - HeaderWriteError and any other refusal of the library alike
        raise Unwritable(f"the email could not be flattened ({type(exc).__name__})") from None
    try:
        problem = _differences(message, data)
    except Exception as exc:  # noqa: BLE001 - bytes our own parser cannot read are not sent either
        raise Unwritable(f"the email could not be read back ({type(exc).__name__})") from None
    if problem:
        raise Unwritable(f"the email would not read back as written: {problem}")
    return data


def _differences(wrote: EmailMessage, data: bytes) -> str:
    """What a mail client would read differently from what we wrote ("" when nothing).

    The bytes are split into parts with the plain parser (the modern one parses Content-Type again for every
    line); each header is then read as a mail client would, by the same header classes that wrote it.
    """
    if not data.isascii():
        return "8-bit bytes"
    if b"\r" in data.replace(b"\r\n", b"") or b"\n" in data.replace(b"\r\n", b""):
        return "a bare CR or LF"
    read = BytesParser(policy=policy.compat32).parsebytes(data)
    ours, theirs = list(wrote.walk()), list(read.walk())
    if [p.get_content_type() for p in ours] != [p.get_content_type() for p in theirs]:
        return "the MIME parts"
    for mine, seen in zip(ours, theirs, strict=True):
        names, names_seen = mine.keys(), seen.keys()
        if [name.lower() for name in names] != [name.lower() for name in names_seen]:
            return "the header names (" + (", ".join(sorted(set(names) ^ set(names_seen))) or "their order") + ")"
        if seen.defects:
            return "a malformed part"
        for (name, value), (_, value_seen) in zip(mine.items(), seen.items(), strict=True):
            header = policy.default.header_fetch_parse(name, value_seen)
            if header.defects:
                return f"a malformed {name} header"
            if _header_value(value) != _header_value(header):
                return f"the {name} header"
        if not mine.is_multipart() and _text(mine) != _text(seen):
            return f"the {mine.get_content_type()} part"
    return ""


def _header_value(header: Any) -> object:
    if hasattr(header, "addresses"):
        return [(_spaceless(a.display_name), a.username, a.domain) for a in header.addresses]
    return str(header)


def _text(part: Message) -> str:
    if isinstance(part, EmailMessage) and part.policy is not policy.compat32:
        return str(part.get_content()).replace("\r\n", "\n")
    payload = part.get_payload(decode=True)
    assert isinstance(payload, bytes)
    return payload.decode(part.get_content_charset() or "ascii").replace("\r\n", "\n")
