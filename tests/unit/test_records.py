"""Internal records: the wire twin of EventRecord stays in step with it."""

from __future__ import annotations

import msgspec

from openengage.records import EventRecord, RawEventRecord, decode_records, encode_records


def test_raw_event_record_encodes_like_event_record() -> None:
    assert RawEventRecord.__struct_fields__ == EventRecord.__struct_fields__[: len(RawEventRecord.__struct_fields__)]
    assert set(EventRecord.__struct_fields__) - set(RawEventRecord.__struct_fields__) == {
        "context",
        "dropped",
        "system",
    }
    assert RawEventRecord.__struct_config__.tag == EventRecord.__struct_config__.tag
    raw = RawEventRecord("Buy", "u", None, 5, "t", msgspec.Raw(b'{"a": [1, {"b": null}]}'))
    full = EventRecord("Buy", "u", None, 5, "t", {"a": [1, {"b": None}]})
    assert decode_records(encode_records([raw])) == [full]
    assert encode_records([raw]).replace(b" ", b"") == encode_records([full])
