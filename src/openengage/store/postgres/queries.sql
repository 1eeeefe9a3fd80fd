-- Named queries of the PostgreSQL store (psycopg placeholders: %s).

-- ============================================================ ingest log

-- name: append_entries_copy
COPY entries (account_id, partition, received_at, n, payload) FROM STDIN (FORMAT BINARY);

-- name: lock_keys
-- Transaction-scoped advisory locks on (class, key), taken in the array's (sorted) order.
SELECT count(pg_advisory_xact_lock(%s, k)) FROM unnest(%s::int[]) AS t(k);

-- name: request_ids_seen
SELECT r.account_id, r.request_id, r.accepted_at
FROM request_ids r JOIN unnest(%s::bigint[], %s::text[]) AS k(a, q) ON r.account_id = k.a AND r.request_id = k.q;

-- name: request_id_put
INSERT INTO request_ids (account_id, request_id, accepted_at) VALUES (%s, %s, %s)
ON CONFLICT (account_id, request_id) DO UPDATE SET accepted_at = excluded.accepted_at;

-- name: windows_ensure
INSERT INTO rate_windows (account_id, bucket, window_no, used)
SELECT k.a, k.b, %s, 0 FROM unnest(%s::bigint[], %s::text[]) WITH ORDINALITY AS k(a, b, i) ORDER BY k.i
ON CONFLICT (account_id, bucket) DO NOTHING;

-- name: windows_lock
-- ORDER BY before FOR UPDATE: every node locks window rows in the same order, so appends never deadlock.
SELECT r.account_id, r.bucket, r.window_no, r.used
FROM rate_windows r JOIN unnest(%s::bigint[], %s::text[]) AS k(a, b) ON r.account_id = k.a AND r.bucket = k.b
ORDER BY r.account_id, r.bucket
FOR UPDATE OF r;

-- name: window_put
UPDATE rate_windows SET window_no = %s, used = %s WHERE account_id = %s AND bucket = %s;

-- name: prune_request_ids
DELETE FROM request_ids WHERE accepted_at < %s;

-- ============================================================ processing

-- name: partitions_pending
-- Partitions with work, oldest first: one index probe per partition.
SELECT p.p, (SELECT min(e.id) FROM entries e WHERE e.partition = p.p) AS oldest
FROM generate_series(0, %s - 1) AS p(p)
WHERE EXISTS (SELECT 1 FROM entries e WHERE e.partition = p.p)
ORDER BY oldest;

-- name: partition_try_lock
SELECT pg_try_advisory_lock(%s, %s);

-- name: partition_unlock
SELECT pg_advisory_unlock(%s, %s);

-- name: claim_sizes
SELECT id, n FROM entries WHERE partition = %s ORDER BY id LIMIT %s;

-- name: claim_entries
SELECT id, account_id, received_at, n, payload, retry_of FROM entries WHERE partition = %s AND id <= %s ORDER BY id;

-- name: ack_entries
DELETE FROM entries WHERE id = ANY(%b::bigint[]);

-- name: identities_in
-- One index probe per value, whatever the table's statistics say (right after a burst of new users
-- they are stale, and a sequential scan comparing every row with every value costs seconds).
SELECT i.value, i.profile_id FROM unnest(%s::text[]) AS v(x)
CROSS JOIN LATERAL (
    SELECT value, profile_id FROM identities WHERE account_id = %s AND kind = %s AND value = v.x
) AS i;

-- name: profiles_in
SELECT id, account_id, user_id, system, attributes, first_seen, last_seen FROM profiles WHERE id = ANY(%b::bigint[]);

-- name: devices_in
SELECT profile_id, device_id, attributes FROM devices WHERE profile_id = ANY(%b::bigint[]);

-- name: schema_in
SELECT scope, name, type FROM attribute_schema WHERE account_id = %s AND scope = ANY(%s);

-- name: profile_ids
SELECT nextval('profiles_id_seq') FROM generate_series(1, %s);

-- name: profile_insert_copy
COPY profiles (id, account_id, user_id, system, attributes, first_seen, last_seen, created_at, updated_at) FROM STDIN;

-- name: profile_update_set
-- Set-wise forms (one statement a batch, not one a row): arrays bound in binary (%b), so psycopg copies
-- strings as they are instead of quoting each for an array literal; rows in id order, locks in id order.
UPDATE profiles AS p SET user_id = v.user_id, system = v.system::jsonb, attributes = v.attributes::jsonb,
    first_seen = v.first_seen, last_seen = v.last_seen, updated_at = %s
FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::text[], %b::bigint[], %b::bigint[])
    AS v(id, user_id, system, attributes, first_seen, last_seen)
WHERE p.id = v.id;

-- name: profile_seen_set
UPDATE profiles AS p SET first_seen = v.first_seen, last_seen = v.last_seen
FROM unnest(%b::bigint[], %b::bigint[], %b::bigint[]) AS v(id, first_seen, last_seen)
WHERE p.id = v.id;

-- name: identity_put_set
INSERT INTO identities (account_id, kind, value, profile_id)
SELECT * FROM unnest(%b::bigint[], %b::text[], %b::text[], %b::bigint[])
ON CONFLICT (account_id, kind, value) DO UPDATE SET profile_id = excluded.profile_id;

-- name: identity_forget_set
DELETE FROM identities AS i
USING unnest(%b::bigint[], %b::text[], %b::text[]) AS v(account_id, kind, value)
WHERE i.account_id = v.account_id AND i.kind = v.kind AND i.value = v.value;

-- name: profile_touch
-- A profile whose identities, events or devices change is always written, so that concurrent
-- transactions touching it conflict on its row (REPEATABLE READ) instead of interleaving.
UPDATE profiles SET updated_at = %s WHERE id = ANY(%b::bigint[]);

-- name: event_insert_copy
COPY events (id, account_id, profile_id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at)
FROM STDIN;

-- name: move_identities
UPDATE identities SET profile_id = %s WHERE profile_id = %s;

