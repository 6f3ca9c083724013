"""The on-call document as an owner sets it and a team reads it: who is on call now, the shifts and the gaps."""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.support.tenants import Actor, Tenant, TenantFactory

TIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z")
EMPTY = {"time_zone": "UTC", "rotations": [], "overrides": []}


def on_call(tenant: Tenant, tail: str = "") -> str:
    return f"/api/v1/accounts/{tenant.account_id}/on-call{tail}"


async def team(tenants: TenantFactory) -> Tenant:
    return await tenants.create(
        owner="owner", admin="admin", abe="engineer", bea="engineer", cal="engineer", val="viewer"
    )


def rotation(name: str, *members: Actor, start: str = "2027-03-22T09:00", turn_days: int = 7, **more: Any) -> Any:
    return {"name": name, "members": [str(m.id) for m in members], "start": start, "turn_days": turn_days, **more}


async def save(tenant: Tenant, document: Any, by: str = "owner") -> Any:
    response = await tenant[by].request("PUT", on_call(tenant), json=document)
    assert response.status_code == 200, response.text
    return response.json()


async def now(tenant: Tenant, at: str, by: str = "val") -> list[Any]:
    response = await tenant[by].get(on_call(tenant, "/now"), params={"at": at})
    assert response.status_code == 200, response.text
    return list(response.json()["rotations"])


async def shifts(tenant: Tenant, since: str, until: str, by: str = "val") -> Any:
    response = await tenant[by].get(on_call(tenant, "/shifts"), params={"since": since, "until": until})
    assert response.status_code == 200, response.text
    return response.json()


def who(actor: Actor) -> dict[str, str]:
    return {"id": str(actor.id), "name": actor.name}


# --- the document ---------------------------------------------------------------------------------------


async def test_until_a_put_every_member_reads_the_empty_document(tenants: TenantFactory) -> None:
    tenant = await team(tenants)
    for by in ("val", "abe", "owner"):
        response = await tenant[by].get(on_call(tenant))
        assert response.status_code == 200, response.text
        assert response.json() == EMPTY
    assert (await tenant.service.get(on_call(tenant))).json() == EMPTY
    assert await now(tenant, "2027-03-22T09:00:00Z") == []
    window = await shifts(tenant, "2027-03-22T00:00:00Z", "2027-03-23T00:00:00Z")
    assert window == {
        "since": "2027-03-22T00:00:00.000Z",
        "until": "2027-03-23T00:00:00.000Z",
        "shifts": [],
        "gaps": [],
    }


async def test_a_put_replaces_the_whole_document_and_a_viewer_reads_it_back(tenants: TenantFactory) -> None:
    tenant = await team(tenants)
    first = {
        "time_zone": "Europe/London",
        "rotations": [
            rotation(
                "primary",
                tenant["abe"],
                tenant["bea"],
                start="2027-03-22T09:00:30",
                windows=[{"days": ["fri", "mon"], "from": "22:00", "to": "06:00"}],
            ),
            rotation("second-line", tenant["admin"], turn_days=1),
        ],
        "overrides": [
            {
                "rotation": "primary",
                "user_id": str(tenant["cal"].id),
                "start": "2027-03-23T10:00:00+01:00",
                "end": "2027-03-23T12:00:00+01:00",
            }
        ],
    }
    answered = await save(tenant, first)
    # Wall times stay as written, instants come back in UTC, weekdays in week order.
    assert answered["time_zone"] == "Europe/London"
    assert answered["rotations"][0]["start"] == "2027-03-22T09:00:30"
    assert answered["rotations"][0]["windows"] == [{"days": ["mon", "fri"], "from": "22:00", "to": "06:00"}]
    assert answered["rotations"][1] == rotation("second-line", tenant["admin"], turn_days=1, windows=[])
    assert answered["overrides"][0]["start"] == "2027-03-23T09:00:00.000Z"
    assert answered["overrides"][0]["end"] == "2027-03-23T11:00:00.000Z"
    assert (await tenant["val"].get(on_call(tenant))).json() == answered

    second = {"time_zone": "America/New_York", "rotations": [rotation("primary", tenant["bea"])]}
    replaced = await save(tenant, second, by="admin")
    assert replaced == {**second, "rotations": [rotation("primary", tenant["bea"], windows=[])], "overrides": []}
    assert (await tenant["abe"].get(on_call(tenant))).json() == replaced
    assert (await tenant.service.request("PUT", on_call(tenant), json=EMPTY)).json() == EMPTY


