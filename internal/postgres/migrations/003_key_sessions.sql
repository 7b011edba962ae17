-- Login sessions of the admin web UI are API keys of a user, which expire.
-- A key of no user (user_id NULL) is an API key; expires_at NULL: never.
-- user_id names users.id, without a foreign key: users are never deleted,
-- and a copy of a store may write keys before users.
ALTER TABLE keys ADD COLUMN user_id text COLLATE "C", ADD COLUMN expires_at bigint;
