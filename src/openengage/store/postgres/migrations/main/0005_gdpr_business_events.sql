-- Issue #10: GDPR requests and restrictions, business events, and the per-minute windows of the calls
-- that are not ingest-log appends.

-- WebEngage opengdpr_requests. `user_id` is the subject (a known user id) until an erasure of it runs;
-- then only `subject_hash` (sha256 of `salt` and the id) remains.
CREATE TABLE gdpr_requests (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    request_id text NOT NULL,
    type text NOT NULL,
    status text NOT NULL,
    user_id text,
    salt text NOT NULL,
    subject_hash text,
    created_at bigint NOT NULL,
    due_at bigint,
    done_at bigint,
    UNIQUE (account_id, request_id)
);
CREATE INDEX gdpr_requests_due ON gdpr_requests(due_at) WHERE status = 'pending';
CREATE INDEX gdpr_requests_subject ON gdpr_requests(account_id, user_id);

-- Users whose processing is restricted: the processor drops their new data (reason `restricted`).
CREATE TABLE gdpr_restrictions (
    account_id bigint NOT NULL,
    user_id text NOT NULL,
    request_id text NOT NULL,
    at bigint NOT NULL,
    PRIMARY KEY (account_id, user_id)
);

-- Fixed one-minute windows of the limits charged outside the ingest log (gdpr, business-definitions,
-- business-events); the call's transaction locks its row (FOR UPDATE) to decide.
CREATE TABLE limit_windows (
    account_id bigint NOT NULL,
    bucket text NOT NULL,
    window_no bigint NOT NULL,
    used bigint NOT NULL,
    PRIMARY KEY (account_id, bucket)
);

-- Business event definitions: attributes is a JSON array of [name, data type] pairs, in definition order.
CREATE TABLE business_definitions (
    account_id bigint NOT NULL,
    name text NOT NULL,
    category text NOT NULL,
    attributes jsonb NOT NULL,
    created_at bigint NOT NULL,
    updated_at bigint NOT NULL,
    PRIMARY KEY (account_id, name)
);

CREATE TABLE business_events (
    id bigserial PRIMARY KEY,
    account_id bigint NOT NULL,
    name text NOT NULL,
    time_ms bigint NOT NULL,
    time_text text,
    data jsonb NOT NULL,
    received_at bigint NOT NULL
);
CREATE INDEX business_events_name ON business_events(account_id, name, time_ms, id);
