"""The `openengage` command line: serve, process, migrate, check, accounts, members, keys, dead-letters."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from openengage import __version__
from openengage import accounts as acc_rules
from openengage.accounts import Account
from openengage.errors import NotFound, OpenEngageError
from openengage.rules.dates import format_ms
from openengage.settings import Settings
from openengage.store import open_store
from openengage.store.base import DeadLetter, Store

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


def database_option(fn: F) -> F:
    return click.option(
        "--database-url",
        default=None,
        help="Store URL (sqlite:///PATH or postgresql://...). Default: sqlite:///openengage.db",
        show_envvar=True,
        envvar="OPENENGAGE_DATABASE_URL",
    )(fn)


def json_option(fn: F) -> F:
    return click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")(fn)


def settings_from(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except OpenEngageError as exc:
        raise click.ClickException(str(exc)) from None


def with_store(database_url: str | None, fn: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store, run `fn`, close it; errors become one line, never a traceback."""

    async def run() -> T:
        store = open_store(settings_from(database_url=database_url))
        await store.open()
        try:
            return await fn(store)
        finally:
            await store.close()

    try:
        return asyncio.run(run())
    except (OpenEngageError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None


def emit(as_json: bool, data: Any, text: str) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else text)


def parse_limits(values: tuple[str, ...]) -> dict[str, int]:
    limits: dict[str, int] = {}
    for value in values:
        name, sep, number = value.partition("=")
        if not sep or name not in acc_rules.DEFAULT_LIMITS or not number.isdigit():
            raise click.BadParameter(
                f"'{value}': use NAME=PER_MINUTE with NAME one of {', '.join(acc_rules.DEFAULT_LIMITS)} "
                "(0 means unlimited)"
            )
        limits[name] = int(number)
    return limits


def account_doc(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "license_code": account.license_code,
        "app_id": account.app_id,
        "rate_limits": {name: account.limit(name) for name in acc_rules.DEFAULT_LIMITS},
    }


async def find_account(store: Store, license_code: str) -> Account:
    account = await store.account_by_license(license_code)
    if account is None:
        raise NotFound(f"no account with license code '{license_code}'")
    return account


@click.group()
@click.version_option(__version__, prog_name="openengage")
def main() -> None:
    """OpenEngage: a self-hosted CDP speaking the WebEngage and MoEngage APIs."""


# ---------------------------------------------------------------- server


@main.command()
@database_option
@click.option("--host", default=None, help="Interface to bind. Default: 127.0.0.1")
@click.option("--port", default=None, type=int, help="Port. Default: 8000")
@click.option("--workers", default=None, type=int, help="API processes. Default: 1")
@click.option("--processor/--no-processor", default=None, help="Run the processor too (default) or API only.")
@click.option("--migrate/--no-migrate", default=None, help="Apply pending migrations on start (default).")
def serve(
    database_url: str | None,
    host: str | None,
    port: int | None,
    workers: int | None,
    processor: bool | None,
    migrate: bool | None,
) -> None:
    """Run the HTTP API and the processor. On an empty store, create and print a first account."""
    from openengage.serve import serve as run_server

    settings = settings_from(
        database_url=database_url, host=host, port=port, workers=workers, processor=processor, migrate=migrate
    )
    try:
        run_server(settings)
    except OpenEngageError as exc:
        raise click.ClickException(str(exc)) from None


@main.command()
@database_option
@click.option("--burst", is_flag=True, help="Apply everything pending, then exit.")
def process(database_url: str | None, burst: bool) -> None:
    """Run the processor alone (for API-only nodes elsewhere, or a one-off `--burst`)."""
    from openengage.serve import run_processor

    try:
        applied = run_processor(settings_from(database_url=database_url), burst=burst)
    except OpenEngageError as exc:
        raise click.ClickException(str(exc)) from None
    if burst:
        click.echo(f"applied {applied} records")


@main.command()
@database_option
def migrate(database_url: str | None) -> None:
    """Apply pending migrations."""
    store = open_store(settings_from(database_url=database_url))

    async def run() -> list[str]:
        try:
            return await store.migrate()
        finally:
            await store.close()

    try:
        applied = asyncio.run(run())
    except OpenEngageError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"applied {len(applied)} migrations" + (f": {', '.join(applied)}" if applied else ""))


