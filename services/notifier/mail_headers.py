"""Header values written by us, byte for byte, so that no tenant string can become header syntax.

The email library decodes RFC 2047 encoded words (`=?utf-8?q?...?=`) in any value it is given and then
folds the decoded text, CR and LF included; its folding of long quoted names has had bugs of its own.
So the Subject and display names never go through its folding: a tenant string is made one line with `=?`
written `= ?`, then either written as plain ASCII folded at spaces, or, when it is not plain ASCII or has a
word too long to fold, as base64 encoded words, which hold no header syntax at all. The value is stored
with `set_raw` and written out unchanged (the writing policy must have `refold_source="none"`).
"""

from __future__ import annotations

import base64
import re
from email.message import EmailMessage

# C0 and C1 controls (NEL among them), DEL, and the Unicode line and paragraph separators.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_PRINTABLE_ASCII = re.compile(r"[ -~]*")
# An addr-spec we can write without quoting or encoding: dot-atom text, then a host name.
_ADDR_SPEC = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~.-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*")
ENCODED_WORD_START = "=?"
MAX_LINE = 78
# UTF-8 bytes per encoded word: "=?utf-8?b?" + 52 base64 characters + "?=" is 64, so a folded line stays short.
_WORD_BYTES = 39


class UnwritableHeader(ValueError):
    """A value that cannot be written as the header it is meant for."""


def one_line(text: str, limit: int | None = None) -> str:
    """`text` with every control character and line break replaced by a space, cut to `limit`."""
    flat = _CONTROL.sub(" ", text).strip()
    return flat[:limit].rstrip() if limit is not None else flat


def header_text(text: str, limit: int | None = None) -> str:
    """A tenant string as header text: one line, and no `=?` that anything could decode as an encoded word."""
    return one_line(text, limit).replace(ENCODED_WORD_START, "= ?")


def plain_addr_spec(addr_spec: str) -> str:
    """`addr_spec` if it is plain ASCII `local@domain` that needs no quoting and holds no `=?`; else it fails."""
    if not _ADDR_SPEC.fullmatch(addr_spec) or ENCODED_WORD_START in addr_spec or ".." in addr_spec:
        raise UnwritableHeader("the address cannot be written in an email header")
    local = addr_spec.rsplit("@", 1)[0]
    if local.startswith(".") or local.endswith("."):
        raise UnwritableHeader("the address cannot be written in an email header")
    return addr_spec


def set_text(message: EmailMessage, name: str, text: str) -> None:
    """Add an unstructured header (e.g. Subject) holding `text`, which must already be `header_text`."""
    message.set_raw(name, _folded(len(name) + 2, _words(text, quoted=False)))


def set_address(message: EmailMessage, name: str, display_name: str, addr_spec: str) -> None:
    """Add an address header (From, To) for one address; `display_name` must already be `header_text`."""
    addr = plain_addr_spec(addr_spec)
    words = _words(display_name, quoted=True) if display_name else []
    message.set_raw(name, _folded(len(name) + 2, [*words, f"<{addr}>" if words else addr]))


def _words(text: str, *, quoted: bool) -> list[str]:
    """`text` as plain ASCII words (quoted as one string for a display name), or as encoded words."""
    if _PRINTABLE_ASCII.fullmatch(text):
        if quoted:
            plain = ['"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"']
            if len(plain[0]) + len("From: ") <= MAX_LINE:
                return plain
        else:
            # Each word but the first keeps the spaces before it, so a fold keeps every space.
            plain = re.findall(r" *[^ ]+", text)
            if all(len(word) < MAX_LINE - len("Subject: ") for word in plain):
                return plain
    return _encoded_words(text)


def _encoded_words(text: str) -> list[str]:
    """RFC 2047 base64 words of UTF-8, split between characters; spaces between them are not part of the text."""
    chunks: list[bytes] = [b""]
    for char in text:
        encoded = char.encode("utf-8")
        if len(chunks[-1]) + len(encoded) > _WORD_BYTES:
            chunks.append(b"")
        chunks[-1] += encoded
    return ["=?utf-8?b?" + base64.b64encode(chunk).decode("ascii") + "?=" for chunk in chunks if chunk]


def _folded(used: int, words: list[str]) -> str:
    """The words on lines of at most MAX_LINE characters where they fit; a fold is CRLF before a space (RFC 5322).

    `used` is what the header's name takes on the first line. A word that starts with spaces keeps them.
    """
    lines = [""]
    for word in words:
        piece = word if word.startswith(" ") or not lines[-1] else " " + word
        if lines[-1] and used + len(piece) > MAX_LINE:
            lines.append(piece)
            used = len(piece)
        else:
            lines[-1] += piece
            used += len(piece)
    return "\r\n".join(lines)
