package sqlite

import (
	"context"
	"fmt"
	"os"

	"github.com/theeye/eye"
)

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
	rows, err := s.r.QueryContext(ctx, `SELECT `+bucket+` AS b, sum(events), sum(errors) FROM stats`+w.String()+
		` GROUP BY b HAVING sum(events) > 0 OR sum(errors) > 0 ORDER BY b`, w.args...)
	if err != nil {
		return nil, unavailable("stats", err)
	}
	defer rows.Close()
	var out []eye.StatsBucket
	for rows.Next() {
		var b eye.StatsBucket
		var minute int64
		if err := rows.Scan(&minute, &b.Events, &b.Errors); err != nil {
			return nil, unavailable("scan stats", err)
		}
		b.Start = fromMicros(minute * 60_000_000)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("stats", err)
	}
	return out, nil
}

// Size returns the size of the database file and its write-ahead log.
func (s *Store) Size(ctx context.Context) (int64, error) {
	var size int64
	for _, p := range []string{s.path, s.path + "-wal"} {
		info, err := os.Stat(p)
		if err == nil {
			size += info.Size()
		}
	}
	return size, nil
}
