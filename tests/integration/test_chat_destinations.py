"""Chat destinations as an account's admins set them: URLs are credentials, checked, sealed and never answered."""

from __future__ import annotations

from typing import Any

import httpx
from sqlalchemy import text

from shared.bootstrap import Runtime
from tests.support.chat_servers import FakeSlackWebhook, FakeTeamsWorkflow
from tests.support.psa_servers import Reply
from tests.support.tenants import Actor, Tenant, TenantFactory


def chat_path(tenant: Tenant) -> str:
    return f"/api/v1/accounts/{tenant.account_id}/chat"


async def put_chat(actor: Actor, tenant: Tenant, destinations: list[dict[str, Any]]) -> httpx.Response:
    return await actor.request("PUT", chat_path(tenant), json={"destinations": destinations})


def both(teams: FakeTeamsWorkflow, slack: FakeSlackWebhook) -> list[dict[str, Any]]:
    return [
        {"kind": "teams", "label": "Service desk", "url": teams.url, "enabled": True},
        {"kind": "slack", "label": "#escalations", "url": slack.url, "enabled": True},
    ]


SHOWN = [
    {"kind": "teams", "label": "Service desk", "enabled": True, "host": "127.0.0.1", "url_set": True},
    {"kind": "slack", "label": "#escalations", "enabled": True, "host": "127.0.0.1", "url_set": True},
]


async def test_owners_admins_and_the_main_application_set_them_nobody_else(
    tenants: TenantFactory, teams: FakeTeamsWorkflow, slack: FakeSlackWebhook
) -> None:
    tenant = await tenants.create(owner="owner", lead="admin", senior="engineer", viewer="viewer")
    for actor in (tenant["owner"], tenant["lead"], tenant.service):
        put = await put_chat(actor, tenant, both(teams, slack))
        assert put.status_code == 200, put.text
        assert put.json() == {"destinations": SHOWN}
        assert (await actor.get(chat_path(tenant))).json() == {"destinations": SHOWN}
    for actor in (tenant["senior"], tenant["viewer"]):
        assert (await actor.get(chat_path(tenant))).status_code == 403
        assert (await put_chat(actor, tenant, [])).status_code == 403
        test = await actor.post(chat_path(tenant) + "/test", json={"label": "Service desk"})
        assert test.status_code == 403

    other = await tenants.create(lead="admin")
    assert (await other["lead"].get(chat_path(tenant))).status_code == 404
    assert (await put_chat(other["lead"], tenant, [])).status_code == 404
    test = await other["lead"].post(chat_path(tenant) + "/test", json={"label": "Service desk"})
    assert (test.status_code, test.json()["code"]) == (404, "not_found")
    assert teams.arrivals == []


async def test_a_url_is_never_answered_and_never_stored_in_clear(
    tenants: TenantFactory, runtime: Runtime, teams: FakeTeamsWorkflow, slack: FakeSlackWebhook
) -> None:
    tenant = await tenants.create(lead="admin")
    userinfo = slack.url.replace("http://", "http://hook-user:hook-password@")
    destinations = [*both(teams, slack), {"kind": "slack", "label": "Night shift", "url": userinfo}]
    put = await put_chat(tenant["lead"], tenant, destinations)
    got = await tenant["lead"].get(chat_path(tenant))
    assert put.status_code == got.status_code == 200
    for secret in (teams.sig, slack.token, "hook-password", "hook-user", "/services/", "/workflows/", "sig="):
        assert secret not in put.text
        assert secret not in got.text
    assert got.json()["destinations"][2] == {
        "kind": "slack",
        "label": "Night shift",
        "enabled": True,
        "host": "127.0.0.1",
        "url_set": True,
    }

    async with runtime.engine.connect() as connection:
        rows = (await connection.execute(text("SELECT * FROM chat_destinations"))).all()
    stored = " ".join(str(value) for row in rows for value in row)
    assert rows
    for secret in (teams.sig, slack.token, "hook-password", "/services/", "/workflows/"):
        assert secret not in stored


