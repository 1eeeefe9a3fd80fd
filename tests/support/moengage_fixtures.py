"""MoEngage request bodies from the vendor's documents (developers.moengage.com) and its public clients,
and a small client for the Data API routes of an in-process Harness."""

from __future__ import annotations

import copy
from typing import Any

import httpx2 as httpx

from tests.support.harness import Harness

SUCCESS_MESSAGE = "Your request has been accepted and will be processed soon."

# ---------------------------------------------------------------- Track User (A.1, seed)

SEED_USER: dict[str, Any] = {
    "type": "customer",
    "customer_id": "USERID1234",
    "attributes": {
        "first_name": "John",
        "name": "John Smith",
        "plan_expiry_date": "2020-05-31T00:00:00Z",
        "super_user": True,
        "user_persona": "browsers",
        "platforms": [{"platform": "ANDROID", "active": "true"}],
    },
}
USER: dict[str, Any] = {
    "type": "customer",
    "customer_id": "john@example.com",
    "attributes": {"name": "JohnDoe", "first_name": "John", "platforms": [{"platform": "ANDROID", "active": "true"}]},
}
USER_EXISTING_ONLY: dict[str, Any] = {
    "type": "customer",
    "customer_id": "john@example.com",
    "update_existing_only": True,
    "attributes": {
        "points": 20,
        "expiry_date": "2020-05-31T03:47:35Z",
        "super_user": True,
        "user_persona": "browsers",
        "platforms": [{"platform": "ANDROID", "active": "true"}],
    },
}
USER_ARRAY_OPS: dict[str, Any] = {
    "type": "customer",
    "customer_id": "123",
    "attributes": {
        "removeValueFromArrayField": {},
        "addValueToArrayField": {"attribute1": ["abc", "def"], "attribute2": ["a"], "attribute3": ["123"]},
        "platforms": [{"platform": "iOS", "active": "true"}],
    },
}
USER_UNSET: dict[str, Any] = {
    "type": "customer",
    "customer_id": "user123",
    "unset_attributes": [
        {"type": "equals", "attr": "first_name", "case_sensitive": False},
        {"type": "prefix", "attr": "temp_"},
    ],
}
USER_IDENTITY_RESOLUTION: dict[str, Any] = {
    "type": "customer",
    "attributes": {"moe_mobile": "{{Mobile_Number}}", "first_name": "John"},
}

# ---------------------------------------------------------------- Track Event (A.2)

EVENT_MS_STRINGS: dict[str, Any] = {
    "type": "event",
    "customer_id": "123",
    "actions": [
        {
            "action": "ProductAdded",
            "attributes": {"product": "Accessories", "color": "Black", "Brand": "Adidas"},
            "platform": "Android",
            "app_version": "1.2.3",
            "user_time": "1708939453396",
            "current_time": "1708939453396",
        }
    ],
}
EVENT_EPOCH_SECONDS: dict[str, Any] = {
    "type": "event",
    "customer_id": "john@example.com",
    "actions": [
        {
            "action": "Flight Booked",
            "attributes": {"price": 3999, "departure_date": "2019-05-21T03:47:35Z", "premium_seat": True},
            "platform": "iOS",
            "app_version": "1.2.3",
            "current_time": 1433837969,
            "user_timezone_offset": 19800,
        }
    ],
}
EVENT_IDENTITY_RESOLUTION: dict[str, Any] = {
    "type": "event",
    "user_identifiers": {"moe_mobile": "{{Mobile_Number}}"},
    "actions": [
        {
            "action": "product_selected",
            "attributes": {"product": "Shirt", "color": "Green", "arraySupport": ["abc", "xyz"], "Brand": "Adidas"},
            "platform": "TV",
            "app_version": "1.2.3",
            "user_time": "1710740192",
            "current_time": "1710740192",
        }
    ],
}

# ---------------------------------------------------------------- Track Device (A.3)

DEVICE: dict[str, Any] = {
    "type": "device",
    "customer_id": "john@example.com",
    "device_id": "96bd03b6-defc-4203-83d3-dc1c73080232",
    "attributes": {
        "model": "iPhone",
        "platform": "iOS",
        "push_preference": "true",
        "push_id": "irBMohQPf_k2QrwP8iRzK3A/0CdLEzAoVGdF65HhH_I",
        "app_version": "10.1",
        "os_version": "2.5.4",
        "active": "true",
        "created_time": 143383676,
    },
}

