-- Issue #8: WebEngage's permission set, the account's owner, and the audit log.

-- Permissions: admin holds all seven; manager all but account_management. Custom roles keep exactly the
-- permissions they listed (account_management, update_data: the only ones that existed before).
UPDATE members SET permissions =
    '["account_management","export_users","update_data","update_integrations","update_settings","view_dashboard","view_profiles"]'
WHERE role = 'admin';
UPDATE members SET permissions =
    '["export_users","update_data","update_integrations","update_settings","view_dashboard","view_profiles"]'
WHERE role = 'manager';

-- The owner is the member created with the account (same creation time, the first such), if still an
-- admin. An account whose owner was removed before this migration has none: CLI commands then need --by.
ALTER TABLE members ADD COLUMN owner INTEGER NOT NULL DEFAULT 0;
UPDATE members SET owner = 1 WHERE id IN (
    SELECT min(m.id) FROM members m JOIN accounts a ON a.id = m.account_id AND m.created_at = a.created_at
    WHERE m.role = 'admin' GROUP BY m.account_id
);
CREATE UNIQUE INDEX members_one_owner ON members(account_id) WHERE owner = 1;

-- Every administrative action (CLI, dashboard), in the transaction of the change. Never a key.
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    account_id INTEGER NOT NULL,
    at INTEGER NOT NULL,
    actor TEXT NOT NULL,
    address TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT NOT NULL,
    detail TEXT NOT NULL
);
CREATE INDEX audit_log_account ON audit_log(account_id, id);
