-- Counts per minute, event type and application, for /stats/: kept in the
-- same transactions as the events (counted by their timestamp) and error
-- records (counted by their arrival), so that a day of minutes is read
-- from at most a few thousand rows whatever the number of events.
CREATE TABLE stats (
	minute         INTEGER NOT NULL, -- Unix minutes (microseconds / 60,000,000)
	application_id TEXT NOT NULL,
	category       TEXT NOT NULL,    -- '' for an error record without one
	name           TEXT NOT NULL,
	events         INTEGER NOT NULL DEFAULT 0 CHECK (events >= 0),
	errors         INTEGER NOT NULL DEFAULT 0 CHECK (errors >= 0),
	PRIMARY KEY (minute, application_id, category, name)
) WITHOUT ROWID;

INSERT INTO stats (minute, application_id, category, name, events, errors)
SELECT minute, application_id, category, name, sum(events), sum(errors) FROM (
	SELECT timestamp / 60000000 - (timestamp < 0 AND timestamp % 60000000 != 0) AS minute,
		application_id, category, name, count(*) AS events, 0 AS errors
	FROM events GROUP BY 1, 2, 3, 4
	UNION ALL
	SELECT received_at / 60000000, application_id, coalesce(category, ''), coalesce(name, ''), 0, count(*)
	FROM errors GROUP BY 1, 2, 3, 4
) GROUP BY minute, application_id, category, name;
