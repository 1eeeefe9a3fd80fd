-- Request traces (issue #8). An API request's log row carries its trace (request id, endpoint, when the
-- API received it, the [kind, id] pairs it named): a wider row in the same INSERT, no other table or
-- index on the ingest path. When the processor's maintenance prunes applied entries it moves their
-- traces to `requests` (one statement per pass), kept 72 hours (store/traces.py TRACE_RETENTION_MS).
ALTER TABLE entries ADD COLUMN request_id TEXT;
ALTER TABLE entries ADD COLUMN endpoint TEXT;
ALTER TABLE entries ADD COLUMN received_ms INTEGER;
ALTER TABLE entries ADD COLUMN subjects BLOB;

-- log_id is the entry's id (the rowid); committed_at the entry's received_at (the commit's time).
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
