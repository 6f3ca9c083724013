"""The escalation email: plain text and HTML, subject with urgency, title and escalator.

Every string here may come from a tenant (titles, notes, names): none can add a recipient or a header. Addresses
are `email.headerregistry.Address` objects, subject and names are made one line, and the HTML part escapes all.
"""

from __future__ import annotations

import email.errors
import hashlib
import html
import re
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, parseaddr
from typing import Any

from services.notifier.mailers import SendFailed
from shared.db.models import HandoffRow, User
from shared.escalations.timers import STALE_CLAIM_ROUND

# C0 and C1 controls, DEL, and the Unicode line and paragraph separators: none may reach a header.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
MAX_NAME_CHARS = 200
MAX_SUBJECT_TITLE_CHARS = 200


def handoff_link(public_url: str, handoff_id: str) -> str:
    return f"{public_url.rstrip('/')}/#/handoffs/{handoff_id}"


def one_line(text: str, limit: int | None = None) -> str:
    """`text` with every control character (CR, LF, tab, NUL...) replaced by a space, cut to `limit`."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat[:limit].rstrip() if limit is not None else flat


def address(name: str, addr_spec: str) -> Address:
    """A header address whose display name is encoded as one phrase; an address that cannot be written fails."""
    try:
        parsed = Address(display_name=one_line(name, MAX_NAME_CHARS), addr_spec=addr_spec)
    except (ValueError, IndexError, email.errors.MessageError):
        raise SendFailed("the address cannot be written in an email header", transient=False) from None
    if not parsed.username or not parsed.domain:
        raise SendFailed("the address cannot be written in an email header", transient=False)
    return parsed


def sender_address(sender: str) -> Address:
    """HANDOFF_SMTP_FROM ("handoff@msp.example" or "Handoff <handoff@msp.example>") as a header address."""
    name, addr_spec = parseaddr(sender)
    try:
        return address(name, addr_spec or sender)
    except SendFailed:
        raise SendFailed("HANDOFF_SMTP_FROM cannot be written as an email address", transient=False) from None


def message_id(handoff_id: str, recipient_id: str, round_: int, domain: str) -> str:
    """The same id for the same handoff, recipient and round: a copy sent twice threads as one message."""
    token = hashlib.sha256(f"{handoff_id}/{recipient_id}/{round_}".encode()).hexdigest()[:32]
    return f"<handoff-{handoff_id}.r{round_}.{token}@{domain}>"


def round_prefix(round: int) -> str:
    """`[Reminder n] ` for the n-th reminder, `[Still working on it?] ` for the stale-claim nudge."""
    if round == STALE_CLAIM_ROUND:
        return "[Still working on it?] "
    return f"[Reminder {round}] " if round else ""


def compose(handoff: HandoffRow, recipient: User, *, public_url: str, sender: str, round: int = 0) -> EmailMessage:
    """One senior's copy of the escalation email (`round` 0 is the escalation's own notice, n its n-th reminder)."""
    title = one_line(str(handoff.snapshot.get("title", "")))
    ticket = handoff.snapshot.get("ticket_ref")
    escalator = one_line(handoff.created_by_name, MAX_NAME_CHARS)
    link = handoff_link(public_url, str(handoff.id))
    assessment: dict[str, Any] | None = handoff.ai_assessment_data

    lines = [
        f'{escalator} escalated "{title}" ({handoff.urgency} urgency)' + (f", PSA ticket {ticket}." if ticket else "."),
        "",
        f"Note from {escalator}:",
        handoff.note or "(no note)",
        "",
    ]
    if assessment:
        lines += ["AI assessment:", str(assessment.get("summary", "")), "", "Suggested next steps:"]
        lines += [f"  - {step}" for step in assessment.get("suggested_steps", [])]
        lines.append("")
    else:
        lines += ["The AI assessment is still being prepared; it will be on the handoff page.", ""]
    lines += [f"Open it, and pick it up if it is yours: {link}", ""]

    def e(value: Any) -> str:
        return html.escape(str(value))

    parts = [
        f"<p><strong>{e(escalator)}</strong> escalated <strong>{e(title)}</strong> "
        f"({e(handoff.urgency)} urgency){', PSA ticket ' + e(ticket) if ticket else ''}.</p>",
        f"<p>Note from {e(escalator)}:</p>",
        f"<blockquote>{e(handoff.note or '(no note)')}</blockquote>",
    ]
    if assessment:
        steps = "".join(f"<li>{e(step)}</li>" for step in assessment.get("suggested_steps", []))
        parts.append(
            f"<h3>AI assessment</h3><p>{e(assessment.get('summary', ''))}</p>"
            f"<p>Suggested next steps:</p><ol>{steps}</ol>"
        )
    else:
        parts.append("<p><em>The AI assessment is still being prepared; it will be on the handoff page.</em></p>")
    parts.append(f'<p><a href="{e(link)}">Open the handoff</a></p>')

    from_address = sender_address(sender)
    subject = (
        round_prefix(round)
        + f"[{handoff.urgency.upper()}] Escalation: {title[:MAX_SUBJECT_TITLE_CHARS]} (from {escalator})"
    )
    message = EmailMessage()
    message["Subject"] = one_line(subject)
    message["From"] = from_address
    message["To"] = address(recipient.name, recipient.email)
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = message_id(str(handoff.id), str(recipient.id), round, from_address.domain)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message["X-Handoff-Id"] = str(handoff.id)
    message.set_content("\n".join(lines))
    message.add_alternative(f"<html><body>{''.join(parts)}</body></html>", subtype="html")
    return message
