"""The transaction API over the real app and store (both backends), delivered to a real SMTP server and a
real webhook receiver by the sender: shapes, every error code, dedupe, trackConfig, fallback modes,
retries, hostile profile values, system events and the transaction's status."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from openengage.errors import PermissionDenied
from openengage.rules.templates import InvalidTemplate
from tests.messaging.helpers import Messaging
from tests.support.harness import Harness
from tests.support.proxy import proxy_for
from tests.support.smtp import SmtpSink
from tests.support.webhook import Receiver


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    with SmtpSink() as s:
        yield s


@pytest.fixture
def m(api: Harness, sink: SmtpSink) -> Messaging:
    msg = Messaging(api, sink)
    msg.email_channel()
    msg.user("peter", firstName="Peter", email="peter@example.com")
    return msg


def data(r: Any) -> Any:
    assert r.status_code == 200, r.text
    return r.json()["response"]["data"]


def names(api: Harness, user: str = "peter") -> list[str]:
    return [e["eventName"] for e in api.events(user)["events"]]


def test_the_answer_has_webengage_shape(m: Messaging) -> None:
    code = m.campaign()
    r = m.trigger(code, {"userId": "peter", "ttl": 30, "txnId": "order-1"})
    assert r.json() == {"response": {"data": {"txnId": "order-1", "experimentId": code, "userId": "peter", "ttl": 30}}}
    assert r.headers["X-RateLimit-Limit"] == "100" and r.headers["X-RateLimit-Remaining"] == "99"
    generated = data(m.trigger(code, {"userId": "peter"}))
    assert uuid.UUID(generated["txnId"]).version == 7 and generated["ttl"] == 120


def test_xml_format(m: Messaging) -> None:
    code = m.campaign()
    r = m.api.client.post(
        f"/v2/accounts/{m.api.lc}/experiments/{code}/transaction?format=xml",
        json={"userId": "peter", "txnId": "x1"},
        headers=m.api.auth(),
    )
    assert r.status_code == 200 and "<txnId>x1</txnId>" in r.text


def test_delivery_personalises_and_records_events(m: Messaging, sink: SmtpSink, api: Harness) -> None:
    code = m.campaign("Order {{ token.orderId }} for {{ user.firstName }}", 'Plan: {{ user.attributes["Plan"] }}')
    m.user("peter", attributes={"Plan": "Gold"})
    txn = data(m.trigger(code, {"userId": "peter", "overrideData": {"context": {"token": {"orderId": "ABCD1234"}}}}))
    api.drain()
    assert names(api) == ["email_queued"]
    m.send()
    (msg,) = sink.wait(1)
    assert (msg["Subject"], msg.get_content().strip(), msg["To"]) == (
        "Order ABCD1234 for Peter",
        "Plan: Gold",
        "peter@example.com",
    )
    assert msg["Message-ID"] == f"<{txn['txnId']}@acme.test>"
    events = api.events("peter")["events"]
    assert [e["eventName"] for e in events] == ["email_sent", "email_queued"]
    assert events[0]["eventData"] == {"txnId": txn["txnId"], "experimentId": code, "attempts": 1}
    doc = data(m.status(txn["txnId"]))
    assert doc["status"] == "sent" and doc["userId"] == "peter"
    (message,) = doc["messages"]
    assert (message["experimentId"], message["status"], len(message["attempts"])) == (code, "sent", 1)
    assert message["attempts"][0]["outcome"] == "sent" and message["attempts"][0]["error"] is None


def test_override_email_and_html_body(m: Messaging, sink: SmtpSink) -> None:
    code = m.campaign("Hi", "<p>Hello {{ user.firstName }}</p>", html=True)
    m.user("peter", firstName="<b>Peter</b> & co")
    data(m.trigger(code, {"userId": "peter", "overrideData": {"email": "other@example.com"}}))
    m.send()
    (msg,) = sink.wait(1)
    assert msg["To"] == "other@example.com"
    assert msg.get_content_type() == "text/html"
    assert msg.get_content().strip() == "<p>Hello &lt;b&gt;Peter&lt;/b&gt; &amp; co</p>"


HOSTILE = [
    "{{ 7*7 }}",
    "{% for x in range(3) %}{{ x }}{% endfor %}",
    "{% for %}",
    "<script>x</script>",
    "{{ ''.__class__.__mro__ }}",
    "é" * 990,
]


def test_hostile_profile_values_are_sent_as_data(m: Messaging, sink: SmtpSink) -> None:
    code = m.campaign("{{ user.firstName }}", "{{ user.attributes.bio }}|{{ token.t }}")
    for i, value in enumerate(HOSTILE):
        m.user(f"h{i}", firstName=value, email=f"h{i}@example.com", attributes={"bio": value})
        data(m.trigger(code, {"userId": f"h{i}", "overrideData": {"context": {"token": {"t": value}}}}))
    m.send()
    received = {msg["To"]: msg for msg in sink.wait(len(HOSTILE))}
    for i, value in enumerate(HOSTILE):
        msg = received[f"h{i}@example.com"]
        assert msg["Subject"] == value
        assert msg.get_content().rstrip("\r\n") == f"{value}|{value}"


def test_dedupe_within_the_window_sends_once_and_answers_as_the_first(m: Messaging, sink: SmtpSink) -> None:
    code = m.campaign()
    m.user("paul", email="paul@example.com")
    first = m.trigger(code, {"userId": "peter", "txnId": "order-7", "dedupe": {"ttl": 60}, "ttl": 30})
    again = m.trigger(code, {"userId": "paul", "txnId": "order-7", "dedupe": {"ttl": 60}, "ttl": 99})
    assert first.status_code == again.status_code == 200
    assert again.json() == first.json()
    assert again.headers["X-RateLimit-Remaining"] == "99"  # a duplicate costs nothing
    m.send()
    assert len(sink.wait(1)) == 1
    time.sleep(0.3)
    m.send()
    assert len(sink.messages) == 1


def test_without_dedupe_a_repeated_txn_id_sends_again(m: Messaging, sink: SmtpSink) -> None:
    code = m.campaign()
    for _ in range(2):
        data(m.trigger(code, {"userId": "peter", "txnId": "again"}))
    m.send()
    assert len(sink.wait(2)) == 2


def test_a_dedupe_window_ends(m: Messaging, sink: SmtpSink, api: Harness) -> None:
    code = m.campaign()
    body = {"userId": "peter", "txnId": "short", "dedupe": {"ttl": 5}}
    data(m.trigger(code, body))

    # The shortest window is 5 s: wait it out rather than touch the store.
    deadline = time.monotonic() + 7
    while time.monotonic() < deadline:
        time.sleep(0.5)
    data(m.trigger(code, body))
    m.send()
    assert len(sink.wait(2)) == 2


@pytest.mark.timeout(60)
def test_track_config_updates_the_user_and_emits_the_event(api: Harness, sink: SmtpSink) -> None:
    m = Messaging(api, sink)
    m.email_channel()
    code = m.campaign("Hi {{ user.firstName }}", "{{ user.attributes.Points }}")
    body = {
        "userId": "newbie",
        "txnId": "t-1",
        "trackConfig": {
            "eventName": "track_txn",
            "updateUser": {"firstName": "John", "email": "john@example.com", "attributes": {"Points": 100}},
        },
    }
    data(m.trigger(code, body))
    m.send()
    (msg,) = sink.wait(1)
    assert (msg["To"], msg["Subject"], msg.get_content().strip()) == ("john@example.com", "Hi John", "100")
    profile = api.profile("newbie")
    assert profile["firstName"] == "John" and profile["attributes"] == {"Points": 100}
    assert names(api, "newbie") == ["email_sent", "email_queued", "track_txn"]


def test_webhook_delivery_is_signed(api: Harness) -> None:
    secret = "whsec_test"
    with Receiver(secret) as receiver:
        m = Messaging(api)
        m.webhook_channel(receiver.url, secret)
        code = m.campaign("Order {{ token.id }}", "Body for {{ user.userId }}", channel="webhook")
        m.user("wh")
        txn = data(m.trigger(code, {"userId": "wh", "overrideData": {"context": {"token": {"id": 9}}}}))
        m.send()
        (body,) = receiver.wait(1)
        assert receiver.refused == 0
        assert (body["txnId"], body["experimentId"], body["userId"]) == (txn["txnId"], code, "wh")
        assert (body["subject"], body["body"], body["token"]) == ("Order 9", "Body for wh", {"id": 9})
        assert names(api, "wh") == ["webhook_sent", "webhook_queued"]


def test_a_webhook_signed_with_another_secret_is_refused_for_good(api: Harness) -> None:
    with Receiver("right") as receiver:
        m = Messaging(api)
        m.webhook_channel(receiver.url, "wrong")
        code = m.campaign(channel="webhook")
        m.user("wh")
        txn = data(m.trigger(code, {"userId": "wh"}))
        m.send()
        assert receiver.refused == 1 and receiver.bodies == []
        doc = data(m.status(txn["txnId"]))
        # 401 is a 4xx: the receiver refused this body for good
        assert doc["messages"][0]["status"] == "failed" and "401" in doc["messages"][0]["attempts"][0]["error"]
        assert names(api, "wh") == ["webhook_failed", "webhook_queued"]


def test_webhook_retries_until_the_receiver_is_back(api: Harness) -> None:
    receiver = Receiver("s")
    m = Messaging(api)
    m.webhook_channel(receiver.url, "s")
    code = m.campaign(channel="webhook")
    m.user("wh")
    txn = data(m.trigger(code, {"userId": "wh", "ttl": 60}))
    m.send()  # nobody listens: connection refused, a transient failure
    receiver.status = 503
    receiver.start()
    try:
        deadline = time.monotonic() + 20
        # Until the receiver has answered 503 once: on a slow machine the first send may already have
        # retried (refused again) before the receiver started, so attempts are not counted here.
        while 503 not in receiver.answered and time.monotonic() < deadline:
            time.sleep(0.1)
            m.send()  # the receiver answers 503: transient again
        receiver.status = 200
        while not receiver.bodies and time.monotonic() < deadline:
            time.sleep(0.1)
            m.send()
        (body,) = receiver.wait(1)
        assert body["txnId"] == txn["txnId"] and body["attempt"] >= 3
        doc = data(m.status(txn["txnId"]))
        outcomes = [(a["outcome"], a["error"]) for a in doc["messages"][0]["attempts"]]
        assert doc["status"] == "sent" and outcomes[-1] == ("sent", None)
        assert [o for o, _ in outcomes[:-1]] == ["failed"] * (len(outcomes) - 1)
        assert any("503" in (e or "") for _, e in outcomes) and "503" not in (outcomes[0][1] or "")
        assert names(api, "wh") == ["webhook_sent", "webhook_queued"]
    finally:
        receiver.stop()


def test_retries_until_the_smtp_server_is_back(m: Messaging, sink: SmtpSink) -> None:
    code = m.campaign()
    sink.stop()
    txn = data(m.trigger(code, {"userId": "peter", "ttl": 60}))
    m.send()
    doc = data(m.status(txn["txnId"]))
    assert doc["status"] == "queued"
    # One attempt, or more when that attempt took longer than the test sender's short retry pause (a
    # slow machine): the same drain then finds the message due again.
    attempts = doc["messages"][0]["attempts"]
    assert attempts and all(a["outcome"] == "failed" and "SMTP" in a["error"] for a in attempts)
    sink.start()
    deadline = time.monotonic() + 20
    while not sink.messages and time.monotonic() < deadline:
        time.sleep(0.1)  # past the (short) retry pause of the test's sender
        m.send()
    assert len(sink.wait(1)) == 1
    doc = data(m.status(txn["txnId"]))
    outcomes = [a["outcome"] for a in doc["messages"][0]["attempts"]]
    assert doc["status"] == "sent" and outcomes == ["failed"] * (len(outcomes) - 1) + ["sent"] and len(outcomes) >= 2
    assert names(m.api) == ["email_sent", "email_queued"]  # failed attempts that were retried are no email_failed


def test_a_permanent_smtp_refusal_fails_at_once(m: Messaging, sink: SmtpSink) -> None:
    code = m.campaign()
    sink.refuse = "550 no such mailbox"
    txn = data(m.trigger(code, {"userId": "peter"}))
    m.send()
    doc = data(m.status(txn["txnId"]))
    assert doc["status"] == "failed"
    assert "550" in doc["messages"][0]["attempts"][0]["error"]
    events = m.api.events("peter")["events"]
    assert events[0]["eventName"] == "email_failed" and events[0]["eventData"]["reason"] == "failed"


def test_a_message_expires_after_its_ttl(m: Messaging, sink: SmtpSink) -> None:
    code = m.campaign()
    sink.refuse = "451 try again later"
    txn = data(m.trigger(code, {"userId": "peter", "ttl": 1}))
    deadline = time.monotonic() + 15
    while data(m.status(txn["txnId"]))["status"] == "queued" and time.monotonic() < deadline:
        m.send()
        time.sleep(0.1)
    doc = data(m.status(txn["txnId"]))
    assert doc["status"] == "expired" and doc["messages"][0]["status"] == "expired"
    assert sink.messages == []
    assert names(m.api)[0] == "email_failed"


# ---------------------------------------------------------------- multi-campaign


def test_mode_all_sends_every_campaign(m: Messaging, sink: SmtpSink) -> None:
    a, b = m.campaign("A"), m.campaign("B")
    r = m.multi([a, b], "all", {"userId": "peter", "txnId": "multi-1"})
    assert data(r) == {
        "txnId": "multi-1",
        "userId": "peter",
        "ttl": 120,
        "mode": "all",
        "campaigns": [{"experimentId": a, "status": "queued"}, {"experimentId": b, "status": "queued"}],
    }
    m.send()
    msgs = sink.wait(2)
    assert sorted(x["Subject"] for x in msgs) == ["A", "B"]
    assert sorted(x["Message-ID"] for x in msgs) == ["<multi-1.1@acme.test>", "<multi-1@acme.test>"]


def test_fallback_on_attempt_failure_moves_on_after_one_failed_attempt(api: Harness, sink: SmtpSink) -> None:
    with Receiver() as receiver:
        m = Messaging(api, sink)
        m.email_channel()
        m.webhook_channel(receiver.url, None)
        m.user("peter", email="peter@example.com")
        email, hook = m.campaign("E"), m.campaign(channel="webhook")
        sink.refuse = "451 busy"
        r = m.multi([email, hook], "fallback_on_attempt_failure", {"userId": "peter", "txnId": "fb"})
        assert [c["status"] for c in data(r)["campaigns"]] == ["queued", "standby"]
        m.send()
        m.send()
        assert len(receiver.wait(1)) == 1 and sink.messages == []
        doc = data(m.status("fb"))
        assert [x["status"] for x in doc["messages"]] == ["failed", "sent"] and doc["status"] == "sent"


def test_fallback_on_delivery_failure_retries_first_and_skips_the_rest_once_sent(m: Messaging, sink: SmtpSink) -> None:
    first, second = m.campaign("first"), m.campaign("second")
    sink.refuse = "451 busy"
    data(m.multi([first, second], "fallback_on_delivery_failure", {"userId": "peter", "txnId": "fd", "ttl": 60}))
    m.send()
    assert [x["status"] for x in data(m.status("fd"))["messages"]] == ["queued", "standby"]  # retried, no fallback
    sink.refuse = None
    deadline = time.monotonic() + 20
    while not sink.messages and time.monotonic() < deadline:
        time.sleep(0.1)
        m.send()
    (msg,) = sink.wait(1)
    assert msg["Subject"] == "first"
    doc = data(m.status("fd"))
    assert [x["status"] for x in doc["messages"]] == ["sent", "skipped"]


def test_fallback_on_delivery_failure_falls_back_after_a_permanent_failure(api: Harness, sink: SmtpSink) -> None:
    with Receiver() as receiver:
        receiver.status = 400  # the receiver refuses the body: a permanent failure
        m = Messaging(api, sink)
        m.email_channel()
        m.webhook_channel(receiver.url, None)
        m.user("peter", email="peter@example.com")
        hook, email = m.campaign(channel="webhook"), m.campaign("second")
        data(m.multi([hook, email], "fallback_on_delivery_failure", {"userId": "peter", "txnId": "fd2"}))
        m.send()
        (msg,) = sink.wait(1)
        assert msg["Subject"] == "second" and msg["Message-ID"] == "<fd2.1@acme.test>"
        assert [x["status"] for x in data(m.status("fd2"))["messages"]] == ["failed", "sent"]


def test_unreachable_campaigns_are_skipped_and_none_reachable_is_412(api: Harness, sink: SmtpSink) -> None:
    m = Messaging(api, sink)
    m.email_channel()
    m.user("nomail")
    email, hook = m.campaign(), m.campaign(channel="webhook")
    r = m.multi([email, hook], "all", {"userId": "nomail"})
    assert r.status_code == 412
    m.user("mailer", email="m@example.com")
    r = m.multi([hook, email], "fallback_on_attempt_failure", {"userId": "mailer"})
    campaigns = data(r)["campaigns"]
    assert campaigns[0]["status"] == "skipped" and "no webhook channel" in campaigns[0]["reason"]
    assert campaigns[1]["status"] == "queued"


# ---------------------------------------------------------------- errors


def test_errors(m: Messaging, api: Harness) -> None:
    code = m.campaign()
    draft = m.campaign(start=False)
    m.user("optout", email="o@example.com", emailOptIn=False)
    m.user("noaddress")

    def error(r: Any, status: int, text: str) -> None:
        assert r.status_code == status, r.text
        body = r.json()["response"]
        assert body["status"] == "error" and text in body["message"], body

    error(m.trigger(code, {"ttl": 5}), 400, "userId cannot be empty")
    error(m.trigger(code, {"userId": "peter", "dedupe": {"ttl": 2}}), 400, "dedupe.ttl must be from 5 to 1800")
    error(m.trigger(code, content=b"{not json"), 400, "not valid JSON")
    error(m.trigger(code, {"userId": "peter"}, headers={"Content-Type": "text/plain"}), 415, "Content-Type")
    error(m.trigger(code, {"userId": "peter"}, key="nope"), 401, "Unauthorized")
    error(m.trigger("~nope", {"userId": "peter"}), 404, "no campaign '~nope'")
    error(m.trigger(draft, {"userId": "peter"}), 404, "is not running (it is draft)")
    error(m.trigger(code, {"userId": "ghost"}), 404, "no user 'ghost'")
    error(m.trigger(code, {"userId": "optout"}), 412, "opted out")
    error(m.trigger(code, {"userId": "noaddress"}), 412, "no email address")
    big = b'{"userId": "peter", "overrideData": {"context": {"token": {"x": "' + b"x" * 1_100_000 + b'"}}}}'
    error(m.trigger(code, content=big), 413, "exceeds")
    r = api.client.post(
        f"/v2/accounts/~00000000/experiments/{code}/transaction", json={"userId": "p"}, headers=api.auth()
    )
    error(r, 404, "no account")
    error(m.multi([code], "sometimes", {"userId": "peter"}), 400, "mode must be one of")
    error(m.multi([], "all", {"userId": "peter"}), 400, "campaignIds cannot be empty")
    error(m.status("never-sent"), 404, "no transaction 'never-sent'")
    webhook = m.campaign(channel="webhook")
    error(m.trigger(webhook, {"userId": "peter"}), 412, "no webhook channel")
    api.drain()
    assert names(api) == []  # nothing was queued by any of these


@pytest.mark.timeout(60)
def test_a_store_that_cannot_commit_answers_503_and_queues_nothing(
    backend: str, database_url: str, sink: SmtpSink
) -> None:
    """SQLite: the disk is below the free-space floor (the outbox commit refuses); PostgreSQL: the database
    is cut off (a TCP proxy resets every connection). Either way 503 with Retry-After, nothing queued,
    and the next request after the store is back is accepted."""
    body = {"userId": "newbie", "txnId": "t-503", "trackConfig": {"updateUser": {"email": "n@example.com"}}}
    with contextlib.ExitStack() as stack:
        if backend == "sqlite":
            floor = os.statvfs(database_url.removeprefix("sqlite:///").rsplit("/", 1)[0])
            free_mb = floor.f_bavail * floor.f_frsize >> 20
            api = stack.enter_context(Harness(database_url, min_free_mb=free_mb + 1024))
        else:
            proxy = stack.enter_context(proxy_for(database_url))
            api = stack.enter_context(
                Harness(proxy.url(database_url), store_wait=1.0, store_timeout=3.0, retry_after=2)
            )
        m = Messaging(api, sink)
        m.email_channel()
        code = m.campaign()
        if backend == "postgres":
            proxy.cut()
        r = m.trigger(code, body)
        assert r.status_code == 503 and r.headers["Retry-After"] in ("2", "5"), r.text
        assert "nothing was queued" in r.json()["response"]["message"]
        if backend == "postgres":
            proxy.restore()
            deadline = time.monotonic() + 20
            while m.status("t-503").status_code == 503 and time.monotonic() < deadline:
                time.sleep(0.2)
        refused = m.status("t-503")
        assert refused.status_code == 404, refused.text  # nothing was queued
        if backend == "postgres":  # back: the same request is accepted and sent
            assert m.trigger(code, body).status_code == 200
            m.send()
            api.call(m.sender.close)  # its pooled SMTP connection, before the loop goes
            assert sink.wait(1)[0]["To"] == "n@example.com"


def test_paused_campaigns_refuse_new_transactions(m: Messaging, api: Harness) -> None:
    code = m.campaign()
    data(m.trigger(code, {"userId": "peter"}))

    async def pause() -> None:
        await api.store.set_campaign_status(api.creds.account_id, code, "paused")

    api.call(pause)
    api.refresh_auth()  # nodes see a change within a second (the config version); this one at once
    r = m.trigger(code, {"userId": "peter"})
    assert r.status_code == 404 and "paused" in r.text


def test_the_rate_limit_is_100_per_minute_by_default_and_counts_only_accepted(
    database_url: str, sink: SmtpSink, steady_rate_window: None
) -> None:
    with Harness(database_url, limits={"transactions": 3}) as api:
        m = Messaging(api, sink)
        m.email_channel()
        m.user("peter", email="p@example.com")
        code = m.campaign()
        assert m.trigger(code, {"userId": "ghost"}).status_code == 404  # refused: costs nothing
        remaining = [m.trigger(code, {"userId": "peter"}).headers["X-RateLimit-Remaining"] for _ in range(3)]
        assert remaining == ["2", "1", "0"]
        r = m.trigger(code, {"userId": "peter"})
        assert r.status_code == 429 and "3 transactions per minute" in r.json()["response"]["message"]
        assert r.headers["X-RateLimit-Limit"] == "3" and int(r.headers["Retry-After"]) >= 1


def test_clients_cannot_send_delivery_events(m: Messaging, api: Harness) -> None:
    for name in ("email_sent", "email_failed", "webhook_sent"):
        r = api.post("/events", {"userId": "peter", "eventName": name})
        assert r.status_code == 400 and "system event" in r.text


# ---------------------------------------------------------------- administration


def test_channel_and_campaign_changes_are_audited_without_secrets(api: Harness) -> None:
    m = Messaging(api)
    m.email_channel("smtp://mailer:s3cret%21@127.0.0.1:2525", "shop@acme.test")
    m.webhook_channel("http://127.0.0.1:9/hook", "whsec_do_not_show")
    code = m.campaign()
    entries = api.call(lambda: api.store.audit(api.creds.account_id, 50, None)).items
    text = "\n".join(f"{e.action} {e.target} {e.detail}" for e in entries)
    assert "channel.set email smtp: smtp://mailer:***@127.0.0.1:2525; from: shop@acme.test" in text
    assert "channel.set webhook url: http://127.0.0.1:9/hook" in text
    assert f"campaign.create {code}" in text and f"campaign.set_status {code} status: draft -> running" in text
    assert "s3cret" not in text and "whsec_do_not_show" not in text


def test_messaging_changes_need_update_integrations(api: Harness) -> None:
    from openengage.accounts import Actor

    async def run() -> None:
        store, acc = api.store, api.creds.account_id
        await store.add_member(acc, "viewer@acme.test", "custom", frozenset({"view_dashboard"}))
        actor = Actor.for_member("viewer@acme.test")
        with pytest.raises(PermissionDenied, match="Update Integrations"):
            await store.create_campaign(acc, "x", "email", "s", "b", False, actor=actor)
        with pytest.raises(PermissionDenied):
            await store.set_channel(acc, "webhook", {"url": "http://x"}, None, actor=actor)
        assert await store.campaigns(acc) == []

    api.call(run)


def test_a_template_error_saves_nothing(api: Harness) -> None:
    async def run() -> None:
        with pytest.raises(InvalidTemplate) as caught:
            await api.store.create_campaign(api.creds.account_id, "x", "email", "ok", "a\n{{ x | nope }}", False)
        assert caught.value.line == 2 and "nope" in caught.value.reason
        assert await api.store.campaigns(api.creds.account_id) == []

    api.call(run)
