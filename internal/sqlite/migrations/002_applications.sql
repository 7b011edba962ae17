-- Applications are named uniquely: the command line finds them by name.
CREATE UNIQUE INDEX applications_name ON applications (name);

CREATE INDEX keys_application ON keys (application_id, created_at);

-- The ?application= filters of the lists.
CREATE INDEX events_application ON events (application_id, timestamp, seq);
CREATE INDEX errors_application ON errors (application_id, received_at);
CREATE INDEX session_applications_application ON session_applications (application_id, session_id);

-- People who log in to the admin web UI.
CREATE TABLE users (
	id            TEXT PRIMARY KEY,
	name          TEXT NOT NULL UNIQUE,
	password_hash BLOB NOT NULL, -- bcrypt
	created_at    INTEGER NOT NULL
);
