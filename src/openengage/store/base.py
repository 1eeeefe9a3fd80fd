"""The Store contract: the one seam between OpenEngage and its database.

SQLite and PostgreSQL implement it and pass the same contract suite (tests/store/). Everything a
backend hands out or takes in is defined here, as plain data:

- ingest: `append` commits a batch of Submissions (group commit) and answers an Outcome for each;
- processing: `claim` hands the processor (processor/worker.py) log entries in order behind a small
  unit of work (`Claim`: load the State, write the Effects, acknowledge, or dead-letter one entry);
  the loop, the planning and the retry policy live in the processor, never in a backend;
- dead letters: the entries the processor set aside, listed, counted, re-queued or dropped;
- reads: profiles, events, stats, schema, rejections, merges, the audit log: typed rows (below), which
  the API and the dashboard shape for their own clients (the store never builds API JSON);
- administration: accounts, team members, keys, limits. Every change bumps `config_version` and is
  recorded in the audit log, in the transaction that makes it.

Reads and administration are written once (store/reads.py, store/admin.py) over an `Executor` each
backend provides: named queries (the same names in each backend's queries.sql, positional parameters
in the same order) and an async write transaction. The hot paths (append, processing) stay per backend.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from typing import Any, Generic, NamedTuple, Protocol, TypeVar

from openengage.accounts import SYSTEM, Account, Actor, Credentials, Member, Principal
from openengage.records import Record
from openengage.rules.identity import ProfileData

T = TypeVar("T")

# ---------------------------------------------------------------- ingest


class Trace(NamedTuple):
    """What the request trace keeps of an API request (store/traces.py), written with its log entry.

    `request_id` is the client's x-request-id or the one the API assigned; `subjects` the JSON list of
    the [kind, id] pairs its records name ("u" user id, "a" anonymous id), at most 25.
    """

    request_id: str
    endpoint: str  # "/events", "/bulk-users", "/v1/event", "/v1/customer/merge", ...
    received_at: int  # ms, when the API began handling the request
    subjects: bytes


class Submission(NamedTuple):
    """One accepted request: its records, already encoded, and what it costs against its limit.

    A NamedTuple, not a dataclass: one is built per request on the hot path.
    """

    account_id: int
    bucket: str  # rate-limit name: users, events, bulk, moengage-users, moengage-events
    cost: int  # units charged against the bucket (requests or records)
    limit: int  # per-minute limit of the bucket; 0 = unlimited
    payload: bytes  # encode_records(...)
    records: int  # number of records in payload
    request_id: str | None = None
    extra_costs: tuple[tuple[str, int, int], ...] = ()  # more (bucket, cost, limit) charged together
    trace: Trace | None = None  # API requests: kept as the request trace, in the append's transaction


class Outcome(NamedTuple):
    """What happened to a Submission. `status` is accepted, duplicate or limited."""

    status: str
    limit: int = 0
    remaining: int = 0
    reset_seconds: int = 0
    bucket: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "limited"


class Committer(Protocol):
    """What the API appends through (store/groupcommit.GroupCommitter): one Submission, its Outcome once durable."""

    async def submit(self, submission: Submission) -> Outcome: ...


# ---------------------------------------------------------------- processing


@dataclasses.dataclass(frozen=True)
class QueuedEntry:
    """One ingest-log entry as a Claim hands it out: its records still encoded.

    The processor decodes the payload, so an entry that cannot even be decoded fails alone.
    """

    id: int
    account_id: int
    received_at: int
    records: int  # how many records the payload holds
    payload: bytes  # encode_records(...)
    retry_of: int | None = None  # the dead letter this entry re-queues (`openengage dead-letters retry`)


@dataclasses.dataclass(frozen=True)
class LogEntry:
    """A decoded entry, as the Planner sees it."""

    id: int
    account_id: int
    received_at: int
    records: list[Record]


@dataclasses.dataclass(frozen=True)
class Needs:
    """What the Planner must see: identities (account, kind, value) and attribute scopes (account, scope)."""

    identities: set[tuple[int, str, str]]
    scopes: set[tuple[int, str]]


@dataclasses.dataclass
class StoredProfile:
    id: int
    account_id: int
    data: ProfileData
    devices: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class State:
    """The slice of the store a batch touches, as loaded inside the processing transaction."""

    identities: dict[tuple[int, str, str], int]  # (account, "u"|"a", value) -> profile id
    profiles: dict[int, StoredProfile]
    schemas: dict[tuple[int, str], dict[str, str]]  # (account, scope) -> {attribute: type}
    # (account, user id) of the users, among those the batch names or whose profiles it loads, whose
    # processing is restricted (GDPR restriction request): their new data is dropped.
    restricted: set[tuple[int, str]] = dataclasses.field(default_factory=set)


class EventRow(NamedTuple):
    """One event to insert (a NamedTuple: the processor builds one per event)."""

    id: int  # (log entry id << 16) | position: unique, and ordered by acceptance
    account_id: int
    profile_id: int
    user_id: str | None
    anonymous_id: str | None
    name: str
    time_ms: int
    time_text: str | None
    data: dict[str, Any]
    context: dict[str, Any]
    received_at: int


@dataclasses.dataclass(frozen=True)
class RejectionRow:
    account_id: int
    log_id: int
    kind: str  # user | event | device | merge | delete
    user_id: str | None
    anonymous_id: str | None
    event_name: str | None
    field: str
    reason: str
    detail: str
    value: Any
    dropped: bool
    at: int


@dataclasses.dataclass(frozen=True)
class MergeRow:
    account_id: int
    from_profile: int
    into_profile: int
    anonymous_id: str | None
    merged_user: str | None
    user_id: str | None
    kind: str  # identify (anonymous -> known) | merge (known -> known, MoEngage)
    log_id: int
    at: int


@dataclasses.dataclass
class Effects:
    """Everything one batch changes. Profile ids below 0 are new profiles (the store assigns ids).

    A store never reuses a profile id, even after the profile is deleted: a deleted user's events keep
    its id and must not be attributed to whoever gets the next one.

    The store applies, in this order: insert `new_profiles` (mapping temporary ids), write
    `profiles` (final content of every touched profile), upsert `identities`, insert `events`,
    repoint `moves` (identities, events and devices of merged profiles), delete `deletes`, then the
    ledger, rejections, schema additions, stats deltas and the acknowledgement.
    """

    new_profiles: dict[int, int] = dataclasses.field(default_factory=dict)  # temp id -> account
    profiles: dict[int, StoredProfile] = dataclasses.field(default_factory=dict)
    seen_only: dict[int, tuple[int, int]] = dataclasses.field(default_factory=dict)  # id -> first, last
    identities: dict[tuple[int, str, str], int] = dataclasses.field(default_factory=dict)
    forget: set[tuple[int, str, str]] = dataclasses.field(default_factory=set)
    events: list[EventRow] = dataclasses.field(default_factory=list)
    moves: list[tuple[int, int]] = dataclasses.field(default_factory=list)
    deletes: list[int] = dataclasses.field(default_factory=list)
    devices: dict[tuple[int, str], dict[str, Any] | None] = dataclasses.field(default_factory=dict)
    merges: list[MergeRow] = dataclasses.field(default_factory=list)
    rejections: list[RejectionRow] = dataclasses.field(default_factory=list)
    schema: list[tuple[int, str, str, str, int]] = dataclasses.field(default_factory=list)
    stats: dict[int, dict[str, int]] = dataclasses.field(default_factory=dict)
    # Custom user attribute values accepted in the batch, for the data catalogue's counts:
    # (account, attribute name) -> [values, first received_at, last received_at]
    user_attribute_uses: dict[tuple[int, str], list[int]] = dataclasses.field(default_factory=dict)
    # Stored profiles the batch deletes or merges away, as loaded (their search terms go: store/derived.py)
    removed: dict[int, StoredProfile] = dataclasses.field(default_factory=dict)


class Contention(Exception):
    """Another processor changed the same rows at the same time (PostgreSQL: a serialization failure, a
    deadlock, an identity both created; SQLite: another process moved the cursor). Nothing of the
    failed transaction was kept; the work is tried again with a fresh snapshot. Never a dead letter."""


class Claim(Protocol):
    """A run of log entries one processor lane holds exclusively, and the transactions that apply them.

    `Store.claim` yields one inside `async with`; nobody else applies these entries until the block
    ends (PostgreSQL: the partition's advisory lock; SQLite: the cursor, checked in every transaction).
    The work goes in units, each one transaction, opened by the first call that needs it:

        state = await claim.load(needs)        # what the Planner asked for, as of this transaction
        await claim.write(effects)             # the batch's Effects
        await claim.ack(n)                     # acknowledge entries[:n] and commit, atomically

    `rollback()` drops the unit in progress (the entries stay claimed, so the same ones can be tried
    again in smaller units); `dead_letter()` moves `entries[0]` to the dead letters instead of applying
    it, acknowledged in the same commit. Leaving the block rolls back whatever was not acknowledged.
    Errors: `errors.StoreUnavailable` when the database cannot be reached or cannot commit,
    `Contention` when another processor got in the way; anything else is the unit's own fault
    (a value the database refuses, say), and the processor isolates it.
    """

    @property
    def entries(self) -> Sequence[QueuedEntry]:
        """The entries claimed and not yet acknowledged, oldest first."""
        ...

    async def load(self, needs: Needs) -> State: ...

    async def write(self, effects: Effects) -> None: ...

    async def ack(self, count: int) -> None:
        """Acknowledge `entries[:count]` with everything written since the last commit, and commit.
        An acknowledged entry that re-queued a dead letter resolves it (deletes it) in the same commit."""
        ...

    async def rollback(self) -> None: ...

    async def dead_letter(self, error: str, message: str) -> None:
        """Roll back the unit in progress, then record `entries[0]` as a dead letter with the error that
        stopped it (a re-queued one updates its dead letter) and acknowledge it, in one commit."""
        ...


@dataclasses.dataclass(frozen=True)
class DeadLetter:
    """A log entry the processor could not apply, kept with everything needed to apply it later."""

    id: int
    account_id: int
    log_id: int  # the entry's id in the ingest log when it last failed
    received_at: int  # when the API accepted it (kept when it is re-queued)
    records: int
    payload: bytes  # the entry's encoded records, as they were in the log
    error: str  # exception type
    message: str
    failed_at: int
    attempts: int  # 1, plus one per re-queue that failed again
    requeued: bool  # a retry is in the ingest log and not applied yet


# ---------------------------------------------------------------- the executor (reads and admin, written once)

Row = tuple[Any, ...]


class Reader(Protocol):
    """Named queries (store/<backend>/queries.sql) with positional parameters.

    Outside a transaction each call is one statement with its own snapshot on a reader (a read that needs
    one consistent view across tables is one statement).
    """

    async def one(self, query: str, *params: Any) -> Row | None: ...
    async def all(self, query: str, *params: Any) -> list[Row]: ...


class Tx(Reader, Protocol):
    """One write transaction: its reads see its own writes; everything commits together or not at all."""

    async def run(self, query: str, *params: Any) -> int:
        """Execute a statement; the number of rows it changed."""
        ...


class Executor(Reader, Protocol):
    """What each backend provides for store/admin.py and store/reads.py.

    `transaction()` opens a write transaction (SQLite: serialized on one writer thread and connection;
    PostgreSQL: a pooled connection, READ COMMITTED, row locks where a rule reads before it writes). It
    commits when the block ends and rolls back when it raises. Driver errors meaning the database cannot
    be reached or cannot commit surface as `openengage.errors.StoreUnavailable`.
    """

    def transaction(self) -> AbstractAsyncContextManager[Tx]: ...


# ---------------------------------------------------------------- typed rows of reads


class InvalidCursor(ValueError):
    """A page cursor that this store did not hand out (malformed, or its numbers out of range)."""


@dataclasses.dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing, newest first; `next` is the cursor of the following page (None: the last)."""

    items: list[T]
    next: str | None


@dataclasses.dataclass(frozen=True)
class Profile:
    id: int
    account_id: int
    data: ProfileData
    anonymous_ids: list[str]
    devices: list[dict[str, Any]]


@dataclasses.dataclass(frozen=True)
class Event:
    """A stored event. `time_text` is the event time exactly as sent, when it was sent as text."""

    id: int
    user_id: str | None
    anonymous_id: str | None
    name: str
    time_ms: int
    time_text: str | None
    data: dict[str, Any]
    context: dict[str, Any] | None
    received_at: int


@dataclasses.dataclass(frozen=True)
class Rejection:
    """A datum the processor dropped (`dropped`) or truncated, with its reason."""

    id: int
    log_id: int
    kind: str
    user_id: str | None
    anonymous_id: str | None
    event_name: str | None
    field: str
    reason: str
    detail: str
    value: Any
    dropped: bool
    at: int


@dataclasses.dataclass(frozen=True)
class Merge:
    """An entry of the merge ledger: `from_profile` merged into `into_profile`."""

    id: int
    from_profile: int
    into_profile: int
    anonymous_id: str | None
    merged_user: str | None
    user_id: str | None
    kind: str  # identify (anonymous -> known) | merge (known -> known, MoEngage)
    log_id: int
    at: int


@dataclasses.dataclass(frozen=True)
class SchemaAttribute:
    """A catalogued attribute: scope `user` or `event:<event name>`, its locked type, when first seen."""

    scope: str
    name: str
    type: str
    first_seen: int


@dataclasses.dataclass(frozen=True)
class Stats:
    users: int
    anonymous_users: int
    events: int
    pending: int


@dataclasses.dataclass(frozen=True)
class ApiKey:
    """A member's REST API key as listed: its last four characters only, never the key or its hash."""

    member: str  # the member's email
    hint: str  # "…" and the last four characters
    created_at: int
    revoked_at: int | None
    revoked_reason: str | None
    last_used_at: int | None = None  # remembered by the API in memory, flushed every few seconds


@dataclasses.dataclass(frozen=True)
class AuditEntry:
    """One administrative action: when, who (`actor`), what (`action`, `target`, `detail`), from where."""

    id: int
    account_id: int
    at: int
    actor: str
    address: str
    action: str
    target: str
    detail: str


@dataclasses.dataclass(frozen=True)
class GdprRequest:
    """A GDPR request (WebEngage `opengdpr_requests`). `status` is as stored: pending (an erasure waiting for
    its due time), done or cancelled; rules/gdpr.py tells the client-facing status. The subject's user id
    is kept until an erasure of it runs; then only a salted hash of it remains."""

    account_id: int
    request_id: str  # the client's subject_request_id
    type: str  # erasure | restriction | re-enable | portability
    status: str  # pending | done | cancelled
    user_id: str | None  # None once erased
    created_at: int
    due_at: int | None  # erasure: when it runs
    done_at: int | None


@dataclasses.dataclass(frozen=True)
class Erasure:
    """What one erasure removed (counts only: the audit log and the logs never see the person)."""

    account_id: int
    request_id: str
    subject_hash: str  # sha256 of the request's salt and the user id, hex
    profiles: int
    identities: int
    events: int
    devices: int
    rejections: int
    merges: int
    transactions: int = 0  # the person's outbox transactions (messaging), with their messages and attempts


@dataclasses.dataclass(frozen=True)
class BusinessDefinition:
    """A business event definition: its typed attributes, in the order they were defined."""

    name: str
    category: str
    attributes: list[tuple[str, str]]  # (attribute name, data type)
    created_at: int
    updated_at: int
    saved: int = 0  # events saved for it (listings only)


@dataclasses.dataclass(frozen=True)
class BusinessEvent:
    """A saved business event. `time_text` is the event time exactly as sent, when it was sent."""

    id: int
    name: str
    time_ms: int
    time_text: str | None
    data: dict[str, Any]
    received_at: int


class Limited(Exception):
    """A request over its per-minute limit: nothing was changed and nothing consumed."""

    def __init__(self, outcome: Outcome) -> None:
        super().__init__(f"rate limit of {outcome.limit} per minute exceeded ({outcome.bucket})")
        self.outcome = outcome


class Charge(NamedTuple):
    """What a request costs against a per-minute limit (a bucket of `limits` in accounts.py)."""

    bucket: str
    limit: int  # 0 = unlimited
    cost: int = 1


@dataclasses.dataclass(frozen=True)
class Minute:
    """Records accepted by the API and applied by the processor in one minute (`at`: its start, ms)."""

    at: int
    accepted: int
    processed: int


# ---------------------------------------------------------------- typed rows of dashboard access


@dataclasses.dataclass(frozen=True)
class Login:
    """A team member who may sign in to the dashboard with a password (its Argon2id hash)."""

    member_id: int
    account_id: int
    password_hash: str


@dataclasses.dataclass(frozen=True)
class Membership:
    """An account a dashboard session may open, and the team member it acts as there."""

    member: Member
    account_name: str
    license_code: str
    app_id: str


@dataclasses.dataclass(frozen=True)
class Session:
    """A signed-in dashboard session: whose, until when, and the accounts it may open (live: a removed
    member's account drops out, a changed role counts at once)."""

    id: int
    email: str
    expires_at: int
    memberships: list[Membership]


# ---------------------------------------------------------------- typed rows of the dashboard's data pages


@dataclasses.dataclass(frozen=True)
class UserHit:
    """A row of the users page: a profile, and what of it matched the search."""

    profile_id: int
    user_id: str | None
    anonymous_id: str | None  # one of its anonymous ids (the link to an anonymous profile), else None
    field: str  # what matched: userId, anonymousId, a system attribute, attributes.<name>; "" in a listing
    term: str  # the value that matched, as indexed (rules/search.py); "" in a listing
    system: dict[str, Any]
    first_seen: int | None
    last_seen: int | None
    attributes: dict[str, Any] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True)
