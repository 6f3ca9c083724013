"""The Litestar application factory."""

from __future__ import annotations

import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar
from litestar.datastructures import State
from litestar.openapi import OpenAPIConfig

from services.handoff_api.auth import (
    OPENAPI_COMPONENTS,
    OPENAPI_SECURITY,
    bearer_auth_middleware,
    rate_limit_guard,
)
from services.handoff_api.controllers.chat import ChatController
from services.handoff_api.controllers.dashboard import dashboard_router
from services.handoff_api.controllers.directory import DirectoryController
from services.handoff_api.controllers.escalations import EscalationPolicyController
from services.handoff_api.controllers.handoffs import EscalationQueueController, HandoffController
from services.handoff_api.controllers.health import HealthController, MetricsController
from services.handoff_api.controllers.integrations import OutboundAllowController, PSAController
from services.handoff_api.controllers.oncall import OnCallController
from services.handoff_api.controllers.pick_up import PickUpController
from services.handoff_api.controllers.sessions import SessionController
from services.handoff_api.dependencies import CONTEXT_KEY, DEPENDENCIES, ApiContext
from services.handoff_api.edge import Edge
from services.handoff_api.errors import EXCEPTION_HANDLERS
from services.handoff_api.methods import RouteMethods
from services.handoff_api.openapi import describe_api
from services.handoff_api.request import HandoffRequest, check_query
from services.handoff_api.schema_page import RENDER_PLUGINS, schema_router
from services.handoff_api.sse.endpoint import escalation_stream
from services.handoff_api.sse.hub import SSEHub
from shared.bootstrap import Runtime
from shared.config import Settings
from shared.crypto import SecretBox
from shared.db.uow import read_only
from shared.directory.service import users_refused_streams
from shared.outbound.guard import OutboundPolicy
from shared.pagination import cursor_key

MAX_BODY_BYTES = 1024 * 1024


InProcessWorker = Callable[[Runtime], Awaitable[None]]


def create_app(
    settings: Settings,
    runtime: Runtime | None = None,
    *,
    in_process_workers: Sequence[InProcessWorker] = (),
    demo_users: Sequence[dict[str, Any]] = (),
    outbound: OutboundPolicy | None = None,
) -> Litestar:
    """Build the API. A given `runtime` is shared and left running; otherwise the app owns one.

    `in_process_workers` attach job consumers to the app's own runtime: the embedded default. `outbound` checks
    the PSA and webhook targets tenants save (by default the policy of `HANDOFF_OUTBOUND_ALLOW`).
    """
    settings.check_jwt_secret()
    owns_runtime = runtime is None
    rt = runtime or Runtime.build(settings)

    async def refused_streams(holders: set[tuple[uuid.UUID, uuid.UUID]]) -> set[uuid.UUID]:
        async with read_only(rt.sessionmaker) as db:
            return await users_refused_streams(db, holders)

    outbound_policy = outbound or OutboundPolicy.from_allow_list(settings.outbound_allow)
    hub = SSEHub(
        rt.bus,
        client_buffer=settings.sse_client_buffer,
        directory_check=refused_streams,
        heartbeat_s=settings.sse_heartbeat_s,
    )

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncGenerator[None, None]:
        if owns_runtime:
            await rt.start()
            for attach in in_process_workers:
                await attach(rt)
        hub.start()
        try:
            yield
        finally:
            await hub.stop()
            if owns_runtime:
                await rt.stop()

    app = Litestar(
        route_handlers=[
            HealthController,
            MetricsController,
            DirectoryController,
            SessionController,
            EscalationQueueController,
            HandoffController,
            PSAController,
            OutboundAllowController,
            ChatController,
            EscalationPolicyController,
            OnCallController,
            PickUpController,
            escalation_stream,
            dashboard_router(),
        ],
        middleware=[bearer_auth_middleware()],
        guards=[rate_limit_guard],
        exception_handlers=EXCEPTION_HANDLERS,
        dependencies=DEPENDENCIES,
        lifespan=[lifespan],
        state=State(
            {
                CONTEXT_KEY: ApiContext(
                    settings=settings,
                    runtime=rt,
                    hub=hub,
                    secret_box=SecretBox(settings.secret_key),
                    cursor_key=cursor_key(settings.secret_key),
                    outbound=outbound_policy,
                    demo_users=list(demo_users) if settings.dev_mode else [],
                ),
            }
        ),
        openapi_config=OpenAPIConfig(
            title="Handoff service",
            version="1.2.0",
            path="/schema",
            components=OPENAPI_COMPONENTS,
            security=OPENAPI_SECURITY,
            render_plugins=RENDER_PLUGINS,
            openapi_router=schema_router(),
        ),
        request_max_body_size=MAX_BODY_BYTES,
        request_class=HandoffRequest,
        before_request=check_query,
        logging_config=None,  # one logging setup for the whole process: shared.observability.logs
        debug=False,
    )
    describe_api(app)
    # Outside routing and authentication, so every response gets its request id and is counted, 401s included.
    app.asgi_handler = Edge(app.asgi_handler, allowed_origins=settings.allowed_origins, routes=RouteMethods(app.routes))
    return app
