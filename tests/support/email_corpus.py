"""Header and body injection attacks for the escalation email, and what a well-formed copy looks like on the wire.

Standard library and `services.notifier.mail_format` only: `python -m tests.support.email_corpus` runs the
whole corpus under any Python 3.11+ and prints a JSON verdict, so the composition is checked on Pythons
other than the project's own.
"""

from __future__ import annotations

import base64
import json
import re
import sys
from collections import Counter
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser

from services.notifier.mail_format import HEADERS, Escalation, Recipient, Unwritable, escalation_email, flatten


def _b(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


REPLY_TO_ATTACK = (
    "Printer =?utf-8?q?=0D=0AReply-To:_it@evil.test=0D=0AContent-Type:_text/html=0D=0A=0D=0A"
    "<a_href=3Dhttps://evil.test>Sign_in</a>?="
)

CORPUS: dict[str, str] = {
    "encoded word, q": REPLY_TO_ATTACK,
    "encoded word, b": f"VPN down =?utf-8?b?{_b(chr(13) + chr(10) + 'Bcc: x@evil.test' + chr(13) + chr(10))}?= now",
    "encoded word, upper-case Q and charset": "=?UTF-8?Q?=0A?= X-Evil: 1",
    "encoded word, latin-1 Cc": "=?iso-8859-1?q?=0D=0ACc:_x@evil.test?=",
    "encoded word, with language": "=?utf-8*en?q?=0D=0ABcc:_x@evil.test?=",
    "encoded words, adjacent": "=?utf-8?q?a?==?utf-8?q?=0D=0ABcc:_x@evil.test?=",
    "encoded word, inside a word": "abc=?utf-8?q?=0A=0AX-Evil:_1?=def",
    "encoded word, inside quotes": '"=?utf-8?q?=0D=0ABcc:_x@evil.test?="',
    "encoded word, a whole body": f"=?utf-8?b?{_b(chr(10) * 2 + '<a href=https://evil.test>Sign in</a>')}?=",
    "encoded word, an address": "=?utf-8?q?x=40evil.test?= <y@evil.test>",
    "encoded word, longer than a line": "=?utf-8?q?" + "=41" * 120 + "=0D=0AX-Evil:_1?=",
    "folding, CRLF then a space": "Printer\r\n X-Evil: 1",
    "folding, a very long word": "A" * 1200,
    "folding, long words and spaces": ("W" * 90 + " ") * 12,
    "CRLF": "Printer\r\nBcc: x@evil.test\r\n\r\n<b>body</b>",
    "LF": "Printer\nX-Evil: 1",
    "bare CR": "Printer\rX-Evil: 1",
    "U+2028 line separator": "Printer\u2028X-Evil: 1",
    "U+2029 paragraph separator": "Printer\u2029X-Evil: 1",
    "U+0085 next line": "Printer\x85X-Evil: 1",
    "vertical tab and form feed": "Printer\x0bX-Evil: 1\x0cX-Other: 2",
    "NUL, tab and DEL": "Printer\x00\tX-Evil:\x7f 1",
    "double quotes": 'Sam "The Boss" \\" <x@evil.test>',
    "angle brackets, comma, semicolon": "Sam <sam@evil.test>, attacker@evil.test; Group: a@evil.test;",
    "group syntax": "undisclosed-recipients:;",
    "comment": "Sam (x@evil.test) <y@evil.test>",
    "a header of its own": "Subject: fake",
    "a MIME boundary and parts": "--===============00000000000==\r\nContent-Type: text/html\r\n\r\n<a href=x>y</a>",
    "SMTP end of data": "line\r\n.\r\nQUIT\r\n",
    "markup": "<a href=https://evil.test>Sign in</a><script>alert(1)</script>&amp;",
    "non-ASCII, long": "Drucker im Büro 3 fällt aus \u2013 プリンター 🖨️ " * 8,
}
POSITIONS = ("title", "note", "escalator", "recipient")

RECIPIENT_EMAIL = "sam@msp.test"
SENDER = "Handoff <handoff@alerts.msp.example>"
LINK = "https://handoff.example.test/#/handoffs/0192f1c2-aaaa-7bbb-8ccc-0123456789ab"
PICK_UP_LINK = "https://handoff.example.test/pick-up/" + "Tk9UX0FfUkVBTF9UT0tFTl9KVVNUX1RIRV9TSEFQRQ-"
WRITTEN_HEADERS = Counter([*HEADERS, "MIME-Version", "Content-Type"])
HTML_TAGS = {"html", "body", "p", "strong", "em", "blockquote", "h3", "ol", "li", "a"}
_OUR_SUBJECT = re.compile(r"\[(LOW|NORMAL|HIGH)\] Escalation: .* \(from .*\)\Z")
_LINE_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def attack(position: str, text: str) -> tuple[Escalation, Recipient]:
    """An escalation whose `position` (title, note, escalator or recipient) holds `text`."""
    escalation = Escalation(
        handoff_id="0192f1c2-aaaa-7bbb-8ccc-0123456789ab",
        title=text if position == "title" else "VPN drops",
        urgency="high",
        escalator=text if position == "escalator" else "Jamie Junior",
        note=text if position == "note" else "Tried rebuilding the tunnel",
        link=LINK,
        ticket_ref="8812",
        summary="Likely MTU",
        suggested_steps=["Lower the MTU", "Check the ISP"],
    )
    return escalation, Recipient(
        id="0192f1c2-0000-7000-8000-000000000001",
        name=text if position == "recipient" else "Sam Senior",
        email=RECIPIENT_EMAIL,
    )


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str | None] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        if tag == "a":
            self.hrefs.append(dict(attrs).get("href"))


