"""What a 503 tells the client to do when nobody knows whether its commit landed: per route."""

from __future__ import annotations

from openengage.api import gdpr
from openengage.api.unavailable import gdpr_message, webengage_message
from openengage.errors import CommitUnknown, StoreUnavailable


def test_an_unknown_transaction_commit_points_at_the_txn_id_and_dedupe() -> None:
    message = webengage_message(CommitUnknown("cut"), "POST", None, 5, "/v2/accounts/~a1/transaction")
    assert "may or may not be queued" in message and "same txnId and a dedupe.ttl" in message
    assert "x-request-id" not in message  # the transaction API does not dedupe by it
    single = webengage_message(CommitUnknown("cut"), "POST", "r-1", 5, "/v2/accounts/~a1/experiments/~c/transaction")
    assert "same txnId" in single


def test_ingest_keeps_its_x_request_id_advice() -> None:
    message = webengage_message(CommitUnknown("cut"), "POST", None, 5, "/v1/accounts/~a1/events")
    assert "send an x-request-id header" in message
    assert "nothing was queued" in webengage_message(StoreUnavailable("down"), "POST", None, 5, "/x/transaction")


def test_an_unknown_gdpr_commit_says_how_to_find_out() -> None:
    message = gdpr_message(CommitUnknown("cut"), "POST", 5)
    assert "may or may not be registered" in message and "status (GET)" in message
    assert "x-request-id" not in message
    assert "may or may not be cancelled" in gdpr_message(CommitUnknown("cut"), "DELETE", 5)
    assert "nothing was cancelled" in gdpr_message(StoreUnavailable("down"), "DELETE", 5)
    assert gdpr_message(CommitUnknown("cut"), "GET", 5) == "Error: the store is unavailable; retry after 5 seconds."


def test_gdpr_paths_are_told_apart() -> None:
    assert gdpr.owns("/v1/accounts/~a1/opengdpr_requests")
    assert gdpr.owns("/v1/accounts/~a1/opengdpr_requests/r%2F1")
    assert not gdpr.owns("/v1/accounts/~a1/users/opengdpr_requests")
    assert not gdpr.owns("/v1/accounts/~a1/events")
