"""Operations in-process, on both stores: /metrics, 503 shapes for every route, /healthz, the auth cache's
bounds, and what the middleware does to connections.

The 503 answers here come from faults injected into the real store (a method that raises the store's
own StoreUnavailable); tests/test_outages.py produces the same faults for real (a cut proxy, a full disk).
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from openengage.errors import CommitUnknown, StoreUnavailable
from tests.support import seeds
from tests.support.harness import Harness

DESIGN_METRICS = {
    "openengage_http_requests": "counter",
    "openengage_http_request_duration_seconds": "histogram",
    "openengage_ingest_records": "counter",
    "openengage_ingest_commit_seconds": "histogram",
    "openengage_ingest_commit_batch_records": "histogram",
    "openengage_processor_pending_records": "gauge",
    "openengage_processor_lag_seconds": "gauge",
    "openengage_processed_records": "counter",
    "openengage_rejections": "counter",
    "openengage_store_errors": "counter",
}


def scrape(api: Harness) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    r = api.client.get("/metrics")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    samples: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(r.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def families(api: Harness) -> dict[str, str]:
    return {f.name: f.type for f in text_string_to_metric_families(api.client.get("/metrics").text)}


def value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def moengage_event(api: Harness, customer_id: str = "moe-1") -> Any:
    body = {"type": "event", "customer_id": customer_id, "actions": [{"action": "Viewed", "attributes": {}}]}
    return api.client.post(f"/v1/event/{api.creds.app_id}", json=body, headers=api.basic())


# ---------------------------------------------------------------- /metrics


def test_metrics_has_every_design_name_with_its_type(api: Harness) -> None:
    assert api.post("/events", seeds.EVENT).status_code == 201
    assert families(api).items() >= DESIGN_METRICS.items()


def test_metrics_count_requests_records_and_commits(api: Harness) -> None:
    before = scrape(api)
    for _ in range(3):
        assert api.post("/events", seeds.EVENT).status_code == 201
    bulk = {"events": [seeds.EVENT] * 5}
    assert api.post("/bulk-events", bulk).status_code == 201
    assert moengage_event(api).status_code == 200
    assert api.post("/events", {"userId": ""}).status_code == 400
    after = scrape(api)
    route = "/v1/accounts/{license_code}/events"
    assert (
        value(after, "openengage_http_requests_total", route=route, status="201")
        - value(before, "openengage_http_requests_total", route=route, status="201")
        == 3
    )
    assert (
        value(after, "openengage_http_requests_total", route=route, status="400")
        - value(before, "openengage_http_requests_total", route=route, status="400")
        == 1
    )
    assert (
        value(after, "openengage_http_request_duration_seconds_count", route=route)
        - value(before, "openengage_http_request_duration_seconds_count", route=route)
        == 4
    )
    webengage = value(after, "openengage_ingest_records_total", dialect="webengage") - value(
        before, "openengage_ingest_records_total", dialect="webengage"
    )
    moengage = value(after, "openengage_ingest_records_total", dialect="moengage") - value(
        before, "openengage_ingest_records_total", dialect="moengage"
    )
    assert (webengage, moengage) == (8, 1)
    commits = value(after, "openengage_ingest_commit_seconds_count") - value(
        before, "openengage_ingest_commit_seconds_count"
    )
    batched = value(after, "openengage_ingest_commit_batch_records_sum") - value(
        before, "openengage_ingest_commit_batch_records_sum"
    )
    assert commits == 5 and batched == 9


def test_metrics_backlog_gauges_follow_the_store(api: Harness) -> None:
    for _ in range(4):
        assert api.post("/events", seeds.EVENT).status_code == 201
    samples = scrape(api)
    assert value(samples, "openengage_processor_pending_records") == 4
    assert value(samples, "openengage_processor_lag_seconds") >= 0
    api.drain()
    samples = scrape(api)
    assert value(samples, "openengage_processor_pending_records") == 0
    assert value(samples, "openengage_processor_lag_seconds") == 0


def test_route_labels_never_carry_ids(api: Harness) -> None:
    user_id = "secret-user-7"
    assert api.post("/users", {"userId": user_id}).status_code == 201
    api.drain()
    assert api.get(f"/users/{user_id}").status_code == 200
    assert api.get("/users/nobody-like-this").status_code == 404
    assert moengage_event(api).status_code == 200
    api.client.post("/v1/accounts/~unknown1/events", json=seeds.EVENT, headers=api.auth())
    api.client.get("/no/such/route/at-all")
    text = api.client.get("/metrics").text
    for secret in (api.lc, api.creds.app_id, user_id, "nobody-like-this", "~unknown1", "at-all"):
        assert secret not in text
    routes = {
        s.labels["route"]
        for f in text_string_to_metric_families(text)
        if f.name == "openengage_http_requests"
        for s in f.samples
    }
    assert {"/v1/accounts/{license_code}/users/{rest:anypath}", "/v1/event/{app_id}", "unmatched"} <= routes


# ---------------------------------------------------------------- 503 while the store is unavailable


@pytest.fixture
def broken(api: Harness, monkeypatch: pytest.MonkeyPatch) -> Iterator[Harness]:
    """The store cannot commit, cannot be read, and says so in its health check."""

    async def fail(*args: Any, **kwargs: Any) -> Any:
        raise StoreUnavailable("database unreachable (injected)")

    for name in ("append", "health", "stats", "profile", "gdpr_register", "gdpr_request"):
        monkeypatch.setattr(api.store, name, fail)
    yield api


def test_ingest_answers_503_with_retry_after_in_each_dialect(broken: Harness) -> None:
    api = broken
    r = api.post("/events", seeds.EVENT)
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    assert r.json() == {
        "response": {
            "status": "error",
            "message": "Error: the store is unavailable; nothing was queued. Retry after 5 seconds.",
        }
    }
    r = api.post("/users", seeds.USER, params={"format": "xml"})
    assert r.status_code == 503 and r.headers["content-type"].startswith("application/xml")
    assert b"nothing was queued" in r.content
    r = moengage_event(api)
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    body = r.json()
    assert body["status"] == "fail" and set(body["error"]) == {"type", "message", "request_id"}
    assert body["error"]["type"] == "Service Unavailable"
    assert body["error"]["message"] == "The store is unavailable; nothing was stored. Retry after 5 seconds."


def test_the_gdpr_api_answers_503_in_its_own_flat_shape(broken: Harness) -> None:
    api = broken
    body = {
        "subject_request_id": "r-1",
        "subject_request_type": "erasure",
        "subject_identities": [{"identity_type": "cuid", "identity_value": "john"}],
    }
    r = api.client.post(f"/v1/accounts/{api.lc}/opengdpr_requests", json=body, headers=api.auth())
    assert r.status_code == 503 and r.headers["Retry-After"] == "5", r.text
    assert r.json() == {
        "status": "error",
        "message": "Error: the store is unavailable; nothing was registered. Retry after 5 seconds.",
    }
    r = api.client.get(f"/v1/accounts/{api.lc}/opengdpr_requests/r-1", headers=api.auth())
    assert r.status_code == 503 and r.json() == {
        "status": "error",
        "message": "Error: the store is unavailable; retry after 5 seconds.",
    }


def test_the_gdpr_apis_unknown_paths_and_methods_answer_flat(api: Harness) -> None:
    r = api.client.put(f"/v1/accounts/{api.lc}/opengdpr_requests", json={}, headers=api.auth())
    assert r.status_code == 405 and "POST" in r.headers["Allow"]
    assert r.json() == {"status": "error", "message": "Error: method not allowed."}
    r = api.client.get(f"/v1/accounts/{api.lc}/opengdpr_requests", headers=api.auth())
    assert r.status_code == 405 and r.json()["status"] == "error"


def test_reads_and_moengage_export_answer_503_not_500(broken: Harness) -> None:
    api = broken
    for path in ("/stats", "/users/john"):
        r = api.get(path)
        assert r.status_code == 503 and r.headers["Retry-After"] == "5", r.text
        assert r.json()["response"]["message"] == "Error: the store is unavailable; retry after 5 seconds."
    body = {"data": {"identifiers": [{"identifier_type": "customer_id", "identifier": "john"}]}}
    r = api.client.post(f"/v1/customers/export?app_id={api.creds.app_id}", json=body, headers=api.basic())
    assert r.status_code == 503 and r.json()["error"]["type"] == "Service Unavailable"


def test_healthz_answers_503_while_the_store_is_unavailable(broken: Harness) -> None:
    r = broken.client.get("/healthz")
    assert r.status_code == 503 and r.json() == {"status": "unavailable"} and r.headers["Retry-After"] == "5"


def test_store_errors_are_counted(api: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    before = value(scrape(api), "openengage_store_errors_total")
    if api.settings.database_url.startswith("sqlite"):
        monkeypatch.setattr(api.store, "min_free_bytes", 1 << 60)  # the free-space floor: more than any disk
    else:
        api.call(api.store._pool.close)  # type: ignore[attr-defined]  # every connection gone
    r = api.post("/events", seeds.EVENT)
    assert r.status_code == 503, r.text
    assert value(scrape(api), "openengage_store_errors_total") >= before + 1


@pytest.mark.parametrize(
    ("request_id", "advice"), [("r-1", "same x-request-id is safe"), (None, "send an x-request-id")]
)
def test_an_unknown_commit_outcome_is_never_called_nothing_queued(
    api: Harness, monkeypatch: pytest.MonkeyPatch, request_id: str | None, advice: str
) -> None:
    async def lost(*args: Any) -> Any:
        raise CommitUnknown("connection lost during COMMIT (injected)")

    monkeypatch.setattr(api.store, "append", lost)
    r = api.post("/events", seeds.EVENT, headers={"x-request-id": request_id} if request_id else {})
    assert r.status_code == 503 and r.headers["Retry-After"] == "5"
    message = r.json()["response"]["message"]
    assert "nothing was queued" not in message and "may or may not be queued" in message and advice in message
    r = moengage_event(api)
    assert r.status_code == 503
    assert "may or may not have been stored" in r.json()["error"]["message"]


def test_sqlite_free_space_floor_refuses_ingest_and_fails_health(sqlite_url: str) -> None:
    with Harness(sqlite_url, min_free_mb=1 << 40) as api:  # a floor no disk clears
        r = api.post("/events", seeds.EVENT)
        assert r.status_code == 503 and "nothing was queued" in r.text
        assert api.client.get("/healthz").status_code == 503
        assert api.get("/stats").status_code == 200  # reads still work


# ---------------------------------------------------------------- the auth cache


@pytest.mark.parametrize("length", [65, 1_000, 30_000])
def test_absurd_license_codes_and_app_ids_are_not_looked_up_or_cached(api: Harness, length: int) -> None:
    auth = api.app.state.services.auth
    calls: list[str] = []
    real = api.store.account_by_license

    async def counting(code: str) -> Any:
        calls.append(code)
        return await real(code)

    api.store.account_by_license = counting  # type: ignore[method-assign]
    code = "~" + "a" * (length - 1)
    r = api.post("/events", seeds.EVENT, lc=code)
    assert r.status_code == 404
    raw = base64.b64encode(f"{'B' * length}:x".encode()).decode()
    r = api.client.post(f"/v1/event/{'B' * length}", json={}, headers={"Authorization": f"Basic {raw}"})
    assert r.status_code == 401
    assert calls == [] and code not in auth._license and "B" * length not in auth._app
    assert api.post("/events", seeds.EVENT).status_code == 201  # a real one still resolves


# ---------------------------------------------------------------- connections


def test_a_response_before_a_large_body_is_read_closes_the_connection(api: Harness) -> None:
    big = b"x" * (api.settings.max_body_bytes + 1)
    r = api.post("/events", content=big)
    assert r.status_code == 413 and r.headers["connection"] == "close"
    r = api.post("/events", seeds.EVENT)
    assert r.status_code == 201 and "connection" not in r.headers


def test_processed_records_are_counted_once_committed(api: Harness) -> None:
    before = value(scrape(api), "openengage_processed_records_total")
    for _ in range(3):
        assert api.post("/events", seeds.EVENT).status_code == 201
    assert api.drain() == 3
    assert value(scrape(api), "openengage_processed_records_total") - before == 3
