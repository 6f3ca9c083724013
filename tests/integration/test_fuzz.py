"""Property-based fuzz of every JSON body, query and path of the API, generated from `/schema/openapi.json`.

Hypothesis draws requests from each operation's own schema, mixed with hostile values (control characters,
lone surrogates, deep or huge JSON, out-of-range times and numbers, wrong types, bytes that are not JSON).
Whatever arrives, the answer is never a 5xx, every error has the contract's error body, and every answer
conforms to the document: a status the operation lists, with a body of the schema listed for it.

The examples are drawn once, deterministically (`derandomize`), then sent: the run is the same on every
machine and takes seconds. URLs in generated bodies only ever name loopback or unroutable addresses.
"""

from __future__ import annotations

import json
import string
import uuid
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.tenants import Actor, TenantFactory

EXAMPLES_PER_OPERATION = 40
ACTING_ENGINEER = 1  # index of the engineer whose sessions the paths name: most calls are theirs
# Prometheus text, no input; the SSE stream never ends by itself (tests/integration/test_sse.py covers it).
SKIPPED_PATHS = ("/metrics", "/api/v1/ai-sessions/escalations/stream")

HOSTILE_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x07\x08\x1b[31m",
    "line\nbreak",
    "cr\rlf\r\n",
    "tab\there",
    "\u2028\u2029\x85",
    "\ud800",
    "\udfff lone",
    "\ufeffbom",
    "💥" * 50,
    "x" * 70_000,
    "'; DROP TABLE ai_sessions; --",
    "<script>alert(1)</script>",
    "%00%0a",
    "../../etc/passwd",
    "0001-01-01T00:00:00Z",
    "9999-12-31T23:59:59-23:59",
    "2026-11-26T08:12:09",
    "1-99999999999999999999",
    "5-",
    "null",
    "[]",
]
SAFE_URLS = [
    "https://127.0.0.1/hook",
    "http://127.0.0.1:9/x",
    "https://[::1]/psa",
    "https://192.0.2.10/reserved-for-documentation",
    "https://localhost/",
]
HOSTILE_TIMES = [
    "0001-01-01T00:00:00Z",
    "1999-12-31T23:59:59Z",
    "9999-12-31T23:59:59-23:59",
    "9999-12-31T23:59:59+23:59",
    "2026-11-26T08:12:09",
    "2026-13-45T99:99:99Z",
    "2026-11-26T08:12:09.123456789Z",
    "",
]

json_leaf = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=20),
    st.sampled_from(HOSTILE_STRINGS),
)
any_json = st.recursive(
    json_leaf,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=8), st.sampled_from(HOSTILE_STRINGS)), children, max_size=4),
    ),
    max_leaves=12,
)


def deep(depth: int) -> Any:
    value: Any = "leaf"
    for level in range(depth):
        value = {"k": value} if level % 2 else [value]
    return value


hostile_json = st.one_of(any_json, st.sampled_from([deep(33), deep(64), [0] * 5000, {"k" * 300: "v"}]))


# Bodies no JSON encoder would write: too deep for one, broken, or not UTF-8.
RAW_BODIES = [
    b"",
    b"{",
    b'{"title": "a"' * 3,
    b"\xff\xfe",
    b'{"title": "\xe9t\xe9"}',
    b'{"title": "ok", "context": {"\xc3": 1}}',
    b'{"title": "\\ud800"}',
    b'{"title": "a", "title": "b"}',
    b"[" * 2000 + b"]" * 2000,
    b'{"k":' * 100_000 + b"1" + b"}" * 100_000,
    b"1e999999",
    b"-" + b"9" * 5000,
]


def sometimes(rare: st.SearchStrategy[Any], usual: st.SearchStrategy[Any], one_in: int) -> st.SearchStrategy[Any]:
    """`rare` about once in `one_in` draws, else `usual`."""
    return st.integers(min_value=1, max_value=one_in).flatmap(lambda n: rare if n == 1 else usual)


