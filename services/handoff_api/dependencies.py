"""What handlers are given: one typed context for the app, the request's unit of work, and the caller.

Everything is registered once on the app (`DEPENDENCIES`), so controllers only name what they need.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from typing import Any

from litestar import Litestar, Request
from litestar.datastructures import State
from litestar.di import Provide
from litestar.types import Scope
from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff_api.sse.hub import SSEHub
from shared.auth.principal import Principal
from shared.bootstrap import Runtime
from shared.config import Settings
from shared.crypto import SecretBox
from shared.db.uow import in_transaction
from shared.outbound.guard import OutboundPolicy

CONTEXT_KEY = "api_context"
# The session the authentication opened for the directory lookup; the handler's unit of work goes on in it.
REQUEST_SESSION_KEY = "handoff_db_session"


@dataclass(frozen=True)
class ApiContext:
    """The long-lived things one API app serves requests with."""

    settings: Settings
    runtime: Runtime
    hub: SSEHub
    secret_box: SecretBox
    cursor_key: bytes  # signs the pagination cursors this app hands out
    outbound: OutboundPolicy  # checks the PSA and webhook targets tenants save
    demo_users: Sequence[dict[str, Any]] = field(default_factory=tuple)


def api_context(app: Litestar) -> ApiContext:
    context = app.state[CONTEXT_KEY]
    assert isinstance(context, ApiContext)
    return context


def request_session(scope: Scope, context: ApiContext) -> AsyncSession:
    """The request's database session, opened on first use and shared by authentication and handler."""
    state = scope.setdefault("state", {})
    session = state.get(REQUEST_SESSION_KEY)
    if session is None:
        session = context.runtime.sessionmaker()
        state[REQUEST_SESSION_KEY] = session
    assert isinstance(session, AsyncSession)
    return session


async def release_request_session(scope: Scope) -> None:
    """Close the request's session if one was opened: authentication does, once the response is sent."""
    session = scope.get("state", {}).pop(REQUEST_SESSION_KEY, None)
    if session is not None:
        await session.close()


async def end_request_transaction(scope: Scope) -> None:
    """Hand the request session's connection back to the pool, for a handler that holds the request open (a stream)."""
    session = scope.get("state", {}).get(REQUEST_SESSION_KEY)
    if session is not None:
        await session.rollback()


async def provide_db(request: Request[Any, Any, Any]) -> AsyncGenerator[AsyncSession, None]:
    """The request's unit of work: committed after the handler returns (before the response is sent),
    rolled back if it raises. Ending the transaction hands the connection back to the pool."""
    async with in_transaction(request_session(request.scope, api_context(request.app))) as session:
        yield session


def provide_principal(request: Request[Principal, Any, Any]) -> Principal:
    principal = request.user
    assert isinstance(principal, Principal)
    return principal


def provide_context(state: State) -> ApiContext:
    context = state[CONTEXT_KEY]
    assert isinstance(context, ApiContext)
    return context


def provide_secret_box(state: State) -> SecretBox:
    return provide_context(state).secret_box


def provide_outbound_policy(state: State) -> OutboundPolicy:
    return provide_context(state).outbound


DEPENDENCIES = {
    "db": Provide(provide_db),
    "principal": Provide(provide_principal, sync_to_thread=False),
    "api_context": Provide(provide_context, sync_to_thread=False),
    "secret_box": Provide(provide_secret_box, sync_to_thread=False),
    "outbound_policy": Provide(provide_outbound_policy, sync_to_thread=False),
}
