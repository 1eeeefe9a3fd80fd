-- Log entries the processor could not apply (issue #7): kept with everything needed to apply them
-- again, and written in the same transaction that moves processor_cursor past them.
-- AUTOINCREMENT: a dead letter's id names its re-queued copy in the ingest log (entries.retry_of), so
-- an id must never be reused.
CREATE TABLE dead_letters (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    log_id INTEGER NOT NULL,
    received_at INTEGER NOT NULL,
    records INTEGER NOT NULL,
    payload BLOB NOT NULL,
    error TEXT NOT NULL,
    message TEXT NOT NULL,
    failed_at INTEGER NOT NULL,
    attempts INTEGER NOT NULL
);
CREATE INDEX dead_letters_account ON dead_letters(account_id, id);
