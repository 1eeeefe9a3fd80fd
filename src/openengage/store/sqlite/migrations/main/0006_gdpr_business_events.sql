-- Issue #10: GDPR requests and restrictions, business events, and the per-minute windows of the calls
-- that write to this file (not to the ingest log).

-- WebEngage opengdpr_requests. `user_id` is the subject (a known user id) until an erasure of it runs;
-- then only `subject_hash` (sha256 of `salt` and the id) remains. AUTOINCREMENT: ids are never reused.
CREATE TABLE gdpr_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    type TEXT NOT NULL,
    status TEXT NOT NULL,
    user_id TEXT,
    salt TEXT NOT NULL,
    subject_hash TEXT,
    created_at INTEGER NOT NULL,
    due_at INTEGER,
    done_at INTEGER,
    UNIQUE (account_id, request_id)
);
CREATE INDEX gdpr_requests_due ON gdpr_requests(due_at) WHERE status = 'pending';
CREATE INDEX gdpr_requests_subject ON gdpr_requests(account_id, user_id);

-- Users whose processing is restricted: the processor drops their new data (reason `restricted`).
CREATE TABLE gdpr_restrictions (
    account_id INTEGER NOT NULL,
    user_id TEXT NOT NULL,
    request_id TEXT NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (account_id, user_id)
) WITHOUT ROWID;

-- Fixed one-minute windows of the limits charged outside the ingest log (gdpr, business-definitions,
-- business-events), in the transaction of the call they count.
CREATE TABLE limit_windows (
    account_id INTEGER NOT NULL,
    bucket TEXT NOT NULL,
    window_no INTEGER NOT NULL,
    used INTEGER NOT NULL,
    PRIMARY KEY (account_id, bucket)
) WITHOUT ROWID;

-- Business event definitions: attributes is a JSON array of [name, data type] pairs, in definition order.
CREATE TABLE business_definitions (
    account_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    category TEXT NOT NULL,
    attributes TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, name)
) WITHOUT ROWID;

CREATE TABLE business_events (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    name TEXT NOT NULL,
    time_ms INTEGER NOT NULL,
    time_text TEXT,
    data TEXT NOT NULL,
    received_at INTEGER NOT NULL
);
CREATE INDEX business_events_name ON business_events(account_id, name, time_ms, id);
