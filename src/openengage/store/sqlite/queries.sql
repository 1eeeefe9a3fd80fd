-- Named queries of the SQLite store. `main` is the store file; `log` the ingest-log file.

-- ============================================================ ingest log (log file)

-- name: append_entry
INSERT INTO entries (account_id, received_at, n, payload, request_id, endpoint, received_ms, subjects)
VALUES (?, ?, ?, ?, ?, ?, ?, ?);

-- name: request_id_seen
SELECT accepted_at FROM request_ids WHERE account_id = ? AND request_id = ?;

-- name: request_id_put
INSERT INTO request_ids (account_id, request_id, accepted_at) VALUES (?, ?, ?)
ON CONFLICT (account_id, request_id) DO UPDATE SET accepted_at = excluded.accepted_at;

-- name: window_get
SELECT window, used FROM rate_windows WHERE account_id = ? AND bucket = ?;

-- name: window_put
INSERT INTO rate_windows (account_id, bucket, window, used) VALUES (?, ?, ?, ?)
ON CONFLICT (account_id, bucket) DO UPDATE SET window = excluded.window, used = excluded.used;

-- name: claim_sizes
SELECT id, n FROM entries WHERE id > ? ORDER BY id LIMIT ?;

-- name: claim_entries
SELECT id, account_id, received_at, n, payload, retry_of FROM entries WHERE id > ? AND id <= ? ORDER BY id;

-- name: prune_first
SELECT min(id) FROM entries;

-- name: prune_entries
-- (after, up to): one chunk of applied entries.
DELETE FROM entries WHERE id > ? AND id <= ?;

-- name: request_ids_expired
-- Read without the write lock (a full scan: request_ids has no index on accepted_at).
SELECT account_id, request_id FROM request_ids WHERE accepted_at < ?;

-- name: prune_request_id
DELETE FROM request_ids WHERE account_id = ? AND request_id = ? AND accepted_at < ?;

-- name: log_max_id
SELECT coalesce(max(id), 0) FROM entries;

-- ============================================================ processing (main file)

-- name: cursor_get
SELECT log_id FROM processor_cursor WHERE id = 1;

-- name: cursor_put
UPDATE processor_cursor SET log_id = ? WHERE id = 1;

-- name: identities_in
SELECT value, profile_id FROM identities
WHERE account_id = ? AND kind = ? AND value IN (SELECT value FROM json_each(?));

-- name: profiles_in
SELECT id, account_id, user_id, system, attributes, first_seen, last_seen FROM profiles
WHERE id IN (SELECT value FROM json_each(?));

-- name: devices_in
SELECT profile_id, device_id, attributes FROM devices WHERE profile_id IN (SELECT value FROM json_each(?));

-- name: schema_in
SELECT scope, name, type FROM attribute_schema
WHERE account_id = ? AND scope IN (SELECT value FROM json_each(?));

-- name: profile_next_id
-- The first id a batch's new profiles take (inside the writer's transaction; AUTOINCREMENT then records
-- the highest id inserted, so ids are never reused).
SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = 'profiles'), 0),
           coalesce((SELECT max(id) FROM profiles), 0)) + 1;

