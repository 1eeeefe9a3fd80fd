-- OpenEngage store (SQLite): accounts, team, profiles, events, data quality.
-- Times are epoch milliseconds.

CREATE TABLE accounts (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    license_code TEXT NOT NULL UNIQUE,
    app_id TEXT NOT NULL UNIQUE,
    data_api_key_hash TEXT,
    created_at INTEGER NOT NULL
);

CREATE TABLE rate_limits (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    name TEXT NOT NULL,
    per_minute INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
) WITHOUT ROWID;

CREATE TABLE members (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    email TEXT NOT NULL,
    role TEXT NOT NULL,
    permissions TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (account_id, email)
);

CREATE TABLE api_keys (
    id INTEGER PRIMARY KEY,
    member_id INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    revoked_at INTEGER,
    revoked_reason TEXT
);
CREATE INDEX api_keys_member ON api_keys(member_id);

CREATE TABLE config_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version INTEGER NOT NULL
);
INSERT INTO config_version (id, version) VALUES (1, 0);

CREATE TABLE profiles (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    user_id TEXT,
    system TEXT NOT NULL,
    attributes TEXT NOT NULL,
    first_seen INTEGER,
    last_seen INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX profiles_user ON profiles(account_id, user_id);

-- kind: 'u' (known user id) or 'a' (anonymous id). Each id belongs to one profile.
CREATE TABLE identities (
    account_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    value TEXT NOT NULL,
    profile_id INTEGER NOT NULL,
    PRIMARY KEY (account_id, kind, value)
) WITHOUT ROWID;
CREATE INDEX identities_profile ON identities(profile_id);

CREATE TABLE devices (
    profile_id INTEGER NOT NULL,
    device_id TEXT NOT NULL,
    attributes TEXT NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (profile_id, device_id)
) WITHOUT ROWID;

-- id = (ingest log entry id << 16) | position in the entry: unique and in acceptance order.
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    profile_id INTEGER NOT NULL,
    user_id TEXT,
    anonymous_id TEXT,
    name TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    time_text TEXT,
    data TEXT NOT NULL,
    context TEXT,
    received_at INTEGER NOT NULL
);
CREATE INDEX events_profile ON events(profile_id, time_ms, id);

CREATE TABLE merges (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    from_profile INTEGER NOT NULL,
    into_profile INTEGER NOT NULL,
    anonymous_id TEXT,
    merged_user TEXT,
    user_id TEXT,
    kind TEXT NOT NULL,
    log_id INTEGER NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX merges_account ON merges(account_id, id);

CREATE TABLE rejections (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    log_id INTEGER NOT NULL,
    kind TEXT NOT NULL,
    user_id TEXT,
    anonymous_id TEXT,
    event_name TEXT,
    field TEXT NOT NULL,
    reason TEXT NOT NULL,
    detail TEXT NOT NULL,
    value TEXT,
    dropped INTEGER NOT NULL,
    at INTEGER NOT NULL
);
CREATE INDEX rejections_account ON rejections(account_id, id);

-- scope: 'user' or 'event:<event name>'. The first value of an attribute locks its type.
CREATE TABLE attribute_schema (
    account_id INTEGER NOT NULL,
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    type TEXT NOT NULL,
    first_seen INTEGER NOT NULL,
    PRIMARY KEY (account_id, scope, name)
) WITHOUT ROWID;

CREATE TABLE account_stats (
    account_id INTEGER PRIMARY KEY,
    users INTEGER NOT NULL DEFAULT 0,
    anonymous_users INTEGER NOT NULL DEFAULT 0,
    events INTEGER NOT NULL DEFAULT 0
);

-- The highest ingest-log entry applied; advanced in the same transaction as the effects.
CREATE TABLE processor_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    log_id INTEGER NOT NULL
);
INSERT INTO processor_cursor (id, log_id) VALUES (1, 0);
