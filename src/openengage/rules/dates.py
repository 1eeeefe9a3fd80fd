"""Date parsing and formatting.

Accepted on input (documented in docs/webengage.md):
- the documented `yyyy-MM-ddTHH:mm:ss±hhmm` (`1986-08-19T15:45:00-0800`);
- the ISO-8601 variants public clients send: `Z`, `±hh:mm`, fractional seconds (1-9 digits),
  a space instead of `T`, no seconds (`2013-01-26T07:31+0000`, the vendor's own example);
- a date alone (`1986-08-19`), taken as midnight UTC; a date-time without offset, taken as UTC;
- for event times only: epoch seconds or milliseconds as a JSON number.
Anything else is refused. Output is always `yyyy-MM-ddTHH:mm:ss+0000` (UTC).

The supported range is every instant whose UTC date has a four-digit year, 0001-01-01T00:00:00Z to
9999-12-31T23:59:59.999Z: what that output format can write, birth dates long before 1970 included,
and far inside a signed 64-bit integer of milliseconds (both stores keep times so). A date in an
accepted form but outside the range (`9999-12-31T23:59:59-2359` is in the year 10000 in UTC, `9e15`
milliseconds in the year 287,000) is refused at the edge; `format_ms` still writes any integer, so
a time stored before the range existed never breaks a read.
"""

from __future__ import annotations

import functools
import math
import re
import time

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?)?"
)
# Epoch numbers at or above this are milliseconds (1e11 s is the year 5138).
_MS_THRESHOLD = 100_000_000_000
DOCUMENTED_FORMAT = "yyyy-MM-ddTHH:mm:ss±hhmm, e.g. 2018-09-15T18:29:00-0800"
MIN_MS = -62_135_596_800_000  # 0001-01-01T00:00:00.000Z
MAX_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
SUPPORTED_RANGE = "0001-01-01T00:00:00Z to 9999-12-31T23:59:59.999Z"
_MAX_EPOCH_DIGITS = 20  # an integer with more significant digits is out of range, whatever its unit


_DAYS_BEFORE_MONTH = (0, 0, 31, 59, 90, 120, 151, 181, 212, 243, 273, 304, 334)
_MONTH_DAYS = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_ORDINAL_1970 = 719163  # days from 0001-01-01 to 1970-01-01


def _is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def _epoch_days(year: int, month: int, day: int) -> int | None:
    """Days since 1970-01-01, or None for an impossible date. Arithmetic: no datetime objects."""
    if not 1 <= month <= 12 or not 1 <= day <= _MONTH_DAYS[month] or year < 1:
        return None
    leap = _is_leap(year)
    if month == 2 and day == 29 and not leap:
        return None
    y = year - 1
    days = y * 365 + y // 4 - y // 100 + y // 400 + _DAYS_BEFORE_MONTH[month] + (month > 2 and leap) + day
    return days - _ORDINAL_1970


def in_range(ms: int) -> bool:
    return MIN_MS <= ms <= MAX_MS


@functools.lru_cache(maxsize=8192)  # event times and birth dates repeat a lot within and across requests
def parse_iso(text: str) -> int | None:
    """Epoch milliseconds of an accepted date string in the supported range, or None."""
    ms = _parse_iso(text)
    return ms if ms is not None and MIN_MS <= ms <= MAX_MS else None


def out_of_range(text: str) -> bool:
    """True when `text` has an accepted form but names an instant outside the supported range."""
    ms = _parse_iso(text)
    return ms is not None and not MIN_MS <= ms <= MAX_MS


def _parse_iso(text: str) -> int | None:
    m = _ISO.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, tz = m.groups()
    days = _epoch_days(int(year), int(month), int(day))
    h, mi, sec = int(hour or 0), int(minute or 0), int(second or 0)
    if days is None or h > 23 or mi > 59 or sec > 59:
        return None
    offset = 0
    if tz and tz not in ("Z", "z"):
        digits = tz[1:].replace(":", "")
        if len(digits) not in (2, 4):
            return None
        oh, om = int(digits[:2]), int(digits[2:] or 0)
        if oh > 23 or om > 59:
            return None
        offset = (oh * 60 + om) * (-1 if tz[0] == "-" else 1)
    millis = int((frac or "0").ljust(3, "0")[:3])
    return ((days * 24 + h) * 60 + mi - offset) * 60_000 + sec * 1000 + millis


def epoch_to_ms(value: int | float) -> int | None:
    """Epoch seconds or milliseconds (by magnitude) to milliseconds; None outside the supported range."""
    if not math.isfinite(value):
        return None
    ms = int(value) if abs(value) >= _MS_THRESHOLD else int(value * 1000)
    return ms if MIN_MS <= ms <= MAX_MS else None


def epoch_text_to_ms(text: str) -> int | None:
    """`epoch_to_ms` of a number written as text (`-?digits[.digits]`); None outside the supported range.

    Never converts more digits than a time can have: int() of thousands of digits is slow, and refused.
    """
    if "." in text:
        return epoch_to_ms(float(text))
    digits = text.lstrip("-").lstrip("0") or "0"
    if len(digits) > _MAX_EPOCH_DIGITS:
        return None
    return epoch_to_ms(-int(digits) if text.startswith("-") else int(digits))


def _civil(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day count since 1970-01-01, proleptic Gregorian, for any integer."""
    z = days + 719_468  # days since 0000-03-01
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, doy - (153 * mp + 2) // 5 + 1


def format_ms(ms: int) -> str:
    """The vendor's output format, in UTC: `2018-09-16T02:29:00+0000`.

    Total over integers: an instant outside the supported range (stored before it was enforced) is
    written with an ISO 8601 expanded year, `+10000-01-01T23:59:00+0000`, rather than failing the read.
    """
    days, rest = divmod(int(ms), 86_400_000)
    year, month, day = _civil(days)
    hours, rest = divmod(rest, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    y = f"{year:04d}" if 0 <= year <= 9999 else f"{year:+05d}"
    return f"{y}-{month:02d}-{day:02d}T{hours:02d}:{minutes:02d}:{rest // 1000:02d}+0000"


def now_ms() -> int:
    return time.time_ns() // 1_000_000
