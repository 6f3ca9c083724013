"""What the API relies on inside Litestar beyond its documented API (tested on Litestar 2.25).

A request keeps its decoded JSON body in `Request._json` and in `_connection_state.json` (shared by every
`Request` built on the same scope); `Request.json()` returns what is kept there without decoding again. So
the body is decoded once, under our input rules, and every later reader (the handler's `data` included)
gets that document. A new Litestar may change this: the fence's test fails first, and `pyproject.toml`
admits only the Litestar minor it passes on.
"""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.types.empty import Empty


def json_decoded(request: Request[Any, Any, Any]) -> bool:
    """Whether the request's JSON body was decoded already, by this request or another on the same scope."""
    return request._json is not Empty or request._connection_state.json is not Empty


def keep_json(request: Request[Any, Any, Any], document: Any) -> None:
    """Keep `document` as the request's decoded JSON body, for every reader on its scope."""
    request._json = request._connection_state.json = document