class CatalogEntry:
    """The data catalogue: an event (scope `event`, no type) or an attribute (scope `user` or
    `event:<name>`, its locked type). `count`: events received, or values received for an attribute."""

    scope: str
    name: str
    type: str | None
    first_seen: int | None
    last_seen: int | None
    count: int


@dataclasses.dataclass(frozen=True)
class RejectionGroup:
    """Every rejection of one reason, field and event name: how many, when, and the latest one."""

    reason: str
    event_name: str  # "" when the rejection concerned no event
    field: str  # at most 200 characters (longer fields are grouped by their first 200)
    count: int
    first_at: int
    last_at: int
    example_value: Any
    example_detail: str
    example_user_id: str | None
    example_anonymous_id: str | None
    example_dropped: bool


@dataclasses.dataclass(frozen=True)
class StoreStatus:
    reachable: bool
    migrated: bool
    pending_migrations: list[str]
    detail: str = ""


# ---------------------------------------------------------------- request traces and the debugger (store/traces.py)


class Refusal(NamedTuple):
    """An ingest request answered 4xx, as the debugger keeps it (api/refusals.py): never a header."""

    account_id: int
    at: int
    endpoint: str
    status: int
    message: str
    body: str  # at most the first 1 KiB of the body, as text
    request_id: str | None


