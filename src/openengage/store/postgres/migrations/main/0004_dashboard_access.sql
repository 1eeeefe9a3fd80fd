-- Issue #8: dashboard sign-in and sessions, kept in the store so that every node agrees.

-- The key that signs session cookies and CSRF tokens (hex), made once by the first node that needs it.
CREATE TABLE dashboard_secret (
    id integer PRIMARY KEY CHECK (id = 1),
    secret text NOT NULL
);

-- A member's dashboard password: an Argon2id hash (NULL: no password; sign in with a one-time link).
ALTER TABLE members ADD COLUMN password_hash text;

-- When a REST key was last used: the API remembers uses in memory and writes them every few seconds.
ALTER TABLE api_keys ADD COLUMN last_used_at bigint;

-- Sessions: the SHA-256 of the cookie's random token, never the token. A session opens the accounts of
-- its members; removing a member (or changing their password) deletes its rows here.
CREATE TABLE sessions (
    id bigserial PRIMARY KEY,
    token_hash text NOT NULL UNIQUE,
    email text NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL
);
CREATE INDEX sessions_expiry ON sessions(expires_at);

CREATE TABLE session_members (
    session_id bigint NOT NULL,
    member_id bigint NOT NULL,
    PRIMARY KEY (session_id, member_id)
);
CREATE INDEX session_members_member ON session_members(member_id);

-- One-time sign-in links (`members login-link`, the first run): valid 24 h, used once.
CREATE TABLE login_links (
    id bigserial PRIMARY KEY,
    token_hash text NOT NULL UNIQUE,
    member_id bigint NOT NULL,
    created_at bigint NOT NULL,
    expires_at bigint NOT NULL,
    used_at bigint
);
CREATE INDEX login_links_member ON login_links(member_id);

-- Failed sign-ins per subject (`email:<address>`, `client:<ip>`), counted over a window to throttle.
CREATE TABLE sign_in_failures (
    id bigserial PRIMARY KEY,
    subject text NOT NULL,
    at bigint NOT NULL
);
CREATE INDEX sign_in_failures_subject ON sign_in_failures(subject, at);

-- Records accepted and processed per account and minute (the overview's charts).
CREATE TABLE minute_counts (
    account_id bigint NOT NULL,
    minute bigint NOT NULL,
    accepted bigint NOT NULL DEFAULT 0,
    processed bigint NOT NULL DEFAULT 0,
    PRIMARY KEY (account_id, minute)
);
