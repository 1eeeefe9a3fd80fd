"""The `openengage` command line: serve, process, migrate, check, accounts, members, keys, audit, dead-letters.

Every error is one line on stderr (`Error: ...`) and a non-zero exit, never a traceback or a usage dump.
Administrative commands act as a team member: the one `--by EMAIL` names (their permissions are checked),
else the account's owner; the audit log records `--by`'s email, or `cli:<os user>` without it, from
address `local`.
"""

from __future__ import annotations

import asyncio
import dataclasses
import getpass
import json
import os
import sys
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar

import click

from openengage import __version__
from openengage import accounts as acc_rules
from openengage.accounts import Account, Actor
from openengage.api.shapes import audit_doc, dead_letter_doc
from openengage.errors import NotFound, OpenEngageError
from openengage.rules.dates import format_ms
from openengage.settings import Settings
from openengage.store import open_store
from openengage.store.base import ApiKey, AuditEntry, Campaign, Channel, DeadLetter, Page, Store, StoreStatus

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])


class OneLineErrors(click.Group):
    """Errors as one line: click's usage errors, OpenEngage's errors, and anything unexpected."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        **extra: Any,
    ) -> Any:
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        try:
            result = super().main(args, prog_name, complete_var, False, **extra)
        except click.exceptions.Abort:
            click.echo("Aborted!", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            click.echo(error_line(exc), err=True)
            sys.exit(exc.exit_code)
        except OpenEngageError as exc:
            click.echo(f"Error: {one_line(str(exc))}", err=True)
            sys.exit(1)
        except Exception as exc:  # a bug: still one line, with what it was
            click.echo(f"Error: unexpected {type(exc).__name__}: {one_line(str(exc))}", err=True)
            sys.exit(1)
        sys.exit(result if isinstance(result, int) else 0)


def one_line(text: str) -> str:
    return " ".join(line.strip() for line in text.splitlines() if line.strip())


def error_line(exc: click.ClickException) -> str:
    line = f"Error: {one_line(exc.format_message())}"
    if isinstance(exc, click.UsageError) and exc.ctx is not None:
        line += f" (see '{exc.ctx.command_path} --help')"
    return line


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


def by_option(fn: F) -> F:
    return click.option(
        "--by",
        "by_email",
        default=None,
        metavar="EMAIL",
        help="The team member acting (their permissions are checked). Default: the account's owner.",
    )(fn)


def os_user() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no login name in the environment and no passwd entry (containers)
        return f"uid{os.getuid()}"


def actor_for(by_email: str | None) -> Actor:
    """`--by EMAIL` acts (and is audited) as that member; without it the owner acts, audited as the OS user."""
    if by_email:
        return Actor.for_member(by_email)
    return Actor(f"cli:{os_user()}")


def settings_from(**overrides: Any) -> Settings:
    try:
        return Settings.from_env(**overrides)
    except OpenEngageError as exc:
        raise click.ClickException(str(exc)) from None


def run_async(fn: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run a coroutine; OpenEngage's errors and refused values become one-line errors."""
    try:
        return asyncio.run(fn())
    except (OpenEngageError, ValueError) as exc:
        raise click.ClickException(one_line(str(exc))) from None


def with_store(database_url: str | None, fn: Callable[[Store], Awaitable[T]]) -> T:
    """Open the store, run `fn`, close it."""

    async def run() -> T:
        store = open_store(settings_from(database_url=database_url))
        await store.open()
        try:
            return await fn(store)
        finally:
            await store.close()

    return run_async(run)


def with_unopened_store(database_url: str | None, fn: Callable[[Store], Awaitable[T]]) -> T:
    """For migrate and check: the store as it is, not opened (it may not be migrated)."""

    async def run() -> T:
        store = open_store(settings_from(database_url=database_url))
        try:
            return await fn(store)
        finally:
            await store.close()

    return run_async(run)


