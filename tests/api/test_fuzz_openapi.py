"""Every operation of `GET /openapi.json`, fuzzed by schemathesis against the in-process app, on both stores.

Schemathesis reads the document the app serves and, per operation, sends the documented examples, then
bounded generated requests, valid and invalid (both dialects, with the account's valid Bearer key or
Basic auth, license code and app id). Every response must be no 5xx, a documented status, a documented
content type, and a body and headers the document's schema for that status admits; a request that breaks
the schema must be refused (4xx). The store is seeded first, so the reads find the documented examples.

Runs are derandomised (the same requests every run, so CI is reproducible). Raise the count locally to
search further: `OPENENGAGE_SCHEMATHESIS_EXAMPLES=500 pytest tests/api/test_fuzz_openapi.py`.
"""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from openengage.api import openapi
from openengage.app import create_app
from openengage.rules.channel_config import email_config
from openengage.settings import Settings
from tests.support import backends
from tests.support.harness import Harness

# Per-minute limits of 1 (business definitions) or 100 (GDPR, transactions) would leave most runs at 429.
UNLIMITED = {"business-definitions": 0, "gdpr": 0, "transactions": 0}
# The running campaign each backend's store was seeded with: generated campaign ids go to it (a random id
# only ever meets the 404 path).
CAMPAIGNS: dict[int, str] = {}
EXAMPLES = int(os.environ.get("OPENENGAGE_SCHEMATHESIS_EXAMPLES", "10"))
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
    negative_data_rejection,
]


@schemathesis.deserializer("application/xml")
def well_formed_xml(ctx: Any, response: Any) -> str:
    """WebEngage's `?format=xml` answers are documented as text: check they parse, with the container's root."""
    root = ET.fromstring(response.content)
    assert root.tag == "response", root.tag
    text: str = response.content.decode("utf-8")
    return text


def seed(api: Harness) -> None:
    """Data for the documented examples of the read API, and some of everything else."""
    for body in (
        {"userId": "johndoe21#", "anonymousId": "a-1f2e", "firstName": "John", "attributes": {"we_x": 1, "Plan": "A"}},
        {"anonymousId": "a-1f2e", "eventName": "Added to Cart", "eventData": {"Price": 39.8}},
        {"userId": "johndoe21#", "eventName": "Viewed", "eventTime": "2018-09-15T18:29:00-0800"},
        {"userId": "johndoe21#", "attributes": {"Plan": 5}},  # a type conflict: a rejection
    ):
        path = "/events" if "eventName" in body else "/users"
        assert api.post(path, body).status_code == 201
    # the documented example of the request-trace read
    trace = {"x-request-id": "0192f8e4-6c1a-7b3e-9d2f-4a5b6c7d8e9f"}
    assert api.post("/events", {"userId": "johndoe21#", "eventName": "Traced"}, headers=trace).status_code == 201
    moe = {"Content-Type": "application/json", **api.basic()}
    for path, body in (
        (
            "/v1/customer",
            {"customer_id": "john@example.com", "attributes": {"first_name": "John", "mobile": "+15551234"}},
        ),
        ("/v1/customer", {"customer_id": "12345"}),
        ("/v1/customer/merge", {"merge_data": [{"merged_user": "john@example.com", "retained_user": "12345"}]}),
        (
            "/v1/device",
            {"customer_id": "12345", "device_id": "d-1", "attributes": {"platform": "iOS", "push_id": "p"}},
        ),
    ):
        response = api.client.post(path, params={"app_id": api.creds.app_id}, json=body, headers=moe)
        assert response.status_code == 200, response.text
    for body in ({"userId": "johndoe"}, {"userId": "eraseme"}):
        assert api.post("/users", body).status_code == 201
    api.drain()
    # The GDPR and business-event examples: a pending erasure to look up and cancel, a definition to save to.
    gdpr = {
        "subject_request_id": "gdpr-1",
        "subject_request_type": "erasure",
        "subject_identities": [{"identity_type": "cuid", "identity_value": "eraseme"}],
    }
    assert api.post("/opengdpr_requests", gdpr).status_code == 201
    definition = {"eventName": "Order Placed", "attributes": [{"attributeName": "amount", "dataType": "number"}]}
    headers = {"Content-Type": "application/json", **api.auth()}
    url = f"/v2/accounts/{api.lc}/business"
    assert api.client.post(f"{url}/events/definition", json=definition, headers=headers).status_code == 201
    event = {"eventName": "Order Placed", "eventData": {"amount": 3}}
    assert api.client.post(f"{url}/save-event", json=event, headers=headers).status_code == 201
    # A running email campaign, a reachable user and the transaction the status example reads.
    assert api.post("/users", {"userId": "johndoe21#", "email": "john@example.com"}).status_code == 201
    api.drain()

    async def campaign() -> str:
        account = api.creds.account_id
        await api.store.set_channel(account, "email", email_config("smtp://127.0.0.1:9", "shop@acme.test"), None)
        created = await api.store.create_campaign(account, "Receipt", "email", "Hi", "Order {{ token.orderId }}", False)
        return (await api.store.set_campaign_status(account, created.code, "running")).code

    CAMPAIGNS[id(api)] = code = api.call(campaign)
    txn = {"userId": "johndoe21#", "txnId": "order-1"}
    response = api.client.post(f"/v2/accounts/{api.lc}/experiments/{code}/transaction", json=txn, headers=headers)
    assert response.status_code == 200, response.text


