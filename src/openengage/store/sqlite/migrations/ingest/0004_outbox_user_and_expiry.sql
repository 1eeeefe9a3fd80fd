-- The outbox by user (a GDPR erasure removes the person's transactions; portability lists them) and by
-- the end of its ttl (retention prunes transactions `outbox_retention_days` after it).
CREATE INDEX transactions_user ON transactions(account_id, user_id, id);
CREATE INDEX transactions_expires ON transactions(expires_at);