-- name: move_events
UPDATE events SET profile_id = %s WHERE profile_id = %s;

-- name: move_devices
-- SQLite's UPDATE OR IGNORE: devices the target already has stay where they are (and go with the source).
UPDATE devices d SET profile_id = %s WHERE d.profile_id = %s
AND NOT EXISTS (SELECT 1 FROM devices t WHERE t.profile_id = %s AND t.device_id = d.device_id);

-- name: delete_identities
DELETE FROM identities WHERE profile_id = %s;

-- name: delete_devices
DELETE FROM devices WHERE profile_id = %s;

-- name: delete_profile
DELETE FROM profiles WHERE id = %s;

-- name: device_put
INSERT INTO devices (profile_id, device_id, attributes, updated_at) VALUES (%s, %s, %s, %s)
ON CONFLICT (profile_id, device_id) DO UPDATE SET attributes = excluded.attributes, updated_at = excluded.updated_at;

-- name: device_delete
DELETE FROM devices WHERE profile_id = %s AND device_id = %s;

-- name: merge_insert
INSERT INTO merges (account_id, from_profile, into_profile, anonymous_id, merged_user, user_id, kind, log_id, at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s);

-- name: rejection_insert_copy
COPY rejections (account_id, log_id, kind, user_id, anonymous_id, event_name, field, reason, detail, value, dropped, at)
FROM STDIN;

-- name: schema_bump
INSERT INTO schema_versions (account_id, version) VALUES (%s, 1)
ON CONFLICT (account_id) DO UPDATE SET version = schema_versions.version + 1;

-- name: schema_insert
INSERT INTO attribute_schema (account_id, scope, name, type, first_seen) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING;

-- name: restrictions_any
-- Whether the account has any restriction at all: almost never, and then the per-user lookup is skipped.
SELECT EXISTS (SELECT 1 FROM gdpr_restrictions WHERE account_id = %s);

-- name: devices_any
-- Whether any device is stored: without one, a batch's profiles need no device lookup.
SELECT EXISTS (SELECT 1 FROM devices);

-- name: restrictions_in
-- (account, user ids): those whose processing is restricted (GDPR).
SELECT user_id FROM gdpr_restrictions WHERE account_id = %s AND user_id = ANY(%s::text[]);

-- name: stats_add
INSERT INTO account_stats (account_id, partition, users, anonymous_users, events) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (account_id, partition) DO UPDATE SET
    users = account_stats.users + excluded.users,
    anonymous_users = account_stats.anonymous_users + excluded.anonymous_users,
    events = account_stats.events + excluded.events;

-- ============================================================ administration and reads
-- Written once in store/admin.py and store/reads.py: sqlite/queries.sql has the same names, with the
-- same columns and parameters in the same order.

-- name: config_version
SELECT version FROM config_version WHERE id = 1;

-- name: config_bump
UPDATE config_version SET version = version + 1 WHERE id = 1;

-- name: audit_insert
INSERT INTO audit_log (account_id, at, actor, address, action, target, detail) VALUES (%s, %s, %s, %s, %s, %s, %s);

-- name: audit_page
SELECT id, account_id, at, actor, address, action, target, detail FROM audit_log
WHERE account_id = %s AND id < %s ORDER BY id DESC LIMIT %s;

-- name: account_insert
INSERT INTO accounts (name, license_code, app_id, data_api_key_hash, created_at) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING RETURNING id;

-- name: account_lock
-- Team changes lock their account's row first: two nodes removing the last two admins at once take turns,
-- and the second sees that only one is left.
SELECT id FROM accounts WHERE id = %s FOR UPDATE;

-- name: accounts_all
SELECT id, name, license_code, app_id, data_api_key_hash FROM accounts ORDER BY id;

-- name: account_by_license
SELECT id, name, license_code, app_id, data_api_key_hash FROM accounts WHERE license_code = %s;

-- name: account_by_app_id
SELECT id, name, license_code, app_id, data_api_key_hash FROM accounts WHERE app_id = %s;

-- name: account_by_id
SELECT id, name, license_code, app_id, data_api_key_hash FROM accounts WHERE id = %s;

-- name: account_data_key
UPDATE accounts SET data_api_key_hash = %s WHERE id = %s;

-- name: limits_of
SELECT name, per_minute FROM rate_limits WHERE account_id = %s;

-- name: limits_all
SELECT account_id, name, per_minute FROM rate_limits;

-- name: limit_put
INSERT INTO rate_limits (account_id, name, per_minute) VALUES (%s, %s, %s)
ON CONFLICT (account_id, name) DO UPDATE SET per_minute = excluded.per_minute;

-- name: member_insert
INSERT INTO members (account_id, email, role, permissions, owner, created_at) VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT DO NOTHING RETURNING id;

-- name: member_get
SELECT id, account_id, email, role, permissions,
       EXISTS (SELECT 1 FROM api_keys k WHERE k.member_id = members.id AND k.revoked_at IS NULL), owner
FROM members WHERE account_id = %s AND email = %s;

-- name: members_of
SELECT id, account_id, email, role, permissions,
       EXISTS (SELECT 1 FROM api_keys k WHERE k.member_id = members.id AND k.revoked_at IS NULL), owner
FROM members WHERE account_id = %s ORDER BY id;

-- name: member_role
UPDATE members SET role = %s, permissions = %s WHERE id = %s;

-- name: member_delete
DELETE FROM members WHERE id = %s;

-- name: key_insert
INSERT INTO api_keys (member_id, account_id, key_hash, hint, created_at) VALUES (%s, %s, %s, %s, %s);

-- name: keys_revoke_member
UPDATE api_keys SET revoked_at = %s, revoked_reason = %s WHERE member_id = %s AND revoked_at IS NULL;

-- name: keys_of
SELECT m.email, k.hint, k.created_at, k.revoked_at, k.revoked_reason, k.last_used_at
FROM api_keys k JOIN members m ON m.id = k.member_id WHERE k.account_id = %s ORDER BY k.id;

