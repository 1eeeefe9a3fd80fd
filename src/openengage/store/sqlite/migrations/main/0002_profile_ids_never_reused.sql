-- Profile ids must never be reused: a deleted user's events keep their profile id (MoEngage delete
-- keeps events), and without AUTOINCREMENT SQLite hands the highest deleted id to the next profile,
-- which would attribute those events to a re-created user (issue #3). Rebuild `profiles` with
-- AUTOINCREMENT and start its sequence above every id already referenced.

CREATE TABLE profiles_new (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    user_id TEXT,
    system TEXT NOT NULL,
    attributes TEXT NOT NULL,
    first_seen INTEGER,
    last_seen INTEGER,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL
);
INSERT INTO profiles_new (id, account_id, user_id, system, attributes, first_seen, last_seen, created_at, updated_at)
SELECT id, account_id, user_id, system, attributes, first_seen, last_seen, created_at, updated_at FROM profiles;
DROP TABLE profiles;
ALTER TABLE profiles_new RENAME TO profiles;
CREATE INDEX profiles_user ON profiles(account_id, user_id);

DELETE FROM sqlite_sequence WHERE name = 'profiles';
INSERT INTO sqlite_sequence (name, seq) SELECT 'profiles', max(
    (SELECT coalesce(max(id), 0) FROM profiles),
    (SELECT coalesce(max(profile_id), 0) FROM events),
    (SELECT coalesce(max(from_profile), 0) FROM merges),
    (SELECT coalesce(max(into_profile), 0) FROM merges)
);