async def test_only_owners_admins_and_the_main_application_change_it(tenants: TenantFactory) -> None:
    tenant = await team(tenants)
    document = {"time_zone": "UTC", "rotations": [rotation("primary", tenant["abe"])]}
    for by in ("abe", "val"):
        refused = await tenant[by].request("PUT", on_call(tenant), json=document)
        assert refused.status_code == 403, refused.text
        assert refused.json()["code"] == "forbidden"
    assert (await tenant["abe"].get(on_call(tenant))).json() == EMPTY
    for by in ("owner", "admin"):
        await save(tenant, document, by=by)
    saved = await tenant.service.request("PUT", on_call(tenant), json=document)
    assert saved.status_code == 200, saved.text
    anonymous = await tenant["abe"].http.put(on_call(tenant), json=document)
    assert anonymous.status_code == 401


async def test_another_account_is_not_found_for_every_call(tenants: TenantFactory) -> None:
    tenant = await team(tenants)
    await save(tenant, {"rotations": [rotation("primary", tenant["abe"])]})
    other = await tenants.create(owner="owner", viewer="viewer", eng="engineer")
    for by in ("owner", "viewer", "eng"):
        for tail in ("", "/now", "/shifts"):
            response = await other[by].get(on_call(tenant, tail))
            assert response.status_code == 404, (by, tail, response.text)
            assert response.json()["code"] == "not_found"
    put = await other["owner"].request("PUT", on_call(tenant), json=EMPTY)
    assert put.status_code == 404, put.text
    assert (await tenant["val"].get(on_call(tenant))).json()["rotations"][0]["name"] == "primary"


# --- validation -----------------------------------------------------------------------------------------


def _override(tenant: Tenant, **fields: Any) -> Any:
    return {
        "rotation": "primary",
        "user_id": str(tenant["bea"].id),
        "start": "2027-03-23T09:00:00Z",
        "end": "2027-03-23T17:00:00Z",
        **fields,
    }


def _window(**fields: Any) -> Any:
    return {"days": ["mon"], "from": "09:00", "to": "17:00", **fields}


