-- OpenEngage store (PostgreSQL): one database shared by every node of a cluster.
-- Times are epoch milliseconds (bigint); JSON documents are jsonb.

-- ============================================================ administration

CREATE TABLE accounts (
    id bigserial PRIMARY KEY,
    name text NOT NULL,
    license_code text NOT NULL UNIQUE,
    app_id text NOT NULL UNIQUE,
    data_api_key_hash text,
    created_at bigint NOT NULL
);

CREATE TABLE rate_limits (
    account_id bigint NOT NULL REFERENCES accounts(id),
    name text NOT NULL,
    per_minute integer NOT NULL,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE members (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts(id),
    email text NOT NULL,
    role text NOT NULL,
    permissions jsonb NOT NULL,
    created_at bigint NOT NULL,
    UNIQUE (account_id, email)
);

CREATE TABLE api_keys (
    id bigserial PRIMARY KEY,
    member_id bigint NOT NULL,
    account_id bigint NOT NULL,
    key_hash text NOT NULL UNIQUE,
    hint text NOT NULL,
    created_at bigint NOT NULL,
    revoked_at bigint,
    revoked_reason text
);
CREATE INDEX api_keys_member ON api_keys(member_id);

-- Every admin change bumps it; API nodes poll it twice a second and drop their auth caches.
CREATE TABLE config_version (
    id integer PRIMARY KEY CHECK (id = 1),
    version bigint NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0);

-- ============================================================ ingest log

-- One row per accepted request and partition. `partition` is a stable hash of (account, the record's
-- primary identity): a processor holding the partition's advisory lock applies its rows in id order,
-- so one user's records keep their order while other partitions proceed on other nodes. Acknowledged
-- rows are deleted in the transaction that applies them. payload is the msgspec JSON list of records,
-- kept as bytea: it is opaque to SQL, written once and read once, so a jsonb parse would be wasted.
CREATE TABLE entries (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    partition smallint NOT NULL,
    received_at bigint NOT NULL,
    n integer NOT NULL,
    payload bytea NOT NULL
);
CREATE INDEX entries_partition ON entries(partition, id);
CREATE INDEX entries_account ON entries(account_id) INCLUDE (n);

-- x-request-id de-duplication window (4 hours), per account.
CREATE TABLE request_ids (
    account_id bigint NOT NULL,
    request_id text NOT NULL,
    accepted_at bigint NOT NULL,
    PRIMARY KEY (account_id, request_id)
);
CREATE INDEX request_ids_age ON request_ids(accepted_at);

-- Fixed one-minute rate-limit windows; appends lock these rows (FOR UPDATE) to decide admission.
CREATE TABLE rate_windows (
    account_id bigint NOT NULL,
    bucket text NOT NULL,
    window_no bigint NOT NULL,
    used bigint NOT NULL,
    PRIMARY KEY (account_id, bucket)
);

-- ============================================================ profiles and events

CREATE TABLE profiles (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    user_id text,
    system jsonb NOT NULL,
    attributes jsonb NOT NULL,
    first_seen bigint,
    last_seen bigint,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL
);
CREATE INDEX profiles_user ON profiles(account_id, user_id);

-- kind: 'u' (known user id) or 'a' (anonymous id). Each id belongs to one profile.
CREATE TABLE identities (
    account_id bigint NOT NULL,
    kind text NOT NULL,
    value text NOT NULL,
    profile_id bigint NOT NULL,
    PRIMARY KEY (account_id, kind, value)
);
CREATE INDEX identities_profile ON identities(profile_id);

CREATE TABLE devices (
    profile_id bigint NOT NULL,
    device_id text NOT NULL,
    attributes jsonb NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (profile_id, device_id)
);

-- id = (ingest log entry id << 16) | position in the entry: unique and in acceptance order.
CREATE TABLE events (
    id bigint PRIMARY KEY,
    account_id bigint NOT NULL,
    profile_id bigint NOT NULL,
    user_id text,
    anonymous_id text,
    name text NOT NULL,
    time_ms bigint NOT NULL,
    time_text text,
    data jsonb NOT NULL,
    context jsonb,
    received_at bigint NOT NULL
);
CREATE INDEX events_profile ON events(profile_id, time_ms, id);

CREATE TABLE merges (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    from_profile bigint NOT NULL,
    into_profile bigint NOT NULL,
    anonymous_id text,
    merged_user text,
    user_id text,
    kind text NOT NULL,
    log_id bigint NOT NULL,
    at bigint NOT NULL
);
CREATE INDEX merges_account ON merges(account_id, id);

CREATE TABLE rejections (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    log_id bigint NOT NULL,
    kind text NOT NULL,
    user_id text,
    anonymous_id text,
    event_name text,
    field text NOT NULL,
    reason text NOT NULL,
    detail text NOT NULL,
    value jsonb,
    dropped boolean NOT NULL,
    at bigint NOT NULL
);
CREATE INDEX rejections_account ON rejections(account_id, id);

-- scope: 'user' or 'event:<event name>'. The first value of an attribute locks its type.
CREATE TABLE attribute_schema (
    account_id bigint NOT NULL,
    scope text NOT NULL,
    name text NOT NULL,
    type text NOT NULL,
    first_seen bigint NOT NULL,
    PRIMARY KEY (account_id, scope, name)
);

-- Bumped by every processing transaction that adds schema entries of the account. Under REPEATABLE
-- READ two such transactions conflict on this row, so the loser retries with a fresh snapshot and the
-- per-type attribute limits hold exactly across nodes.
CREATE TABLE schema_versions (
    account_id bigint PRIMARY KEY,
    version bigint NOT NULL
);

-- Counters per account and partition: each partition's transactions are serialized by its advisory
-- lock, so these rows never conflict between nodes. Reads add the partitions up.
CREATE TABLE account_stats (
    account_id bigint NOT NULL,
    partition smallint NOT NULL,
    users bigint NOT NULL DEFAULT 0,
    anonymous_users bigint NOT NULL DEFAULT 0,
    events bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, partition)
);