@dataclasses.dataclass(frozen=True)
class RequestSeen:
    """A row of the debugger: an accepted request (its trace kept) or a refused one."""

    at: int
    endpoint: str
    status: int
    message: str
    body: str
    request_id: str | None
    records: int
    accepted: bool


@dataclasses.dataclass(frozen=True)
class TracePart:
    """One ingest-log entry of a request (PostgreSQL splits a request by partition; SQLite: one)."""

    log_id: int
    part: int
    records: int
    pending: bool
    processed_at: int | None  # when the processor acknowledged it (None: pending, or its mark pruned)
    dead_letter: str | None  # "Error: message" when the processor set it aside


@dataclasses.dataclass(frozen=True)
class TraceSubject:
    """A person the request named, and the profile that id leads to now."""

    kind: str  # "u" user id, "a" anonymous id
    value: str
    found: bool  # the id leads to a stored profile
    user_id: str | None  # that profile's user id (an anonymous id identified since leads to its user)


@dataclasses.dataclass(frozen=True)
class RequestTrace:
    request_id: str
    endpoint: str
    received_at: int
    committed_at: int
    records: int
    parts: list[TracePart]
    subjects: list[TraceSubject]
    events: list[Event]  # the events it stored (the first 100)
    rejections: list[Rejection]  # every datum it had dropped or truncated (the first 500)

    @property
    def dialect(self) -> str:
        return "moengage" if self.endpoint.startswith("/v1/") else "webengage"

    @property
    def pending(self) -> bool:
        return any(p.pending for p in self.parts)

    @property
    def processed_at(self) -> int | None:
        if self.pending or any(p.processed_at is None for p in self.parts):
            return None
        return max(p.processed_at or 0 for p in self.parts)


