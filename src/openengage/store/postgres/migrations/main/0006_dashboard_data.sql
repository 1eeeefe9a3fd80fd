-- Issue #8: what the dashboard's data pages read (users search, profile, live tail, data catalogue, data
-- quality) without scanning events. The processor keeps these tables in its transactions
-- (store/derived.py); this migration fills them from the data stored before it.

-- Searchable values of each profile (rules/search.py): the user id, text system attributes, text and
-- whole-number custom attributes and array elements; trimmed, A-Z lower-cased, first 100 characters.
-- `term` is COLLATE "C": the users page reads a range of it (the exact value, then longer values that
-- begin with it), which needs byte order whatever the database's collation.
-- One index: the processor diffs a profile's terms against the profile as it loaded it, so it never
-- looks terms up by profile.
CREATE TABLE search_terms (
    account_id bigint NOT NULL,
    term text COLLATE "C" NOT NULL,
    profile_id bigint NOT NULL,
    field text NOT NULL,
    PRIMARY KEY (account_id, term, profile_id) INCLUDE (field)
);

INSERT INTO search_terms (profile_id, term, account_id, field)
SELECT id, t, account_id, f FROM (
    SELECT p.id, p.account_id,
           substr(translate(btrim(p.user_id, ' '), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'), 1, 100)
               AS t,
           'userId' AS f, 0 AS rank, '' AS k, 0::bigint AS i
    FROM profiles p WHERE p.user_id IS NOT NULL
    UNION ALL
    SELECT p.id, p.account_id,
           substr(translate(btrim(j.value #>> '{}', ' '), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'),
                  1, 100),
           j.key, 1, j.key, 0
    FROM profiles p, jsonb_each(p.system) j WHERE jsonb_typeof(j.value) = 'string'
    UNION ALL
    SELECT p.id, p.account_id,
           CASE jsonb_typeof(v.value) WHEN 'string' THEN
               substr(translate(btrim(v.value #>> '{}', ' '), 'ABCDEFGHIJKLMNOPQRSTUVWXYZ',
                                'abcdefghijklmnopqrstuvwxyz'), 1, 100)
           ELSE v.value #>> '{}' END,
           'attributes.' || j.key, 2, j.key, v.n
    FROM profiles p
    CROSS JOIN LATERAL jsonb_each(p.attributes) j
    CROSS JOIN LATERAL (
        SELECT j.value AS value, 0::bigint AS n WHERE jsonb_typeof(j.value) <> 'array'
        UNION ALL
        SELECT e.value, e.n - 1 FROM jsonb_array_elements(CASE jsonb_typeof(j.value) WHEN 'array' THEN j.value
                                                         ELSE '[]'::jsonb END) WITH ORDINALITY e(value, n)
        WHERE e.n <= 50
    ) v
    WHERE jsonb_typeof(v.value) = 'string'
       OR (jsonb_typeof(v.value) = 'number' AND (v.value #>> '{}') ~ '^-?[0-9]{1,19}$'
           AND (v.value #>> '{}')::numeric BETWEEN -9223372036854775807 AND 9223372036854775807)
) s WHERE t <> '' ORDER BY id, rank, k COLLATE "C", i
ON CONFLICT DO NOTHING;

-- The data catalogue's counts: scope 'event' (events received per name), 'event:<name>' (events that
-- carried the attribute), 'user' (custom user attribute values accepted); first and last received_at.
-- Per ingest-log partition, like account_stats (nodes never update one row at once); reads add them up.
CREATE TABLE data_counts (
    account_id bigint NOT NULL,
    partition smallint NOT NULL,
    scope text NOT NULL,
    name text NOT NULL,
    count bigint NOT NULL,
    first_seen bigint NOT NULL,
    last_seen bigint NOT NULL,
    PRIMARY KEY (account_id, scope, name, partition)
);

INSERT INTO data_counts (account_id, partition, scope, name, count, first_seen, last_seen)
SELECT account_id, 0, 'event', name, count(*), min(received_at), max(received_at) FROM events GROUP BY account_id, name;
INSERT INTO data_counts (account_id, partition, scope, name, count, first_seen, last_seen)
SELECT e.account_id, 0, 'event:' || e.name, j.key, count(*), min(e.received_at), max(e.received_at)
FROM events e, jsonb_object_keys(e.data) j(key) GROUP BY e.account_id, e.name, j.key;
-- Values received before this migration are unknown: a user attribute starts at the profiles holding it.
INSERT INTO data_counts (account_id, partition, scope, name, count, first_seen, last_seen)
SELECT p.account_id, 0, 'user', j.key, count(*), min(p.created_at), max(p.updated_at)
FROM profiles p, jsonb_object_keys(p.attributes) j(key) GROUP BY p.account_id, j.key;

-- Data quality: rejections per (reason, event name, field), fields and names keyed on their first 200
-- characters, with the latest example; per partition too.
CREATE TABLE rejection_counts (
    account_id bigint NOT NULL,
    partition smallint NOT NULL,
    reason text NOT NULL,
    event_name text NOT NULL,
    field text NOT NULL,
    count bigint NOT NULL,
    first_at bigint NOT NULL,
    last_at bigint NOT NULL,
    example_value jsonb,
    example_detail text NOT NULL,
    example_user_id text,
    example_anonymous_id text,
    example_dropped boolean NOT NULL,
    PRIMARY KEY (account_id, reason, event_name, field, partition)
);

INSERT INTO rejection_counts
SELECT g.account_id, 0, g.reason, g.event_name, g.field, g.n, g.first_at, g.last_at,
       r.value, r.detail, r.user_id, r.anonymous_id, r.dropped
FROM (
    SELECT account_id, reason, substr(coalesce(event_name, ''), 1, 200) AS event_name, substr(field, 1, 200) AS field,
           count(*) AS n, min(at) AS first_at, max(at) AS last_at, max(id) AS last_id
    FROM rejections GROUP BY 1, 2, 3, 4
) g JOIN rejections r ON r.id = g.last_id;

-- A profile's dropped data (by user id; an anonymous profile's by anonymous id), a rejection group's
-- examples (on the first 200 characters of the field: a btree entry must stay small), a profile's merges.
CREATE INDEX rejections_user ON rejections(account_id, user_id, id);
CREATE INDEX rejections_anonymous ON rejections(account_id, anonymous_id, id) WHERE user_id IS NULL;
CREATE INDEX rejections_group ON rejections(account_id, reason, substr(field, 1, 200), id);
CREATE INDEX merges_into ON merges(into_profile);
