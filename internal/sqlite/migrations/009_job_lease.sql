-- The process running a job, and until when its claim holds (Unix
-- microseconds; NULL: claimable now). A job is updated by its owner only,
-- and taken over by another process once the lease lapses.
ALTER TABLE jobs ADD COLUMN owner TEXT NOT NULL DEFAULT '';
ALTER TABLE jobs ADD COLUMN lease_until INTEGER;
