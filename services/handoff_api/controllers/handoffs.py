"""Handoffs: create (escalate or park), read, the escalation queue, claim, resume, withdraw."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff_api.auth import member_guard, senior_guard
from services.handoff_api.dependencies import ApiContext
from shared.auth.principal import Principal
from shared.deliveries.schemas import DeliveryOut
from shared.deliveries.service import list_deliveries
from shared.escalations.feedback import put_feedback
from shared.escalations.paging import page_first_step
from shared.escalations.schemas import FeedbackPut, TimelineEntry
from shared.escalations.timeline import handoff_timeline
from shared.handoffs import claims, queue, service
from shared.handoffs.schemas import Handoff, HandoffCreate, HandoffFields, HandoffPage, QueueStatus

FIELDS_DESCRIPTION = "`card`: items without `snapshot.messages`, `snapshot.steps_tried` and `snapshot.context`."


class EscalationQueueController(Controller):
    path = "/api/v1/ai-sessions"
    tags = ["handoffs"]
    guards = [senior_guard]

    @get("/escalations", operation_id="listEscalations")
    async def list_escalations(
        self,
        principal: NamedDependency[Principal],
        db: NamedDependency[AsyncSession],
        api_context: NamedDependency[ApiContext],
        status: FromQuery[QueueStatus] = "open",
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Parameter(max_length=512)] = None,
        fields: Annotated[HandoffFields | None, Parameter(description=FIELDS_DESCRIPTION)] = None,
    ) -> HandoffPage:
        return await queue.list_escalations(
            db,
            principal,
            cursor_key=api_context.cursor_key,
            max_bytes=api_context.settings.list_max_bytes,
            status=status,
            fields=fields,
            limit=limit,
            cursor=cursor,
        )


class HandoffController(Controller):
    path = "/api/v1"
    tags = ["handoffs"]
    guards = [member_guard]

    @post("/ai-sessions/{session_id:uuid}/handoff", operation_id="createHandoff")
    async def create_handoff(
        self,
        principal: NamedDependency[Principal],
        db: NamedDependency[AsyncSession],
        api_context: NamedDependency[ApiContext],
        session_id: FromPath[uuid.UUID],
        data: JSONBody[HandoffCreate],
    ) -> Handoff:
        limit = api_context.settings.escalations_per_hour
        # An escalation pages its first step in its own transaction.
        return await service.create_handoff(
            db, principal, session_id, data, escalations_per_hour=limit, first_step=page_first_step
        )

    @get("/handoffs/{handoff_id:uuid}", operation_id="getHandoff")
    async def get_handoff(
        self, principal: NamedDependency[Principal], db: NamedDependency[AsyncSession], handoff_id: FromPath[uuid.UUID]
    ) -> Handoff:
        return await service.get_handoff(db, principal, handoff_id)

    @post("/handoffs/{handoff_id:uuid}/claim", operation_id="claimHandoff", guards=[senior_guard], status_code=200)
    async def claim(
        self, principal: NamedDependency[Principal], db: NamedDependency[AsyncSession], handoff_id: FromPath[uuid.UUID]
    ) -> Handoff:
        return await claims.claim_handoff(db, principal, handoff_id)

    @post("/handoffs/{handoff_id:uuid}/resume", operation_id="resumeHandoff", status_code=200)
    async def resume(
        self, principal: NamedDependency[Principal], db: NamedDependency[AsyncSession], handoff_id: FromPath[uuid.UUID]
    ) -> Handoff:
        return await service.resume_handoff(db, principal, handoff_id)

    @get("/handoffs/{handoff_id:uuid}/deliveries", operation_id="listDeliveries", guards=[senior_guard])
    async def deliveries(
        self, principal: NamedDependency[Principal], db: NamedDependency[AsyncSession], handoff_id: FromPath[uuid.UUID]
    ) -> list[DeliveryOut]:
        return await list_deliveries(db, principal, handoff_id)

    @post("/handoffs/{handoff_id:uuid}/withdraw", operation_id="withdrawHandoff", status_code=200)
    async def withdraw(
        self, principal: NamedDependency[Principal], db: NamedDependency[AsyncSession], handoff_id: FromPath[uuid.UUID]
    ) -> Handoff:
        return await service.withdraw_handoff(db, principal, handoff_id)

    @put(
        "/handoffs/{handoff_id:uuid}/assessment-feedback",
        operation_id="putAssessmentFeedback",
        guards=[senior_guard],
        status_code=200,
    )
    async def feedback(
        self,
        principal: NamedDependency[Principal],
        db: NamedDependency[AsyncSession],
        handoff_id: FromPath[uuid.UUID],
        data: JSONBody[FeedbackPut],
    ) -> Handoff:
        return await put_feedback(db, principal, handoff_id, data)

    @get("/handoffs/{handoff_id:uuid}/timeline", operation_id="getHandoffTimeline")
    async def timeline(
        self, principal: NamedDependency[Principal], db: NamedDependency[AsyncSession], handoff_id: FromPath[uuid.UUID]
    ) -> list[TimelineEntry]:
        return await handoff_timeline(db, principal, handoff_id)
