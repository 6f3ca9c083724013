"""The API's request: JSON bodies are decoded once, here, and held to the input rules before any handler."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.serialization import decode_json

from services.handoff_api.litestar_private import json_decoded, keep_json
from shared.errors import InvalidInput
from shared.input_rules import MAX_JSON_DEPTH, check_json_document, check_query_value


class HandoffRequest(Request[Any, Any, Any]):
    async def json(self) -> Any:
        """The decoded body; deep or hostile JSON is a 400 naming the field, never a 500."""
        if not json_decoded(self):
            body = await self.body()
            try:
                document = decode_json(body or b"null", type_decoders=self.route_handler.resolve_type_decoders())
            except RecursionError:
                raise InvalidInput(f"the body is nested deeper than {MAX_JSON_DEPTH} levels") from None
            except UnicodeDecodeError:  # bytes inside a JSON string that are not UTF-8
                raise InvalidInput("the body is not UTF-8") from None
            check_json_document(document)
            keep_json(self, document)
        return await super().json()


async def check_query(request: Request[Any, Any, Any]) -> None:
    """No query value (nor name) holds a control character: none of them is free text."""
    for name, value in request.query_params.multi_items():
        check_query_value(name, value)
