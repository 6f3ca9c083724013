"""Scrub secrets from a snapshot before it leaves for an external AI provider."""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

# Keys whose values are secrets whatever they look like.
_SECRET_KEY = re.compile(r"pass(word|wd|phrase)?|pwd|secret|token|api[_-]?key|private[_-]?key|credential|auth", re.I)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys, whole block.
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S), REDACTED),
    # AWS access key ids and the secret that usually follows.
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"(?i)(aws_secret_access_key\s*[:=]\s*)[A-Za-z0-9/+=]{30,}"), rf"\1{REDACTED}"),
    # Bearer tokens and bare JWTs.
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1{REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), REDACTED),
    # Provider-style API keys (sk-..., ghp_..., xox...-...).
    (re.compile(r"\b(sk|rk|pk)[-_](live[-_]|test[-_]|proj[-_]|ant[-_])?[A-Za-z0-9_-]{16,}\b"), REDACTED),
    (re.compile(r"\b(ghp|gho|ghs|github_pat)_[A-Za-z0-9_]{20,}\b"), REDACTED),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"), REDACTED),
    # Passwords inside URLs: scheme://user:password@host.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(@)"), rf"\1{REDACTED}\2"),
    # key=value and key: value pairs in connection strings, configs and prose.
    (
        re.compile(
            r"(?i)\b(password|passwd|pwd|pass|passphrase|secret|client[_ ]?secret|api[_ -]?key|access[_ ]?key|"
            r"accountkey|sharedaccesskey|token|auth[_ ]?token)(\s*(?:is|was)?\s*[:=]\s*|\s+(?:is|was)\s+)"
            r"(\"[^\"]*\"|'[^']*'|[^\s;,\"']+)"
        ),
        rf"\1\2{REDACTED}",
    ),
)


def redact_text(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def redact(value: Any) -> Any:
    """A copy of `value` (any JSON shape) with secrets replaced by `[REDACTED]`."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, list):
        return [redact(item) for item in value]
    if isinstance(value, dict):
        return {
            key: REDACTED
            if isinstance(key, str) and _SECRET_KEY.search(key) and isinstance(item, str | int)
            else redact(item)
            for key, item in value.items()
        }
    return value
