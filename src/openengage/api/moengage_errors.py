"""The MoEngage Data API error catalogue: every refusal is an `Invalid` with the vendor's type and message.

Types and messages are the vendor's generic error table (developers.moengage.com, Data API overview) unless an endpoint
page documents its own; where the pages disagree docs/moengage.md says which text was chosen.
"""

from __future__ import annotations

import dataclasses

from openengage.api.guard import MAX_DEPTH


class Invalid(Exception):
    """A request the API refuses; `type`, `message` and `attribute` are what the client sees."""

    def __init__(self, message: str, error_type: str, attribute: str | None = None, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.type = error_type
        self.attribute = attribute
        self.status = status
        self.account_id: int | None = None  # set when the refused credentials named an account (the debugger)


@dataclasses.dataclass(frozen=True)
class Documented:
    """One row of the catalogue; calling it makes a fresh exception to raise."""

    message: str
    type: str
    status: int = 400

    def __call__(self, attribute: str | None = None) -> Invalid:
        return Invalid(self.message, self.type, attribute, self.status)


# error types
MISSING_ATTRIBUTE = "MissingAttributeError"
ARRAY_FIELD = "ArrayFieldError"
ATTRIBUTE_ERROR = "AttributeError"
VALUE_ERROR = "ValueError"
LIMIT_BREACHED = "LimitBreached"
NOT_FOUND = "Not Found"
AUTH_REQUIRED = "Authentication required"


def missing(attribute: str, quoted: bool = False) -> Invalid:
    """`customer_id is not found in the payload` (device messages quote the name: `'push_id' …`)."""
    name = f"'{attribute}'" if quoted else attribute
    return Invalid(f"{name} is not found in the payload", MISSING_ATTRIBUTE, attribute)


def expected(attribute: str, datatype: str) -> Invalid:
    """The documented template `{{key}} is expected to be {{datatype}}`."""
    return Invalid(f"{attribute} is expected to be {datatype}", MISSING_ATTRIBUTE, attribute)


def empty_string(attribute: str) -> Invalid:
    return Invalid(f"{attribute} can not be empty Unicode String", MISSING_ATTRIBUTE, attribute)


def empty_array(attribute: str) -> Invalid:
    return Invalid(f"{attribute} can not be empty Array", MISSING_ATTRIBUTE, attribute)


def auth(message: str, status: int = 401) -> Documented:
    return Documented(message, AUTH_REQUIRED, status)


# headers and body
CONTENT_TYPE_MISSING = Documented("The Content-Type Header is required", "Missing header value")
UNSUPPORTED_MEDIA = Documented("Unsupported Media Type", "Unsupported Media Type", 415)
TOO_LARGE = Documented("The payload can not exceed 128KB", "Payload too large", 413)
EMPTY_BODY = Documented("A valid JSON document is required", "Empty request body")
MALFORMED = Documented(
    "Could not decode the request body. The JSON was incorrect or not encoded as UTF-8.", "Malformed JSON"
)
NOT_AN_OBJECT = Documented("A valid JSON document is required.", "Body type is not JSON")
TOO_DEEP = Documented(
    f"The JSON document is nested too deeply; at most {MAX_DEPTH} levels of objects and arrays are accepted.",
    "Malformed JSON",
)
ROUTE_NOT_FOUND = Documented(
    "No such resource; the Data API routes are POST /v1/customer/{app_id}, /v1/event/{app_id}, /v1/device/{app_id},"
    " /v1/transition/{app_id}, /v1/customer/merge, /v1/customer/delete and /v1/customers/export",
    "Not Found",
    404,
)
METHOD_NOT_ALLOWED = "Method Not Allowed"
RATE_LIMITED = Documented("Rate Limits for User / Event exceeded", "Rate Limit Exceeded", 429)
SERVER_ERROR = Documented(
    "An unexpected error was encountered while processing this request. Nothing was stored; retry later.",
    "Server Error",
    500,
)

# app id and authentication
APP_ID_REQUIRED = Documented("app_id is required in path/query params.", "ParamsRequired")
APP_ID_MISMATCH = Documented("App key mismatch in params and authentication.", "Authentication Mismatch", 409)
AUTH_HEADER_MISSING = auth("Authentication Header Required")
AUTH_HEADER_EMPTY = auth("No identity information found")
AUTH_NOT_BASIC = auth("Invalid authorization used. MoEngage only supports 'Basic Auth' authorization.")
AUTH_UNDECODABLE = auth("Invalid identity information found")
APP_KEY_MISSING = auth("APP_KEY missing in the authentication header")
APP_SECRET_MISSING = auth("APP_SECRET missing in the authentication header")
APPKEY_HEADER_MISMATCH = auth("MOE_APPKEY doesn't match the Username (APP_KEY) used in Basic Auth authorization.")
UNKNOWN_APP_ID = auth("Invalid APP_ID used in Authentication Header")
SECRET_NOT_SET = auth("App Secret key is not set. Please login to the dashboard to set a key", 409)
SECRET_MISMATCH = auth("App Secret key mismatch. Please login to the dashboard to verify key")
