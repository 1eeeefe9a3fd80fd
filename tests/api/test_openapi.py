"""`GET /openapi.json`: an OpenAPI 3.1 document of every route, generated from the routes and their types.

The route tests walk the app's routes (Mounts included) and resolve each documented path the way
Starlette will, so a route nobody documented, or an operation no route serves, fails here.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import quote

import msgspec
import pytest
import schemathesis
from starlette.routing import BaseRoute, Match, Mount, Route

from openengage.api import openapi, shapes
from openengage.api import webengage_schema as we_schema
from openengage.app import create_app
from openengage.errors import StoreUnavailable
from openengage.operations import ApiRoute, Operation, Param, Reply
from openengage.settings import Settings
from tests.support import moengage_fixtures as moe_fixtures
from tests.support import seeds
from tests.support.harness import Harness
from tests.support.moengage_fixtures import Moe

SAMPLE = "sample"


@pytest.fixture(scope="module")
def app() -> Any:
    """The app, never started: routes and the document need no store."""
    return create_app(Settings.from_env({}, database_url="sqlite:///never-opened.db"))


@pytest.fixture(scope="module")
def document(app: Any) -> dict[str, Any]:
    return openapi.document(app.routes)


def route_operations(routes: list[BaseRoute], prefix: str = "") -> set[tuple[str, str]]:
    """(method, full path template) of every route of the app, the dashboard's pages left out."""
    found: set[tuple[str, str]] = set()
    for route in routes:
        if isinstance(route, Mount):
            if route.routes:
                found |= route_operations(route.routes, prefix + route.path)
            elif not openapi.documented_elsewhere(prefix + route.path):  # an app the walk cannot see into
                found.add(("*", prefix + route.path))
        elif isinstance(route, Route):
            path = prefix + route.path
            if not openapi.documented_elsewhere(path):
                found |= {(method, path) for method in openapi.route_methods(route)}
        else:
            raise AssertionError(f"a route of a kind the document cannot describe: {route!r}")
    return found


def serving_route(routes: list[BaseRoute], method: str, path: str) -> str | None:
    """The template of the route Starlette dispatches `method path` to (the first full match), if any."""
    scope = {"type": "http", "method": method, "path": path, "root_path": "", "path_params": {}}
    for route in routes:
        match, child = route.matches(scope)
        if match is Match.FULL:
            if isinstance(route, Mount):
                inner = serving_route(route.routes, method, child["path_params"].get("path", path))
                return None if inner is None else route.path + inner
            assert isinstance(route, Route)
            return route.path
    return None


def concrete(template: str) -> str:
    """A URL path for an OpenAPI path template (every parameter a plain sample value)."""
    return re.sub(r"\{[^}]+\}", SAMPLE, template)


def documented(document: dict[str, Any]) -> set[tuple[str, str]]:
    return {(method.upper(), path) for path, item in document["paths"].items() for method in item}


def test_every_route_is_documented(app: Any, document: dict[str, Any]) -> None:
    served = {serving_route(app.routes, method, concrete(path)) for method, path in documented(document)}
    missing = {(m, p) for m, p in route_operations(app.routes) if p not in served}
    assert missing == set(), f"routes without an operation in GET /openapi.json: {sorted(missing)}"


def test_every_operation_is_served(app: Any, document: dict[str, Any]) -> None:
    """No phantom: each documented method and path reaches a route declaring that method, the one meant."""
    for method, path in documented(document):
        template = serving_route(app.routes, method, concrete(path))
        assert template is not None, f"{method} {path} is served by no route"
        assert (method, template) in route_operations(app.routes), f"{method} {path} reaches {template}"
        assert openapi.openapi_path(template).startswith(path.split("{")[0]), (method, path, template)


def test_the_route_check_catches_an_undocumented_route(app: Any) -> None:
    async def endpoint(request: Any) -> Any:
        raise NotImplementedError

    path = "/v2/accounts/{license_code}/not-yet-documented"
    routes = [*app.routes, Route(path, endpoint, methods=["POST"])]
    served = {serving_route(routes, m, concrete(p)) for m, p in documented(openapi.document(routes))}
    assert ("POST", path) in {(m, p) for m, p in route_operations(routes) if p not in served}
    # Declared as an ApiRoute with its operation, it is in the document: adding a route is one change.
    operation = Operation(
        id="notYetDocumented",
        summary="A new route",
        tag="Messaging",
        params=(Param("license_code", "path", "The license code."),),
        replies=(Reply(200, "Queued."),),
    )
    routes[-1] = ApiRoute(path, endpoint, methods=["POST"], operations=operation)
    document = openapi.document(routes)
    assert document["paths"][path]["post"]["operationId"] == "notYetDocumented"
    served = {serving_route(routes, m, concrete(p)) for m, p in documented(document)}
    assert {(m, p) for m, p in route_operations(routes) if p not in served} == set()


