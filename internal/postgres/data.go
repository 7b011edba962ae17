package postgres

import (
	"encoding/json"
	"fmt"

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
