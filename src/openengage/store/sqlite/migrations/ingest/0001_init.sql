-- OpenEngage ingest log (SQLite). A separate file from the store so that API appends and the
-- processor's transactions never wait on one write lock.

-- One row per accepted request; payload is the msgspec JSON list of internal records.
-- AUTOINCREMENT: ids must never be reused once processed entries are pruned (the processor's cursor
-- and event ids are derived from them).
CREATE TABLE entries (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    n INTEGER NOT NULL,
    payload BLOB NOT NULL
);
CREATE INDEX entries_account ON entries(account_id, id, n);

-- x-request-id de-duplication window (4 hours), per account.
CREATE TABLE request_ids (
    account_id INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    accepted_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, request_id)
) WITHOUT ROWID;

-- Fixed one-minute rate-limit windows, per account and limit name.
CREATE TABLE rate_windows (
    account_id INTEGER NOT NULL,
    bucket TEXT NOT NULL,
    window INTEGER NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (account_id, bucket)
) WITHOUT ROWID;