def test_the_builder_refuses_mismatched_parameters(app: Any) -> None:
    async def endpoint(request: Any) -> Any:
        raise NotImplementedError

    operation = Operation(id="x", summary="x", tag="Operations", replies=(Reply(200, "ok"),))
    with pytest.raises(ValueError, match="path parameters"):
        openapi.document([ApiRoute("/things/{thing_id}", endpoint, methods=["GET"], operations=operation)])
    with pytest.raises(ValueError, match="used twice"):
        openapi.document([ApiRoute(p, endpoint, methods=["GET"], operations=operation) for p in ("/a", "/b")])


def test_the_document_is_valid_openapi_3_1(document: dict[str, Any]) -> None:
    assert document["openapi"] == "3.1.0"
    schemathesis.openapi.from_dict(document).validate()
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_request_bodies_are_the_validators_types(document: dict[str, Any]) -> None:
    """The body schema of each ingest operation is the schema of the type its endpoint admits bodies with."""
    ops = {op["operationId"]: op for item in document["paths"].values() for op in item.values()}
    components = document["components"]["schemas"]
    expected = {
        "webengageTrackUser": we_schema.User,
        "webengageTrackEvent": we_schema.Event,
        "webengageBulkUsers": we_schema.BulkUsers,
        "webengageBulkEvents": we_schema.BulkEvents,
    }
    for op_id, body_type in expected.items():
        ref = ops[op_id]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        name = ref.rsplit("/", 1)[1]
        _, own = msgspec.json.schema_components([body_type], ref_template=openapi.REF)
        assert components[name] == own[name]
    for item in document["paths"].values():
        for op in item.values():
            if "requestBody" in op:
                assert op["requestBody"]["content"]["application/json"]["schema"]["$ref"], op["operationId"]


def test_security_schemes(document: dict[str, Any]) -> None:
    schemes = document["components"]["securitySchemes"]
    assert schemes["bearerAuth"] == {**schemes["bearerAuth"], "type": "http", "scheme": "bearer"}
    assert schemes["basicAuth"] == {**schemes["basicAuth"], "type": "http", "scheme": "basic"}
    for path, item in document["paths"].items():
        for op in item.values():
            if path.startswith(("/v1/accounts/", "/v2/accounts/")):
                assert op["security"] == [{"bearerAuth": []}], path
            elif path.startswith("/v1/"):
                assert op["security"] == [{"basicAuth": []}], path
            else:
                assert op["security"] == [], path


def test_documented_headers(document: dict[str, Any]) -> None:
    users = document["paths"]["/v1/accounts/{license_code}/users"]["post"]
    assert set(users["responses"]["429"]["headers"]) == {"X-RateLimit-Limit", "X-RateLimit-Remaining", "Retry-After"}
    assert users["responses"]["503"]["headers"]["Retry-After"]["required"] is True
    assert [p["name"] for p in users["parameters"]] == ["license_code", "format", "x-request-id"]
    assert set(users["responses"]["201"]["content"]) == {"application/json", "application/xml"}
    customer = document["paths"]["/v1/customer/{app_id}"]["post"]
    assert set(customer["responses"]["429"]["headers"]) == {
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
        "Retry-After",
    }
    assert "MOE-APPKEY" in [p["name"] for p in customer["parameters"]]


def test_the_document_is_served(api: Harness) -> None:
    response = api.client.get("/openapi.json")
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == openapi.document(api.app.routes)
    assert api.client.get("/openapi.json").content == response.content  # built once, then kept
    # documented user ids go URL-encoded; the read route takes them so
    api.post("/users", {"userId": "a/b"})
    api.drain()
    assert api.client.get(f"/v1/accounts/{api.lc}/users/{quote('a/b', safe='')}", headers=api.auth()).status_code == 200


# ---------------------------------------------------------------- error paths the fuzzing never takes
#
# The fuzz tests send valid credentials to an account with room to spare; here each documented refusal is
# provoked for real and its response checked against the document, as the fuzz tests check theirs.


