-- The process running a job, and until when its claim holds (Unix
-- microseconds; NULL: claimable now). A job is updated by its owner only,
-- and taken over by another process once the lease lapses.
ALTER TABLE jobs
	ADD COLUMN IF NOT EXISTS owner text NOT NULL DEFAULT '',
	ADD COLUMN IF NOT EXISTS lease_until bigint;