def emit(as_json: bool, data: Any, text: str) -> None:
    click.echo(json.dumps(data, indent=2, sort_keys=True) if as_json else text)


def parse_limits(values: tuple[str, ...]) -> dict[str, int]:
    limits: dict[str, int] = {}
    for value in values:
        try:
            name, per_minute = acc_rules.parse_limit(value)
        except ValueError as exc:
            raise click.BadParameter(str(exc)) from None
        limits[name] = per_minute
    return limits


def account_doc(account: Account) -> dict[str, Any]:
    return {
        "id": account.id,
        "name": account.name,
        "license_code": account.license_code,
        "app_id": account.app_id,
        "rate_limits": {name: account.limit(name) for name in acc_rules.DEFAULT_LIMITS},
    }


def account_text(account: Account) -> str:
    width = max(len(n) for n in acc_rules.DEFAULT_LIMITS)
    lines = [
        f"name:          {account.name}",
        f"license code:  {account.license_code}",
        f"app id:        {account.app_id}",
        "rate limits per minute (0 = unlimited):",
    ]
    lines += [f"  {name:<{width}}  {account.limit(name)}" for name in acc_rules.DEFAULT_LIMITS]
    return "\n".join(lines)


async def find_account(store: Store, license_code: str) -> Account:
    account = await store.account_by_license(license_code)
    if account is None:
        raise NotFound(f"no account with license code '{license_code}'")
    return account


@click.group(cls=OneLineErrors)
@click.version_option(__version__, prog_name="openengage")
def main() -> None:
    """OpenEngage: a self-hosted CDP speaking the WebEngage and MoEngage APIs."""


# ---------------------------------------------------------------- server


@main.command()
@database_option
@click.option("--host", default=None, help="Interface to bind. Default: 127.0.0.1")
@click.option("--port", default=None, type=click.IntRange(1, 65535), help="Port (1-65535). Default: 8000")
@click.option("--workers", default=None, type=click.IntRange(min=1), help="API processes. Default: 1")
@click.option("--processor/--no-processor", default=None, help="Run the processor too (default) or API only.")
@click.option("--sender/--no-sender", default=None, help="Run the message sender too (default) or not.")
@click.option("--migrate/--no-migrate", default=None, help="Apply pending migrations on start (default).")
@click.option(
    "--log-format", default=None, type=click.Choice(["text", "json"]), help="Log lines as text (default) or JSON."
)
@click.option(
    "--gdpr-pending-days",
    default=None,
    type=click.IntRange(0, 3650),
    help="Days a GDPR erasure stays pending (cancellable) before it runs. Default: 7",
)
def serve(
    database_url: str | None,
    host: str | None,
    port: int | None,
    workers: int | None,
    processor: bool | None,
    sender: bool | None,
    migrate: bool | None,
    log_format: str | None,
    gdpr_pending_days: int | None,
) -> None:
    """Run the HTTP API and the processor. On an empty store, create and print a first account."""
    from openengage.serve import serve as run_server

    settings = settings_from(
        database_url=database_url,
        host=host,
        port=port,
        workers=workers,
        processor=processor,
        sender=sender,
        migrate=migrate,
        log_format=log_format,
        gdpr_pending_days=gdpr_pending_days,
    )
    try:
        status = run_server(settings)
    except OpenEngageError as exc:
        raise click.ClickException(str(exc)) from None
    sys.exit(status)


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
    applied = with_unopened_store(database_url, lambda store: store.migrate())
    click.echo(f"applied {len(applied)} migrations" + (f": {', '.join(applied)}" if applied else ""))


@main.command()
@database_option
def check(database_url: str | None) -> None:
    """Exit 0 when the store is reachable and fully migrated, 1 otherwise (naming what `migrate` would apply)."""

    async def run(store: Store) -> StoreStatus:
        return await store.check()

    status = with_unopened_store(database_url, run)
    if status.reachable and status.migrated:
        click.echo("ok: store reachable and migrated")
        return
    if not status.reachable:
        click.echo(f"Error: store not reachable: {one_line(status.detail)}", err=True)
    else:
        todo = status.pending_migrations
        click.echo(f"Error: {len(todo)} migrations pending ({', '.join(todo)}); run `openengage migrate`", err=True)
    sys.exit(1)