class Schemas:
    """Turns the OpenAPI document's JSON Schemas into Hypothesis strategies, hostile values mixed in."""

    def __init__(self, document: dict[str, Any]) -> None:
        self.components = document.get("components", {}).get("schemas", {})

    def resolve(self, schema: dict[str, Any]) -> dict[str, Any]:
        while "$ref" in schema:
            schema = self.components[schema["$ref"].rsplit("/", 1)[1]]
        return schema

    def strategy(self, schema: dict[str, Any], name: str = "") -> st.SearchStrategy[Any]:
        """A field's values: mostly of its schema, so that the rest of the body gets through to the rule under test."""
        return sometimes(hostile_json, self._valid(schema, name), one_in=8) if name else self._valid(schema, name)

    def _valid(self, schema: dict[str, Any], name: str) -> st.SearchStrategy[Any]:
        schema = self.resolve(schema)
        for key in ("oneOf", "anyOf"):
            if key in schema:
                siblings = {k: v for k, v in schema.items() if k != key}
                return st.one_of([self._valid({**siblings, **self.resolve(s)}, name) for s in schema[key]])
        if "const" in schema:
            return st.just(schema["const"])
        if "enum" in schema:
            return st.one_of(st.sampled_from(schema["enum"]), st.sampled_from(HOSTILE_STRINGS))
        kinds = schema.get("type", "object")
        if isinstance(kinds, list):
            return st.one_of([self._valid({**schema, "type": kind}, name) for kind in kinds])
        if kinds == "null":
            return st.none()
        if kinds == "boolean":
            return st.booleans()
        if kinds == "integer":
            low, high = schema.get("minimum"), schema.get("maximum")
            in_range = st.integers(
                min_value=None if low is None else int(low), max_value=None if high is None else int(high)
            )
            return st.one_of(in_range, st.integers(min_value=-(2**70), max_value=2**70))
        if kinds == "number":
            return st.floats(allow_nan=False, allow_infinity=False)
        if kinds == "string":
            return self._string(schema, name)
        if kinds == "array":
            items = self._valid(schema.get("items", {}), name)
            return st.lists(items, max_size=min(int(schema.get("maxItems", 4)), 4))
        return self._object(schema)

    def _string(self, schema: dict[str, Any], name: str) -> st.SearchStrategy[Any]:
        if name in ("base_url", "auth_url"):
            return st.one_of(st.sampled_from(SAFE_URLS), st.sampled_from(SAFE_URLS).map(lambda url: url + "\x00\n"))
        if schema.get("format") == "date-time":
            moments = st.datetimes(timezones=st.timezones()).map(lambda moment: moment.isoformat())
            return st.one_of(moments, st.sampled_from(HOSTILE_TIMES))
        if schema.get("format") == "uuid":
            return st.uuids().map(str)
        low, high = int(schema.get("minLength", 0)), min(int(schema.get("maxLength", 64)), 64)
        plain = st.text(
            alphabet=string.ascii_letters + string.digits + " -_.:/éß漢", min_size=max(low, 1), max_size=high
        )
        if "pattern" in schema and name == "email":
            plain = st.from_regex(r"\A[a-z]{1,8}@[a-z]{1,8}\.test\Z")
        with_controls = st.tuples(plain, st.sampled_from("\x00\x01\x07\x1b\x1f\n\r\t\u2028\ud800")).map(
            lambda pair: pair[0][:1] + pair[1] + pair[0][1:]
        )
        return sometimes(st.one_of(st.sampled_from(HOSTILE_STRINGS), with_controls), plain, one_in=4)

    def _object(self, schema: dict[str, Any]) -> st.SearchStrategy[Any]:
        properties: dict[str, Any] = schema.get("properties", {})
        if not properties:
            return any_json if "additionalProperties" in schema else st.dictionaries(st.text(max_size=8), any_json)
        required = set(schema.get("required", []))
        fields = {key: self.strategy(value, key) for key, value in properties.items()}
        body = st.fixed_dictionaries(
            {key: fields[key] for key in properties if key in required},
            optional={key: fields[key] for key in properties if key not in required},
        )
        extra = st.dictionaries(st.sampled_from(["extra", "\x00", "title", "id"]), any_json, max_size=1)
        return st.tuples(body, extra).map(lambda pair: {**pair[1], **pair[0]})


