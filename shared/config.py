"""Settings: every `HANDOFF_*` environment variable, read once at start-up."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal, get_args, get_type_hints
from urllib.parse import urlsplit

import msgspec

from shared.observability.logs import LogFormat, LogLevel

MIN_JWT_SECRET_BYTES = 32
MAX_PICK_UP_LINK_TTL_S = 30 * 86400
AIProviderName = Literal["heuristic", "openai", "anthropic"]
Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
# Written the way people write them: `debug`, `Json`.
_CASE = {"log_level": str.upper, "log_format": str.lower}
# Settings that may instead be read from a file named by `HANDOFF_<NAME>_FILE` (Docker and Kubernetes secrets).
SECRET_FIELDS = ("database_url", "redis_url", "jwt_secret", "secret_key", "smtp_password", "ai_api_key")


class ConfigError(Exception):
    """A setting is missing or malformed; the message names it."""


class Settings(msgspec.Struct, frozen=True, kw_only=True):
    """The service's configuration; built by `Settings.from_env` and passed down."""

    database_url: str = "sqlite+aiosqlite:///var/handoff.db"
    redis_url: str | None = None
    jwt_secret: str = ""
    secret_key: str = ""
    public_url: str = "http://127.0.0.1:8000"
    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_starttls: bool = True
    smtp_implicit_tls: bool = False  # TLS from the first byte (port 465) instead of STARTTLS
    smtp_from: str = "handoff@localhost"
    ai_provider: AIProviderName = "heuristic"
    ai_base_url: str | None = None
    ai_api_key: str | None = None
    ai_model: str | None = None
    ai_timeout_s: float = 30.0
    sse_heartbeat_s: float = 25.0
    sse_client_buffer: int = 64
    stream_maxlen: int = 10000
    # The most one list page holds: a page stops early there and its next_cursor goes on from there.
    list_max_bytes: Annotated[int, msgspec.Meta(ge=1024)] = 4 * 1024 * 1024
    job_timeout_s: float = 120.0
    rate_limit_per_min: int = 120
    escalations_per_hour: Annotated[int, msgspec.Meta(ge=1)] = 30  # per user, rolling hour; parks are not counted
    # How long an email's pick-up link works, from its first email: at least a second, at most 30 days.
    pick_up_link_ttl_s: Annotated[int, msgspec.Meta(ge=1, le=MAX_PICK_UP_LINK_TTL_S)] = 86400
    redis_pool_size: int = 20
    redis_pool_timeout_s: float = 10.0
    # `host:port,...` of Redis Sentinels; HANDOFF_REDIS_URL then gives only the password and database number.
    redis_sentinels: str | None = None
    redis_sentinel_master: str | None = None  # the name the sentinels know the master by
    # Replicas that must hold an event or job (`WAIT`) before the outbox counts it as published.
    redis_min_replicas: Annotated[int, msgspec.Meta(ge=0)] = 0
    sse_max_streams_per_user: int = 8
    job_max_tries: int = 10
    sweep_interval_s: float = 60.0
    dev_mode: bool = False
    db_pool_size: Annotated[int, msgspec.Meta(ge=1)] = 5
    db_max_overflow: Annotated[int, msgspec.Meta(ge=0)] = 5
    log_level: LogLevel = "INFO"
    log_format: LogFormat | None = None  # None: `json`, or `console` under `handoff dev`
    cors_origins: str | None = None
    worker_metrics_port: Port | None = None
    outbound_allow: str = ""  # hosts or CIDRs a PSA or webhook target may be although private, comma-separated

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: object) -> Settings:
        """Read `HANDOFF_<FIELD>` for every field; empty strings count as unset."""
        env = os.environ if environ is None else environ
        raw: dict[str, object] = {}
        for name in cls.__struct_fields__:
            value = env.get(f"HANDOFF_{name.upper()}", "").strip()
            if name in SECRET_FIELDS:
                value = _secret_from_file(env, name, value)
            if value:
                raw[name] = _CASE[name](value) if name in _CASE else value
        raw.update(overrides)
        try:
            settings = msgspec.convert(raw, cls, strict=False)
        except msgspec.ValidationError as exc:
            raise ConfigError(_name_the_variable(cls, str(exc))) from exc
        settings.check_redis()
        return settings

    @property
    def uses_redis(self) -> bool:
        """Whether streams and jobs are in Redis (a URL or Sentinels), not in this process."""
        return bool(self.redis_url or self.redis_sentinels)

    @property
    def redis_sentinel_addresses(self) -> list[tuple[str, int]]:
        """`HANDOFF_REDIS_SENTINELS` as (host, port) pairs; empty without Sentinel."""
        return sentinel_addresses(self.redis_sentinels or "")

    def check_redis(self) -> None:
        """The Redis settings make sense together; else one sentence naming the variable."""
        addresses = self.redis_sentinel_addresses
        master = self.redis_sentinel_master
        if addresses and not master:
            raise ConfigError(
                "HANDOFF_REDIS_SENTINEL_MASTER is required with HANDOFF_REDIS_SENTINELS: "
                "the name the sentinels know the master by (e.g. mymaster)"
            )
        if master and not addresses:
            raise ConfigError("HANDOFF_REDIS_SENTINEL_MASTER is set but HANDOFF_REDIS_SENTINELS is not")
        if master and not _MASTER_NAME.fullmatch(master):
            raise ConfigError(
                "HANDOFF_REDIS_SENTINEL_MASTER is not valid: use letters, digits, `.`, `_` and `-` (e.g. mymaster)"
            )
        if addresses and self.redis_url and urlsplit(self.redis_url).scheme not in ("redis", "rediss"):
            raise ConfigError("HANDOFF_REDIS_URL must be redis:// or rediss:// with HANDOFF_REDIS_SENTINELS")
        if self.redis_min_replicas and not self.uses_redis:
            raise ConfigError("HANDOFF_REDIS_MIN_REPLICAS needs HANDOFF_REDIS_URL or HANDOFF_REDIS_SENTINELS")

    @property
    def allowed_origins(self) -> list[str]:
        """Origins a browser may call the API from: `HANDOFF_CORS_ORIGINS`, else the dashboard's own."""
        if self.cors_origins:
            return [origin.strip().rstrip("/") for origin in self.cors_origins.split(",") if origin.strip()]
        url = urlsplit(self.public_url)
        return [f"{url.scheme}://{url.netloc}"]

    def require_secrets(self) -> None:
        """Refuse to run a networked process without the shared secrets."""
        if not self.jwt_secret:
            raise ConfigError("HANDOFF_JWT_SECRET is required outside `handoff dev`")
        if not self.secret_key:
            raise ConfigError("HANDOFF_SECRET_KEY is required outside `handoff dev`")
        self.check_jwt_secret()

    def check_jwt_secret(self) -> None:
        """An HS256 secret shorter than its hash can be guessed: refuse it at start-up."""
        if len(self.jwt_secret.encode()) < MIN_JWT_SECRET_BYTES:
            raise ConfigError(f"HANDOFF_JWT_SECRET must be at least {MIN_JWT_SECRET_BYTES} bytes long")

    def __repr__(self) -> str:
        # Never print secrets: settings objects end up in logs and tracebacks.
        hidden = {"jwt_secret", "secret_key", "smtp_password", "ai_api_key"}
        parts = (
            f"{name}={'***' if name in hidden and getattr(self, name) else repr(getattr(self, name))}"
            for name in self.__struct_fields__
        )
        return f"Settings({', '.join(parts)})"