# ---------------------------------------------------------------- data in and out


@main.command()
@click.argument("path", type=click.Path(dir_okay=False))
@database_option
@json_option
def backup(path: str, database_url: str | None, as_json: bool) -> None:
    """Write a consistent copy of a SQLite store to PATH while servers run (PostgreSQL: use pg_dump)."""
    from openengage.store.sqlite.backup import backup as sqlite_backup

    url = settings_from(database_url=database_url).database_url
    if not url.startswith("sqlite:///"):
        raise click.ClickException(
            "backup copies SQLite stores; for PostgreSQL use pg_dump (see docs/operations.md, 'Backup')"
        )
    try:
        result = sqlite_backup(url.removeprefix("sqlite:///"), path)
    except OpenEngageError as exc:
        raise click.ClickException(str(exc)) from None
    emit(
        as_json,
        dataclasses.asdict(result),
        f"backup written: {result.store_path} and {result.log_path} ({result.bytes} bytes; "
        f"{result.pending_entries} log entries not yet processed)",
    )


def _lines_with_progress(file: Any, label: str) -> Any:
    """The file's lines; on a terminal, with a progress bar over its bytes."""
    size = os.fstat(file.fileno()).st_size if hasattr(file, "fileno") else 0
    if not sys.stderr.isatty() or not size:
        yield from file
        return
    with click.progressbar(length=size, label=label, file=sys.stderr) as bar:
        for line in file:
            bar.update(len(line.encode("utf-8", "surrogateescape")))
            yield line


@main.command("import")
@click.argument("license_code")
@click.argument("path", type=click.File("r", encoding="utf-8", errors="surrogateescape"))
@click.option("--kind", type=click.Choice(["users", "events"]), required=True, help="What each row is.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "ndjson"]),
    default=None,
    help="File format. Default: from the file name (.csv, else NDJSON).",
)
@database_option
@json_option
def import_(license_code: str, path: Any, kind: str, fmt: str | None, database_url: str | None, as_json: bool) -> None:
    """Import users or events from a CSV or NDJSON file (- for stdin), through the API's rules.

    Bad rows are reported by line number and skipped; the exit status is 1 if there were any.
    """
    from openengage.transfer import rows
    from openengage.transfer.importer import import_rows

    fmt = fmt or ("csv" if str(path.name).lower().endswith(".csv") else "ndjson")
    lines = _lines_with_progress(path, f"importing {kind}")
    source = rows.csv_rows(lines, kind) if fmt == "csv" else rows.ndjson_rows(lines)

    def bad(row: rows.BadRow) -> None:
        click.echo(f"line {row.line}: {row.message}", err=True)

    async def run(store: Store) -> Any:
        account = await find_account(store, license_code)
        return await import_rows(store, account.id, kind, source, bad)

    report = with_store(database_url, run)
    emit(
        as_json,
        dataclasses.asdict(report),
        f"imported {report.records} {kind} records from {report.rows} rows; {report.bad_rows} bad rows",
    )
    if report.bad_rows:
        sys.exit(1)


