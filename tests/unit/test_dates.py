from __future__ import annotations

import pytest

from openengage.rules.dates import MAX_MS, MIN_MS, epoch_text_to_ms, epoch_to_ms, format_ms, out_of_range, parse_iso

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


# ---------------------------------------------------------------- the supported range (#7)


def test_range_bounds_are_the_four_digit_years() -> None:
    assert parse_iso("0001-01-01T00:00:00Z") == MIN_MS
    assert parse_iso("9999-12-31T23:59:59.999Z") == MAX_MS
    assert format_ms(MIN_MS) == "0001-01-01T00:00:00+0000"
    assert format_ms(MAX_MS) == "9999-12-31T23:59:59+0000"
    assert MIN_MS > -(2**63) and MAX_MS < 2**63 - 1


@pytest.mark.parametrize(
    "text",
    [
        "9999-12-31T23:59:59-2359",  # the year 10000 in UTC
        "9999-12-31T23:59:59-0001",
        "0001-01-01T00:00:00+0100",  # the year 0 in UTC
        "0001-01-01T00:59:59.999+01:00",
    ],
)
def test_accepted_forms_outside_the_range_are_refused(text: str) -> None:
    assert parse_iso(text) is None
    assert out_of_range(text)


def test_out_of_range_is_only_for_accepted_forms() -> None:
    assert not out_of_range("yesterday")
    assert not out_of_range("2018-09-15T18:29:00-0800")
    assert not out_of_range("0000-06-01")  # no year 0: not a date at all


def test_birth_dates_long_before_1970_are_in_range() -> None:
    assert parse_iso("1899-12-31") is not None
    assert format_ms(parse_iso("1066-10-14T09:00:00Z") or 0) == "1066-10-14T09:00:00+0000"
    assert format_ms(parse_iso("0999-01-01") or 0) == "0999-01-01T00:00:00+0000"  # four digits, zero-padded


@pytest.mark.parametrize("value", [2**70, 9e15, -9e15, 10**19, -(10**19), float("inf"), float("-inf"), float("nan")])
def test_epoch_numbers_outside_the_range(value: float) -> None:
    assert epoch_to_ms(value) is None


def test_epoch_numbers_at_the_bounds() -> None:
    assert epoch_to_ms(MAX_MS) == MAX_MS
    assert epoch_to_ms(MIN_MS) == MIN_MS
    assert epoch_to_ms(MAX_MS + 1) is None
    assert epoch_to_ms(-1) == -1000  # seconds before 1970


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("1708939453396", 1708939453396),
        ("1708939453", 1708939453000),
        ("1708939453.5", 1708939453500),
        ("-1", -1000),
        ("0" * 5000 + "1", 1000),  # leading zeros are not digits int() must convert
        ("99999999999999999999", None),
        ("9" * 5000, None),  # would exceed int()'s digit limit: refused without converting
        ("9" * 400 + ".5", None),  # a float that overflows to infinity
    ],
)
def test_epoch_text(text: str, expected: int | None) -> None:
    assert epoch_text_to_ms(text) == expected


@pytest.mark.parametrize(
    ("ms", "text"),
    [
        (MAX_MS + 1, "+10000-01-01T00:00:00+0000"),
        (MIN_MS - 1, "0000-12-31T23:59:59+0000"),
        (2**70, "+37411461122-04-01T11:35:03+0000"),
        (-(9 * 10**15), "-283229-05-10T08:00:00+0000"),
        (2**200, None),
    ],
)
def test_format_ms_is_total(ms: int, text: str | None) -> None:
    """Values stored before the range was enforced still read: an expanded year, never an exception."""
    formatted = format_ms(ms)
    if text is not None:
        assert formatted == text
    assert formatted.endswith("+0000")


def test_format_ms_agrees_with_datetime_over_the_range() -> None:
    import datetime as dt
    import random

    epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
    rng = random.Random(11)
    for ms in [MIN_MS, MAX_MS, 0, -1, 1] + [rng.randint(MIN_MS, MAX_MS) for _ in range(5000)]:
        moment = epoch + dt.timedelta(milliseconds=ms)
        assert format_ms(ms) == f"{moment.year:04d}" + moment.strftime("-%m-%dT%H:%M:%S+0000"), ms