def broken_documents(tenant: Tenant, strangers: dict[str, str]) -> list[tuple[str, Any, str]]:
    """(what is wrong, the document, the field the answer must name)."""
    abe, bea = tenant["abe"], tenant["bea"]
    good = rotation("primary", abe, bea)

    def with_member(third: str) -> Any:
        return {**good, "members": [str(abe.id), str(bea.id), third]}

    return [
        ("unknown zone", {"time_zone": "Europe/Atlantis", "rotations": [good]}, "time_zone"),
        ("a zone that is a path", {"time_zone": "../../etc/passwd"}, "time_zone"),
        ("the host's own zone", {"time_zone": "localtime"}, "time_zone"),
        ("21 rotations", {"rotations": [rotation(f"r{i}", abe) for i in range(21)]}, "rotations"),
        (
            "duplicate name",
            {"rotations": [good, rotation("secondary", abe), rotation("primary", bea)]},
            "rotations[2].name",
        ),
        ("upper case name", {"rotations": [rotation("Primary", abe)]}, "rotations[0].name"),
        ("empty name", {"rotations": [rotation("", abe)]}, "rotations[0].name"),
        ("41-character name", {"rotations": [rotation("p" * 41, abe)]}, "rotations[0].name"),
        ("no members", {"rotations": [rotation("primary")]}, "rotations[0].members"),
        ("51 members", {"rotations": [{**good, "members": [str(abe.id)] * 51}]}, "rotations[0].members"),
        ("a member twice", {"rotations": [rotation("primary", abe, bea, abe)]}, "rotations[0].members[2]"),
        ("a viewer", {"rotations": [with_member(str(tenant["val"].id))]}, "rotations[0].members[2]"),
        ("an inactive senior", {"rotations": [with_member(strangers["inactive"])]}, "rotations[0].members[2]"),
        ("a deleted senior", {"rotations": [with_member(strangers["deleted"])]}, "rotations[0].members[2]"),
        (
            "a senior of another account",
            {"rotations": [with_member(strangers["elsewhere"])]},
            "rotations[0].members[2]",
        ),
        (
            "an unknown user",
            {"rotations": [with_member("6f1b0e0e-0000-4000-8000-000000000000")]},
            "rotations[0].members[2]",
        ),
        ("a member that is no id", {"rotations": [with_member("abe")]}, "rotations[0].members[2]"),
        ("start with an offset", {"rotations": [{**good, "start": "2027-03-22T09:00+01:00"}]}, "rotations[0].start"),
        ("start in UTC", {"rotations": [{**good, "start": "2027-03-22T09:00:00Z"}]}, "rotations[0].start"),
        ("start not in the calendar", {"rotations": [{**good, "start": "2027-02-30T09:00"}]}, "rotations[0].start"),
        ("start without a time", {"rotations": [{**good, "start": "2027-03-22"}]}, "rotations[0].start"),
        ("start before 2000", {"rotations": [{**good, "start": "1999-12-31T09:00"}]}, "rotations[0].start"),
        ("turn of 0 days", {"rotations": [{**good, "turn_days": 0}]}, "rotations[0].turn_days"),
        ("turn of 366 days", {"rotations": [{**good, "turn_days": 366}]}, "rotations[0].turn_days"),
        ("15 windows", {"rotations": [{**good, "windows": [_window()] * 15}]}, "rotations[0].windows"),
        (
            "a window without days",
            {"rotations": [{**good, "windows": [_window(days=[])]}]},
            "rotations[0].windows[0].days",
        ),
        (
            "a day twice",
            {"rotations": [{**good, "windows": [_window(), _window(days=["sat", "sun", "sat"])]}]},
            "rotations[0].windows[1].days[2]",
        ),
        (
            "a day by its full name",
            {"rotations": [{**good, "windows": [_window(days=["monday"])]}]},
            "rotations[0].windows[0].days[0]",
        ),
        (
            "from 24:00",
            {"rotations": [{**good, "windows": [_window(**{"from": "24:00"})]}]},
            "rotations[0].windows[0].from",
        ),
        (
            "to with seconds",
            {"rotations": [{**good, "windows": [_window(to="17:00:00")]}]},
            "rotations[0].windows[0].to",
        ),
        ("201 overrides", {"rotations": [good], "overrides": [_override(tenant)] * 201}, "overrides"),
        (
            "an override of an unknown rotation",
            {"rotations": [good], "overrides": [_override(tenant)] * 3 + [_override(tenant, rotation="secondary")]},
            "overrides[3].rotation",
        ),
        (
            "an override for a viewer",
            {"rotations": [good], "overrides": [_override(tenant, user_id=str(tenant["val"].id))]},
            "overrides[0].user_id",
        ),
        (
            "an override for an inactive senior",
            {"rotations": [good], "overrides": [_override(tenant, user_id=strangers["inactive"])]},
            "overrides[0].user_id",
        ),
        (
            "an override without an offset",
            {"rotations": [good], "overrides": [_override(tenant, start="2027-03-23T09:00:00")]},
            "overrides[0].start",
        ),
        (
            "an override that is no time",
            {"rotations": [good], "overrides": [_override(tenant, end="tomorrow")]},
            "overrides[0].end",
        ),
        (
            "an override ending as it starts",
            {"rotations": [good], "overrides": [_override(tenant, end="2027-03-23T09:00:00Z")]},
            "overrides[0].end",
        ),
        (
            "an override ending before it starts",
            {"rotations": [good], "overrides": [_override(tenant, end="2027-03-23T08:00:00Z")]},
            "overrides[0].end",
        ),
        (
            "an override of 31 days and a second",
            {"rotations": [good], "overrides": [_override(tenant, end="2027-04-23T09:00:01Z")]},
            "overrides[0].end",
        ),
    ]