# ---------------------------------------------------------------- the contract


class Store(Protocol):
    """A storage backend. All methods are safe to call concurrently from one event loop.

    Administrative methods take the acting `Actor` (default SYSTEM: the owner's permissions, audited as
    "system"); they check its permissions and the team rules (accounts.py) and audit the change in the
    same transaction. Pages take `limit` (the API bounds it) and a `cursor` from a previous page; a cursor
    the store did not hand out raises InvalidCursor.
    """

    url: str

    # lifecycle
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def migrate(self) -> list[str]: ...
    async def check(self) -> StoreStatus: ...
    async def health(self) -> None: ...  # raises StoreUnavailable while the store cannot take writes
    async def backlog(self) -> tuple[int, int | None]: ...  # (pending records, oldest received_at ms)

    # ingest log
    async def append(self, batch: Sequence[Submission]) -> list[Outcome]: ...
    async def maintain(self, now_ms: int) -> None: ...

    # processing: processor/worker.py runs `processing_lanes` claims at once
    processing_lanes: int

    def claim(self, max_records: int) -> AbstractAsyncContextManager[Claim | None]:
        """The oldest pending entries not held by another lane or node, in acceptance order: at most
        `max_records` records (but at least one entry); None when there is nothing to claim."""
        ...

    # dead letters (every one scoped to its account)
    async def dead_letters(self, account_id: int, limit: int, cursor: str | None) -> Page[DeadLetter]: ...
    async def count_dead_letters(self, account_id: int) -> int: ...
    async def retry_dead_letters(self, account_id: int, ids: Sequence[int] | None, actor: Actor = SYSTEM) -> list[int]:
        """Queue the dead letters `ids` (None: all) again; returns the ids queued now (one already
        queued and not yet applied is not queued twice). Raises NotFound, changing nothing, for an id
        the account does not have. Audited when something was queued."""
        ...

    async def drop_dead_letters(self, account_id: int, ids: Sequence[int] | None, actor: Actor = SYSTEM) -> list[int]:
        """Delete the dead letters `ids` (None: all); returns the ids deleted, audited in the same
        transaction. NotFound as for retry."""
        ...

    # administration
    async def config_version(self) -> int: ...

    # request traces and the debugger (store/traces.py)
    async def request_trace(self, account_id: int, request_id: str) -> RequestTrace | None: ...
    async def request_of_event(self, account_id: int, event_id: int) -> str | None: ...
    async def recent_requests(
        self, account_id: int, limit: int, accepted: bool | None, endpoint: str | None
    ) -> list[RequestSeen]: ...
    async def record_refusals(self, rows: Sequence[Refusal]) -> None: ...
    async def delete_request_traces(self, log_ids: Sequence[int]) -> None:
        """Delete these request traces (ingest-log ids): GDPR erasure (store/traces.py finds them)."""
        ...

    async def create_account(
        self, name: str, owner_email: str, limits: dict[str, int] | None = None, *, actor: Actor = SYSTEM
    ) -> Credentials: ...
    async def list_accounts(self) -> list[Account]: ...
    async def account_by_license(self, license_code: str) -> Account | None: ...
    async def account_by_app_id(self, app_id: str) -> Account | None: ...
    async def set_limits(self, account_id: int, limits: dict[str, int], *, actor: Actor = SYSTEM) -> Account: ...
    async def rotate_data_api_key(self, account_id: int, *, actor: Actor = SYSTEM) -> str: ...
    async def add_member(
        self, account_id: int, email: str, role: str, permissions: frozenset[str], *, actor: Actor = SYSTEM
    ) -> tuple[Member, str]: ...
    async def list_members(self, account_id: int) -> list[Member]: ...
    async def member(self, account_id: int, email: str) -> Member | None: ...
    async def set_role(
        self, account_id: int, email: str, role: str, permissions: frozenset[str], *, actor: Actor = SYSTEM
    ) -> Member: ...
    async def remove_member(self, account_id: int, email: str, *, actor: Actor = SYSTEM) -> None: ...
    async def issue_key(self, account_id: int, email: str, *, actor: Actor = SYSTEM) -> str: ...
    async def revoke_key(self, account_id: int, email: str, *, actor: Actor = SYSTEM) -> None: ...
    async def list_keys(self, account_id: int) -> list[ApiKey]: ...
    async def principal(self, key_hash: str) -> Principal | None: ...

    # reads (every one scoped to its account)
    async def profile(self, account_id: int, kind: str, value: str) -> Profile | None: ...
    async def profile_by_id(self, account_id: int, profile_id: int) -> Profile | None: ...
    async def events(self, account_id: int, profile_id: int, limit: int, cursor: str | None) -> Page[Event]: ...
    async def profiles_after(self, account_id: int, after_id: int, limit: int) -> list[Profile]: ...
    async def events_after(self, account_id: int, after_id: int, limit: int) -> list[Event]: ...
    async def stats(self, account_id: int) -> Stats: ...
    async def schema(self, account_id: int) -> list[SchemaAttribute]: ...
    async def rejections(
        self, account_id: int, limit: int, cursor: str | None, user_id: str | None
    ) -> Page[Rejection]: ...
    async def merges(self, account_id: int, limit: int, cursor: str | None) -> Page[Merge]: ...
    async def audit(self, account_id: int, limit: int, cursor: str | None) -> Page[AuditEntry]: ...

    # GDPR requests (store/gdpr.py). Each call is charged to `charge` in its own transaction (Limited when
    # over it); a refused call (NotFound, Conflict, Limited) changes nothing and consumes nothing.
    async def gdpr_register(
        self,
        account_id: int,
        request_id: str,
        kind: str,
        user_id: str,
        now: int,
        due_at: int | None,
        charge: Charge,
        actor: Actor = SYSTEM,
    ) -> tuple[GdprRequest, Outcome]:
        """Register a request for a known user (NotFound otherwise; Conflict for a request id the account
        already used). Restriction and re-enable take effect in the same transaction."""
        ...

    async def gdpr_request(self, account_id: int, request_id: str, charge: Charge) -> tuple[GdprRequest, Outcome]:
        """A request by its id (NotFound when the account has none)."""
        ...

    async def gdpr_cancel(
        self, account_id: int, request_id: str, now: int, charge: Charge, actor: Actor = SYSTEM
    ) -> tuple[GdprRequest, Outcome]:
        """Cancel a pending erasure before it is due (NotFound; Conflict when it is not pending)."""
        ...

    async def erase_due(self, now: int, limit: int = 10) -> list[Erasure]:
        """Run up to `limit` erasures due at `now` whose account has nothing older pending in the ingest
        log and none of whose person's messages a sender holds; each one transaction, audited (with the
        person's outbox rows). Nodes running this at once never run one erasure twice."""
        ...

    async def gdpr_block(self, account_id: int, user_id: str, now: int) -> str | None:
        """Why the user may not be messaged at `now` (rules/gdpr.py BLOCK_*: restricted, or an erasure of
        them is due), None when they may."""
        ...

    # business events (store/business.py)
    async def define_business_event(
        self, account_id: int, definition: BusinessDefinition, charge: Charge
    ) -> tuple[BusinessDefinition, bool, Outcome]:
        """Create a definition, or add attributes to an existing one: (definition, created?, outcome).
        Conflict when it would change or remove an attribute of an existing definition."""
        ...

    async def business_definitions(self, account_id: int) -> list[BusinessDefinition]: ...
    async def business_definition(self, account_id: int, name: str) -> BusinessDefinition | None: ...
    async def save_business_event(
        self,
        account_id: int,
        name: str,
        time_ms: int,
        time_text: str | None,
        data: dict[str, Any],
        now: int,
        charge: Charge,
    ) -> tuple[BusinessEvent, Outcome]:
        """Store one business event of an existing definition (NotFound otherwise), durably."""
        ...

    async def business_events(
        self, account_id: int, name: str, limit: int, cursor: str | None
    ) -> Page[BusinessEvent]: ...

    async def throughput(self, account_id: int, since_ms: int) -> list[Minute]: ...

    # the dashboard's data pages (store/browse.py): user search, profile details, live tail, catalogue,
    # data quality. Cheap on a big store: indexed lookups and aggregates the processor maintains.
    async def search_users(self, account_id: int, q: str, limit: int, cursor: str | None) -> Page[UserHit]: ...
    async def list_users(self, account_id: int, limit: int, cursor: str | None) -> Page[UserHit]: ...
    async def user_schema(self, account_id: int) -> dict[str, str]: ...
    async def profile_merges(self, account_id: int, profile_id: int, limit: int) -> list[Merge]: ...
    async def profile_rejections(
        self, account_id: int, user_id: str | None, anonymous_ids: Sequence[str], limit: int, cursor: str | None
    ) -> Page[Rejection]: ...
    async def profile_id(self, account_id: int, kind: str, value: str) -> int | None: ...
    async def latest_event_id(self) -> int: ...
    async def recent_events(
        self, account_id: int, name: str | None, profile_id: int | None, limit: int
    ) -> list[Event]: ...
    async def tail_events(
        self, account_id: int, after_id: int, name: str | None, profile_id: int | None, limit: int
    ) -> list[Event]: ...

    tail_lookback: int

    async def catalogue(self, account_id: int) -> list[CatalogEntry]: ...
    async def rejection_groups(self, account_id: int) -> list[RejectionGroup]: ...
    async def rejection_examples(
        self, account_id: int, reason: str, event_name: str, field: str, limit: int, cursor: str | None
    ) -> Page[Rejection]: ...

    # dashboard access (store/access.py): passwords, one-time links, sessions, sign-in throttling, key use.
    # Secrets arrive hashed (sessions and links: SHA-256 of a random token; passwords: Argon2id).
    async def dashboard_secret(self) -> bytes: ...
    async def set_password(self, account_id: int, email: str, password_hash: str, *, actor: Actor = SYSTEM) -> None: ...
    async def logins(self, email: str) -> list[Login]: ...
    async def create_login_link(
        self, account_id: int, email: str, token_hash: str, expires_at: int, *, actor: Actor = SYSTEM
    ) -> None: ...
    async def use_login_link(self, token_hash: str, now: int) -> tuple[int, str] | None: ...
    async def start_session(
        self, token_hash: str, email: str, member_ids: Sequence[int], expires_at: int, replaces: str | None = None
    ) -> None: ...
    async def session(self, token_hash: str, now: int) -> Session | None: ...
    async def end_session(self, token_hash: str) -> None: ...
    async def sign_in_failures(self, subjects: Sequence[str], since_ms: int) -> dict[str, int]: ...
    async def record_sign_in_failure(self, subjects: Sequence[str], at: int) -> None: ...
    async def clear_sign_in_failures(self, subject: str) -> None: ...
    async def note_key_use(self, uses: dict[str, int]) -> None: ...

    # messaging (issue #10): channels and campaigns are audited admin actions (store/messaging.py); the
    # outbox (enqueue, claim, finish) is a hot path per backend, in the ingest log's database.
    async def set_channel(
        self, account_id: int, kind: str, config: dict[str, Any], secret: str | None, *, actor: Actor = SYSTEM
    ) -> Channel:
        """Create or replace the account's channel of `kind`; `secret` None keeps the current one."""
        ...

    async def channels(self, account_id: int) -> list[Channel]: ...
    async def channel(self, account_id: int, kind: str) -> Channel | None: ...
    async def create_campaign(
        self,
        account_id: int,
        name: str,
        channel: str,
        subject: str,
        body: str,
        html: bool,
        *,
        actor: Actor = SYSTEM,
    ) -> Campaign:
        """A new campaign in `draft`; rules/templates.InvalidTemplate (nothing saved) for a bad template."""
        ...

    async def set_campaign_status(
        self, account_id: int, code: str, status: str, *, actor: Actor = SYSTEM
    ) -> Campaign: ...

    async def campaigns(self, account_id: int) -> list[Campaign]: ...
    async def campaign(self, account_id: int, code: str) -> Campaign | None: ...
    async def campaign_by_id(self, account_id: int, campaign_id: int) -> Campaign | None: ...
    async def transaction(self, account_id: int, txn_id: str) -> Transaction | None:
        """The latest transaction with this id, its messages and their attempts."""
        ...

    async def enqueue(self, batch: Sequence[TxnSubmission]) -> list[TxnOutcome]:
        """Admit (dedupe, `transactions` limit) and durably commit transactions with their log records."""
        ...

    async def claim_messages(self, owner: str, limit: int, lease_ms: int) -> list[Outgoing]:
        """Queued messages that are due, whose log records the processor has applied, leased to `owner`
        until now + lease_ms (another node takes them over only once the lease has run out)."""
        ...

    async def finish_messages(self, outcomes: Sequence[tuple[Outgoing, Finish]]) -> list[bool]:
        """Record attempts and their consequences, with their system events, in one commit (the sender
        group-commits them). For each: False (nothing recorded) when its `owner` no longer holds the lease."""
        ...

    async def user_transactions(self, account_id: int, user_id: str, limit: int) -> list[Transaction]:
        """The user's newest `limit` transactions, newest first, with messages and attempts (portability)."""
        ...

    async def prune_outbox(self, cutoff: int, limit: int) -> int:
        """Delete up to `limit` transactions (messages, attempts) whose ttl and dedupe window ended before
        `cutoff`: outbox retention. The number deleted; call again until it is below `limit`."""
        ...


