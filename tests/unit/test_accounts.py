"""The pure rules of accounts.py: roles, permissions, who may do what to whom, input checks."""

from __future__ import annotations

import pytest

from openengage import accounts as acc
from openengage.accounts import Actor, Member
from openengage.errors import NotFound, PermissionDenied

ALL = frozenset(acc.PERMISSIONS)


def member(email: str, role: str = "admin", perms: frozenset[str] = ALL, owner: bool = False, mid: int = 0) -> Member:
    return Member(mid or hash(email) % 1000 + 1, 1, email, role, perms, True, owner)


def test_the_permission_names_are_webengages() -> None:
    assert acc.PERMISSIONS == (
        "account_management",
        "update_data",
        "view_dashboard",
        "view_profiles",
        "export_users",
        "update_integrations",
        "update_settings",
    )
    assert set(acc.PERMISSION_LABELS) == set(acc.PERMISSIONS)


def test_presets() -> None:
    assert acc.role_permissions("admin") == ALL
    assert acc.role_permissions("manager") == ALL - {"account_management"}
    assert acc.role_permissions("custom", ["view_profiles", "view_profiles"]) == {"view_profiles"}
    assert acc.role_permissions("custom") == frozenset()
    with pytest.raises(ValueError, match="only to --role custom"):
        acc.role_permissions("admin", ["update_data"])
    with pytest.raises(ValueError, match="only to --role custom"):
        acc.role_permissions("manager", ["update_data"])
    with pytest.raises(ValueError, match="unknown permission"):
        acc.role_permissions("custom", ["sudo"])
    with pytest.raises(ValueError, match="unknown role"):
        acc.role_permissions("owner")


def test_check_role() -> None:
    acc.check_role("admin", ALL)
    acc.check_role("custom", frozenset({"update_data"}))
    for role, perms in (("admin", frozenset()), ("manager", ALL), ("root", ALL), ("custom", frozenset({"x"}))):
        with pytest.raises(ValueError):
            acc.check_role(role, perms)


def test_the_rest_rule_is_the_seeds() -> None:
    assert acc.can_authenticate_rest(ALL)
    assert acc.can_authenticate_rest(frozenset({"account_management", "update_data"}))
    assert not acc.can_authenticate_rest(acc.role_permissions("manager"))
    assert not acc.can_authenticate_rest(frozenset({"account_management"}))


def test_each_action_names_its_permission() -> None:
    for action, permission in acc.ACTION_PERMISSION.items():
        acc.check_action(member("a@x", "custom", frozenset({permission})), action)
        with pytest.raises(PermissionDenied, match=acc.PERMISSION_LABELS[permission]):
            acc.check_action(member("a@x", "custom", ALL - {permission}), action)


def test_issuing_a_key_for_someone_else_is_team_management() -> None:
    me = member("me@x", "custom", frozenset({"update_integrations"}), mid=1)
    acc.check_action(me, acc.ISSUE_KEY, me)
    with pytest.raises(PermissionDenied, match="Account Management"):
        acc.check_action(me, acc.ISSUE_KEY, member("other@x", mid=2))


def test_grants() -> None:
    hr = member("hr@x", "custom", frozenset({"account_management", "view_dashboard"}))
    acc.check_grant(hr, frozenset({"view_dashboard"}))
    with pytest.raises(PermissionDenied, match="Update Data Management, Export Users"):
        acc.check_grant(hr, frozenset({"update_data", "export_users"}))


def test_the_owner_and_the_last_admin_stay() -> None:
    owner, admin, mgr = (
        member("o@x", owner=True),
        member("a@x"),
        member("m@x", "manager", acc.role_permissions("manager")),
    )
    team = [owner, admin, mgr]
    with pytest.raises(PermissionDenied, match="owns the account"):
        acc.check_removal(owner, team)
    with pytest.raises(PermissionDenied, match="owns the account"):
        acc.check_role_change(owner, "custom", team)
    acc.check_role_change(owner, "admin", team)
    acc.check_removal(admin, team)
    acc.check_role_change(admin, "manager", team)
    acc.check_removal(mgr, [admin, mgr])
    with pytest.raises(PermissionDenied, match="last admin"):
        acc.check_removal(admin, [admin, mgr])
    with pytest.raises(PermissionDenied, match="last admin"):
        acc.check_role_change(admin, "manager", [admin, mgr])


def test_the_acting_member() -> None:
    owner, other = member("o@x", owner=True), member("a@x")
    assert acc.acting_member(Actor("cli:alice"), [other, owner]) is owner
    assert acc.acting_member(Actor.for_member("a@x"), [other, owner]) is other
    with pytest.raises(NotFound, match="no team member 'z@x'"):
        acc.acting_member(Actor.for_member("z@x"), [owner])
    with pytest.raises(NotFound, match="no owner"):
        acc.acting_member(Actor("cli:alice"), [other])


@pytest.mark.parametrize("email", ["owner@localhost", "a.b+c@acme.test", "ünï@cødé.example", "x@y"])
def test_good_emails(email: str) -> None:
    assert acc.check_email(email) == email


@pytest.mark.parametrize(
    "email", ["notanemail", "", "@acme.test", "a@", "a@@b", "a b@c", "a@b\n", "a\x00@b", "a" * 260 + "@b.c"]
)
def test_bad_emails(email: str) -> None:
    with pytest.raises(ValueError, match="not an email address"):
        acc.check_email(email)


def test_limits() -> None:
    assert acc.parse_limit("events=0") == ("events", 0)
    assert acc.parse_limit("moengage-users=2147483647") == ("moengage-users", 2147483647)
    for bad in ("events=²", "events=①", "events=-1", "events=1.5", "events=", "events=2147483648", "x=1", "events"):
        with pytest.raises(ValueError):
            acc.parse_limit(bad)
    acc.check_limits({"users": 1})
    with pytest.raises(ValueError):
        acc.check_limits({"users": -1})
