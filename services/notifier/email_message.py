"""The escalation email: plain text and HTML, subject with urgency, title and escalator."""

from __future__ import annotations

import html
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from shared.db.models import HandoffRow, User


def handoff_link(public_url: str, handoff_id: str) -> str:
    return f"{public_url.rstrip('/')}/#/handoffs/{handoff_id}"


def compose(handoff: HandoffRow, recipient: User, *, public_url: str, sender: str) -> EmailMessage:
    """One senior's copy of the escalation email."""
    title = handoff.snapshot.get("title", "")
    ticket = handoff.snapshot.get("ticket_ref")
    escalator = handoff.created_by_name
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
        lines += ["AI assessment:", assessment.get("summary", ""), "", "Suggested next steps:"]
        lines += [f"  - {step}" for step in assessment.get("suggested_steps", [])]
        lines.append("")
    else:
        lines += ["The AI assessment is still being prepared; it will be on the handoff page.", ""]
    lines += [f"Open it, and pick it up if it is yours: {link}", ""]

    parts = [
        f"<p><strong>{html.escape(escalator)}</strong> escalated <strong>{html.escape(title)}</strong> "
        f"({html.escape(handoff.urgency)} urgency){', PSA ticket ' + html.escape(ticket) if ticket else ''}.</p>",
        f"<p>Note from {html.escape(escalator)}:</p>",
        f"<blockquote>{html.escape(handoff.note or '(no note)')}</blockquote>",
    ]
    if assessment:
        steps = "".join(f"<li>{html.escape(step)}</li>" for step in assessment.get("suggested_steps", []))
        parts.append(
            f"<h3>AI assessment</h3><p>{html.escape(assessment.get('summary', ''))}</p>"
            f"<p>Suggested next steps:</p><ol>{steps}</ol>"
        )
    else:
        parts.append("<p><em>The AI assessment is still being prepared; it will be on the handoff page.</em></p>")
    parts.append(f'<p><a href="{html.escape(link)}">Open the handoff</a></p>')

    message = EmailMessage()
    message["Subject"] = "".join(
        c if c.isprintable() else " " for c in f"[{handoff.urgency.upper()}] Escalation: {title} (from {escalator})"
    )
    message["From"] = sender
    message["To"] = f"{recipient.name} <{recipient.email}>"
    message["Date"] = formatdate(localtime=False)
    # Deterministic: a copy sent twice by a crashed worker threads as one message in the inbox.
    message["Message-ID"] = f"<handoff-{handoff.id}.{recipient.id}@handoff>"
    message["X-Handoff-Id"] = str(handoff.id)
    message.set_content("\n".join(lines))
    message.add_alternative(f"<html><body>{''.join(parts)}</body></html>", subtype="html")
    return message