# ---------------------------------------------------------------- messaging (issue #10)

# Message states: `queued` (to send, when `next_at` comes), `standby` (a later campaign of a fallback
# chain, queued only if the ones before it fail), then one of `sent`, `failed`, `expired`, `skipped`.
MESSAGE_OPEN = ("queued", "standby")


@dataclasses.dataclass(frozen=True)
class Channel:
    """A delivery channel of an account: `email` (config: smtp_url, from) or `webhook` (config: url).

    `secret` is the webhook's signing key; the SMTP password lives inside `config["smtp_url"]`. Neither is
    ever logged or shown back (messaging/channels.py redacts them)."""

    account_id: int
    kind: str
    config: dict[str, Any]
    secret: str | None
    updated_at: int


@dataclasses.dataclass(frozen=True)
class Campaign:
    id: int
    account_id: int
    code: str  # the experiment id clients send: "~" and hex
    name: str
    channel: str  # email | webhook
    subject: str
    body: str
    html: bool  # the body is HTML (autoescaped)
    status: str  # draft | running | paused
    created_at: int
    updated_at: int


@dataclasses.dataclass(frozen=True)
class MessageDraft:
    """One campaign of a transaction as the API accepts it."""

    campaign_id: int
    experiment_id: str
    channel: str
    status: str  # queued | standby | skipped
    detail: str = ""  # why skipped


