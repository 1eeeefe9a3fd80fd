"""Request bodies from the vendor documents (docs.webengage.com: Getting Started, Users, Events, Bulk APIs)."""

from __future__ import annotations

from typing import Any

GETTING_STARTED_USER: dict[str, Any] = {"userId": "johndoe21#", "firstName": "John", "lastName": "Doe"}

USER: dict[str, Any] = {
    "userId": "johndoe",
    "firstName": "John",
    "lastName": "Doe",
    "birthDate": "1986-08-19T15:45:00-0800",
    "gender": "male",
    "email": "john@doe.com",
    "phone": "+551155256325",
    "company": "Alphabet Inc.",
    "attributes": {"Age": "31", "Twitter username": "@origjohndoe86", "Dollars spent": 461.93, "Points earned": 78732},
}

EVENT: dict[str, Any] = {
    "userId": "johndoe",
    "eventName": "Added to Cart",
    "eventTime": "2018-09-15T18:29:00-0800",
    "eventData": {
        "Product ID": 1337,
        "Price": 39.80,
        "Quantity": 1,
        "Product": "Givenchy Pour Homme Cologne",
        "Category": "Fragrance",
        "Currency": "USD",
    },
}

BULK_USERS: dict[str, Any] = {"users": [USER, USER]}
BULK_EVENTS: dict[str, Any] = {"events": [EVENT, EVENT]}

# RudderStack's WebEngage destination fixtures (reference C.2).
RUDDER_IDENTIFY: dict[str, Any] = {
    "email": "chandan@companyname.com",
    "phone": "+919876543210",
    "userId": "rudder1236",
    "lastName": "Doe",
    "firstName": "James",
    "gender": "female",
    "birthDate": "2022-05-13T12:51:01+0000",
    "country": "INDIA",
    "attributes": {"age": "12", "state": "WB"},
}
RUDDER_PAGE: dict[str, Any] = {
    "anonymousId": "bf412108-0357-4330-b119-7305e767823c",
    "eventName": "Viewed a page",
    "eventTime": "2022-01-20T13:39:21+0000",
    "userId": "user123456001",
}
