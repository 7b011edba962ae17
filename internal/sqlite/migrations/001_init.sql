-- Times are Unix microseconds (INTEGER): they sort and compare exactly.

CREATE TABLE applications (
	id         TEXT PRIMARY KEY,
	name       TEXT NOT NULL,
	created_at INTEGER NOT NULL,
	active     INTEGER NOT NULL DEFAULT 1
);

-- Events sent with a key of no application (the admin key) belong to it.
INSERT INTO applications (id, name, created_at)
VALUES ('default', 'default', CAST(unixepoch('subsec') * 1000000 AS INTEGER));

CREATE TABLE keys (
	id             TEXT PRIMARY KEY,
	prefix         TEXT NOT NULL,
	hash           BLOB NOT NULL UNIQUE, -- SHA-256 of the secret; the secret is never stored
	scopes         TEXT NOT NULL,        -- space-separated
	application_id TEXT REFERENCES applications (id),
	label          TEXT NOT NULL DEFAULT '',
	created_at     INTEGER NOT NULL,
	revoked_at     INTEGER
);

CREATE TABLE events (
	pk             INTEGER PRIMARY KEY,
	id             TEXT NOT NULL UNIQUE,
	seq            INTEGER NOT NULL, -- arrival sequence (the queue's)
	event_id       TEXT,             -- the application's idempotency key
	application_id TEXT NOT NULL,
	session_id     TEXT NOT NULL,
	category       TEXT NOT NULL,
	name           TEXT NOT NULL,
	data           TEXT NOT NULL,
	timestamp      INTEGER NOT NULL,
	sent_at        INTEGER,
	received_at    INTEGER NOT NULL,
	clock_offset   INTEGER           -- received_at - sent_at
);

-- Every list of events is ordered by (timestamp, seq, pk); pk ends every
-- SQLite index implicitly, so each of these serves ORDER BY and the cursor.
CREATE INDEX events_session ON events (session_id, timestamp, seq);
CREATE INDEX events_category ON events (category, timestamp, seq);
CREATE INDEX events_name ON events (name, timestamp, seq);
CREATE INDEX events_timestamp ON events (timestamp, seq);

CREATE TABLE sessions (
	pk          INTEGER PRIMARY KEY,
	id          TEXT NOT NULL UNIQUE,
	created_at  INTEGER NOT NULL,
	first_seen  INTEGER,
	last_seen   INTEGER,
	event_count INTEGER NOT NULL DEFAULT 0 CHECK (event_count >= 0)
);

-- Most recent activity first: the last event's timestamp, or the creation
-- time of a session without events.
CREATE INDEX sessions_activity ON sessions (coalesce(last_seen, created_at));

CREATE TABLE session_applications (
	session_id     TEXT NOT NULL,
	application_id TEXT NOT NULL,
	event_count    INTEGER NOT NULL CHECK (event_count >= 0),
	PRIMARY KEY (session_id, application_id)
) WITHOUT ROWID;

CREATE TABLE errors (
	pk             INTEGER PRIMARY KEY,
	id             TEXT NOT NULL UNIQUE,
	seq            INTEGER NOT NULL,
	received_at    INTEGER NOT NULL,
	event_id       TEXT,
	application_id TEXT NOT NULL,
	category       TEXT,
	name           TEXT,
	session_id     TEXT,
	reasons        TEXT NOT NULL, -- JSON array of {code, field, message}
	payload        BLOB NOT NULL  -- the bytes received
);

CREATE INDEX errors_received ON errors (received_at);
CREATE INDEX errors_category ON errors (category, received_at);
CREATE INDEX errors_name ON errors (name, received_at);
CREATE INDEX errors_session ON errors (session_id, received_at);

-- One row per distinct code of an error record, for the code filter.
CREATE TABLE error_codes (
	code        TEXT NOT NULL,
	received_at INTEGER NOT NULL,
	error_pk    INTEGER NOT NULL REFERENCES errors (pk) ON DELETE CASCADE,
	PRIMARY KEY (code, received_at, error_pk)
) WITHOUT ROWID;

CREATE INDEX error_codes_error ON error_codes (error_pk);
