"""The email channel: one message per eligible senior, through the mailer."""

from __future__ import annotations

from email.message import EmailMessage

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.channels.base import Plan, Recipient
from services.notifier.email_message import compose
from services.notifier.mailers import Mailer
from shared.directory.tables import User
from shared.directory.who import seniors_to_page
from shared.escalations.paging import paged_ids
from shared.handoffs.tables import HandoffRow


class EmailChannel:
    name = "email"

    def __init__(self, mailer: Mailer, *, public_url: str, sender: str) -> None:
        self.mailer = mailer
        self.public_url = public_url
        self.sender = sender

    async def plan(self, db: AsyncSession, handoff: HandoffRow) -> Plan:
        """A row per senior its steps paged who is still eligible; one from before steps: every eligible senior."""
        seniors = await seniors_to_page(db, handoff.account_id, handoff.created_by_id)
        if handoff.paging:  # the steps wrote their rows as they paged; here they are only made sure of
            paged = paged_ids(handoff)
            seniors = [user for user in seniors if user.id in paged]
        return Plan(recipients=[Recipient(user.email, user.id) for user in seniors])

    def message(self, handoff: HandoffRow, user: User, round: int, pick_up_token: str | None = None) -> EmailMessage:
        return compose(
            handoff, user, public_url=self.public_url, sender=self.sender, round=round, pick_up_token=pick_up_token
        )

    async def send(self, message: EmailMessage) -> None:
        """Hand the message to the mailer; raises SendFailed (a ChannelError)."""
        await self.mailer.send(message)
