"""One logging setup for every process: JSON lines on stdout (or readable lines under `handoff dev`).

Each line carries `ts`, `level`, `logger`, `event` and, while a request or a job of one is in hand,
`request_id`. uvicorn's access lines go through the same handler; their query strings are left out,
so nothing a client mistakenly puts in a URL reaches the logs, and a path that is itself a credential
(an email's pick-up link, `/pick-up/<token>`) is written `/pick-up/…`, in any line.
"""

from __future__ import annotations

import json
import logging
import logging.config
import re
import sys
import traceback
from datetime import UTC, datetime
from typing import Any, Literal

from shared.observability.context import current_request_id

LogFormat = Literal["json", "console"]
LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]

# Paths whose last segment is a credential: an email's pick-up link.
_SECRET_PATH = re.compile(r"(/pick-up/)[^\s\"'?#/]+")


def redact_paths(text: str) -> str:
    """`text` with the token of every pick-up link replaced by `…`."""
    return _SECRET_PATH.sub(r"\1…", text) if "/pick-up/" in text else text


# Attributes every LogRecord has; anything else on a record came from `extra=` and is logged as a field.
# uvicorn's `color_message` repeats the message with terminal colour codes.
_RECORD_ATTRIBUTES = set(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName", "color_message"}
ACCESS_LOGGER = "uvicorn.access"
# Loggers that log request URLs or wire traffic: only their warnings, whatever the level.
_QUIET = ("httpx", "httpcore", "asyncio", "aiosqlite", "hpack")
# Book-keeping a person at a terminal does not need (each migration step, each event relayed); the JSON
# lines for a log collector keep them, and HANDOFF_LOG_LEVEL=DEBUG shows them at the console too.
_QUIET_AT_CONSOLE = ("alembic", "handoff.outbox")


def _fields(record: logging.LogRecord) -> dict[str, Any]:
    """The record as the fields of one log line."""
    fields: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "level": record.levelname.lower(),
        "logger": record.name,
    }
    if record.name == ACCESS_LOGGER and isinstance(record.args, tuple) and len(record.args) == 5:
        client, method, path, http_version, status = record.args
        path = redact_paths(str(path).split("?", 1)[0])
        fields["event"] = f"{method} {path} {status}"
        fields.update(client=str(client), method=method, path=path, status=status, http_version=http_version)
    else:
        fields["event"] = redact_paths(record.getMessage())
    request_id = getattr(record, "request_id", None) or current_request_id()
    if request_id:
        fields["request_id"] = request_id
    for key, value in vars(record).items():
        if key not in _RECORD_ATTRIBUTES and key not in fields:
            fields[key] = redact_paths(value) if isinstance(value, str) else value
    if record.exc_info and record.exc_info[0] is not None:
        fields["exception"] = redact_paths("".join(traceback.format_exception(*record.exc_info)).rstrip())
    return fields


class StdoutHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stdout` is at the time of each line (it may be replaced after start-up)."""

    def __init__(self) -> None:
        super().__init__(sys.stdout)

    @property
    def stream(self) -> Any:
        return sys.stdout

    @stream.setter
    def stream(self, _: Any) -> None:
        pass


class JsonFormatter(logging.Formatter):
    """One JSON object per line."""

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(_fields(record), default=str, ensure_ascii=False)


class ConsoleFormatter(logging.Formatter):
    """`12:00:01.234 INFO  handoff.api  event  key=value`, for a person at a terminal."""

    def format(self, record: logging.LogRecord) -> str:
        fields = _fields(record)
        ts = fields.pop("ts")[11:23]
        level = fields.pop("level").upper()
        logger = fields.pop("logger")
        event = fields.pop("event")
        exception = fields.pop("exception", None)
        if logger == ACCESS_LOGGER:
            for key in ("method", "path", "status", "http_version"):
                fields.pop(key, None)
        extras = " ".join(f"{key}={value}" for key, value in fields.items())
        line = f"{ts} {level:<7} {logger}  {event}" + (f"  {extras}" if extras else "")
        return f"{line}\n{exception}" if exception else line


def logging_config(level: LogLevel = "INFO", fmt: LogFormat = "json") -> dict[str, Any]:
    """The `logging.config.dictConfig` of every process; uvicorn is handed the same one."""
    formatter = JsonFormatter if fmt == "json" else ConsoleFormatter
    quiet_level = level if level in ("WARNING", "ERROR") else "WARNING"
    quiet = _QUIET + (_QUIET_AT_CONSOLE if fmt == "console" and level != "DEBUG" else ())
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"handoff": {"()": f"{formatter.__module__}.{formatter.__qualname__}"}},
        "handlers": {
            "stdout": {"class": "logging.StreamHandler", "formatter": "handoff", "stream": "ext://sys.stdout"}
        },
        "root": {"handlers": ["stdout"], "level": level},
        "loggers": {
            # uvicorn's own loggers carry handlers of their own by default: route them to ours instead.
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": level, "propagate": True},
            "litestar": {"handlers": [], "level": level, "propagate": True},
            "arq": {"handlers": [], "level": level, "propagate": True},
            **{name: {"handlers": [], "level": quiet_level, "propagate": True} for name in quiet},
        },
    }


def configure_logging(level: LogLevel = "INFO", fmt: LogFormat = "json") -> None:
    """Install the one handler; warnings and uncaught exceptions become log lines too."""
    logging.config.dictConfig(logging_config(level, fmt))
    logging.captureWarnings(True)

    def log_uncaught(kind: type[BaseException], error: BaseException, tb: Any) -> None:
        if issubclass(kind, KeyboardInterrupt):
            sys.__excepthook__(kind, error, tb)
            return
        logging.getLogger("handoff").critical("uncaught exception", exc_info=(kind, error, tb))

    sys.excepthook = log_uncaught
