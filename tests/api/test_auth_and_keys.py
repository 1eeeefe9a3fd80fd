"""Team members, roles and keys: who may call the REST API, and revocation reaching the API."""

from __future__ import annotations

import pytest

from openengage import accounts as acc
from openengage.errors import PermissionDenied
from tests.support import seeds
from tests.support.harness import Harness


def add(api: Harness, email: str, role: str, *perms: str) -> str:
    _, key = api.call(api.store.add_member, api.creds.account_id, email, role, acc.role_permissions(role, perms))
    api.refresh_auth()
    return key


async def revoke(api: Harness, email: str, by: str) -> None:
    await api.store.revoke_key(api.creds.account_id, email, actor=acc.Actor.for_member(by))


def status(api: Harness, key: str) -> int:
    return api.post("/users", seeds.USER, key=key).status_code


def test_only_members_with_both_permissions_authenticate(api: Harness) -> None:
    assert status(api, add(api, "admin2@x.test", "admin")) == 201
    assert status(api, add(api, "mgr@x.test", "manager")) == 401
    assert status(api, add(api, "c1@x.test", "custom", acc.UPDATE_DATA)) == 401
    assert status(api, add(api, "c2@x.test", "custom", acc.ACCOUNT_MANAGEMENT)) == 401
    assert status(api, add(api, "c3@x.test", "custom", acc.ACCOUNT_MANAGEMENT, acc.UPDATE_DATA)) == 201
    r = api.post("/users", seeds.USER, key=add(api, "c4@x.test", "custom"))
    assert "Account Management and Update Data" in r.json()["response"]["message"]


def test_role_change_revokes_the_key(api: Harness) -> None:
    key = add(api, "a@x.test", "admin")
    assert status(api, key) == 201
    api.call(api.store.set_role, api.creds.account_id, "a@x.test", "admin", acc.role_permissions("admin"))
    api.refresh_auth()
    assert status(api, key) == 401
    new_key = api.call(api.store.issue_key, api.creds.account_id, "a@x.test")
    api.refresh_auth()
    assert status(api, new_key) == 201


def test_deleting_a_member_revokes_the_key(api: Harness) -> None:
    key = add(api, "gone@x.test", "admin")
    api.call(api.store.remove_member, api.creds.account_id, "gone@x.test")
    api.refresh_auth()
    assert status(api, key) == 401


def test_revocation_needs_update_data_management(api: Harness) -> None:
    target = add(api, "t@x.test", "admin")
    add(api, "viewer@x.test", "custom", acc.ACCOUNT_MANAGEMENT)
    with pytest.raises(PermissionDenied):
        api.call(revoke, api, "t@x.test", "viewer@x.test")
    assert status(api, target) == 201
    add(api, "m@x.test", "manager")
    api.call(revoke, api, "t@x.test", "m@x.test")
    api.refresh_auth()
    assert status(api, target) == 401
    keys = api.call(api.store.list_keys, api.creds.account_id)
    assert any(k.member == "t@x.test" and k.revoked_reason == "revoked by m@x.test" for k in keys)


def test_keys_are_stored_only_as_hashes(api: Harness, backend: str) -> None:
    keys = api.call(api.store.list_keys, api.creds.account_id)
    assert all(api.creds.api_key not in str(k) for k in keys)
    assert keys[0].hint == "…" + api.creds.api_key[-4:]
    if backend == "sqlite":  # nothing on disk holds a key in clear
        from pathlib import Path

        path = Path(api.settings.database_url.removeprefix("sqlite:///"))
        for file in path.parent.iterdir():
            raw = file.read_bytes()
            assert api.creds.api_key.encode() not in raw and api.creds.data_api_key.encode() not in raw, file


def test_no_account_reads_or_writes_another(api: Harness) -> None:
    other = api.call(api.store.create_account, "other", "o@x.test", None)
    api.refresh_auth()
    api.post("/users", seeds.USER)
    api.drain()
    # other's key on our license code, and our key on theirs
    assert api.post("/users", seeds.USER, key=other.api_key).status_code == 401
    assert api.get("/users/johndoe", key=other.api_key).status_code == 401
    assert api.get("/stats", lc=other.license_code).status_code == 401
    # other's own view has none of our data
    r = api.get("/users/johndoe", lc=other.license_code, key=other.api_key)
    assert r.status_code == 404
    assert api.data("/stats", lc=other.license_code, key=other.api_key)["users"] == 0


@pytest.mark.usefixtures("steady_rate_window")
def test_account_limits_change_takes_effect_after_refresh(api: Harness) -> None:
    api.call(api.store.set_limits, api.creds.account_id, {"users": 1})
    api.refresh_auth()
    assert status(api, api.creds.api_key) == 201
    assert status(api, api.creds.api_key) == 429