async def _strangers(tenants: TenantFactory, tenant: Tenant) -> dict[str, str]:
    inactive = await tenants.add_user(tenant, "inactive", "engineer", active=False)
    deleted = await tenants.add_user(tenant, "deleted", "admin")
    gone = await tenant.service.request("DELETE", f"/api/v1/accounts/{tenant.account_id}/users/{deleted.id}")
    assert gone.status_code == 200, gone.text
    elsewhere = (await tenants.create(eng="engineer"))["eng"]
    return {"inactive": str(inactive.id), "deleted": str(deleted.id), "elsewhere": str(elsewhere.id)}


async def test_each_broken_rule_is_a_400_naming_its_field_and_nothing_is_saved(tenants: TenantFactory) -> None:
    tenant = await team(tenants)
    kept = await save(tenant, {"rotations": [rotation("kept", tenant["cal"])]})
    strangers = await _strangers(tenants, tenant)
    for what, document, field in broken_documents(tenant, strangers):
        response = await tenant["owner"].request("PUT", on_call(tenant), json=document)
        assert response.status_code == 400, (what, response.text)
        body = response.json()
        assert body["code"] == "validation_error", what
        assert body["status_code"] == 400
        assert body["field"] == field, (what, body)
        if "errors" not in body:  # a rule beyond the shape: the sentence itself names the field
            assert body["detail"].startswith(field + " "), (what, body)
        assert field in json.dumps(body), (what, body)
    assert (await tenant["val"].get(on_call(tenant))).json() == kept


async def test_the_edges_of_each_rule_are_accepted(tenants: TenantFactory) -> None:
    tenant = await team(tenants)
    seniors = [tenant[k] for k in ("owner", "admin", "abe", "bea", "cal")]
    every_day = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
    document = {
        "time_zone": "Australia/Lord_Howe",
        "rotations": [
            rotation("a" * 40, *seniors, turn_days=365, windows=[_window(days=every_day, to="09:00")] * 14),
            *[rotation(f"r-{i}", seniors[i % 5], start="2027-03-22T09:00:00", turn_days=1) for i in range(19)],
        ],
        "overrides": [_override(tenant, rotation="r-0", start="2027-03-01T00:00:00Z", end="2027-04-01T00:00:00Z")]
        * 200,
    }
    answered = await save(tenant, document)
    assert len(answered["rotations"]) == 20
    assert len(answered["overrides"]) == 200
    assert answered["rotations"][1]["start"] == "2027-03-22T09:00"


# --- who is on call -------------------------------------------------------------------------------------


async def test_a_london_rotation_hands_over_at_nine_local_across_the_spring_forward_change(
    tenants: TenantFactory,
) -> None:
    tenant = await team(tenants)
    abe, bea = tenant["abe"], tenant["bea"]
    await save(tenant, {"time_zone": "Europe/London", "rotations": [rotation("primary", abe, bea)]})

    # Turn 0: Mon 22 March 09:00 GMT. Clocks go forward on Sun 28 March; turn 1 starts at 09:00 BST (08:00 UTC).
    assert await now(tenant, "2027-03-22T08:59:59Z") == [
        {"name": "primary", "user": None, "source": None, "until": "2027-03-22T09:00:00.000Z"}
    ]
    assert await now(tenant, "2027-03-28T12:00:00Z") == [
        {"name": "primary", "user": who(abe), "source": "turn", "until": "2027-03-29T08:00:00.000Z"}
    ]
    assert await now(tenant, "2027-03-29T09:30:00+01:00") == [
        {"name": "primary", "user": who(bea), "source": "turn", "until": "2027-04-05T08:00:00.000Z"}
    ]
    # Seven wall-clock days later it is abe again, still at nine in the morning in London.
    assert (await now(tenant, "2027-04-05T08:00:00Z"))[0]["user"] == who(abe)


