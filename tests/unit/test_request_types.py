"""The request-body types are the validator: what `GET /openapi.json` documents is what the API admits.

Each ingest body is admitted by its msgspec type (`checked` in the dialects' schema modules) before the
hand-written checks refine it and word the error. Here, over the parsers' property-test bodies:
- a body the type refuses is refused with the vendor-style message of the hand-written checks, never with
  the generic "does not match its documented schema" (the checks cover every way to fail the type);
- every body an endpoint accepts is one its documented type admits, the events fast path included (it
  decodes with its own, stricter type and never sees the documented one);
- the known-field sets (what is not recorded as an unknown field) are the types' fields.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any

import msgspec
import pytest
from hypothesis import given

from openengage.api import business, gdpr, moengage, webengage
from openengage.api import moengage_schema as moe
from openengage.api import webengage_schema as we
from openengage.api.moengage_errors import Invalid as MoeInvalid
from openengage.api.webengage_schema import Invalid as WeInvalid
from openengage.rules import business as business_rules
from openengage.rules import gdpr as gdpr_rules
from tests.unit.test_parser_properties import FUZZ, encode, moe_body, we_body

WE_ENDPOINTS: list[tuple[Callable[[bytes], Any], Any]] = [
    (webengage.users, we.User),
    (webengage.events, we.Event),
    (webengage.bulk_users, we.BulkUsers),
    (webengage.bulk_events, we.BulkEvents),
]
MOE_ENDPOINTS: list[tuple[Callable[[dict[str, Any]], Any], Any]] = [
    (moengage.customer, moe.MoEngageCustomer),
    (moengage.event, moe.MoEngageEvent),
    (moengage.device, moe.MoEngageDevice),
    (moengage.bulk, moe.MoEngageTransition),
    (moengage.merge, moe.MoEngageMerge),
    (moengage.delete, moe.MoEngageDelete),
]


def admitted(value: Any, body_type: Any) -> bool:
    try:
        msgspec.convert(value, body_type)
    except msgspec.ValidationError:
        return False
    return True


@FUZZ
@given(we_body)
def test_webengage_refusals_are_worded_and_acceptances_documented(value: Any) -> None:
    body = encode(value)
    for parse, body_type in WE_ENDPOINTS:
        try:
            parse(body)
        except WeInvalid as exc:
            assert not exc.message.startswith(we.UNDOCUMENTED), (parse.__name__, value, exc.message)
            continue
        assert admitted(value, body_type), (parse.__name__, value)


@FUZZ
@given(moe_body)
def test_moengage_refusals_are_worded_and_acceptances_documented(value: Any) -> None:
    if not isinstance(value, dict):
        return  # refused by decode_body before any type (tests/unit/test_parser_properties.py)
    for parse, body_type in MOE_ENDPOINTS:
        try:
            parse(value)
        except MoeInvalid as exc:
            assert not exc.message.startswith(moe.UNDOCUMENTED), (parse.__name__, value, exc.message)
            continue
        assert admitted(value, body_type), (parse.__name__, value)
    try:
        moe.checked(value, moe.MoEngageExport, moe.parse_export)
    except MoeInvalid as exc:
        assert not exc.message.startswith(moe.UNDOCUMENTED), (value, exc.message)
    else:
        assert admitted(value, moe.MoEngageExport)


def test_a_body_the_type_refuses_never_gets_through() -> None:
    """Even were a hand-written check to miss something, the type refuses it (here: a parser that takes all)."""
    with pytest.raises(WeInvalid, match=r"documented schema: Expected `str \| null`, got `int` - at `\$.userId`"):
        we.checked({"userId": 5}, we.User, lambda obj: obj)
    with pytest.raises(MoeInvalid, match="documented schema: Object missing required field `customer_id`"):
        moe.checked({}, moe.MoEngageCustomer, lambda obj: obj)
    assert we.checked({"userId": "u"}, we.User, lambda obj: obj) == {"userId": "u"}


def test_known_fields_are_the_types_fields() -> None:
    user = we.parse_user({"userId": "u", "firstName": "A", "shoeSize": 42})
    assert [d.field for d in user.dropped] == ["shoeSize"]
    assert set(we.User.__struct_fields__) >= {*we.USER_STRING_FIELDS, *we.USER_BOOL_FIELDS, "phone", "attributes"}
    customer = moe.parse_customer({"customer_id": "u", "update_existing_only": "true", "shoe_size": 42})
    assert [d.field for d in customer.dropped] == ["shoe_size"]
    # Literal choices are the checks' own tables
    assert typing.get_args(moe._IDENTITY_TYPE) == moe.IDENTIFIER_TYPES
    assert typing.get_args(typing.get_type_hints(gdpr.GdprRequestIn)["subject_request_type"]) == gdpr_rules.TYPES
    assert (
        typing.get_args(typing.get_type_hints(business.BusinessAttributeDoc)["dataType"]) == business_rules.DATA_TYPES
    )


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        ({"userId": "u", "gender": "FeMaLe"}, True),  # the gender pattern ignores case, as the check does
        ({"userId": "u", "gender": ""}, True),  # "" is not sent
        ({"userId": "u", "phone": "+551155256325"}, True),
        ({"userId": "u", "phone": ""}, True),
        # E.164 is ASCII digits: the check took any script's digits (`\d`), the documented pattern not
        ({"userId": "u", "phone": "+55\u0661\u0662\u0663"}, False),
        ({"userId": "u", "emailOptIn": "true"}, False),
    ],
)
def test_webengage_user_fields(body: dict[str, Any], accepted: bool) -> None:
    try:
        webengage.users(encode(body))
    except WeInvalid:
        assert not accepted
    else:
        assert accepted
    assert admitted(body, we.User) == accepted


@pytest.mark.parametrize(
    ("body", "accepted"),
    [
        ({"customer_id": "u", "update_existing_only": " TRUE "}, True),
        ({"customer_id": "u", "platforms": [{"platform": " android ", "active": "False"}]}, True),
        ({"customer_id": "u", "platforms": [{"platform": "windows"}]}, False),
        ({"customer_id": " u ", "type": None}, True),
        ({"customer_id": "   "}, False),
        ({"customer_id": "u", "attributes": {"mobile": 5511, "moe_unsubscribe": "false", "custom": [1]}}, True),
        ({"customer_id": "u", "attributes": {"first_name": 5}}, False),
        ({"customer_id": "u", "unset_attributes": {"type": "prefix", "attr": "tmp_"}}, True),
    ],
)
def test_moengage_customer_fields(body: dict[str, Any], accepted: bool) -> None:
    try:
        moengage.customer(body)
    except MoeInvalid:
        assert not accepted
    else:
        assert accepted
