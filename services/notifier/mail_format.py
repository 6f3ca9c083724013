"""The escalation email written from plain strings, so that every header in it is one we wrote.

Titles, notes and names come from tenants. None of them may become header syntax: control characters and
Unicode line breaks are spaces in a header, and `=?` (the start of an RFC 2047 encoded word, which the email
library decodes while it parses and then folds) is written `= ?`, so the only encoded words are the library's
own. Every message is flattened with `verify_generated_headers` where Python has it, then read back and
compared with what we wrote: a message that differs is `Unwritable`, never sent.

This module uses the standard library only, so the same composition can be checked on any Python 3.11+.
"""

from __future__ import annotations

import email.errors
import hashlib
import html
import re
from collections.abc import Sequence
from dataclasses import dataclass
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import EmailPolicy
from email.utils import formatdate, parseaddr

# C0 and C1 controls (NEL among them), DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# In a body, tabs stay; every other control but the line breaks (handled by splitlines) becomes a space.
_BODY_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
_ENCODED_WORD_START = "=?"
_ADDR_SPEC = re.compile(r"[!#-'*+\-/-9=?A-Z^-~.]+@[A-Za-z0-9.-]+")
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
    """SMTP line endings, 7-bit bodies (any server takes them), and the library's own header check if it has one."""
    chosen = policy.SMTP.clone(cte_type="7bit")
    if hasattr(chosen, "verify_generated_headers"):  # Python 3.13, 3.12.5+, 3.11.10+
        chosen = chosen.clone(verify_generated_headers=True)
    return chosen


WRITING_POLICY = _writing_policy()


class Unwritable(Exception):
    """A message that cannot be written safely; writing it again would fail the same way."""


def one_line(text: str, limit: int | None = None) -> str:
    """`text` with every control character and line break replaced by a space, cut to `limit`."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat[:limit].rstrip() if limit is not None else flat


def header_text(text: str, limit: int | None = None) -> str:
    """A tenant string as header text: one line, and no `=?` for the email library to decode as an encoded word."""
    return one_line(text, limit).replace(_ENCODED_WORD_START, "= ?")


def body_text(text: str) -> str:
    """A tenant string as body text: every kind of line break one newline, other controls spaces."""
    return "\n".join(_BODY_CONTROL.sub(" ", line) for line in text.splitlines())


def address(name: str, addr_spec: str) -> Address:
    """A header address: the display name made header text, the address plain ASCII that reads back unchanged."""
    if not _ADDR_SPEC.fullmatch(addr_spec) or _ENCODED_WORD_START in addr_spec:
        raise Unwritable("the address cannot be written in an email header")
    try:
        parsed = Address(display_name=header_text(name, MAX_NAME_CHARS), addr_spec=addr_spec)
    except (ValueError, IndexError, email.errors.MessageError):
        raise Unwritable("the address cannot be written in an email header") from None
    if not parsed.username or not parsed.domain or parsed.addr_spec != addr_spec:
        raise Unwritable("the address cannot be written in an email header")
    return parsed


def sender_address(sender: str) -> Address:
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


def escalation_email(escalation: Escalation, recipient: Recipient, *, sender: str) -> EmailMessage:
    """One senior's copy, checked as written: raises `Unwritable` for a message that would not read back as built."""
    message = _build(escalation, recipient, sender)
    flatten(message)
    return message


def _build(e: Escalation, recipient: Recipient, sender: str) -> EmailMessage:
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
    parts.append(f'<p><a href="{x(e.link)}">Open the handoff</a></p>')

    from_address = sender_address(sender)
    subject = e.round_label + f"[{e.urgency.upper()}] Escalation: {title[:MAX_SUBJECT_TITLE_CHARS]} (from {escalator})"
    message = EmailMessage(policy=WRITING_POLICY)
    message["Subject"] = header_text(subject)
    message["From"] = from_address
    message["To"] = address(recipient.name, recipient.email)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(e.handoff_id, recipient.id, e.round, from_address.domain)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Handoff-Id"] = header_text(e.handoff_id)
    message.set_content("\n".join(lines))
    message.add_alternative(f"<html><body>{''.join(parts)}</body></html>", subtype="html")
    return message


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
    """What a mail client would read differently from what we wrote ("" when nothing)."""
    if not data.isascii():
        return "8-bit bytes"
    if b"\r" in data.replace(b"\r\n", b"") or b"\n" in data.replace(b"\r\n", b""):
        return "a bare CR or LF"
    read = BytesParser(policy=policy.default).parsebytes(data)
    assert isinstance(read, EmailMessage)
    ours, theirs = list(wrote.walk()), list(read.walk())
    if [p.get_content_type() for p in ours] != [p.get_content_type() for p in theirs]:
        return "the MIME parts"
    for mine, seen in zip(ours, theirs, strict=True):
        assert isinstance(mine, EmailMessage)
        assert isinstance(seen, EmailMessage)
        names, names_seen = mine.keys(), seen.keys()
        if [name.lower() for name in names] != [name.lower() for name in names_seen]:
            return "the header names (" + (", ".join(sorted(set(names) ^ set(names_seen))) or "their order") + ")"
        for name in names:
            if _header_value(mine, name) != _header_value(seen, name):
                return f"the {name} header"
        if seen.defects or any(seen[name].defects for name in names_seen):
            return "a malformed header or part"
        if not mine.is_multipart() and _text(mine) != _text(seen):
            return f"the {mine.get_content_type()} part"
    return ""


def _header_value(part: EmailMessage, name: str) -> object:
    header = part[name]
    if hasattr(header, "addresses"):
        return [(a.display_name, a.username, a.domain) for a in header.addresses]
    return " ".join(str(header).split())


def _text(part: EmailMessage) -> str:
    return str(part.get_content()).replace("\r\n", "\n")
