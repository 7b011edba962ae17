-- When each key last authenticated a request (Unix microseconds; NULL:
-- never). The service keeps uses in memory and records them about every
-- minute, in one statement, so that ingest never writes per request.
ALTER TABLE keys ADD COLUMN last_used_at INTEGER;

-- A user's login sessions, found when the user is deleted or changes
-- password.
CREATE INDEX keys_user ON keys (user_id) WHERE user_id IS NOT NULL;
