package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	"github.com/theeye/eye"
)

// addDataFilters adds the conditions of filters on members of data: each
// is a jsonb containment, data @> '{"form": {"first_name": "John"}}', the
// document a bound parameter, which the GIN index events_data
// (jsonb_path_ops) answers. Containment compares numbers as numbers (1.0
// equals 1) and strings, booleans and null as themselves.
func addDataFilters(w *where, filters []eye.DataFilter) {
	for _, f := range filters {
		doc, err := containment(f)
		if err != nil {
			// The filter's contract allows no such value: match nothing.
			w.add("false")
			continue
		}
		w.add("e.data @> ?::text::jsonb", doc)
	}
}

// containment returns the JSON document that holds f's value at f's path,
// and nothing else.
func containment(f eye.DataFilter) (string, error) {
	switch f.Value.(type) {
	case string, json.Number, bool, nil:
	default:
		return "", fmt.Errorf("data filter: a value of type %T", f.Value)
	}
	v := f.Value
	for i := len(f.Path) - 1; i >= 0; i-- {
		v = map[string]any{f.Path[i]: v}
	}
	b, err := json.Marshal(v)
	return string(b), err
}

// dataStats answers Stats when f filters on members of data: the
// per-minute counts know nothing of data, so the matching events of f's
// range are counted from the events themselves, per interval of per
// minutes (by timestamp, as the counts do), the GIN index and the
// partitions of the range answering. Error records, which have no stored
// data, are not counted.
func (s *Store) dataStats(ctx context.Context, f eye.StatsFilter, per int64) ([]eye.StatsBucket, error) {
	var w where
	w.add("e.timestamp >= ?", micros(f.From))
	w.add("e.timestamp < ?", micros(f.To))
	if f.ApplicationID != "" {
		w.add("e.application_id = ?", f.ApplicationID)
	}
	if f.Category != "" {
		w.add("e.category = ?", f.Category)
	}
	if f.Name != "" {
		w.add("e.name = ?", f.Name)
	}
	addDataFilters(&w, f.Data)
	// The start of a timestamp's interval, rounded down for negative ones
	// too; per is one of three constants, never input.
	size := strconv.FormatInt(per*60_000_000, 10)
	bucket := "(e.timestamp - ((e.timestamp % " + size + ") + " + size + ") % " + size + ")"
	rows, err := s.db.Query(ctx, `SELECT `+bucket+` AS b, count(*) FROM events e`+w.String()+` GROUP BY b ORDER BY b`,
		w.args...)
	if err != nil {
		return nil, storeError("stats", err)
	}
	defer rows.Close()
	var out []eye.StatsBucket
	for rows.Next() {
		var b eye.StatsBucket
		var start int64
		if err := rows.Scan(&start, &b.Events); err != nil {
			return nil, storeError("scan stats", err)
		}
		b.Start = fromMicros(start)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, storeError("stats", err)
	}
	return out, nil
}
