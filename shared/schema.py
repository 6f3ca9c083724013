"""Every table of the service on one metadata: what the migrations build must equal what this describes."""

from __future__ import annotations

from sqlalchemy import MetaData

from shared.chat.tables import ChatDestinationRow
from shared.db.base import Base
from shared.deliveries.tables import Delivery
from shared.directory.tables import Account, User
from shared.handoffs.tables import AssessmentFeedbackRow, HandoffRow
from shared.integrations.tables import OutboundAllowRow, PSAConnectionRow
from shared.oncall.tables import OnCallRow
from shared.outbox.table import OutboxRow
from shared.pickup.tables import PickUpLinkRow
from shared.policy.tables import EscalationPolicyRow, HandoffTimer
from shared.sessions.tables import AISession, SessionMessage

# Importing a table's module maps it on the base; naming them here keeps every one of them in.
TABLES = (
    Account,
    User,
    AISession,
    SessionMessage,
    HandoffRow,
    AssessmentFeedbackRow,
    EscalationPolicyRow,
    HandoffTimer,
    Delivery,
    PSAConnectionRow,
    OutboundAllowRow,
    OutboxRow,
    OnCallRow,
    PickUpLinkRow,
    ChatDestinationRow,
)
metadata: MetaData = Base.metadata
