-- Filters on members of data (GET /events/?data.host=…) are jsonb
-- containment, data @> '{"host": "…"}', which this index answers.
-- jsonb_path_ops indexes only containment, in a smaller index than the
-- default operator class. On a partitioned table it is made on every
-- partition, and on those made later.
CREATE INDEX events_data ON events USING gin (data jsonb_path_ops);
