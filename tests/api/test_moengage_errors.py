"""Every documented MoEngage failure row, over HTTP, on every Data API route: status, type, message, shape.

Each test also proves that a refused request changes nothing: no record is pending, no user exists,
and the rate-limit budget is untouched.
"""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.support import moengage_fixtures as fx
from tests.support.harness import Harness
from tests.support.moengage_fixtures import Moe, assert_fail

# (path with {app}, query params, a valid body)
ROUTES: list[tuple[str, dict[str, str], dict[str, Any]]] = [
    ("/v1/customer/{app}", {}, fx.USER),
    ("/v1/event/{app}", {}, fx.EVENT_EPOCH_SECONDS),
    ("/v1/device/{app}", {}, fx.DEVICE),
    ("/v1/transition/{app}", {}, fx.BULK),
    ("/v1/customer/merge", {"app_id": "{app}"}, fx.RUDDER_MERGE),
    ("/v1/customer/delete", {"app_id": "{app}"}, fx.DELETE),
    ("/v1/customers/export", {"app_id": "{app}"}, fx.EXPORT),
]


def every_route(
    api: Harness,
    *,
    headers: dict[str, str] | None = None,
    content: bytes | None = None,
    app: str | None = None,
    query_app: str | None = None,
) -> list[Any]:
    moe = Moe(api)
    responses = []
    for path, params, payload in ROUTES:
        app_id = app or api.creds.app_id
        url = path.format(app=app_id)
        query = {k: (query_app or v.format(app=app_id)) for k, v in params.items()}
        responses.append(moe.post(url, payload, headers=headers, content=content, params=query))
    return responses


def nothing_changed(api: Harness) -> None:
    api.drain()
    assert api.data("/stats") == {"users": 0, "anonymousUsers": 0, "events": 0, "pending": 0, "deadLetters": 0}


def with_auth(api: Harness, authorization: str | None, **extra: str) -> dict[str, str]:
    h = {"Content-Type": "application/json", **extra}
    if authorization is not None:
        h["Authorization"] = authorization
    return h


def b64(raw: str) -> str:
    return "Basic " + base64.b64encode(raw.encode()).decode()


AUTH_FAILURES: list[tuple[str | None, str]] = [
    (None, "Authentication Header Required"),
    ("", "No identity information found"),
    ("Basic ", "No identity information found"),
    ("Bearer some-key", "Invalid authorization used. MoEngage only supports 'Basic Auth' authorization."),
    ("Basic %%%", "Invalid identity information found"),
    ("B64:NOCOLON", "Invalid identity information found"),
    ("B64::secret", "APP_KEY missing in the authentication header"),
    ("B64:{app}:", "APP_SECRET missing in the authentication header"),
    ("B64:{app}:wrong-key", "App Secret key mismatch. Please login to the dashboard to verify key"),
]


def test_authentication_failures(api: Harness) -> None:
    for authorization, message in AUTH_FAILURES:
        if authorization is not None and authorization.startswith("B64:"):
            authorization = b64(authorization.removeprefix("B64:").format(app=api.creds.app_id))
        for r in every_route(api, headers=with_auth(api, authorization)):
            try:
                assert_fail(r, 401, "Authentication required", message)
            except AssertionError as exc:
                raise AssertionError(f"{authorization!r}: {exc}") from None
    nothing_changed(api)


def test_unknown_app_id(api: Harness) -> None:
    headers = with_auth(api, b64("NOSUCHAPPID0000000000000:key"))
    for r in every_route(api, headers=headers, app="NOSUCHAPPID0000000000000"):
        assert_fail(r, 401, "Authentication required", "Invalid APP_ID used in Authentication Header")


def test_app_id_in_params_differs_from_basic_auth_user(api: Harness) -> None:
    for r in every_route(api, app="OTHERAPPID00000000000000"):
        assert_fail(r, 409, "Authentication Mismatch", "App key mismatch in params and authentication.")
    nothing_changed(api)


def test_app_id_in_path_differs_from_query(api: Harness) -> None:
    moe = Moe(api)
    r = moe.post(f"/v1/customer/{api.creds.app_id}", fx.USER, params={"app_id": "OTHER"})
    assert_fail(r, 409, "Authentication Mismatch", "App key mismatch in params and authentication.")
    nothing_changed(api)