def conforms(document: dict[str, Any], method: str, path: str, response: Any, status: int) -> None:
    """The response has `status`, and its status, content type, required headers and body are documented."""
    assert response.status_code == status, response.text
    operation = document["paths"][path][method.lower()]
    reply = operation["responses"].get(str(response.status_code))
    assert reply is not None, f"{method} {path}: {response.status_code} is not documented"
    media = response.headers["content-type"].split(";")[0]
    assert media in reply.get("content", {}), (media, list(reply.get("content", {})))
    for name, header in reply.get("headers", {}).items():
        assert not header["required"] or name in response.headers, (name, response.headers)
    schema = schemathesis.openapi.from_dict(document)
    schema[path][method.upper()].validate_response(response)


USERS = "/v1/accounts/{license_code}/users"
CUSTOMER = "/v1/customer/{app_id}"


@pytest.mark.usefixtures("steady_rate_window")  # a 201 then a 429 in one per-minute window
def test_webengage_refusals_conform(database_url: str, document: dict[str, Any]) -> None:
    with Harness(database_url, limits={"users": 1}, max_body_bytes=1000) as api:
        post = api.post
        conforms(document, "POST", USERS, post("/users", {"userId": "u"}), 201)
        conforms(document, "POST", USERS, post("/users", {"userId": "u"}), 429)
        conforms(document, "POST", USERS, post("/users", {"userId": 5}, params={"format": "xml"}), 400)
        conforms(document, "POST", USERS, post("/users", {"userId": "u"}, key="wrong"), 401)
        conforms(document, "POST", USERS, post("/users", {"userId": "u"}, lc="~00000000"), 404)
        conforms(document, "POST", USERS, post("/users", {}, headers={"Content-Type": "text/plain"}), 415)
        conforms(document, "POST", USERS, post("/users", {"userId": "u" * 2000}), 413)
        conforms(document, "POST", USERS, post("/users", {"userId": "u"}, params={"format": "yaml"}), 400)
        bulk = "/v1/accounts/{license_code}/bulk-users"
        response = post("/bulk-users", {"users": [{"userId": "u"}, {"userId": 5}]})
        assert response.json()["response"]["errors"] == [
            {"index": 1, "message": "Error: userId must be a string, not a number."}
        ]
        conforms(document, "POST", bulk, response, 400)


@pytest.mark.usefixtures("steady_rate_window")  # a 201 then a 429 in one per-minute window
def test_moengage_refusals_conform(database_url: str, document: dict[str, Any]) -> None:
    with Harness(database_url, limits={"moengage-users": 1}) as api:
        url = f"/v1/customer/{api.creds.app_id}"
        json_ = {"Content-Type": "application/json"}
        body = {"customer_id": "u1"}
        for headers, content, status in (
            ({**json_, **api.basic()}, msgspec.json.encode(body), 200),
            ({**json_, **api.basic()}, msgspec.json.encode(body), 429),
            (json_, msgspec.json.encode(body), 401),
            ({**json_, **api.basic(), "MOE-APPKEY": "other"}, msgspec.json.encode(body), 401),
            ({**json_, **api.basic(app_id="other")}, msgspec.json.encode(body), 409),
            (api.basic(), msgspec.json.encode(body), 400),  # no Content-Type
            ({"Content-Type": "text/plain", **api.basic()}, b"x", 415),
            ({**json_, **api.basic()}, b"[" + b" " * 140_000 + b"]", 413),
            ({**json_, **api.basic()}, b'{"customer_id": 5}', 400),
        ):
            conforms(document, "POST", CUSTOMER, api.client.post(url, content=content, headers=headers), status)


def test_read_refusals_conform(api: Harness, document: dict[str, Any]) -> None:
    events = "/v1/accounts/{license_code}/users/{user_id}/events"
    conforms(document, "GET", events, api.get("/users/nobody/events"), 404)
    conforms(document, "GET", events, api.get("/users/nobody/events", params={"limit": "0"}), 400)
    conforms(document, "GET", events, api.get("/users/nobody/events", key="wrong"), 401)
    api.post("/users", {"userId": "somebody"})
    api.drain()
    conforms(document, "GET", events, api.get("/users/somebody/events", params={"cursor": "forged"}), 400)
    stats = "/v1/accounts/{license_code}/stats"
    conforms(document, "GET", stats, api.get("/stats", params={"format": "xml"}), 200)


