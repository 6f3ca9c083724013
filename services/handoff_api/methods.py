"""Which methods each path of the app answers: the `Allow` of a plain `OPTIONS` and of a 405.

Built once from the app's routes. `HEAD` is allowed wherever `GET` is (the edge answers it from `GET`),
and `OPTIONS` wherever a route matches.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from litestar.routes import ASGIRoute, BaseRoute
from litestar.utils import normalize_path

# The order `Allow` lists them in, for a stable header.
METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def allow_header(methods: Iterable[str]) -> str:
    """`GET, HEAD, …` with `HEAD` wherever `GET` is and `OPTIONS` always."""
    present = {m.upper() for m in methods} | {"OPTIONS"}
    if "GET" in present:
        present.add("HEAD")
    ordered = [m for m in METHOD_ORDER if m in present]
    return ", ".join(ordered + sorted(present - set(METHOD_ORDER)))


@dataclass(frozen=True)
class _Template:
    pattern: re.Pattern[str]
    parsers: tuple[tuple[str, Callable[[str], Any] | None], ...]
    methods: frozenset[str]

    def matches(self, path: str, *, typed: bool = True) -> bool:
        found = self.pattern.fullmatch(path)
        if found is None:
            return False
        if not typed:
            return True
        for name, parser in self.parsers:
            if parser is None:
                continue
            try:
                parser(found.group(name))
            except (TypeError, ValueError):  # e.g. a handoff id that is not a UUID: the router's 404 too
                return False
        return True


def _methods(route: BaseRoute) -> frozenset[str]:
    # The live stream is a raw ASGI handler: it is read with GET.
    return frozenset({"GET"}) if isinstance(route, ASGIRoute) else frozenset(route.methods)


def _template(route: BaseRoute) -> _Template:
    parts: list[str] = []
    parsers: list[tuple[str, Callable[[str], Any] | None]] = []
    for segment in route.path_format.strip("/").split("/"):
        if segment.startswith("{") and segment.endswith("}"):
            name = segment[1:-1]
            definition = route.path_parameters[name]
            is_path = definition.full.endswith(":path")
            parts.append(f"(?P<{name}>.*)" if is_path else f"(?P<{name}>[^/]+)")
            parsers.append((name, None if is_path else definition.parser))
        else:
            parts.append(re.escape(segment))
    pattern = re.compile("/" + "/".join(parts) if parts != [""] else "/")
    return _Template(pattern, tuple(parsers), _methods(route))


class RouteMethods:
    """The methods of a path: a route without parameters wins over one with them, as in the router."""

    def __init__(self, routes: Iterable[BaseRoute]) -> None:
        self.plain: dict[str, frozenset[str]] = {}
        self.templated: list[_Template] = []
        for route in routes:
            if route.path_parameters:
                self.templated.append(_template(route))
            else:
                path = normalize_path(route.path_format)
                self.plain[path] = self.plain.get(path, frozenset()) | _methods(route)

    def of(self, path: str, *, typed: bool = True) -> frozenset[str] | None:
        """The methods `path` answers, or None when no route matches it.

        `typed=False` matches a route's shape alone (`/handoffs/x` is the shape of `/handoffs/{id}`): what a plain
        `OPTIONS` describes is the route, whether or not a resource lives at that id.
        """
        path = normalize_path(path)
        if path in self.plain:
            return self.plain[path]
        found = [t.methods for t in self.templated if t.matches(path, typed=typed)]
        return frozenset().union(*found) if found else None
