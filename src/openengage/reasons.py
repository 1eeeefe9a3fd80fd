"""Rejection reason codes: the one home of every code the data-quality log records.

Stable strings: the rejections API, `/metrics` (`openengage_rejections_total{reason}`) and the dashboard
show them, and clients may filter on them. A new reason is added here, with what it means.
"""

from __future__ import annotations

# Names and values (rules/attributes.py)
RESERVED_PREFIX = "reserved_prefix"
NAME_TOO_LONG = "name_too_long"
EMPTY_NAME = "empty_name"
TYPE_CONFLICT = "type_conflict"
TYPE_LIMIT = "type_limit"
NULL_VALUE = "null_value"
TRUNCATED = "truncated"

# Records (processor/planner.py)
ANON_CONFLICT = "anonymous_id_conflict"
USER_NOT_FOUND = "user_not_found"
SYSTEM_EVENT = "system_event"
DEVICE_LIMIT = "device_limit"
MISSING_ID = "missing_id"
RESTRICTED = "restricted"  # a GDPR restriction request stops processing of the user's new data

# Fields the edge accepted but will not store (records.Drop, from the dialects)
UNKNOWN_FIELD = "unknown_field"
INVALID_VALUE = "invalid_value"
RESERVED_NAME = "reserved_name"
PLATFORM_MISMATCH = "platform_mismatch"

MEANINGS: dict[str, str] = {
    RESERVED_PREFIX: "names starting with 'we_' are reserved and ignored",
    NAME_TOO_LONG: "names must be less than 50 characters",
    EMPTY_NAME: "names cannot be empty",
    TYPE_CONFLICT: "the attribute's type is locked to another type",
    TYPE_LIMIT: "already 25 custom attributes of that type",
    NULL_VALUE: "null values are not stored",
    TRUNCATED: "strings over 999 characters are truncated",
    ANON_CONFLICT: "the anonymous id already belongs to another user",
    USER_NOT_FOUND: "the user does not exist",
    SYSTEM_EVENT: "system events cannot be created through the API",
    DEVICE_LIMIT: "a user may have at most 1000 devices",
    MISSING_ID: "neither a user id nor an anonymous id",
    RESTRICTED: "processing of this user is restricted (GDPR restriction request)",
    UNKNOWN_FIELD: "the field is not part of the API",
    INVALID_VALUE: "the value is not valid for this standard attribute",
    RESERVED_NAME: "the attribute name is reserved",
    PLATFORM_MISMATCH: "the identifier does not belong to this platform",
}