def test_store_unavailable_conforms(sqlite_url: str, document: dict[str, Any]) -> None:
    """503 with Retry-After in each dialect's shape, and from /healthz: a free-space floor no disk meets."""
    with Harness(sqlite_url, min_free_mb=2**40) as api:
        conforms(document, "POST", USERS, api.post("/users", {"userId": "u"}), 503)
        response = api.client.post(f"/v1/customer/{api.creds.app_id}", json={"customer_id": "u1"}, headers=api.basic())
        conforms(document, "POST", CUSTOMER, response, 503)
        conforms(document, "GET", "/healthz", api.client.get("/healthz"), 503)


def test_the_gdpr_apis_503_conforms(api: Harness, document: dict[str, Any], monkeypatch: pytest.MonkeyPatch) -> None:
    async def unreachable(*args: Any) -> Any:
        raise StoreUnavailable("database unreachable (injected)")

    monkeypatch.setattr(api.store, "gdpr_request", unreachable)
    gdpr = "/v1/accounts/{license_code}/opengdpr_requests/{request_id}"
    response = api.client.get(f"/v1/accounts/{api.lc}/opengdpr_requests/r-1", headers=api.auth())
    conforms(document, "GET", gdpr, response, 503)


# ---------------------------------------------------------------- success documents, from rich data


def test_read_documents_conform(api: Harness, document: dict[str, Any]) -> None:
    """Every read document, of profiles written through both dialects with every kind of field, is documented."""
    assert api.post("/users", seeds.USER).status_code == 201
    assert api.post("/users", {"userId": "johndoe", "anonymousId": "anon-1", "rcsOptIn": True}).status_code == 201
    assert api.post("/events", {**seeds.EVENT, "eventTime": 1704067200}).status_code == 201
    assert api.post("/users", {"userId": "johndoe", "attributes": {"Age": 31, "we_x": 1, "x" * 60: 1}}).status_code
    moe = Moe(api)
    rich = {"gender": "f", "birthday": "1990-01-02", "moe_unsubscribe": True, "mobile": 5511}
    for response in (
        moe.customer(moe_fixtures.SEED_USER),
        moe.customer({"customer_id": "USERID1234", "attributes": rich}),
        moe.device({**moe_fixtures.DEVICE, "customer_id": "USERID1234"}),
        moe.event({**moe_fixtures.EVENT_EPOCH_SECONDS, "customer_id": "USERID1234", "device_id": "d1"}),
        moe.customer({"customer_id": "other"}),
    ):
        assert response.status_code == 200, response.text
    api.drain()
    assert moe.merge({"merge_data": [{"merged_user": "other", "retained_user": "USERID1234"}]}).status_code == 200
    api.drain()
    prefix = "/v1/accounts/{license_code}"
    for path, url, params in (
        (f"{prefix}/users/{{user_id}}", "/users/johndoe", {}),
        (f"{prefix}/users/{{user_id}}", "/users/USERID1234", {}),
        (f"{prefix}/users/{{user_id}}/events", "/users/johndoe/events", {"limit": "1"}),
        (f"{prefix}/users/{{user_id}}/events", "/users/USERID1234/events", {}),
        (f"{prefix}/anonymous-users/{{anonymous_id}}", "/anonymous-users/anon-1", {}),
        (f"{prefix}/stats", "/stats", {}),
        (f"{prefix}/schema", "/schema", {}),
        (f"{prefix}/rejections", "/rejections", {"limit": "2"}),
        (f"{prefix}/merges", "/merges", {}),
        (f"{prefix}/dead-letters", "/dead-letters", {}),
    ):
        response = api.get(url, params=params)
        conforms(document, "GET", path, response, 200)
    profile = api.profile("USERID1234")
    assert profile["devices"] and profile["platforms"] and profile["gender"] == "female"  # the rich fields were there
    assert api.data("/rejections")["rejections"] and api.data("/merges")["merges"]


def test_dead_letter_documents_conform() -> None:
    """A dead letter's document, with records or a payload that is not even JSON, is its documented type."""
    from openengage.store.base import DeadLetter

    for payload in (b'[{"kind":"user"}]', b"\xff not json"):
        letter = DeadLetter(
            1, 2, 3, 1_700_000_000_000, 1, payload, "OverflowError", "too big", 1_700_000_000_001, 1, False
        )
        msgspec.convert(shapes.dead_letter_doc(letter), shapes.DeadLetterDoc)
