"""The log line format every process writes."""

from __future__ import annotations

import json
import logging

from shared.observability.context import bound_request_id
from shared.observability.logs import ConsoleFormatter, JsonFormatter


def record(name: str, msg: str, args: tuple[object, ...] = (), **extra: object) -> logging.LogRecord:
    made = logging.LogRecord(name, logging.INFO, __file__, 1, msg, args, None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_a_json_line_has_the_contract_keys_and_the_bound_request_id() -> None:
    with bound_request_id("req-1"):
        line = JsonFormatter().format(record("handoff.jobs", "job %s started", ("assess",), job="assess"))
    fields = json.loads(line)
    assert fields["level"] == "info"
    assert fields["logger"] == "handoff.jobs"
    assert fields["event"] == "job assess started"
    assert fields["request_id"] == "req-1"
    assert fields["job"] == "assess"
    assert fields["ts"].endswith("Z")


def test_no_request_id_outside_a_request() -> None:
    assert "request_id" not in json.loads(JsonFormatter().format(record("handoff", "started")))


def test_access_lines_leave_the_query_string_and_colour_codes_out() -> None:
    access = record(
        "uvicorn.access",
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/api/v1/ai-sessions?cursor=abc&token=leaked", "1.1", 200),
        color_message="\x1b[1mGET\x1b[0m",
    )
    fields = json.loads(JsonFormatter().format(access))
    assert fields["event"] == "GET /api/v1/ai-sessions 200"
    assert (fields["method"], fields["path"], fields["status"]) == ("GET", "/api/v1/ai-sessions", 200)
    assert "leaked" not in json.dumps(fields)
    assert "color_message" not in fields
    console = ConsoleFormatter().format(access)
    assert "GET /api/v1/ai-sessions 200" in console
    assert "leaked" not in console
    assert "\x1b" not in console
