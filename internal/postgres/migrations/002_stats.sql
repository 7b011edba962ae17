-- Counts per minute, event type and application, for /stats/: kept in the
-- same transactions as the events (counted by their timestamp) and error
-- records (counted by their arrival), so that a day of minutes is read
-- from at most a few thousand rows whatever the number of events.
CREATE TABLE stats (
	minute         bigint NOT NULL,          -- Unix minutes, rounded down
	application_id text COLLATE "C" NOT NULL,
	category       text COLLATE "C" NOT NULL, -- '' for an error record without one
	name           text COLLATE "C" NOT NULL,
	events         bigint NOT NULL DEFAULT 0 CHECK (events >= 0),
	errors         bigint NOT NULL DEFAULT 0 CHECK (errors >= 0),
	PRIMARY KEY (minute, application_id, category, name)
);

INSERT INTO stats (minute, application_id, category, name, events, errors)
SELECT minute, application_id, category, name, sum(events), sum(errors) FROM (
	SELECT floor(timestamp / 60000000.0)::bigint AS minute, application_id, category, name, count(*) AS events, 0 AS errors
	FROM events GROUP BY 1, 2, 3, 4
	UNION ALL
	SELECT floor(received_at / 60000000.0)::bigint, application_id, coalesce(category, ''), coalesce(name, ''), 0, count(*)
	FROM errors GROUP BY 1, 2, 3, 4
) AS counts GROUP BY minute, application_id, category, name;
