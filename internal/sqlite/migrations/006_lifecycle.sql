-- The audit log: one row per admin action (who, what, on what, from where),
-- newest first by (at, pk). details is a JSON object of ids, filters and
-- counts, never event data.
CREATE TABLE audit_log (
	pk         INTEGER PRIMARY KEY,
	id         TEXT NOT NULL UNIQUE,
	at         INTEGER NOT NULL,
	actor      TEXT NOT NULL, -- key:<id>, user:<id>, cli or retention
	actor_name TEXT NOT NULL DEFAULT '',
	action     TEXT NOT NULL,
	target     TEXT NOT NULL DEFAULT '',
	details    TEXT NOT NULL DEFAULT '{}',
	addr       TEXT NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_action ON audit_log (action, at);
CREATE INDEX audit_log_actor ON audit_log (actor, at);

-- Jobs also delete events (kind delete): how many matched at the start,
-- how many are deleted so far, and who started the job.
ALTER TABLE jobs ADD COLUMN matched INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
ALTER TABLE jobs ADD COLUMN actor TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN actor_name TEXT NOT NULL DEFAULT '';
