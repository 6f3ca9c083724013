from __future__ import annotations

import pytest

from shared.config import ConfigError, Settings


def test_reads_every_variable_of_the_contract() -> None:
    settings = Settings.from_env(
        {
            "HANDOFF_DATABASE_URL": "postgresql+asyncpg://db/handoff",
            "HANDOFF_REDIS_URL": "redis://127.0.0.1:6379/0",
            "HANDOFF_SMTP_PORT": "2525",
            "HANDOFF_SMTP_STARTTLS": "false",
            "HANDOFF_SSE_HEARTBEAT_S": "1.5",
            "HANDOFF_SSE_CLIENT_BUFFER": "8",
            "HANDOFF_STREAM_MAXLEN": "500",
            "HANDOFF_AI_PROVIDER": "anthropic",
        }
    )
    assert settings.database_url == "postgresql+asyncpg://db/handoff"
    assert settings.redis_url == "redis://127.0.0.1:6379/0"
    assert (settings.smtp_port, settings.smtp_starttls) == (2525, False)
    assert (settings.sse_heartbeat_s, settings.sse_client_buffer, settings.stream_maxlen) == (1.5, 8, 500)
    assert settings.ai_provider == "anthropic"


def test_defaults_are_the_embedded_ones() -> None:
    settings = Settings.from_env({})
    assert settings.database_url == "sqlite+aiosqlite:///var/handoff.db"
    assert settings.redis_url is None
    assert settings.sse_heartbeat_s == 25
    assert settings.sse_client_buffer == 64
    assert settings.stream_maxlen == 10000
    assert settings.public_url == "http://127.0.0.1:8000"


def test_bad_values_name_the_setting() -> None:
    with pytest.raises(ConfigError, match="sse_client_buffer"):
        Settings.from_env({"HANDOFF_SSE_CLIENT_BUFFER": "lots"})
    with pytest.raises(ConfigError, match="ai_provider"):
        Settings.from_env({"HANDOFF_AI_PROVIDER": "oracle"})


def test_secrets_never_print() -> None:
    settings = Settings.from_env({"HANDOFF_JWT_SECRET": "hunter2-jwt", "HANDOFF_SMTP_PASSWORD": "hunter2-smtp"})
    assert "hunter2" not in repr(settings)
    with pytest.raises(ConfigError, match="HANDOFF_SECRET_KEY"):
        settings.require_secrets()


def test_outbound_allow_list_and_implicit_tls_are_settings() -> None:
    settings = Settings.from_env(
        {"HANDOFF_OUTBOUND_ALLOW": "10.0.0.0/8,psa.corp.example", "HANDOFF_SMTP_IMPLICIT_TLS": "1"}
    )
    assert settings.outbound_allow == "10.0.0.0/8,psa.corp.example"
    assert settings.smtp_implicit_tls is True
    assert Settings.from_env({}).smtp_implicit_tls is False
    assert Settings.from_env({}).outbound_allow == ""
