-- A log entry re-queued from the dead letters names its dead letter (issue #7): the processor deletes
-- the dead letter in the transaction that applies the entry, and a retry never queues a second copy
-- while one is waiting.
ALTER TABLE entries ADD COLUMN retry_of INTEGER;
CREATE INDEX entries_retry_of ON entries(retry_of) WHERE retry_of IS NOT NULL;
