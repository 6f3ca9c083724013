"""The Teams and Slack channels: what each round of an escalation says, in the vendor's wire format.

One post per destination and round: the escalation (round 0), each reminder (its round), and a follow-up when it
is picked up or withdrawn. The wire formats and the pace live in shared/chat, where the API's test post uses
them too.
"""

from __future__ import annotations

from shared.chat.jobs import CLAIMED_ROUND, WITHDRAWN_ROUND
from shared.chat.message import ChatNotice
from shared.chat.schemas import ChatKind
from shared.chat.vendors import VENDORS, ChatVendor
from shared.handoffs.schemas import AssessmentStatus
from shared.handoffs.tables import HandoffRow


class ChatChannel:
    """A chat vendor behind the channel seam: its rows' channel is the destination's kind."""

    def __init__(self, vendor: ChatVendor) -> None:
        self.vendor = vendor
        self.name: ChatKind = vendor.kind

    def body(self, notice: ChatNotice) -> bytes:
        return self.vendor.body(notice)


CHAT_CHANNELS: dict[str, ChatChannel] = {kind: ChatChannel(vendor) for kind, vendor in VENDORS.items()}


def headline(handoff: HandoffRow, round: int) -> str:
    if round == CLAIMED_ROUND:
        return f"Picked up by {handoff.claimed_by_name or 'a senior'}"
    if round == WITHDRAWN_ROUND:
        return f"Withdrawn by {handoff.created_by_name}"
    if round:
        return f"Reminder {round}: still not picked up"
    return "New escalation"


def notice_about(handoff: HandoffRow, round: int, link: str) -> ChatNotice:
    """What the post of `round` says: the whole escalation at first and in reminders, a short line in follow-ups."""
    title = str(handoff.snapshot.get("title") or "")
    if round in (CLAIMED_ROUND, WITHDRAWN_ROUND):
        return ChatNotice(headline=headline(handoff, round), title=title, link=link)
    facts = [("Urgency", str(handoff.urgency)), ("Escalated by", handoff.created_by_name)]
    if handoff.snapshot.get("ticket_ref"):
        facts.append(("Ticket", str(handoff.snapshot["ticket_ref"])))
    assessment = handoff.ai_assessment_data or {}
    ready = handoff.assessment_status == AssessmentStatus.READY
    return ChatNotice(
        headline=headline(handoff, round),
        title=title,
        link=link,
        facts=tuple(facts),
        note=handoff.note,
        summary=str(assessment.get("summary") or "") if ready else "",
    )
