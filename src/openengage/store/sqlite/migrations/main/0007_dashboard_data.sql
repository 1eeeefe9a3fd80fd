-- Issue #8: what the dashboard's data pages read (users search, profile, live tail, data catalogue, data
-- quality) without scanning events. The processor keeps these tables in its transactions
-- (store/derived.py); this migration fills them from the data stored before it.

-- Searchable values of each profile (rules/search.py): the user id, text system attributes, text and
-- whole-number custom attributes and array elements; trimmed, A-Z lower-cased, first 100 characters.
-- (A JSON integer past 64 bits is 'integer' to json_each but its value a REAL: not a whole number here.)
-- The users page reads a range of the primary key: the exact value first, then longer values that
-- begin with it. One B-tree: the processor diffs a profile's terms against the profile as it loaded it,
-- so it never looks terms up by profile.
CREATE TABLE search_terms (
    account_id INTEGER NOT NULL,
    term TEXT NOT NULL,
    profile_id INTEGER NOT NULL,
    field TEXT NOT NULL,
    PRIMARY KEY (account_id, term, profile_id)
) WITHOUT ROWID;

INSERT OR IGNORE INTO search_terms (profile_id, term, account_id, field)
SELECT id, t, account_id, f FROM (
    SELECT p.id, p.account_id, substr(lower(trim(p.user_id, ' ')), 1, 100) AS t, 'userId' AS f,
           0 AS rank, '' AS k, 0 AS i
    FROM profiles p WHERE p.user_id IS NOT NULL
    UNION ALL
    SELECT p.id, p.account_id, substr(lower(trim(j.value, ' ')), 1, 100), j.key, 1, j.key, 0
    FROM profiles p, json_each(p.system) j WHERE j.type = 'text'
    UNION ALL
    SELECT p.id, p.account_id,
           CASE j.type WHEN 'text' THEN substr(lower(trim(j.value, ' ')), 1, 100) ELSE CAST(j.value AS TEXT) END,
           'attributes.' || j.key, 2, j.key, 0
    FROM profiles p, json_each(p.attributes) j
    WHERE j.type = 'text' OR (j.type = 'integer' AND typeof(j.value) = 'integer')
    UNION ALL
    SELECT p.id, p.account_id,
           CASE e.type WHEN 'text' THEN substr(lower(trim(e.value, ' ')), 1, 100) ELSE CAST(e.value AS TEXT) END,
           'attributes.' || j.key, 2, j.key, e.key
    FROM profiles p, json_each(p.attributes) j, json_each(j.value) e
    WHERE j.type = 'array' AND e.key < 50 AND (e.type = 'text' OR (e.type = 'integer' AND typeof(e.value) = 'integer'))
) WHERE t <> '' ORDER BY id, rank, k, i;

-- The data catalogue's counts: scope 'event' (events received per name), 'event:<name>' (events that
-- carried the attribute), 'user' (custom user attribute values accepted); first and last received_at.
CREATE TABLE data_counts (
    account_id INTEGER NOT NULL,
    scope TEXT NOT NULL,
    name TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_seen INTEGER NOT NULL,
    last_seen INTEGER NOT NULL,
    PRIMARY KEY (account_id, scope, name)
) WITHOUT ROWID;

INSERT INTO data_counts (account_id, scope, name, count, first_seen, last_seen)
SELECT account_id, 'event', name, count(*), min(received_at), max(received_at) FROM events GROUP BY account_id, name;
INSERT INTO data_counts (account_id, scope, name, count, first_seen, last_seen)
SELECT e.account_id, 'event:' || e.name, j.key, count(*), min(e.received_at), max(e.received_at)
FROM events e, json_each(e.data) j GROUP BY e.account_id, e.name, j.key;
-- Values received before this migration are unknown: a user attribute starts at the profiles holding it.
INSERT INTO data_counts (account_id, scope, name, count, first_seen, last_seen)
SELECT p.account_id, 'user', j.key, count(*), min(p.created_at), max(p.updated_at)
FROM profiles p, json_each(p.attributes) j GROUP BY p.account_id, j.key;

-- Data quality: rejections per (reason, event name, field), fields and names keyed on their first 200
-- characters, with the latest example.
CREATE TABLE rejection_counts (
    account_id INTEGER NOT NULL,
    reason TEXT NOT NULL,
    event_name TEXT NOT NULL,
    field TEXT NOT NULL,
    count INTEGER NOT NULL,
    first_at INTEGER NOT NULL,
    last_at INTEGER NOT NULL,
    example_value TEXT,
    example_detail TEXT NOT NULL,
    example_user_id TEXT,
    example_anonymous_id TEXT,
    example_dropped INTEGER NOT NULL,
    PRIMARY KEY (account_id, reason, event_name, field)
) WITHOUT ROWID;

INSERT INTO rejection_counts
SELECT g.account_id, g.reason, g.event_name, g.field, g.n, g.first_at, g.last_at,
       r.value, r.detail, r.user_id, r.anonymous_id, r.dropped
FROM (
    SELECT account_id, reason, substr(coalesce(event_name, ''), 1, 200) AS event_name, substr(field, 1, 200) AS field,
           count(*) AS n, min(at) AS first_at, max(at) AS last_at, max(id) AS last_id
    FROM rejections GROUP BY 1, 2, 3, 4
) g JOIN rejections r ON r.id = g.last_id;

-- A profile's dropped data (by user id; an anonymous profile's by anonymous id), a rejection group's
-- examples, a profile's merges.
CREATE INDEX rejections_user ON rejections(account_id, user_id, id);
CREATE INDEX rejections_anonymous ON rejections(account_id, anonymous_id, id) WHERE user_id IS NULL;
CREATE INDEX rejections_group ON rejections(account_id, reason, substr(field, 1, 200), id);
CREATE INDEX merges_into ON merges(into_profile);
