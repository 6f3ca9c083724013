"""A process parses each account's on-call document once per save (`shared.oncall.service.ParsedDocuments`)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.oncall.resolution import OnCallDocument
from shared.oncall.service import ParsedDocuments

SAVED = datetime(2027, 3, 22, 9, 0, tzinfo=UTC)


def document(zone: str) -> dict[str, Any]:
    return {"time_zone": zone, "rotations": [], "overrides": []}


def test_a_save_is_parsed_once_and_a_later_save_again() -> None:
    documents = ParsedDocuments()
    account = uuid.uuid4()
    first = documents.read(account, documents.held(account), SAVED, document("Europe/London"))
    assert first.time_zone == "Europe/London"
    # The statement sends no document when the save held is the one saved: the held one is the answer.
    assert documents.read(account, documents.held(account), SAVED, None) is first
    later = SAVED + timedelta(microseconds=1)
    second = documents.read(account, documents.held(account), later, document("Europe/Paris"))
    assert second.time_zone == "Europe/Paris"
    assert documents.read(account, documents.held(account), later, None) is second


def test_no_row_is_the_empty_document_and_nothing_is_held() -> None:
    documents = ParsedDocuments()
    account = uuid.uuid4()
    assert documents.read(account, None, None, None) == OnCallDocument()
    assert documents.held(account) is None


def test_the_least_recently_read_account_goes_past_the_limit() -> None:
    documents = ParsedDocuments(limit=2)
    a, b, c = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    for account in (a, b):
        documents.read(account, None, SAVED, document("UTC"))
    documents.read(a, None, SAVED + timedelta(seconds=1), document("UTC"))  # a saved again: b is the oldest
    documents.read(c, None, SAVED, document("UTC"))
    assert documents.held(b) is None
    assert documents.held(a) is not None
    assert documents.held(c) is not None