async def test_a_start_inside_the_spring_forward_gap_is_read_with_the_offset_before_it(tenants: TenantFactory) -> None:
    tenant = await team(tenants)
    await save(
        tenant,
        {
            "time_zone": "Europe/London",
            "rotations": [rotation("nights", tenant["cal"], start="2027-03-28T01:30", turn_days=1)],
        },
    )
    # 01:30 never happens that night in London: it is read as 01:30 GMT, which is 02:30 BST.
    assert await now(tenant, "2027-03-28T01:29:59Z") == [
        {"name": "nights", "user": None, "source": None, "until": "2027-03-28T01:30:00.000Z"}
    ]
    # The next turns hand over at 01:30 BST (00:30 UTC): one member, so the answer never changes again.
    assert await now(tenant, "2027-03-29T00:30:00Z") == [
        {"name": "nights", "user": who(tenant["cal"]), "source": "turn", "until": None}
    ]


async def test_the_answer_of_now_defaults_to_the_present(tenants: TenantFactory) -> None:
    tenant = await team(tenants)
    await save(tenant, {"rotations": [rotation("primary", tenant["abe"], start="2020-01-06T09:00")]})
    response = await tenant["val"].get(on_call(tenant, "/now"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert TIME.fullmatch(body["at"])
    assert body["rotations"] == [{"name": "primary", "user": who(tenant["abe"]), "source": "turn", "until": None}]


async def test_shifts_show_the_windows_and_call_out_the_gaps_between_them(tenants: TenantFactory) -> None:
    tenant = await team(tenants)
    abe, bea = tenant["abe"], tenant["bea"]
    weekdays = {"days": ["mon", "tue", "wed", "thu", "fri"], "from": "09:00", "to": "17:30"}
    await save(
        tenant,
        {"time_zone": "Europe/London", "rotations": [rotation("primary", abe, bea, windows=[weekdays])]},
    )
    answer = await shifts(tenant, "2027-03-26T00:00:00Z", "2027-03-30T00:00:00Z")
    assert answer["since"] == "2027-03-26T00:00:00.000Z"
    assert answer["until"] == "2027-03-30T00:00:00.000Z"
    assert answer["shifts"] == [
        {
            "rotation": "primary",
            "user": who(abe),
            "source": "turn",
            "start": "2027-03-26T09:00:00.000Z",
            "end": "2027-03-26T17:30:00.000Z",
        },
        # Monday is in summer time: the same 09:00-17:30 in London is an hour earlier in UTC.
        {
            "rotation": "primary",
            "user": who(bea),
            "source": "turn",
            "start": "2027-03-29T08:00:00.000Z",
            "end": "2027-03-29T16:30:00.000Z",
        },
    ]
    assert answer["gaps"] == [
        {"rotation": "primary", "start": "2027-03-26T00:00:00.000Z", "end": "2027-03-26T09:00:00.000Z"},
        {"rotation": "primary", "start": "2027-03-26T17:30:00.000Z", "end": "2027-03-29T08:00:00.000Z"},
        {"rotation": "primary", "start": "2027-03-29T16:30:00.000Z", "end": "2027-03-30T00:00:00.000Z"},
    ]
    # The weekend gap as /now sees it: nobody, until Monday morning.
    assert await now(tenant, "2027-03-27T12:00:00Z") == [
        {"name": "primary", "user": None, "source": None, "until": "2027-03-29T08:00:00.000Z"}
    ]


async def test_shifts_merge_one_seniors_turns_clip_to_the_window_and_sort_across_rotations(
    tenants: TenantFactory,
) -> None:
    tenant = await team(tenants)
    abe, cal = tenant["abe"], tenant["cal"]
    await save(
        tenant,
        {
            "time_zone": "UTC",
            "rotations": [
                rotation("primary", abe, start="2027-01-01T09:00", turn_days=1),
                rotation("secondary", cal, start="2027-01-02T09:00", turn_days=2),
            ],
        },
    )
    answer = await shifts(tenant, "2027-01-01T12:00:00Z", "2027-01-04T12:00:00Z")
    assert answer["shifts"] == [
        {
            "rotation": "primary",
            "user": who(abe),
            "source": "turn",
            "start": "2027-01-01T12:00:00.000Z",
            "end": "2027-01-04T12:00:00.000Z",
        },
        {
            "rotation": "secondary",
            "user": who(cal),
            "source": "turn",
            "start": "2027-01-02T09:00:00.000Z",
            "end": "2027-01-04T12:00:00.000Z",
        },
    ]
    assert answer["gaps"] == [
        {"rotation": "secondary", "start": "2027-01-01T12:00:00.000Z", "end": "2027-01-02T09:00:00.000Z"}
    ]


async def test_overrides_win_over_the_turn_and_the_later_override_wins_an_overlap(tenants: TenantFactory) -> None:
    tenant = await team(tenants)
    abe, bea, cal = tenant["abe"], tenant["bea"], tenant["cal"]
    await save(
        tenant,
        {
            "time_zone": "Europe/London",
            "rotations": [rotation("primary", abe), rotation("secondary", cal)],
            "overrides": [
                {
                    "rotation": "primary",
                    "user_id": str(bea.id),
                    "start": "2027-03-23T12:00:00Z",
                    "end": "2027-03-23T14:00:00Z",
                },
                {
                    "rotation": "primary",
                    "user_id": str(cal.id),
                    "start": "2027-03-23T13:00:00Z",
                    "end": "2027-03-23T15:00:00Z",
                },
            ],
        },
    )
    assert await now(tenant, "2027-03-23T12:30:00Z") == [
        {"name": "primary", "user": who(bea), "source": "override", "until": "2027-03-23T13:00:00.000Z"},
        {"name": "secondary", "user": who(cal), "source": "turn", "until": None},
    ]
    assert (await now(tenant, "2027-03-23T13:59:00Z"))[0] == {
        "name": "primary",
        "user": who(cal),
        "source": "override",
        "until": "2027-03-23T15:00:00.000Z",
    }
    assert (await now(tenant, "2027-03-23T15:00:00Z"))[0] == {
        "name": "primary",
        "user": who(abe),
        "source": "turn",
        "until": None,
    }
    answer = await shifts(tenant, "2027-03-23T00:00:00Z", "2027-03-24T00:00:00Z")
    primary = [
        (s["user"]["id"], s["source"], s["start"][11:16], s["end"][11:16])
        for s in answer["shifts"]
        if s["rotation"] == "primary"
    ]
    assert primary == [
        (str(abe.id), "turn", "00:00", "12:00"),
        (str(bea.id), "override", "12:00", "13:00"),
        (str(cal.id), "override", "13:00", "15:00"),
        (str(abe.id), "turn", "15:00", "00:00"),
    ]
    assert answer["gaps"] == []


async def test_a_senior_who_leaves_is_nobody_even_under_an_override(tenants: TenantFactory) -> None:
    tenant = await team(tenants)
    abe, bea = tenant["abe"], tenant["bea"]
    await save(
        tenant,
        {
            "rotations": [rotation("primary", abe, bea, start="2027-01-04T09:00")],
            "overrides": [
                {
                    "rotation": "primary",
                    "user_id": str(bea.id),
                    "start": "2027-01-05T00:00:00Z",
                    "end": "2027-01-06T00:00:00Z",
                }
            ],
        },
    )
    demoted = {"email": f"bea-{bea.id.hex[:6]}@msp.test", "name": bea.name, "role": "viewer", "active": True}
    changed = await tenant.service.request("PUT", f"/api/v1/accounts/{tenant.account_id}/users/{bea.id}", json=demoted)
    assert changed.status_code == 200, changed.text

    # The override does not fall through to abe's turn: bea is simply nobody now.
    assert await now(tenant, "2027-01-05T12:00:00Z") == [
        {"name": "primary", "user": None, "source": None, "until": "2027-01-06T00:00:00.000Z"}
    ]
    answer = await shifts(tenant, "2027-01-04T09:00:00Z", "2027-01-18T09:00:00Z")
    assert [(s["user"]["id"], s["start"], s["end"]) for s in answer["shifts"]] == [
        (str(abe.id), "2027-01-04T09:00:00.000Z", "2027-01-05T00:00:00.000Z"),
        (str(abe.id), "2027-01-06T00:00:00.000Z", "2027-01-11T09:00:00.000Z"),
    ]
    assert [(g["start"], g["end"]) for g in answer["gaps"]] == [
        ("2027-01-05T00:00:00.000Z", "2027-01-06T00:00:00.000Z"),
        ("2027-01-11T09:00:00.000Z", "2027-01-18T09:00:00.000Z"),
    ]
    # The saved document still names her; a new PUT naming her is refused.
    assert (await tenant["val"].get(on_call(tenant))).json()["rotations"][0]["members"][1] == str(bea.id)
    again = await tenant["owner"].request(
        "PUT", on_call(tenant), json=(await tenant["val"].get(on_call(tenant))).json()
    )
    assert again.status_code == 400, again.text
    assert again.json()["field"] == "rotations[0].members[1]"


# --- the windows asked for ------------------------------------------------------------------------------


async def test_shifts_cover_the_next_14_days_by_default_and_35_at_most(tenants: TenantFactory) -> None:
    tenant = await team(tenants)
    path = on_call(tenant, "/shifts")
    default = await tenant["val"].get(path)
    assert default.status_code == 200, default.text
    body = default.json()
    assert TIME.fullmatch(body["since"])
    assert TIME.fullmatch(body["until"])
    since, until = (datetime.fromisoformat(body[k].replace("Z", "+00:00")) for k in ("since", "until"))
    assert until - since == timedelta(days=14)

    from_since = (await tenant["val"].get(path, params={"since": "2027-03-01T00:00:00+01:00"})).json()
    assert (from_since["since"], from_since["until"]) == ("2027-02-28T23:00:00.000Z", "2027-03-14T23:00:00.000Z")
    longest = await tenant["val"].get(path, params={"since": "2027-03-01T00:00:00Z", "until": "2027-04-05T00:00:00Z"})
    assert longest.status_code == 200, longest.text

    for params, field in [
        ({"since": "2027-03-01T00:00:00Z", "until": "2027-04-05T00:00:01Z"}, "until"),
        ({"since": "2027-03-02T00:00:00Z", "until": "2027-03-01T00:00:00Z"}, "until"),
        ({"since": "2027-03-01T00:00:00Z", "until": "2027-03-01T00:00:00Z"}, "until"),
        ({"since": "2027-03-01T00:00:00"}, "since"),
        ({"since": "next monday"}, "since"),
        ({"since": "1999-03-01T00:00:00Z", "until": "1999-03-02T00:00:00Z"}, "since"),
        ({"since": "2027-03-01T00:00:00Z", "until": "2027-03-02"}, "until"),
        ({"since": "9999-12-20T00:00:00Z"}, "since"),
    ]:
        response = await tenant["val"].get(path, params=params)
        assert response.status_code == 400, (params, response.text)
        assert response.json()["code"] == "validation_error"
        assert response.json()["field"] == field, (params, response.text)


@pytest.mark.parametrize("at", ["2027-03-29T09:00", "yesterday", "1999-12-31T23:59:59Z", "9999-12-30T00:00:00Z"])
async def test_now_refuses_a_time_it_cannot_answer_naming_at(tenants: TenantFactory, at: str) -> None:
    tenant = await team(tenants)
    await save(tenant, {"rotations": [rotation("primary", tenant["abe"])]})
    response = await tenant["val"].get(on_call(tenant, "/now"), params={"at": at})
    assert response.status_code == 400, response.text
    assert response.json()["code"] == "validation_error"
    assert response.json()["field"] == "at"


async def test_every_time_answered_is_utc_with_milliseconds(tenants: TenantFactory) -> None:
    tenant = await team(tenants)
    await save(
        tenant,
        {
            "time_zone": "America/Santiago",
            "rotations": [rotation("primary", tenant["abe"], tenant["bea"], turn_days=1)],
            "overrides": [_override(tenant, start="2027-03-23T09:00:00.123456-03:00", end="2027-03-24T09:00:00-03:00")],
        },
    )
    document = (await tenant["val"].get(on_call(tenant))).json()
    answered = await now(tenant, "2027-03-23T12:00:00.5-03:00")
    window = await shifts(tenant, "2027-03-22T00:00:00-03:00", "2027-03-27T00:00:00-03:00")
    times = [document["overrides"][0]["start"], document["overrides"][0]["end"]]
    times += [r["until"] for r in answered if r["until"]]
    times += [window["since"], window["until"]]
    times += [t for item in window["shifts"] + window["gaps"] for t in (item["start"], item["end"])]
    assert len(times) > 6
    assert all(TIME.fullmatch(t) for t in times), times
    assert document["overrides"][0]["start"] == "2027-03-23T12:00:00.123Z"


async def test_the_last_days_of_the_calendar_are_a_400_or_an_answer_never_a_server_error(
    tenants: TenantFactory,
) -> None:
    tenant = await team(tenants)
    await save(tenant, {"rotations": [rotation("primary", tenant["abe"], start="9999-12-01T00:00", turn_days=365)]})
    late = {"since": "9999-12-01T00:00:00Z", "until": "9999-12-30T23:00:00Z"}
    answers = [
        await tenant["val"].get(on_call(tenant, "/shifts"), params=late),
        await tenant["val"].get(on_call(tenant, "/now"), params={"at": "9999-12-02T00:00:00Z"}),
    ]
    for response in answers:
        assert response.status_code in {200, 400}, response.text
        if response.status_code == 400:
            assert response.json()["field"] in {"at", "until"}


async def test_each_save_is_what_the_next_answer_reads_however_often_the_last_was_read(tenants: TenantFactory) -> None:
    # A process holds each account's document parsed once per save: a new save must be read at once, by every
    # reader (who is on call now, the shifts, and the document itself), and the same save every time until then.
    tenant = await team(tenants)
    abe, bea = tenant["abe"], tenant["bea"]
    at = "2027-03-23T12:00:00Z"
    await save(tenant, {"time_zone": "UTC", "rotations": [rotation("primary", abe)], "overrides": []})
    for _ in range(3):
        assert [r["user"] for r in await now(tenant, at)] == [who(abe)]
    await save(tenant, {"time_zone": "UTC", "rotations": [rotation("primary", bea)], "overrides": []})
    assert [r["user"] for r in await now(tenant, at)] == [who(bea)]
    answer = await shifts(tenant, "2027-03-23T00:00:00Z", "2027-03-24T00:00:00Z")
    assert {s["user"]["id"] for s in answer["shifts"]} == {str(bea.id)}
    assert (await tenant["val"].get(on_call(tenant))).json()["rotations"][0]["members"] == [str(bea.id)]
    await save(tenant, EMPTY)
    assert await now(tenant, at) == []
