"""Who may see, stream and claim: the rules every guard, domain call and job asks, without a database."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from shared.auth.principal import Principal, Role
from shared.directory.tables import User
from shared.directory.who import (
    Standing,
    may_see_handoff,
    may_see_session,
    may_stream,
    require_may_claim,
    require_senior,
    standing_of,
)
from shared.errors import CannotClaimOwnHandoff, Forbidden, HandoffNotClaimable
from shared.handoffs.tables import HandoffRow
from shared.sessions.tables import AISession

ACCOUNT = uuid.uuid4()
OTHER_ACCOUNT = uuid.uuid4()


def person(role: Role = "engineer", account: uuid.UUID | None = ACCOUNT) -> Principal:
    return Principal(user_id=uuid.uuid4(), account_id=account, role=role, name=role)


def handoff_by(engineer: Principal) -> HandoffRow:
    return HandoffRow(account_id=ACCOUNT, created_by_id=engineer.user_id)


def test_an_escalation_is_seen_by_its_account_and_a_park_by_its_engineer_only() -> None:
    engineer, colleague, stranger = person(), person("admin"), person(account=OTHER_ACCOUNT)
    handoff = handoff_by(engineer)
    assert may_see_handoff(colleague, handoff, park=False)
    assert not may_see_handoff(stranger, handoff, park=False)
    assert may_see_handoff(engineer, handoff, park=True)
    assert not may_see_handoff(colleague, handoff, park=True)


def test_a_parked_session_is_seen_by_its_engineer_only() -> None:
    engineer, colleague = person(), person("owner")
    session = AISession(account_id=ACCOUNT, engineer_id=engineer.user_id)
    assert may_see_session(colleague, session, parked=False)
    assert may_see_session(engineer, session, parked=True)
    assert not may_see_session(colleague, session, parked=True)
    assert not may_see_session(person(account=OTHER_ACCOUNT), session, parked=False)


@pytest.mark.parametrize(
    ("role", "active", "deleted", "account", "streams"),
    [
        ("engineer", True, False, ACCOUNT, True),
        ("owner", True, False, ACCOUNT, True),
        ("viewer", True, False, ACCOUNT, False),
        ("engineer", False, False, ACCOUNT, False),
        ("engineer", True, True, ACCOUNT, False),
        ("engineer", True, False, OTHER_ACCOUNT, False),
    ],
)
def test_only_an_active_senior_of_the_account_may_stream(
    role: str, active: bool, deleted: bool, account: uuid.UUID, streams: bool
) -> None:
    user = User(account_id=account, role=role, active=active, deleted_at=datetime.now(UTC) if deleted else None)
    assert may_stream(standing_of(user), ACCOUNT) is streams
    assert may_stream(Standing(account, role, active, user.deleted_at), ACCOUNT) is streams


def test_a_senior_claims_someone_elses_escalation_never_a_park_nor_their_own() -> None:
    escalator, senior = person(), person("admin")
    handoff = handoff_by(escalator)
    require_may_claim(senior, handoff, park=False)
    with pytest.raises(CannotClaimOwnHandoff):
        require_may_claim(escalator, handoff, park=False)
    with pytest.raises(HandoffNotClaimable):
        require_may_claim(senior, handoff, park=True)
    with pytest.raises(Forbidden):
        require_senior(person("viewer"))