async def test_unsafe_or_malformed_urls_are_refused_naming_the_entry(tenants: TenantFactory) -> None:
    tenant = await tenants.create(lead="admin")
    good = {"kind": "slack", "label": "#ops", "url": "https://93.184.215.14/services/T1/B1/x"}  # public, not dialled
    assert (await put_chat(tenant["lead"], tenant, [good])).status_code == 200

    refused = [
        ("https://10.1.2.3/services/T1/B1/x", "unsafe_target"),  # private
        ("https://169.254.169.254/latest/meta-data", "unsafe_target"),  # cloud metadata
        ("https://[::1]/hook", "unsafe_target"),  # loopback, not allowed for this scheme
        ("http://93.184.215.14/services/T1/B1/x", "unsafe_target"),  # not https
        ("ftp://93.184.215.14/hook", "unsafe_target"),
        ("https://93.184.215.14/a\nb", "validation_error"),  # one line
        ("https://93.184.215.14/" + "x" * 2048, "validation_error"),  # over 2048 characters
    ]
    for url, code in refused:
        entry = {"kind": "teams", "label": "Service desk", "url": url}
        response = await put_chat(tenant["lead"], tenant, [good, entry])
        body = response.json()
        assert (response.status_code, body["code"], body["field"]) == (400, code, "destinations[1].url"), url
    shown = (await tenant["lead"].get(chat_path(tenant))).json()["destinations"]
    assert [d["label"] for d in shown] == ["#ops"]  # nothing of a refused PUT was kept

    # The account's own allow-list lets a private address through, for that account alone.
    allow = {"hosts": [], "cidrs": ["10.20.0.0/16"]}
    path = f"/api/v1/accounts/{tenant.account_id}/outbound-allow"
    assert (await tenant.service.request("PUT", path, json=allow)).status_code == 200
    on_premises = {"kind": "teams", "label": "On premises", "url": "http://10.20.0.5/hook"}
    assert (await put_chat(tenant["lead"], tenant, [on_premises])).status_code == 200
    other = await tenants.create(lead="admin")
    response = await put_chat(other["lead"], other, [on_premises])
    assert (response.status_code, response.json()["field"]) == (400, "destinations[0].url")


async def test_labels_are_unique_in_the_account_one_line_and_at_most_80(
    tenants: TenantFactory, teams: FakeTeamsWorkflow, slack: FakeSlackWebhook
) -> None:
    tenant = await tenants.create(lead="admin")
    cases = [
        ([*both(teams, slack), {"kind": "slack", "label": "service DESK ", "url": slack.url}], "destinations[2].label"),
        ([{"kind": "slack", "label": "two\nlines", "url": slack.url}], "destinations[0].label"),
        ([{"kind": "slack", "label": "   ", "url": slack.url}], "destinations[0].label"),
        ([{"kind": "slack", "label": "x" * 81, "url": slack.url}], "destinations[0].label"),
        ([{"kind": "discord", "label": "x", "url": slack.url}], "destinations[0].kind"),
        ([{"kind": "slack", "label": "x", "url": slack.url, "enabled": "yes"}], "destinations[0].enabled"),
    ]
    for destinations, field in cases:
        response = await put_chat(tenant["lead"], tenant, destinations)
        body = response.json()
        assert (response.status_code, body["code"], body["field"]) == (400, "validation_error", field), body
    six = [{"kind": "slack", "label": f"#ops-{i}", "url": slack.url} for i in range(6)]
    response = await put_chat(tenant["lead"], tenant, six)
    assert (response.status_code, response.json()["code"]) == (400, "validation_error")
    assert (await tenant["lead"].get(chat_path(tenant))).json() == {"destinations": []}

    five = six[:5]
    assert (await put_chat(tenant["lead"], tenant, five)).status_code == 200
    assert [d["label"] for d in (await tenant["lead"].get(chat_path(tenant))).json()["destinations"]] == [
        f"#ops-{i}" for i in range(5)
    ]
    assert (await put_chat(tenant["lead"], tenant, [])).json() == {"destinations": []}