@main.command()
@click.argument("license_code")
@click.option("--kind", type=click.Choice(["users", "events"]), required=True, help="What to export.")
@click.option("--format", "fmt", type=click.Choice(["ndjson", "csv"]), default="ndjson", show_default=True)
@click.option("--output", "-o", type=click.File("w", encoding="utf-8", lazy=True), default="-", help="File (- stdout).")
@database_option
def export(license_code: str, kind: str, fmt: str, output: Any, database_url: str | None) -> None:
    """Export every user or event of an account as NDJSON or CSV (what `openengage import` reads)."""
    from openengage.transfer.exporter import export as run_export

    async def run(store: Store) -> int:
        account = await find_account(store, license_code)
        stats = await store.stats(account.id)
        total = stats.users + stats.anonymous_users if kind == "users" else stats.events
        if not sys.stderr.isatty() or not total:
            return await run_export(store, account.id, kind, fmt, output.write, lambda n: None)
        with click.progressbar(length=total, label=f"exporting {kind}", file=sys.stderr) as bar:
            return await run_export(store, account.id, kind, fmt, output.write, bar.update)

    rows = with_store(database_url, run)
    output.flush()
    click.echo(f"exported {rows} {kind} rows", err=True)


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
    creds = with_store(database_url, lambda s: s.create_account(name, owner, limits, actor=actor_for(None)))
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
    emit(as_json, account_doc(account), account_text(account))


@accounts.command("set-limit")
@click.argument("license_code")
@click.argument("limits", nargs=-1, required=True, metavar="NAME=PER_MINUTE...")
@by_option
@database_option
@json_option
def accounts_set_limit(
    license_code: str, limits: tuple[str, ...], by_email: str | None, database_url: str | None, as_json: bool
) -> None:
    """Override rate limits of an account (0 = unlimited); running nodes pick it up within a second.

    Needs Update Settings."""
    parsed = parse_limits(limits)

    async def run(store: Store) -> Account:
        account = await find_account(store, license_code)
        return await store.set_limits(account.id, parsed, actor=actor_for(by_email))

    account = with_store(database_url, run)
    doc = account_doc(account)
    emit(as_json, doc, "\n".join(f"{k}={v}" for k, v in doc["rate_limits"].items()))


@accounts.command("rotate-data-key")
@click.argument("license_code")
@by_option
@database_option
@json_option
def accounts_rotate_data_key(license_code: str, by_email: str | None, database_url: str | None, as_json: bool) -> None:
    """Replace the account's MoEngage Data API key (the old one stops working). Needs Update Integrations."""

    async def run(store: Store) -> tuple[Account, str]:
        account = await find_account(store, license_code)
        return account, await store.rotate_data_api_key(account.id, actor=actor_for(by_email))

    account, key = with_store(database_url, run)
    emit(as_json, {"app_id": account.app_id, "data_api_key": key}, f"data api key: {key}   (shown once)")


# ---------------------------------------------------------------- members


def _role(role: str, permissions: tuple[str, ...]) -> frozenset[str]:
    try:
        return acc_rules.role_permissions(role, permissions)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def _email(email: str) -> str:
    try:
        return acc_rules.check_email(email)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None


def member_doc(member: acc_rules.Member) -> dict[str, Any]:
    return {
        "email": member.email,
        "role": member.role,
        "permissions": sorted(member.permissions),
        "owner": member.owner,
        "has_active_key": member.has_key,
        "can_use_rest_api": acc_rules.can_authenticate_rest(member.permissions),
    }


_ROLE = click.option("--role", type=click.Choice(acc_rules.ROLES), required=True)
_PERMS = click.option(
    "--permission",
    "permissions",
    multiple=True,
    type=click.Choice(acc_rules.PERMISSIONS),
    help="A permission of a custom role (repeatable; only with --role custom).",
)


@main.group()
def members() -> None:
    """Team members of an account: roles and permissions."""