@main.command()
@database_option
def check(database_url: str | None) -> None:
    """Exit 0 when the store is reachable and fully migrated, 1 otherwise."""
    store = open_store(settings_from(database_url=database_url))

    async def run() -> Any:
        try:
            return await store.check()
        finally:
            await store.close()

    status = asyncio.run(run())
    if status.reachable and status.migrated:
        click.echo("ok: store reachable and migrated")
        return
    if not status.reachable:
        click.echo(f"error: store not reachable: {status.detail}", err=True)
    else:
        click.echo(f"error: {len(status.pending_migrations)} migrations pending; run `openengage migrate`", err=True)
    sys.exit(1)


# ---------------------------------------------------------------- accounts


@main.group()
def accounts() -> None:
    """Create and inspect accounts."""


@accounts.command("create")
@click.argument("name")
@click.option("--owner", default="owner@localhost", show_default=True, help="Email of the owner (an admin).")
@click.option("--rate-limit", "rate_limits", multiple=True, metavar="NAME=PER_MINUTE", help="Override a limit.")
@database_option
@json_option
def accounts_create(
    name: str, owner: str, rate_limits: tuple[str, ...], database_url: str | None, as_json: bool
) -> None:
    """Create an account with its owner; print its credentials (shown once)."""
    limits = parse_limits(rate_limits)
    creds = with_store(database_url, lambda s: s.create_account(name, owner, limits))
    data = dataclasses.asdict(creds)
    data["rate_limits"] = {n: limits.get(n, d) for n, d in acc_rules.DEFAULT_LIMITS.items()}
    text = "\n".join(
        [
            f"account '{name}' created",
            f"license code:  {creds.license_code}",
            f"api key:       {creds.api_key}   (owner {owner}; shown once)",
            f"app id:        {creds.app_id}",
            f"data api key:  {creds.data_api_key}   (shown once)",
        ]
    )
    emit(as_json, data, text)


@accounts.command("list")
@database_option
@json_option
def accounts_list(database_url: str | None, as_json: bool) -> None:
    """List accounts."""
    found = with_store(database_url, lambda s: s.list_accounts())
    docs = [account_doc(a) for a in found]
    emit(as_json, {"accounts": docs}, "\n".join(f"{a.license_code}  {a.app_id}  {a.name}" for a in found))


@accounts.command("show")
@click.argument("license_code")
@database_option
@json_option
def accounts_show(license_code: str, database_url: str | None, as_json: bool) -> None:
    """Show one account and its effective rate limits."""
    account = with_store(database_url, lambda s: find_account(s, license_code))
    doc = account_doc(account)
    emit(as_json, doc, "\n".join(f"{k}: {v}" for k, v in doc.items()))


@accounts.command("set-limit")
@click.argument("license_code")
@click.argument("limits", nargs=-1, required=True, metavar="NAME=PER_MINUTE...")
@database_option
@json_option
def accounts_set_limit(license_code: str, limits: tuple[str, ...], database_url: str | None, as_json: bool) -> None:
    """Override rate limits of an account (0 = unlimited); running nodes pick it up within a second."""
    parsed = parse_limits(limits)

    async def run(store: Store) -> Account:
        account = await find_account(store, license_code)
        return await store.set_limits(account.id, parsed)

    account = with_store(database_url, run)
    doc = account_doc(account)
    emit(as_json, doc, "\n".join(f"{k}={v}" for k, v in doc["rate_limits"].items()))


@accounts.command("rotate-data-key")
@click.argument("license_code")
@database_option
@json_option
def accounts_rotate_data_key(license_code: str, database_url: str | None, as_json: bool) -> None:
    """Replace the account's MoEngage Data API key (the old one stops working)."""

    async def run(store: Store) -> tuple[Account, str]:
        account = await find_account(store, license_code)
        return account, await store.rotate_data_api_key(account.id)

    account, key = with_store(database_url, run)
    emit(as_json, {"app_id": account.app_id, "data_api_key": key}, f"data api key: {key}   (shown once)")


# ---------------------------------------------------------------- members


def _role(role: str, permissions: tuple[str, ...]) -> frozenset[str]:
    try:
        return acc_rules.role_permissions(role, permissions)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def member_doc(member: acc_rules.Member) -> dict[str, Any]:
    return {
        "email": member.email,
        "role": member.role,
        "permissions": sorted(member.permissions),
        "has_active_key": member.has_key,
        "can_use_rest_api": acc_rules.can_authenticate_rest(member.permissions),
    }