class TxnSubmission(NamedTuple):
    """One accepted transaction request: what the outbox keeps, and the records it appends to the ingest log
    (trackConfig's user update and event, then one `<channel>_queued` system event per queued message),
    committed together. Dedupe on (account, txn_id) within `dedupe_ms`; charged 1 against `transactions`."""

    account_id: int
    txn_id: str
    user_id: str
    mode: str  # single | all | fallback_on_attempt_failure | fallback_on_delivery_failure
    ttl_ms: int
    dedupe_ms: int  # 0: no dedupe window
    limit: int  # per-minute limit of the transactions bucket; 0 = unlimited
    data: bytes  # JSON: {"token": {...}, "email": ..., "phone": ...}
    messages: tuple[MessageDraft, ...]
    payload: bytes  # encode_records(...) for the ingest log
    records: int
    response: bytes  # JSON of the answer's `data`: a duplicate within the window gets it again


class TxnOutcome(NamedTuple):
    status: str  # accepted | duplicate | limited
    limit: int = 0
    remaining: int = 0
    reset_seconds: int = 0
    response: bytes | None = None  # duplicate: the first request's answer


class TxnCommitter(Protocol):
    """What the transaction API submits through (group commit of store.enqueue)."""

    async def submit(self, submission: TxnSubmission) -> TxnOutcome: ...


