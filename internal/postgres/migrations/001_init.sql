-- Times are Unix microseconds (bigint): they sort and compare exactly, as
-- in the SQLite store. Identifiers and names compare byte by byte
-- (COLLATE "C"), as SQLite's BINARY does, whatever the database's locale.

CREATE TABLE applications (
	id         text COLLATE "C" PRIMARY KEY,
	name       text COLLATE "C" NOT NULL UNIQUE,
	created_at bigint NOT NULL,
	active     boolean NOT NULL DEFAULT true
);

-- Events sent with a key of no application (the admin key) belong to it.
INSERT INTO applications (id, name, created_at)
VALUES ('default', 'default', (extract(epoch FROM clock_timestamp()) * 1000000)::bigint);

CREATE TABLE keys (
	id             text COLLATE "C" PRIMARY KEY,
	prefix         text NOT NULL,
	hash           bytea NOT NULL UNIQUE, -- SHA-256 of the secret; the secret is never stored
	scopes         text[] NOT NULL,
	application_id text COLLATE "C" REFERENCES applications (id),
	label          text NOT NULL DEFAULT '',
	created_at     bigint NOT NULL,
	revoked_at     bigint
);

CREATE INDEX keys_application ON keys (application_id, created_at);

-- People who log in to the admin web UI.
CREATE TABLE users (
	id            text COLLATE "C" PRIMARY KEY,
	name          text COLLATE "C" NOT NULL UNIQUE,
	password_hash bytea NOT NULL, -- bcrypt
	created_at    bigint NOT NULL
);

-- Events, partitioned by month of timestamp (events_YYYYMM, made ahead of
-- time by the service: Store.EnsurePartitions). events_default takes any
-- other timestamp, so that no event ever makes a partition.
--
-- pk, from a sequence, is the row key of pages (Position.Row). A unique
-- index on a partitioned table must hold the partition key, so the id's
-- uniqueness lives in event_ids below.
CREATE SEQUENCE events_pk_seq AS bigint;