class Conformance:
    """Checks an answer against the document: its status is one the operation lists, and its JSON body
    matches the schema listed for that status (types, required fields, enums, nested objects and lists)."""

    def __init__(self, schemas: Schemas) -> None:
        self.schemas = schemas

    def problems(self, operation: Operation, response: httpx.Response) -> list[str]:
        responses = operation.spec.get("responses", {})
        listed = responses.get(str(response.status_code)) or responses.get("default")
        if listed is None:
            return [f"status {response.status_code} is not in the document (it lists {sorted(responses)})"]
        schema = listed.get("content", {}).get("application/json", {}).get("schema")
        if schema is None or not response.content:
            return []
        return self.mismatches(schema, response.json(), "$")

    def mismatches(self, schema: dict[str, Any], value: Any, where: str) -> list[str]:
        schema = self.schemas.resolve(schema)
        for key in ("oneOf", "anyOf"):
            if key in schema:
                siblings = {k: v for k, v in schema.items() if k != key}
                options = [self.mismatches({**siblings, **self.schemas.resolve(s)}, value, where) for s in schema[key]]
                return [] if any(not found for found in options) else min(options, key=len)
        if "enum" in schema and value not in schema["enum"]:
            return [f"{where}: {value!r} is not one of {schema['enum']}"]
        kinds = schema.get("type")
        if kinds is None:
            return []
        kinds = kinds if isinstance(kinds, list) else [kinds]
        if not any(self._is(kind, value) for kind in kinds):
            return [f"{where}: {type(value).__name__} where the document says {kinds}"]
        found: list[str] = []
        if isinstance(value, dict):
            found += [f"{where}: {name} missing" for name in schema.get("required", []) if name not in value]
            for name, sub in schema.get("properties", {}).items():
                if name in value:
                    found += self.mismatches(sub, value[name], f"{where}.{name}")
        if isinstance(value, list) and "items" in schema:
            for index, item in enumerate(value[:20]):
                found += self.mismatches(schema["items"], item, f"{where}[{index}]")
        return found

    @staticmethod
    def _is(kind: str, value: Any) -> bool:
        return {
            "object": isinstance(value, dict),
            "array": isinstance(value, list),
            "string": isinstance(value, str),
            "integer": isinstance(value, int) and not isinstance(value, bool),
            "number": isinstance(value, int | float) and not isinstance(value, bool),
            "boolean": isinstance(value, bool),
            "null": value is None,
        }.get(kind, True)


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    spec: dict[str, Any]


@dataclass(frozen=True)
class Call:
    actor: int
    method: str
    path: str
    params: dict[str, Any]
    body: Any  # a JSON value, raw bytes, or None for no body


def operations(document: dict[str, Any]) -> list[Operation]:
    found = []
    for path, item in document["paths"].items():
        if path in SKIPPED_PATHS:
            continue
        for method, spec in item.items():
            if method in ("get", "post", "put", "delete", "patch"):
                found.append(Operation(method.upper(), path, spec))
    return found


def calls_for(
    operation: Operation, schemas: Schemas, ids: dict[str, list[str]], actors: int
) -> st.SearchStrategy[Call]:
    path_values: dict[str, st.SearchStrategy[str]] = {}
    queries: dict[str, st.SearchStrategy[Any]] = {}
    for parameter in operation.spec.get("parameters", []):
        name = parameter["name"]
        if parameter["in"] == "path":
            known = ids.get(name, [])
            path_values[name] = (
                sometimes(st.uuids().map(str), st.sampled_from(known), one_in=5) if known else st.uuids().map(str)
            )
        elif parameter["in"] == "query":
            queries[name] = st.one_of(
                schemas.strategy(parameter.get("schema", {})).map(lambda v: v if isinstance(v, str) else json.dumps(v)),
                st.sampled_from(HOSTILE_STRINGS),
            )
    query = st.fixed_dictionaries({}, optional=queries)
    body_schema = operation.spec.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
    if body_schema is not None:
        body: st.SearchStrategy[Any] = sometimes(
            st.one_of(hostile_json, st.binary(max_size=64), st.sampled_from(RAW_BODIES)),
            schemas.strategy(body_schema),
            one_in=4,
        )
    else:
        body = st.none()

    def build(drawn: tuple[int, dict[str, str], dict[str, Any], Any]) -> Call:
        actor, values, params, payload = drawn
        path = operation.path
        for name, value in values.items():
            path = path.replace("{" + name + "}", value)
        return Call(actor, operation.method, path, params, payload)

    return st.tuples(
        sometimes(st.integers(min_value=0, max_value=actors - 1), st.just(ACTING_ENGINEER), one_in=3),
        st.fixed_dictionaries(path_values),
        query,
        body,
    ).map(build)


