from __future__ import annotations

from tests.messaging.helpers import Messaging
from tests.support.harness import Harness
from tests.support.smtp import SmtpSink


def test_a_transaction_is_sent_by_email(api: Harness) -> None:
    with SmtpSink() as sink:
        m = Messaging(api, sink)
        m.email_channel()
        code = m.campaign()
        m.user("peter", firstName="Peter", email="peter@example.com")
        r = m.trigger(code, {"userId": "peter", "overrideData": {"context": {"token": {"orderId": "A1"}}}})
        assert r.status_code == 200, r.text
        data = r.json()["response"]["data"]
        assert m.send() == 1
        (msg,) = sink.wait(1)
        assert msg["Subject"] == "Hi Peter"
        assert msg.get_content().strip() == "Order A1"
        assert msg["Message-ID"] == f"<{data['txnId']}@acme.test>"
        names = [e["eventName"] for e in api.events("peter")["events"]]
        assert names == ["email_sent", "email_queued"]
        status = m.status(data["txnId"]).json()["response"]["data"]
        assert status["status"] == "sent", status
