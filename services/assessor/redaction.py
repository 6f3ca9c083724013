"""Scrub secrets from a snapshot before it leaves for an external AI provider.

Two nets: every value under a secret-looking key is replaced whatever its type (a list, a nested object, a
number), and free text is searched for the shapes secrets take in tickets (secret_shapes.py): `key=value` pairs
in several languages, prose ("the password for the admin account is ..."), device configurations, command lines,
tokens with a known prefix, webhook URLs, cookies, private keys and URLs with a password. Over-redacting a word
is cheap; leaking a password is not.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

from services.assessor.secret_shapes import PATTERNS, REDACTED

__all__ = ["REDACTED", "is_secret_key", "redact", "redact_text"]

# --- keys ------------------------------------------------------------------------------------------------------

# Words that make a key secret on their own ("db_password", "adminPw", "wifi-psk").
_SECRET_WORDS = frozenset(
    {
        "password", "passwd", "passphrase", "passcode", "pass", "pwd", "pw", "psk", "pin", "secret", "secrets",
        "token", "tokens", "apikey", "credential", "credentials", "cred", "creds", "auth", "authorization",
        "cookie", "privatekey", "sig", "signature", "otp", "totp", "seed", "puk", "community", "sessionid",
        "jsessionid", "phpsessid", "kennwort", "passwort", "wachtwoord", "senha", "contraseña", "contrasena",
        "clave", "mdp", "parola", "hasło", "haslo", "heslo", "lösenord", "losenord", "passord", "adgangskode",
        "salasana", "jelszó", "jelszo", "şifre", "sifre", "пароль", "パスワード", "密码",
    }
)  # fmt: skip
# Two-word names of secrets ("api key", "access_key", "connection string").
_SECRET_PAIRS = frozenset(
    {
        ("api", "key"), ("access", "key"), ("private", "key"), ("secret", "key"), ("ssh", "key"), ("shared", "key"),
        ("account", "key"), ("encryption", "key"), ("signing", "key"), ("license", "key"), ("product", "key"),
        ("recovery", "key"), ("bitlocker", "key"), ("wifi", "key"), ("network", "key"), ("wpa", "key"),
        ("connection", "string"), ("conn", "str"), ("client", "secret"), ("session", "id"), ("sas", "url"),
        ("webhook", "url"), ("key", "content"), ("subscription", "key"), ("nt", "hash"), ("ntlm", "hash"),
        ("palavra", "passe"), ("de", "passe"), ("recovery", "password"), ("function", "key"),
    }
)  # fmt: skip
# Suffixes that make one run-together word secret ("adminpw", "rootpass", "dbpassword", "csrftoken").
_SECRET_SUFFIXES = (
    "password", "passwd", "pwd", "pw", "pass", "secret", "token", "psk", "apikey", "passphrase", "kennwort",
    "passwort", "wachtwoord", "schlüssel",
)  # fmt: skip
_NOT_SECRET_WORDS = frozenset({"bypass", "compass", "overpass", "passenger", "passive", "passport"})
# "password_expired", "pwd_last_set": facts about a secret, worth keeping, unless a secret noun is in the key too.
_QUALIFIERS = frozenset(
    {"expired", "expires", "expiry", "expiration", "age", "last", "length", "policy", "changed", "change",
     "required", "count", "never", "strength", "complexity", "attempts", "status", "set", "reset", "history"}
)  # fmt: skip
_SECRET_NOUNS = frozenset({"token", "secret", "key", "hash", "value", "text", "plain", "plaintext"})


def _key_words(key: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", key)  # camelCase -> camel Case
    words = [word for word in re.split(r"[\W_]+", spaced.lower()) if word]  # any script: "contraseña", "пароль"
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


# --- free text: the shapes live in secret_shapes.py ---------------------------------------------------------------


def redact_text(text: str) -> str:
    for pattern, replacement in PATTERNS:
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
