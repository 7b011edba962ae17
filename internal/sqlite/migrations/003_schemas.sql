-- JSON Schemas of event types, every version kept. A type's active schema
-- is its latest version, unless that one is deleted.
CREATE TABLE schemas (
	category   TEXT NOT NULL,
	name       TEXT NOT NULL,
	version    INTEGER NOT NULL,
	body       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	deleted_at INTEGER,
	PRIMARY KEY (category, name, version)
) WITHOUT ROWID;

-- Every event type seen, with counters kept in the same transactions as
-- the events and error records they count.
CREATE TABLE event_types (
	category   TEXT NOT NULL,
	name       TEXT NOT NULL,
	events     INTEGER NOT NULL DEFAULT 0 CHECK (events >= 0),
	errors     INTEGER NOT NULL DEFAULT 0 CHECK (errors >= 0),
	first_seen INTEGER NOT NULL, -- received_at
	last_seen  INTEGER NOT NULL,
	PRIMARY KEY (category, name)
) WITHOUT ROWID;

INSERT INTO event_types (category, name, events, errors, first_seen, last_seen)
SELECT category, name, sum(events), sum(errors), min(first_seen), max(last_seen) FROM (
	SELECT category, name, count(*) AS events, 0 AS errors, min(received_at) AS first_seen, max(received_at) AS last_seen
	FROM events GROUP BY category, name
	UNION ALL
	SELECT category, name, 0, count(*), min(received_at), max(received_at)
	FROM errors WHERE category IS NOT NULL AND name IS NOT NULL GROUP BY category, name
) GROUP BY category, name;

-- The version of the schema an event passed.
ALTER TABLE events ADD COLUMN schema_version INTEGER;

-- open, replayed (stored as an event since) or discarded.
ALTER TABLE errors ADD COLUMN status TEXT NOT NULL DEFAULT 'open';
CREATE INDEX errors_status ON errors (status, received_at);

-- Background jobs: bulk replays of error records.
CREATE TABLE jobs (
	id            TEXT PRIMARY KEY,
	kind          TEXT NOT NULL,
	filter        TEXT NOT NULL, -- JSON
	status        TEXT NOT NULL, -- running, done, failed
	replayed      INTEGER NOT NULL DEFAULT 0,
	still_invalid INTEGER NOT NULL DEFAULT 0,
	error         TEXT NOT NULL DEFAULT '',
	cursor        TEXT,          -- JSON position of the last error handled
	created_at    INTEGER NOT NULL,
	updated_at    INTEGER NOT NULL
);
