"""The fence around Litestar's internals: a JSON body kept once is what every reader of the request gets."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request
from litestar.types import HTTPScope

from services.handoff_api.litestar_private import json_decoded, keep_json


def scope() -> HTTPScope:
    app = Litestar(route_handlers=[], logging_config=None)
    return {  # type: ignore[typeddict-item]
        "type": "http",
        "method": "POST",
        "path": "/",
        "raw_path": b"/",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json")],
        "app": app,
        "litestar_app": app,
        "state": {},
    }


async def no_body() -> Any:
    raise AssertionError("the body was read again although its document was kept")


async def test_a_kept_document_is_what_litestar_returns_for_every_request_on_the_scope() -> None:
    shared = scope()
    first = Request[Any, Any, Any](shared, receive=no_body)
    assert not json_decoded(first)
    keep_json(first, {"title": "kept"})
    assert json_decoded(first)
    assert await first.json() == {"title": "kept"}
    # Litestar builds another Request on the same scope for the handler's `data`: it sees the same document.
    second = Request[Any, Any, Any](shared, receive=no_body)
    assert json_decoded(second)
    assert await second.json() == {"title": "kept"}
