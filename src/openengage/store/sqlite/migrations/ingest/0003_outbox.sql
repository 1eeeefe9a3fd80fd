-- The outbox (issue #10), in the ingest log's file: a transaction, its messages and the log entry of
-- its records (trackConfig, *_queued events) commit together; so do a message's outcome and its events.

-- One row per accepted transaction request. A txn_id repeated after its dedupe window is a new row.
CREATE TABLE transactions (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    txn_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    mode TEXT NOT NULL,
    received_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    dedupe_until INTEGER NOT NULL,
    log_id INTEGER NOT NULL,
    data BLOB NOT NULL,
    response BLOB NOT NULL
);
CREATE INDEX transactions_txn ON transactions(account_id, txn_id, id);

-- One row per campaign of a transaction. The sender claims queued rows that are due (next_at), whose
-- log entry the processor has applied (log_id <= the processor's cursor), and whose lease has run out.
CREATE TABLE messages (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    transaction_id INTEGER NOT NULL,
    account_id INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    campaign_id INTEGER NOT NULL,
    experiment_id TEXT NOT NULL,
    channel TEXT NOT NULL,
    status TEXT NOT NULL,
    detail TEXT NOT NULL,
    attempts INTEGER NOT NULL,
    next_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL,
    log_id INTEGER NOT NULL,
    lease_owner TEXT,
    lease_until INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
CREATE INDEX messages_due ON messages(next_at) WHERE status = 'queued';
CREATE INDEX messages_transaction ON messages(transaction_id, seq);

CREATE TABLE message_attempts (
    message_id INTEGER NOT NULL,
    n INTEGER NOT NULL,
    at INTEGER NOT NULL,
    outcome TEXT NOT NULL,
    error TEXT,
    PRIMARY KEY (message_id, n)
) WITHOUT ROWID;