@members.command("add")
@click.argument("license_code")
@click.argument("email")
@_ROLE
@_PERMS
@by_option
@database_option
@json_option
def members_add(
    license_code: str,
    email: str,
    role: str,
    permissions: tuple[str, ...],
    by_email: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Add a team member; print their new API key (shown once). Needs Account Management."""
    _email(email)
    perms = _role(role, permissions)

    async def run(store: Store) -> tuple[acc_rules.Member, str]:
        account = await find_account(store, license_code)
        return await store.add_member(account.id, email, role, perms, actor=actor_for(by_email))

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
        f"{m.email}  {m.role}{' (owner)' if m.owner else ''}  {','.join(sorted(m.permissions)) or '-'}  "
        f"key:{'yes' if m.has_key else 'no'}"
        for m in found
    ]
    emit(as_json, {"members": [member_doc(m) for m in found]}, "\n".join(lines))


@members.command("set-role")
@click.argument("license_code")
@click.argument("email")
@_ROLE
@_PERMS
@by_option
@database_option
@json_option
def members_set_role(
    license_code: str,
    email: str,
    role: str,
    permissions: tuple[str, ...],
    by_email: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Change a member's role. This revokes their API key (issue a new one with `keys issue`).

    Needs Account Management; the owner and the last admin stay admins."""
    perms = _role(role, permissions)

    async def run(store: Store) -> acc_rules.Member:
        account = await find_account(store, license_code)
        return await store.set_role(account.id, email, role, perms, actor=actor_for(by_email))

    member = with_store(database_url, run)
    emit(as_json, member_doc(member), f"{email} is now {role}; their API key was revoked")


@members.command("remove")
@click.argument("license_code")
@click.argument("email")
@by_option
@database_option
@json_option
def members_remove(
    license_code: str, email: str, by_email: str | None, database_url: str | None, as_json: bool
) -> None:
    """Delete a team member and revoke their API key. Needs Account Management; the owner and the last
    admin cannot be removed."""

    async def run(store: Store) -> None:
        account = await find_account(store, license_code)
        await store.remove_member(account.id, email, actor=actor_for(by_email))

    with_store(database_url, run)
    emit(as_json, {"email": email, "removed": True}, f"{email} removed; their API key was revoked")


def stdin_is_terminal() -> bool:
    return sys.stdin.isatty()


def _read_password() -> str:
    """From stdin when it is not a terminal (scripts: `printf %s "$PW" | openengage members set-password ...`),
    else prompted twice without echo. One trailing newline of piped input is not part of the password."""
    if not stdin_is_terminal():
        text = sys.stdin.read()
        return text[:-2] if text.endswith("\r\n") else text.removesuffix("\n")
    return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))


@members.command("set-password")
@click.argument("license_code")
@click.argument("email")
@by_option
@database_option
@json_option
def members_set_password(
    license_code: str, email: str, by_email: str | None, database_url: str | None, as_json: bool
) -> None:
    """Set a member's dashboard password (read from stdin when it is not a terminal, else prompted twice).

    Stored as an Argon2id hash; the member's dashboard sessions of this account end."""
    from openengage.dashboard import auth as passwords

    try:
        hashed = passwords.hash_password(_read_password())
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="password") from None

    async def run(store: Store) -> None:
        account = await find_account(store, license_code)
        await store.set_password(account.id, email, hashed, actor=actor_for(by_email))

    with_store(database_url, run)
    emit(as_json, {"email": email, "password_set": True}, f"password of {email} set")


