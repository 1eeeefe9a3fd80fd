from __future__ import annotations

import pytest

from openengage.rules.dates import epoch_to_ms, format_ms, parse_iso

SEP_15_2018_0229_UTC = 1537064940000  # 2018-09-15T18:29:00-0800


@pytest.mark.parametrize(
    "text",
    [
        "2018-09-15T18:29:00-0800",  # the documented format
        "2018-09-15T18:29:00-08:00",
        "2018-09-16T02:29:00Z",
        "2018-09-16T02:29:00.000Z",
        "2018-09-16T02:29:00.000000+0000",
        "2018-09-16 02:29:00+00:00",
        "2018-09-16T02:29+0000",  # the vendor's own response example has no seconds
        "2018-09-16T07:59:00+05:30",
    ],
)
def test_accepted_formats_give_the_same_instant(text: str) -> None:
    assert parse_iso(text) == SEP_15_2018_0229_UTC


def test_fraction_is_kept_to_the_millisecond() -> None:
    assert parse_iso("2018-09-16T02:29:00.123Z") == SEP_15_2018_0229_UTC + 123


def test_date_only_and_naive_are_utc() -> None:
    assert parse_iso("1986-08-19") == parse_iso("1986-08-19T00:00:00+0000")
    assert parse_iso("1986-08-19T15:45:00") == parse_iso("1986-08-19T15:45:00Z")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "31",
        "2018/09/15",
        "15-09-2018",
        "2018-13-01",
        "2018-02-30T00:00:00Z",
        "2018-09-15T25:00:00Z",
        "2018-09-15T18:29:00+2500",
        "Thu Mar 24 2016 17:46:45 GMT+0000 (UTC)",
        "2018-09-15T18:29:00-08",  # accepted: hour-only offset
    ][:-1],
)
def test_refused_formats(text: str) -> None:
    assert parse_iso(text) is None


def test_hour_only_offset() -> None:
    assert parse_iso("2018-09-15T18:29:00-08") == SEP_15_2018_0229_UTC


def test_epoch_seconds_and_milliseconds() -> None:
    assert epoch_to_ms(1537064940) == SEP_15_2018_0229_UTC
    assert epoch_to_ms(1537064940000) == SEP_15_2018_0229_UTC
    assert epoch_to_ms(1537064940.5) == SEP_15_2018_0229_UTC + 500


def test_output_format_is_utc_with_offset() -> None:
    assert format_ms(SEP_15_2018_0229_UTC) == "2018-09-16T02:29:00+0000"


def test_arithmetic_agrees_with_datetime() -> None:
    import datetime as dt
    import random

    rng = random.Random(7)
    for _ in range(5000):
        y, mo, d = rng.randint(1, 9999), rng.randint(1, 12), rng.randint(1, 31)
        h, mi, s, ms = rng.randint(0, 23), rng.randint(0, 59), rng.randint(0, 59), rng.randint(0, 999)
        oh, om, sign = rng.randint(0, 14), rng.choice((0, 30, 45)), rng.choice("+-")
        text = f"{y:04d}-{mo:02d}-{d:02d}T{h:02d}:{mi:02d}:{s:02d}.{ms:03d}{sign}{oh:02d}{om:02d}"
        try:
            tz = dt.timezone((-1 if sign == "-" else 1) * dt.timedelta(hours=oh, minutes=om))
            ref = dt.datetime(y, mo, d, h, mi, s, ms * 1000, tzinfo=tz)
        except ValueError:
            assert parse_iso(text) is None, text
            continue
        epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
        assert parse_iso(text) == (ref - epoch) // dt.timedelta(milliseconds=1), text