-- name: principal
SELECT k.key_hash, m.id, m.account_id, m.email, m.permissions
FROM api_keys k JOIN members m ON m.id = k.member_id
WHERE k.key_hash = %s AND k.revoked_at IS NULL;

-- name: identity_get
SELECT profile_id FROM identities WHERE account_id = %s AND kind = %s AND value = %s;

-- name: profile_get
SELECT id, account_id, user_id, system, attributes, first_seen, last_seen FROM profiles
WHERE id = %s AND account_id = %s;

-- name: profile_anonymous_ids
SELECT value FROM identities WHERE profile_id = %s AND kind = 'a' ORDER BY value COLLATE "C";

-- name: profile_devices
SELECT attributes FROM devices WHERE profile_id = %s ORDER BY updated_at DESC, device_id COLLATE "C";

-- name: events_page
SELECT id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at FROM events
WHERE profile_id = %s AND account_id = %s AND (time_ms, id) < (%s, %s)
ORDER BY time_ms DESC, id DESC LIMIT %s;

-- name: stats_get
-- (account, account). One statement, one snapshot: the counters and what is still pending agree.
SELECT coalesce(sum(s.users), 0)::bigint, coalesce(sum(s.anonymous_users), 0)::bigint,
       coalesce(sum(s.events), 0)::bigint,
       (SELECT coalesce(sum(e.n), 0)::bigint FROM entries e WHERE e.account_id = %s)
FROM account_stats s WHERE s.account_id = %s;

-- name: schema_all
SELECT scope, name, type, first_seen FROM attribute_schema WHERE account_id = %s
ORDER BY scope COLLATE "C", name COLLATE "C";

-- name: rejections_page
SELECT id, log_id, kind, user_id, anonymous_id, event_name, field, reason, detail, value, dropped, at
FROM rejections WHERE account_id = %s AND id < %s AND (%s::text IS NULL OR user_id = %s::text)
ORDER BY id DESC LIMIT %s;

-- name: merges_page
SELECT id, from_profile, into_profile, anonymous_id, merged_user, user_id, kind, log_id, at
FROM merges WHERE account_id = %s AND id < %s ORDER BY id DESC LIMIT %s;

-- ============================================================ dashboard access (store/access.py)

-- name: dashboard_secret_get
SELECT secret FROM dashboard_secret WHERE id = 1;

-- name: dashboard_secret_put
INSERT INTO dashboard_secret (id, secret) VALUES (1, %s) ON CONFLICT (id) DO NOTHING;

-- name: member_password_put
UPDATE members SET password_hash = %s WHERE id = %s;

-- name: logins_of
SELECT id, account_id, password_hash FROM members WHERE email = %s AND password_hash IS NOT NULL ORDER BY id;

-- name: login_link_insert
INSERT INTO login_links (token_hash, member_id, created_at, expires_at) VALUES (%s, %s, %s, %s);

-- name: login_links_prune
DELETE FROM login_links WHERE expires_at < %s;

-- name: login_links_forget
DELETE FROM login_links WHERE member_id = %s;

-- name: login_link_use
-- (now, token hash, now): marks the link used and returns its member, only if it was valid and unused.
UPDATE login_links SET used_at = %s WHERE token_hash = %s AND used_at IS NULL AND expires_at > %s RETURNING member_id;

-- name: member_email
SELECT id, email FROM members WHERE id = %s;

-- name: session_insert
INSERT INTO sessions (token_hash, email, created_at, expires_at) VALUES (%s, %s, %s, %s) RETURNING id;

-- name: session_member_insert
INSERT INTO session_members (session_id, member_id) VALUES (%s, %s) ON CONFLICT DO NOTHING;

-- name: session_get
SELECT id, email, expires_at FROM sessions WHERE token_hash = %s AND expires_at > %s;

-- name: session_memberships
-- A session's accounts and the members it acts as (member columns as member_get, then the account's).
SELECT m.id, m.account_id, m.email, m.role, m.permissions,
       EXISTS (SELECT 1 FROM api_keys k WHERE k.member_id = m.id AND k.revoked_at IS NULL), m.owner,
       a.name, a.license_code, a.app_id
FROM session_members s JOIN members m ON m.id = s.member_id JOIN accounts a ON a.id = m.account_id
WHERE s.session_id = %s ORDER BY a.id;

-- name: session_members_end
DELETE FROM session_members WHERE session_id IN (SELECT id FROM sessions WHERE token_hash = %s);

-- name: session_end
DELETE FROM sessions WHERE token_hash = %s;

-- name: session_members_forget
DELETE FROM session_members WHERE member_id = %s;

-- name: sessions_prune_members
DELETE FROM session_members WHERE session_id IN (SELECT id FROM sessions WHERE expires_at <= %s);

-- name: sessions_prune
DELETE FROM sessions WHERE expires_at <= %s;

-- name: sign_in_failures_count
SELECT count(*) FROM sign_in_failures WHERE subject = %s AND at > %s;

-- name: sign_in_failure_insert
INSERT INTO sign_in_failures (subject, at) VALUES (%s, %s);

-- name: sign_in_failures_prune
DELETE FROM sign_in_failures WHERE at < %s;

-- name: sign_in_failures_clear
DELETE FROM sign_in_failures WHERE subject = %s;

-- name: key_used
-- (at, key hash, at): a later use only; flushes from several nodes may arrive in any order.
UPDATE api_keys SET last_used_at = %s WHERE key_hash = %s AND (last_used_at IS NULL OR last_used_at < %s);

-- name: minutes_since
SELECT minute, accepted, processed FROM minute_counts WHERE account_id = %s AND minute >= %s ORDER BY minute;

-- ============================================================ dead letters

-- name: dead_letter_insert
INSERT INTO dead_letters (account_id, log_id, received_at, records, payload, error, message, failed_at, attempts)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 1);