CREATE TABLE events (
	pk             bigint NOT NULL DEFAULT nextval('events_pk_seq'),
	id             text COLLATE "C" NOT NULL,
	seq            bigint NOT NULL, -- arrival sequence (the queue's)
	event_id       text,            -- the application's idempotency key
	application_id text COLLATE "C" NOT NULL,
	session_id     text COLLATE "C" NOT NULL,
	category       text COLLATE "C" NOT NULL,
	name           text COLLATE "C" NOT NULL,
	data           jsonb NOT NULL,
	timestamp      bigint NOT NULL,
	sent_at        bigint,
	received_at    bigint NOT NULL,
	clock_offset   bigint,          -- received_at - sent_at
	schema_version integer          -- the version of the schema the event passed
) PARTITION BY RANGE (timestamp);

ALTER SEQUENCE events_pk_seq OWNED BY events.pk;

CREATE TABLE events_default PARTITION OF events DEFAULT;

-- Every list of events is ordered by (timestamp, seq, pk): each index ends
-- with them, so that every filter is one index walk per partition, in
-- either direction. events_timestamp also finds the row of an id, from
-- event_ids.
CREATE INDEX events_session ON events (session_id, timestamp, seq, pk);
CREATE INDEX events_category ON events (category, timestamp, seq, pk);
CREATE INDEX events_name ON events (name, timestamp, seq, pk);
CREATE INDEX events_timestamp ON events (timestamp, seq, pk);
CREATE INDEX events_application ON events (application_id, timestamp, seq, pk);

-- One row per stored event: the unique key of event ids (deduplication),
-- and where the event is: its partition (timestamp) and its place in
-- events_timestamp (seq, which only events of one queue message share).
-- Writes claim ids here first and insert into events only the rows they
-- claimed; corrections keep timestamp true.
CREATE TABLE event_ids (
	id        text COLLATE "C" PRIMARY KEY,
	timestamp bigint NOT NULL,
	seq       bigint NOT NULL
);

CREATE TABLE sessions (
	id          text COLLATE "C" PRIMARY KEY,
	pk          bigint GENERATED ALWAYS AS IDENTITY, -- the row key of pages
	created_at  bigint NOT NULL,
	first_seen  bigint,
	last_seen   bigint,
	event_count bigint NOT NULL DEFAULT 0 CHECK (event_count >= 0)
);

-- Most recent activity first: the last event's timestamp, or the creation
-- time of a session without events.
CREATE INDEX sessions_activity ON sessions ((coalesce(last_seen, created_at)), pk);

CREATE TABLE session_applications (
	session_id     text COLLATE "C" NOT NULL,
	application_id text COLLATE "C" NOT NULL,
	event_count    bigint NOT NULL CHECK (event_count >= 0),
	PRIMARY KEY (session_id, application_id)
);

CREATE INDEX session_applications_application ON session_applications (application_id, session_id);

-- Error records. reasons is JSON text, not jsonb: a reason may quote a
-- \u0000 that jsonb refuses, and an error record must always be storable.
-- payload is the bytes received.
CREATE TABLE errors (
	pk             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id             text COLLATE "C" NOT NULL UNIQUE,
	seq            bigint NOT NULL,
	received_at    bigint NOT NULL,
	event_id       text,
	application_id text COLLATE "C" NOT NULL,
	category       text COLLATE "C",
	name           text COLLATE "C",
	session_id     text COLLATE "C",
	reasons        text NOT NULL, -- JSON array of {code, field, message, keyword}
	payload        bytea NOT NULL,
	status         text NOT NULL DEFAULT 'open' -- open, replayed or discarded
);

CREATE INDEX errors_received ON errors (received_at, pk);
CREATE INDEX errors_category ON errors (category, received_at, pk);
CREATE INDEX errors_name ON errors (name, received_at, pk);
CREATE INDEX errors_session ON errors (session_id, received_at, pk);
CREATE INDEX errors_application ON errors (application_id, received_at, pk);
CREATE INDEX errors_status ON errors (status, received_at, pk);

-- One row per distinct code of an error record, for the code filter.
CREATE TABLE error_codes (
	code        text COLLATE "C" NOT NULL,
	received_at bigint NOT NULL,
	error_pk    bigint NOT NULL REFERENCES errors (pk) ON DELETE CASCADE,
	PRIMARY KEY (code, received_at, error_pk)
);

CREATE INDEX error_codes_error ON error_codes (error_pk);

-- JSON Schemas of event types, every version kept, bodies exactly as
-- given. A type's active schema is its latest version, unless that one is
-- deleted.
CREATE TABLE schemas (
	category   text COLLATE "C" NOT NULL,
	name       text COLLATE "C" NOT NULL,
	version    integer NOT NULL,
	body       text NOT NULL,
	created_at bigint NOT NULL,
	deleted_at bigint,
	PRIMARY KEY (category, name, version)
);

-- Every event type seen, with counters kept in the same transactions as
-- the events and error records they count.
CREATE TABLE event_types (
	category   text COLLATE "C" NOT NULL,
	name       text COLLATE "C" NOT NULL,
	events     bigint NOT NULL DEFAULT 0 CHECK (events >= 0),
	errors     bigint NOT NULL DEFAULT 0 CHECK (errors >= 0),
	first_seen bigint NOT NULL, -- received_at
	last_seen  bigint NOT NULL,
	PRIMARY KEY (category, name)
);

-- Background jobs: bulk replays of error records.
CREATE TABLE jobs (
	id            text COLLATE "C" PRIMARY KEY,
	kind          text NOT NULL,
	filter        text NOT NULL, -- JSON
	status        text NOT NULL, -- running, done, failed
	replayed      bigint NOT NULL DEFAULT 0,
	still_invalid bigint NOT NULL DEFAULT 0,
	error         text NOT NULL DEFAULT '',
	cursor        text,          -- JSON position of the last error handled
	created_at    bigint NOT NULL,
	updated_at    bigint NOT NULL
);

CREATE INDEX jobs_status ON jobs (status, created_at);
