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
import re

_ISO = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})"
    r"(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?"
    r"(Z|z|[+-]\d{2}(?::?\d{2})?)?)?"
)
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Epoch numbers at or above this are milliseconds (1e11 s is the year 5138).
_MS_THRESHOLD = 100_000_000_000
DOCUMENTED_FORMAT = "yyyy-MM-ddTHH:mm:ss±hhmm, e.g. 2018-09-15T18:29:00-0800"


def parse_iso(text: str) -> int | None:
    """Epoch milliseconds of an accepted date string, or None when it is not one."""
    m = _ISO.fullmatch(text)
    if m is None:
        return None
    year, month, day, hour, minute, second, frac, tz = m.groups()
    offset = 0
    if tz and tz not in ("Z", "z"):
        sign = -1 if tz[0] == "-" else 1
        digits = tz[1:].replace(":", "")
        if len(digits) not in (2, 4):
            return None
        hh, mm = int(digits[:2]), int(digits[2:] or 0)
        if hh > 23 or mm > 59:
            return None
        offset = sign * (hh * 60 + mm)
    try:
        moment = dt.datetime(
            int(year),
            int(month),
            int(day),
            int(hour or 0),
            int(minute or 0),
            int(second or 0),
            int((frac or "0").ljust(6, "0")[:6]),
            tzinfo=dt.timezone(dt.timedelta(minutes=offset)),
        )
    except ValueError:
        return None
    return (moment - _EPOCH) // dt.timedelta(milliseconds=1)


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
    return int(dt.datetime.now(dt.UTC).timestamp() * 1000)
