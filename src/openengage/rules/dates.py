"""Date parsing and formatting.

Accepted on input (documented in docs/webengage.md):
- the documented `yyyy-MM-ddTHH:mm:ss±hhmm` (`1986-08-19T15:45:00-0800`);
- the ISO-8601 variants public clients send: `Z`, `±hh:mm`, fractional seconds (1-9 digits),
  a space instead of `T`, no seconds (`2013-01-26T07:31+0000`, the vendor's own example);
- a date alone (`1986-08-19`), taken as midnight UTC; a date-time without offset, taken as UTC;
- for event times only: epoch seconds or milliseconds as a JSON number.
Anything else is refused. Output is always `yyyy-MM-ddTHH:mm:ss+0000` (UTC).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import time

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Epoch numbers at or above this are milliseconds (1e11 s is the year 5138).
_MS_THRESHOLD = 100_000_000_000
DOCUMENTED_FORMAT = "yyyy-MM-ddTHH:mm:ss±hhmm, e.g. 2018-09-15T18:29:00-0800"


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


@functools.lru_cache(maxsize=8192)  # event times and birth dates repeat a lot within and across requests
def parse_iso(text: str) -> int | None:
    """Epoch milliseconds of an accepted date string, or None when it is not one."""
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


def epoch_to_ms(value: int | float) -> int:
    """Epoch seconds or milliseconds (by magnitude) to milliseconds."""
    if abs(value) >= _MS_THRESHOLD:
        return int(value)
    return int(value * 1000)


def format_ms(ms: int) -> str:
    """The vendor's output format, in UTC: `2018-09-16T02:29:00+0000`."""
    moment = _EPOCH + dt.timedelta(milliseconds=ms)
    return moment.strftime("%Y-%m-%dT%H:%M:%S+0000")


def now_ms() -> int:
    return time.time_ns() // 1_000_000
