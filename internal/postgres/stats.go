package postgres

import (
	"cmp"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/theeye/eye"
)

// statKey is a row of the stats table.
type statKey struct {
	minute              int64
	app, category, name string
}

// minuteOf returns the Unix minute of t, rounded down.
func minuteOf(t time.Time) int64 {
	us := t.UnixMicro()
	m := us / 60_000_000
	if us < 0 && us%60_000_000 != 0 {
		m-- // floor, for times before 1970
	}
	return m
}

// eventStat is the row that counts an event: by its timestamp.
func eventStat(ev eye.Event) statKey {
	return statKey{minuteOf(ev.Timestamp), ev.ApplicationID, ev.Category, ev.Name}
}

// errorStat is the row that counts an error record: by its arrival.
func errorStat(e eye.ErrorRecord) statKey {
	return statKey{minuteOf(e.ReceivedAt), e.ApplicationID, e.Category, e.Name}
}

// statDeltas gathers what a transaction adds to the stats table: events
// and error records per row.
type statDeltas map[statKey]*[2]int64

func (d statDeltas) add(k statKey, events, errors int64) {
	c := d[k]
	if c == nil {
		c = &[2]int64{}
		d[k] = c
	}
	c[0] += events
	c[1] += errors
}

// queue queues the statements that add the counts to the stats rows, in
// the order of their keys: the counts of a batch (all positive) in one
// statement; those of a correction or a deletion (one or two rows, counted
// out or in) one statement each.
func (d statDeltas) queue(batch *pgx.Batch) {
	keys := slices.SortedFunc(maps.Keys(d), func(a, b statKey) int {
		return cmp.Or(cmp.Compare(a.minute, b.minute), strings.Compare(a.app, b.app),
			strings.Compare(a.category, b.category), strings.Compare(a.name, b.name))
	})
	if !slices.ContainsFunc(keys, func(k statKey) bool { return d[k][0] < 0 || d[k][1] < 0 }) {
		d.upsert(batch, keys)
		return
	}
	for _, k := range keys {
		if c := d[k]; c[0] >= 0 && c[1] >= 0 {
			d.upsert(batch, []statKey{k})
		} else {
			batch.Queue(`UPDATE stats SET events = events + $1, errors = errors + $2
				WHERE minute = $3 AND application_id = $4 AND category = $5 AND name = $6`,
				c[0], c[1], k.minute, k.app, k.category, k.name)
		}
	}
}

// upsert queues the statement that adds the (positive) counts of the rows
// keys, in their order.
func (d statDeltas) upsert(batch *pgx.Batch, keys []statKey) {
	if len(keys) == 0 {
		return
	}
	var (
		minutes, events, errs   []int64
		apps, categories, names []string
	)
	for _, k := range keys {
		minutes, apps, categories, names = append(minutes, k.minute), append(apps, k.app), append(categories, k.category), append(names, k.name)
		events, errs = append(events, d[k][0]), append(errs, d[k][1])
	}
	batch.Queue(`INSERT INTO stats AS s (minute, application_id, category, name, events, errors)
		SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
			AS u (minute, application_id, category, name, events, errors)
		ORDER BY minute, application_id COLLATE "C", category COLLATE "C", name COLLATE "C"
		ON CONFLICT (minute, application_id, category, name) DO UPDATE SET
			events = s.events + excluded.events, errors = s.errors + excluded.errors`,
		minutes, apps, categories, names, events, errs)
}

// minutesPer is the length of each interval in minutes.
func minutesPer(interval string) (int64, error) {
	switch interval {
	case eye.IntervalMinute:
		return 1, nil
	case eye.IntervalHour:
		return 60, nil
	case eye.IntervalDay:
		return 1440, nil
	}
	return 0, eye.Errorf(eye.EINVALID, "Unknown interval %q: use minute, hour or day.", interval)
}

// Stats sums the per-minute counts into f's intervals (UTC); f.From and
// f.To are whole minutes (the API aligns them to the interval).
func (s *Store) Stats(ctx context.Context, f eye.StatsFilter) ([]eye.StatsBucket, error) {
	per, err := minutesPer(f.Interval)
	if err != nil {
		return nil, err
	}
	if len(f.Data) > 0 {
		return s.dataStats(ctx, f, per)
	}
	var w where
	w.add("minute >= ?", minuteOf(f.From))
	w.add("minute < ?", minuteOf(f.To))
	if f.ApplicationID != "" {
		w.add("application_id = ?", f.ApplicationID)
	}
	if f.Category != "" {
		w.add("category = ?", f.Category)
	}
	if f.Name != "" {
		w.add("name = ?", f.Name)
	}
	// per is one of three constants, never input.
	bucket := fmt.Sprintf("(minute - ((minute %% %d) + %d) %% %d)", per, per, per)
	rows, err := s.db.Query(ctx, `SELECT `+bucket+` AS b, sum(events)::bigint, sum(errors)::bigint FROM stats`+w.String()+
		` GROUP BY b HAVING sum(events) > 0 OR sum(errors) > 0 ORDER BY b`, w.args...)
	if err != nil {
		return nil, storeError("stats", err)
	}
	defer rows.Close()
	var out []eye.StatsBucket
	for rows.Next() {
		var b eye.StatsBucket
		var minute int64
		if err := rows.Scan(&minute, &b.Events, &b.Errors); err != nil {
			return nil, storeError("scan stats", err)
		}
		b.Start = fromMicros(minute * 60_000_000)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("stats", err)
	}
	return out, nil
}

// Size returns the size on disk of the store's tables (every table of its
// schema, partitions included), with their indexes and TOAST.
func (s *Store) Size(ctx context.Context) (int64, error) {
	var size int64
	err := s.db.QueryRow(ctx, `SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0)::bigint FROM pg_class c
		WHERE c.relnamespace = current_schema()::regnamespace AND c.relkind = 'r'`).Scan(&size)
	if err != nil {
		return 0, storeError("size", err)
	}
	return size, nil
}