# ---------------------------------------------------------------- Bulk Import (A.4)

BULK: dict[str, Any] = {
    "type": "transition",
    "elements": [
        {
            "type": "customer",
            "customer_id": "john@example.com",
            "attributes": {"name": "John", "platforms": [{"platform": "ANDROID", "active": "true"}]},
        },
        {
            "type": "device",
            "customer_id": "john@example.com",
            "device_id": "96bd03b6-defc-4203-83d3-dc1c73080232",
            "attributes": {
                "brand": "Apple",
                "platform": "iOS",
                "push_id": "irBMohQPf_k2QrwP8iRzK3A/0CdLEzAoVGdF65HhH_I",
            },
        },
        {
            "type": "event",
            "customer_id": "john@example.com",
            "device_id": "96bd03b6-defc-4203-83d3-dc1c73080232",
            "actions": [
                {
                    "action": "Added to Cart",
                    "attributes": {"product": "Mobile", "color": "white", "Brand": "Apple"},
                    "platform": "iOS",
                    "app_version": "1.2.3",
                    "current_time": "2020-05-31T16:33:35Z",
                    "user_timezone_offset": 19800,
                },
                {
                    "action": "Purchase",
                    "attributes": {"product": "MacBook Air", "Brand": "Apple"},
                    "platform": "iOS",
                    "app_version": "1.2.3",
                    "current_time": 1590404615,
                    "user_timezone_offset": 19800,
                },
            ],
        },
    ],
}

# ---------------------------------------------------------------- Merge, Delete, Get User (A.5-A.7)

RUDDER_MERGE: dict[str, Any] = {
    "merge_data": [{"merged_user": "4eb021e9-a2af-4926-ae82-fe996d12f3c5", "retained_user": "12345"}]
}
DELETE: dict[str, Any] = {"identity_type": "customer_id", "identity_value": "6416d1a318r98264512c0f89"}
EXPORT: dict[str, Any] = {
    "data": {
        "identifiers": [{"identifier_type": "customer_id", "identifier": "john_doe"}],
        "user_fields_to_export": ["last_name", "customer_id", "name"],
    }
}

# ---------------------------------------------------------------- rudder-transformer (C.1)

RUDDER_IDENTIFY: dict[str, Any] = {
    "type": "customer",
    "customer_id": "rudder123",
    "attributes": {
        "name": "Rudder Test",
        "plan": "Enterprise",
        "email": "rudderTest@gmail.com",
        "createdAt": "Thu Mar 24 2016 17:46:45 GMT+0000 (UTC)",
        "company.id": "abc123",
        "created_time": "Thu Mar 24 2016 17:46:45 GMT+0000 (UTC)",
    },
}
RUDDER_IDENTIFY_OBJECTS: dict[str, Any] = {
    "type": "customer",
    "customer_id": "rudder123",
    "attributes": {
        "name": "Rudder Test",
        "company": {"id": "abc123"},
        "address": {"city": "San Francisco", "country": "USA"},
    },
}
RUDDER_DEVICE: dict[str, Any] = {
    "type": "device",
    "customer_id": "rudder123",
    "device_id": "7e32188a4dab669f",
    "attributes": {
        "model": "Android SDK built for x86",
        "push_id": "desuhere",
        "platform": "android",
        "app_version": "1.1.6",
    },
}
RUDDER_TRACK: dict[str, Any] = {
    "customer_id": "rudder123",
    "type": "event",
    "actions": [
        {
            "action": "Order Completed",
            "attributes": {
                "checkout_id": "what is checkout id here??",
                "coupon": "APPARELSALE",
                "currency": "GBP",
                "order_id": "transactionId",
                "products[0].category": "Merch",
                "revenue": 31.98,
            },
            "app_version": "1.1.6",
            "current_time": "2020-10-16T13:40:12.791+05:30",
            "user_timezone_offset": 19800,
            "platform": "web",
        }
    ],
}