def problems(
    raw: bytes, *, recipient: str = RECIPIENT_EMAIL, link: str = LINK, pick_up_link: str | None = None
) -> list[str]:
    """What is wrong with one received copy, as a mail client would read it ([] when it is well-formed).

    With `pick_up_link` the copy must carry that link, and only it, as well as the handoff's, in both parts.
    """
    found: list[str] = []
    bare = raw.replace(b"\r\n", b"")
    if b"\r" in bare or b"\n" in bare:
        found.append("a bare CR or LF")
    head, blank, _ = raw.partition(b"\r\n\r\n")
    if not blank:
        return [*found, "no blank line after the headers"]
    names: list[str] = []
    for line in head.split(b"\r\n"):
        if line[:1] in (b" ", b"\t"):
            continue  # a folded line: the header above goes on
        name, colon, _ = line.partition(b":")
        if not colon:
            found.append(f"a header line without a name: {line[:40]!r}")
        names.append(name.decode("ascii", "replace"))
    if Counter(names) != WRITTEN_HEADERS:
        found.append(f"headers other than ours, or twice: {sorted((Counter(names) ^ WRITTEN_HEADERS).elements())}")

    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    found += _addresses(message, recipient)
    subject = str(message["Subject"] or "")
    if not _OUR_SUBJECT.match(subject) or _LINE_BREAK.search(subject):
        found.append(f"a Subject that is not one line of ours: {subject[:60]!r}")
    if message.defects or any(message[name].defects for name in message):
        found.append("a malformed header")

    parts = list(message.iter_parts())
    shape = [message.get_content_type(), *(part.get_content_type() for part in parts)]
    if shape != ["multipart/alternative", "text/plain", "text/html"]:
        return [*found, f"MIME parts {shape}"]
    plain, markup = (str(part.get_content()) for part in parts)
    if link not in plain:
        found.append("the link is missing from the text part")
    if pick_up_link is not None and pick_up_link not in plain:
        found.append("the pick-up link is missing from the text part")
    tags = _Tags()
    tags.feed(markup)
    hrefs = [link] if pick_up_link is None else [pick_up_link, link]
    if set(tags.tags) - HTML_TAGS or tags.hrefs != hrefs:
        found.append(f"markup that is not ours: {sorted(set(tags.tags) - HTML_TAGS)} {tags.hrefs}")
    return found


def _addresses(message: EmailMessage, recipient: str) -> list[str]:
    found = []
    for name, expected in (("To", recipient), ("From", None)):
        header = message[name]
        addresses: tuple[Address, ...] = header.addresses if header is not None else ()
        if len(addresses) != 1 or (expected is not None and addresses[0].addr_spec != expected):
            found.append(f"{name} is not one address of ours: {[a.addr_spec for a in addresses]}")
        elif _LINE_BREAK.search(addresses[0].display_name) or "=?" in addresses[0].display_name:
            found.append(f"a {name} name a client would decode or break: {addresses[0].display_name[:60]!r}")
    return found


def raw_attack() -> EmailMessage:
    """The escalation email's headers written the naive way, straight from an attacker's title and name."""
    message = EmailMessage(policy=policy.SMTP)
    message["Subject"] = f"[HIGH] Escalation: {REPLY_TO_ATTACK} (from Jamie)"
    message["From"] = "handoff@alerts.msp.example"
    message["To"] = Address(display_name="Sam =?utf-8?q?=0D=0ABcc:_x@evil.test?=", addr_spec=RECIPIENT_EMAIL)
    message.set_content("Open it")
    return message


def verdict() -> dict[str, object]:
    """Every attack in every position, composed and flattened here; and whether the naive message is refused."""
    failures: dict[str, list[str]] = {}
    checked = 0
    for case, text in CORPUS.items():
        for position in POSITIONS:
            for pick_up in (None, PICK_UP_LINK):
                escalation, recipient = attack(position, text)
                name = f"{case} in the {position}" + (", with a pick-up link" if pick_up else "")
                try:
                    raw = flatten(escalation_email(escalation, recipient, sender=SENDER, pick_up_link=pick_up))
                except Unwritable as exc:
                    failures[name] = [f"not written: {exc}"]
                    continue
                checked += 1
                wrong = problems(raw, pick_up_link=pick_up)
                if wrong:
                    failures[name] = wrong
    try:
        flatten(raw_attack())
        refused = ""
    except Unwritable as exc:
        refused = str(exc)
    return {
        "python": sys.version.split()[0],
        "library_checks_headers": hasattr(policy.SMTP, "verify_generated_headers"),
        "checked": checked,
        "failures": failures,
        "naive_message_refused": refused,
    }


if __name__ == "__main__":
    print(json.dumps(verdict()))