-- name: profile_insert
INSERT INTO profiles (id, account_id, user_id, system, attributes, first_seen, last_seen, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: profile_update
UPDATE profiles SET user_id = ?, system = ?, attributes = ?, first_seen = ?, last_seen = ?, updated_at = ?
WHERE id = ?;

-- name: profile_seen
UPDATE profiles SET first_seen = ?, last_seen = ? WHERE id = ?;

-- name: identity_put
INSERT INTO identities (account_id, kind, value, profile_id) VALUES (?, ?, ?, ?)
ON CONFLICT (account_id, kind, value) DO UPDATE SET profile_id = excluded.profile_id;

-- name: identity_forget
DELETE FROM identities WHERE account_id = ? AND kind = ? AND value = ?;

-- name: event_insert
INSERT INTO events (id, account_id, profile_id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: move_identities
UPDATE identities SET profile_id = ? WHERE profile_id = ?;

-- name: move_events
UPDATE events SET profile_id = ? WHERE profile_id = ?;

-- name: move_devices
UPDATE OR IGNORE devices SET profile_id = ? WHERE profile_id = ?;

-- name: delete_identities
DELETE FROM identities WHERE profile_id = ?;

-- name: delete_devices
DELETE FROM devices WHERE profile_id = ?;

-- name: delete_profile
DELETE FROM profiles WHERE id = ?;

-- name: device_put
INSERT INTO devices (profile_id, device_id, attributes, updated_at) VALUES (?, ?, ?, ?)
ON CONFLICT (profile_id, device_id) DO UPDATE SET attributes = excluded.attributes, updated_at = excluded.updated_at;

-- name: device_delete
DELETE FROM devices WHERE profile_id = ? AND device_id = ?;

-- name: merge_insert
INSERT INTO merges (account_id, from_profile, into_profile, anonymous_id, merged_user, user_id, kind, log_id, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: rejection_insert
INSERT INTO rejections (account_id, log_id, kind, user_id, anonymous_id, event_name, field, reason, detail, value, dropped, at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?);

-- name: schema_insert
INSERT OR IGNORE INTO attribute_schema (account_id, scope, name, type, first_seen) VALUES (?, ?, ?, ?, ?);

-- name: restrictions_any
-- Whether the account has any restriction at all: almost never, and then the per-user lookup is skipped.
SELECT EXISTS (SELECT 1 FROM gdpr_restrictions WHERE account_id = ?);

-- name: devices_any
-- Whether any device is stored: without one, a batch's profiles need no device lookup.
SELECT EXISTS (SELECT 1 FROM devices);

-- name: restrictions_in
-- (account, user ids as a JSON array): those whose processing is restricted (GDPR).
SELECT user_id FROM gdpr_restrictions WHERE account_id = ? AND user_id IN (SELECT value FROM json_each(?));

-- name: stats_add
INSERT INTO account_stats (account_id, users, anonymous_users, events) VALUES (?, ?, ?, ?)
ON CONFLICT (account_id) DO UPDATE SET
    users = users + excluded.users,
    anonymous_users = anonymous_users + excluded.anonymous_users,
    events = events + excluded.events;

-- ============================================================ administration and reads
-- Written once in store/admin.py and store/reads.py: postgres/queries.sql has the same names, with the
-- same columns and parameters in the same order. Reads run on reader connections (log file attached).

-- name: config_version
SELECT version FROM config_version WHERE id = 1;

-- name: config_bump
UPDATE config_version SET version = version + 1 WHERE id = 1;

-- name: audit_insert
INSERT INTO audit_log (account_id, at, actor, address, action, target, detail) VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: audit_page
SELECT id, account_id, at, actor, address, action, target, detail FROM audit_log
WHERE account_id = ? AND id < ? ORDER BY id DESC LIMIT ?;

-- name: account_insert
INSERT INTO accounts (name, license_code, app_id, data_api_key_hash, created_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING RETURNING id;

-- name: account_lock
-- Write transactions are serial on SQLite (BEGIN IMMEDIATE): reading the row is enough.
SELECT id FROM accounts WHERE id = ?;

-- name: accounts_all
SELECT id, name, license_code, app_id, data_api_key_hash FROM accounts ORDER BY id;

-- name: account_by_license
SELECT id, name, license_code, app_id, data_api_key_hash FROM accounts WHERE license_code = ?;

-- name: account_by_app_id
SELECT id, name, license_code, app_id, data_api_key_hash FROM accounts WHERE app_id = ?;

-- name: account_by_id
SELECT id, name, license_code, app_id, data_api_key_hash FROM accounts WHERE id = ?;

-- name: account_data_key
UPDATE accounts SET data_api_key_hash = ? WHERE id = ?;

-- name: limits_of
SELECT name, per_minute FROM rate_limits WHERE account_id = ?;

-- name: limits_all
SELECT account_id, name, per_minute FROM rate_limits;

-- name: limit_put
INSERT INTO rate_limits (account_id, name, per_minute) VALUES (?, ?, ?)
ON CONFLICT (account_id, name) DO UPDATE SET per_minute = excluded.per_minute;

-- name: member_insert
INSERT INTO members (account_id, email, role, permissions, owner, created_at) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT DO NOTHING RETURNING id;

-- name: member_get
SELECT id, account_id, email, role, permissions,
       EXISTS (SELECT 1 FROM api_keys k WHERE k.member_id = members.id AND k.revoked_at IS NULL), owner
FROM members WHERE account_id = ? AND email = ?;

-- name: members_of
SELECT id, account_id, email, role, permissions,
       EXISTS (SELECT 1 FROM api_keys k WHERE k.member_id = members.id AND k.revoked_at IS NULL), owner
FROM members WHERE account_id = ? ORDER BY id;

-- name: member_role
UPDATE members SET role = ?, permissions = ? WHERE id = ?;

-- name: member_delete
DELETE FROM members WHERE id = ?;

-- name: key_insert
INSERT INTO api_keys (member_id, account_id, key_hash, hint, created_at) VALUES (?, ?, ?, ?, ?);

-- name: keys_revoke_member
UPDATE api_keys SET revoked_at = ?, revoked_reason = ? WHERE member_id = ? AND revoked_at IS NULL;

-- name: keys_of
SELECT m.email, k.hint, k.created_at, k.revoked_at, k.revoked_reason, k.last_used_at
FROM api_keys k JOIN members m ON m.id = k.member_id WHERE k.account_id = ? ORDER BY k.id;

-- name: principal
SELECT k.key_hash, m.id, m.account_id, m.email, m.permissions
FROM api_keys k JOIN members m ON m.id = k.member_id
WHERE k.key_hash = ? AND k.revoked_at IS NULL;

-- name: identity_get
SELECT profile_id FROM identities WHERE account_id = ? AND kind = ? AND value = ?;

-- name: profile_get
SELECT id, account_id, user_id, system, attributes, first_seen, last_seen FROM profiles
WHERE id = ? AND account_id = ?;

-- name: profile_anonymous_ids
SELECT value FROM identities WHERE profile_id = ? AND kind = 'a' ORDER BY value;

-- name: profile_devices
SELECT attributes FROM devices WHERE profile_id = ? ORDER BY updated_at DESC, device_id;

-- name: events_page
SELECT id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at FROM events
WHERE profile_id = ? AND account_id = ? AND (time_ms, id) < (?, ?)
ORDER BY time_ms DESC, id DESC LIMIT ?;

-- name: stats_get
-- (account, account). One statement, one snapshot of both files: the counters and what is still
-- pending (log entries past the processor's cursor) agree.
SELECT coalesce(s.users, 0), coalesce(s.anonymous_users, 0), coalesce(s.events, 0),
       (SELECT coalesce(sum(e.n), 0) FROM log.entries e
        WHERE e.account_id = ? AND e.id > (SELECT log_id FROM processor_cursor WHERE id = 1))
FROM (SELECT 1) LEFT JOIN account_stats s ON s.account_id = ?;

-- name: schema_all
SELECT scope, name, type, first_seen FROM attribute_schema WHERE account_id = ? ORDER BY scope, name;

-- name: rejections_page
SELECT id, log_id, kind, user_id, anonymous_id, event_name, field, reason, detail, value, dropped, at
FROM rejections WHERE account_id = ? AND id < ? AND (? IS NULL OR user_id = ?) ORDER BY id DESC LIMIT ?;

-- name: merges_page
SELECT id, from_profile, into_profile, anonymous_id, merged_user, user_id, kind, log_id, at
FROM merges WHERE account_id = ? AND id < ? ORDER BY id DESC LIMIT ?;

-- ============================================================ dashboard access (store/access.py)

-- name: dashboard_secret_get
SELECT secret FROM dashboard_secret WHERE id = 1;

-- name: dashboard_secret_put
INSERT INTO dashboard_secret (id, secret) VALUES (1, ?) ON CONFLICT (id) DO NOTHING;

-- name: member_password_put
UPDATE members SET password_hash = ? WHERE id = ?;

-- name: logins_of
SELECT id, account_id, password_hash FROM members WHERE email = ? AND password_hash IS NOT NULL ORDER BY id;

-- name: login_link_insert
INSERT INTO login_links (token_hash, member_id, created_at, expires_at) VALUES (?, ?, ?, ?);

-- name: login_links_prune
DELETE FROM login_links WHERE expires_at < ?;

-- name: login_links_forget
DELETE FROM login_links WHERE member_id = ?;

-- name: login_link_use
-- (now, token hash, now): marks the link used and returns its member, only if it was valid and unused.
UPDATE login_links SET used_at = ? WHERE token_hash = ? AND used_at IS NULL AND expires_at > ? RETURNING member_id;

-- name: member_email
SELECT id, email FROM members WHERE id = ?;

-- name: session_insert
INSERT INTO sessions (token_hash, email, created_at, expires_at) VALUES (?, ?, ?, ?) RETURNING id;

-- name: session_member_insert
INSERT INTO session_members (session_id, member_id) VALUES (?, ?) ON CONFLICT DO NOTHING;

-- name: session_get
SELECT id, email, expires_at FROM sessions WHERE token_hash = ? AND expires_at > ?;

-- name: session_memberships
-- A session's accounts and the members it acts as (member columns as member_get, then the account's).
SELECT m.id, m.account_id, m.email, m.role, m.permissions,
       EXISTS (SELECT 1 FROM api_keys k WHERE k.member_id = m.id AND k.revoked_at IS NULL), m.owner,
       a.name, a.license_code, a.app_id
FROM session_members s JOIN members m ON m.id = s.member_id JOIN accounts a ON a.id = m.account_id
WHERE s.session_id = ? ORDER BY a.id;

-- name: session_members_end
DELETE FROM session_members WHERE session_id IN (SELECT id FROM sessions WHERE token_hash = ?);

-- name: session_end
DELETE FROM sessions WHERE token_hash = ?;

-- name: session_members_forget
DELETE FROM session_members WHERE member_id = ?;

-- name: sessions_prune_members
DELETE FROM session_members WHERE session_id IN (SELECT id FROM sessions WHERE expires_at <= ?);

-- name: sessions_prune
DELETE FROM sessions WHERE expires_at <= ?;

-- name: sign_in_failures_count
SELECT count(*) FROM sign_in_failures WHERE subject = ? AND at > ?;

-- name: sign_in_failure_insert
INSERT INTO sign_in_failures (subject, at) VALUES (?, ?);

-- name: sign_in_failures_prune
DELETE FROM sign_in_failures WHERE at < ?;

-- name: sign_in_failures_clear
DELETE FROM sign_in_failures WHERE subject = ?;

-- name: key_used
-- (at, key hash, at): a later use only; flushes from several nodes may arrive in any order.
UPDATE api_keys SET last_used_at = ? WHERE key_hash = ? AND (last_used_at IS NULL OR last_used_at < ?);

-- name: minutes_since
SELECT minute, accepted, processed FROM minute_counts WHERE account_id = ? AND minute >= ? ORDER BY minute;

-- ============================================================ dead letters

-- name: dead_letter_insert
INSERT INTO dead_letters (account_id, log_id, received_at, records, payload, error, message, failed_at, attempts)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1);

-- name: dead_letter_again
-- A re-queued entry failed again: its dead letter takes the new error.
UPDATE dead_letters SET log_id = ?, error = ?, message = ?, failed_at = ?, attempts = attempts + 1
WHERE id = ? AND account_id = ?;

-- name: dead_letter_resolve
DELETE FROM dead_letters WHERE id = ? AND account_id = ?;

-- name: dead_letters_page
-- On the read connection (the log attached): `requeued` when a copy waits in the ingest log (past the
-- cursor: entries up to it are done and only wait to be pruned).
SELECT d.id, d.account_id, d.log_id, d.received_at, d.records, d.payload, d.error, d.message, d.failed_at,
       d.attempts,
       EXISTS (SELECT 1 FROM log.entries e WHERE e.retry_of = d.id AND e.id > (SELECT log_id FROM processor_cursor))
FROM dead_letters d WHERE d.account_id = ? AND d.id < ? ORDER BY d.id DESC LIMIT ?;

-- name: dead_letters_count
SELECT count(*) FROM dead_letters WHERE account_id = ?;

-- name: dead_letters_pick
-- The dead letters of an account with the given ids (a JSON array), or all of them when it is null.
SELECT id, received_at, records, payload FROM dead_letters
WHERE account_id = ?1 AND (?2 IS NULL OR id IN (SELECT value FROM json_each(?2))) ORDER BY id;

-- name: dead_letters_queued
-- Of the given dead letters (a JSON array), those with a copy waiting in the ingest log past the
-- cursor (log file).
SELECT DISTINCT retry_of FROM entries WHERE retry_of IN (SELECT value FROM json_each(?)) AND id > ?;

-- name: dead_letter_requeue
INSERT INTO entries (account_id, received_at, n, payload, retry_of) VALUES (?, ?, ?, ?, ?);

-- name: dead_letters_of
SELECT id FROM dead_letters WHERE account_id = ? ORDER BY id;

-- name: dead_letter_drop
DELETE FROM dead_letters WHERE account_id = ? AND id = ?;

-- ============================================================ operations (/metrics)

-- name: backlog
-- Records not yet applied, and when the oldest of them was accepted (read connection: log attached).
SELECT coalesce(sum(n), 0), min(received_at) FROM log.entries
WHERE id > (SELECT log_id FROM processor_cursor WHERE id = 1);

-- name: profiles_after
-- (account, after id, limit): every profile of the account, in id order (export).
SELECT id, account_id, user_id, system, attributes, first_seen, last_seen FROM profiles
WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?;

-- name: anonymous_ids_between
-- (account, first profile id, last profile id): the anonymous ids of a run of profiles (export).
SELECT profile_id, value FROM identities
WHERE account_id = ? AND kind = 'a' AND profile_id BETWEEN ? AND ? ORDER BY profile_id, value;

-- name: events_after
-- (account, after id, limit): every event of the account, in acceptance order (export).
SELECT id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at FROM events
WHERE account_id = ? AND id > ? ORDER BY id LIMIT ?;

-- ============================================================ dashboard data pages (store/browse.py)
-- Maintained by the processor (store/derived.py, sqlite/derived.py) in its transactions.

-- name: erase_profile_search_terms
-- (account, profile): a GDPR erasure (store/gdpr.py). No index by profile: the account's terms are
-- scanned, which an erasure (rare, in the background) can afford.
DELETE FROM search_terms WHERE account_id = ? AND profile_id = ?;

-- name: erase_rejection_examples
-- (account, id, id): a GDPR erasure forgets the latest examples of data quality that name the person
-- (the counts stay: they hold no one's data).
UPDATE rejection_counts SET example_value = NULL, example_detail = '', example_user_id = NULL,
    example_anonymous_id = NULL
WHERE account_id = ? AND (example_user_id = ? OR example_anonymous_id = ?);

-- name: search_term_delete
DELETE FROM search_terms WHERE account_id = ? AND term = ? AND profile_id = ?;

-- name: search_term_put
INSERT INTO search_terms (account_id, term, profile_id, field) VALUES (?, ?, ?, ?)
ON CONFLICT (account_id, term, profile_id) DO UPDATE SET field = excluded.field;

-- name: data_count_add
INSERT INTO data_counts (account_id, scope, name, count, first_seen, last_seen) VALUES (?, ?, ?, ?, ?, ?)
ON CONFLICT (account_id, scope, name) DO UPDATE SET
    count = count + excluded.count,
    first_seen = min(first_seen, excluded.first_seen),
    last_seen = max(last_seen, excluded.last_seen);

-- name: rejection_count_add
INSERT INTO rejection_counts (account_id, reason, event_name, field, count, first_at, last_at, example_value,
                              example_detail, example_user_id, example_anonymous_id, example_dropped)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (account_id, reason, event_name, field) DO UPDATE SET
    count = count + excluded.count,
    first_at = min(first_at, excluded.first_at),
    last_at = max(last_at, excluded.last_at),
    example_value = excluded.example_value,
    example_detail = excluded.example_detail,
    example_user_id = excluded.example_user_id,
    example_anonymous_id = excluded.example_anonymous_id,
    example_dropped = excluded.example_dropped;

-- name: search_range
-- (account, from term, from profile, below term, limit): the primary key's order, the exact term first.
SELECT term, profile_id, field FROM search_terms
WHERE account_id = ? AND (term, profile_id) > (?, ?) AND term < ?
ORDER BY term, profile_id LIMIT ?;

-- name: hit_profiles
-- (account, profile ids as JSON): what a row of the users page shows of a profile. CROSS JOIN: the ids
-- first, one primary-key probe each (not the account's profiles_user index).
SELECT p.id, p.user_id, p.system, p.first_seen, p.last_seen, p.attributes
FROM json_each(?2) AS j CROSS JOIN profiles AS p ON p.id = j.value WHERE p.account_id = ?1;

-- name: hit_anonymous_ids
SELECT profile_id, min(value) FROM identities
WHERE profile_id IN (SELECT value FROM json_each(?)) AND kind = 'a' GROUP BY profile_id;

-- name: users_first
SELECT id, user_id, system, first_seen, last_seen, attributes FROM profiles
WHERE account_id = ? AND user_id >= ? ORDER BY user_id LIMIT ?;

-- name: users_after
SELECT id, user_id, system, first_seen, last_seen, attributes FROM profiles
WHERE account_id = ? AND user_id > ? ORDER BY user_id LIMIT ?;

-- name: schema_scope
SELECT name, type FROM attribute_schema WHERE account_id = ? AND scope = ? ORDER BY name;

-- name: merges_into_profile
SELECT id, from_profile, into_profile, anonymous_id, merged_user, user_id, kind, log_id, at
FROM merges WHERE into_profile = ? AND account_id = ? ORDER BY id DESC LIMIT ?;

-- name: rejections_of_profile
-- (account, user id, before, limit, account, anonymous ids as JSON, before, limit, limit)
SELECT * FROM (
    SELECT id, log_id, kind, user_id, anonymous_id, event_name, field, reason, detail, value, dropped, at
    FROM rejections WHERE account_id = ? AND user_id = ? AND id < ? ORDER BY id DESC LIMIT ?
)
UNION ALL
SELECT * FROM (
    SELECT id, log_id, kind, user_id, anonymous_id, event_name, field, reason, detail, value, dropped, at
    FROM rejections INDEXED BY rejections_anonymous
    WHERE account_id = ? AND user_id IS NULL AND anonymous_id IN (SELECT value FROM json_each(?))
    AND id < ? ORDER BY id DESC LIMIT ?
)
ORDER BY 1 DESC LIMIT ?;

-- name: events_max_id
SELECT coalesce(max(id), 0) FROM events;

-- name: tail_recent_profile
-- (profile, account, name, name, limit)
SELECT id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at FROM events
WHERE profile_id = ? AND account_id = ? AND (? IS NULL OR name = ?)
ORDER BY id DESC LIMIT ?;

-- name: tail_after
-- (after id, window, account, name, name, limit): the account's newest events after `after` among the
-- newest `window` events of the store (every account's): a backward range of the primary key, stopped
-- by LIMIT, never below the window's floor (found by skipping `window` rowids); the page's first
-- screen asks after -1.
SELECT id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at FROM events
WHERE id > ? AND id >= coalesce((SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ? - 1), 0)
AND account_id = ? AND (? IS NULL OR name = ?)
ORDER BY id DESC LIMIT ?;

-- name: tail_after_profile
-- (after id, window, profile, account, name, name, limit): the same for one profile (the feed of a
-- filtered tail: recent ids); `+profile_id` keeps SQLite on the primary key's range rather than sorting
-- the profile's whole history.
SELECT id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at FROM events
WHERE id > ? AND id >= coalesce((SELECT id FROM events ORDER BY id DESC LIMIT 1 OFFSET ? - 1), 0)
AND +profile_id = ? AND account_id = ? AND (? IS NULL OR name = ?)
ORDER BY id DESC LIMIT ?;

-- name: catalogue_counts
SELECT scope, name, sum(count), min(first_seen), max(last_seen) FROM data_counts
WHERE account_id = ? GROUP BY scope, name;

-- name: rejection_groups
SELECT reason, event_name, field, count, first_at, last_at, example_value, example_detail, example_user_id,
       example_anonymous_id, example_dropped
FROM rejection_counts WHERE account_id = ? LIMIT ?;

-- name: rejections_of_group
-- (account, reason, field (first 200 characters), event name or '', before id, limit)
SELECT id, log_id, kind, user_id, anonymous_id, event_name, field, reason, detail, value, dropped, at
FROM rejections
WHERE account_id = ? AND reason = ? AND substr(field, 1, 200) = ? AND substr(coalesce(event_name, ''), 1, 200) = ?
AND id < ?
ORDER BY id DESC LIMIT ?;

-- ============================================================ messaging (issue #10): store/messaging.py

-- name: channel_put
INSERT INTO channels (account_id, kind, config, secret, updated_at) VALUES (?, ?, ?, ?, ?)
ON CONFLICT (account_id, kind) DO UPDATE SET config = excluded.config, secret = excluded.secret,
    updated_at = excluded.updated_at;

-- name: channel_get
SELECT account_id, kind, config, secret, updated_at FROM channels WHERE account_id = ? AND kind = ?;

-- name: channels_of
SELECT account_id, kind, config, secret, updated_at FROM channels WHERE account_id = ? ORDER BY kind;

-- name: campaign_insert
INSERT INTO campaigns (account_id, code, name, channel, subject, body, html, status, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id;

-- name: campaign_get
SELECT id, account_id, code, name, channel, subject, body, html, status, created_at, updated_at
FROM campaigns WHERE account_id = ? AND code = ?;

-- name: campaign_by_id
SELECT id, account_id, code, name, channel, subject, body, html, status, created_at, updated_at
FROM campaigns WHERE account_id = ? AND id = ?;

-- name: campaigns_of
SELECT id, account_id, code, name, channel, subject, body, html, status, created_at, updated_at
FROM campaigns WHERE account_id = ? ORDER BY id DESC;

-- name: campaign_status
UPDATE campaigns SET status = ?, updated_at = ? WHERE id = ?;

-- name: transaction_latest
SELECT id, account_id, txn_id, user_id, mode, received_at, expires_at FROM log.transactions
WHERE account_id = ? AND txn_id = ? ORDER BY id DESC LIMIT 1;

-- name: transaction_messages
-- A transaction's messages, each with its attempts (NULLs for a message without any), in one statement:
-- one snapshot, so a message's status and its attempts always agree (they are committed together).
SELECT m.id, m.seq, m.experiment_id, m.channel, m.status, m.detail, m.next_at, m.updated_at, a.at, a.outcome, a.error
FROM log.messages m LEFT JOIN log.message_attempts a ON a.message_id = m.id
WHERE m.transaction_id = ? ORDER BY m.seq, a.n;

-- name: user_transactions
-- (account, user, limit): the user's newest transactions (GDPR portability).
SELECT id, account_id, txn_id, user_id, mode, received_at, expires_at FROM log.transactions
WHERE account_id = ? AND user_id = ? ORDER BY id DESC LIMIT ?;

-- name: user_messages
-- (account, user, oldest transaction id): the messages of those transactions, each with its attempts
-- (NULLs for none), in one statement: one snapshot, as transaction_messages.
SELECT m.transaction_id, m.id, m.seq, m.experiment_id, m.channel, m.status, m.detail, m.next_at, m.updated_at,
       a.at, a.outcome, a.error
FROM log.transactions t JOIN log.messages m ON m.transaction_id = t.id
LEFT JOIN log.message_attempts a ON a.message_id = m.id
WHERE t.account_id = ? AND t.user_id = ? AND t.id >= ? ORDER BY m.transaction_id, m.seq, a.n;

-- name: gdpr_block
-- (account, user, account, user, now): why the user may not be messaged: a restriction, or an erasure
-- that is due (rules/gdpr.py).
SELECT 'restricted' FROM gdpr_restrictions WHERE account_id = ? AND user_id = ?
UNION ALL
SELECT 'erasure' FROM gdpr_requests
WHERE account_id = ? AND user_id = ? AND type = 'erasure' AND status = 'pending' AND due_at <= ?
LIMIT 1;

-- ============================================================ the outbox (log file): store/sqlite/outbox.py

-- name: txn_latest
SELECT dedupe_until, response FROM transactions WHERE account_id = ? AND txn_id = ? ORDER BY id DESC LIMIT 1;

-- name: txn_entry
INSERT INTO entries (account_id, received_at, n, payload) VALUES (?, ?, ?, ?) RETURNING id;

-- name: txn_insert
INSERT INTO transactions (account_id, txn_id, user_id, mode, received_at, expires_at, dedupe_until, log_id, data,
    response) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id;

-- name: message_insert
INSERT INTO messages (transaction_id, account_id, seq, campaign_id, experiment_id, channel, status, detail, attempts,
    next_at, expires_at, log_id, lease_owner, lease_until, updated_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?, ?, NULL, 0, ?);

-- name: messages_due
SELECT m.id FROM messages m WHERE m.status = 'queued' AND m.next_at <= ? AND m.lease_until < ? AND m.log_id <= ?
ORDER BY m.next_at, m.id LIMIT ?;

-- name: message_lease
UPDATE messages SET lease_owner = ?, lease_until = ? WHERE id = ? AND status = 'queued' AND lease_until < ?
RETURNING id;

-- name: message_claimed
SELECT m.id, m.account_id, m.transaction_id, t.txn_id, t.user_id, t.mode, m.seq, m.campaign_id, m.experiment_id,
       m.channel, m.attempts, t.received_at, m.expires_at, t.data
FROM messages m JOIN transactions t ON t.id = m.transaction_id WHERE m.id = ?;

-- name: message_finish
UPDATE messages SET status = ?, attempts = attempts + 1, next_at = ?, lease_owner = NULL, lease_until = 0,
    updated_at = ? WHERE id = ? AND lease_owner = ? RETURNING attempts;

-- name: attempt_insert
INSERT INTO message_attempts (message_id, n, at, outcome, error) VALUES (?, ?, ?, ?, ?);

-- name: message_promote
UPDATE messages SET status = 'queued', next_at = ?, updated_at = ?
WHERE id = (SELECT id FROM messages WHERE transaction_id = ? AND status = 'standby' ORDER BY seq LIMIT 1);

-- name: messages_close
UPDATE messages SET status = ?, detail = ?, updated_at = ? WHERE transaction_id = ? AND status = 'standby';

-- name: outbox_user_leased
-- (account, user ids as a JSON array, now): messages of those users a sender holds right now (a GDPR
-- erasure waits for them).
SELECT count(*) FROM transactions t JOIN messages m ON m.transaction_id = t.id
WHERE t.account_id = ? AND t.user_id IN (SELECT value FROM json_each(?))
  AND m.lease_owner IS NOT NULL AND m.lease_until >= ?;

-- name: outbox_erase_attempts
-- (account, user ids as a JSON array): a GDPR erasure.
DELETE FROM message_attempts WHERE message_id IN (
    SELECT m.id FROM transactions t JOIN messages m ON m.transaction_id = t.id
    WHERE t.account_id = ? AND t.user_id IN (SELECT value FROM json_each(?)));

-- name: outbox_erase_messages
DELETE FROM messages WHERE transaction_id IN (
    SELECT id FROM transactions WHERE account_id = ? AND user_id IN (SELECT value FROM json_each(?)));

-- name: outbox_erase_transactions
DELETE FROM transactions WHERE account_id = ? AND user_id IN (SELECT value FROM json_each(?));

-- name: outbox_expired
-- (cutoff, cutoff, limit): transactions whose ttl and dedupe window ended before the cutoff (retention).
SELECT id FROM transactions WHERE expires_at < ? AND dedupe_until < ? ORDER BY expires_at LIMIT ?;

-- name: outbox_prune_attempts
-- (transaction ids as a JSON array)
DELETE FROM message_attempts WHERE message_id IN (
    SELECT id FROM messages WHERE transaction_id IN (SELECT value FROM json_each(?)));

-- name: outbox_prune_messages
DELETE FROM messages WHERE transaction_id IN (SELECT value FROM json_each(?));

-- name: outbox_prune_transactions
DELETE FROM transactions WHERE id IN (SELECT value FROM json_each(?));

-- name: event_entry
INSERT INTO entries (account_id, received_at, n, payload) VALUES (?, ?, ?, ?);

-- ============================================================ per-minute limits outside the ingest log
-- (store/limits.py: gdpr, business-definitions, business-events; charged in the call's transaction)

-- name: limit_window_init
INSERT OR IGNORE INTO limit_windows (account_id, bucket, window_no, used) VALUES (?, ?, -1, 0);

-- name: limit_window_lock
-- Write transactions are serial on SQLite: reading the row is enough.
SELECT window_no, used FROM limit_windows WHERE account_id = ? AND bucket = ?;

-- name: limit_window_put
UPDATE limit_windows SET window_no = ?, used = ? WHERE account_id = ? AND bucket = ?;

-- ============================================================ GDPR requests (store/gdpr.py)

-- name: gdpr_insert
INSERT INTO gdpr_requests (account_id, request_id, type, status, user_id, salt, created_at, due_at, done_at)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id;

-- name: gdpr_get
SELECT request_id, type, status, user_id, created_at, due_at, done_at FROM gdpr_requests
WHERE account_id = ? AND request_id = ?;

-- name: gdpr_cancel
-- (now, account, request id, now): only a pending request not yet due.
UPDATE gdpr_requests SET status = 'cancelled', done_at = ?
WHERE account_id = ? AND request_id = ? AND status = 'pending' AND due_at > ?;

-- name: restriction_put
INSERT INTO gdpr_restrictions (account_id, user_id, request_id, at) VALUES (?, ?, ?, ?)
ON CONFLICT (account_id, user_id) DO UPDATE SET request_id = excluded.request_id, at = excluded.at;

-- name: restriction_delete
DELETE FROM gdpr_restrictions WHERE account_id = ? AND user_id = ?;

-- name: gdpr_due
-- (cutoff, limit): erasures due at or before the cutoff, oldest first.
SELECT id, account_id, due_at FROM gdpr_requests WHERE status = 'pending' AND due_at <= ?
ORDER BY due_at, id LIMIT ?;

-- name: log_pending_before
-- (account, time): entries of the account accepted at or before `time` and not applied yet (read
-- connection: the log attached).
SELECT count(*) FROM log.entries
WHERE account_id = ? AND id > (SELECT log_id FROM processor_cursor WHERE id = 1) AND received_at <= ?;

-- name: gdpr_claim
-- (id, cutoff). Write transactions are serial on SQLite: the row cannot change under this one.
SELECT account_id, request_id, user_id, salt FROM gdpr_requests
WHERE id = ? AND status = 'pending' AND due_at <= ?;

-- name: profile_lock
SELECT user_id FROM profiles WHERE id = ? AND account_id = ?;

-- name: profile_identities
SELECT kind, value FROM identities WHERE profile_id = ?;

-- name: erase_profile_events
DELETE FROM events WHERE profile_id = ?;

-- name: erase_profile_merges
DELETE FROM merges WHERE account_id = ? AND (from_profile = ? OR into_profile = ?);

-- name: erase_user_events
DELETE FROM events WHERE account_id = ? AND user_id = ?;

-- name: erase_user_rejections
DELETE FROM rejections WHERE account_id = ? AND user_id = ?;

-- name: erase_user_merges
DELETE FROM merges WHERE account_id = ? AND (user_id = ? OR merged_user = ?);

-- name: erase_anonymous_rejections
DELETE FROM rejections WHERE account_id = ? AND anonymous_id = ?;

-- name: gdpr_subject_rows
SELECT id, salt FROM gdpr_requests WHERE account_id = ? AND user_id = ?;

-- name: gdpr_scrub
UPDATE gdpr_requests SET user_id = NULL, subject_hash = ? WHERE id = ?;

-- name: gdpr_done
UPDATE gdpr_requests SET status = 'done', done_at = ? WHERE id = ?;

-- name: stats_adjust
-- (account, users, anonymous users, events): deltas.
INSERT INTO account_stats (account_id, users, anonymous_users, events) VALUES (?, ?, ?, ?)
ON CONFLICT (account_id) DO UPDATE SET
    users = users + excluded.users,
    anonymous_users = anonymous_users + excluded.anonymous_users,
    events = events + excluded.events;

-- ============================================================ business events (store/business.py)

-- name: business_def_get
SELECT name, category, attributes, created_at, updated_at FROM business_definitions
WHERE account_id = ? AND name = ?;

-- name: business_def_lock
-- Write transactions are serial on SQLite: reading the row is enough.
SELECT name, category, attributes, created_at, updated_at FROM business_definitions
WHERE account_id = ? AND name = ?;

-- name: business_def_insert
INSERT INTO business_definitions (account_id, name, category, attributes, created_at, updated_at)
VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING account_id;

-- name: business_def_update
UPDATE business_definitions SET attributes = ?, updated_at = ? WHERE account_id = ? AND name = ?;

-- name: business_defs_all
SELECT d.name, d.category, d.attributes, d.created_at, d.updated_at,
       (SELECT count(*) FROM business_events e WHERE e.account_id = d.account_id AND e.name = d.name)
FROM business_definitions d WHERE d.account_id = ? ORDER BY d.name;

-- name: business_event_insert
INSERT INTO business_events (account_id, name, time_ms, time_text, data, received_at) VALUES (?, ?, ?, ?, ?, ?)
RETURNING id;

-- name: business_events_page
SELECT id, name, time_ms, time_text, data, received_at FROM business_events
WHERE account_id = ? AND name = ? AND (time_ms, id) < (?, ?) ORDER BY time_ms DESC, id DESC LIMIT ?;

-- ============================================================ request traces and the debugger (store/traces.py)

-- name: requests_keep
-- (after, up to): the request traces of one chunk of applied entries about to be pruned (the log file).
INSERT OR IGNORE INTO requests (log_id, account_id, request_id, part, endpoint, received_at, committed_at, records,
    subjects)
SELECT id, account_id, request_id, 0, endpoint, received_ms, received_at, n, subjects FROM entries
WHERE id > ? AND id <= ? AND request_id IS NOT NULL;

-- name: entry_forget_request
UPDATE entries SET request_id = NULL, subjects = NULL WHERE id = ?;

-- name: requests_prune
-- (cutoff): the traces committed before `cutoff`, oldest first, at most 10,000 a call (log ids
-- follow commit order, so the scan stops at the first row to keep).
DELETE FROM requests WHERE log_id < coalesce(
    (SELECT log_id FROM requests WHERE committed_at >= ? ORDER BY log_id LIMIT 1),
    (SELECT max(log_id) + 1 FROM requests)
) AND log_id < (SELECT min(log_id) FROM requests) + 10000;

-- name: request_delete
DELETE FROM requests WHERE log_id = ?;

-- name: processed_mark
INSERT OR IGNORE INTO processed_marks (part, log_id, at) VALUES (0, ?, ?);

-- name: processed_marks_prune
DELETE FROM processed_marks WHERE at < ?;

-- name: request_parts
-- (account, request id, account, request id) -> the trace rows of a request, kept or still in the log
-- (reader: the log attached).
SELECT log_id, part, endpoint, received_at, committed_at, records, subjects
FROM log.requests WHERE account_id = ? AND request_id = ?
UNION
SELECT id, 0, endpoint, received_ms, received_at, n, subjects
FROM log.entries WHERE account_id = ? AND request_id = ?
ORDER BY 1;

-- name: log_entry_pending
SELECT CASE WHEN ? > log_id THEN 1 ELSE 0 END FROM processor_cursor WHERE id = 1;

-- name: processed_mark_at
SELECT at FROM processed_marks WHERE part = ? AND log_id >= ? ORDER BY log_id LIMIT 1;

-- name: dead_letter_of_log
SELECT error, message FROM dead_letters WHERE account_id = ? AND log_id = ?;

-- name: events_of_log
-- (account, first id, last id, limit): the events of one log entry.
SELECT id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at
FROM events WHERE account_id = ? AND id BETWEEN ? AND ? ORDER BY id LIMIT ?;

-- name: rejections_of_log
SELECT id, log_id, kind, user_id, anonymous_id, event_name, field, reason, detail, value, dropped, at
FROM rejections WHERE account_id = ? AND log_id = ? ORDER BY id LIMIT ?;

-- name: identity_user
-- (account, kind, value) -> the user id of the profile the id leads to (NULL: an anonymous profile).
SELECT p.user_id FROM identities i JOIN profiles p ON p.id = i.profile_id
WHERE i.account_id = ? AND i.kind = ? AND i.value = ?;

-- name: request_of_log
-- (account, log id, account, log id)
SELECT request_id FROM log.requests WHERE account_id = ? AND log_id = ?
UNION ALL
SELECT request_id FROM log.entries WHERE account_id = ? AND id = ? AND request_id IS NOT NULL;

-- name: recent_accepted
-- (account, endpoint or '', endpoint, limit, account, endpoint or '', endpoint, limit): the newest kept
-- traces and the newest still in the log (the caller merges them).
SELECT * FROM (SELECT log_id, request_id, endpoint, received_at, records FROM log.requests
    WHERE account_id = ? AND (? = '' OR endpoint = ?) ORDER BY log_id DESC LIMIT ?)
UNION ALL
SELECT * FROM (SELECT id, request_id, endpoint, received_ms, n FROM log.entries
    WHERE account_id = ? AND request_id IS NOT NULL AND (? = '' OR endpoint = ?) ORDER BY id DESC LIMIT ?);

-- name: recent_refused
SELECT at, endpoint, status, message, body, request_id FROM refused_requests
WHERE account_id = ? AND (? = '' OR endpoint = ?) ORDER BY id DESC LIMIT ?;

-- name: refusal_insert
INSERT INTO refused_requests (account_id, at, endpoint, status, message, body, request_id) VALUES (?, ?, ?, ?, ?, ?, ?);

-- name: refusals_trim
-- (account, account, keep): all but the account's newest `keep`.
DELETE FROM refused_requests WHERE account_id = ? AND id <= coalesce(
    (SELECT id FROM refused_requests WHERE account_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?), 0);

-- name: request_subjects_of_account
-- (account, account): kept traces and those still in the log
SELECT log_id, subjects FROM log.requests WHERE account_id = ?
UNION ALL
SELECT id, subjects FROM log.entries WHERE account_id = ? AND request_id IS NOT NULL;

-- name: erase_refusals
-- (account, id, id as inside a JSON string): the refused bodies that mention the person.
DELETE FROM refused_requests WHERE account_id = ? AND (instr(body, ?) > 0 OR instr(body, ?) > 0);