_ROLE = click.option("--role", type=click.Choice(acc_rules.ROLES), required=True)
_PERMS = click.option(
    "--permission",
    "permissions",
    multiple=True,
    type=click.Choice(acc_rules.PERMISSIONS),
    help="Permissions of a custom role (repeatable).",
)


@main.group()
def members() -> None:
    """Team members of an account: roles and permissions."""


@members.command("add")
@click.argument("license_code")
@click.argument("email")
@_ROLE
@_PERMS
@database_option
@json_option
def members_add(
    license_code: str,
    email: str,
    role: str,
    permissions: tuple[str, ...],
    database_url: str | None,
    as_json: bool,
) -> None:
    """Add a team member; print their new API key (shown once)."""
    perms = _role(role, permissions)

    async def run(store: Store) -> tuple[acc_rules.Member, str]:
        account = await find_account(store, license_code)
        return await store.add_member(account.id, email, role, perms)

    member, key = with_store(database_url, run)
    doc = member_doc(member) | {"api_key": key}
    emit(as_json, doc, f"member {email} added as {role}\napi key: {key}   (shown once)")


@members.command("list")
@click.argument("license_code")
@database_option
@json_option
def members_list(license_code: str, database_url: str | None, as_json: bool) -> None:
    """List team members."""

    async def run(store: Store) -> list[acc_rules.Member]:
        return await store.list_members((await find_account(store, license_code)).id)

    found = with_store(database_url, run)
    lines = [
        f"{m.email}  {m.role}  {','.join(sorted(m.permissions)) or '-'}  key:{'yes' if m.has_key else 'no'}"
        for m in found
    ]
    emit(as_json, {"members": [member_doc(m) for m in found]}, "\n".join(lines))


@members.command("set-role")
@click.argument("license_code")
@click.argument("email")
@_ROLE
@_PERMS
@database_option
@json_option
def members_set_role(
    license_code: str,
    email: str,
    role: str,
    permissions: tuple[str, ...],
    database_url: str | None,
    as_json: bool,
) -> None:
    """Change a member's role. This revokes their API key (issue a new one with `keys issue`)."""
    perms = _role(role, permissions)

    async def run(store: Store) -> acc_rules.Member:
        return await store.set_role((await find_account(store, license_code)).id, email, role, perms)

    member = with_store(database_url, run)
    emit(as_json, member_doc(member), f"{email} is now {role}; their API key was revoked")


@members.command("remove")
@click.argument("license_code")
@click.argument("email")
@database_option
@json_option
def members_remove(license_code: str, email: str, database_url: str | None, as_json: bool) -> None:
    """Delete a team member and revoke their API key."""

    async def run(store: Store) -> None:
        await store.remove_member((await find_account(store, license_code)).id, email)

    with_store(database_url, run)
    emit(as_json, {"email": email, "removed": True}, f"{email} removed; their API key was revoked")


# ---------------------------------------------------------------- keys


@main.group()
def keys() -> None:
    """REST API keys of team members (stored only as hashes)."""


@keys.command("issue")
@click.argument("license_code")
@click.argument("email")
@database_option
@json_option
def keys_issue(license_code: str, email: str, database_url: str | None, as_json: bool) -> None:
    """Give a member a new API key, revoking their current one."""

    async def run(store: Store) -> str:
        return await store.issue_key((await find_account(store, license_code)).id, email)

    key = with_store(database_url, run)
    emit(as_json, {"email": email, "api_key": key}, f"api key: {key}   (shown once)")


@keys.command("revoke")
@click.argument("license_code")
@click.argument("email")
@click.option(
    "--by",
    "by_email",
    default=None,
    help="The member revoking (needs Update Data Management). Default: the owner.",
)
@database_option
@json_option
def keys_revoke(license_code: str, email: str, by_email: str | None, database_url: str | None, as_json: bool) -> None:
    """Revoke a member's API key."""

    async def run(store: Store) -> str:
        account = await find_account(store, license_code)
        actor = by_email or (await store.list_members(account.id))[0].email
        await store.revoke_key(account.id, email, actor)
        return actor

    actor = with_store(database_url, run)
    emit(as_json, {"email": email, "revoked": True, "by": actor}, f"{email}'s API key revoked by {actor}")


