-- Log entries the processor could not apply (issue #7): kept with everything needed to apply them
-- again, and written in the same transaction that deletes them from the ingest log.
CREATE TABLE dead_letters (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    log_id bigint NOT NULL,
    received_at bigint NOT NULL,
    records integer NOT NULL,
    payload bytea NOT NULL,
    error text NOT NULL,
    message text NOT NULL,
    failed_at bigint NOT NULL,
    attempts integer NOT NULL
);
CREATE INDEX dead_letters_account ON dead_letters(account_id, id);

-- A log entry re-queued from the dead letters names its dead letter: the processor deletes the dead
-- letter in the transaction that applies the entry, and a retry never queues a second copy while one
-- is waiting.
ALTER TABLE entries ADD COLUMN retry_of bigint;
CREATE INDEX entries_retry_of ON entries(retry_of) WHERE retry_of IS NOT NULL;
