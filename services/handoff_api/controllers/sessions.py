"""AI sessions and their messages."""

from __future__ import annotations

import uuid
from typing import Annotated

from litestar import Controller, get, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody, Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff_api.auth import member_guard, senior_guard
from services.handoff_api.dependencies import ApiContext
from shared.auth.principal import Principal
from shared.handoffs.session_list import list_my_sessions
from shared.sessions import service
from shared.sessions.schemas import Message, MessageIn, Session, SessionCreate, SessionFilter, SessionPage


class SessionController(Controller):
    path = "/api/v1/ai-sessions"
    tags = ["ai-sessions"]
    guards = [member_guard]

    @post("/", operation_id="createSession", guards=[senior_guard])
    async def create_session(
        self, principal: NamedDependency[Principal], db: NamedDependency[AsyncSession], data: JSONBody[SessionCreate]
    ) -> Session:
        return await service.create_session(db, principal, data)

    @get("/", operation_id="listMySessions")
    async def list_my_sessions(
        self,
        principal: NamedDependency[Principal],
        db: NamedDependency[AsyncSession],
        api_context: NamedDependency[ApiContext],
        status: FromQuery[SessionFilter] = "all",
        limit: Annotated[int, Parameter(ge=1, le=200)] = 50,
        cursor: Annotated[str | None, Parameter(max_length=512)] = None,
    ) -> SessionPage:
        """The caller's own sessions, newest first; `handed_off`: those the caller escalated that another
        engineer now holds, newest hand-off first."""
        return await list_my_sessions(
            db,
            principal,
            cursor_key=api_context.cursor_key,
            max_bytes=api_context.settings.list_max_bytes,
            status=status,
            limit=limit,
            cursor=cursor,
        )

    @get("/{session_id:uuid}", operation_id="getSession")
    async def get_session(
        self, principal: NamedDependency[Principal], db: NamedDependency[AsyncSession], session_id: FromPath[uuid.UUID]
    ) -> Session:
        return await service.get_session(db, principal, session_id)

    @post("/{session_id:uuid}/messages", operation_id="addMessage")
    async def add_message(
        self,
        principal: NamedDependency[Principal],
        db: NamedDependency[AsyncSession],
        session_id: FromPath[uuid.UUID],
        data: JSONBody[MessageIn],
    ) -> Message:
        return await service.add_message(db, principal, session_id, data)