@members.command("login-link")
@click.argument("license_code")
@click.argument("email")
@click.option(
    "--base-url",
    default=None,
    metavar="URL",
    help="The server's address as browsers reach it. Default: from --host/--port settings (http://127.0.0.1:8000)",
)
@by_option
@database_option
@json_option
def members_login_link(
    license_code: str,
    email: str,
    base_url: str | None,
    by_email: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Print a one-time dashboard sign-in URL for a member: valid 24 hours, it works once."""
    from openengage.dashboard.auth import login_link
    from openengage.serve import base_url as serve_base_url

    settings = settings_from(database_url=database_url)

    async def run(store: Store) -> str:
        account = await find_account(store, license_code)
        return await login_link(store, account.id, email, base_url or serve_base_url(settings), actor_for(by_email))

    url = with_store(database_url, run)
    emit(as_json, {"email": email, "url": url, "valid_hours": 24}, f"{url}\n(valid 24 hours, single use)")


# ---------------------------------------------------------------- keys


@main.group()
def keys() -> None:
    """REST API keys of team members (stored only as hashes)."""


@keys.command("issue")
@click.argument("license_code")
@click.argument("email")
@by_option
@database_option
@json_option
def keys_issue(license_code: str, email: str, by_email: str | None, database_url: str | None, as_json: bool) -> None:
    """Give a member a new API key, revoking their current one. Needs Update Integrations (and Account
    Management for another member's key)."""

    async def run(store: Store) -> str:
        account = await find_account(store, license_code)
        return await store.issue_key(account.id, email, actor=actor_for(by_email))

    key = with_store(database_url, run)
    emit(as_json, {"email": email, "api_key": key}, f"api key: {key}   (shown once)")


@keys.command("revoke")
@click.argument("license_code")
@click.argument("email")
@by_option
@database_option
@json_option
def keys_revoke(license_code: str, email: str, by_email: str | None, database_url: str | None, as_json: bool) -> None:
    """Revoke a member's API key. Needs Update Data (Management); without --by the owner acts."""

    async def run(store: Store) -> str:
        account = await find_account(store, license_code)
        acting = by_email
        if acting is None:  # for the output; the store resolves (and checks) the owner itself
            acting = next((m.email for m in await store.list_members(account.id) if m.owner), None)
        await store.revoke_key(account.id, email, actor=actor_for(by_email))
        return acting or ""

    acting = with_store(database_url, run)
    emit(as_json, {"email": email, "revoked": True, "by": acting}, f"{email}'s API key revoked by {acting}")


@keys.command("list")
@click.argument("license_code")
@database_option
@json_option
def keys_list(license_code: str, database_url: str | None, as_json: bool) -> None:
    """List keys (hints only: the last four characters)."""

    async def run(store: Store) -> list[ApiKey]:
        return await store.list_keys((await find_account(store, license_code)).id)

    found = with_store(database_url, run)
    lines = [
        f"{k.member}  {k.hint}  {'revoked: ' + (k.revoked_reason or '') if k.revoked_at else 'active'}" for k in found
    ]
    emit(as_json, {"keys": [dataclasses.asdict(k) for k in found]}, "\n".join(lines))


# ---------------------------------------------------------------- audit


@main.group()
def audit() -> None:
    """The audit log: every administrative action (CLI and dashboard), kept in the store."""


@audit.command("list")
@click.argument("license_code")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True, help="Entries per page.")
@click.option("--cursor", default=None, help="Where to continue: the `next` value of the previous page.")
@database_option
@json_option
def audit_list(license_code: str, limit: int, cursor: str | None, database_url: str | None, as_json: bool) -> None:
    """List an account's administrative actions, newest first: time, actor, address, action, target."""

    async def run(store: Store) -> Page[AuditEntry]:
        return await store.audit((await find_account(store, license_code)).id, limit, cursor)

    page = with_store(database_url, run)
    lines = [
        "  ".join(x for x in (format_ms(e.at), e.actor, e.address, e.action, e.target, e.detail) if x)
        for e in page.items
    ]
    if page.next:
        lines.append(f"(more: --cursor {page.next})")
    emit(as_json, {"entries": [audit_doc(e) for e in page.items], "next": page.next}, "\n".join(lines))


# ---------------------------------------------------------------- dead letters


@main.group("dead-letters")
def dead_letters() -> None:
    """Log entries the processor could not apply: list them, queue them again, or drop them."""


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
        return await store.retry_dead_letters((await find_account(store, license_code)).id, wanted, actor_for(None))

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
        return await store.drop_dead_letters((await find_account(store, license_code)).id, wanted, actor_for(None))

    dropped = with_store(database_url, run)
    emit(as_json, {"dropped": dropped}, f"dropped {len(dropped)} dead letters")


# ---------------------------------------------------------------- messaging (issue #10)


def channel_doc(channel: Channel) -> dict[str, Any]:
    """A channel as shown: where it sends, never the SMTP password or the webhook secret."""
    if channel.kind == "email":
        config = {"smtp_url": channel.config.get("smtp_display", ""), "from": channel.config.get("from", "")}
    else:
        config = {"url": channel.config.get("url", ""), "signed": bool(channel.secret)}
    return {"kind": channel.kind, **config, "updated_at": format_ms(channel.updated_at)}


def campaign_doc(c: Campaign) -> dict[str, Any]:
    return {
        "id": c.code,
        "name": c.name,
        "channel": c.channel,
        "status": c.status,
        "subject": c.subject,
        "body_type": "html" if c.html else "text",
        "created_at": format_ms(c.created_at),
        "updated_at": format_ms(c.updated_at),
    }


@main.group()
def channels() -> None:
    """Delivery channels of an account: email (SMTP) and webhook. Changes need Update Integrations."""


@channels.command("set")
@click.argument("license_code")
@click.argument("kind", type=click.Choice(["email", "webhook"]))
@click.option(
    "--smtp-url",
    default=None,
    metavar="URL",
    help="email: smtp://[USER:PASSWORD@]HOST:PORT (or smtps://, smtp+starttls://).",
)
@click.option("--from", "sender", default=None, metavar="ADDRESS", help="email: the From address.")
@click.option("--url", default=None, help="webhook: where to POST each message (http:// or https://).")
@click.option("--rotate-secret", is_flag=True, help="webhook: replace the signing secret (shown once).")
@by_option
@database_option
@json_option
def channels_set(
    license_code: str,
    kind: str,
    smtp_url: str | None,
    sender: str | None,
    url: str | None,
    rotate_secret: bool,
    by_email: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Set up the account's email or webhook channel. A webhook's signing secret is made the first time
    (or with --rotate-secret) and shown once."""
    from openengage.rules.channel_config import email_config, webhook_config

    secret: str | None = None
    if kind == "email":
        if not smtp_url or not sender or url or rotate_secret:
            raise click.UsageError(
                "email takes --smtp-url URL and --from ADDRESS (and neither --url nor --rotate-secret)"
            )
        config = email_config(smtp_url, sender)
    else:
        if not url or smtp_url or sender:
            raise click.UsageError("webhook takes --url URL (and neither --smtp-url nor --from)")
        config = webhook_config(url)

    async def run(store: Store) -> tuple[Channel, str | None]:
        nonlocal secret
        account = await find_account(store, license_code)
        if kind == "webhook" and (rotate_secret or await store.channel(account.id, kind) is None):
            secret = acc_rules.new_webhook_secret()
        return await store.set_channel(account.id, kind, config, secret, actor=actor_for(by_email)), secret

    channel, shown = with_store(database_url, run)
    doc = channel_doc(channel)
    text = "  ".join(f"{k}: {v}" for k, v in doc.items())
    if shown is not None:
        doc["secret"] = shown
        text += f"\nsigning secret: {shown}   (shown once; receivers verify X-OpenEngage-Signature with it)"
    emit(as_json, doc, text)


@channels.command("list")
@click.argument("license_code")
@database_option
@json_option
def channels_list(license_code: str, database_url: str | None, as_json: bool) -> None:
    """The account's channels (SMTP passwords and webhook secrets are never shown)."""

    async def run(store: Store) -> list[Channel]:
        return await store.channels((await find_account(store, license_code)).id)

    docs = [channel_doc(c) for c in with_store(database_url, run)]
    text = "\n".join("  ".join(f"{k}: {v}" for k, v in d.items()) for d in docs) or "no channels"
    emit(as_json, {"channels": docs}, text)


@channels.command("test")
@click.argument("license_code")
@click.argument("kind", type=click.Choice(["email", "webhook"]))
@click.option("--to", default=None, metavar="ADDRESS", help="email: where to send the test message.")
@database_option
@json_option
def channels_test(license_code: str, kind: str, to: str | None, database_url: str | None, as_json: bool) -> None:
    """Send a test message through a channel now (not through the outbox) and say what happened."""
    from openengage.messaging.test_message import send_test

    if kind == "email" and not to:
        raise click.UsageError("email takes --to ADDRESS")

    async def run(store: Store) -> str:
        account = await find_account(store, license_code)
        channel = await store.channel(account.id, kind)
        if channel is None:
            raise NotFound(f"the account has no {kind} channel; set it up with `openengage channels set`")
        return await send_test(channel, to, account.license_code)

    result = with_store(database_url, run)
    emit(as_json, {"kind": kind, "result": result}, result)


@main.group()
def campaigns() -> None:
    """Transactional campaigns: create, start, pause, list. Changes need Update Integrations."""


@campaigns.command("create")
@click.argument("license_code")
@click.option("--name", required=True, help="The campaign's name.")
@click.option("--channel", type=click.Choice(["email", "webhook"]), required=True)
@click.option("--subject", required=True, help="Subject template ({{ user.firstName }}, {{ token.orderId }}).")
@click.option(
    "--body-file",
    type=click.Path(exists=True, dir_okay=False),
    required=True,
    help="Body template; a file named *.html or *.htm is HTML (values autoescaped), anything else plain text.",
)
@by_option
@database_option
@json_option
def campaigns_create(
    license_code: str,
    name: str,
    channel: str,
    subject: str,
    body_file: str,
    by_email: str | None,
    database_url: str | None,
    as_json: bool,
) -> None:
    """Create a campaign (in draft; start it to use it) and print its id. A template error is refused with
    its line and reason."""
    from openengage.rules.templates import is_html

    try:
        with open(body_file, encoding="utf-8") as f:
            body = f.read()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {body_file}: {exc}") from None

    async def run(store: Store) -> Campaign:
        account = await find_account(store, license_code)
        return await store.create_campaign(
            account.id, name, channel, subject, body, is_html(body_file), actor=actor_for(by_email)
        )

    campaign = with_store(database_url, run)
    emit(as_json, campaign_doc(campaign), campaign.code)


def _set_status(license_code: str, code: str, status: str, by_email: str | None, database_url: str | None) -> Campaign:
    async def run(store: Store) -> Campaign:
        account = await find_account(store, license_code)
        return await store.set_campaign_status(account.id, code, status, actor=actor_for(by_email))

    return with_store(database_url, run)


@campaigns.command("start")
@click.argument("license_code")
@click.argument("campaign_id")
@by_option
@database_option
@json_option
def campaigns_start(
    license_code: str, campaign_id: str, by_email: str | None, database_url: str | None, as_json: bool
) -> None:
    """Start a campaign: the transaction API accepts it from now on (running)."""
    campaign = _set_status(license_code, campaign_id, "running", by_email, database_url)
    emit(as_json, campaign_doc(campaign), f"{campaign.code} running")


@campaigns.command("pause")
@click.argument("license_code")
@click.argument("campaign_id")
@by_option
@database_option
@json_option
def campaigns_pause(
    license_code: str, campaign_id: str, by_email: str | None, database_url: str | None, as_json: bool
) -> None:
    """Pause a campaign: new transactions for it answer 404; messages already accepted are still delivered."""
    campaign = _set_status(license_code, campaign_id, "paused", by_email, database_url)
    emit(as_json, campaign_doc(campaign), f"{campaign.code} paused")


@campaigns.command("list")
@click.argument("license_code")
@database_option
@json_option
def campaigns_list(license_code: str, database_url: str | None, as_json: bool) -> None:
    """The account's campaigns, newest first."""

    async def run(store: Store) -> list[Campaign]:
        return await store.campaigns((await find_account(store, license_code)).id)

    docs = [campaign_doc(c) for c in with_store(database_url, run)]
    text = "\n".join(f"{d['id']}  {d['status']:<8} {d['channel']:<8} {d['name']}" for d in docs) or "no campaigns"
    emit(as_json, {"campaigns": docs}, text)
