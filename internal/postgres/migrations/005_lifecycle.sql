-- The audit log: one row per admin action (who, what, on what, from where),
-- newest first by (at, pk). details is a JSON object of ids, filters and
-- counts, never event data, kept as text as it was written.
CREATE TABLE audit_log (
	pk         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
	id         text COLLATE "C" NOT NULL UNIQUE,
	at         bigint NOT NULL,
	actor      text COLLATE "C" NOT NULL, -- key:<id>, user:<id>, cli or retention
	actor_name text NOT NULL DEFAULT '',
	action     text COLLATE "C" NOT NULL,
	target     text NOT NULL DEFAULT '',
	details    text NOT NULL DEFAULT '{}',
	addr       text NOT NULL DEFAULT ''
);

CREATE INDEX audit_log_at ON audit_log (at, pk);
CREATE INDEX audit_log_action ON audit_log (action, at, pk);
CREATE INDEX audit_log_actor ON audit_log (actor, at, pk);

-- Jobs also delete events (kind delete): how many matched at the start,
-- how many are deleted so far, and who started the job.
ALTER TABLE jobs
	ADD COLUMN matched bigint NOT NULL DEFAULT 0,
	ADD COLUMN deleted bigint NOT NULL DEFAULT 0,
	ADD COLUMN actor text NOT NULL DEFAULT '',
	ADD COLUMN actor_name text NOT NULL DEFAULT '';
