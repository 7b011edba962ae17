-- The web origins whose pages may send events with an application's
-- browser keys, separated by spaces (an origin holds none).
ALTER TABLE applications ADD COLUMN allowed_origins TEXT NOT NULL DEFAULT '';