def draw_calls(strategy: st.SearchStrategy[Call], count: int) -> list[Call]:
    drawn: list[Call] = []

    @settings(
        max_examples=count,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(strategy)
    def collect(call: Call) -> None:
        drawn.append(call)

    collect()
    return drawn


def _quoted(text: str) -> str:
    # A lone surrogate goes out as the bytes it would be (not UTF-8): the server must refuse them cleanly.
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


async def send(actor: Actor, call: Call) -> httpx.Response:
    kwargs: dict[str, Any] = {}
    path = call.path
    if call.params:
        path += "?" + "&".join(f"{_quoted(k)}={_quoted(v)}" for k, v in call.params.items())
    if isinstance(call.body, bytes):
        kwargs["content"] = call.body
        kwargs["headers"] = {"Content-Type": "application/json"}
    elif call.body is not None:
        kwargs["content"] = json.dumps(call.body).encode()
        kwargs["headers"] = {"Content-Type": "application/json"}
    return await actor.request(call.method, path, **kwargs)


async def test_no_input_of_any_shape_gets_a_5xx(tenants: TenantFactory, client: httpx.AsyncClient) -> None:
    tenant = await tenants.create(owner="owner", junior="engineer", senior="engineer", viewer="viewer")
    actors = [tenant["owner"], tenant["junior"], tenant["senior"], tenant["viewer"], tenant.service]
    # The directory calls edit and delete these two, never a user the fuzz acts as.
    spares = [await tenants.add_user(tenant, f"spare{n}", "engineer") for n in range(2)]
    junior = tenant["junior"]
    sessions = [await junior.new_session("fuzz target") for _ in range(3)]
    escalation = await junior.escalate(sessions[0]["id"])
    parked = (await junior.post(f"/api/v1/ai-sessions/{sessions[1]['id']}/handoff", json={"intent": "park"})).json()
    ids = {
        "account_id": [str(tenant.account_id)],
        "user_id": [str(spare.id) for spare in spares],
        "session_id": [s["id"] for s in sessions],
        "handoff_id": [escalation["id"], parked["id"]],
    }

    document = (await client.get("/schema/openapi.json")).json()
    schemas = Schemas(document)
    conformance = Conformance(schemas)
    failures = []
    sent = 0
    statuses: Counter[int] = Counter()
    for operation in operations(document):
        for call in draw_calls(calls_for(operation, schemas, ids, len(actors)), EXAMPLES_PER_OPERATION):
            response = await send(actors[call.actor], call)
            sent += 1
            statuses[response.status_code] += 1
            problem = None
            if response.status_code >= 500:
                problem = f"answered {response.status_code}: {response.text[:300]}"
            elif response.status_code >= 400:
                body = response.json()
                if not {"status_code", "code", "detail"} <= body.keys() or body["status_code"] != response.status_code:
                    problem = f"error body off-contract: {response.text[:300]}"
            if problem is None and (mismatch := conformance.problems(operation, response)):
                problem = f"answered {response.status_code}, off the document: {'; '.join(mismatch[:3])}"
            if problem:
                failures.append(
                    f"{call.method} {call.path[:120]} params={str(call.params)[:200]} "
                    f"body={str(call.body)[:200]}: {problem}"
                )
    print(f"\nfuzz: {sent} requests, answers {dict(sorted(statuses.items()))}")
    assert sent >= EXAMPLES_PER_OPERATION * 10
    assert statuses[200] + statuses[201] > sent // 20, "most requests never got past validation"
    assert not failures, f"{len(failures)} of {sent} requests failed:\n" + "\n".join(failures[:20])


def test_the_strategies_reach_every_operation_and_hostile_values() -> None:
    document = {
        "paths": {
            "/x/{session_id}": {
                "post": {
                    "parameters": [{"name": "session_id", "in": "path"}],
                    "requestBody": {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/B"}}}},
                }
            }
        },
        "components": {
            "schemas": {
                "B": {
                    "type": "object",
                    "required": ["title"],
                    "properties": {"title": {"type": "string", "maxLength": 5}},
                }
            }
        },
    }
    calls = draw_calls(calls_for(operations(document)[0], Schemas(document), {"session_id": ["s1"]}, 1), 200)
    assert len(calls) == 200
    bodies = [json.dumps(c.body) for c in calls if isinstance(c.body, dict) and "title" in c.body]
    assert bodies, "some bodies follow the schema"
    assert any("\\u0000" in b for b in bodies), "some carry a NUL"
    assert any(isinstance(c.body, bytes) for c in calls), "some are not JSON at all"
    assert {c.path for c in calls} >= {"/x/s1"}
    assert uuid.UUID(next(c.path for c in calls if c.path != "/x/s1").rsplit("/", 1)[1])


def test_the_conformance_check_catches_an_answer_off_the_document() -> None:
    document = {
        "components": {
            "schemas": {
                "Person": {
                    "type": "object",
                    "required": ["id", "name"],
                    "properties": {"id": {"type": "string"}, "name": {"type": "string"}},
                }
            }
        }
    }
    operation = Operation(
        "GET",
        "/x",
        {
            "responses": {
                "200": {
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "status": {"enum": ["open", "claimed"]},
                                    "claimed_by": {
                                        "oneOf": [{"$ref": "#/components/schemas/Person"}, {"type": "null"}]
                                    },
                                },
                            }
                        }
                    }
                }
            }
        },
    )
    check = Conformance(Schemas(document))
    good = httpx.Response(200, json={"status": "open", "claimed_by": {"id": "a", "name": "Sam"}})
    assert check.problems(operation, good) == []
    assert check.problems(operation, httpx.Response(200, json={"status": "open", "claimed_by": None})) == []
    assert check.problems(operation, httpx.Response(200, json={"status": "lost"}))
    assert check.problems(operation, httpx.Response(200, json={"claimed_by": {"id": "a"}}))
    assert check.problems(operation, httpx.Response(418, json={}))
