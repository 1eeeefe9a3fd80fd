-- Request traces and the debugger (issue #8).

-- An API request's log rows carry its trace (request id, endpoint, when the API received it, the JSON
-- [kind, id] pairs it named): wider rows in the same COPY, nothing else on the ingest path. The
-- processor's acknowledgement copies them to `requests` (one row per entry: a request split over
-- partitions has several) in the transaction that deletes them; kept 72 hours (store/traces.py).
ALTER TABLE entries ADD COLUMN request_id text;
ALTER TABLE entries ADD COLUMN endpoint text;
ALTER TABLE entries ADD COLUMN received_ms bigint;
ALTER TABLE entries ADD COLUMN subjects bytea;

CREATE TABLE requests (
    log_id bigint PRIMARY KEY,
    account_id bigint NOT NULL,
    request_id text NOT NULL,
    part smallint NOT NULL,
    endpoint text NOT NULL,
    received_at bigint NOT NULL,
    committed_at bigint NOT NULL,
    records integer NOT NULL,
    subjects bytea NOT NULL
);
CREATE INDEX requests_id ON requests(account_id, request_id);
CREATE INDEX requests_account ON requests(account_id, log_id);

-- One row per processing acknowledgement of a partition: the highest log id it acknowledged and when.
CREATE TABLE processed_marks (
    part smallint NOT NULL,
    log_id bigint NOT NULL,
    at bigint NOT NULL,
    PRIMARY KEY (part, log_id)
);
CREATE INDEX processed_marks_at ON processed_marks(at);

CREATE INDEX rejections_log ON rejections(account_id, log_id);

CREATE TABLE refused_requests (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    at bigint NOT NULL,
    endpoint text NOT NULL,
    status integer NOT NULL,
    message text NOT NULL,
    body text NOT NULL,
    request_id text
);
CREATE INDEX refused_requests_account ON refused_requests(account_id, id);
