-- Request traces and the debugger (issue #8).

-- One row per processing acknowledgement: the highest log id it acknowledged and when (partition 0: SQLite
-- has one lane). An entry was processed at the first mark at or past its id. Kept 72 hours.
CREATE TABLE processed_marks (
    part INTEGER NOT NULL,
    log_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    PRIMARY KEY (part, log_id)
) WITHOUT ROWID;
CREATE INDEX processed_marks_at ON processed_marks(at);

-- A trace lists the rejections of its log entries.
CREATE INDEX rejections_log ON rejections(account_id, log_id);

-- Ingest requests answered 4xx, for the debugger: the newest 1,000 per account (trimmed as they are
-- written, api/refusals.py), the body's first 1 KiB, never a header.
CREATE TABLE refused_requests (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    endpoint TEXT NOT NULL,
    status INTEGER NOT NULL,
    message TEXT NOT NULL,
    body TEXT NOT NULL,
    request_id TEXT
);
CREATE INDEX refused_requests_account ON refused_requests(account_id, id);
