-- Messaging (issue #10): delivery channels and transactional campaigns, per account.

-- kind: email (config: {"smtp_url", "from"}) | webhook (config: {"url"}; secret: its signing key).
-- The SMTP password is inside smtp_url: the store is the one place it is kept; nothing shows it back.
CREATE TABLE channels (
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    kind TEXT NOT NULL,
    config TEXT NOT NULL,
    secret TEXT,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (account_id, kind)
) WITHOUT ROWID;

-- code: the experiment id clients send ("~" and hex). status: draft | running | paused.
CREATE TABLE campaigns (
    id INTEGER PRIMARY KEY,
    account_id INTEGER NOT NULL REFERENCES accounts(id),
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    channel TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    html INTEGER NOT NULL,
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    UNIQUE (account_id, code)
);
