"""The escalation email for one handoff and one senior: the rows' strings handed to `mail_format`, which writes it.

Every string here may come from a tenant (titles, notes, names): `mail_format` sees to it that none can add a
recipient, a header or markup, and a message it cannot write is a send failure that is not retried.
"""

from __future__ import annotations

from email.message import EmailMessage

from services.notifier.mail_format import Escalation, Recipient, Unwritable, escalation_email, flatten
from services.notifier.mailers import SendFailed
from shared.directory.tables import User
from shared.handoffs.tables import HandoffRow
from shared.policy.timers import STALE_CLAIM_ROUND


def handoff_link(public_url: str, handoff_id: str) -> str:
    return f"{public_url.rstrip('/')}/#/handoffs/{handoff_id}"


def pick_up_link(public_url: str, token: str) -> str:
    """A senior's personal pick-up link: the page that shows the escalation, and claims it only from its button."""
    return f"{public_url.rstrip('/')}/pick-up/{token}"


def round_prefix(round: int) -> str:
    """`[Reminder n] ` for the n-th reminder, `[Still working on it?] ` for the stale-claim nudge."""
    if round == STALE_CLAIM_ROUND:
        return "[Still working on it?] "
    return f"[Reminder {round}] " if round else ""


def escalation_of(handoff: HandoffRow, *, public_url: str, round: int = 0) -> Escalation:
    """What the email says about `handoff`, as plain strings."""
    assessment = handoff.ai_assessment_data
    ticket = handoff.snapshot.get("ticket_ref")
    return Escalation(
        handoff_id=str(handoff.id),
        title=str(handoff.snapshot.get("title", "")),
        urgency=str(handoff.urgency),
        escalator=handoff.created_by_name,
        note=handoff.note or "",
        link=handoff_link(public_url, str(handoff.id)),
        ticket_ref=str(ticket) if ticket else "",
        summary=str(assessment.get("summary", "")) if assessment else None,
        suggested_steps=[str(step) for step in assessment.get("suggested_steps", [])] if assessment else (),
        round=round,
        round_label=round_prefix(round),
    )


def compose(
    handoff: HandoffRow,
    recipient: User,
    *,
    public_url: str,
    sender: str,
    round: int = 0,
    pick_up_token: str | None = None,
) -> EmailMessage:
    """One senior's copy of the escalation email (`round` 0 is the escalation's own notice, n its n-th reminder),
    with their pick-up link when `pick_up_token` is given."""
    try:
        message = escalation_email(
            escalation_of(handoff, public_url=public_url, round=round),
            Recipient(id=str(recipient.id), name=recipient.name, email=recipient.email),
            sender=sender,
            pick_up_link=pick_up_link(public_url, pick_up_token) if pick_up_token is not None else None,
        )
        flatten(message)  # a message that cannot be sent as written fails here, with its reason, not in the mailer
        return message
    except Unwritable as exc:
        raise SendFailed(str(exc), transient=False) from None