async def test_an_entry_without_url_keeps_the_url_of_its_label_and_kind(
    tenants: TenantFactory, teams: FakeTeamsWorkflow, slack: FakeSlackWebhook
) -> None:
    tenant = await tenants.create(lead="admin")
    assert (await put_chat(tenant["lead"], tenant, both(teams, slack))).status_code == 200

    # What GET answers can be sent back as it is: the dashboard toggles `enabled` without holding the secret.
    shown = (await tenant["lead"].get(chat_path(tenant))).json()["destinations"]
    shown[0]["enabled"] = False
    toggled = await put_chat(tenant["lead"], tenant, list(reversed(shown)))
    assert toggled.status_code == 200, toggled.text
    assert toggled.json()["destinations"] == [SHOWN[1], {**SHOWN[0], "enabled": False}]

    test = await tenant["lead"].post(chat_path(tenant) + "/test", json={"label": "Service desk"})
    assert (test.status_code, test.json()["sent"]) == (200, True)
    assert len(teams.accepted()) == 1  # the URL kept is the one first given

    for entry in (
        {"kind": "slack", "label": "Service desk", "enabled": True},  # that label is a Teams destination
        {"kind": "teams", "label": "New one", "enabled": True},
    ):
        response = await put_chat(tenant["lead"], tenant, [entry])
        body = response.json()
        assert (response.status_code, body["code"], body["field"]) == (400, "validation_error", "destinations[0].url")


async def test_a_test_post_answers_what_the_far_end_answered(
    tenants: TenantFactory, teams: FakeTeamsWorkflow, slack: FakeSlackWebhook
) -> None:
    tenant = await tenants.create(lead="admin")
    destinations = both(teams, slack)
    destinations[1]["enabled"] = False  # a test post goes whether or not escalations do
    assert (await put_chat(tenant["lead"], tenant, destinations)).status_code == 200
    test = chat_path(tenant) + "/test"

    answer = await tenant["lead"].post(test, json={"label": "Service desk"})
    assert answer.status_code == 200
    assert answer.json() == {
        "label": "Service desk",
        "kind": "teams",
        "sent": True,
        "http_status": 202,
        "detail": "teams: post answered HTTP 202",
    }
    [card] = [message["attachments"][0]["content"] for message in teams.accepted()]
    assert card["version"] == "1.4"
    assert card["actions"][0]["type"] == "Action.OpenUrl"

    answer = await tenant.service.request("POST", test, json={"label": "#escalations"})
    assert (answer.json()["sent"], answer.json()["http_status"]) == (True, 200)
    [message] = slack.accepted()
    assert message["blocks"][0]["text"]["verbatim"] is True

    slack.always = Reply(404, b"no_service")  # the hook was removed
    answer = await tenant["lead"].post(test, json={"label": "#escalations"})
    assert answer.status_code == 200
    assert answer.json() == {
        "label": "#escalations",
        "kind": "slack",
        "sent": False,
        "http_status": 404,
        "detail": "slack: post answered HTTP 404",
    }
    assert "no_service" not in answer.text
    assert slack.token not in answer.text

    unknown = await tenant["lead"].post(test, json={"label": "Nowhere"})
    assert (unknown.status_code, unknown.json()["code"]) == (404, "not_found")
    bad = await tenant["lead"].post(test, json={"label": ""})
    assert (bad.status_code, bad.json()["code"]) == (400, "validation_error")


async def test_a_test_post_to_an_unsafe_target_is_refused_at_send_time(
    tenants: TenantFactory, teams: FakeTeamsWorkflow
) -> None:
    tenant = await tenants.create(lead="admin")
    # Allowed for this account when saved (on-premises), then taken off its allow-list: the send is checked again.
    allow = f"/api/v1/accounts/{tenant.account_id}/outbound-allow"
    assert (await tenant.service.request("PUT", allow, json={"hosts": ["localhost"]})).status_code == 200
    url = teams.url.replace("127.0.0.1", "localhost")
    assert (await put_chat(tenant["lead"], tenant, [{"kind": "teams", "label": "Desk", "url": url}])).status_code == 200
    assert (await tenant.service.request("PUT", allow, json={})).status_code == 200

    answer = await tenant["lead"].post(chat_path(tenant) + "/test", json={"label": "Desk"})
    assert answer.json() == {
        "label": "Desk",
        "kind": "teams",
        "sent": False,
        "http_status": None,
        "detail": "teams: post refused: unsafe target",
    }
    assert teams.arrivals == []


async def test_the_openapi_document_lists_the_chat_endpoints(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/schema/openapi.json")).json()["paths"]
    chat = paths["/api/v1/accounts/{account_id}/chat"]
    assert {"400", "401", "403", "404"} <= set(chat["get"]["responses"])
    assert {"400", "401", "403", "404", "413", "429"} <= set(chat["put"]["responses"])
    assert "unsafe_target" in chat["put"]["responses"]["400"]["description"]
    test = paths["/api/v1/accounts/{account_id}/chat/test"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "429"} <= set(test)