-- name: dead_letter_again
-- A re-queued entry failed again: its dead letter takes the new error.
UPDATE dead_letters SET log_id = %s, error = %s, message = %s, failed_at = %s, attempts = attempts + 1
WHERE id = %s AND account_id = %s;

-- name: dead_letter_resolve
DELETE FROM dead_letters WHERE id = %s AND account_id = %s;

-- name: dead_letters_page
-- `requeued` when a copy waits in the ingest log.
SELECT d.id, d.account_id, d.log_id, d.received_at, d.records, d.payload, d.error, d.message, d.failed_at,
       d.attempts, EXISTS (SELECT 1 FROM entries e WHERE e.retry_of = d.id)
FROM dead_letters d WHERE d.account_id = %s AND d.id < %s ORDER BY d.id DESC LIMIT %s;

-- name: dead_letters_count
SELECT count(*) FROM dead_letters WHERE account_id = %s;

-- name: dead_letters_pick
-- The dead letters of an account with the given ids, or all of them when the array is null; locked,
-- so a concurrent retry or drop of the same ones waits for this transaction.
SELECT id, received_at, records, payload FROM dead_letters
WHERE account_id = %(account)s AND (%(ids)s::bigint[] IS NULL OR id = ANY(%(ids)s::bigint[]))
ORDER BY id FOR UPDATE;

-- name: dead_letters_queued
-- Of the given dead letters, those with a copy waiting in the ingest log.
SELECT DISTINCT retry_of FROM entries WHERE retry_of = ANY(%s::bigint[]);

-- name: dead_letter_requeue
INSERT INTO entries (account_id, partition, received_at, n, payload, retry_of) VALUES (%s, %s, %s, %s, %s, %s);

-- name: dead_letters_of
SELECT id FROM dead_letters WHERE account_id = %s ORDER BY id;

-- name: dead_letter_drop
DELETE FROM dead_letters WHERE account_id = %s AND id = %s;

-- ============================================================ operations (/metrics)

-- name: backlog
-- Records not yet applied, and when the oldest of them was accepted (ids grow with acceptance time).
SELECT coalesce(sum(n), 0)::bigint, (SELECT received_at FROM entries ORDER BY id LIMIT 1) FROM entries;

-- name: profiles_after
-- (account, after id, limit): every profile of the account, in id order (export).
SELECT id, account_id, user_id, system, attributes, first_seen, last_seen FROM profiles
WHERE account_id = %s AND id > %s ORDER BY id LIMIT %s;

-- name: anonymous_ids_between
-- (account, first profile id, last profile id): the anonymous ids of a run of profiles (export).
SELECT profile_id, value FROM identities
WHERE account_id = %s AND kind = 'a' AND profile_id BETWEEN %s AND %s ORDER BY profile_id, value;

-- name: events_after
-- (account, after id, limit): every event of the account, in acceptance order (export).
SELECT id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at FROM events
WHERE account_id = %s AND id > %s ORDER BY id LIMIT %s;

-- ============================================================ dashboard data pages (store/browse.py)
-- Maintained by the processor (store/derived.py, postgres/derived.py) in its transactions.

-- name: erase_profile_search_terms
-- (account, profile): a GDPR erasure (store/gdpr.py). No index by profile: the account's terms are
-- scanned, which an erasure (rare, in the background) can afford.
DELETE FROM search_terms WHERE account_id = %s AND profile_id = %s;

