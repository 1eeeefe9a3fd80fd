-- Messaging (issue #10): delivery channels, transactional campaigns and the outbox.

-- kind: email (config: {"smtp_url", "from"}) | webhook (config: {"url"}; secret: its signing key).
-- The SMTP password is inside smtp_url: the store is the one place it is kept; nothing shows it back.
CREATE TABLE channels (
    account_id bigint NOT NULL REFERENCES accounts(id),
    kind text NOT NULL,
    config jsonb NOT NULL,
    secret text,
    updated_at bigint NOT NULL,
    PRIMARY KEY (account_id, kind)
);

-- code: the experiment id clients send ("~" and hex). status: draft | running | paused.
CREATE TABLE campaigns (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL REFERENCES accounts(id),
    code text NOT NULL,
    name text NOT NULL,
    channel text NOT NULL,
    subject text NOT NULL,
    body text NOT NULL,
    html boolean NOT NULL,
    status text NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    UNIQUE (account_id, code)
);

-- One row per accepted transaction request. A txn_id repeated after its dedupe window is a new row.
CREATE TABLE transactions (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    txn_id text NOT NULL,
    user_id text NOT NULL,
    mode text NOT NULL,
    received_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    dedupe_until bigint NOT NULL,
    log_id bigint NOT NULL,
    data bytea NOT NULL,
    response bytea NOT NULL
);
CREATE INDEX transactions_txn ON transactions(account_id, txn_id, id);

-- One row per campaign of a transaction. The sender claims queued rows that are due (next_at), whose
-- log entry the processor has applied (acknowledged entries are deleted), and whose lease has run out;
-- FOR UPDATE SKIP LOCKED lets nodes claim side by side.
CREATE TABLE messages (
    id bigserial PRIMARY KEY,
    transaction_id bigint NOT NULL,
    account_id bigint NOT NULL,
    seq integer NOT NULL,
    campaign_id bigint NOT NULL,
    experiment_id text NOT NULL,
    channel text NOT NULL,
    status text NOT NULL,
    detail text NOT NULL,
    attempts integer NOT NULL,
    next_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    log_id bigint NOT NULL,
    lease_owner text,
    lease_until bigint NOT NULL,
    updated_at bigint NOT NULL
);
CREATE INDEX messages_due ON messages(next_at) WHERE status = 'queued';
CREATE INDEX messages_transaction ON messages(transaction_id, seq);

CREATE TABLE message_attempts (
    message_id bigint NOT NULL,
    n integer NOT NULL,
    at bigint NOT NULL,
    outcome text NOT NULL,
    error text,
    PRIMARY KEY (message_id, n)
);