def test_app_id_required(api: Harness) -> None:
    moe = Moe(api)
    for path, _params, payload in ROUTES:
        if "{app}" in path:
            path = path.removesuffix("/{app}")
        r = moe.post(path, payload)
        assert_fail(r, 400, "ParamsRequired", "app_id is required in path/query params.")
    nothing_changed(api)


def test_moe_appkey_must_match_the_basic_auth_user(api: Harness) -> None:
    moe = Moe(api)
    headers = moe.headers(**{"MOE-APPKEY": "SOMEONEELSE"})
    for r in every_route(api, headers=headers):
        assert_fail(
            r,
            401,
            "Authentication required",
            "MOE_APPKEY doesn't match the Username (APP_KEY) used in Basic Auth authorization.",
        )
    nothing_changed(api)


def test_moe_appkey_is_optional(api: Harness) -> None:
    moe = Moe(api)
    fx.assert_success(moe.customer(fx.USER, headers=moe.headers(appkey=False)))
    fx.assert_success(moe.customer(fx.USER, headers=moe.headers(appkey=True)))


def test_content_type_required(api: Harness) -> None:
    headers = {k: v for k, v in Moe(api).headers().items() if k != "Content-Type"}
    for r in every_route(api, headers=headers, content=b'{"customer_id":"x"}'):
        assert_fail(r, 400, "Missing header value", "The Content-Type Header is required")
    nothing_changed(api)


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"])
def test_unsupported_media_type(api: Harness, content_type: str) -> None:
    headers = Moe(api).headers(**{"Content-Type": content_type})
    for r in every_route(api, headers=headers, content=b'{"customer_id":"x"}'):
        assert_fail(r, 415, "Unsupported Media Type", "Unsupported Media Type")
    nothing_changed(api)


def test_json_content_type_with_charset_is_accepted(api: Harness) -> None:
    moe = Moe(api)
    fx.assert_success(moe.customer(fx.USER, headers=moe.headers(**{"Content-Type": "application/json; charset=utf-8"})))


@pytest.mark.parametrize(
    ("content", "error_type", "message"),
    [
        (b"", "Empty request body", "A valid JSON document is required"),
        (b"{", "Malformed JSON", "Could not decode the request body. The JSON was incorrect or not encoded as UTF-8."),
        (b'{"customer_id": "\xff"}', "Malformed JSON", "Could not decode the request body. …"),
        (b'"just a string"', "Body type is not JSON", "A valid JSON document is required."),
        (b"[]", "Body type is not JSON", "A valid JSON document is required."),
    ],
)
def test_body_failures(api: Harness, content: bytes, error_type: str, message: str) -> None:
    for r in every_route(api, content=content):
        assert_fail(r, 400, error_type, message)
    nothing_changed(api)


def test_payload_over_128_kb(api: Harness) -> None:
    big = b'{"customer_id":"u","attributes":{"blob":"' + b"x" * (128 * 1024) + b'"}}'
    for r in every_route(api, content=big):
        assert_fail(r, 413, "Payload too large", "The payload can not exceed 128KB")
    nothing_changed(api)


def test_payload_just_under_128_kb_is_accepted(api: Harness) -> None:
    head, tail = b'{"customer_id":"u","attributes":{"blob":"', b'"}}'
    body = head + b"x" * (128 * 1024 - len(head) - len(tail)) + tail
    assert len(body) == 128 * 1024
    fx.assert_success(Moe(api).customer(None, content=body))


def test_rate_limit_headers_on_refusals_report_an_untouched_budget(api: Harness) -> None:
    moe = Moe(api)
    r = moe.customer(fx.body(fx.USER, customer_id="null"))
    assert_fail(r, 400, "ValueError", "customer_id 'null' is a blocked placeholder value…", "customer_id")
    assert r.headers["x-ratelimit-limit"] == "10000"
    assert r.headers["x-ratelimit-remaining"] == "10000"
    assert 1 <= int(r.headers["x-ratelimit-reset"]) <= 60
    nothing_changed(api)


