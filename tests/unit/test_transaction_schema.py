"""The transaction request body: every refusal names its field; txnIds are time-ordered UUIDv7s."""

from __future__ import annotations

import json
import os
import uuid

import pytest

from openengage.api.transaction_schema import DEFAULT_TTL, parse, parse_campaign_ids, parse_mode, uuid7
from openengage.api.webengage_schema import Invalid
from openengage.records import EventRecord, UserRecord


def body(**fields: object) -> bytes:
    return json.dumps({"userId": "peter", **fields}).encode()


def test_the_vendor_example_parses() -> None:
    raw = (
        b'{"ttl":1200,"dedupe":{"ttl":1800},"userId":"peter",'
        b'"overrideData":{"context":{"token":{"name":"Peter","orderId":"ABCD1234"}}}}'
    )
    req = parse(raw)
    assert (req.user_id, req.ttl, req.dedupe) == ("peter", 1200, 1800)
    assert req.token == {"name": "Peter", "orderId": "ABCD1234"}
    assert uuid.UUID(req.txn_id).version == 7


def test_defaults() -> None:
    req = parse(body())
    assert (req.ttl, req.dedupe, req.email, req.token, req.update_user, req.event) == (
        DEFAULT_TTL,
        0,
        None,
        {},
        None,
        None,
    )


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b"", "request body"),
        (b"[1]", "request body"),
        (b"{}", "userId"),
        (json.dumps({"userId": 5}).encode(), "userId"),
        (json.dumps({"userId": "x" * 101}).encode(), "userId"),
        (body(ttl="60"), "ttl"),
        (body(ttl=0), "ttl"),
        (body(ttl=True), "ttl"),
        (body(dedupe={"ttl": 4}), "dedupe.ttl"),
        (body(dedupe={"ttl": 1801}), "dedupe.ttl"),
        (body(dedupe={}), "dedupe.ttl"),
        (body(dedupe=5), "dedupe"),
        (body(txnId=7), "txnId"),
        (body(txnId="t" * 201), "txnId"),
        (body(txnId="a\u0000b"), "txnId"),
        (body(overrideData=[]), "overrideData"),
        (body(overrideData={"email": "not an address"}), "overrideData.email"),
        (body(overrideData={"email": 3}), "overrideData.email"),
        (body(overrideData={"context": {"token": "x"}}), "overrideData.context.token"),
        (body(trackConfig={"eventName": "email_sent"}), "trackConfig.eventName"),
        (body(trackConfig={"eventName": ""}), "trackConfig.eventName"),
        (body(trackConfig={"updateUser": {"userId": "someone-else"}}), "trackConfig.updateUser.userId"),
        (body(trackConfig={"updateUser": {"birthDate": "yesterday"}}), "trackConfig.updateUser: birthDate"),
        (body(trackConfig={"updateUser": 3}), "trackConfig.updateUser"),
    ],
)
def test_a_bad_field_is_named(raw: bytes, field: str) -> None:
    with pytest.raises(Invalid) as caught:
        parse(raw)
    assert caught.value.message.startswith("Error: " + field), caught.value.message


def test_track_config_becomes_records_of_the_same_user() -> None:
    req = parse(
        body(trackConfig={"eventName": "track_txn", "updateUser": {"firstName": "John", "attributes": {"Points": 100}}})
    )
    assert isinstance(req.update_user, UserRecord) and req.update_user.user_id == "peter"
    assert req.update_user.system["firstName"] == "John" and req.update_user.attributes == {"Points": 100}
    assert isinstance(req.event, EventRecord) and (req.event.name, req.event.user_id) == ("track_txn", "peter")
    assert not req.event.system


def test_uuid7_is_time_ordered_and_unique() -> None:
    ids = [uuid7(1_700_000_000_000 + i) for i in range(50)]
    assert ids == sorted(ids)
    assert len({uuid7(5) for _ in range(100)}) == 100
    u = uuid.UUID(uuid7(1_700_000_000_123))
    assert u.version == 7 and u.variant == uuid.RFC_4122
    assert u.int >> 80 == 1_700_000_000_123


def test_uuid7_in_a_forked_child_never_repeats_the_parents_ids() -> None:
    uuid7(1)  # the parent's pool of random bytes is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover (the child: never returns into pytest)
        try:
            os.write(write, "".join(uuid7(1) for _ in range(5)).encode())
        finally:
            os._exit(0)
    os.waitpid(pid, 0)
    child = os.read(read, 4096).decode()
    os.close(read)
    os.close(write)
    parent = "".join(uuid7(1) for _ in range(5))
    assert len(child) == len(parent) == 5 * 36 and child != parent


def test_campaign_ids_and_mode() -> None:
    assert parse_campaign_ids(["~a", "~b"]) == ["~a", "~b"]
    for bad in ([], ["~a", "~a"], ["~a", ""], [f"~{i}" for i in range(11)]):
        with pytest.raises(Invalid, match="campaignIds"):
            parse_campaign_ids(bad)
    assert parse_mode("all") == "all"
    for bad_mode in ("", None, "ALL", "fallback"):
        with pytest.raises(Invalid, match="mode"):
            parse_mode(bad_mode)
