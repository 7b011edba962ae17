package sqlite

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"strings"

	"github.com/theeye/eye"
)

// addDataFilters adds the conditions of filters on members of data. SQLite
// has no index on data: each condition is evaluated on every row the
// other conditions select.
//
// The path is a bound parameter ($."form"."first_name", each key a quoted
// JSON string), and so is the value. json_type checks the member's JSON
// type first: json_extract alone reads true as 1 and an object as its
// text.
func addDataFilters(w *where, filters []eye.DataFilter) {
	for _, f := range filters {
		path := jsonPath(f.Path)
		switch v := f.Value.(type) {
		case string:
			w.add("(json_type(data, ?) = 'text' AND json_extract(data, ?) = ?)", path, path, v)
		case json.Number:
			w.add("(json_type(data, ?) IN ('integer', 'real') AND json_extract(data, ?) = ?)", path, path, number(v))
		case bool:
			w.add("json_type(data, ?) = ?", path, strconv.FormatBool(v))
		case nil:
			w.add("json_type(data, ?) = 'null'", path)
		default:
			// The filter's contract allows nothing else: match nothing.
			w.add("0")
		}
	}
}

// jsonPath returns the SQLite JSON path of a list of object keys, each
// written as a JSON string, which SQLite reads with its escapes.
func jsonPath(keys []string) string {
	var b strings.Builder
	b.WriteByte('$')
	for _, k := range keys {
		q, _ := json.Marshal(k) // a string always marshals
		b.WriteByte('.')
		b.Write(q)
	}
	return b.String()
}

// number returns a JSON number as SQLite compares it with what
// json_extract reads: a 64-bit integer when it is a whole number in
// range, else a double (json_extract reads larger integers and every
// decimal as a double too).
func number(n json.Number) any {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return i
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return string(n) // not a number: a text, which equals no number
	}
	return f // ±Inf beyond the range of a double, as SQLite reads it too
}

// dataStats answers Stats when f filters on members of data: the
// per-minute counts know nothing of data, so the matching events of f's
// range are counted from the events themselves, per interval of per
// minutes (by timestamp, as the counts do). Error records, which have no
// stored data, are not counted.
func (s *Store) dataStats(ctx context.Context, f eye.StatsFilter, per int64) ([]eye.StatsBucket, error) {
	var w where
	w.add("timestamp >= ?", micros(f.From))
	w.add("timestamp < ?", micros(f.To))
	if f.ApplicationID != "" {
		w.add("application_id = ?", f.ApplicationID)
	}
	if f.Category != "" {
		w.add("category = ?", f.Category)
	}
	if f.Name != "" {
		w.add("name = ?", f.Name)
	}
	addDataFilters(&w, f.Data)
	// The start of a timestamp's interval, rounded down for negative ones
	// too; per is one of three constants, never input.
	size := strconv.FormatInt(per*60_000_000, 10)
	bucket := "(timestamp - ((timestamp % " + size + ") + " + size + ") % " + size + ")"
	rows, err := s.r.QueryContext(ctx, `SELECT `+bucket+` AS b, count(*) FROM events`+w.String()+` GROUP BY b ORDER BY b`,
		w.args...)
	if err != nil {
		return nil, unavailable("stats", err)
	}
	defer rows.Close()
	var out []eye.StatsBucket
	for rows.Next() {
		var b eye.StatsBucket
		var start int64
		if err := rows.Scan(&start, &b.Events); err != nil {
			return nil, unavailable("scan stats", err)
		}
		b.Start = fromMicros(start)
		out = append(out, b)
	}
	if err := rows.Err(); err != nil {
		return nil, unavailable("stats", err)
	}
	return out, nil
}
