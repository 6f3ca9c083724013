from __future__ import annotations

from pathlib import Path

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


def test_bad_values_name_the_environment_variable_not_a_field_path() -> None:
    with pytest.raises(ConfigError) as port:
        Settings.from_env({"HANDOFF_SMTP_PORT": "twenty-five"})
    assert str(port.value) == "HANDOFF_SMTP_PORT is not valid: expected `int`, got `str`"
    with pytest.raises(ConfigError, match=r"^HANDOFF_SSE_CLIENT_BUFFER is not valid"):
        Settings.from_env({"HANDOFF_SSE_CLIENT_BUFFER": "lots"})
    with pytest.raises(ConfigError) as provider:
        Settings.from_env({"HANDOFF_AI_PROVIDER": "oracle"})
    assert str(provider.value) == "HANDOFF_AI_PROVIDER is not valid: use one of heuristic, openai, anthropic"
    with pytest.raises(ConfigError) as level:
        Settings.from_env({"HANDOFF_LOG_LEVEL": "verbose"})
    assert str(level.value) == "HANDOFF_LOG_LEVEL is not valid: use one of DEBUG, INFO, WARNING, ERROR"
    for message in (str(port.value), str(provider.value), str(level.value)):
        assert "$." not in message
        assert "\n" not in message


def test_operations_settings_and_their_defaults() -> None:
    defaults = Settings.from_env({})
    assert (defaults.db_pool_size, defaults.db_max_overflow) == (5, 5)
    assert (defaults.log_level, defaults.log_format, defaults.worker_metrics_port) == ("INFO", None, None)
    assert defaults.allowed_origins == ["http://127.0.0.1:8000"]
    assert Settings.from_env({"HANDOFF_PUBLIC_URL": "https://handoff.example.com/app/"}).allowed_origins == [
        "https://handoff.example.com"
    ]
    tuned = Settings.from_env(
        {
            "HANDOFF_DB_POOL_SIZE": "3",
            "HANDOFF_DB_MAX_OVERFLOW": "0",
            "HANDOFF_LOG_LEVEL": "debug",
            "HANDOFF_LOG_FORMAT": "Console",
            "HANDOFF_CORS_ORIGINS": "https://msp.example.com, https://admin.example.com/",
            "HANDOFF_WORKER_METRICS_PORT": "9101",
        }
    )
    assert (tuned.db_pool_size, tuned.db_max_overflow, tuned.worker_metrics_port) == (3, 0, 9101)
    assert (tuned.log_level, tuned.log_format) == ("DEBUG", "console")
    assert tuned.allowed_origins == ["https://msp.example.com", "https://admin.example.com"]
    with pytest.raises(ConfigError, match=r"^HANDOFF_DB_POOL_SIZE is not valid: expected `int` >= 1$"):
        Settings.from_env({"HANDOFF_DB_POOL_SIZE": "0"})


def test_secrets_never_print() -> None:
    settings = Settings.from_env(
        {"HANDOFF_JWT_SECRET": "hunter2-jwt-" + "x" * 32, "HANDOFF_SMTP_PASSWORD": "hunter2-smtp"}
    )
    assert "hunter2" not in repr(settings)
    with pytest.raises(ConfigError, match="HANDOFF_SECRET_KEY"):
        settings.require_secrets()


def test_passwords_in_urls_never_print() -> None:
    settings = Settings.from_env(
        {
            "HANDOFF_DATABASE_URL": "postgresql+asyncpg://handoff:hunter2-db@db.internal:5432/handoff",
            "HANDOFF_REDIS_URL": "redis://:hunter2-redis@redis.internal:6379/0",
        }
    )
    shown = repr(settings)
    assert "hunter2" not in shown
    assert "postgresql+asyncpg://handoff:***@db.internal:5432/handoff" in shown
    assert "redis://:***@redis.internal:6379/0" in shown


def test_outbound_allow_list_and_implicit_tls_are_settings() -> None:
    settings = Settings.from_env(
        {"HANDOFF_OUTBOUND_ALLOW": "10.0.0.0/8,psa.corp.example", "HANDOFF_SMTP_IMPLICIT_TLS": "1"}
    )
    assert settings.outbound_allow == "10.0.0.0/8,psa.corp.example"
    assert settings.smtp_implicit_tls is True
    assert Settings.from_env({}).smtp_implicit_tls is False
    assert Settings.from_env({}).outbound_allow == ""


def test_secrets_are_read_from_the_files_their_FILE_variables_name(tmp_path: Path) -> None:
    values = {
        "database_url": "postgresql+asyncpg://handoff:pg-Secret@postgres:5432/handoff",
        "redis_url": "redis://:redis-Secret@redis:6379/0",
        "jwt_secret": "j" * 48,
        "secret_key": "k" * 43 + "=",
        "smtp_password": "smtp pass with spaces",
        "ai_api_key": "sk-test-123",
    }
    env = {}
    for name, value in values.items():
        path = tmp_path / name
        path.write_text(value + "\n")  # as `echo ... > file` writes it
        env[f"HANDOFF_{name.upper()}_FILE"] = str(path)
    settings = Settings.from_env(env)
    assert {name: getattr(settings, name) for name in values} == values
    settings.require_secrets()
    assert "j" * 48 not in repr(settings)


def test_a_FILE_variable_and_its_plain_variable_together_are_refused(tmp_path: Path) -> None:
    (tmp_path / "jwt").write_text("j" * 48)
    with pytest.raises(ConfigError) as both:
        Settings.from_env({"HANDOFF_JWT_SECRET": "x" * 48, "HANDOFF_JWT_SECRET_FILE": str(tmp_path / "jwt")})
    assert str(both.value) == "set HANDOFF_JWT_SECRET or HANDOFF_JWT_SECRET_FILE, not both"


def test_a_missing_or_empty_secret_file_is_named_not_ignored(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as missing:
        Settings.from_env({"HANDOFF_SECRET_KEY_FILE": str(tmp_path / "nothing-here")})
    assert str(missing.value).startswith("HANDOFF_SECRET_KEY_FILE names a file that cannot be read: ")
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(ConfigError) as empty:
        Settings.from_env({"HANDOFF_JWT_SECRET_FILE": str(tmp_path / "empty")})
    assert str(empty.value) == f"HANDOFF_JWT_SECRET_FILE names an empty file: {tmp_path / 'empty'}"


def test_settings_that_are_not_secrets_have_no_FILE_variable(tmp_path: Path) -> None:
    (tmp_path / "port").write_text("2525")
    assert Settings.from_env({"HANDOFF_SMTP_PORT_FILE": str(tmp_path / "port")}).smtp_port == 587
