"""Accounts, team members, roles and permissions: the data and the pure rules over it, written once.

From the WebEngage getting-started seed and its Team docs: REST calls authenticate with the key of a team
member who holds both Account Management and Update Data; Admin, Manager or any custom role with Update Data
(Management) may revoke another member's key; deleting a member or changing their role revokes their key.

OpenEngage adds: the account's owner (the member created with it) can be neither removed nor demoted, an
account always keeps one admin, and nobody grants permissions they do not hold themselves. The store applies
these rules inside the transaction that makes the change, so they hold against concurrent changes too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
import string
from collections.abc import Iterable, Sequence

from openengage.errors import NotFound, PermissionDenied

# ---------------------------------------------------------------- permissions (WebEngage's names)

ACCOUNT_MANAGEMENT = "account_management"  # team and roles
UPDATE_DATA = "update_data"  # Update Data Management: data pages' changes, revoking keys
VIEW_DASHBOARD = "view_dashboard"  # every page except individual profiles and PII
VIEW_PROFILES = "view_profiles"  # user list, profiles, live events, debugger
EXPORT_USERS = "export_users"
UPDATE_INTEGRATIONS = "update_integrations"  # integration pages, generating keys
UPDATE_SETTINGS = "update_settings"  # account settings such as rate limits

PERMISSIONS: tuple[str, ...] = (
    ACCOUNT_MANAGEMENT,
    UPDATE_DATA,
    VIEW_DASHBOARD,
    VIEW_PROFILES,
    EXPORT_USERS,
    UPDATE_INTEGRATIONS,
    UPDATE_SETTINGS,
)

# How messages name them (the vendor's labels).
PERMISSION_LABELS: dict[str, str] = {
    ACCOUNT_MANAGEMENT: "Account Management",
    UPDATE_DATA: "Update Data Management",
    VIEW_DASHBOARD: "View Dashboard",
    VIEW_PROFILES: "View Profiles",
    EXPORT_USERS: "Export Users",
    UPDATE_INTEGRATIONS: "Update Integrations",
    UPDATE_SETTINGS: "Update Settings",
}

ADMIN_ROLE = "admin"
MANAGER_ROLE = "manager"
CUSTOM_ROLE = "custom"
ROLES: tuple[str, ...] = (ADMIN_ROLE, MANAGER_ROLE, CUSTOM_ROLE)

ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    ADMIN_ROLE: frozenset(PERMISSIONS),
    MANAGER_ROLE: frozenset(PERMISSIONS) - {ACCOUNT_MANAGEMENT},
}

REST_PERMISSIONS = frozenset({ACCOUNT_MANAGEMENT, UPDATE_DATA})

# Administrative actions, as the audit log names them, and the permission each needs.
CREATE_ACCOUNT = "account.create"
SET_LIMITS = "account.set_limits"
ROTATE_DATA_KEY = "account.rotate_data_key"
ADD_MEMBER = "member.add"
SET_ROLE = "member.set_role"
REMOVE_MEMBER = "member.remove"
ISSUE_KEY = "key.issue"
REVOKE_KEY = "key.revoke"
SET_PASSWORD = "member.set_password"  # dashboard password (CLI); Account Management for someone else's
LOGIN_LINK = "member.login_link"  # a one-time dashboard sign-in link (CLI, first run)
# Messaging (issue #10): channels and transactional campaigns are integrations, like WebEngage's ESP setup.
SET_CHANNEL = "channel.set"
CREATE_CAMPAIGN = "campaign.create"
SET_CAMPAIGN_STATUS = "campaign.set_status"

ACTION_PERMISSION: dict[str, str] = {
    SET_LIMITS: UPDATE_SETTINGS,
    ROTATE_DATA_KEY: UPDATE_INTEGRATIONS,
    ADD_MEMBER: ACCOUNT_MANAGEMENT,
    SET_ROLE: ACCOUNT_MANAGEMENT,
    REMOVE_MEMBER: ACCOUNT_MANAGEMENT,
    ISSUE_KEY: UPDATE_INTEGRATIONS,
    REVOKE_KEY: UPDATE_DATA,
    SET_CHANNEL: UPDATE_INTEGRATIONS,
    CREATE_CAMPAIGN: UPDATE_INTEGRATIONS,
    SET_CAMPAIGN_STATUS: UPDATE_INTEGRATIONS,
}

# Default per-minute limits (0 = unlimited). WebEngage: getting-started and bulk seeds;
# MoEngage: the current rate-limits page (10,000 user updates, 30,000 events per minute).
DEFAULT_LIMITS: dict[str, int] = {
    "users": 5000,
    "events": 5000,
    "bulk": 500,
    "moengage-users": 10000,
    "moengage-events": 30000,
    # WebEngage getting-started and Business Events pages: GDPR API 100 per minute, creating business
    # events 1 per minute, triggering them 500 (issue #10)
    "gdpr": 100,
    "business-definitions": 1,
    "business-events": 500,
    "transactions": 100,  # WebEngage's Transactional Campaign API: 100 per minute
}
MAX_LIMIT = 2**31 - 1  # limits are 32-bit integers in the store

# ---------------------------------------------------------------- data


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
    owner: bool = False  # the member created with the account


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


@dataclasses.dataclass(frozen=True)
class Actor:
    """Who performs an administrative action.

    `name` is what the audit log shows (a member's email, `cli:<os user>`, `system`); `address` the client's
    address (`local` for the CLI); `member` the email of the team member whose permissions are checked, or
    None for the account's owner (the CLI without `--by`).
    """

    name: str
    address: str = "local"
    member: str | None = None

    @classmethod
    def for_member(cls, email: str, address: str = "local") -> Actor:
        return cls(email, address, email)


# What `serve` and embedding code act as when they name no actor: the owner's permissions, audited as "system".
SYSTEM = Actor("system")

# ---------------------------------------------------------------- rules


def role_permissions(role: str, custom: Iterable[str] = ()) -> frozenset[str]:
    """Permissions of a role: admin and manager are presets; a custom role holds exactly those it lists."""
    listed = frozenset(custom)
    if role in ROLE_PERMISSIONS:
        if listed:
            raise ValueError(
                f"--permission applies only to --role custom; {role} has a fixed set "
                f"({', '.join(sorted(ROLE_PERMISSIONS[role]))})"
            )
        return ROLE_PERMISSIONS[role]
    if role != CUSTOM_ROLE:
        raise ValueError(f"unknown role '{role}'; use one of {', '.join(ROLES)}")
    unknown = listed - set(PERMISSIONS)
    if unknown:
        raise ValueError(f"unknown permission(s) {', '.join(sorted(unknown))}; use {', '.join(PERMISSIONS)}")
    return listed


def check_role(role: str, permissions: frozenset[str]) -> None:
    """ValueError unless `permissions` are what `role` holds (a preset's set, or known names for custom)."""
    if role == CUSTOM_ROLE:
        role_permissions(CUSTOM_ROLE, permissions)
        return
    preset = ROLE_PERMISSIONS.get(role)
    if preset is None:
        raise ValueError(f"unknown role '{role}'; use one of {', '.join(ROLES)}")
    if permissions != preset:
        raise ValueError(f"role {role} holds exactly {', '.join(sorted(preset))}")


def can_authenticate_rest(permissions: frozenset[str]) -> bool:
    return permissions >= REST_PERMISSIONS


def can_revoke_keys(permissions: frozenset[str]) -> bool:
    return UPDATE_DATA in permissions


def require(actor: Member, permission: str, doing: str) -> None:
    """PermissionDenied unless `actor` holds `permission`."""
    if permission not in actor.permissions:
        label = PERMISSION_LABELS[permission]
        raise PermissionDenied(f"'{actor.email}' lacks the {label} permission needed to {doing}")


def check_action(actor: Member, action: str, target: Member | None = None) -> None:
    """May `actor` perform `action` (on `target`)? Issuing a key for someone else is team management."""
    doing = {
        SET_LIMITS: "change rate limits",
        ROTATE_DATA_KEY: "generate a Data API key",
        ADD_MEMBER: "add team members",
        SET_ROLE: "change roles",
        REMOVE_MEMBER: "remove team members",
        ISSUE_KEY: "generate API keys",
        REVOKE_KEY: "revoke keys",
        SET_CHANNEL: "set up messaging channels",
        CREATE_CAMPAIGN: "create campaigns",
        SET_CAMPAIGN_STATUS: "start or pause campaigns",
    }[action]
    require(actor, ACTION_PERMISSION[action], doing)
    if action == ISSUE_KEY and target is not None and target.id != actor.id:
        require(actor, ACCOUNT_MANAGEMENT, "generate keys for other members")


def check_grant(actor: Member, permissions: frozenset[str]) -> None:
    """Nobody hands out permissions they do not hold (a custom Account Management role cannot make admins)."""
    missing = permissions - actor.permissions
    if missing:
        names = ", ".join(PERMISSION_LABELS[p] for p in PERMISSIONS if p in missing)
        raise PermissionDenied(f"'{actor.email}' cannot grant permissions they do not hold: {names}")


def _admins(team: Sequence[Member]) -> int:
    return sum(1 for m in team if m.role == ADMIN_ROLE)


def check_removal(target: Member, team: Sequence[Member]) -> None:
    """The owner and the last admin stay."""
    if target.owner:
        raise PermissionDenied(f"'{target.email}' owns the account and cannot be removed")
    if target.role == ADMIN_ROLE and _admins(team) <= 1:
        raise PermissionDenied(f"'{target.email}' is the account's last admin and cannot be removed")


def check_role_change(target: Member, role: str, team: Sequence[Member]) -> None:
    """The owner stays an admin, and so does the last admin."""
    if role == ADMIN_ROLE:
        return
    if target.owner:
        raise PermissionDenied(f"'{target.email}' owns the account and stays an admin")
    if target.role == ADMIN_ROLE and _admins(team) <= 1:
        raise PermissionDenied(f"'{target.email}' is the account's last admin and stays an admin")


def acting_member(actor: Actor, team: Sequence[Member]) -> Member:
    """The member whose permissions count for `actor`: the one it names, else the owner."""
    if actor.member is not None:
        for m in team:
            if m.email == actor.member:
                return m
        raise NotFound(f"no team member '{actor.member}' in this account")
    for m in team:
        if m.owner:
            return m
    raise NotFound("this account has no owner to act by default; name the acting team member (CLI: --by EMAIL)")


# ---------------------------------------------------------------- input

_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def check_email(email: str) -> str:
    """A team member's email: one `@` with something on both sides, no spaces or control characters.

    Deliberately loose (`owner@localhost` is valid): it is an identifier for sign-in, not an address we
    deliver to; it catches the typo of a name without a domain.
    """
    if len(email) > 254 or not _EMAIL.fullmatch(email) or not email.isprintable():
        shown = repr(email if len(email) <= 80 else email[:80] + "…")  # control characters made visible
        raise ValueError(f"{shown} is not an email address (expected NAME@DOMAIN)")
    return email


def parse_limit(value: str) -> tuple[str, int]:
    """`NAME=PER_MINUTE` with a known NAME and a whole number from 0 (unlimited) to MAX_LIMIT."""
    name, sep, number = value.partition("=")
    if not sep or name not in DEFAULT_LIMITS:
        raise ValueError(
            f"'{value}': use NAME=PER_MINUTE with NAME one of {', '.join(DEFAULT_LIMITS)} (0 means unlimited)"
        )
    # str.isdigit() accepts "²" and "①", which int() refuses: only ASCII digits, and not too many.
    if not (number.isascii() and number.isdigit()) or len(number) > 10 or int(number) > MAX_LIMIT:
        raise ValueError(f"'{value}': PER_MINUTE must be a whole number from 0 to {MAX_LIMIT} (0 means unlimited)")
    return name, int(number)


def check_limits(limits: dict[str, int]) -> None:
    """ValueError unless every name is a known limit and every value fits (0 means unlimited)."""
    for name, per_minute in limits.items():
        parse_limit(f"{name}={per_minute}")


# ---------------------------------------------------------------- keys and codes


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


def new_campaign_code() -> str:
    """Campaign (experiment) ids look like WebEngage's `~3ekekrh`: a tilde and hex digits."""
    return "~" + secrets.token_hex(4)


def new_webhook_secret() -> str:
    """The key a webhook channel signs its bodies with (HMAC-SHA256); shown once."""
    return "whsec_" + secrets.token_urlsafe(32)


def new_data_api_key() -> str:
    return secrets.token_urlsafe(24)
