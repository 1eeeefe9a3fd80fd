"""Processing on PostgreSQL: claims of a partition's oldest entries, and the writes that apply them.

A claim takes a partition's session advisory lock (`pg_try_advisory_lock`, so nodes never wait on
each other: a busy partition is skipped), then reads the partition's oldest entries in id order in a
REPEATABLE READ transaction. The lock is taken before the transaction starts, so its snapshot always
includes the previous holder's commit. Each unit of work is one REPEATABLE READ transaction: load,
write, delete the entries applied (the acknowledgement), commit. The lock is held until the claim
ends, so the claim's entries stay its own across units (the processor may apply them in smaller
units, or dead-letter one). A crash rolls the open transaction back and the closed session frees
the lock: another node continues from the same entries, and nothing is applied twice.

Records of different partitions may touch the same profile (an identify links an anonymous id of
another partition; a merge names two users). Every transaction that changes a profile's identities,
events or devices also writes the profile's row, so under REPEATABLE READ two such transactions
conflict on that row and the later one fails with a serialization error (or a deadlock, or a unique
violation on an identity both created): `Contention`, and the processor tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Sequence
from typing import Any, TypeVar

import psycopg
from psycopg_pool import PoolTimeout

from openengage.errors import StoreUnavailable
from openengage.rules.dates import now_ms
from openengage.store import common
from openengage.store.base import Contention, Effects, Needs, QueuedEntry, State, StoredProfile
from openengage.store.postgres import derived
from openengage.store.postgres.connection import LOCK_PARTITION, RETRYABLE, Conn, one_line
from openengage.store.sql import load_queries

Q = load_queries("openengage.store.postgres")
log = logging.getLogger("openengage.store.postgres")
T = TypeVar("T")

# SQLSTATE classes that say the database cannot be used right now, whatever the data: connection
# exception, insufficient resources (disk full, out of memory, too many connections), operator
# intervention (shutdown, cancel), system error (I/O). Plus: the server is read-only (a standby).
_UNAVAILABLE_CLASSES = ("08", "53", "57", "58")
_READ_ONLY = "25006"


def classify(exc: BaseException) -> Exception | None:
    """Contention or StoreUnavailable for a driver error that is not about the data; else None."""
    if isinstance(exc, RETRYABLE):
        return Contention(one_line(exc))
    if isinstance(exc, PoolTimeout | psycopg.InterfaceError):
        return StoreUnavailable(f"PostgreSQL is unavailable: {one_line(exc)}")
    if isinstance(exc, psycopg.Error):
        state = exc.sqlstate
        lost = state is None and isinstance(exc, psycopg.OperationalError)  # no answer from the server
        if lost or (state is not None and (state[:2] in _UNAVAILABLE_CLASSES or state == _READ_ONLY)):
            return StoreUnavailable(f"PostgreSQL is unavailable: {one_line(exc)}")
    return None


@contextlib.asynccontextmanager
async def store_errors() -> AsyncIterator[None]:
    """Raise driver errors that are not about the data as Contention or StoreUnavailable."""
    try:
        yield
    except Exception as exc:
        mapped = classify(exc)
        if mapped is None:
            raise
        raise mapped from exc


def _text(raw: bytes) -> str:
    return raw.decode()


def _forget(task: asyncio.Future[Any]) -> None:
    """Collect the outcome of an abandoned operation, so asyncio does not report it as never retrieved."""
    if not task.cancelled():
        task.exception()


class Deadline:
    """Bounds every operation of a claim. A network that stops carrying bytes never fails by itself, and
    the processor would wait on it for good; past `seconds` the connection is taken for dead: closed
    (which also frees its partition once the server notices), and StoreUnavailable raised, so the
    processor backs off and claims again on a new connection. The abandoned operation is left to
    fail on its own (cancelling a psycopg query waits for a reply a dead network never sends).
    Safe for exactly-once: an acknowledgement either committed with its effects or not at all."""

    def __init__(self, conn: Conn, seconds: float) -> None:
        self.conn = conn
        self.seconds = seconds

    async def __call__(self, operation: Awaitable[T]) -> T:
        task = asyncio.ensure_future(operation)
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.seconds)
        except TimeoutError:
            task.add_done_callback(_forget)
            await self.conn.close()
            raise StoreUnavailable(f"PostgreSQL did not answer within {self.seconds:g} s") from None


async def pending_partitions(conn: Conn, partitions: int) -> list[int]:
    cur = await conn.execute(Q["partitions_pending"], (partitions,))
    return [int(row[0]) for row in await cur.fetchall()]


async def claim(conn: Conn, partitions: int, max_records: int, deadline: Deadline) -> PostgresClaim | None:
    """Lock the oldest pending partition no one else holds and read its oldest entries (the first
    transaction stays open); None when every pending partition is taken or nothing is pending."""
    return await deadline(_claim(conn, partitions, max_records, deadline))


async def _claim(conn: Conn, partitions: int, max_records: int, deadline: Deadline) -> PostgresClaim | None:
    for part in await pending_partitions(conn, partitions):
        cur = await conn.execute(Q["partition_try_lock"], (LOCK_PARTITION, part))
        row = await cur.fetchone()
        if row is None or not row[0]:
            continue
        try:
            entries = await _read(conn, part, max_records)
        except BaseException:
            await _rollback_and_unlock(conn, part)
            raise
        if entries:
            return PostgresClaim(conn, part, entries, deadline)
        await _unlock(conn, part)  # another node emptied it between the listing and the lock
    return None


async def _read(conn: Conn, part: int, max_records: int) -> list[QueuedEntry]:
    await conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
    # Sizes first, payloads only for the entries taken (one snapshot: both reads agree).
    cur = await conn.execute(Q["claim_sizes"], (part, max_records))
    sizes = common.take_records(await cur.fetchall(), max_records, 1)
    if not sizes:
        await conn.execute("ROLLBACK")
        return []
    cur = await conn.execute(Q["claim_entries"], (part, sizes[-1][0]))
    return [
        QueuedEntry(int(r[0]), int(r[1]), int(r[2]), int(r[3]), bytes(r[4]), None if r[5] is None else int(r[5]))
        for r in await cur.fetchall()
    ]


async def _unlock(conn: Conn, part: int) -> None:
    """Release the partition; a session that cannot say so is closed, which releases it too (a pooled
    connection must never go back to the pool still holding a partition)."""
    if conn.closed:
        return
    try:
        await conn.execute(Q["partition_unlock"], (LOCK_PARTITION, part))
    except BaseException:
        await conn.close()
        raise


async def _rollback_and_unlock(conn: Conn, part: int) -> None:
    try:
        if not conn.closed and conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
            await conn.execute("ROLLBACK")
    except BaseException:
        await conn.close()  # frees the lock and the transaction with the session
        raise
    await _unlock(conn, part)


class PostgresClaim:
    """A Claim on PostgreSQL (see store/base.py): one pooled connection holding one partition; every
    operation within the `deadline`."""

    def __init__(self, conn: Conn, part: int, entries: list[QueuedEntry], deadline: Deadline) -> None:
        self._conn = conn
        self._part = part
        self._entries = entries
        self._deadline = deadline
        self._open = True  # claim() left the first transaction open

    @property
    def entries(self) -> Sequence[QueuedEntry]:
        return self._entries

    async def _begin(self) -> None:
        if not self._open:
            await self._conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ")
            self._open = True

    async def _commit(self, count: int) -> None:
        self._open = False  # committed or not, the transaction is over
        await self._conn.execute("COMMIT")
        self._entries = self._entries[count:]

    async def load(self, needs: Needs) -> State:
        async with store_errors():
            await self._deadline(self._begin())
            return await self._deadline(_load(self._conn, needs))

    async def write(self, effects: Effects) -> None:
        async with store_errors():
            await self._deadline(self._begin())
            await self._deadline(_write(self._conn, effects, self._part, now_ms()))

    async def ack(self, count: int) -> None:
        async with store_errors():
            await self._deadline(self._ack(count))

    async def _ack(self, count: int) -> None:
        done = self._entries[:count]
        await self._begin()
        ids = [e.id for e in done]
        await self._conn.execute(Q["processed_mark"], (ids, self._part, ids[-1], now_ms()))  # request traces
        await self._conn.execute(Q["ack_entries"], (ids,))
        retried = [(e.retry_of, e.account_id) for e in done if e.retry_of is not None]
        await _executemany(self._conn, Q["dead_letter_resolve"], retried)
        await self._commit(count)

    async def rollback(self) -> None:
        if self._open:
            self._open = False
            async with store_errors():
                await self._deadline(self._conn.execute("ROLLBACK"))

    async def dead_letter(self, error: str, message: str) -> None:
        await self.rollback()
        async with store_errors():
            await self._deadline(self._dead_letter(error, message))

    async def _dead_letter(self, error: str, message: str) -> None:
        entry = self._entries[0]
        await self._begin()
        updated = 0
        if entry.retry_of is not None:  # failed again: its dead letter gets the new error
            params = (entry.id, error, message, now_ms(), entry.retry_of, entry.account_id)
            updated = (await self._conn.execute(Q["dead_letter_again"], params)).rowcount
        if updated == 0:
            await self._conn.execute(
                Q["dead_letter_insert"],
                (entry.account_id, entry.id, entry.received_at, entry.records, entry.payload, error, message,
                 now_ms()),
            )  # fmt: skip
        await self._conn.execute(Q["processed_mark"], ([entry.id], self._part, entry.id, now_ms()))
        await self._conn.execute(Q["ack_entries"], ([entry.id],))
        await self._commit(1)

    async def release(self) -> None:
        """End the claim: roll back what was not acknowledged and free the partition."""
        self._open = False
        await self._deadline(_rollback_and_unlock(self._conn, self._part))


async def _load(conn: Conn, needs: Needs) -> State:
    grouped: dict[tuple[int, str], list[str]] = defaultdict(list)
    for acc, kind, value in needs.identities:
        grouped[(acc, kind)].append(value)
    identities: dict[tuple[int, str, str], int] = {}
    for (acc, kind), values in grouped.items():
        cur = await conn.execute(Q["identities_in"], (values, acc, kind))
        for value, pid in await cur.fetchall():
            identities[(acc, kind, str(value))] = int(pid)
    pids = sorted(set(identities.values()))
    profiles: dict[int, StoredProfile] = {}
    if pids:
        cur = await conn.execute(Q["profiles_in"], (pids,))
        for prow in await cur.fetchall():
            profiles[int(prow[0])] = StoredProfile(int(prow[0]), int(prow[1]), common.profile_data(prow))
        if (await (await conn.execute(Q["devices_any"])).fetchone() or (False,))[0]:
            cur = await conn.execute(Q["devices_in"], (pids,))
            for pid, device_id, attributes in await cur.fetchall():
                profiles[int(pid)].devices[str(device_id)] = common.json_decode(attributes)
    scopes: dict[int, list[str]] = defaultdict(list)
    for acc, scope in needs.scopes:
        scopes[acc].append(scope)
    schemas: dict[tuple[int, str], dict[str, str]] = {}
    for acc, names in scopes.items():
        cur = await conn.execute(Q["schema_in"], (acc, names))
        for scope, name, vtype in await cur.fetchall():
            schemas.setdefault((acc, str(scope)), {})[str(name)] = str(vtype)
    restricted: set[tuple[int, str]] = set()
    accounts = []
    for acc in common.batch_accounts(needs):
        if (await (await conn.execute(Q["restrictions_any"], (acc,))).fetchone() or (False,))[0]:
            accounts.append(acc)
    for acc, users in common.restriction_candidates(needs, profiles, accounts).items():
        cur = await conn.execute(Q["restrictions_in"], (acc, users))
        restricted.update((acc, str(row[0])) for row in await cur.fetchall())
    return State(identities, profiles, schemas, restricted)


async def _executemany(conn: Conn, query: str, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        async with conn.cursor() as cur:
            await cur.executemany(query, rows)


def _columns(rows: Sequence[Sequence[Any]], width: int) -> tuple[list[Any], ...]:
    """Rows as one list per column: the arrays a set-wise (unnest) statement binds."""
    return tuple([row[c] for row in rows] for c in range(width))


async def _copy(conn: Conn, query: str, rows: Sequence[Sequence[Any]]) -> None:
    if rows:
        async with conn.cursor() as cur, cur.copy(query) as copy:
            for row in rows:
                await copy.write_row(row)


async def _insert_profiles(conn: Conn, fx: Effects, now: int) -> dict[int, int]:
    """Real ids for the planner's temporary (negative) profile ids."""
    if not fx.new_profiles:
        return {}
    temps = sorted(fx.new_profiles, reverse=True)
    cur = await conn.execute(Q["profile_ids"], (len(temps),))
    real = {temp: int(row[0]) for temp, row in zip(temps, await cur.fetchall(), strict=True)}
    enc = common.json_encode
    gone = set(fx.deletes)
    rows: list[tuple[Any, ...]] = []
    for temp in temps:
        acc, stored = fx.new_profiles[temp], fx.profiles.get(temp)
        if stored is None or temp in gone:
            rows.append((real[temp], acc, None, "{}", "{}", None, None, now, now))
        else:
            d = stored.data
            rows.append(
                (
                    real[temp],
                    acc,
                    d.user_id,
                    _text(enc(d.system)),
                    _text(enc(d.attributes)),
                    d.first_seen,
                    d.last_seen,
                    now,
                    now,
                )
            )
    await _copy(conn, Q["profile_insert_copy"], rows)
    return real


