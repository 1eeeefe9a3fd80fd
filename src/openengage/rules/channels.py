"""Channel reachability of a profile, as a pure function (WebEngage: "Channels"; MoEngage: "Reachability").

A user is reachable on a channel when an address for it is present and the user has not opted out:

| channel  | address                                   | opt-in (absent means)                               |
| -------- | ----------------------------------------- | --------------------------------------------------- |
| Email    | system attribute `email`                  | `emailOptIn` (true: WebEngage's default)            |
| SMS      | system attribute `phone`                  | `smsOptIn` (true)                                   |
| WhatsApp | system attribute `phone`                  | `whatsappOptIn` (false: WhatsApp needs an opt-in)   |
| Push     | a device with a `push_id` (MoEngage)      | the device's `moe_push_opted` (true)                |

The defaults are the ones the read API shows for a profile that never sent the flag.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

DEFAULT_OPT_IN = {"emailOptIn": True, "smsOptIn": True, "whatsappOptIn": False}


@dataclasses.dataclass(frozen=True)
class Channel:
    name: str
    reachable: bool
    address: str | None  # what a message would go to (a push channel: how many devices)
    why: str  # one line: why (not) reachable


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


def _by_address(name: str, address: str | None, flag: str, system: Mapping[str, Any], kind: str) -> Channel:
    opted = system.get(flag, DEFAULT_OPT_IN[flag])
    if address is None:
        return Channel(name, False, None, f"no {kind}")
    if opted is not True:
        return Channel(name, False, address, f"opted out ({flag} is {_flag(opted)})")
    default = "" if flag in system else " by default"
    return Channel(name, True, address, f"{kind} present, {flag} true{default}")


def _flag(value: Any) -> str:
    return "false" if value is False else "not set" if value is None else "not true"


def reachability(system: Mapping[str, Any], devices: Sequence[Mapping[str, Any]]) -> list[Channel]:
    """Email, SMS, WhatsApp and push, in that order."""
    email, phone = _text(system.get("email")), _text(system.get("phone"))
    with_token = [d for d in devices if _text(d.get("push_id"))]
    opted_in = [d for d in with_token if d.get("moe_push_opted", True) is not False]
    if not with_token:
        push = Channel("Push", False, None, "no device with a push token")
    elif not opted_in:
        push = Channel("Push", False, f"{len(with_token)} device(s)", "every device opted out of push")
    else:
        push = Channel("Push", True, f"{len(opted_in)} device(s)", "a device with a push token, not opted out")
    return [
        _by_address("Email", email, "emailOptIn", system, "email address"),
        _by_address("SMS", phone, "smsOptIn", system, "phone number"),
        _by_address("WhatsApp", phone, "whatsappOptIn", system, "phone number"),
        push,
    ]
