"""Rows of an import file as WebEngage request bodies (pure: text in, JSON bodies out).

Two formats (docs/operations.md, "Import and export"):

- NDJSON: one JSON object per line, exactly the body of `POST /users` or `POST /events`. `openengage export`
  writes this format, so an export imports back.
- CSV: a header row. A column named like a WebEngage field (`userId`, `email`, `eventName`, `eventTime`...)
  fills that field; any other column is a custom attribute (users: `attributes`; events: `eventData`).
  Cells are text, so a header may say how to read its column: `name:number`, `name:boolean`, `name:date`
  (a date in the API's formats), `name:json` (any JSON value) or `name:string` (the default). An empty
  cell means "not sent".

Rows come out as request bodies (bytes), to be checked by the API's own parsers: an import follows the
same rules as the API because it runs the same code.
"""

from __future__ import annotations

import csv
import dataclasses
from collections.abc import Iterable, Iterator
from typing import Any

import msgspec

from openengage.rules.dates import parse_iso

USER_FIELDS = frozenset(
    {
        "userId", "anonymousId", "firstName", "lastName", "email", "phone", "birthDate", "gender", "company",
        "hashedEmail", "hashedPhone", "country", "city", "region", "locality", "postalCode",
    }
)  # fmt: skip
USER_BOOLEAN_FIELDS = frozenset({"emailOptIn", "smsOptIn", "whatsappOptIn", "rcsOptIn"})
EVENT_FIELDS = frozenset({"userId", "anonymousId", "eventName", "eventTime"})
COLUMN_TYPES = ("string", "number", "boolean", "date", "json")
_TRUE = frozenset({"true", "1", "yes"})
_FALSE = frozenset({"false", "0", "no"})


class BadRow(Exception):
    """A row that cannot become a request body; the message says why, `line` where (1-based)."""

    def __init__(self, message: str, line: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line


@dataclasses.dataclass(frozen=True)
class Row:
    line: int  # 1-based line of the file where the row starts
    body: bytes  # a request body for the API's parser


@dataclasses.dataclass(frozen=True)
class Column:
    name: str
    type: str
    custom: bool  # a custom attribute (else a WebEngage field)


def ndjson_rows(lines: Iterable[str]) -> Iterator[Row]:
    """One body per non-blank line, as sent: the API's parser says what is wrong with a bad one."""
    for number, line in enumerate(lines, start=1):
        if line.strip():
            yield Row(number, line.encode("utf-8", "surrogateescape"))


def parse_header(header: list[str], kind: str) -> list[Column]:
    """Columns of a CSV header; raises BadRow for an unknown type suffix or a repeated name."""
    fields = USER_FIELDS if kind == "users" else EVENT_FIELDS
    columns: list[Column] = []
    seen: set[str] = set()
    for raw in header:
        name, sep, ctype = raw.rpartition(":")  # a name holding ":" must end with a type suffix
        if not sep:
            name, ctype = raw, "string"
        ctype = ctype.strip().lower()
        if ctype not in COLUMN_TYPES:
            raise BadRow(f"column '{raw}': type must be one of {', '.join(COLUMN_TYPES)}", 1)
        if name in seen:
            raise BadRow(f"column '{name}' appears twice", 1)
        seen.add(name)
        if kind == "users" and name in USER_BOOLEAN_FIELDS:
            columns.append(Column(name, "boolean", custom=False))
        else:
            columns.append(Column(name, ctype, custom=name not in fields))
    return columns


def cell_value(column: Column, text: str) -> Any:
    """The JSON value of one non-empty cell; raises BadRow when it is not of the column's type."""
    if column.type == "string":
        return text
    if column.type == "number":
        try:
            return int(text)
        except ValueError:
            pass
        try:
            value = float(text)
        except ValueError:
            raise BadRow(f"{column.name}: '{text}' is not a number") from None
        if value != value or value in (float("inf"), float("-inf")):
            raise BadRow(f"{column.name}: '{text}' is not a finite number")
        return value
    if column.type == "boolean":
        low = text.strip().lower()
        if low in _TRUE or low in _FALSE:
            return low in _TRUE
        raise BadRow(f"{column.name}: '{text}' is not a boolean (true or false)")
    if column.type == "date":
        if parse_iso(text.strip()) is None:
            raise BadRow(f"{column.name}: '{text}' is not a date (yyyy-MM-ddTHH:mm:ss±hhmm)")
        return text.strip()
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        raise BadRow(f"{column.name}: '{text}' is not valid JSON") from None


def _body(columns: list[Column], cells: list[str], container: str) -> bytes:
    body: dict[str, Any] = {}
    for column, cell in zip(columns, cells, strict=True):
        if cell == "":
            continue
        value = cell_value(column, cell)
        if column.custom:
            body.setdefault(container, {})[column.name] = value
        else:
            body[column.name] = value
    return msgspec.json.encode(body)


def csv_rows(lines: Iterable[str], kind: str) -> Iterator[Row | BadRow]:
    """Bodies from CSV text, or a BadRow per row that cannot be one. A bad header ends the file."""
    reader = csv.reader(lines)
    try:
        columns = parse_header(next(reader), kind)
    except StopIteration:
        return
    except csv.Error as exc:
        yield BadRow(f"header is not valid CSV ({exc})", 1)
        return
    except BadRow as bad:
        yield bad
        return
    container = "attributes" if kind == "users" else "eventData"
    while True:
        line = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            yield BadRow(f"not valid CSV ({exc})", line)
            continue
        if not any(cell.strip() for cell in cells):
            continue
        if len(cells) != len(columns):
            yield BadRow(f"{len(cells)} cells for {len(columns)} columns", line)
            continue
        try:
            yield Row(line, _body(columns, cells, container))
        except BadRow as bad:
            yield BadRow(bad.message, line)