_MASTER_NAME = re.compile(r"[A-Za-z0-9._-]{1,128}")
_SENTINEL = re.compile(r"(?:\[(?P<v6>[0-9A-Fa-f:.]+)\]|(?P<host>[A-Za-z0-9_][A-Za-z0-9_.-]*)):(?P<port>[0-9]{1,5})")


def sentinel_addresses(value: str) -> list[tuple[str, int]]:
    """`host:port,host:port` (an IPv6 host in brackets) as pairs; a ConfigError names a malformed entry."""
    if not value.strip():
        return []
    found = []
    for entry in (part.strip() for part in value.split(",")):
        match = _SENTINEL.fullmatch(entry)
        if match is None or not 1 <= int(match["port"]) <= 65535:
            shown = entry if entry and entry.isprintable() and len(entry) <= 100 else repr(entry[:100])
            raise ConfigError(
                f"HANDOFF_REDIS_SENTINELS is not valid: `{shown}` is not host:port with a port from 1 to 65535 "
                "(e.g. sentinel-1:26379,sentinel-2:26379)"
            )
        found.append((match["v6"] or match["host"], int(match["port"])))
    return found


def _secret_from_file(env: Mapping[str, str], name: str, value: str) -> str:
    """`HANDOFF_<NAME>_FILE`'s content (surrounding whitespace dropped) when it is set; `value` otherwise."""
    variable = f"HANDOFF_{name.upper()}"
    path = env.get(f"{variable}_FILE", "").strip()
    if not path:
        return value
    if value:
        raise ConfigError(f"set {variable} or {variable}_FILE, not both")
    try:
        content = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(
            f"{variable}_FILE names a file that cannot be read: {path} ({exc.__class__.__name__})"
        ) from None
    if not content:
        raise ConfigError(f"{variable}_FILE names an empty file: {path}")
    return content


def _name_the_variable(cls: type[Settings], message: str) -> str:
    """msgspec's "Expected `int`, got `str` - at `$.smtp_port`" as one sentence naming HANDOFF_SMTP_PORT."""
    match = re.fullmatch(r"(?s)(.*) - at `\$\.(\w+)[^`]*`", message)
    if match is None:
        return f"invalid configuration: {message}"
    name, reason = match[2], match[1][:1].lower() + match[1][1:]
    choices = _literal_choices(get_type_hints(cls)[name])
    if choices:
        reason = f"use one of {', '.join(choices)}"
    return f"HANDOFF_{name.upper()} is not valid: {reason}"


def _literal_choices(annotation: object) -> list[str]:
    """The strings a `Literal` (or an optional one) allows."""
    found: list[str] = []
    for arg in get_args(annotation):
        found.extend([arg] if isinstance(arg, str) else _literal_choices(arg))
    return found
