"""Scrub secrets from a snapshot before it leaves for an external AI provider.

Two nets: every value under a secret-looking key is replaced whatever its type (a list, a nested object, a
number), and free text is searched for the shapes secrets take in tickets: `key=value` pairs, prose ("the
password for the admin account is ..."), command lines (`mysql -p...`, `net user bob ... /add`), tokens with a
known prefix, private keys and URLs with a password. Over-redacting a word is cheap; leaking a password is not.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

REDACTED = "[REDACTED]"

# --- keys ------------------------------------------------------------------------------------------------------

# Words that make a key secret on their own ("db_password", "adminPw", "wifi-psk").
_SECRET_WORDS = frozenset(
    {
        "password", "passwd", "passphrase", "passcode", "pass", "pwd", "pw", "psk", "pin", "secret", "secrets",
        "token", "tokens", "apikey", "credential", "credentials", "cred", "creds", "auth", "authorization",
        "cookie", "privatekey", "sig", "signature", "otp", "totp", "seed",
    }
)  # fmt: skip
# Two-word names of secrets ("api key", "access_key", "connection string").
_SECRET_PAIRS = frozenset(
    {
        ("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"), ("ssh", "key"), ("shared", "key"),
        ("account", "key"), ("encryption", "key"), ("signing", "key"), ("license", "key"), ("product", "key"),
        ("recovery", "key"), ("bitlocker", "key"), ("wifi", "key"), ("network", "key"), ("wpa", "key"),
        ("connection", "string"), ("conn", "str"), ("client", "secret"), ("session", "id"), ("sas", "url"),
    }
)  # fmt: skip
# Suffixes that make one run-together word secret ("adminpw", "rootpass", "dbpassword", "csrftoken").
_SECRET_SUFFIXES = ("password", "passwd", "pwd", "pw", "pass", "secret", "token", "psk", "apikey", "passphrase")
_NOT_SECRET_WORDS = frozenset({"bypass", "compass", "overpass", "passenger", "passive", "passport"})
# "password_expired", "pwd_last_set": facts about a secret, worth keeping, unless a secret noun is in the key too.
_QUALIFIERS = frozenset(
    {"expired", "expires", "expiry", "expiration", "age", "last", "length", "policy", "changed", "change",
     "required", "count", "never", "strength", "complexity", "attempts", "status", "set", "reset", "history"}
)  # fmt: skip
_SECRET_NOUNS = frozenset({"token", "secret", "key", "hash", "value", "text", "plain", "plaintext"})


def _key_words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)  # camelCase -> camel Case
    words = [word for word in re.split(r"[^A-Za-z0-9]+", spaced.lower()) if word]
    return [word[:-1] if word.endswith("s") and word[:-1] in _SECRET_WORDS else word for word in words]


def is_secret_key(key: str) -> bool:
    """True when a key names a secret ("password", "admin_pw", "apiKey", "WiFi PSK", "client-secret")."""
    words = _key_words(key)
    if not words:
        return False
    secret = any(word in _SECRET_WORDS for word in words)
    secret = secret or any(pair in _SECRET_PAIRS for pair in itertools.pairwise(words))
    secret = secret or any(
        word.endswith(_SECRET_SUFFIXES) and word not in _NOT_SECRET_WORDS and len(word) <= 24 for word in words
    )
    if secret and any(word in _QUALIFIERS for word in words) and not any(w in _SECRET_NOUNS for w in words):
        return False
    return secret


# --- free text -------------------------------------------------------------------------------------------------

_VALUE = r"(\"[^\"\n]*\"|'[^'\n]*'|`[^`\n]*`|[^\s;,\"'`<>]+)"
_SENSITIVE_NAME = (
    r"(?:[\w.-]*(?:password|passwd|passphrase|passcode|pwd|secret|token|apikey|api[_ -]key|psk)"
    r"|pw|pass|pin|client[_ ]secret|access[_ ]key|account[_ ]?key|shared[_ ]?access[_ ]?key|private[_ ]key"
    r"|pre-?shared[_ ]key|(?:wpa2?|wi-?fi|network|wireless)[_ ]key|sig|otp|[\w.-]+_pw|[\w.-]+_pass)"
)
# Words that follow "password is" without being one ("the password is expired"); the value must not be one.
_NOT_A_VALUE = (
    r"(?!(?:reset|changed?|expired?|expiring|incorrect|wrong|correct|required|blank|empty|updated|not|no|the|a|an|"
    r"never|still|being|too|also|locked|disabled|enabled|working|accepted|rejected|valid|invalid|same|different|set|"
    r"unknown|missing|stored|saved|in|on|at|for|from|and|or|of|with|that|this|it|via|by|now|very|weak|strong|"
    r"complex|short|long|case|sensitive)(?=[\s.,;:!?)]|$))"
)
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # PEM private keys, whole block.
    (re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?(-----END [A-Z ]*PRIVATE KEY-----|$)", re.S), REDACTED),
    # An Authorization header, to the end of its line (Basic, Bearer, NTLM, Digest...).
    (re.compile(r"(?i)\b((?:proxy-)?authorization\s*[:=]\s*)[^\r\n]+"), rf"\1{REDACTED}"),
    # AWS access key ids and the secret that usually follows.
    (re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"), REDACTED),
    (re.compile(r"(?i)(aws_secret_access_key\s*[:=]\s*)[A-Za-z0-9/+=]{30,}"), rf"\1{REDACTED}"),
    # Bearer tokens and bare JWTs.
    (re.compile(r"(?i)\b(bearer\s+)[A-Za-z0-9._~+/=-]{8,}"), rf"\1{REDACTED}"),
    (re.compile(r"\beyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}"), REDACTED),
    # Tokens with a vendor prefix: OpenAI/Anthropic/Stripe, GitHub, GitLab, Slack, Google, SendGrid, npm, PyPI.
    (re.compile(r"\b(sk|rk|pk)[-_](live[-_]|test[-_]|proj[-_]|ant[-_])?[A-Za-z0-9_-]{16,}\b"), REDACTED),
    (re.compile(r"\b(ghp|gho|ghs|ghu|ghr|github_pat)_[A-Za-z0-9_]{20,}\b"), REDACTED),
    (re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}\b"), REDACTED),
    (re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}\b"), REDACTED),
    (re.compile(r"(hooks\.slack\.com/services/)[A-Za-z0-9/]+"), rf"\1{REDACTED}"),
    (re.compile(r"\bAIza[0-9A-Za-z_-]{35}\b"), REDACTED),
    (re.compile(r"\bSG\.[A-Za-z0-9_-]{16,}\.[A-Za-z0-9_-]{16,}\b"), REDACTED),
    (re.compile(r"\b(npm_[A-Za-z0-9]{36}|pypi-[A-Za-z0-9_-]{50,})\b"), REDACTED),
    # Passwords inside URLs: scheme://user:password@host.
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://[^\s:/@]+:)[^\s@/]+(@)"), rf"\1{REDACTED}\2"),
    # <password>...</password> in XML configs (unattend.xml, web.config).
    (re.compile(r"(?i)(<(\w*(?:password|secret|token|pwd|psk|key)\w*)>)[^<]+(</\2>)"), rf"\1{REDACTED}\3"),
    # Command lines: mysql -pSECRET, mysqldump --password=..., sqlcmd -P, sshpass -p, psexec -p, ldapsearch -w.
    (re.compile(r"(?i)\b((?:mysql|mysqldump|mysqladmin|mariadb)\b[^\n]*?\s-p)(?!\s)(\S+)"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b((?:sqlcmd|bcp|osql)\b[^\n]*?\s-P\s+)(\S+)"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b((?:sshpass|psexec(?:64)?(?:\.exe)?|paexec)\b[^\n]*?\s-p\s+)(\S+)"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b(ldap(?:search|modify|add|delete|passwd)\b[^\n]*?\s-w\s+)(\S+)"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)(\s--?pass(?:word)?(?:=|\s+))(\S+)"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)(\s/p(?:ass(?:word)?)?:)(\S+)"), rf"\1{REDACTED}"),  # xfreerdp /p:..., cmdkey /pass:...
    (re.compile(r"(?i)(\bpass:)(\S+)"), rf"\1{REDACTED}"),  # openssl -passin pass:...
    (re.compile(r"(?i)\b(smbclient\b[^\n]*?-U\s+[^\s%]+%)(\S+)"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b((?:curl|wget)\b[^\n]*?\s(?:-u|--user)\s+[^\s:]+:)(\S+)"), rf"\1{REDACTED}"),
    # Windows: net user bob SECRET /add; net use Z: \\srv\share SECRET /user:bob.
    (re.compile(r"(?i)\b(net\s+user\s+(?:\"[^\"]+\"|\S+)\s+)(?![/*])(\S+)"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)\b(net\s+use\s+(?:[a-z*]:\s+)?\\\\\S+\s+)(?![/*])(\S+)"), rf"\1{REDACTED}"),
    # PowerShell: -Password/-NewPassword/-AccountPassword values and ConvertTo-SecureString "..." -AsPlainText.
    (re.compile(r"(?i)(ConvertTo-SecureString\s+(?:-String\s+)?)(\"[^\"]*\"|'[^']*'|\S+)"), rf"\1{REDACTED}"),
    (re.compile(r"(?i)(\s-\w*Password\s+)(?!\(|-)(\S+)"), rf"\1{REDACTED}"),
    # Prose: "set the admin password to X", "the password was changed to X".
    (
        re.compile(
            r"(?i)\b((?:set|changed?|reset|updated?)\s+(?:\w+\s+){0,3}?(?:password|passwd|pwd|pw|passphrase|psk|pin)"
            r"(?:\s+(?:for|of|on)\s+\S+)?\s+to\s+)" + _NOT_A_VALUE + _VALUE
        ),
        rf"\1{REDACTED}",
    ),
    (
        re.compile(
            r"(?i)\b((?:password|passwd|pwd|pw|passphrase|psk|pin)\s+(?:was\s+|is\s+|has\s+been\s+)?"
            r"(?:set|changed|reset|updated)\s+to\s+)" + _NOT_A_VALUE + _VALUE
        ),
        rf"\1{REDACTED}",
    ),
    # key=value, key: value, "key": "value" in connection strings, configs and prose.
    (re.compile(r"(?i)(?<![\w-])(" + _SENSITIVE_NAME + r"[\"']?\s*(?:=|:)\s*)" + _VALUE), rf"\1{REDACTED}"),
    # Prose: "the password for the admin account is X", "bob's pw was X", "PSK is X".
    (
        re.compile(
            r"(?i)\b((?:password|passwd|passphrase|passcode|pwd|pw|psk|pin|secret|pre-?shared\s+key|"
            r"(?:wi-?fi|wpa2?|network)\s+key)\b[^.\n:=]{0,60}?\b(?:is|was|are|were)\s+(?:now\s+|still\s+)?)"
            + _NOT_A_VALUE
            + _VALUE
        ),
        rf"\1{REDACTED}",
    ),
    # "password Hunter2!": a password word right before something shaped like one (letters with digits or symbols).
    (
        re.compile(
            r"(?i)\b((?:password|passwd|pwd|pw|passphrase|psk)\s+)(?!0x)(?=\S*[A-Za-z])(?=\S*[0-9!@#$%^&*])"
            r"([^\s,;]{6,})"
        ),
        rf"\1{REDACTED}",
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
    if isinstance(value, list | tuple):
        return [redact(item) for item in value]
    if isinstance(value, dict):
        return {key: _redact_item(key, item) for key, item in value.items()}
    return value


def _redact_item(key: Any, item: Any) -> Any:
    # Whatever a secret key holds (a string, a number, a list, an object) goes; true/false/null hold no secret.
    if isinstance(key, str) and is_secret_key(key) and item is not None and not isinstance(item, bool):
        return REDACTED
    return redact(item)