FIELD_ERRORS: list[tuple[str, dict[str, Any], str, str, str]] = [
    (
        "customer",
        {"type": "customer"},
        "MissingAttributeError",
        "customer_id is not found in the payload",
        "customer_id",
    ),
    (
        "customer",
        {"customer_id": ""},
        "MissingAttributeError",
        "customer_id can not be empty Unicode String",
        "customer_id",
    ),
    (
        "customer",
        {"customer_id": "guest"},
        "ValueError",
        "customer_id 'guest' is a blocked placeholder value…",
        "customer_id",
    ),
    ("customer", {"customer_id": "u", "type": "Customer"}, "AttributeError", "type should be customer", "type"),
    (
        "customer",
        {
            "customer_id": "u",
            "attributes": {"addValueToArrayField": {"a": [1]}, "removeValueFromArrayField": {"a": [2]}},
        },
        "ArrayFieldError",
        "Cannot add and remove 'a' at the same time",
        "addValueToArrayField",
    ),
    (
        "customer",
        {"customer_id": "u", "attributes": {"first_name": 1}},
        "MissingAttributeError",
        "first_name is expected to be String",
        "first_name",
    ),
    (
        "event",
        {"type": "event", "customer_id": "u", "actions": []},
        "MissingAttributeError",
        "actions can not be empty Array",
        "actions",
    ),
    (
        "event",
        {"customer_id": "u", "actions": [{"attributes": {}}]},
        "MissingAttributeError",
        "action is not found in the payload",
        "action",
    ),
    (
        "event",
        {"customer_id": "u", "actions": [{"action": 1}]},
        "Malformed JSON",
        "action is expected to be String",
        "action",
    ),
    (
        "event",
        {"actions": [{"action": "A"}]},
        "MissingAttributeError",
        "customer_id is not found in the payload",
        "customer_id",
    ),
    (
        "event",
        fx.EVENT_IDENTITY_RESOLUTION,
        "MissingAttributeError",
        "customer_id is not found in the payload",
        "customer_id",
    ),
    (
        "device",
        {"customer_id": "u"},
        "MissingAttributeError",
        "'attributes' is not found in the payload",
        "attributes",
    ),
    (
        "device",
        {"customer_id": "u", "attributes": {"platform": "Windows", "push_id": "p"}},
        "ValueError",
        "'platform' is not a valid platform.",
        "platform",
    ),
    (
        "device",
        {"customer_id": "u", "attributes": {"platform": "iOS"}},
        "MissingAttributeError",
        "'push_id' is not found in the payload",
        "push_id",
    ),
    (
        "bulk",
        {"type": "transition", "elements": []},
        "MissingAttributeError",
        "elements cannot be empty array",
        "elements",
    ),
    (
        "bulk",
        {"type": "transition", "elements": [{"type": "user", "customer_id": "u"}]},
        "AttributeError",
        "elements[0]: type in elements should be customer/event/device",
        "type",
    ),
    (
        "merge",
        {"merge_data": [{"merged_user": 1, "retained_user": "r"}]},
        "MissingAttributeError",
        "merged_user is expected to be String or Unicode String",
        "merged_user",
    ),
    (
        "delete",
        {"identity_type": "customer_id"},
        "MissingAttributeError",
        "identity_value is not found in the payload",
        "identity_value",
    ),
    ("export", {"data": {}}, "MissingAttributeError", "identifiers is not found in the payload", "identifiers"),
    ("export", {}, "MissingAttributeError", "data is not found in the payload", "data"),
]


def test_field_errors(api: Harness) -> None:
    moe = Moe(api)
    for route, payload, error_type, message, attribute in FIELD_ERRORS:
        r = getattr(moe, route)(payload)
        try:
            assert_fail(r, 400, error_type, message, attribute)
        except AssertionError as exc:
            raise AssertionError(f"{route} {payload}: {exc}") from None
    nothing_changed(api)


def test_a_bulk_request_with_one_bad_element_stores_nothing(api: Harness) -> None:
    payload = fx.body(fx.BULK)
    payload["elements"].append({"type": "event", "customer_id": "x", "actions": []})
    r = Moe(api).bulk(payload)
    assert_fail(r, 400, "MissingAttributeError", "elements[3]: actions can not be empty Array", "actions")
    nothing_changed(api)


def test_unknown_moengage_path_is_404(api: Harness) -> None:
    r = Moe(api).post(f"/v1/customers/{api.creds.app_id}", fx.USER)
    assert r.status_code == 404


def test_a_store_failure_is_a_500_in_the_vendor_shape_and_stores_nothing(
    api: Harness, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    async def failing_append(batch: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(api.store, "append", failing_append)
    r = Moe(api).customer(fx.USER)
    assert_fail(r, 500, "Server Error", "An unexpected error was encountered while processing this request. …")
    assert "moengage request failed" in caplog.text
    monkeypatch.undo()
    nothing_changed(api)