-- name: erase_rejection_examples
-- (account, id, id): a GDPR erasure forgets the latest examples of data quality that name the person
-- (the counts stay: they hold no one's data).
UPDATE rejection_counts SET example_value = NULL, example_detail = '', example_user_id = NULL,
    example_anonymous_id = NULL
WHERE account_id = %s AND (example_user_id = %s OR example_anonymous_id = %s);

-- name: search_term_delete
DELETE FROM search_terms WHERE account_id = %s AND term = %s AND profile_id = %s;

-- name: search_term_put
INSERT INTO search_terms (account_id, term, profile_id, field) VALUES (%s, %s, %s, %s)
ON CONFLICT (account_id, term, profile_id) DO UPDATE SET field = excluded.field;

-- name: data_count_add
INSERT INTO data_counts (partition, account_id, scope, name, count, first_seen, last_seen)
VALUES (%s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (account_id, scope, name, partition) DO UPDATE SET
    count = data_counts.count + excluded.count,
    first_seen = least(data_counts.first_seen, excluded.first_seen),
    last_seen = greatest(data_counts.last_seen, excluded.last_seen);

-- name: rejection_count_add
INSERT INTO rejection_counts (partition, account_id, reason, event_name, field, count, first_at, last_at,
                              example_value, example_detail, example_user_id, example_anonymous_id, example_dropped)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (account_id, reason, event_name, field, partition) DO UPDATE SET
    count = rejection_counts.count + excluded.count,
    first_at = least(rejection_counts.first_at, excluded.first_at),
    last_at = greatest(rejection_counts.last_at, excluded.last_at),
    example_value = excluded.example_value,
    example_detail = excluded.example_detail,
    example_user_id = excluded.example_user_id,
    example_anonymous_id = excluded.example_anonymous_id,
    example_dropped = excluded.example_dropped;

-- name: search_range
-- (account, from term, from profile, below term, limit): the primary key's order, the exact term first.
SELECT term, profile_id, field FROM search_terms
WHERE account_id = %s AND (term, profile_id) > (%s::text COLLATE "C", %s) AND term < %s::text COLLATE "C"
ORDER BY term, profile_id LIMIT %s;

-- name: hit_profiles
-- (account, profile ids): what a row of the users page shows of a profile. One primary-key probe per id,
-- whatever the statistics say (after a bulk load they may be stale, and a bitmap of the account's
-- profiles_user entries costs far more than a few probes).
SELECT p.id, p.user_id, p.system, p.first_seen, p.last_seen, p.attributes
FROM (SELECT %s::bigint AS account) AS a
CROSS JOIN unnest(%s::bigint[]) AS v(x)
CROSS JOIN LATERAL (SELECT * FROM profiles WHERE id = v.x AND account_id = a.account) AS p;

-- name: hit_anonymous_ids
SELECT profile_id, min(value COLLATE "C") FROM identities
WHERE profile_id = ANY(%s) AND kind = 'a' GROUP BY profile_id;

-- name: users_first
SELECT id, user_id, system, first_seen, last_seen, attributes FROM profiles
WHERE account_id = %s AND user_id >= %s ORDER BY user_id LIMIT %s;

-- name: users_after
SELECT id, user_id, system, first_seen, last_seen, attributes FROM profiles
WHERE account_id = %s AND user_id > %s ORDER BY user_id LIMIT %s;

-- name: schema_scope
SELECT name, type FROM attribute_schema WHERE account_id = %s AND scope = %s ORDER BY name COLLATE "C";

-- name: merges_into_profile
SELECT id, from_profile, into_profile, anonymous_id, merged_user, user_id, kind, log_id, at
FROM merges WHERE into_profile = %s AND account_id = %s ORDER BY id DESC LIMIT %s;

-- name: rejections_of_profile
-- (account, user id, before, limit, account, anonymous ids, before, limit, limit)
(SELECT id, log_id, kind, user_id, anonymous_id, event_name, field, reason, detail, value, dropped, at
 FROM rejections WHERE account_id = %s AND user_id = %s::text AND id < %s ORDER BY id DESC LIMIT %s)
UNION ALL
(SELECT id, log_id, kind, user_id, anonymous_id, event_name, field, reason, detail, value, dropped, at
 FROM rejections WHERE account_id = %s AND user_id IS NULL AND anonymous_id = ANY(%s::text[]) AND id < %s
 ORDER BY id DESC LIMIT %s)
ORDER BY 1 DESC LIMIT %s;

-- name: events_max_id
SELECT coalesce(max(id), 0) FROM events;

-- name: tail_recent_profile
-- (profile, account, name, name, limit)
SELECT id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at FROM events
WHERE profile_id = %s AND account_id = %s AND (%s::text IS NULL OR name = %s::text)
ORDER BY id DESC LIMIT %s;

-- name: tail_after
-- (after id, window, account, name, name, limit): the account's newest events after `after` among the
-- newest `window` events of the store (every account's): the subquery is a bounded backward scan of
-- the primary key, whatever the filters and the statistics; the page's first screen asks after -1.
SELECT id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at FROM (
    SELECT id, account_id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at
    FROM events WHERE id > %s ORDER BY id DESC LIMIT %s
) AS e WHERE account_id = %s AND (%s::text IS NULL OR name = %s::text)
ORDER BY id DESC LIMIT %s;

-- name: tail_after_profile
-- (after id, window, profile, account, name, name, limit): the same for one profile (the feed of a
-- filtered tail: recent ids, so the primary key's range beats the profile's whole history).
SELECT id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at FROM (
    SELECT id, account_id, profile_id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at
    FROM events WHERE id > %s ORDER BY id DESC LIMIT %s
) AS e WHERE profile_id = %s AND account_id = %s AND (%s::text IS NULL OR name = %s::text)
ORDER BY id DESC LIMIT %s;

-- name: catalogue_counts
SELECT scope, name, sum(count)::bigint, min(first_seen), max(last_seen) FROM data_counts
WHERE account_id = %s GROUP BY scope, name;

-- name: rejection_groups
SELECT reason, event_name, field, count, first_at, last_at, example_value, example_detail, example_user_id,
       example_anonymous_id, example_dropped
FROM rejection_counts WHERE account_id = %s LIMIT %s;

-- name: rejections_of_group
-- (account, reason, field (first 200 characters), event name or '', before id, limit)
SELECT id, log_id, kind, user_id, anonymous_id, event_name, field, reason, detail, value, dropped, at
FROM rejections
WHERE account_id = %s AND reason = %s AND substr(field, 1, 200) = %s AND substr(coalesce(event_name, ''), 1, 200) = %s
AND id < %s
ORDER BY id DESC LIMIT %s;

-- ============================================================ messaging (issue #10): store/messaging.py

-- name: channel_put
INSERT INTO channels (account_id, kind, config, secret, updated_at) VALUES (%s, %s, %s, %s, %s)
ON CONFLICT (account_id, kind) DO UPDATE SET config = excluded.config, secret = excluded.secret,
    updated_at = excluded.updated_at;

-- name: channel_get
SELECT account_id, kind, config, secret, updated_at FROM channels WHERE account_id = %s AND kind = %s;

-- name: channels_of
SELECT account_id, kind, config, secret, updated_at FROM channels WHERE account_id = %s ORDER BY kind;

-- name: campaign_insert
INSERT INTO campaigns (account_id, code, name, channel, subject, body, html, status, created_at, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id;

-- name: campaign_get
SELECT id, account_id, code, name, channel, subject, body, html, status, created_at, updated_at
FROM campaigns WHERE account_id = %s AND code = %s;

-- name: campaign_by_id
SELECT id, account_id, code, name, channel, subject, body, html, status, created_at, updated_at
FROM campaigns WHERE account_id = %s AND id = %s;

-- name: campaigns_of
SELECT id, account_id, code, name, channel, subject, body, html, status, created_at, updated_at
FROM campaigns WHERE account_id = %s ORDER BY id DESC;

-- name: campaign_status
UPDATE campaigns SET status = %s, updated_at = %s WHERE id = %s;

-- name: transaction_latest
SELECT id, account_id, txn_id, user_id, mode, received_at, expires_at FROM transactions
WHERE account_id = %s AND txn_id = %s ORDER BY id DESC LIMIT 1;

-- name: transaction_messages
-- A transaction's messages, each with its attempts (NULLs for a message without any), in one statement:
-- one snapshot, so a message's status and its attempts always agree (they are committed together).
SELECT m.id, m.seq, m.experiment_id, m.channel, m.status, m.detail, m.next_at, m.updated_at, a.at, a.outcome, a.error
FROM messages m LEFT JOIN message_attempts a ON a.message_id = m.id
WHERE m.transaction_id = %s ORDER BY m.seq, a.n;

-- name: user_transactions
-- (account, user, limit): the user's newest transactions (GDPR portability).
SELECT id, account_id, txn_id, user_id, mode, received_at, expires_at FROM transactions
WHERE account_id = %s AND user_id = %s ORDER BY id DESC LIMIT %s;

-- name: user_messages
-- (account, user, oldest transaction id): the messages of those transactions, each with its attempts
-- (NULLs for none), in one statement: one snapshot, as transaction_messages.
SELECT m.transaction_id, m.id, m.seq, m.experiment_id, m.channel, m.status, m.detail, m.next_at, m.updated_at,
       a.at, a.outcome, a.error
FROM transactions t JOIN messages m ON m.transaction_id = t.id
LEFT JOIN message_attempts a ON a.message_id = m.id
WHERE t.account_id = %s AND t.user_id = %s AND t.id >= %s ORDER BY m.transaction_id, m.seq, a.n;

-- name: gdpr_block
-- (account, user, account, user, now): why the user may not be messaged: a restriction, or an erasure
-- that is due (rules/gdpr.py).
SELECT 'restricted' FROM gdpr_restrictions WHERE account_id = %s AND user_id = %s
UNION ALL
SELECT 'erasure' FROM gdpr_requests
WHERE account_id = %s AND user_id = %s AND type = 'erasure' AND status = 'pending' AND due_at <= %s
LIMIT 1;

-- ============================================================ the outbox: store/postgres/outbox.py

-- name: txn_latest
SELECT DISTINCT ON (account_id, txn_id) account_id, txn_id, dedupe_until, response FROM transactions
WHERE (account_id, txn_id) IN (SELECT * FROM unnest(%s::bigint[], %s::text[])) ORDER BY account_id, txn_id, id DESC;

-- name: txn_entry
INSERT INTO entries (account_id, partition, received_at, n, payload) VALUES (%s, %s, %s, %s, %s) RETURNING id;

-- name: txn_insert
INSERT INTO transactions (account_id, txn_id, user_id, mode, received_at, expires_at, dedupe_until, log_id, data,
    response) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id;

-- name: message_insert
INSERT INTO messages (transaction_id, account_id, seq, campaign_id, experiment_id, channel, status, detail, attempts,
    next_at, expires_at, log_id, lease_owner, lease_until, updated_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, 0, %s, %s, %s, NULL, 0, %s);

-- name: messages_claim
-- Due, unleased (or the lease ran out), and the log entry applied (acknowledged entries are deleted).
-- SKIP LOCKED: nodes claiming at once take different rows instead of waiting on each other.
WITH picked AS (
    SELECT m.id FROM messages m
    WHERE m.status = 'queued' AND m.next_at <= %s AND m.lease_until < %s
      AND NOT EXISTS (SELECT 1 FROM entries e WHERE e.id = m.log_id)
    ORDER BY m.next_at, m.id LIMIT %s FOR UPDATE SKIP LOCKED
), leased AS (
    UPDATE messages m SET lease_owner = %s, lease_until = %s FROM picked WHERE m.id = picked.id
    RETURNING m.id, m.account_id, m.transaction_id, m.seq, m.campaign_id, m.experiment_id, m.channel, m.attempts,
              m.expires_at
)
SELECT l.id, l.account_id, l.transaction_id, t.txn_id, t.user_id, t.mode, l.seq, l.campaign_id, l.experiment_id,
       l.channel, l.attempts, t.received_at, l.expires_at, t.data
FROM leased l JOIN transactions t ON t.id = l.transaction_id;

-- name: message_finish
UPDATE messages SET status = %s, attempts = attempts + 1, next_at = %s, lease_owner = NULL, lease_until = 0,
    updated_at = %s WHERE id = %s AND lease_owner = %s RETURNING attempts;

-- name: attempt_insert
INSERT INTO message_attempts (message_id, n, at, outcome, error) VALUES (%s, %s, %s, %s, %s);

-- name: message_promote
UPDATE messages SET status = 'queued', next_at = %s, updated_at = %s
WHERE id = (SELECT id FROM messages WHERE transaction_id = %s AND status = 'standby' ORDER BY seq LIMIT 1);

-- name: messages_close
UPDATE messages SET status = %s, detail = %s, updated_at = %s WHERE transaction_id = %s AND status = 'standby';

-- name: outbox_user_transactions_lock
-- (account, user ids): a GDPR erasure locks the person's transactions first, then their messages
-- (outbox_user_lock): retention locks transactions before messages too (SKIP LOCKED), so the two never
-- wait for each other in a cycle.
SELECT id FROM transactions WHERE account_id = %s AND user_id = ANY(%s::text[]) ORDER BY id FOR UPDATE;

-- name: outbox_user_lock
-- (now, account, user ids): the messages of those users, locked (in id order, as finishing locks them),
-- and whether a sender holds each right now. A claim skips locked rows: none of them can be leased
-- until the GDPR erasure that locks them commits or rolls back.
SELECT m.id, m.lease_owner IS NOT NULL AND m.lease_until >= %s
FROM transactions t JOIN messages m ON m.transaction_id = t.id
WHERE t.account_id = %s AND t.user_id = ANY(%s::text[]) ORDER BY m.id FOR UPDATE OF m;

-- name: outbox_erase_attempts
-- (account, user ids): a GDPR erasure.
DELETE FROM message_attempts WHERE message_id IN (
    SELECT m.id FROM transactions t JOIN messages m ON m.transaction_id = t.id
    WHERE t.account_id = %s AND t.user_id = ANY(%s::text[]));

-- name: outbox_erase_messages
DELETE FROM messages WHERE transaction_id IN (
    SELECT id FROM transactions WHERE account_id = %s AND user_id = ANY(%s::text[]));

-- name: outbox_erase_transactions
DELETE FROM transactions WHERE account_id = %s AND user_id = ANY(%s::text[]);

-- name: outbox_prune
-- (cutoff, cutoff, limit): transactions whose ttl and dedupe window ended before the cutoff (retention),
-- with their messages and attempts; SKIP LOCKED leaves rows an erasure or a sender holds to the next round.
WITH picked AS (
    SELECT id FROM transactions WHERE expires_at < %s AND dedupe_until < %s ORDER BY expires_at LIMIT %s
    FOR UPDATE SKIP LOCKED
), attempts AS (
    DELETE FROM message_attempts a USING messages m, picked p WHERE m.transaction_id = p.id AND a.message_id = m.id
), messages_gone AS (
    DELETE FROM messages m USING picked p WHERE m.transaction_id = p.id
)
DELETE FROM transactions t USING picked p WHERE t.id = p.id;

-- name: event_entry
INSERT INTO entries (account_id, partition, received_at, n, payload) VALUES (%s, %s, %s, %s, %s);

-- ============================================================ per-minute limits outside the ingest log
-- (store/limits.py: gdpr, business-definitions, business-events; charged in the call's transaction)

-- name: limit_window_init
INSERT INTO limit_windows (account_id, bucket, window_no, used) VALUES (%s, %s, -1, 0) ON CONFLICT DO NOTHING;

-- name: limit_window_lock
-- The row lock makes concurrent calls on every node take turns: N per minute admits exactly N.
SELECT window_no, used FROM limit_windows WHERE account_id = %s AND bucket = %s FOR UPDATE;

-- name: limit_window_put
UPDATE limit_windows SET window_no = %s, used = %s WHERE account_id = %s AND bucket = %s;

-- ============================================================ GDPR requests (store/gdpr.py)

-- name: gdpr_insert
INSERT INTO gdpr_requests (account_id, request_id, type, status, user_id, salt, created_at, due_at, done_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING id;

-- name: gdpr_get
SELECT request_id, type, status, user_id, created_at, due_at, done_at FROM gdpr_requests
WHERE account_id = %s AND request_id = %s;

-- name: gdpr_cancel
-- (now, account, request id, now): only a pending request not yet due. Under the row lock the conditions
-- are checked again after a concurrent erasure commits (READ COMMITTED), so never both happen.
UPDATE gdpr_requests SET status = 'cancelled', done_at = %s
WHERE account_id = %s AND request_id = %s AND status = 'pending' AND due_at > %s;

-- name: restriction_put
INSERT INTO gdpr_restrictions (account_id, user_id, request_id, at) VALUES (%s, %s, %s, %s)
ON CONFLICT (account_id, user_id) DO UPDATE SET request_id = excluded.request_id, at = excluded.at;

-- name: restriction_delete
DELETE FROM gdpr_restrictions WHERE account_id = %s AND user_id = %s;

-- name: gdpr_due
-- (cutoff, limit): erasures due at or before the cutoff, oldest first.
SELECT id, account_id, due_at FROM gdpr_requests WHERE status = 'pending' AND due_at <= %s
ORDER BY due_at, id LIMIT %s;

-- name: log_pending_before
-- (account, time): entries of the account accepted at or before `time` and not applied yet (applied
-- entries are deleted in the transaction that applies them).
SELECT count(*) FROM entries WHERE account_id = %s AND received_at <= %s;

-- name: gdpr_claim
-- (id, cutoff). SKIP LOCKED: a request another node is erasing right now is left to it.
SELECT account_id, request_id, user_id, salt FROM gdpr_requests
WHERE id = %s AND status = 'pending' AND due_at <= %s FOR UPDATE SKIP LOCKED;

-- name: profile_lock
-- A processing transaction (REPEATABLE READ) that touches this profile after the erasure has locked it
-- fails with a serialization error and is tried again, on the state without the profile.
SELECT user_id FROM profiles WHERE id = %s AND account_id = %s FOR UPDATE;

-- name: profile_identities
SELECT kind, value FROM identities WHERE profile_id = %s;

-- name: erase_profile_events
DELETE FROM events WHERE profile_id = %s;

-- name: erase_profile_merges
DELETE FROM merges WHERE account_id = %s AND (from_profile = %s OR into_profile = %s);

-- name: erase_user_events
DELETE FROM events WHERE account_id = %s AND user_id = %s;

-- name: erase_user_rejections
DELETE FROM rejections WHERE account_id = %s AND user_id = %s;

-- name: erase_user_merges
DELETE FROM merges WHERE account_id = %s AND (user_id = %s OR merged_user = %s);

-- name: erase_anonymous_rejections
DELETE FROM rejections WHERE account_id = %s AND anonymous_id = %s;

-- name: gdpr_subject_rows
SELECT id, salt FROM gdpr_requests WHERE account_id = %s AND user_id = %s;

-- name: gdpr_scrub
UPDATE gdpr_requests SET user_id = NULL, subject_hash = %s WHERE id = %s;

-- name: gdpr_done
UPDATE gdpr_requests SET status = 'done', done_at = %s WHERE id = %s;

-- name: stats_adjust
-- (account, users, anonymous users, events): deltas, on partition 0's row (reads add partitions up).
INSERT INTO account_stats (account_id, partition, users, anonymous_users, events) VALUES (%s, 0, %s, %s, %s)
ON CONFLICT (account_id, partition) DO UPDATE SET
    users = account_stats.users + excluded.users,
    anonymous_users = account_stats.anonymous_users + excluded.anonymous_users,
    events = account_stats.events + excluded.events;

-- ============================================================ business events (store/business.py)

-- name: business_def_get
SELECT name, category, attributes, created_at, updated_at FROM business_definitions
WHERE account_id = %s AND name = %s;

-- name: business_def_lock
SELECT name, category, attributes, created_at, updated_at FROM business_definitions
WHERE account_id = %s AND name = %s FOR UPDATE;

-- name: business_def_insert
INSERT INTO business_definitions (account_id, name, category, attributes, created_at, updated_at)
VALUES (%s, %s, %s, %s::jsonb, %s, %s) ON CONFLICT DO NOTHING RETURNING account_id;

-- name: business_def_update
UPDATE business_definitions SET attributes = %s::jsonb, updated_at = %s WHERE account_id = %s AND name = %s;

-- name: business_defs_all
SELECT d.name, d.category, d.attributes, d.created_at, d.updated_at,
       (SELECT count(*) FROM business_events e WHERE e.account_id = d.account_id AND e.name = d.name)
FROM business_definitions d WHERE d.account_id = %s ORDER BY d.name COLLATE "C";

-- name: business_event_insert
INSERT INTO business_events (account_id, name, time_ms, time_text, data, received_at)
VALUES (%s, %s, %s, %s, %s::jsonb, %s) RETURNING id;

-- name: business_events_page
SELECT id, name, time_ms, time_text, data, received_at FROM business_events
WHERE account_id = %s AND name = %s AND (time_ms, id) < (%s, %s) ORDER BY time_ms DESC, id DESC LIMIT %s;

-- ============================================================ request traces and the debugger (store/traces.py)

-- name: append_entries_copy_traced
-- The log rows of API requests, each with its request trace (store/traces.py).
COPY entries (account_id, partition, received_at, n, payload, request_id, endpoint, received_ms, subjects)
FROM STDIN (FORMAT BINARY);

-- name: requests_prune
DELETE FROM requests WHERE log_id < coalesce(
    (SELECT log_id FROM requests WHERE committed_at >= %s ORDER BY log_id LIMIT 1),
    (SELECT max(log_id) + 1 FROM requests)
) AND log_id < (SELECT min(log_id) FROM requests) + 10000;

-- name: request_delete
DELETE FROM requests WHERE log_id = %s;

-- name: processed_mark
-- (acknowledged ids, partition, highest id, now): run just before ack_entries deletes them: their request
-- traces are kept (store/traces.py) and the acknowledgement's time marked, in one statement.
WITH kept AS (
    INSERT INTO requests (log_id, account_id, request_id, part, endpoint, received_at, committed_at, records, subjects)
    SELECT id, account_id, request_id, partition, endpoint, received_ms, received_at, n, subjects FROM entries
    WHERE id = ANY(%s) AND request_id IS NOT NULL
    ON CONFLICT DO NOTHING
)
INSERT INTO processed_marks (part, log_id, at) VALUES (%s, %s, %s) ON CONFLICT DO NOTHING;

-- name: entry_forget_request
UPDATE entries SET request_id = NULL, subjects = NULL WHERE id = %s;

-- name: processed_marks_prune
DELETE FROM processed_marks WHERE at < %s;

-- name: request_parts
SELECT log_id, part, endpoint, received_at, committed_at, records, subjects
FROM requests WHERE account_id = %s AND request_id = %s
UNION
SELECT id, partition, endpoint, received_ms, received_at, n, subjects
FROM entries WHERE account_id = %s AND request_id = %s
ORDER BY 1;

-- name: log_entry_pending
SELECT CASE WHEN EXISTS (SELECT 1 FROM entries WHERE id = %s) THEN 1 ELSE 0 END;

-- name: processed_mark_at
SELECT at FROM processed_marks WHERE part = %s AND log_id >= %s ORDER BY log_id LIMIT 1;

-- name: dead_letter_of_log
SELECT error, message FROM dead_letters WHERE account_id = %s AND log_id = %s;

-- name: events_of_log
SELECT id, user_id, anonymous_id, name, time_ms, time_text, data, context, received_at
FROM events WHERE account_id = %s AND id BETWEEN %s AND %s ORDER BY id LIMIT %s;

-- name: rejections_of_log
SELECT id, log_id, kind, user_id, anonymous_id, event_name, field, reason, detail, value, dropped, at
FROM rejections WHERE account_id = %s AND log_id = %s ORDER BY id LIMIT %s;

-- name: identity_user
SELECT p.user_id FROM identities i JOIN profiles p ON p.id = i.profile_id
WHERE i.account_id = %s AND i.kind = %s AND i.value = %s;

-- name: request_of_log
SELECT request_id FROM requests WHERE account_id = %s AND log_id = %s
UNION ALL
SELECT request_id FROM entries WHERE account_id = %s AND id = %s AND request_id IS NOT NULL;

-- name: recent_accepted
(SELECT log_id, request_id, endpoint, received_at, records FROM requests
    WHERE account_id = %s AND (%s = '' OR endpoint = %s) ORDER BY log_id DESC LIMIT %s)
UNION ALL
(SELECT id, request_id, endpoint, received_ms, n FROM entries
    WHERE account_id = %s AND request_id IS NOT NULL AND (%s = '' OR endpoint = %s) ORDER BY id DESC LIMIT %s);

-- name: recent_refused
SELECT at, endpoint, status, message, body, request_id FROM refused_requests
WHERE account_id = %s AND (%s = '' OR endpoint = %s) ORDER BY id DESC LIMIT %s;

-- name: refusal_insert
INSERT INTO refused_requests (account_id, at, endpoint, status, message, body, request_id)
VALUES (%s, %s, %s, %s, %s, %s, %s);

-- name: refusals_trim
DELETE FROM refused_requests WHERE account_id = %s AND id <= coalesce(
    (SELECT id FROM refused_requests WHERE account_id = %s ORDER BY id DESC LIMIT 1 OFFSET %s), 0);

-- name: request_subjects_of_account
SELECT log_id, subjects FROM requests WHERE account_id = %s
UNION ALL
SELECT id, subjects FROM entries WHERE account_id = %s AND request_id IS NOT NULL;

-- name: erase_refusals
DELETE FROM refused_requests WHERE account_id = %s AND (strpos(body, %s) > 0 OR strpos(body, %s) > 0);