async def _write(conn: Conn, fx: Effects, part: int, now: int) -> None:
    enc = common.json_encode
    real = await _insert_profiles(conn, fx, now)

    def pid(p: int) -> int:
        return real.get(p, p)

    # Existing profiles in id order: concurrent transactions lock rows in one order, so fewer deadlocks.
    updates = sorted((i, p) for i, p in fx.profiles.items() if i >= 0)
    if updates:
        datas = [p.data for _, p in updates]
        await conn.execute(
            Q["profile_update_set"],
            (
                now,
                [i for i, _ in updates],
                [d.user_id for d in datas],
                [_text(enc(d.system)) for d in datas],
                [_text(enc(d.attributes)) for d in datas],
                [d.first_seen for d in datas],
                [d.last_seen for d in datas],
            ),
        )
    if fx.seen_only:
        seen = sorted(fx.seen_only.items())
        await conn.execute(
            Q["profile_seen_set"], ([i for i, _ in seen], [f for _, (f, _) in seen], [last for _, (_, last) in seen])
        )
    written = {i for i, _ in updates} | set(fx.seen_only) | set(fx.deletes)
    touched = {p for p in fx.identities.values()} | {e.profile_id for e in fx.events} | {p for p, _ in fx.devices}
    touched |= {dst for _, dst in fx.moves}
    untouched = sorted(p for p in touched - written if p >= 0)
    if untouched:
        await conn.execute(Q["profile_touch"], (now, untouched))
    if fx.forget:
        await conn.execute(Q["identity_forget_set"], _columns(sorted(fx.forget), 3))
    if fx.identities:
        puts = sorted((a, k, v, pid(p)) for (a, k, v), p in fx.identities.items())
        await conn.execute(Q["identity_put_set"], _columns(puts, 4))
    await _copy(
        conn,
        Q["event_insert_copy"],
        [common.event_params(e, pid, lambda value: _text(enc(value))) for e in fx.events],
    )
    # One pipelined statement list per table, in the moves' order (a chain a -> b -> c still ends on c:
    # each table's statements run in order, and none reads another table).
    moves = [(pid(dst), pid(src)) for src, dst in fx.moves]
    await _executemany(conn, Q["move_identities"], moves)
    await _executemany(conn, Q["move_events"], moves)
    await _executemany(conn, Q["move_devices"], [(dst, src, dst) for dst, src in moves])
    deletes = [(pid(p),) for p in fx.deletes]
    for query in ("delete_identities", "delete_devices", "delete_profile"):
        await _executemany(conn, Q[query], deletes)
    await _executemany(conn, Q["device_delete"], [(pid(p), d) for (p, d), a in fx.devices.items() if a is None])
    await _executemany(
        conn,
        Q["device_put"],
        [(pid(p), d, _text(enc(a)), now) for (p, d), a in fx.devices.items() if a is not None],
    )
    await _executemany(conn, Q["merge_insert"], [common.merge_params(m, pid) for m in fx.merges])
    await _copy(
        conn,
        Q["rejection_insert_copy"],
        [common.rejection_params(r, lambda value: _text(enc(value))) for r in fx.rejections],
    )
    if fx.schema:
        # Serializes schema additions per account across nodes (see schema_versions in the migration).
        for acc in sorted({s[0] for s in fx.schema}):
            await conn.execute(Q["schema_bump"], (acc,))
        await _executemany(conn, Q["schema_insert"], fx.schema)
    await _executemany(
        conn,
        Q["stats_add"],
        [(a, part, s["users"], s["anonymous_users"], s["events"]) for a, s in sorted(fx.stats.items())],
    )
    await derived.write(conn, fx, pid, part)  # the dashboard's search terms and counts