@dataclasses.dataclass(frozen=True)
class Outgoing:
    """A message the sender holds (its lease) and must deliver."""

    id: int
    account_id: int
    transaction_id: int
    txn_id: str
    user_id: str
    mode: str
    seq: int
    campaign_id: int
    experiment_id: str
    channel: str
    attempts: int  # made before this one
    received_at: int
    expires_at: int
    data: dict[str, Any]
    owner: str  # the lease holder


@dataclasses.dataclass(frozen=True)
class Finish:
    """What became of one attempt. `status`: queued (retry at `next_at`), sent, failed or expired.
    `promote`: queue the next standby message of the chain (fallback); `close`: give the standby rest this
    status (skipped: a message was sent, no fallback needed; expired: the transaction's ttl is over), with
    `close_detail`. `payload` holds the system events to append to the ingest log in the same commit."""

    status: str
    outcome: str  # the attempt's outcome: sent | failed | expired
    error: str | None
    next_at: int
    promote: bool = False
    close: str | None = None
    close_detail: str = ""
    payload: bytes = b""
    records: int = 0


@dataclasses.dataclass(frozen=True)
class Attempt:
    at: int
    outcome: str
    error: str | None


@dataclasses.dataclass(frozen=True)
class Message:
    id: int
    seq: int
    experiment_id: str
    channel: str
    status: str
    detail: str
    attempts: list[Attempt]
    next_at: int
    updated_at: int


@dataclasses.dataclass(frozen=True)
class Transaction:
    id: int
    account_id: int
    txn_id: str
    user_id: str
    mode: str
    received_at: int
    expires_at: int
    messages: list[Message]
