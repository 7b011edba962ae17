-- The web origins whose pages may send events with an application's
-- browser keys.
ALTER TABLE applications ADD COLUMN IF NOT EXISTS allowed_origins text[] NOT NULL DEFAULT '{}';
