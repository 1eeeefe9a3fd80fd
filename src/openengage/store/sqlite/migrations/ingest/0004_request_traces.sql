-- Request traces (issue #8): one row per accepted API request, written by the append that commits its
-- log entry, in the same transaction and the same way (one multi-row INSERT). log_id is that entry's id
-- (the rowid: no index of its own); rows are kept 72 hours (store/traces.py TRACE_RETENTION_MS), after
-- the entry itself is pruned. subjects: the JSON [kind, id] pairs the request named (GDPR erasure
-- deletes the rows that name the person).
CREATE TABLE requests (
    log_id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL,
    request_id TEXT NOT NULL,
    part INTEGER NOT NULL,
    endpoint TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    committed_at INTEGER NOT NULL,
    records INTEGER NOT NULL,
    subjects BLOB NOT NULL
);
CREATE INDEX requests_id ON requests(account_id, request_id);
-- (account_id, rowid): the debugger's newest requests of an account.
CREATE INDEX requests_account ON requests(account_id);