# ---------------------------------------------------------------- the Python wrapper on PyPI (C.4)

PYM_USER: dict[str, Any] = {
    "type": "customer",
    "customer_id": "pym-1",
    "attributes": {"name": "Py Moe", "mobile": "918888444411", "email": "py@moe.test", "plan": "gold"},
}
PYM_EVENT: dict[str, Any] = {
    "type": "event",
    "customer_id": "pym-1",
    "actions": [{"action": "Logged In", "attributes": {"via": "otp"}, "user_timezone_offset": 19800}],
}
# JBULK (a Java bulk importer) after its key mapping.
JBULK: dict[str, Any] = {
    "type": "transition",
    "elements": [
        {
            "type": "customer",
            "customer_id": "jb-1",
            "attributes": {
                "name": "Jay Bee",
                "first_name": "Jay",
                "last_name": "Bee",
                "email": "jay@bee.test",
                "mobile": "+919999000011",
                "gender": "Male",
                "age": 41,
            },
        }
    ],
}


def body(fixture: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of a fixture with top-level changes (None deletes a key)."""
    out = copy.deepcopy(fixture)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


class Moe:
    """Posts Data API requests as a MoEngage client would: Basic auth, MOE-APPKEY, JSON."""

    def __init__(self, api: Harness) -> None:
        self.api = api
        self.app_id = api.creds.app_id

    def headers(self, *, appkey: bool = True, **extra: str) -> dict[str, str]:
        h = {"Content-Type": "application/json", **self.api.basic()}
        if appkey:
            h["MOE-APPKEY"] = self.app_id
        h.update(extra)
        return h

    def post(
        self,
        path: str,
        payload: Any = None,
        *,
        headers: dict[str, str] | None = None,
        content: bytes | None = None,
        params: dict[str, str] | None = None,
    ) -> httpx.Response:
        h = self.headers() if headers is None else headers
        if content is None and payload is not None:
            return self.api.client.post(path, json=payload, headers=h, params=params)
        return self.api.client.post(path, content=content, headers=h, params=params)

    def customer(self, payload: Any, **kw: Any) -> httpx.Response:
        return self.post(f"/v1/customer/{self.app_id}", payload, **kw)

    def event(self, payload: Any, **kw: Any) -> httpx.Response:
        return self.post(f"/v1/event/{self.app_id}", payload, **kw)

    def device(self, payload: Any, **kw: Any) -> httpx.Response:
        return self.post(f"/v1/device/{self.app_id}", payload, **kw)

    def bulk(self, payload: Any, **kw: Any) -> httpx.Response:
        return self.post(f"/v1/transition/{self.app_id}", payload, **kw)

    def merge(self, payload: Any, **kw: Any) -> httpx.Response:
        return self.post("/v1/customer/merge", payload, params={"app_id": self.app_id}, **kw)

    def delete(self, payload: Any, **kw: Any) -> httpx.Response:
        return self.post("/v1/customer/delete", payload, params={"app_id": self.app_id}, **kw)

    def export(self, payload: Any, **kw: Any) -> httpx.Response:
        return self.post("/v1/customers/export", payload, params={"app_id": self.app_id}, **kw)


def assert_success(r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    assert data["status"] == "success"
    assert data["message"] == SUCCESS_MESSAGE
    assert len(data["request_id"]) == 8 and data["request_id"].isalpha()
    return data


def assert_fail(
    r: httpx.Response, status: int, error_type: str, message: str | None = None, attribute: str | None = None
) -> dict[str, Any]:
    """The documented failure shape; `message` may be a prefix when it ends with '…'."""
    assert r.status_code == status, r.text
    data: dict[str, Any] = r.json()
    assert data["status"] == "fail", data
    error = data["error"]
    assert error["type"] == error_type, error
    if message is not None:
        if message.endswith("…"):
            assert error["message"].startswith(message[:-1]), error
        else:
            assert error["message"] == message, error
    if attribute is None:
        assert "attribute" not in error, error
    else:
        assert error["attribute"] == attribute, error
    assert len(error["request_id"]) == 8 and error["request_id"].isalpha()
    assert list(data) == ["status", "error"]
    return error
