"""GDPR requests and messaging (both stores), through the app, a real SMTP server and the sender: a restricted
user cannot be messaged (412, and queued messages are withheld) until re-enabled; an erasure removes the
person's outbox rows and waits for a message in flight; portability lists the transactions; the outbox
is pruned after its retention, never inside a dedupe window."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from openengage.messaging import retention
from openengage.processor import eraser
from openengage.rules import gdpr
from openengage.rules.dates import now_ms
from openengage.store.base import Finish
from openengage.store.sqlite.store import ingest_path
from tests.messaging.helpers import Messaging
from tests.support.harness import Harness
from tests.support.smtp import SmtpSink
from tests.support.sql import rows, tables_holding

DUE = gdpr.GRACE_MS + 1000  # an erasure registered with a pending period of 0 days runs this much later
RESTRICTED = "processing restricted (GDPR restriction request)"


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


@pytest.fixture
def due_at_once(database_url: str) -> Iterator[Harness]:
    with Harness(database_url, gdpr_pending_days=0) as harness:
        yield harness


def ready(api: Harness, sink: SmtpSink) -> Messaging:
    m = Messaging(api, sink)
    m.email_channel()
    m.user("peter", firstName="Peter", email="peter@example.com")
    return m


def gdpr_request(api: Harness, request_id: str, kind: str, user_id: str = "peter") -> Any:
    body = {
        "subject_request_id": request_id,
        "subject_request_type": kind,
        "subject_identities": [{"identity_type": "cuid", "identity_value": user_id}],
    }
    r = api.post("/opengdpr_requests", body)
    assert r.status_code == 201, r.text
    return r.json()


def data(r: Any) -> Any:
    assert r.status_code == 200, r.text
    return r.json()["response"]["data"]


def refused(r: Any, status: int, text: str) -> None:
    assert r.status_code == status, r.text
    assert text in r.json()["response"]["message"], r.text


def outbox_rows(database_url: str) -> list[int]:
    """Rows in the three outbox tables (transactions, messages, attempts)."""
    if database_url.startswith("sqlite:///"):  # the outbox is in the ingest log's file
        database_url = "sqlite:///" + ingest_path(database_url.removeprefix("sqlite:///"))
    return [
        int(rows(database_url, f"SELECT count(*) FROM {table}")[0][0])
        for table in ("transactions", "messages", "message_attempts")
    ]


# ---------------------------------------------------------------- restriction


def test_a_restricted_user_cannot_be_messaged_until_re_enabled(api: Harness, sink: SmtpSink) -> None:
    m = ready(api, sink)
    code = m.campaign()
    gdpr_request(api, "r-1", "restriction")
    refused(m.trigger(code, {"userId": "peter", "txnId": "blocked"}), 412, f"cannot be reached ({RESTRICTED})")
    refused(m.multi([code], "all", {"userId": "peter", "txnId": "blocked"}), 412, RESTRICTED)
    refused(m.status("blocked"), 404, "no transaction")  # nothing was queued...
    assert m.send() == 0 and sink.messages == []
    assert [e["eventName"] for e in api.events("peter")["events"]] == []  # ... and no email_queued
    # A trackConfig that would create or update the user is refused with the rest.
    body = {"userId": "peter", "trackConfig": {"updateUser": {"email": "new@example.com"}}}
    refused(m.trigger(code, body), 412, RESTRICTED)

    gdpr_request(api, "r-2", "re-enable")
    txn = data(m.trigger(code, {"userId": "peter", "txnId": "after"}))
    m.send()
    (msg,) = sink.wait(1)
    assert msg["Message-ID"] == f"<{txn['txnId']}@acme.test>"
    assert data(m.status("after"))["status"] == "sent"


def test_messages_queued_before_a_restriction_are_withheld(api: Harness, sink: SmtpSink) -> None:
    m = ready(api, sink)
    first, second = m.campaign("first"), m.campaign("second")
    data(m.trigger(first, {"userId": "peter", "txnId": "queued-1"}))
    data(m.multi([first, second], "fallback_on_delivery_failure", {"userId": "peter", "txnId": "chain"}))
    api.drain()
    gdpr_request(api, "r-1", "restriction")
    m.send()
    assert sink.messages == []
    doc = data(m.status("queued-1"))
    assert doc["status"] == "failed"
    (message,) = doc["messages"]
    assert message["status"] == "skipped"
    ((attempt),) = message["attempts"]
    assert attempt["outcome"] == "failed" and attempt["error"] == f"not sent: {RESTRICTED}"
    chain = data(m.status("chain"))["messages"]
    assert [x["status"] for x in chain] == ["skipped", "skipped"]  # the fallback is withheld too
    assert chain[1]["reason"] == f"not sent: {RESTRICTED}" and chain[1]["attempts"] == []
    # No delivery event reached the timeline (the restricted user's new data is dropped anyway).
    assert [e["eventName"] for e in api.events("peter")["events"]] == ["email_queued", "email_queued"]

    # Re-enabled: withheld messages stay withheld (they are not replayed), new ones go out.
    gdpr_request(api, "r-2", "re-enable")
    m.send()
    assert sink.messages == []
    data(m.trigger(first, {"userId": "peter", "txnId": "queued-2"}))
    m.send()
    (msg,) = sink.wait(1)
    assert msg["Message-ID"] == "<queued-2@acme.test>"


# ---------------------------------------------------------------- erasure


def test_an_erasure_removes_the_persons_transactions(api: Harness, sink: SmtpSink, database_url: str) -> None:
    m = ready(api, sink)
    m.user("paul", email="paul@example.com")
    code = m.campaign()
    token = {"context": {"token": {"orderId": "SECRET-TOKEN-1"}}, "email": "peter.override@example.com"}
    data(m.trigger(code, {"userId": "peter", "txnId": "sent-1", "overrideData": token}))
    data(m.trigger(code, {"userId": "paul", "txnId": "paul-1"}))
    m.send()
    sink.wait(2)
    sink.refuse = "451 busy"  # one attempt failed, still queued: a message waiting for its retry
    data(m.trigger(code, {"userId": "peter", "txnId": "queued-1", "ttl": 600, "overrideData": token}))
    m.send()
    assert [data(m.status(t))["status"] for t in ("sent-1", "queued-1")] == ["sent", "queued"]
    assert tables_holding(database_url, "SECRET-TOKEN-1")

    gdpr_request(api, "e-1", "erasure")
    (done,) = api.call(eraser.once, api.store, now_ms() + 7 * gdpr.DAY_MS + DUE)
    assert done.transactions == 2
    for txn_id in ("sent-1", "queued-1"):
        refused(m.status(txn_id), 404, "no transaction")
    assert data(m.status("paul-1"))["userId"] == "paul"  # another user's transaction stays
    api.call(api.store.maintain, now_ms())  # the applied ingest log pruned
    for needle in ("SECRET-TOKEN-1", "peter.override@example.com", "peter@example.com"):
        assert tables_holding(database_url, needle) == {}, needle
    entries = api.call(api.store.audit, api.creds.account_id, 10, None).items
    assert entries[0].action == "gdpr.erase" and "2 messaging transactions" in entries[0].detail
    assert "peter" not in entries[0].detail

    # The retry that was due is gone with the rest: nothing goes out for the erased person.
    sink.refuse = None
    time.sleep(0.5)  # past the test sender's retry pause
    m.send()
    assert sorted(str(x["To"]) for x in sink.messages) == ["paul@example.com", "peter.override@example.com"]


def test_a_due_erasure_blocks_new_transactions_and_withholds_queued_ones(due_at_once: Harness, sink: SmtpSink) -> None:
    api = due_at_once
    m = ready(api, sink)
    code = m.campaign()
    data(m.trigger(code, {"userId": "peter", "txnId": "before"}))
    api.drain()
    gdpr_request(api, "e-1", "erasure")  # due at once: PROCESSING
    refused(m.trigger(code, {"userId": "peter"}), 412, "a GDPR erasure of the user is due")
    m.send()
    assert sink.messages == []
    message = data(m.status("before"))["messages"][0]
    assert message["status"] == "skipped"
    assert message["attempts"][0]["error"] == "not sent: a GDPR erasure of the user is due"
    (done,) = api.call(eraser.once, api.store, now_ms() + DUE)
    assert done.transactions == 1


def test_an_erasure_waits_for_a_message_being_sent(due_at_once: Harness, sink: SmtpSink, database_url: str) -> None:
    api = due_at_once
    m = ready(api, sink)
    code = m.campaign()
    data(m.trigger(code, {"userId": "peter", "txnId": "in-flight"}))
    api.drain()
    # A sender holds the message (its SMTP call under way) when the erasure falls due.
    (held,) = api.call(api.store.claim_messages, "test-sender", 10, 600_000)
    gdpr_request(api, "e-1", "erasure")
    assert api.call(eraser.once, api.store, now_ms() + DUE) == []
    assert gdpr_status(api, "e-1") == "PROCESSING"
    assert outbox_rows(database_url) == [1, 1, 0]  # nothing of it was removed: the erasure rolled back
    assert api.profile("peter")["email"] == "peter@example.com"

    # The send ends (recorded while the sender still holds the lease); then the erasure runs.
    finished = api.call(api.store.finish_messages, [(held, Finish("sent", "sent", None, now_ms()))])
    assert finished == [True]
    (done,) = api.call(eraser.once, api.store, now_ms() + DUE)
    assert done.transactions == 1 and outbox_rows(database_url) == [0, 0, 0]
    assert gdpr_status(api, "e-1") == "DONE"


def test_a_sender_that_lost_its_message_to_an_erasure_records_nothing(due_at_once: Harness, sink: SmtpSink) -> None:
    """A lease that ran out (a stalled sender) does not hold the erasure up; that sender's late outcome
    finds no message and is not recorded."""
    api = due_at_once
    m = ready(api, sink)
    code = m.campaign()
    data(m.trigger(code, {"userId": "peter", "txnId": "stalled"}))
    api.drain()
    (held,) = api.call(api.store.claim_messages, "stalled-sender", 10, 1000)
    gdpr_request(api, "e-1", "erasure")
    (done,) = api.call(eraser.once, api.store, now_ms() + DUE)  # the 1 s lease is over by then
    assert done.transactions == 1
    assert api.call(api.store.finish_messages, [(held, Finish("sent", "sent", None, now_ms()))]) == [False]
    refused(m.status("stalled"), 404, "no transaction")


def gdpr_status(api: Harness, request_id: str) -> str:
    r = api.client.get(f"/v1/accounts/{api.lc}/opengdpr_requests/{request_id}", headers=api.auth())
    assert r.status_code == 200, r.text
    status: str = r.json()["status"]
    return status


# ---------------------------------------------------------------- portability


def test_portability_lists_the_users_transactions(api: Harness, sink: SmtpSink) -> None:
    m = ready(api, sink)
    m.user("paul", email="paul@example.com")
    a, b = m.campaign("A"), m.campaign("B")
    data(m.trigger(a, {"userId": "peter", "txnId": "one"}))
    m.send()
    sink.refuse = "550 no such mailbox"
    data(m.multi([a, b], "fallback_on_attempt_failure", {"userId": "peter", "txnId": "two"}))
    m.send()
    data(m.trigger(a, {"userId": "paul", "txnId": "not-his"}))
    doc = gdpr_request(api, "p-1", "portability")
    assert list(doc)[-1] == "transactions"
    two, one = doc["transactions"]  # newest first; only this user's
    expected = data(m.status("one"))  # the status document, its messages as `campaigns`, no userId
    expected.pop("userId")
    expected["campaigns"] = expected.pop("messages")
    assert one == expected
    assert (one["txnId"], one["mode"], one["status"]) == ("one", "single", "sent")
    assert [c["attempts"][0]["outcome"] for c in one["campaigns"]] == ["sent"]
    assert (two["txnId"], two["mode"], two["status"]) == ("two", "fallback_on_attempt_failure", "failed")
    assert [(c["experimentId"], c["status"]) for c in two["campaigns"]] == [(a, "failed"), (b, "failed")]
    assert "550" in two["campaigns"][1]["attempts"][0]["error"]
    assert gdpr_request(api, "p-2", "portability", "paul")["transactions"][0]["txnId"] == "not-his"


# ---------------------------------------------------------------- retention


def test_finished_transactions_are_pruned_after_the_retention(api: Harness, sink: SmtpSink, database_url: str) -> None:
    m = ready(api, sink)
    code = m.campaign()
    for n in range(3):
        data(m.trigger(code, {"userId": "peter", "txnId": f"old-{n}", "ttl": 60}))
    m.send()
    sink.wait(3)
    assert outbox_rows(database_url) == [3, 3, 3]
    now = now_ms()
    # Kept for 30 days after the ttl ends...
    assert api.call(retention.once, api.store, 30, now + 29 * retention.DAY_MS) == 0
    assert data(m.status("old-0"))["status"] == "sent"
    # ... then deleted, in batches, with their messages and attempts.
    assert api.call(retention.once, api.store, 30, now + 31 * retention.DAY_MS, 2) == 3
    assert outbox_rows(database_url) == [0, 0, 0]
    refused(m.status("old-0"), 404, "no transaction")


def test_retention_never_cuts_a_dedupe_window_short(api: Harness, sink: SmtpSink, database_url: str) -> None:
    m = ready(api, sink)
    code = m.campaign()
    body = {"userId": "peter", "txnId": "dd", "ttl": 1, "dedupe": {"ttl": 600}}
    first = data(m.trigger(code, body))
    m.send()
    sink.wait(1)
    # The ttl is over at this cutoff, the dedupe window is not: the transaction is kept.
    assert api.call(api.store.prune_outbox, now_ms() + 60_000, 100) == 0
    assert data(m.trigger(code, body)) == first
    m.send()
    assert len(sink.messages) == 1
    assert api.call(api.store.prune_outbox, now_ms() + 700_000, 100) == 1
    assert outbox_rows(database_url) == [0, 0, 0]


def test_the_portability_and_restriction_answers_are_documented(api: Harness, sink: SmtpSink) -> None:
    """The 201 with transactions, and the 412 of a restricted user, are what GET /openapi.json says."""
    from openengage.api import openapi
    from tests.api.test_openapi import conforms

    document = openapi.document(api.app.routes)
    m = ready(api, sink)
    code = m.campaign()
    sink.refuse = "451 busy"
    data(m.multi([code, m.campaign()], "fallback_on_delivery_failure", {"userId": "peter", "txnId": "doc-1"}))
    m.send()  # one failed attempt, a standby message
    body = {
        "subject_request_id": "p-doc",
        "subject_request_type": "portability",
        "subject_identities": [{"identity_type": "cuid", "identity_value": "peter"}],
    }
    r = api.post("/opengdpr_requests", body)
    assert r.json()["transactions"][0]["campaigns"][0]["attempts"][0]["error"]
    conforms(document, "POST", "/v1/accounts/{license_code}/opengdpr_requests", r, 201)
    gdpr_request(api, "r-doc", "restriction")
    path = "/v2/accounts/{license_code}/experiments/{campaign_id}/transaction"
    conforms(document, "POST", path, m.trigger(code, {"userId": "peter"}), 412)
