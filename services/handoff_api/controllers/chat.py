"""An account's chat destinations (Teams and Slack webhooks, write-only URLs) and their test post."""

from __future__ import annotations

import uuid
from typing import Any

from litestar import Controller, Request, get, post, put
from litestar.di import NamedDependency
from litestar.params import FromPath, JSONBody
from sqlalchemy.ext.asyncio import AsyncSession

from services.handoff_api.auth import account_admin_guard
from services.handoff_api.dependencies import ApiContext, end_request_transaction
from shared.auth.principal import Principal
from shared.chat.post import send_test_post
from shared.chat.schemas import ChatDestinations, ChatDestinationsPut, ChatTestPost, ChatTestResult
from shared.chat.service import destination_to_test, get_chat, put_chat
from shared.crypto import SecretBox
from shared.db.uow import read_only
from shared.integrations.allow_list import account_policy
from shared.outbound.guard import OutboundPolicy, outbound_client

TEST_POST_TIMEOUT_S = 15.0


class ChatController(Controller):
    path = "/api/v1/accounts/{account_id:uuid}/chat"
    tags = ["integrations"]
    guards = [account_admin_guard]

    @get("/", operation_id="getChatDestinations")
    async def get_destinations(
        self, principal: NamedDependency[Principal], db: NamedDependency[AsyncSession], account_id: FromPath[uuid.UUID]
    ) -> ChatDestinations:
        return await get_chat(db, principal, account_id)

    @put("/", operation_id="putChatDestinations", status_code=200)
    async def put_destinations(
        self,
        principal: NamedDependency[Principal],
        secret_box: NamedDependency[SecretBox],
        outbound_policy: NamedDependency[OutboundPolicy],
        db: NamedDependency[AsyncSession],
        account_id: FromPath[uuid.UUID],
        data: JSONBody[ChatDestinationsPut],
    ) -> ChatDestinations:
        return await put_chat(db, secret_box, outbound_policy, principal, account_id, data)

    @post("/test", operation_id="postChatTest", status_code=200)
    async def test_post(
        self,
        request: Request[Any, Any, Any],
        principal: NamedDependency[Principal],
        secret_box: NamedDependency[SecretBox],
        outbound_policy: NamedDependency[OutboundPolicy],
        api_context: NamedDependency[ApiContext],
        account_id: FromPath[uuid.UUID],
        data: JSONBody[ChatTestPost],
    ) -> ChatTestResult:
        """Post a test message to the destination now, through the same pace and guard as escalation posts."""
        await end_request_transaction(request.scope)  # no database connection is held while the far end answers
        runtime = api_context.runtime
        async with read_only(runtime.sessionmaker) as db:
            destination = await destination_to_test(db, secret_box, principal, account_id, data.label)
            policy = await account_policy(db, outbound_policy, account_id)
        async with outbound_client(policy, timeout=TEST_POST_TIMEOUT_S) as http:
            dashboard = api_context.settings.public_url.rstrip("/") + "/"
            return await send_test_post(http, runtime.pace, destination, dashboard_url=dashboard)
