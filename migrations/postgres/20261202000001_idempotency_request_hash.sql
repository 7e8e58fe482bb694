-- The SHA-256 of the request an Idempotency-Key was first used with: the
-- same key with another body is refused (422 idempotency_key_reused).
ALTER TABLE idempotency_keys ADD COLUMN request_hash TEXT;