@keys.command("list")
@click.argument("license_code")
@database_option
@json_option
def keys_list(license_code: str, database_url: str | None, as_json: bool) -> None:
    """List keys (hints only: the last four characters)."""

    async def run(store: Store) -> list[dict[str, Any]]:
        return await store.list_keys((await find_account(store, license_code)).id)

    found = with_store(database_url, run)
    lines = [
        f"{k['member']}  {k['hint']}  {'revoked: ' + k['revoked_reason'] if k['revoked_at'] else 'active'}"
        for k in found
    ]
    emit(as_json, {"keys": found}, "\n".join(lines))


# ---------------------------------------------------------------- dead letters


@main.group("dead-letters")
def dead_letters() -> None:
    """Log entries the processor could not apply: list them, queue them again, or drop them."""


def dead_letter_doc(letter: DeadLetter) -> dict[str, Any]:
    try:
        payload: Any = json.loads(letter.payload)
    except (ValueError, RecursionError):
        payload = letter.payload.decode("utf-8", "replace")
    return {
        "id": letter.id,
        "log_id": letter.log_id,
        "error": letter.error,
        "message": letter.message,
        "records": letter.records,
        "attempts": letter.attempts,
        "requeued": letter.requeued,
        "received_at": format_ms(letter.received_at),
        "failed_at": format_ms(letter.failed_at),
        "payload": payload,
    }


def dead_letter_ids(ids: tuple[str, ...], every: bool) -> list[int] | None:
    """The ids given (None for --all); exactly one of the two."""
    if every and ids:
        raise click.ClickException("give dead letter ids or --all, not both")
    if every:
        return None
    if not ids:
        raise click.ClickException("give the ids of the dead letters (see `openengage dead-letters list`) or --all")
    bad = [i for i in ids if not (i.isascii() and i.isdigit() and 0 < int(i) < 2**63)]
    if bad:
        raise click.ClickException(f"'{bad[0]}' is not a dead letter id (a whole number, as `list` shows)")
    return sorted({int(i) for i in ids})


_DEAD_LETTER_IDS = click.argument("ids", nargs=-1, metavar="[ID]...")
_ALL = click.option("--all", "every", is_flag=True, help="Every dead letter of the account.")


@dead_letters.command("list")
@click.argument("license_code")
@database_option
@json_option
def dead_letters_list(license_code: str, database_url: str | None, as_json: bool) -> None:
    """List an account's dead letters, newest first, with the error that stopped each."""

    async def run(store: Store) -> list[DeadLetter]:
        account = await find_account(store, license_code)
        found: list[DeadLetter] = []
        cursor = None
        while True:
            page = await store.dead_letters(account.id, 1000, cursor)
            found += page.items
            if page.next is None:
                return found
            cursor = page.next

    found = with_store(database_url, run)
    lines = [
        f"{d.id}  {format_ms(d.failed_at)}  {d.records} records  {d.error}: "
        + " ".join(d.message.split())[:200]
        + ("  (queued again)" if d.requeued else "")
        for d in found
    ]
    emit(as_json, {"dead_letters": [dead_letter_doc(d) for d in found]}, "\n".join(lines) or "no dead letters")


@dead_letters.command("retry")
@click.argument("license_code")
@_DEAD_LETTER_IDS
@_ALL
@database_option
@json_option
def dead_letters_retry(
    license_code: str, ids: tuple[str, ...], every: bool, database_url: str | None, as_json: bool
) -> None:
    """Queue dead letters again; the processor applies each once and then deletes it."""
    wanted = dead_letter_ids(ids, every)

    async def run(store: Store) -> list[int]:
        return await store.retry_dead_letters((await find_account(store, license_code)).id, wanted)

    queued = with_store(database_url, run)
    waiting = sorted(set(wanted or ()) - set(queued))
    text = f"queued {len(queued)} dead letters again" + (
        f"; already queued: {', '.join(map(str, waiting))}" if waiting else ""
    )
    emit(as_json, {"requeued": queued, "already_queued": waiting}, text)


@dead_letters.command("drop")
@click.argument("license_code")
@_DEAD_LETTER_IDS
@_ALL
@database_option
@json_option
def dead_letters_drop(
    license_code: str, ids: tuple[str, ...], every: bool, database_url: str | None, as_json: bool
) -> None:
    """Delete dead letters for good (their records are never applied)."""
    wanted = dead_letter_ids(ids, every)

    async def run(store: Store) -> list[int]:
        return await store.drop_dead_letters((await find_account(store, license_code)).id, wanted)

    dropped = with_store(database_url, run)
    emit(as_json, {"dropped": dropped}, f"dropped {len(dropped)} dead letters")