@pytest.fixture(scope="module", params=backends.BACKENDS)
def fuzzed(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    """One app and store per backend for all operations (a fresh one per operation would cost more than it finds)."""
    backends.require(request.param)
    with (
        backends.fresh_database(request.param, tmp_path_factory.mktemp("fuzz")) as url,
        Harness(url, limits=UNLIMITED) as api,
    ):
        seed(api)
        yield api


def document() -> dict[str, Any]:
    """The document the app serves (tests/api/test_openapi.py checks the served one is this one)."""
    return openapi.document(create_app(Settings.from_env({}, database_url="sqlite:///never-opened.db")).routes)


schema = schemathesis.openapi.from_dict(
    document(),
    config=SchemathesisConfig.from_dict(
        {
            "generation": {
                "max-examples": EXAMPLES,
                "deterministic": True,
                "database": "none",
                # Auth is added when sending, valid: generated credentials would only ever meet the 401 path.
                "with-security-parameters": False,
            },
        }
    ),
)


def for_account(api: Harness, case: Any) -> None:
    """The account's license code and app id in every request: a random one only ever meets the 404 path."""
    creds = api.creds
    if "license_code" in (case.path_parameters or {}):
        case.path_parameters["license_code"] = creds.license_code
    if "app_id" in (case.path_parameters or {}):
        case.path_parameters["app_id"] = creds.app_id
    if case.query is not None and "app_id" in case.query:
        case.query["app_id"] = creds.app_id
    if case.headers is not None and "MOE-APPKEY" in case.headers:
        case.headers["MOE-APPKEY"] = creds.app_id
    code = CAMPAIGNS.get(id(api))
    if code is not None and "campaign_id" in (case.path_parameters or {}):
        case.path_parameters["campaign_id"] = code
    ids = (case.query or {}).get("campaignIds")
    if code is not None and isinstance(ids, list) and 1 <= len(ids) <= 10 and all(isinstance(i, str) for i in ids):
        case.query["campaignIds"] = [code]  # still valid: a negative case stays negative


def auth_headers(api: Harness, case: Any) -> dict[str, str]:
    security = case.operation.definition.raw.get("security") or []
    names = {name for requirement in security for name in requirement}
    if "bearerAuth" in names:
        return api.auth()
    if "basicAuth" in names:
        return api.basic()
    return {}


def send(api: Harness, case: Any) -> Any:
    for_account(api, case)
    kwargs = case.as_transport_kwargs(base_url="http://testserver")
    assert not kwargs.get("cookies"), "the API documents no cookie"
    headers = {**auth_headers(api, case), **(kwargs.get("headers") or {})}
    content: bytes | None = None
    if "json" in kwargs:
        content = json.dumps(kwargs["json"]).encode()
    elif "data" in kwargs:
        data = kwargs["data"]
        content = data.encode() if isinstance(data, str) else data
    return api.client.request(
        kwargs["method"],
        kwargs["url"],
        params=kwargs.get("params"),
        headers=headers,
        content=content,
    )


# Statuses answered per (backend, operation): the runs must reach the app, not only its 401s and 404s.
ANSWERED: dict[tuple[str, str], Counter[int]] = defaultdict(Counter)
DRAINED: set[str] = set()


def backend_of(api: Harness) -> str:
    return api.settings.database_url.split(":", 1)[0]


@pytest.mark.timeout(300)
@schema.parametrize()
def test_every_operation(case: Any, fuzzed: Harness) -> None:
    backend = backend_of(fuzzed)
    if case.method == "GET" and case.path.startswith("/v1/accounts/") and backend not in DRAINED:
        # The reads come after every ingest operation: apply what the fuzzing stored, so they read it (and
        # the processor meets every body the API accepted).
        DRAINED.add(backend)
        fuzzed.drain()
        assert fuzzed.call(fuzzed.store.stats, fuzzed.creds.account_id).pending == 0
    response = send(fuzzed, case)
    if case.method == case.operation.method.upper():  # not one of schemathesis' probes of other methods
        ANSWERED[(backend, case.operation.label)][response.status_code] += 1
    case.validate_response(response, checks=CHECKS)


def test_every_operation_was_answered_with_success(fuzzed: Harness) -> None:
    """Runs after the operations of its backend: each one fuzzed got past auth to a 2xx at least once."""
    answered = {label: statuses for (backend, label), statuses in ANSWERED.items() if backend == backend_of(fuzzed)}
    if not answered:
        pytest.skip("no operation was fuzzed in this run")
    for label, statuses in answered.items():
        assert any(200 <= status < 300 for status in statuses), (label, statuses)
