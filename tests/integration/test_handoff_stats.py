"""Team figures against a seeded history whose numbers were worked out by hand."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.bootstrap import Runtime
from shared.handoffs.tables import AssessmentFeedbackRow, HandoffRow
from shared.sessions.tables import AISession
from tests.support.tenants import Tenant, TenantFactory

SINCE, UNTIL = "2026-11-01T00:00:00Z", "2026-11-04T00:00:00Z"


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


# (name, intent, urgency, created, seconds to claim or None, status, reminders, assessment)
HISTORY: list[tuple[str, str, str, str, int | None, str, int, str]] = [
    ("a", "escalate", "normal", "2026-11-01T10:00:00", 100, "claimed", 1, "ready"),
    ("b", "escalate", "high", "2026-11-01T11:00:00", 30, "claimed", 0, "ready"),
    ("c", "escalate", "low", "2026-11-01T12:00:00", None, "withdrawn", 2, "failed"),
    ("d", "escalate", "normal", "2026-11-02T09:00:00", 300, "claimed", 0, "ready"),
    ("e", "escalate", "normal", "2026-11-02T23:59:00", None, "open", 3, "pending"),
    # Outside the window, or not an escalation: never counted.
    ("f", "escalate", "normal", "2026-10-31T23:59:59", 5, "claimed", 4, "ready"),
    ("g", "escalate", "high", "2026-11-04T00:00:00", 7, "claimed", 4, "ready"),
    ("h", "park", "normal", "2026-11-01T10:30:00", None, "open", 0, "not_requested"),
]


async def seed(runtime: Runtime, tenant: Tenant) -> None:
    junior, sam, alex = tenant["junior"], tenant["sam"], tenant["alex"]
    async with runtime.sessionmaker() as db:
        session = AISession(account_id=tenant.account_id, title="History", engineer_id=junior.id)
        db.add(session)
        await db.flush()
        ids: dict[str, uuid.UUID] = {}
        for name, intent, urgency, created, to_claim, status, reminders, assessment in HISTORY:
            ids[name] = uuid.uuid4()
            created_at = at(created)
            db.add(
                HandoffRow(
                    id=ids[name],
                    account_id=tenant.account_id,
                    session_id=session.id,
                    intent=intent,
                    status=status,
                    urgency=urgency,
                    created_by_id=junior.id,
                    created_by_name=junior.name,
                    created_at=created_at,
                    claimed_by_id=sam.id if to_claim is not None else None,
                    claimed_by_name=sam.name if to_claim is not None else None,
                    claimed_at=created_at + timedelta(seconds=to_claim) if to_claim is not None else None,
                    snapshot={"title": name},
                    assessment_status=assessment,
                    reminders_sent=reminders,
                )
            )
        await db.flush()
        for handoff, user, helpful in (("a", sam, True), ("a", alex, False), ("b", sam, False), ("f", sam, True)):
            db.add(
                AssessmentFeedbackRow(
                    handoff_id=ids[handoff],
                    account_id=tenant.account_id,
                    user_id=user.id,
                    user_name=user.name,
                    helpful=helpful,
                    comment="",
                    at=at("2026-11-03T08:00:00"),
                )
            )
        await db.commit()


def ttc(p50: float | None, p90: float | None, top: float | None) -> dict[str, Any]:
    return {"p50": p50, "p90": p90, "max": top}


async def test_figures_match_the_seeded_history(tenants: TenantFactory, runtime: Runtime) -> None:
    tenant = await tenants.create(junior="engineer", sam="engineer", alex="engineer", lead="admin")
    await seed(runtime, tenant)
    response = await tenant["lead"].get(
        f"/api/v1/accounts/{tenant.account_id}/handoff-stats", params={"since": SINCE, "until": UNTIL}
    )
    assert response.status_code == 200, response.text
    # By hand: claim times 100 (a), 30 (b), 300 (d). p50 = 100; p90 at rank 0.9*2 = 1.8: 100 + 0.8*200 = 260.
    # Normal: 100 and 300, p50 = 200, p90 = 100 + 0.9*200 = 280. Day 1: 100 and 30, p50 = 65.
    assert response.json() == {
        "since": "2026-11-01T00:00:00.000Z",
        "until": "2026-11-04T00:00:00.000Z",
        "escalations": 5,
        "claimed": 3,
        "withdrawn": 1,
        "open_now": 1,
        "time_to_claim_s": ttc(100.0, 260.0, 300.0),
        "by_urgency": {
            "low": {
                "escalations": 1,
                "claimed": 0,
                "withdrawn": 1,
                "open_now": 0,
                "time_to_claim_s": ttc(None, None, None),
            },
            "normal": {
                "escalations": 3,
                "claimed": 2,
                "withdrawn": 0,
                "open_now": 1,
                "time_to_claim_s": ttc(200.0, 280.0, 300.0),
            },
            "high": {
                "escalations": 1,
                "claimed": 1,
                "withdrawn": 0,
                "open_now": 0,
                "time_to_claim_s": ttc(30.0, 30.0, 30.0),
            },
        },
        "reminders_sent": 6,
        "assessments": {"ready": 3, "failed": 1, "rated": 2, "helpful": 1},
        "daily": [
            {"date": "2026-11-01", "escalations": 3, "claimed": 2, "time_to_claim_p50_s": 65.0},
            {"date": "2026-11-02", "escalations": 2, "claimed": 1, "time_to_claim_p50_s": 300.0},
            {"date": "2026-11-03", "escalations": 0, "claimed": 0, "time_to_claim_p50_s": None},
        ],
    }


async def test_the_window_defaults_to_seven_days_and_bad_times_are_refused(tenants: TenantFactory) -> None:
    tenant = await tenants.create(junior="engineer", lead="admin")
    path = f"/api/v1/accounts/{tenant.account_id}/handoff-stats"
    figures = (await tenant.service.get(path)).json()
    span = datetime.fromisoformat(figures["until"].replace("Z", "+00:00")) - datetime.fromisoformat(
        figures["since"].replace("Z", "+00:00")
    )
    assert span == timedelta(days=7)
    assert figures["escalations"] == 0
    assert figures["time_to_claim_s"] == ttc(None, None, None)
    assert len(figures["daily"]) == 8  # a window of 7 days from mid-day touches 8 dates

    for params in (
        {"since": "last week"},
        {"since": "2026-11-01T00:00:00"},  # no offset
        {"since": "1999-12-31T00:00:00Z"},
        {"since": "2025-01-01T00:00:00Z", "until": "2026-11-01T00:00:00Z"},  # over 366 days
        {"since": UNTIL, "until": SINCE},
    ):
        response = await tenant["lead"].get(path, params=params)
        assert response.status_code == 400, params
        assert response.json()["code"] == "validation_error"
    assert (await tenant["junior"].get(path)).status_code == 403
    other = await tenants.create(lead="admin")
    assert (await other["lead"].get(path)).status_code == 404
