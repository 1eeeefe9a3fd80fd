"""Accounts, team members, roles and permissions: the data and the pure rules over it.

From the WebEngage getting-started seed: REST calls authenticate with the key of a team member who holds
both Account Management and Update Data; Admin, Manager or any custom role with Update Data (Management)
may revoke another member's key; deleting a member or changing their role revokes their key.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import secrets
import string
from collections.abc import Iterable

ACCOUNT_MANAGEMENT = "account_management"
UPDATE_DATA = "update_data"
PERMISSIONS: tuple[str, ...] = (ACCOUNT_MANAGEMENT, UPDATE_DATA)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({ACCOUNT_MANAGEMENT, UPDATE_DATA}),
    "manager": frozenset({UPDATE_DATA}),
}
CUSTOM_ROLE = "custom"
ROLES: tuple[str, ...] = ("admin", "manager", CUSTOM_ROLE)

REST_PERMISSIONS = frozenset({ACCOUNT_MANAGEMENT, UPDATE_DATA})

# Default per-minute limits (0 = unlimited). WebEngage: getting-started and bulk seeds;
# MoEngage: the current rate-limits page (10,000 user updates, 30,000 events per minute).
DEFAULT_LIMITS: dict[str, int] = {
    "users": 5000,
    "events": 5000,
    "bulk": 500,
    "moengage-users": 10000,
    "moengage-events": 30000,
}


@dataclasses.dataclass(frozen=True)
class Account:
    id: int
    name: str
    license_code: str
    app_id: str
    limits: dict[str, int]
    data_api_key_hash: str | None = None

    def limit(self, bucket: str) -> int:
        return self.limits.get(bucket, DEFAULT_LIMITS.get(bucket, 0))


@dataclasses.dataclass(frozen=True)
class Member:
    id: int
    account_id: int
    email: str
    role: str
    permissions: frozenset[str]
    has_key: bool = False


@dataclasses.dataclass(frozen=True)
class Principal:
    """The team member an API key belongs to."""

    member_id: int
    account_id: int
    email: str
    permissions: frozenset[str]


@dataclasses.dataclass(frozen=True)
class Credentials:
    """What `accounts create` hands out once; only hashes are stored."""

    account_id: int
    name: str
    license_code: str
    app_id: str
    api_key: str
    data_api_key: str
    owner_email: str


def role_permissions(role: str, custom: Iterable[str] = ()) -> frozenset[str]:
    """Permissions of a role; a custom role holds exactly the permissions it lists."""
    if role in ROLE_PERMISSIONS:
        return ROLE_PERMISSIONS[role]
    if role != CUSTOM_ROLE:
        raise ValueError(f"unknown role '{role}'; use one of {', '.join(ROLES)}")
    perms = frozenset(custom)
    unknown = perms - set(PERMISSIONS)
    if unknown:
        raise ValueError(f"unknown permission(s) {sorted(unknown)}; use {', '.join(PERMISSIONS)}")
    return perms


def can_authenticate_rest(permissions: frozenset[str]) -> bool:
    return permissions >= REST_PERMISSIONS


def can_revoke_keys(permissions: frozenset[str]) -> bool:
    return UPDATE_DATA in permissions


def hash_key(key: str) -> str:
    """Keys are stored only as SHA-256 hex digests (they are random, so no salt or KDF is needed)."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def key_matches(key: str, stored_hash: str) -> bool:
    return hmac.compare_digest(hash_key(key), stored_hash)


def new_api_key() -> str:
    """A WebEngage-style REST API key: five dash-separated hex groups plus randomness."""
    raw = secrets.token_hex(16)
    return f"{raw[:8]}-{raw[8:12]}-{raw[12:16]}-{raw[16:20]}-{raw[20:]}{secrets.token_hex(8)}"


def new_license_code() -> str:
    """License codes look like WebEngage's `~2024b707`: a tilde and eight hex digits."""
    return "~" + secrets.token_hex(4)


def new_app_id() -> str:
    """MoEngage workspace ids are 24 upper-case letters and digits."""
    alphabet = string.ascii_uppercase + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(24))


def new_data_api_key() -> str:
    return secrets.token_urlsafe(24)
